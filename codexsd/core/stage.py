"""Sharded, resumable stages with an account of every item.

A stage maps input shards to output shards. For shard `i` it writes, atomically and in
this order, `data-i.jsonl` (kept Problems), `rejects-i.jsonl` (Reject rows) and the
completion marker `.done-i.json`. A rerun skips every shard whose marker carries the
same fingerprint (stage name + parameters + input content), so a stage killed at any
moment and rerun ends with the same files as an uninterrupted run. Every shard must
account for its input: items in = kept + rejected, or the stage fails loudly.

Shards run wherever the executor puts them (codexsd.core.executor: this process, a process
pool, a Ray cluster); they send their rows back and this process writes every file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from codexsd.core import io as atomic
from codexsd.core.executor import Executor, LocalExecutor
from codexsd.core.lock import folder_lock
from codexsd.core.record import MalformedRecord, Problem, Reject, iter_jsonl, iter_problem_lines, write_jsonl

log = logging.getLogger(__name__)

ShardFn = Callable[[list[Any]], Iterable["Problem | Reject"]]


class AccountingError(RuntimeError):
    """A stage lost or invented items: in != kept + rejected."""


@dataclass
class StageStats:
    stage: str
    items_in: int = 0
    kept: int = 0
    rejected: int = 0
    shards: int = 0
    shards_skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "items_in": self.items_in,
            "kept": self.kept,
            "rejected": self.rejected,
            "shards": self.shards,
            "reasons": dict(sorted(self.reasons.items())),
        }


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts (dataclasses via their dict)."""
    h = hashlib.sha256()
    for part in parts:
        if hasattr(part, "to_dict"):
            part = part.to_dict()
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _item_dict(item: Any) -> Any:
    return item.to_dict() if hasattr(item, "to_dict") else item


def shard_paths(out_dir: Path, index: int) -> tuple[Path, Path, Path]:
    return (
        out_dir / f"data-{index:05d}.jsonl",
        out_dir / f"rejects-{index:05d}.jsonl",
        out_dir / f".done-{index:05d}.json",
    )


def _item_id(item: Any) -> str:
    if isinstance(item, Problem):
        return item.task_id
    if isinstance(item, dict):
        return str(item.get("task_id") or item.get("id") or "")
    return str(getattr(item, "id", ""))


@dataclass(frozen=True)
class ShardResult:
    """What a worker sends back for one shard: plain rows, written by the driver."""

    kept: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    reasons: dict[str, int]


def compute_shard(stage: str, index: int, items: list[Any], fn: ShardFn) -> ShardResult:
    """Run `fn` over one shard and check its account (runs wherever the executor puts it)."""
    kept: list[Problem] = []
    rejects: list[Reject] = [Reject(id=m.id, stage=stage, reason="malformed_record", detail=f"{m.where}: {m.detail}")
                             for m in items if isinstance(m, MalformedRecord)]
    good = [m for m in items if not isinstance(m, MalformedRecord)]
    for result in (fn(good) if good or not rejects else ()):
        if isinstance(result, Problem):
            kept.append(result)
        elif isinstance(result, Reject):
            rejects.append(result)
        else:
            raise TypeError(f"stage {stage} yielded {type(result).__name__}, expected Problem or Reject")
    if len(kept) + len(rejects) != len(items):
        raise AccountingError(
            f"stage {stage}, shard {index}: {len(items)} items in but {len(kept)} kept + {len(rejects)} rejected"
        )
    reasons: dict[str, int] = {}
    for r in rejects:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    return ShardResult([p.to_dict() for p in kept], [r.to_dict() for r in rejects], reasons)


def write_shard(out_dir: Path, index: int, result: ShardResult, items_in: int, fp: str) -> dict[str, Any]:
    """Write one shard's data, rejects and, last, its completion marker (on the driver)."""
    data_path, rej_path, done_path = shard_paths(out_dir, index)
    write_jsonl(data_path, result.kept)
    write_jsonl(rej_path, result.rejects)
    marker = {"fingerprint": fp, "items_in": items_in, "kept": len(result.kept), "rejected": len(result.rejects),
              "reasons": result.reasons}
    atomic.write_text(done_path, json.dumps(marker, sort_keys=True))
    return marker


def process_shard(stage: str, out_dir: Path, index: int, items: list[Any], fn: ShardFn, fp: str) -> dict[str, Any]:
    """Run `fn` over one shard and write its files; returns the marker written."""
    return write_shard(out_dir, index, compute_shard(stage, index, items, fn), len(items), fp)


@dataclass(frozen=True)
class _ShardTask:
    """The executor's task for a stage: (index, items) -> ShardResult (picklable if `fn` is)."""

    stage: str
    fn: ShardFn

    def __call__(self, job: tuple[int, list[Any]]) -> ShardResult:
        index, items = job
        return compute_shard(self.stage, index, items, self.fn)


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_stage(
    stage: str,
    out_dir: str | os.PathLike,
    shards: Sequence[list[Any]],
    fn: ShardFn,
    params: Any = None,
    workers: int = 1,
    progress: bool = True,
    executor: Executor | None = None,
) -> StageStats:
    """Map `fn` over `shards`, resumably; writes shard files and `stats.json` under `out_dir`.

    `fn` must be deterministic for a given shard and `params` (seed anything random from
    them) and, for `workers > 1` or a Ray `executor`, picklable. The executor (default: a
    local pool of `workers`) runs the unfinished shards; this process writes every file, so
    the output bytes do not depend on where shards ran.
    """
    from tqdm.auto import tqdm

    with folder_lock(out_dir) as out:  # one run per stage folder
        return _run_stage_locked(stage, out, shards, fn, params, workers, progress, executor, tqdm)


def _run_stage_locked(stage, out, shards, fn, params, workers, progress, executor, tqdm) -> StageStats:
    stats = StageStats(stage=stage, shards=len(shards))
    todo: list[tuple[int, list[Any], str]] = []
    markers: dict[int, dict[str, Any]] = {}
    for i, items in enumerate(shards):
        fp = fingerprint(stage, params, [_item_dict(x) for x in items])
        marker = _read_marker(shard_paths(out, i)[2])
        if marker is not None and marker.get("fingerprint") == fp and all(p.exists() for p in shard_paths(out, i)[:2]):
            markers[i] = marker
            stats.shards_skipped += 1
        else:
            todo.append((i, items, fp))
    _remove_stale_shards(out, len(shards))

    total = sum(len(items) for _, items, _ in todo)
    bar = tqdm(total=total, desc=stage, unit="item", disable=not progress or total == 0, leave=False)
    executor = executor or LocalExecutor(workers)
    try:
        jobs = [(i, items) for i, items, _ in todo]
        for k, result in executor.run(_ShardTask(stage, fn), jobs):
            i, items, fp = todo[k]
            markers[i] = write_shard(out, i, result, len(items), fp)
            bar.update(len(items))
    finally:
        bar.close()

    for i in sorted(markers):
        m = markers[i]
        stats.items_in += m["items_in"]
        stats.kept += m["kept"]
        stats.rejected += m["rejected"]
        for reason, n in m["reasons"].items():
            stats.reasons[reason] = stats.reasons.get(reason, 0) + n
    write_stats(out, stats.to_dict())
    if stats.shards_skipped:
        log.info("%s: %d of %d shards already done, skipped", stage, stats.shards_skipped, len(shards))
    return stats


def _remove_stale_shards(out: Path, n_shards: int) -> None:
    for leftover in [*out.glob(".tmp-*"), *out.glob("*.tmp")]:  # half-written files of a killed run
        leftover.unlink()
    for pattern in ("data-*.jsonl", "rejects-*.jsonl", ".done-*.json"):
        for path in out.glob(pattern):
            try:
                index = int(path.name.split("-")[1].split(".")[0])
            except (IndexError, ValueError):
                continue
            if index >= n_shards:
                path.unlink()


def write_stats(out: Path, stats: dict[str, Any]) -> None:
    atomic.write_json(out / "stats.json", stats)


def chunk(items: Sequence[Any], size: int) -> list[list[Any]]:
    """Split items into consecutive shards of at most `size` (deterministic)."""
    size = max(1, int(size))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def read_shards(artifact_dir: str | os.PathLike) -> list[list[Problem]]:
    """The kept Problems of a finished stage, shard by shard, in shard order."""
    out = Path(artifact_dir)
    paths = sorted(out.glob("data-*.jsonl"))
    if not paths and not (out / "stats.json").exists():
        raise FileNotFoundError(f"{out} holds no finished stage (no data-*.jsonl, no stats.json)")
    return [list(iter_problem_lines(p)) for p in paths]  # a bad line: a MalformedRecord the next stage rejects


def read_artifact(artifact_dir: str | os.PathLike) -> Iterator[Problem]:
    """The kept Problems; a malformed line is logged with its file and line and left out."""
    for shard in read_shards(artifact_dir):
        for item in shard:
            if isinstance(item, MalformedRecord):
                log.warning("%s: malformed record left out: %s", item.where, item.detail)
            else:
                yield item


def read_rejects(artifact_dir: str | os.PathLike) -> Iterator[Reject]:
    for p in sorted(Path(artifact_dir).glob("rejects-*.jsonl")):
        for row in iter_jsonl(p):
            yield Reject(**row)
