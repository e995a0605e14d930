"""The collect stage for competitive-programming sources: load, convert, validate in the sandbox.

A shard's problems are validated in rounds: round r runs the r-th Python solution of
every problem still without a passing one, all in one batch through `judge_bodies` (call-style
tests are judged outside the sandbox). The first solution that passes gives the kept Problem.
MBPP expected values that are expressions are evaluated in the sandbox first, in one batch.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

from codexsd.core.record import Problem, Reject
from codexsd.core.executor import Executor, LocalExecutor
from codexsd.core.stage import StageStats, chunk, run_stage
from curation.competitive.config import CompetitiveConfig
from curation.competitive.convert import build_problem, with_calls
from curation.competitive.loaders import load_tasks
from curation.competitive.pysource import SourceError
from filters.base import SandboxShard
from codexsd.sandbox import Program, Sandbox, get_sandbox
from codexsd.sandbox.calls import calls_program, judge_bodies, parse_results

log = logging.getLogger(__name__)

STAGE = "collect_competitive"
# Part of every shard's fingerprint: bump it when conversion changes what a shard writes,
# so that a rerun redoes finished shards instead of keeping stale ones.
CONVERSION_VERSION = 2  # 2: call-style tests (Problem.calls)

@dataclass
class _Attempt:
    solution: int
    outcome: str  # "passed", a sandbox status, or a conversion reject reason
    detail: str = ""


@dataclass
class _Pending:
    task: dict[str, Any]
    attempts: list[_Attempt] = field(default_factory=list)
    kept: Problem | None = None


def _variants(task: dict[str, Any]) -> list[str]:
    """Call-based sets (TACO, APPS from Codewars) may wrap each expected output in a list."""
    if task["kind"] == "call" and all(isinstance(o, list) and len(o) == 1 for _, o in task["tests"]):
        return ["", "unwrapped"]
    return [""]


class ConvertShard(SandboxShard):
    """The shard function: task dicts in, a Problem or a Reject out for each (picklable)."""

    def __init__(self, config: CompetitiveConfig, sandbox: Sandbox | None = None) -> None:
        self.config = config
        self.backend = config.sandbox
        self.sandbox = sandbox

    def __call__(self, items: list[dict[str, Any]]) -> Iterator[Problem | Reject]:
        sandbox = self.get_sandbox()
        pending = [_Pending(item) for item in items if "reject" not in item]
        for round_ in range(self.config.max_solutions_tried):
            batch: list[tuple[_Pending, Problem]] = []
            for p in pending:
                if p.kept is not None or round_ >= len(p.task["solutions"]):
                    continue
                for variant in _variants(p.task):
                    try:
                        problem = build_problem(p.task, p.task["solutions"][round_], variant)
                    except SourceError as exc:
                        p.attempts.append(_Attempt(round_, exc.reason, exc.detail))
                        break
                    except Exception as exc:  # noqa: BLE001 - one odd solution must not stop the stage
                        log.warning("%s: solution %d could not be converted: %r", p.task["task_id"], round_, exc)
                        p.attempts.append(_Attempt(round_, "conversion_error", f"{type(exc).__name__}: {exc}"[:300]))
                        break
                    problem.metadata["solution_index"] = round_
                    batch.append((p, problem))
            if not batch:
                continue
            self._resolve_expected(sandbox, [problem for _, problem in batch])
            outcomes = [o for o, _ in judge_bodies(sandbox, [(pr, pr.canonical_solution) for _, pr in batch],
                                                   self.config.timeout, self.config.memory_mb)]
            for (p, problem), outcome in zip(batch, outcomes):
                if p.kept is not None:
                    continue
                if outcome.passed:
                    problem.metadata["solutions_tried"] = round_ + 1
                    p.kept = problem
                else:
                    p.attempts.append(_Attempt(round_, outcome.status.value, _last_line(outcome.detail)))
        by_id = {id(p.task): p for p in pending}
        for item in items:
            if "reject" in item:
                yield Reject(id=item["task_id"], stage=STAGE, reason=item["reject"], detail=item.get("detail", ""))
                continue
            p = by_id[id(item)]
            yield p.kept if p.kept is not None else _failure(p)


    def _resolve_expected(self, sandbox: Sandbox, problems: list[Problem]) -> None:
        """MBPP expected values that are expressions: evaluated by the task's own code (the reference's
        program with the test setup), once; a task whose values do not all evaluate and encode keeps
        its check() code."""
        todo = [pr for pr in problems if pr.metadata.get("expected_sources")]
        if not todo:
            return
        programs = [Program(calls_program(pr.prompt + pr.canonical_solution, pr.entry_point,
                                          [src for _, src, _ in pr.metadata["expected_sources"]]),
                            timeout=self.config.timeout, memory_mb=self.config.memory_mb, id=pr.task_id, stdout=True)
                    for pr in todo]
        for pr, outcome in zip(todo, sandbox.run(programs)):
            results = parse_results(outcome.output, len(pr.metadata["expected_sources"]))
            if results is not None and all("value" in r for r in results):
                with_calls(pr, [r["value"] for r in results])
            else:
                pr.metadata["check_asserts"] = len(pr.metadata.pop("expected_sources"))


def _last_line(detail: str) -> str:
    lines = [line for line in (detail or "").strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _failure(p: _Pending) -> Reject:
    ran = [a for a in p.attempts if a.outcome in ("failed", "timeout", "error")]
    if ran:
        reason = "all_solutions_timeout" if all(a.outcome == "timeout" for a in ran) else "all_solutions_fail"
    elif p.attempts:
        reason = p.attempts[0].outcome  # none could be converted: the first conversion reason
    else:
        reason = "no_python_solution"
    detail = "; ".join(f"solution {a.solution}: {a.outcome}" + (f" ({a.detail})" if a.detail else "") for a in p.attempts)
    return Reject(id=p.task["task_id"], stage=STAGE, reason=reason, detail=detail[:1000])


def load_all(sources: list[str], config: CompetitiveConfig) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    for source in sources:
        loaded = load_tasks(source, config)
        log.info("%s: %d rows", source, len(loaded))
        tasks.extend(loaded)
    return tasks


def collect_competitive(
    sources: list[str],
    out_dir: str | os.PathLike,
    config: CompetitiveConfig | None = None,
    sandbox: Sandbox | None = None,
    progress: bool = True,
    executor: Executor | None = None,
) -> StageStats:
    """Collect validated Problems from `sources` into the stage artifact `out_dir`.

    Shards run on `executor` (default: `config.workers` local processes, or this process
    when `sandbox` is given). In this process they use `sandbox`; elsewhere each worker
    opens the backend `config.sandbox` once.
    """
    config = config or CompetitiveConfig()
    tasks = load_all(sources, config)
    shards = chunk(tasks, config.shard_size) if tasks else []
    executor = executor or LocalExecutor(1 if sandbox is not None else config.workers)
    inline = isinstance(executor, LocalExecutor) and executor.workers == 1
    own = sandbox is None and inline
    if own:
        sandbox = get_sandbox(config.sandbox)
    try:
        return run_stage(STAGE, out_dir, shards, ConvertShard(config, sandbox),
                         params={**config.conversion_params(), "conversion_version": CONVERSION_VERSION},
                         progress=progress, executor=executor)
    finally:
        if own and sandbox is not None:
            sandbox.close()
