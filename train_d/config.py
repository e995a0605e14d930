"""Codex-D settings: learn to write a docstring from a function's signature and body."""

from __future__ import annotations

from dataclasses import dataclass

from codexsd.training.config import TrainConfig


@dataclass
class DConfig(TrainConfig):
    """Trains on `codexsd format`'s docstring_last/ output.

    prompt = signature + body + opening triple quotes; target = the docstring and its closing
    quotes (formats/docstring_last.py), so sampling D stops at '\"\"\"'.
    """

    data: str = "OUT/docstring_last"
    output_dir: str = "models/d"
    prompt_template: str = "{prompt}"
    target_template: str = "{target}"
    max_length: int = 768  # docstrings are short; the body dominates the length
