"""Solvability filter: keep a problem when some model sample passes its tests (Codex §4.3).

Up to `n_samples` completions are drawn per problem, in rounds of `round_size`, batched
across the problems still open; each round's programs go to the sandbox in one call. By
default a problem stops at its first passing sample (the keep/drop decision is the same
as drawing all N, at a fraction of the cost); `full` draws all N so passes/N estimates
difficulty. Round r of problem t samples from its own seed derive_seed(seed, t, r), so
samples do not depend on batching or on where a run stopped.

Every sample, verdict and re-verification run is appended to
`OUT/samples/<sampling fingerprint>/shard-<i>.jsonl` as soon as it exists; a killed run
resumes from that log without redrawing or rerunning anything it recorded. The log is
keyed by the sampling settings only, so a `--full` run after an early-stop run reuses
the samples already drawn. `reverify` reruns the first passing sample R more times and
rejects the problem as flaky unless every run passes.

With an executor other than this process (a process pool, Ray), shards run in workers that
each load the model (`cfg.model`, or the given sampler, pickled) and open a sandbox once per
process; every worker appends to its own shard's log, so OUT must be on storage every node
sees. The output bytes are the same as inline.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from codexsd.core.config import ConfigError
from codexsd.core.executor import Executor, LocalExecutor, process_resource
from codexsd.models.base import PAPER_STOP, Sampler, SamplingParams, derive_seed
from codexsd.core.record import Problem, Reject
from codexsd.core.stage import StageStats, fingerprint, read_shards, run_stage
from codexsd.sandbox.base import DEFAULT_TIMEOUT_S, Sandbox
from codexsd.sandbox.calls import judge_bodies

log = logging.getLogger(__name__)

STAGE = "solvability"


@dataclass
class SolvabilityConfig:
    model: str = "default"  # a model spec (see codexsd.models)
    n_samples: int = 100  # N, the most samples per problem
    round_size: int = 10  # samples per problem per round
    full: bool = False  # draw all N (passes/N as a difficulty estimate) instead of stopping at a pass
    reverify: int = 0  # rerun the passing sample R more times; a failure marks the problem flaky
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 300
    stop: list[str] = field(default_factory=lambda: list(PAPER_STOP))
    seed: int = 0
    tasks_per_call: int = 16  # problems per sampler call
    timeout: float = DEFAULT_TIMEOUT_S  # seconds per program in the sandbox
    sandbox: str = "auto"  # sandbox backend: auto, docker, local

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if self.n_samples < 1 or self.round_size < 1:
            raise ConfigError(f"n_samples and round_size must be >= 1, got {self.n_samples} and {self.round_size}")
        if self.reverify < 0:
            raise ConfigError(f"reverify must be >= 0, got {self.reverify}")
        if not 0 < self.top_p <= 1 or self.temperature < 0:
            raise ConfigError(f"need 0 < top_p <= 1 and temperature >= 0, got {self.top_p}, {self.temperature}")

    def sampling_key(self, spec: str) -> dict[str, Any]:
        """What the drawn samples depend on (not N, full or reverify, so those can change on resume)."""
        keys = ("round_size", "temperature", "top_p", "max_new_tokens", "stop", "seed")
        return {"model": spec, **{k: getattr(self, k) for k in keys}}


@dataclass
class _State:
    """One problem's log: completions in draw order, their verdicts, reverification verdicts."""

    problem: Problem
    completions: list[str] = field(default_factory=list)
    passed: list[bool] = field(default_factory=list)
    reverified: list[bool] = field(default_factory=list)

    @property
    def passes(self) -> int:
        return sum(self.passed)

    @property
    def first_pass(self) -> int | None:
        return self.passed.index(True) if True in self.passed else None


class SampleLog:
    """The append-only JSONL log of one shard: rows of kind sample, outcome and reverify."""

    def __init__(self, path: Path, limit: int):
        self.path = path
        self.limit = limit  # samples past N (from a run with a larger N) are not used
        path.parent.mkdir(parents=True, exist_ok=True)

    def load(self, states: dict[str, _State]) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # the torn last line of a killed run: cut, so that appended rows start a line
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
        rows = [json.loads(line) for line in data[:end].decode("utf-8").splitlines()]
        for row in rows:
            st = states.get(row["task_id"])
            if st is None:
                continue
            idx = row["index"]
            kind = row["kind"]
            if kind == "sample" and idx == len(st.completions) and idx < self.limit:
                st.completions.append(row["completion"])
            elif kind == "outcome" and idx == len(st.passed) and idx < len(st.completions):
                st.passed.append(row["status"] == "passed")
            elif kind == "reverify" and idx == len(st.reverified):
                st.reverified.append(row["status"] == "passed")

    def append(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            fh.flush()
            os.fsync(fh.fileno())


class SolvabilityFilter:
    """The per-shard function of the stage; items are {"shard": i, "problem": row}."""

    def __init__(self, cfg: SolvabilityConfig, samples_dir: Path, get_sampler: Callable[[], Sampler],
                 get_sandbox: Callable[[], Sandbox], progress: bool = True):
        self.cfg = cfg
        self.samples_dir = samples_dir
        self.get_sampler = get_sampler
        self.get_sandbox = get_sandbox
        self.progress = progress

    def __call__(self, items: list[dict[str, Any]]) -> Iterator[Problem | Reject]:
        if not items:
            return
        problems = [Problem.from_dict(it["problem"]) for it in items]
        states = {p.task_id: _State(p) for p in problems}
        if len(states) != len(problems):
            raise ValueError(f"shard {items[0]['shard']} repeats task ids; run dedup first")
        slog = SampleLog(self.samples_dir / f"shard-{int(items[0]['shard']):05d}.jsonl", self.cfg.n_samples)
        slog.load(states)
        for st in states.values():  # a round cut short by a torn write is drawn again whole
            partial = len(st.completions) % self.cfg.round_size
            if partial and len(st.completions) < self.cfg.n_samples:
                del st.completions[-partial:]
                del st.passed[len(st.completions):]
        self._draw_and_judge(list(states.values()), slog)
        self._reverify(list(states.values()), slog)
        for p in problems:
            yield self.verdict(states[p.task_id])

    # -- the loop -------------------------------------------------------------------------

    def _open(self, st: _State) -> bool:
        drawn_all = len(st.completions) >= self.cfg.n_samples
        solved = not self.cfg.full and st.passes > 0
        return not (drawn_all or solved)

    def _expected(self, states: list[_State]) -> int:
        return sum(self.cfg.n_samples if self._open(s) else len(s.completions) for s in states)

    def _draw_and_judge(self, states: list[_State], slog: SampleLog) -> None:
        from tqdm.auto import tqdm

        cfg = self.cfg
        bar = tqdm(total=self._expected(states), desc="solvability samples", unit="sample", disable=not self.progress, leave=False)
        bar.update(sum(len(s.passed) for s in states))
        try:
            while True:
                # judge what was drawn but not judged (a resumed run starts here), else draw a round
                pending = [s for s in states if len(s.passed) < len(s.completions)]
                if not pending:
                    to_draw = [s for s in states if self._open(s)]
                    if not to_draw:
                        break
                    self._draw_round(to_draw, slog)
                    pending = to_draw
                jobs = [(s, i) for s in pending for i in range(len(s.passed), len(s.completions))]
                outcomes = [o for o, _ in judge_bodies(self.get_sandbox(), [(s.problem, s.completions[i]) for s, i in jobs],
                                                       cfg.timeout)]
                rows = []
                for (s, i), o in zip(jobs, outcomes):
                    s.passed.append(o.passed)
                    rows.append({"kind": "outcome", "task_id": s.problem.task_id, "index": i, "status": o.status.value,
                                 "detail": o.detail[-300:]})
                slog.append(rows)
                bar.total = self._expected(states)  # an early-stopped problem draws no more
                bar.update(len(jobs))
        finally:
            bar.close()

    def _draw_round(self, states: list[_State], slog: SampleLog) -> None:
        cfg = self.cfg
        sampler = self.get_sampler()
        for start in range(0, len(states), cfg.tasks_per_call):
            group = states[start : start + cfg.tasks_per_call]
            by_n: dict[int, list[_State]] = {}
            for s in group:  # the last round of an N that round_size does not divide is shorter
                by_n.setdefault(min(cfg.round_size, cfg.n_samples - len(s.completions)), []).append(s)
            for n, batch in by_n.items():
                params = SamplingParams(n=n, temperature=cfg.temperature, top_p=cfg.top_p,
                                        max_new_tokens=cfg.max_new_tokens, stop=tuple(cfg.stop), seed=cfg.seed)
                seeds = [derive_seed(cfg.seed, s.problem.task_id, len(s.completions) // cfg.round_size) for s in batch]
                results = sampler.sample_seeded([s.problem.prompt for s in batch], params, seeds)
                rows = []
                for s, completions in zip(batch, results):
                    for c in completions:
                        rows.append({"kind": "sample", "task_id": s.problem.task_id, "index": len(s.completions),
                                     "completion": c.text, "logprob_mean": c.logprob_mean, "n_tokens": c.n_tokens,
                                     "finish_reason": c.finish_reason})
                        s.completions.append(c.text)
                slog.append(rows)

    def _reverify(self, states: list[_State], slog: SampleLog) -> None:
        runs = self.cfg.reverify
        todo = [(s, r) for s in states if s.first_pass is not None for r in range(len(s.reverified), runs)]
        if not todo:
            return
        outcomes = [o for o, _ in judge_bodies(self.get_sandbox(), [(s.problem, s.completions[s.first_pass]) for s, _ in todo],
                                               self.cfg.timeout)]
        rows = []
        for (s, r), o in zip(todo, outcomes):
            s.reverified.append(o.passed)
            rows.append({"kind": "reverify", "task_id": s.problem.task_id, "index": r, "status": o.status.value,
                         "detail": o.detail[-300:]})
        slog.append(rows)

    def verdict(self, st: _State) -> Problem | Reject:
        cfg = self.cfg
        first = st.first_pass
        judged = st.passed
        if first is not None and not cfg.full:  # what an early-stopping run draws, even from a fuller log
            judged = judged[: (first // cfg.round_size + 1) * cfg.round_size]
        drawn = len(judged)
        if first is None:
            return Reject(st.problem.task_id, STAGE, "unsolved", f"0/{drawn} samples passed")
        checks = st.reverified[: cfg.reverify]
        if cfg.reverify and not all(checks):
            return Reject(st.problem.task_id, STAGE, "flaky",
                          f"sample {first} passed, then {sum(checks)}/{len(checks)} reverify runs passed")
        passes = sum(judged)
        info = {"samples": drawn, "passes": passes, "first_pass_index": first, "full": cfg.full}
        if cfg.full:
            info["pass_rate"] = passes / drawn
        if cfg.reverify:
            info["reverified"] = cfg.reverify
        return dataclasses.replace(st.problem, metadata={**st.problem.metadata, "solvability": info})


def read_sample_log(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every row of every shard log under OUT/samples (sample, outcome and reverify rows)."""
    rows = []
    for path in sorted(Path(out_dir, "samples").glob("*/shard-*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.endswith("\n")]
    return rows


@dataclass(frozen=True)
class _WorkerSampler:
    """A worker's sampler: the given one (pickled along), else `spec` loaded once per process."""

    spec: str
    sampler: Sampler | None = None

    def __call__(self) -> Sampler:
        if self.sampler is not None:
            return self.sampler

        def load() -> Sampler:
            from codexsd.models import load_sampler

            return load_sampler(self.spec)

        return process_resource(("sampler", self.spec), load)


@dataclass(frozen=True)
class _WorkerSandbox:
    """A worker's sandbox: one per process and backend, closed when the process exits."""

    backend: str

    def __call__(self) -> Sandbox:
        from filters.base import process_sandbox

        return process_sandbox(None if self.backend == "auto" else self.backend)


def solvability_stage(in_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: SolvabilityConfig | None = None,
                      sampler: Sampler | None = None, sandbox: Sandbox | None = None, progress: bool = True,
                      executor: Executor | None = None) -> StageStats:
    """Run the filter over every shard of `in_dir` into `out_dir`; the model and sandbox start only if needed.

    `executor` (default: this process) runs the shards; elsewhere than this process each worker
    builds its own sampler and sandbox (of `sandbox`'s backend, else `cfg.sandbox`)."""
    cfg = cfg or SolvabilityConfig()
    cfg.validate()
    shards = read_shards(in_dir)
    spec = sampler.spec if sampler is not None and sampler.spec else cfg.model
    out_dir = Path(out_dir).resolve()  # workers elsewhere (Ray) have other working directories
    samples_dir = out_dir / "samples" / fingerprint(cfg.sampling_key(spec))
    inline = executor is None or (isinstance(executor, LocalExecutor) and executor.workers <= 1)
    if not inline:
        if sampler is not None:
            try:
                pickle.dumps(sampler)
            except Exception as exc:  # noqa: BLE001 - a loaded local model, an open handle
                raise ConfigError(f"the {type(sampler).__name__} given cannot be sent to {executor.name} workers "
                                  f"({type(exc).__name__}: {exc}); give its model spec instead (solvability.model) "
                                  f"so each worker loads its own") from None
        backend = getattr(sandbox, "name", None) or cfg.sandbox
        fn = SolvabilityFilter(cfg, samples_dir, _WorkerSampler(cfg.model, sampler), _WorkerSandbox(backend),
                               progress=False)
        _write_settings(samples_dir, cfg.sampling_key(spec))
        return run_stage(STAGE, out_dir, _wrap(shards), fn, params={"config": cfg.to_dict(), "model": spec},
                         progress=progress, executor=executor)
    owned: dict[str, Any] = {}

    def get_sampler() -> Sampler:
        if sampler is not None:
            return sampler
        if "sampler" not in owned:
            from codexsd.models import load_sampler

            owned["sampler"] = load_sampler(cfg.model)
        return owned["sampler"]

    def get_sandbox() -> Sandbox:
        if sandbox is not None:
            return sandbox
        if "sandbox" not in owned:
            from codexsd.sandbox import get_sandbox as make

            owned["sandbox"] = make(cfg.sandbox)
        return owned["sandbox"]

    _write_settings(samples_dir, cfg.sampling_key(spec))
    fn = SolvabilityFilter(cfg, samples_dir, get_sampler, get_sandbox, progress=progress)
    try:
        return run_stage(STAGE, out_dir, _wrap(shards), fn, params={"config": cfg.to_dict(), "model": spec},
                         progress=progress)
    finally:
        for obj in owned.values():
            obj.close()


def _wrap(shards: list[list[Problem]]) -> list[list[dict[str, Any]]]:
    """Items carry their shard index: each shard keeps its own sample log."""
    return [[{"shard": i, "problem": p.to_dict()} for p in shard] for i, shard in enumerate(shards)]


def _write_settings(samples_dir: Path, key: dict[str, Any]) -> None:
    samples_dir.mkdir(parents=True, exist_ok=True)
    (samples_dir / "settings.json").write_text(json.dumps(key, indent=1) + "\n")
