"""Run one SFT job on transformers.Trainer: cosine schedule with warm-up, eval each epoch,
early stop on a validation-loss plateau, checkpoints and resume, mixed precision where the device has it.

Multi-GPU/multi-node: launch the same command under `torchrun` or `accelerate launch`
(e.g. `torchrun --nproc_per_node 8 -m codexsd.cli train s ...`); Trainer does the rest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codexsd.imports import require
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
    per_epoch = "steps" if config.eval_every_steps else "epoch"
    # transformers 5 takes the warm-up share as a float warmup_steps; 4.x calls it warmup_ratio
    import inspect

    warmup_key = "warmup_ratio" if "warmup_ratio" in inspect.signature(transformers.TrainingArguments).parameters else "warmup_steps"
    args = transformers.TrainingArguments(
        **{warmup_key: config.warmup_ratio},
        output_dir=config.output_dir,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler,
        max_grad_norm=config.max_grad_norm,
        eval_strategy=per_epoch if has_eval else "no",
        save_strategy=per_epoch,
        eval_steps=config.eval_every_steps or None,
        save_steps=config.eval_every_steps or 500,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=has_eval,
        metric_for_best_model="eval_loss" if has_eval else None,
        greater_is_better=False if has_eval else None,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        gradient_checkpointing=config.gradient_checkpointing,
        logging_steps=config.logging_steps,
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=config.dataloader_workers,
        remove_unused_columns=False,
        report_to=[] if config.report_to == "none" else [config.report_to],
        disable_tqdm=False,
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
        train_dataset=_dataset(train_ex, config),
        eval_dataset=_dataset(eval_ex, config) if has_eval else None,
        data_collator=collator_cls(tokenizer.pad_token_id),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    stats = {"train": train_stats.as_dict(), "eval": eval_stats.as_dict(), "precision": precision}
    return trainer, stats


def train(config: TrainConfig, model=None, tokenizer=None, callbacks=()) -> TrainResult:
    """Train, keep the best checkpoint (by eval loss), and save a loadable model folder in output_dir.

    `callbacks` are extra transformers TrainerCallbacks.
    """
    transformers = require("transformers")
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    trainer, stats = build_trainer(config, model, tokenizer, callbacks)
    last = transformers.trainer_utils.get_last_checkpoint(str(out)) if config.resume else None
    if last:
        log.info("resuming from %s", last)
    output = trainer.train(resume_from_checkpoint=last)
    state = trainer.state
    eval_loss = None
    if trainer.eval_dataset is not None:
        eval_loss = float(trainer.evaluate()["eval_loss"])
    stopped_early = bool(state.max_steps and state.global_step < state.max_steps)
    tokenizer = trainer.processing_class
    if config.drop_chat_template and getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = None
    trainer.save_model(str(out))  # model + tokenizer (processing_class) in one loadable folder
    tokenizer.save_pretrained(str(out))
    for stale in ("chat_template.jinja", "chat_template.json"):
        if config.drop_chat_template and (out / stale).exists():
            (out / stale).unlink()
    result = TrainResult(
        output_dir=str(out),
        train_examples=stats["train"]["kept"],
        eval_examples=stats["eval"]["kept"],
        global_step=state.global_step,
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
        eval_loss=eval_loss,
        stopped_early=stopped_early,
        resumed_from=last,
    )
    summary = {"config": dataclasses.asdict(config), "data": stats, "result": dataclasses.asdict(result)}
    (out / "codexsd_training.json").write_text(json.dumps(summary, indent=2))
    return result

