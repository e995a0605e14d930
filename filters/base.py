"""The shapes every filter and sandboxed shard function share.

- `Filter`: one hook, `check(problem) -> Reject | None` (None = keep). Wrapped in a
  `FilterShard`, it becomes a stage's shard function; `run_stage` counts the reasons.
- `SandboxShard`: a picklable shard function that runs programs. In the process that made
  it, it may hold a sandbox handed to it; anywhere else (a pool or Ray worker) it opens
  one per process on first use, kept across shards and closed when the process exits.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Iterable, Iterator

from codexsd.core.executor import process_resource
from codexsd.core.record import Problem, Reject


class Filter(abc.ABC):
    """Keep a problem or drop it with a reason. Subclasses set `stage` and implement `check`."""

    stage = "filter"

    @abc.abstractmethod
    def check(self, problem: Problem) -> Reject | None:
        ...

    def reject(self, problem: Problem, reason: str, detail: str = "") -> Reject:
        return Reject(problem.task_id, self.stage, reason, detail)

    def params(self) -> dict[str, Any]:
        """What decides the output (part of the stage fingerprint): the dataclass fields by default."""
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}

    def __call__(self, items: Iterable[Problem | dict]) -> Iterator[Problem | Reject]:
        """A filter is its own shard function."""
        return FilterShard(self)(items)


@dataclasses.dataclass(frozen=True)
class FilterShard:
    """A `run_stage` shard function from a `Filter`: each problem out as itself or its Reject."""

    filter: Filter

    def __call__(self, items: Iterable[Problem | dict]) -> Iterator[Problem | Reject]:
        for item in items:
            problem = item if isinstance(item, Problem) else Problem.from_dict(item)
            yield self.filter.check(problem) or problem


def split_records(items: Iterable[Problem | dict], stage: str) -> tuple[list[Problem], list[Reject]]:
    """Shard items as Problems, and a `malformed` Reject for each dict that is not one."""
    problems, bad = [], []
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        try:
            problems.append(Problem.from_dict(item))
        except (TypeError, ValueError) as exc:
            tid = str(item.get("task_id", "")) if isinstance(item, dict) else ""
            bad.append(Reject(tid, stage, "malformed", str(exc)[:500]))
    return problems, bad


def process_sandbox(backend: str | None, workers: int | None = None):
    """This process's sandbox for `backend` (None/"auto": the factory's choice), built on first use."""

    def make():
        from codexsd.sandbox import get_sandbox

        return get_sandbox(backend, **({"workers": workers} if workers else {}))

    return process_resource(("sandbox", backend or "auto", workers), make)


class SandboxShard:
    """Base of shard functions that run programs: `self.get_sandbox()` in `__call__`.

    `sandbox` (optional) is used where it was given and dropped when pickled, so workers open
    their own `backend` via `process_sandbox`.
    """

    backend: str | None = None
    sandbox_workers: int | None = None
    sandbox: Any = None

    def get_sandbox(self):
        return self.sandbox or process_sandbox(self.backend, self.sandbox_workers)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["sandbox"] = None
        return state
