"""Validation stage: a problem is kept only if its reference solution passes its own tests R times.

Each run is a fresh process in the sandbox, so a reference that depends on leftover state,
time or randomness shows up as `flaky`. Reject reasons: reference_fails (never passes, an
assertion or exception), flaky (passes some runs only), timeout, error (crash, out of memory,
early exit).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Iterable, Iterator

from codexsd.core.record import Problem, Reject
from filters.base import SandboxShard, split_records
from codexsd.sandbox.base import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Outcome, Sandbox, Status
from codexsd.sandbox.calls import judge_bodies

log = logging.getLogger(__name__)

STAGE = "validate"
DEFAULT_RUNS = 3
REASONS = ("reference_fails", "flaky", "timeout", "error")
_NON_PASS_REASON = {Status.FAILED: "reference_fails", Status.TIMEOUT: "timeout", Status.ERROR: "error"}


def judge(problem: Problem, outcomes: list[Outcome]) -> Problem | Reject:
    """Keep (with metadata["validation_runs"]) if every run passed; otherwise a Reject with a reason."""
    runs = len(outcomes)
    if outcomes and all(o.passed for o in outcomes):
        meta = dict(problem.metadata, validation_runs=runs)
        return dataclasses.replace(problem, metadata=meta)
    first_bad = next(o for o in outcomes if not o.passed)
    passes = sum(o.passed for o in outcomes)
    if passes:
        reason = "flaky"
        detail = f"passed {passes} of {runs} runs; a failing run: {first_bad.status.value}: {first_bad.detail}"
    else:
        reason = _NON_PASS_REASON[first_bad.status]
        detail = first_bad.detail
    return Reject(id=problem.task_id, stage=STAGE, reason=reason, detail=detail[-2000:])


def validate_problems(problems: list[Problem], sandbox: Sandbox, runs: int = DEFAULT_RUNS,
                      timeout: float = DEFAULT_TIMEOUT_S, memory_mb: int = int(DEFAULT_MEMORY_MB),
                      progress=None) -> Iterator[Problem | Reject]:
    """Judge every problem from R sandboxed runs of its reference; one result per problem, in order."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    items = [(p, p.canonical_solution) for p in problems for _ in range(runs)]
    outcomes = [o for o, _ in judge_bodies(sandbox, items, timeout, memory_mb, progress=progress)]
    for i, problem in enumerate(problems):
        yield judge(problem, outcomes[i * runs:(i + 1) * runs])


@dataclasses.dataclass
class ValidateShard(SandboxShard):
    """A run_stage shard function: `ValidateShard(runs=3)(problems)` yields a Problem or Reject per item.

    Picklable (for pool or Ray workers): the sandbox is opened lazily once per process unless given.
    """

    runs: int = DEFAULT_RUNS
    backend: str = "auto"
    timeout: float = DEFAULT_TIMEOUT_S
    memory_mb: int = int(DEFAULT_MEMORY_MB)
    workers: int | None = None
    sandbox: Sandbox | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def sandbox_workers(self) -> int | None:
        return self.workers

    def params(self) -> dict:
        """What decides the output (the stage fingerprint)."""
        return {"runs": self.runs, "timeout": self.timeout, "memory_mb": self.memory_mb}

    def __call__(self, items: Iterable[Problem | dict]) -> Iterator[Problem | Reject]:
        problems, bad = split_records(items, STAGE)
        yield from validate_problems(problems, self.get_sandbox(), self.runs, self.timeout, self.memory_mb)
        yield from bad
