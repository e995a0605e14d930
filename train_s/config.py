"""Codex-S settings: learn to write a function body from its signature and docstring."""

from __future__ import annotations

from dataclasses import dataclass

from codexsd.training.config import TrainConfig


@dataclass
class SConfig(TrainConfig):
    """Trains on `codexsd format`'s standard/ output: prompt = context + signature + docstring, target = body."""

    data: str = "OUT/standard"
    output_dir: str = "models/s"
    prompt_template: str = "{prompt}"
    target_template: str = "{target}"
