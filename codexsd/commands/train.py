"""`codexsd train s|d`: fine-tune Codex-S (docstring -> code) or Codex-D (code -> docstring).

Multi-GPU: `torchrun --nproc_per_node N -m codexsd.cli train s ...` or
`accelerate launch -m codexsd.cli train s ...`; the command is the same.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys

HELP = "fine-tune Codex-S (standard/) or Codex-D (docstring_last/) with loss on target tokens only"

# flag -> config field, for the settings people change most; everything else through --config YAML
FLAGS = {
    "--data": ("data", str, "training data: a DatasetDict folder, a Parquet/JSONL file, or a folder of them"),
    "--model": ("model", str, "base model: hub id, local folder, hf:<dir>, a .gguf file, or 'default' (bundled SmolLM2)"),
    "--output": ("output_dir", str, "where checkpoints and the final model folder go"),
    "--epochs": ("epochs", float, "training epochs"),
    "--max-steps": ("max_steps", int, "stop after this many optimiser steps (overrides --epochs)"),
    "--batch-size": ("batch_size", int, "examples (or packed rows) per device per step"),
    "--grad-accum": ("gradient_accumulation_steps", int, "gradient accumulation steps"),
    "--lr": ("learning_rate", float, "peak learning rate (cosine schedule after warm-up)"),
    "--warmup-ratio": ("warmup_ratio", float, "share of steps spent warming up"),
    "--padding": ("padding", str, "left_pad (the paper's) or pack"),
    "--max-length": ("max_length", int, "longest example in tokens; longer ones are dropped and counted"),
    "--precision": ("precision", str, "auto, bf16, fp16 or fp32"),
    "--patience": ("early_stopping_patience", int, "evaluations without improvement before stopping (0: never)"),
    "--eval-every-steps": ("eval_every_steps", int, "evaluate and checkpoint every N steps (0: each epoch)"),
    "--max-train-examples": ("max_train_examples", int, "use at most this many training rows (0: all)"),
    "--max-eval-examples": ("max_eval_examples", int, "use at most this many validation rows (0: all)"),
    "--seed": ("seed", int, "random seed"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("variant", choices=("s", "d"), help="s: docstring -> code; d: code -> docstring")
    parser.add_argument("--config", help="YAML file with settings (defaults < YAML < flags)")
    for flag, (_, kind, text) in FLAGS.items():
        names = [flag, "-o"] if flag == "--output" else [flag]
        parser.add_argument(*names, type=kind, default=None, help=text)
    parser.add_argument("--no-resume", action="store_true", help="start over even if output has checkpoints")


def run(args: argparse.Namespace) -> int:
    from codexsd.config import load_config

    if args.variant == "s":
        from train_s import SConfig as Config, train
    else:
        from train_d import DConfig as Config, train
    flags = {field: getattr(args, flag[2:].replace("-", "_")) for flag, (field, _, _) in FLAGS.items()}
    if args.no_resume:
        flags["resume"] = False
    config = load_config(Config, args.config, flags)
    # transformers' progress callback writes its log lines to stdout; they are diagnostics
    with contextlib.redirect_stdout(sys.stderr):
        result = train(config)
    print(json.dumps(dataclasses.asdict(result), indent=2))
    print(f"codexsd train {args.variant}: model saved to {result.output_dir}", file=sys.stderr)
    return 0
