"""Codex-D: fine-tune a model to write a docstring after a function (docstring_last format)."""

from __future__ import annotations

from train_d.config import DConfig


def train(config: DConfig, **kwargs):
    """Run the SFT engine with D's settings; returns codexsd.training.trainer.TrainResult."""
    from codexsd.training.trainer import train as run

    return run(config, **kwargs)


__all__ = ["DConfig", "train"]
