"""The adequacy stage: keep a task only if its tests tell a right body from a wrong one.

Per shard, in a few sandbox batches (one `sandbox.run` each, every task of the shard together):

1. the reference: judged by its calls (its time scales the mutants' timeouts), or, for a task
   with only a check() program, run under an observer that records what it returned;
2. stand-ins (standins.py) and up to K libcst mutants (mutants.py), judged like any body;
3. call-style tasks with something left alive: new inputs (strengthen.py), observed on the
   reference twice with two hash seeds;
4. the kept inputs run on the reference (a third run, in the worker), the surviving stand-ins
   and mutants; up to `max_added` of them are added, greedily by what they newly kill.

Keep rule (AdequacyConfig): no stand-in passes, at least `min_distinct_values` distinct
expected values, mutation score >= `threshold`. Rejects: degenerate_tests,
single_expected_value, low_mutation_score, reference_fails, mutation_error, malformed.
Everything measured goes into metadata["adequacy"] (kept) or the reject's detail after
"; metrics=" (rejected), so `report.summarise` can count both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from codexsd.core.config import ConfigError
from codexsd.core.record import Problem, Reject
from codexsd.core.stage import StageStats, read_shards, run_stage, write_stats
from filters.adequacy import mutants as mutation
from filters.adequacy import standins, strengthen
from filters.base import SandboxShard, split_records
from codexsd.sandbox.base import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Outcome, Program, Sandbox, Status
from codexsd.sandbox.calls import Call, calls_program, judge_calls, parse_calls, render_check

log = logging.getLogger(__name__)

STAGE = "adequacy"
REASONS = ("degenerate_tests", "single_expected_value", "low_mutation_score", "reference_fails", "mutation_error",
           "malformed")
METRICS_SEP = "; metrics="
MAX_RETURN_VALUE_MUTANTS = 4  # body -> return <v> for the most common expected values only


@dataclass
class AdequacyConfig:
    k_mutants: int = 24  # mutants per task, sampled across operator kinds
    threshold: float = 0.5  # keep: killed / total mutants >= this (see README: the measured distribution)
    min_distinct_values: int = 2  # keep: the tests expect at least this many distinct values
    strengthen: bool = True  # add asserts on new inputs to call-style tasks
    candidates: int = 40  # new inputs tried per task
    max_added: int = 10  # asserts added per task at most
    timeout: float = DEFAULT_TIMEOUT_S  # seconds for a reference program
    memory_mb: int = int(DEFAULT_MEMORY_MB)
    hash_seeds: int = 1  # fresh interpreters (other PYTHONHASHSEEDs) beside the in-process run of new inputs ...
    hash_seeds_sets: int = 7  # ... and for references that build sets or call hash()/id()
    mutant_timeout_factor: float = 10.0  # a mutant's limit: this times the reference's own time ...
    min_mutant_timeout: float = 1.0  # ... but at least this (and at most `timeout`)
    sandbox: str = ""  # backend ('' = CODEXSD_SANDBOX or auto)
    workers: int = 1  # shards in parallel processes
    seed: int = 0  # mixed with each task id

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def params(self) -> dict[str, Any]:
        """What decides the output (the stage fingerprint)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("sandbox", "workers")}

    def validate(self) -> None:
        if self.hash_seeds < 1 or self.hash_seeds_sets < 1:
            raise ConfigError("adequacy hash_seeds and hash_seeds_sets must be >= 1")
        if self.k_mutants < 0 or self.candidates < 0 or self.max_added < 0:
            raise ConfigError("adequacy k_mutants, candidates and max_added must be >= 0")
        if not 0 <= self.threshold <= 1:
            raise ConfigError(f"adequacy threshold must be in [0, 1], got {self.threshold}")
        if self.timeout <= 0 or self.min_mutant_timeout <= 0 or self.mutant_timeout_factor <= 0:
            raise ConfigError("adequacy timeouts must be > 0")


# ------------------------------------------------------------------ judging many bodies at once

@dataclass(frozen=True)
class _Body:
    problem: Problem
    body: str
    timeout: float
    calls: tuple[Call, ...] = ()  # judge by these calls (else by problem.calls, else its check())
    guard: bool = False  # the calls are guarded: the guard's source goes after the body


def _judge(sandbox: Sandbox, bodies: Sequence[_Body], memory_mb: int) -> list[tuple[Outcome, list[str | None] | None]]:
    """codexsd.sandbox.calls.judge_bodies with a timeout per body: one sandbox.run for all."""
    programs, jobs = [], []
    for b in bodies:
        calls = list(b.calls) or parse_calls(b.problem.calls)
        if calls:
            body = b.body + (strengthen.GUARD_SOURCE if b.guard else "")
            programs.append(Program(calls_program(b.problem.prompt + body, b.problem.entry_point, [c.expr for c in calls]),
                                    timeout=b.timeout, memory_mb=memory_mb, id=b.problem.task_id, stdout=True))
        else:
            programs.append(Program(b.problem.program(b.body), timeout=b.timeout, memory_mb=memory_mb,
                                    id=b.problem.task_id))
        jobs.append(calls)
    outcomes = sandbox.run(programs) if programs else []
    return [judge_calls(calls, o) if calls else (o, None) for calls, o in zip(jobs, outcomes)]


# ------------------------------------------------------------------ one task's state

@dataclass
class _Task:
    problem: Problem
    seed: int
    calls: list[Call] = field(default_factory=list)
    expectations: list[Any] = field(default_factory=list)
    ref_seconds: float = 0.0
    mutant_timeout: float = 1.0
    standins: dict[str, str] = field(default_factory=dict)  # name -> body
    mutants: list[mutation.Mutant] = field(default_factory=list)
    standin_pass: dict[str, bool] = field(default_factory=dict)
    killed: list[bool] = field(default_factory=list)
    killed_after: list[bool] = field(default_factory=list)
    pass_after: dict[str, bool] = field(default_factory=dict)
    added: list[Call] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=lambda: {"generated": 0, "kept": 0, "added": 0, "dropped": {}})
    programs: int = 0
    reject: Reject | None = None

    def fail(self, reason: str, detail: str) -> None:
        self.reject = Reject(self.problem.task_id, STAGE, reason, detail[:1500])


def _compare_mode(calls: Sequence[Call]) -> str:
    """How added calls compare: like most of the task's own value calls (its exact-comparison helper)."""
    modes = Counter(c.compare for c in calls if not c.raises).most_common(1)
    return modes[0][0] if modes else "exact"


def task_seed(task_id: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{task_id}".encode()).digest()[:8], "big")


class AdequacyChecker:
    """Judges a batch of problems (one shard): yields each kept (with metadata) or rejected."""

    def __init__(self, cfg: AdequacyConfig, sandbox: Sandbox):
        self.cfg = cfg
        self.sandbox = sandbox

    def __call__(self, problems: Sequence[Problem]) -> Iterator[Problem | Reject]:
        tasks = [_Task(p, task_seed(p.task_id, self.cfg.seed)) for p in problems]
        self._reference(tasks)
        live = [t for t in tasks if t.reject is None]
        self._prepare(live)
        live = [t for t in live if t.reject is None]
        self._standins_and_mutants(live)
        if self.cfg.strengthen:
            self._strengthen([t for t in live if t.calls and self._has_survivors(t)])
        for t in tasks:
            yield t.reject if t.reject is not None else self._decide(t)

    # phase 1: the reference (its time; for check()-only tasks, what it returned)
    def _reference(self, tasks: list[_Task]) -> None:
        cfg = self.cfg
        with_calls, observed = [], []
        for t in tasks:
            try:
                t.calls = parse_calls(t.problem.calls)
            except (TypeError, ValueError) as exc:
                t.fail("malformed", f"calls: {exc}")
                continue
            (with_calls if t.calls else observed).append(t)
        results = _judge(self.sandbox, [_Body(t.problem, t.problem.canonical_solution, cfg.timeout) for t in with_calls],
                         cfg.memory_mb)
        for t, (outcome, _) in zip(with_calls, results):
            t.programs += 1
            t.ref_seconds = outcome.duration
            if not outcome.passed:
                t.fail("reference_fails", f"{outcome.status.value}: {outcome.detail}")
            t.expectations = standins.call_expectations(t.problem)
        programs = [Program(standins.observe_check_program(t.problem), timeout=cfg.timeout, memory_mb=cfg.memory_mb,
                            id=t.problem.task_id, stdout=True) for t in observed]
        for t, outcome in zip(observed, self.sandbox.run(programs) if programs else []):
            t.programs += 1
            t.ref_seconds = outcome.duration
            seen = standins.parse_observed(outcome.output)
            if outcome.status is not Status.PASSED or seen is None or (seen and seen[-1][0] == "raises"):
                t.fail("reference_fails", f"{outcome.status.value}: {outcome.detail or seen and seen[-1]}")
                continue
            t.expectations = seen
        for t in tasks:
            t.mutant_timeout = min(cfg.timeout, max(cfg.min_mutant_timeout, cfg.mutant_timeout_factor * t.ref_seconds))

    # stand-in bodies and mutants (pure: no sandbox)
    def _prepare(self, tasks: list[_Task]) -> None:
        for t in tasks:
            common = standins.distinct(t.expectations)
            t.standins = standins.standin_bodies(t.problem, common[0] if common else None)
            imports: set[str] = set()
            value_srcs = [s for s in (standins.value_source(e, imports) for e in common) if s is not None]
            try:
                t.mutants = mutation.make_mutants(t.problem.prompt + t.problem.canonical_solution, t.problem.entry_point,
                                                  value_srcs[:MAX_RETURN_VALUE_MUTANTS], self.cfg.k_mutants, t.seed)
            except mutation.MutationError as exc:
                t.fail("mutation_error", str(exc))
                continue
            if imports:  # values like Decimal('1') need their import beside the mutant
                t.mutants = [dataclasses.replace(m, code="\n".join(sorted(imports)) + "\n" + m.code)
                             if m.kind == "return_value" else m for m in t.mutants]

    def _mutant_body(self, t: _Task, m: mutation.Mutant) -> str:
        return t.problem.canonical_solution.rstrip("\n") + "\n\n\n" + m.code

    # phase 2: every stand-in and mutant against the task's own tests
    def _standins_and_mutants(self, tasks: list[_Task]) -> None:
        bodies, owners = [], []
        for t in tasks:
            for name, body in t.standins.items():
                bodies.append(_Body(t.problem, body, t.mutant_timeout))
                owners.append((t, "standin", name))
            for i, m in enumerate(t.mutants):
                bodies.append(_Body(t.problem, self._mutant_body(t, m), t.mutant_timeout))
                owners.append((t, "mutant", i))
        for t in tasks:
            t.killed = [False] * len(t.mutants)
        for (t, kind, key), (outcome, _) in zip(owners, _judge(self.sandbox, bodies, self.cfg.memory_mb)):
            t.programs += 1
            if kind == "standin":
                t.standin_pass[key] = outcome.passed
            else:
                t.killed[key] = not outcome.passed
        for t in tasks:
            t.killed_after = list(t.killed)
            t.pass_after = dict(t.standin_pass)

    @staticmethod
    def _has_survivors(t: _Task) -> bool:
        return any(t.standin_pass.values()) or not all(t.killed)

    # phases 3 and 4: new inputs, observed twice, then run on the survivors
    def _strengthen(self, tasks: list[_Task]) -> None:
        cfg = self.cfg
        observing, batch = [], []
        for t in tasks:
            exprs = strengthen.new_inputs(t.calls, cfg.candidates, t.seed)
            t.inputs["generated"] = len(exprs)
            if not exprs:
                continue
            per_call = self._per_call(t)
            source = t.problem.prompt + t.problem.canonical_solution
            n_seeds = cfg.hash_seeds_sets if strengthen.hash_order_matters(source) else cfg.hash_seeds
            seeds = [1 + (t.seed + 7919 * i) % 100000 for i in range(n_seeds)]
            prog = strengthen.observe_twice_program(source, t.problem.entry_point, exprs, per_call, seeds, cfg.timeout)
            batch.append(Program(prog, timeout=(n_seeds + 1) * cfg.timeout + 1, memory_mb=cfg.memory_mb, id=t.problem.task_id,
                                 stdout=True))
            observing.append((t, exprs))
        seen_types = {}
        for t, _ in observing:
            sig: set[str] = set()
            for e in t.expectations:
                if e[0] != "raises":
                    sig |= strengthen.type_signature(e)
            seen_types[t.problem.task_id] = sig
        candidates: dict[str, list[tuple[str, Any]]] = {}
        for (t, exprs), outcome in zip(observing, self.sandbox.run(batch) if batch else []):
            t.programs += 1
            first, others = strengthen.parse_twice(outcome.output, len(exprs))
            kept, dropped = strengthen.keep_observations(exprs, first, others, seen_types[t.problem.task_id])
            t.inputs["dropped"] = {k: v for k, v in dropped.items() if v}
            candidates[t.problem.task_id] = kept

        bodies, owners = [], []
        for t, _ in observing:
            kept = candidates[t.problem.task_id]
            if not kept:
                continue
            mode = _compare_mode(t.calls)
            per_call = self._per_call(t)
            # after the task's own calls, as they will run (the frozen stand-in freezes at the first one)
            new_calls = tuple(Call(strengthen.guarded(c.expr, per_call), c.expected, c.raises, c.compare) for c in t.calls)
            new_calls += tuple(Call(strengthen.guarded(e, per_call), expected=v, compare=mode, origin="added")
                               for e, v in kept)
            timeout = min(4 * cfg.timeout, 2 + per_call * len(new_calls))
            targets = [("reference", t.problem.canonical_solution)]
            targets += [(("standin", n), t.standins[n]) for n, ok in t.standin_pass.items() if ok]
            targets += [(("mutant", i), self._mutant_body(t, m)) for i, m in enumerate(t.mutants) if not t.killed[i]]
            for key, body in targets:
                bodies.append(_Body(t.problem, body, timeout, calls=new_calls, guard=True))
                owners.append((t, key))
        results = _judge(self.sandbox, bodies, cfg.memory_mb)
        per_task: dict[str, dict[Any, list[str | None] | None]] = {}
        for (t, key), (_, failures) in zip(owners, results):
            t.programs += 1
            per_task.setdefault(t.problem.task_id, {})[key] = None if failures is None else failures[len(t.calls):]
        for t, _ in observing:
            kept = candidates.get(t.problem.task_id) or []
            vectors = per_task.get(t.problem.task_id, {})
            ref = vectors.get("reference")
            if not kept or ref is None:  # the reference's own run on them reported nothing: add none
                if kept:
                    t.inputs["dropped"]["no_result"] = t.inputs["dropped"].get("no_result", 0) + len(kept)
                continue
            agree = [j for j, f in enumerate(ref) if f is None]  # third run, the worker's own hash seed
            if len(agree) < len(kept):
                t.inputs["dropped"]["disagrees"] = t.inputs["dropped"].get("disagrees", 0) + len(kept) - len(agree)
            t.inputs["kept"] = len(agree)
            kills: dict[str, set[Any]] = {kept[j][0]: set() for j in agree}
            for key, failures in vectors.items():
                if key == "reference" or failures is None:
                    continue
                for j in agree:
                    if failures[j] is not None:
                        kills[kept[j][0]].add(key)
            priority = {k for k in vectors if isinstance(k, tuple) and k[0] == "standin"}
            targets = [k for k in vectors if k != "reference"]
            chosen = strengthen.greedy_select(kills, targets, cfg.max_added, priority)
            expected = dict(kept)
            t.added = [Call(e, expected=expected[e], compare=_compare_mode(t.calls), origin="added") for e in chosen]
            t.inputs["added"] = len(t.added)
            for e in chosen:
                for key in kills[e]:
                    if key[0] == "standin":
                        t.pass_after[key[1]] = False
                    else:
                        t.killed_after[key[1]] = True
            t.expectations = t.expectations + [c.expected for c in t.added]

    def _per_call(self, t: _Task) -> float:
        return min(self.cfg.timeout / 2, max(0.5, self.cfg.mutant_timeout_factor * t.ref_seconds))

    # the keep rule
    def _decide(self, t: _Task) -> Problem | Reject:
        cfg = self.cfg
        total = len(t.mutants)
        metrics = {
            "source": t.problem.source or t.problem.task_id.split("/", 1)[0],
            "standins": {k: bool(v) for k, v in sorted(t.standin_pass.items())},
            "standins_after": {k: bool(v) for k, v in sorted(t.pass_after.items())},
            "mutants": total,
            "killed_before": sum(t.killed),
            "killed_after": sum(t.killed_after),
            "score_before": round(sum(t.killed) / total, 4) if total else None,
            "score_after": round(sum(t.killed_after) / total, 4) if total else None,
            "survivors": [t.mutants[i].kind for i, k in enumerate(t.killed_after) if not k],
            "distinct_values": len(standins.distinct(t.expectations)),
            "inputs": t.inputs,
            "asserts": {"original": len(t.calls), "added": len(t.added)},
            "programs": t.programs,
        }
        passing = sorted(k for k, v in t.pass_after.items() if v)
        if passing:
            return self._reject(t, "degenerate_tests", f"stand-in {', '.join(passing)} passes the tests", metrics)
        if metrics["distinct_values"] < cfg.min_distinct_values:
            return self._reject(t, "single_expected_value",
                                f"{metrics['distinct_values']} distinct expected value(s) across the tests", metrics)
        if total and metrics["score_after"] < cfg.threshold:
            return self._reject(t, "low_mutation_score", f"mutation score {metrics['score_after']:.2f} "
                                f"< {cfg.threshold} ({metrics['killed_after']}/{total} killed)", metrics)
        problem = t.problem
        if t.added:
            calls = t.calls + t.added
            problem = dataclasses.replace(problem, calls=[c.to_dict() for c in calls], test=render_check(calls))
        meta = dict(problem.metadata, adequacy=metrics)
        return dataclasses.replace(problem, metadata=meta)

    def _reject(self, t: _Task, reason: str, detail: str, metrics: dict) -> Reject:
        return Reject(t.problem.task_id, STAGE, reason, detail + METRICS_SEP + json.dumps(metrics, sort_keys=True))


def metrics_of(item: Problem | Reject) -> dict[str, Any] | None:
    """The adequacy measurements of a kept problem or a rejected one (None for other rejects)."""
    if isinstance(item, Problem):
        return item.metadata.get("adequacy")
    if METRICS_SEP in item.detail:
        try:
            return json.loads(item.detail.split(METRICS_SEP, 1)[1])
        except ValueError:
            return None
    return None


# ------------------------------------------------------------------ the stage

@dataclass
class AdequacyShard(SandboxShard):
    """A run_stage shard function (picklable; the sandbox opens lazily in each process unless given)."""

    cfg: AdequacyConfig = field(default_factory=AdequacyConfig)
    backend: str | None = None
    sandbox: Sandbox | None = field(default=None, repr=False, compare=False)

    def __call__(self, items: Iterable[Problem | dict]) -> Iterator[Problem | Reject]:
        problems, bad = split_records(items, STAGE)
        if problems:
            yield from AdequacyChecker(self.cfg, self.get_sandbox())(problems)
        yield from bad


@dataclass
class AdequacyStats(StageStats):
    """The stage's counts plus its per-source summary (report.summarise), which the dataset card plots."""

    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "adequacy": self.summary}


def adequacy_stage(in_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: AdequacyConfig | None = None,
                   sandbox: Sandbox | None = None, progress: bool = True, executor=None) -> StageStats:
    """Run the stage over every shard of `in_dir` into `out_dir`. stats.json gains an `adequacy`
    summary per source; `report.json` adds wall time (not part of the data: it varies run to run)."""
    from filters.adequacy.report import summarise

    cfg = cfg or AdequacyConfig()
    cfg.validate()
    shards = read_shards(in_dir)
    backend = sandbox.name if sandbox is not None else (cfg.sandbox or "auto")
    from codexsd.core.executor import LocalExecutor

    executor = executor or LocalExecutor(cfg.workers)
    inline = isinstance(executor, LocalExecutor) and executor.workers <= 1
    fn = AdequacyShard(cfg=cfg, backend=backend, sandbox=sandbox if inline else None)
    started = time.perf_counter()
    stats = run_stage(STAGE, out_dir, shards, fn, params=cfg.params(), progress=progress, executor=executor)
    wall = time.perf_counter() - started
    summary = summarise(out_dir)
    stats = AdequacyStats(**dataclasses.asdict(stats), summary=summary)
    write_stats(Path(out_dir), stats.to_dict())
    computed = stats.items_in if not stats.shards_skipped else None
    report = {"summary": summary, "wall_seconds": round(wall, 2), "tasks_computed_this_run": computed,
              "seconds_per_task": round(wall / computed, 4) if computed else None}
    tmp = Path(out_dir) / ".tmp-report.json"
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, Path(out_dir) / "report.json")
    return stats
