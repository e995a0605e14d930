"""Run one SFT job on transformers.Trainer: cosine schedule with warm-up, evaluation and checkpoints
every few steps, early stop on a validation-loss plateau, resume, mixed precision where the device has it.

Layout of `output_dir`:
- the final model, weights only (model.safetensors, config, tokenizer): load it with `hf:<output_dir>`;
- `checkpoints/checkpoint-N/`: resumable state (weights, optimiser, scheduler, RNG), the newest and the
  best kept (`save_total_limit`), the last step always among them;
- `codexsd_training.json`: settings, data counts and the result; its presence marks a finished run,
  which a rerun does not repeat (`overwrite=True` starts over).

Multi-GPU/multi-node: launch the same command under `torchrun` or `accelerate launch`
(e.g. `torchrun --nproc_per_node 8 -m codexsd.cli train s ...`); Trainer does the rest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codexsd.core.imports import require
from codexsd.training.config import TrainConfig
from codexsd.training.data import load_split, render
from codexsd.training.engine import LeftPadCollator, PackedCollator, pack_examples, tokenize_pairs

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    output_dir: str
    train_examples: int
    eval_examples: int
    global_step: int
    train_loss: float | None
    eval_loss: float | None  # of the kept (best) model, when there is a validation split
    stopped_early: bool
    resumed_from: str | None
    interrupted: bool = False  # SIGINT: a checkpoint was saved, rerun to resume
    already_done: bool = False  # the run had finished before; nothing was trained this time
    checkpoint: str | None = None  # the newest resumable checkpoint
    seconds: float = 0.0  # wall time of this invocation's training
    train_tokens_per_second: float = 0.0  # real (non-padding) tokens per second of training, evaluation excluded
    eval_every_steps: int = 0  # the interval used (evaluation and checkpoint)


SUMMARY_FILE = "codexsd_training.json"
CHECKPOINTS_DIR = "checkpoints"
EVALUATIONS_PER_RUN = 3  # the automatic interval: about this many evaluations/checkpoints, at least one per epoch


def checkpoint_interval(config: TrainConfig, train_rows: int) -> tuple[int, int]:
    """(evaluation/checkpoint interval in steps, total steps) for a run over `train_rows` dataset rows."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_epoch = max(1, math.ceil(train_rows / (config.batch_size * config.gradient_accumulation_steps * world)))
    total = config.max_steps if config.max_steps > 0 else max(1, math.ceil(config.epochs * per_epoch))
    if config.eval_every_steps > 0:
        return config.eval_every_steps, total
    return max(1, min(per_epoch, math.ceil(total / EVALUATIONS_PER_RUN))), total


def choose_precision(requested: str) -> str:
    """'bf16' where the accelerator supports it, else 'fp16' on CUDA, else 'fp32'."""
    torch = require("torch")
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def _rows(config: TrainConfig, split: str, limit: int, seed: int) -> list[dict[str, Any]] | None:
    rows = load_split(config.data, split)
    if rows is not None and limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return rows


class RowDataset:
    """Tokenised rows in memory (a map-style dataset for Trainer's DataLoader)."""

    def __init__(self, rows: list[dict[str, list[int]]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]


def _dataset(examples, config: TrainConfig) -> RowDataset:
    if config.padding == "pack":
        return RowDataset(pack_examples(examples, config.pack_length or config.max_length))
    return RowDataset([{"input_ids": e.input_ids, "labels": e.labels} for e in examples])


def build_trainer(config: TrainConfig, model=None, tokenizer=None, callbacks=()):
    """(Trainer, data stats); model/tokenizer default to the config's base model spec."""
    transformers = require("transformers")
    from codexsd.training.base_model import load_for_training

    config.validate()
    precision = choose_precision(config.precision)
    if model is None:
        model, tokenizer = load_for_training(config.model)
    train_rows = _rows(config, config.train_split, config.max_train_examples, config.seed)
    if not train_rows:
        raise ValueError(f"{config.data}: no rows in split {config.train_split!r}")
    eval_rows = _rows(config, config.eval_split, config.max_eval_examples, config.seed) or []
    train_ex, train_stats = tokenize_pairs(
        tokenizer, render(train_rows, config.prompt_template, config.target_template), config.max_length, config.append_eos
    )
    eval_ex, eval_stats = tokenize_pairs(
        tokenizer, render(eval_rows, config.prompt_template, config.target_template), config.max_length, config.append_eos
    )
    if not train_ex:
        raise ValueError(f"no training example fits max_length={config.max_length} ({train_stats.as_dict()})")
    collator_cls = PackedCollator if config.padding == "pack" else LeftPadCollator
    has_eval = bool(eval_ex)
    train_dataset = _dataset(train_ex, config)
    interval, total_steps = checkpoint_interval(config, len(train_dataset))
    # transformers 5 takes the warm-up share as a float warmup_steps; 4.x calls it warmup_ratio
    import inspect

    known = inspect.signature(transformers.TrainingArguments).parameters
    warmup_key = "warmup_ratio" if "warmup_ratio" in known else "warmup_steps"
    # transformers 5 renamed gradient_checkpointing (the old name warns on every run)
    checkpointing_key = "activation_checkpointing" if "activation_checkpointing" in known else "gradient_checkpointing"
    torch = require("torch")
    args = transformers.TrainingArguments(
        **{warmup_key: config.warmup_ratio, checkpointing_key: config.gradient_checkpointing},
        dataloader_pin_memory=torch.cuda.is_available(),  # pinning without an accelerator only warns
        output_dir=str(Path(config.output_dir) / CHECKPOINTS_DIR),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler,
        max_grad_norm=config.max_grad_norm,
        eval_strategy="steps" if has_eval else "no",
        save_strategy="steps",  # and always at the last step (transformers' DefaultFlowCallback)
        eval_steps=interval,
        save_steps=interval,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=has_eval,
        metric_for_best_model="eval_loss" if has_eval else None,
        greater_is_better=False if has_eval else None,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        logging_steps=config.logging_steps,
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=config.dataloader_workers,
        remove_unused_columns=False,
        report_to=[] if config.report_to == "none" else [config.report_to],
        disable_tqdm=True,  # codexsd.training.progress draws one line instead
    )
    callbacks = list(callbacks)
    if has_eval and config.early_stopping_patience > 0:
        callbacks.append(
            transformers.EarlyStoppingCallback(
                early_stopping_patience=config.early_stopping_patience,
                early_stopping_threshold=config.early_stopping_threshold,
            )
        )
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=_dataset(eval_ex, config) if has_eval else None,
        data_collator=collator_cls(tokenizer.pad_token_id),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    # library code does not print: transformers' bar and its printed metric dicts go; the CLI adds a progress line
    for noisy in (transformers.trainer_callback.ProgressCallback, transformers.trainer_callback.PrinterCallback):
        trainer.remove_callback(noisy)
    stats = {"train": train_stats.as_dict(), "eval": eval_stats.as_dict(), "precision": precision,
             "eval_every_steps": interval, "total_steps": total_steps}
    return trainer, stats


def finished_run(output_dir: str | Path) -> dict[str, Any] | None:
    """The summary of a finished run in output_dir, or None."""
    path = Path(output_dir) / SUMMARY_FILE
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text())
    except ValueError:
        return None
    return summary if summary.get("result") else None


def clear_run(output_dir: str | Path) -> None:
    """Remove what a previous run wrote into output_dir (checkpoints, final model, summary); other files stay."""
    out = Path(output_dir)
    if not out.is_dir():
        return
    for name in (CHECKPOINTS_DIR, *(p.name for p in out.glob("checkpoint-*"))):
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    for pattern in (SUMMARY_FILE, "*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "config.json",
                    "generation_config.json", "tokenizer*", "special_tokens_map.json", "vocab.json", "merges.txt",
                    "chat_template.*", "training_args.bin"):
        for path in out.glob(pattern):
            if path.is_file():
                path.unlink()


class _TiedWeightsNote(logging.Filter):
    """Drops transformers' "missing keys ['lm_head.weight']" on resume when that weight is tied to the embeddings.

    A tied output layer is not stored in checkpoints (it *is* the input embedding), so its absence
    means nothing; any other missing key still reaches the log.
    """

    def __init__(self, tied: set[str]):
        super().__init__()
        self.tied = tied

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "missing keys" in message and self.tied:
            named = {name for name in self.tied if name in message}
            listed = message.count("'") // 2
            if named and listed <= len(named):
                log.info("resume: %s is tied to the input embeddings and restored from them", ", ".join(sorted(named)))
                return False
        return True


def _tied_names(model) -> set[str]:
    if getattr(model.config, "tie_word_embeddings", False) and hasattr(model, "lm_head"):
        return {"lm_head.weight"}
    return set()


def train(config: TrainConfig, model=None, tokenizer=None, callbacks=(), progress=None) -> TrainResult:
    """Train, keep the best checkpoint (by eval loss), and save a loadable model folder in output_dir.

    A finished run in output_dir is not repeated: its stored result comes back with already_done=True
    (config.overwrite clears it and trains again). On SIGINT the current step ends, a checkpoint is
    written and the result says interrupted=True; rerunning resumes from it. `callbacks` are extra
    transformers TrainerCallbacks; `progress` a text stream for the progress line (None: no line).
    """
    transformers = require("transformers")

    out = Path(config.output_dir)
    if config.overwrite:
        clear_run(out)
    else:
        previous = finished_run(out)
        if previous is not None:
            now = dataclasses.asdict(config)
            changed = sorted(k for k, v in previous.get("config", {}).items()
                             if k not in ("resume", "overwrite") and k in now and now[k] != v)
            if changed:
                log.warning("%s holds a finished run with other settings (%s); it is kept: set overwrite to train again",
                            out, ", ".join(f"{k}: {previous['config'][k]!r} -> {now[k]!r}" for k in changed[:5]))
            fields = {f.name for f in dataclasses.fields(TrainResult)}
            stored = {k: v for k, v in previous["result"].items() if k in fields}
            stored.update(already_done=True, interrupted=False, seconds=0.0)
            return TrainResult(**stored)
    out.mkdir(parents=True, exist_ok=True)
    bars = transformers.utils.logging
    bars_were_on = bars.is_progress_bar_enabled()
    bars.disable_progress_bar()  # "Loading weights" / "Writing model shards" bars would cut through the progress line
    try:
        return _train(config, out, model, tokenizer, callbacks, progress)
    finally:
        if bars_were_on:
            bars.enable_progress_bar()


def _train(config: TrainConfig, out: Path, model, tokenizer, callbacks, progress) -> TrainResult:
    transformers = require("transformers")
    from codexsd.training.progress import ProgressLine, SaveOnInterrupt, TokenMeter

    interrupt = SaveOnInterrupt()
    trainer, stats = build_trainer(config, model, tokenizer, [*callbacks, interrupt])
    meter = TokenMeter(trainer.data_collator)
    trainer.add_callback(ProgressLine(progress, meter))
    checkpoints = out / CHECKPOINTS_DIR
    last = None
    if config.resume:
        last = (transformers.trainer_utils.get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None) \
            or transformers.trainer_utils.get_last_checkpoint(str(out))  # the layout before checkpoints/
    if last:
        log.info("resuming from %s", last)
    note = _TiedWeightsNote(_tied_names(trainer.model))
    trainer_log = logging.getLogger("transformers.trainer")
    trainer_log.addFilter(note)
    started = time.monotonic()
    try:
        output = trainer.train(resume_from_checkpoint=last)
    finally:
        trainer_log.removeFilter(note)
        interrupt.restore()
    seconds = time.monotonic() - started
    state = trainer.state
    newest = transformers.trainer_utils.get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    common = dict(
        output_dir=str(out), train_examples=stats["train"]["kept"], eval_examples=stats["eval"]["kept"],
        global_step=state.global_step, resumed_from=last, checkpoint=newest, seconds=round(seconds, 1),
        train_tokens_per_second=round(meter.per_second(), 1), eval_every_steps=stats["eval_every_steps"],
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
    )
    if interrupt.interrupted:
        return TrainResult(eval_loss=None, stopped_early=False, interrupted=True, **common)
    eval_loss = None
    if trainer.eval_dataset is not None:
        # the kept model is the best by eval loss, measured during training (the last step is always evaluated)
        eval_loss = state.best_metric if state.best_metric is not None else float(trainer.evaluate()["eval_loss"])
    stopped_early = bool(state.max_steps and state.global_step < state.max_steps)
    tokenizer = trainer.processing_class
    if config.drop_chat_template and getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = None
    trainer.save_model(str(out))  # model + tokenizer (processing_class) in one loadable folder
    tokenizer.save_pretrained(str(out))
    for stale in ("chat_template.jinja", "chat_template.json", "training_args.bin"):
        if (out / stale).exists() and (stale == "training_args.bin" or config.drop_chat_template):
            (out / stale).unlink()
    result = TrainResult(eval_loss=eval_loss, stopped_early=stopped_early, **common)
    summary = {"config": dataclasses.asdict(config), "data": stats, "result": dataclasses.asdict(result)}
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return result
