"""The typed settings every SFT run shares; train_s/ and train_d/ subclass them with their defaults."""

from __future__ import annotations

from dataclasses import dataclass

PADDING_MODES = ("left_pad", "pack")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass
class TrainConfig:
    """One supervised fine-tuning run: loss on `target` tokens only, `prompt` tokens masked."""

    model: str = "default"  # base model spec: hub id, local folder, "hf:<dir>", a .gguf file, or "default"
    data: str = ""  # a DatasetDict folder, a Parquet/JSONL file, or a folder of them
    output_dir: str = "models/run"
    train_split: str = "train"
    eval_split: str = "validation"
    prompt_template: str = "{prompt}"  # fields of a row in {braces}; what the model sees
    target_template: str = "{target}"  # what the model learns to write after the prompt
    append_eos: bool = True  # end every target with EOS so the model learns to stop
    drop_chat_template: bool = True  # the trained model completes raw text, so samplers must not chat-wrap it
    max_length: int = 1024  # longest example (prompt + target) in tokens; longer ones are dropped and counted
    padding: str = "left_pad"  # "left_pad" (the paper's) or "pack" (examples concatenated into rows)
    pack_length: int = 0  # tokens per packed row (0: max_length)
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 8  # per device
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4  # bundled 135M, 10 steps on MBPP-train: val loss 1.19 at 1e-4, 1.39 at 3e-4, 1.57 at 1e-5
    weight_decay: float = 0.1
    warmup_ratio: float = 0.03
    lr_scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    early_stopping_patience: int = 2  # evaluations without improvement before stopping (0: never stop early)
    early_stopping_threshold: float = 0.0  # an eval loss must improve by more than this to count
    eval_every_steps: int = 0  # evaluate and checkpoint every N steps; 0: about 3 times a run, at least once an epoch
    save_total_limit: int = 2  # resumable checkpoints kept (the newest and the best); the final model is separate
    resume: bool = True  # continue from the newest checkpoint in output_dir if there is one
    overwrite: bool = False  # a finished run in output_dir is kept unless this is set
    precision: str = "auto"  # "auto": bf16 where the device has it, else fp16 on CUDA, else fp32
    gradient_checkpointing: bool = False
    max_train_examples: int = 0  # 0: all (for quick runs)
    max_eval_examples: int = 0
    logging_steps: int = 5  # steps between loss readings on the progress line
    seed: int = 0
    dataloader_workers: int = 0
    report_to: str = "none"  # transformers integrations ("none", "tensorboard", "wandb", ...)

    def validate(self) -> None:
        from codexsd.core.config import ConfigError

        if not self.data:
            raise ConfigError("no training data given (--data)")
        if self.padding not in PADDING_MODES:
            raise ConfigError(f"padding must be one of {PADDING_MODES}, got {self.padding!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.max_length < 8:
            raise ConfigError(f"max_length {self.max_length} is too small")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError("either epochs or max_steps must be positive")
