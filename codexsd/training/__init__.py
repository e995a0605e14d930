"""The SFT engine shared by train_s/ and train_d/ (transformers.Trainer underneath)."""

from codexsd.training.config import TrainConfig
from codexsd.training.engine import IGNORE_INDEX, Example, LeftPadCollator, PackedCollator, pack_examples, tokenize_pairs

__all__ = [
    "IGNORE_INDEX",
    "Example",
    "LeftPadCollator",
    "PackedCollator",
    "TrainConfig",
    "pack_examples",
    "tokenize_pairs",
]
