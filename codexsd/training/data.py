"""Read training rows {prompt, target, ...} from what `codexsd format` writes, or any equivalent file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from codexsd.core.imports import require

log = logging.getLogger(__name__)

_SPLIT_ALIASES = {"validation": ("validation", "valid", "val", "dev", "eval"), "train": ("train",)}


def _read_file(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if path.name.endswith((".jsonl", ".jsonl.gz", ".json")):
        from codexsd.core.record import iter_jsonl

        return list(iter_jsonl(path))
    raise ValueError(f"{path}: not a Parquet or JSONL file")


def _split_of(path: Path, split: str) -> bool:
    stem = path.name.split(".")[0].lower()
    names = _SPLIT_ALIASES.get(split, (split,))
    return stem in names or any(stem.startswith(n + "-") or stem.startswith(n + "_") for n in names)


def load_split(data: str, split: str) -> list[dict[str, Any]] | None:
    """Rows of `split` from a DatasetDict folder, a folder of Parquet/JSONL files, or a single file.

    A single file is the train split only (None for any other split); a missing split is None.
    """
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"training data not found: {data}")
    if path.is_file():
        return _read_file(path) if split == "train" else None
    if (path / "dataset_dict.json").exists():
        datasets = require("datasets")
        dd = datasets.load_from_disk(str(path))
        for name in _SPLIT_ALIASES.get(split, (split,)):
            if name in dd:
                return dd[name].to_list()
        return None
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith((".parquet", ".jsonl", ".jsonl.gz")))
    # a folder with both Parquet and JSONL copies of a split: read the Parquet one
    chosen = [p for p in files if _split_of(p, split) and p.suffix == ".parquet"] or [p for p in files if _split_of(p, split)]
    if not chosen:
        return None
    rows: list[dict[str, Any]] = []
    for p in chosen:
        rows.extend(_read_file(p))
    return rows


def render(rows: list[dict[str, Any]], prompt_template: str, target_template: str) -> list[tuple[str, str]]:
    """(prompt, target) text pairs from rows through the variant's templates."""
    pairs = []
    for i, row in enumerate(rows):
        try:
            pairs.append((prompt_template.format(**row), target_template.format(**row)))
        except KeyError as exc:
            raise ValueError(f"row {i} ({row.get('task_id', '?')}) lacks field {exc} named in a template") from exc
    return pairs
