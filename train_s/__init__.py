"""Codex-S: fine-tune a model to write code from a docstring (standard format)."""

from __future__ import annotations

from train_s.config import SConfig


def train(config: SConfig, **kwargs):
    """Run the SFT engine with S's settings; returns codexsd.training.trainer.TrainResult."""
    from codexsd.training.trainer import train as run

    return run(config, **kwargs)


__all__ = ["SConfig", "train"]
