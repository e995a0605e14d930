"""Train/validation split by a stable hash of the task id, stratified by source.

Within each source, tasks are ordered by sha256(task_id) and the first
`round(fraction * n)` go to validation (at least one when the source has two or
more tasks and fraction > 0). A task's split depends only on its id and on which
other tasks share its source, never on input order or on a random state.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Iterable

SPLITS = ("train", "validation")


def task_hash(task_id: str) -> str:
    return hashlib.sha256(task_id.encode("utf-8")).hexdigest()


def assign_splits(tasks: Iterable[tuple[str, str]], validation_fraction: float) -> dict[str, str]:
    """Map each task_id to "train" or "validation"; `tasks` are (task_id, source) pairs."""
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    by_source: dict[str, list[str]] = defaultdict(list)
    for task_id, source in tasks:
        by_source[source].append(task_id)
    splits: dict[str, str] = {}
    for source in sorted(by_source):
        ids = sorted(set(by_source[source]), key=lambda t: (task_hash(t), t))
        n_val = round(validation_fraction * len(ids))
        if validation_fraction > 0 and len(ids) >= 2:
            n_val = max(1, min(n_val, len(ids) - 1))
        for i, task_id in enumerate(ids):
            splits[task_id] = "validation" if i < n_val else "train"
    return splits
