"""Smoothed sentence BLEU-4 for docstrings.

Smoothing: Lin & Och (2004) add-one on the 2- to 4-gram precisions (both matches and
totals get +1; unigrams unsmoothed), the "smoothed BLEU-4" of CodeSearchNet/CodeXGLUE
docstring work and sacrebleu's `smooth_method="add-k", smooth_value=1`. Tokens are
words and single punctuation marks; case is kept. Scores are in [0, 100].
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
MAX_ORDER = 4


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(hypothesis: str, reference: str, max_order: int = MAX_ORDER) -> float:
    """Smoothed BLEU-4 of one hypothesis against one reference, 0..100."""
    hyp, ref = tokenize(hypothesis), tokenize(reference)
    if not hyp or not ref:
        return 0.0
    log_precision = 0.0
    for n in range(1, max_order + 1):
        hyp_ngrams, ref_ngrams = _ngrams(hyp, n), _ngrams(ref, n)
        matches = sum(min(c, ref_ngrams[g]) for g, c in hyp_ngrams.items())
        total = max(len(hyp) - n + 1, 0)
        if n > 1:
            matches, total = matches + 1, total + 1
        if matches == 0 or total == 0:
            return 0.0
        log_precision += math.log(matches / total) / max_order
    brevity = 1.0 if len(hyp) > len(ref) else math.exp(1 - len(ref) / len(hyp))
    return 100.0 * brevity * math.exp(log_precision)


def mean_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Average sentence BLEU over aligned pairs (0 for no pairs)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return 0.0
    return sum(sentence_bleu(h, r) for h, r in zip(hypotheses, references)) / len(hypotheses)
