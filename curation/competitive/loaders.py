"""Sources -> task dicts: `datasets` hub ids, or local JSON / JSONL / Parquet files and folders.

JSON Lines files are read line by line here, so that a line that is not JSON becomes a
reject instead of stopping the load; JSON arrays and Parquet go through `datasets`.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from codexsd.core.imports import require
from curation.competitive.config import CompetitiveConfig
from curation.competitive.schemas import REQUIRED, _reject, detect_schema, read_row

log = logging.getLogger(__name__)

# hub id -> schema, for the published sets
HUB_SCHEMAS = {
    "codeparrot/apps": "apps",
    "deepmind/code_contests": "code_contests",
    "baai/taco": "taco",
    "mbpp": "mbpp",
    "google-research-datasets/mbpp": "mbpp",
}
LOCAL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet")


class SourceNotFound(FileNotFoundError):
    pass


def load_tasks(source: str, config: CompetitiveConfig) -> list[dict[str, Any]]:
    """Every row of `source` as a task dict or a reject dict (up to `config.limit` rows)."""
    from codexsd.data import BUNDLED_PREFIX, bundled_source

    path = bundled_source(source) if source.startswith(BUNDLED_PREFIX) else Path(source)
    if path.exists():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(LOCAL_SUFFIXES)) if path.is_dir() else [path]
        if not files:
            raise SourceNotFound(f"{source}: no {', '.join(LOCAL_SUFFIXES)} files in this folder")
        tasks: list[dict[str, Any]] = []
        for f in files:
            remaining = None if config.limit is None else config.limit - len(tasks)
            if remaining is not None and remaining <= 0:
                break
            tasks.extend(_read_rows(_local_rows(f), f.name, _guess_split(f, config), config, remaining))
        return tasks
    if "/" not in source and source.lower() not in HUB_SCHEMAS or source.startswith((".", "~")) or source.endswith(LOCAL_SUFFIXES):
        raise SourceNotFound(f"{source}: no such file or folder (and not a datasets hub id like codeparrot/apps)")
    return _hub_tasks(source, config)


def _guess_split(path: Path, config: CompetitiveConfig) -> str:
    if config.split:
        return config.split
    for token in re.split(r"[^a-z]+", path.name.lower()):  # "code_contests_valid.parquet" -> valid
        if token in ("train", "test", "valid", "validation"):
            return "valid" if token.startswith("valid") else token
    return "train"


def _local_rows(path: Path) -> Iterator[tuple[Any, str]]:
    """(row or parse error, where) for each row of a local file."""
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        yield from _jsonl_rows(path)
        return
    datasets = require("datasets")
    kind = "parquet" if name.endswith(".parquet") else "json"
    try:
        ds = datasets.load_dataset(kind, data_files=str(path), split="train")
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; fall back to reading lines
        if kind == "parquet":
            raise
        log.warning("%s: datasets could not read it as one JSON document (%s); reading it line by line", path, exc)
        yield from _jsonl_rows(path)
        return
    for i, row in enumerate(ds):
        yield row, f"{name}:row {i}"


def _jsonl_rows(path: Path) -> Iterator[tuple[Any, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line), f"{path.name}:{lineno}"
            except json.JSONDecodeError as exc:
                yield _BadLine(f"line is not JSON ({exc.msg} at column {exc.colno})"), f"{path.name}:{lineno}"


class _BadLine:
    def __init__(self, detail: str) -> None:
        self.detail = detail


def _read_rows(rows: Iterable[tuple[Any, str]], name: str, split: str, config: CompetitiveConfig, limit: int | None) -> list[dict]:
    schema = config.schema
    tasks: list[dict[str, Any]] = []
    for index, (row, where) in enumerate(rows):
        if limit is not None and index >= limit:
            break
        if isinstance(row, _BadLine):
            tasks.append(_reject(f"{name}:{where.rsplit(':', 1)[-1]}", "malformed_row", f"{where}: {row.detail}"))
            continue
        if schema is None and isinstance(row, dict):
            schema = detect_schema(row)
            if schema:
                log.info("%s: detected the %s schema", name, schema)
        if schema is None:
            tasks.append(_reject(f"{name}:{index}", "unknown_schema",
                                 f"{where}: fields {sorted(row)[:12] if isinstance(row, dict) else type(row).__name__} "
                                 f"match none of {', '.join(REQUIRED)}; pass --schema"))
            continue
        tasks.append(read_row(schema, row, split, index, config, where))
    return tasks


def _hub_tasks(hub_id: str, config: CompetitiveConfig) -> list[dict[str, Any]]:
    datasets = require("datasets")
    schema = config.schema or HUB_SCHEMAS.get(hub_id.lower())
    cfg = config if schema == config.schema else _with_schema(config, schema)
    try:
        if config.split:
            splits = {config.split: datasets.load_dataset(hub_id, split=config.split)}
        else:
            splits = dict(datasets.load_dataset(hub_id))
    except Exception as exc:  # noqa: BLE001 - offline, unknown id, gated, script-based...: one clear error
        raise SourceNotFound(f"{hub_id}: datasets could not load it from the hub ({type(exc).__name__}: {exc})") from exc
    tasks: list[dict[str, Any]] = []
    for split, ds in splits.items():
        if config.limit is not None:
            ds = ds.select(range(min(config.limit, len(ds))))
        tasks.extend(_read_rows(((row, f"{hub_id}[{split}]:{i}") for i, row in enumerate(ds)), hub_id, split, cfg, None))
    return tasks


def _with_schema(config: CompetitiveConfig, schema: str | None) -> CompetitiveConfig:
    from dataclasses import replace

    return replace(config, schema=schema)
