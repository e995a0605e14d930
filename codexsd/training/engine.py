"""Tokenisation with prompt masking, the left-padding collator and packing.

Every example is `tokens(prompt) + tokens(target) [+ EOS]`, tokenised in two parts so the
boundary matches what a model sees at sampling time (a prompt, then its own tokens) and
what `Sampler.score` measures.
Labels are -100 on prompt tokens and on padding: the loss falls on target tokens only.

Two ways to batch:
- left padding (the paper's): each batch padded on the left to its longest example;
  position ids count real tokens only, so padding does not shift positions.
- packing: examples concatenated into rows of `pack_length` tokens. Position ids restart
  at 0 for every example; transformers (>= 4.53, sdpa/eager/flash attention) reads those
  restarts as document boundaries and builds a block-diagonal causal mask when no
  attention_mask and no KV cache is passed, so packed examples do not attend to one
  another (tests/test_train_engine.py checks the logits against unpacked examples).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

log = logging.getLogger(__name__)

IGNORE_INDEX = -100


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]


@dataclass
class TokenStats:
    kept: int = 0
    dropped_too_long: int = 0
    dropped_empty_target: int = 0
    prompt_tokens: int = 0
    target_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def tokenize_pairs(
    tokenizer, pairs: Sequence[tuple[str, str]], max_length: int, append_eos: bool = True
) -> tuple[list[Example], TokenStats]:
    """Examples with labels masked on the prompt; pairs longer than max_length are dropped and counted."""
    stats = TokenStats()
    if not pairs:
        return [], stats
    # the prompt gets the tokenizer's special tokens (a BOS where it adds one), as samplers do
    prompts = tokenizer([p for p, _ in pairs])["input_ids"]
    targets = tokenizer([t for _, t in pairs], add_special_tokens=False)["input_ids"]
    eos = [tokenizer.eos_token_id] if append_eos and tokenizer.eos_token_id is not None else []
    examples = []
    for p_ids, t_ids in zip(prompts, targets):
        p_ids = list(p_ids)
        t_ids = list(t_ids) + eos
        if len(t_ids) == len(eos):
            stats.dropped_empty_target += 1
            continue
        if len(p_ids) + len(t_ids) > max_length:
            stats.dropped_too_long += 1
            continue
        examples.append(Example(p_ids + t_ids, [IGNORE_INDEX] * len(p_ids) + t_ids))
        stats.kept += 1
        stats.prompt_tokens += len(p_ids)
        stats.target_tokens += len(t_ids)
    return examples, stats


@dataclass
class LeftPadCollator:
    """Pads a batch on the left to its longest example (the paper's batching).

    `tokens` and `padding_tokens` count what it has collated, for measuring padding waste.
    """

    pad_token_id: int
    tokens: int = 0
    padding_tokens: int = 0

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        self.tokens += width * len(batch)
        ids, labels, mask, pos = [], [], [], []
        for b in batch:
            n = len(b["input_ids"])
            pad = width - n
            self.padding_tokens += pad
            ids.append([self.pad_token_id] * pad + list(b["input_ids"]))
            labels.append([IGNORE_INDEX] * pad + list(b["labels"]))
            mask.append([0] * pad + [1] * n)
            pos.append([0] * pad + list(range(n)))
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "attention_mask": torch.tensor(mask, dtype=torch.long),
            "position_ids": torch.tensor(pos, dtype=torch.long),
        }


@dataclass
class PackedRow:
    input_ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    position_ids: list[int] = field(default_factory=list)


def pack_examples(examples: Sequence[Example], pack_length: int) -> list[dict[str, list[int]]]:
    """Greedy packing in order: each row takes whole examples until the next would overflow."""
    rows: list[PackedRow] = []
    current = PackedRow()
    for ex in examples:
        n = len(ex.input_ids)
        if n > pack_length:
            raise ValueError(f"an example of {n} tokens does not fit pack_length {pack_length}")
        if len(current.input_ids) + n > pack_length:
            rows.append(current)
            current = PackedRow()
        current.input_ids += ex.input_ids
        current.labels += ex.labels
        current.position_ids += list(range(n))
    if current.input_ids:
        rows.append(current)
    return [{"input_ids": r.input_ids, "labels": r.labels, "position_ids": r.position_ids} for r in rows]


@dataclass
class PackedCollator:
    """Stacks packed rows, right-padding short ones; no attention_mask (see module docstring)."""

    pad_token_id: int
    tokens: int = 0
    padding_tokens: int = 0

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        self.tokens += width * len(batch)
        ids, labels, pos = [], [], []
        for b in batch:
            pad = width - len(b["input_ids"])
            self.padding_tokens += pad
            ids.append(list(b["input_ids"]) + [self.pad_token_id] * pad)
            labels.append(list(b["labels"]) + [IGNORE_INDEX] * pad)
            # padding continues as one more "document" so it never joins the last example
            pos.append(list(b["position_ids"]) + list(range(pad)))
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "position_ids": torch.tensor(pos, dtype=torch.long),
            # a KV cache turns the packed-sequence detection off, so a batch must not build one
            "use_cache": False,
        }


def padding_waste(collator: "LeftPadCollator | PackedCollator") -> float:
    """Share of the collated tokens that were padding."""
    return collator.padding_tokens / collator.tokens if collator.tokens else 0.0
