"""Extraction over many files on all cores, one outcome per file, in input order.

Files go to a process pool in chunks; each file comes back as an `ExtractResult` or a
`Reject`, never an exception. A file that kills its worker (a crash in native code) breaks the
pool: the pool is rebuilt, the files of the broken chunk are retried one per process, and a
file that crashes again becomes a `crashed` reject.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from codexsd.core.record import Reject

log = logging.getLogger(__name__)

STAGE = "extract"
Outcome = "ExtractResult | Reject"  # curation.extract imports this module, so its names are imported late


def iter_python_files(paths: Iterable[str | os.PathLike], exclude: Sequence[str] = ()) -> list[str]:
    """The .py files under `paths` (files given directly are kept whatever their suffix), sorted per
    directory; `exclude` holds glob patterns matched against each path and each of its parts."""

    def excluded(path: Path) -> bool:
        text = path.as_posix()
        return any(fnmatch.fnmatch(text, pat) or any(fnmatch.fnmatch(part, pat) for part in path.parts) for pat in exclude)

    out: list[str] = []
    for given in paths:
        root = Path(given)
        if root.is_dir():
            out.extend(str(p) for p in sorted(root.rglob("*.py")) if p.is_file() and not excluded(p.relative_to(root)))
        elif root.exists() or root.is_symlink():
            out.append(str(root))
        else:
            raise FileNotFoundError(f"no such file or directory: {root}")
    return out


def extract_one(path: str) -> Outcome:
    from curation.extract import ExtractError, extract_file

    try:
        return extract_file(path)
    except ExtractError as exc:
        return Reject(id=str(path), stage=STAGE, reason=exc.reason, detail=exc.detail)


def extract_chunk(paths: list[str]) -> list[Outcome]:
    return [extract_one(p) for p in paths]


def extract_many(paths: Sequence[str], workers: int | None = None, chunk_size: int = 8) -> Iterator[Outcome]:
    """One outcome per path, in the order of `paths`; `workers` defaults to all cores."""
    workers = workers or os.cpu_count() or 1
    chunks = [list(paths[i : i + chunk_size]) for i in range(0, len(paths), max(1, chunk_size))]
    if workers <= 1:
        for chunk in chunks:
            yield from extract_chunk(chunk)
        return
    done = 0
    while done < len(chunks):
        pool = ProcessPoolExecutor(max_workers=workers)
        window: deque[Future] = deque()
        following = done
        try:
            while done < len(chunks):
                while following < len(chunks) and len(window) < 4 * workers:
                    window.append(pool.submit(extract_chunk, chunks[following]))
                    following += 1
                outcomes = window[0].result()
                window.popleft()
                done += 1
                yield from outcomes
        except BrokenProcessPool:
            log.warning("a worker died on one of %d files; retrying them one per process", len(chunks[done]))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if done < len(chunks):
            yield from (_extract_isolated(p) for p in chunks[done])
            done += 1


def _extract_isolated(path: str) -> Outcome:
    with ProcessPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(extract_one, path).result()
        except BrokenProcessPool:
            return Reject(id=str(path), stage=STAGE, reason="crashed", detail="the extracting process died")
