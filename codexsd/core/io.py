"""Atomic writes and append-only logs: the one place that knows how a file is replaced safely.

A reader (or a rerun after a kill) sees either the old file or the new one, never half of
one: content goes to a hidden temp file beside the target (`.tmp-<pid>-<name>`, keeping the
suffix so `.jsonl.gz` is still written compressed) and is renamed over it. Stages remove
leftover `.tmp-*` files of a killed run; `output_hash` ignores them.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

TMP_PREFIX = ".tmp-"


def temp_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, data: Any, indent: int | None = 2) -> None:
    """JSON with sorted keys and a final newline (stable bytes for equal data)."""
    text = json.dumps(data, indent=indent, sort_keys=True)
    write_text(path, text + "\n" if indent is not None else text)


def append_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]], sync: bool = False) -> int:
    """Append rows to an append-only JSONL log, one write per call; returns the row count.

    A process killed mid-append leaves at most one partial last line: `read_log` drops it.
    """
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if not lines:
        return 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(lines)
        fh.flush()
        if sync:
            os.fsync(fh.fileno())
    return lines.count("\n")


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The complete rows of an append-only log (a torn last line from a kill is left out)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.endswith("\n")]
    except FileNotFoundError:
        return []
