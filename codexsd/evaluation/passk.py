"""pass@k with the unbiased estimator of Chen et al. (2021), in its numerically stable form."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def _one(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), as a product so no huge binomials are formed."""
    if k <= 0 or k > n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n (n={n})")
    if c < 0 or c > n:
        raise ValueError(f"num_correct={c} outside 0..{n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def estimate_pass_at_k(num_samples: int | Sequence[int], num_correct: Sequence[int], k: int) -> np.ndarray:
    """pass@k for each problem; `num_samples` is one n for all problems or one per problem."""
    correct = list(num_correct)
    if isinstance(num_samples, (int, np.integer)):
        samples: Iterable[int] = [int(num_samples)] * len(correct)
    else:
        samples = list(num_samples)
        if len(samples) != len(correct):
            raise ValueError(f"{len(samples)} sample counts for {len(correct)} correct counts")
    return np.array([_one(int(n), int(c), int(k)) for n, c in zip(samples, correct)])
