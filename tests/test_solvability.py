"""Solvability filter: early stop vs full, resume after interruption, reverify, a real tiny model end to end."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Sequence

import pytest

from codexsd.cli import main
from codexsd.models.base import Completion, Sampler, SamplingParams
from codexsd.core.record import Problem
from codexsd.core.stage import chunk, read_artifact, read_rejects, run_stage
from codexsd.sandbox.local import LocalSandbox
from filters.solvability import SolvabilityConfig, read_sample_log, solvability_stage

RIGHT = "    return a + b\n"
WRONG = ("    return a - b\n", "    return a * b\n", "    return b\n", "    retrun a\n")


class ReplaySampler(Sampler):
    """A seeded stand-in beside the real backends: draws each completion from a fixed pool per
    prompt, so a problem's pass rate is known. Counts what it draws; can be told to stop midway."""

    spec = "replay"

    def __init__(self, pools: dict[str, list[str]], interrupt_after_calls: int | None = None):
        self.pools = pools
        self.drawn = 0
        self.calls = 0
        self.interrupt_after_calls = interrupt_after_calls

    def sample(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        if self.interrupt_after_calls is not None and self.calls >= self.interrupt_after_calls:
            raise KeyboardInterrupt
        self.calls += 1
        rng = random.Random(params.seed)
        self.drawn += params.n * len(prompts)
        return [[Completion(rng.choice(self.pools[p]), -1.0, -1.0, 1) for _ in range(params.n)] for p in prompts]


class InterruptingSandbox(LocalSandbox):
    """The real local sandbox, killed (KeyboardInterrupt) on its k-th run call."""

    def __init__(self, interrupt_on_call: int, **kw):
        super().__init__(**kw)
        self.calls = 0
        self.interrupt_on_call = interrupt_on_call

    def run(self, programs, progress=None):
        self.calls += 1
        if self.calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        return super().run(programs, progress)


def _problem(i: int) -> Problem:
    prompt = f'def add_{i}(a, b):\n    """Return the sum of a and b (problem {i})."""\n'
    return Problem(task_id=f"t/{i}", prompt=prompt, canonical_solution=RIGHT,
                   test=f"def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n", entry_point=f"add_{i}")


# problem i passes with probability right/(right + wrong): 0 (never), 1/5, 1/2, 1
MIX = [0, 1, 2, 4, 0, 1, 4, 2]


def _pools(problems: list[Problem]) -> dict[str, list[str]]:
    pools = {}
    for p, k in zip(problems, MIX):
        pools[p.prompt] = [RIGHT] * k + list(WRONG) if k < 4 else [RIGHT]
    return pools


@pytest.fixture(scope="module")
def sandbox():
    box = LocalSandbox(workers=2)
    yield box
    box.close()


@pytest.fixture
def validated(tmp_path) -> tuple[Path, list[Problem]]:
    problems = [_problem(i) for i in range(len(MIX))]
    run_stage("validate", tmp_path / "validated", chunk(problems, 3), lambda items: iter(items), progress=False)
    return tmp_path / "validated", problems


def _cfg(**kw) -> SolvabilityConfig:
    return SolvabilityConfig(**{"model": "replay", "n_samples": 20, "round_size": 5, **kw})


def _outputs(out: Path) -> tuple[list[dict], list[dict]]:
    return [p.to_dict() for p in read_artifact(out)], [r.to_dict() for r in read_rejects(out)]


def test_early_stop_gives_the_full_runs_decisions_for_fewer_samples(validated, tmp_path, sandbox):
    in_dir, problems = validated
    early_sampler, full_sampler = ReplaySampler(_pools(problems)), ReplaySampler(_pools(problems))
    early = solvability_stage(in_dir, tmp_path / "early", _cfg(), early_sampler, sandbox, progress=False)
    full = solvability_stage(in_dir, tmp_path / "full", _cfg(full=True), full_sampler, sandbox, progress=False)

    assert early.items_in == full.items_in == len(problems) == early.kept + early.rejected
    kept_early = {p["task_id"] for p in _outputs(tmp_path / "early")[0]}
    assert kept_early == {p["task_id"] for p in _outputs(tmp_path / "full")[0]}
    assert kept_early == {p.task_id for p, k in zip(problems, MIX) if k > 0}
    assert full_sampler.drawn == 20 * len(problems) > early_sampler.drawn
    rejects = {r.id: r for r in read_rejects(tmp_path / "early")}
    assert {(r.reason, r.detail) for r in rejects.values()} == {("unsolved", "0/20 samples passed")}

    meta = {p.task_id: p.metadata["solvability"] for p in read_artifact(tmp_path / "full")}
    assert meta["t/3"] == {"samples": 20, "passes": 20, "first_pass_index": 0, "full": True, "pass_rate": 1.0}
    assert 0 < meta["t/1"]["passes"] < 20  # a 1-in-5 problem: a difficulty estimate, not all-or-nothing
    early_meta = {p.task_id: p.metadata["solvability"] for p in read_artifact(tmp_path / "early")}
    assert early_meta["t/3"] == {"samples": 5, "passes": 5, "first_pass_index": 0, "full": False}
    for tid, m in early_meta.items():  # same first pass, found without drawing the rest
        assert m["first_pass_index"] == meta[tid]["first_pass_index"] and m["samples"] <= 20

    rows = read_sample_log(tmp_path / "full")
    assert sum(r["kind"] == "sample" for r in rows) == sum(r["kind"] == "outcome" for r in rows) == 20 * len(problems)


def test_a_full_run_after_an_early_stop_run_reuses_the_drawn_samples(validated, tmp_path, sandbox):
    in_dir, problems = validated
    first = ReplaySampler(_pools(problems))
    solvability_stage(in_dir, tmp_path / "out", _cfg(), first, sandbox, progress=False)
    second = ReplaySampler(_pools(problems))
    solvability_stage(in_dir, tmp_path / "out", _cfg(full=True), second, sandbox, progress=False)
    assert first.drawn + second.drawn == 20 * len(problems)
    reference = ReplaySampler(_pools(problems))
    solvability_stage(in_dir, tmp_path / "ref", _cfg(full=True), reference, sandbox, progress=False)
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "ref")


@pytest.mark.parametrize("where", ["sampler", "sandbox"])
def test_a_killed_run_resumes_without_redrawing_and_ends_as_an_uninterrupted_one(validated, tmp_path, sandbox, where):
    in_dir, problems = validated
    cfg = _cfg(full=True, tasks_per_call=1)  # one sampler call per problem and round
    reference = ReplaySampler(_pools(problems))
    solvability_stage(in_dir, tmp_path / "ref", cfg, reference, sandbox, progress=False)

    if where == "sampler":  # killed while drawing the second round of the first shard (3 problems)
        killed, box = ReplaySampler(_pools(problems), interrupt_after_calls=4), sandbox
    else:  # killed after a round was drawn and logged, before its programs ran
        killed, box = ReplaySampler(_pools(problems)), InterruptingSandbox(interrupt_on_call=2, workers=2)
    with pytest.raises(KeyboardInterrupt):
        solvability_stage(in_dir, tmp_path / "out", cfg, killed, box, progress=False)
    assert not (tmp_path / "out" / "data-00000.jsonl").exists()
    logged = sum(r["kind"] == "sample" for r in read_sample_log(tmp_path / "out"))
    assert logged == killed.drawn > 0

    resumed = ReplaySampler(_pools(problems))
    solvability_stage(in_dir, tmp_path / "out", cfg, resumed, sandbox, progress=False)
    assert killed.drawn + resumed.drawn == reference.drawn  # nothing drawn twice
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "ref")
    again = ReplaySampler(_pools(problems))
    stats = solvability_stage(in_dir, tmp_path / "out", cfg, again, sandbox, progress=False)
    assert again.drawn == 0 and stats.shards_skipped == 3


def test_reverify_drops_a_problem_whose_passing_sample_is_flaky(tmp_path, sandbox):
    stable, flaky = _problem(0), _problem(1)
    coin = "    import os\n    return a + b if os.urandom(1)[0] < 128 else None\n"
    run_stage("validate", tmp_path / "in", [[stable, flaky]], lambda items: iter(items), progress=False)
    sampler = ReplaySampler({stable.prompt: [RIGHT], flaky.prompt: [coin]})
    stats = solvability_stage(tmp_path / "in", tmp_path / "out", _cfg(reverify=20), sampler, sandbox, progress=False)
    assert stats.reasons == {"flaky": 1}
    (reject,) = read_rejects(tmp_path / "out")
    assert reject.id == "t/1" and "reverify runs passed" in reject.detail
    (kept,) = read_artifact(tmp_path / "out")
    assert kept.task_id == "t/0" and kept.metadata["solvability"]["reverified"] == 20


def test_real_tiny_model_end_to_end(tmp_path, sandbox):
    """A real transformers model (tiny, random) through the command: every problem is accounted
    for, the log holds its real samples, and the verdicts are the sandbox's verdicts on them."""
    from tiny_models import build_tiny_causal_lm

    model_dir = build_tiny_causal_lm(tmp_path / "tiny", arch="gpt2")
    problems = [_problem(i) for i in range(3)]
    # a problem whose prompt already holds a working body: any completion that leaves it runnable passes
    problems.append(Problem(task_id="t/easy", prompt="def add(a, b):\n    return a + b\n    ", canonical_solution="",
                            test="def check(candidate):\n    assert candidate(1, 2) == 3\n", entry_point="add"))
    run_stage("validate", tmp_path / "in", [problems], lambda items: iter(items), progress=False)
    args = ["filter", "solvability", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", f"hf:{model_dir}",
            "-n", "4", "--round-size", "2", "--max-new-tokens", "8", "--sandbox", "local", "--no-progress"]
    assert main(args) == 0
    kept = {p.task_id for p in read_artifact(tmp_path / "out")}
    rejected = {r.id for r in read_rejects(tmp_path / "out")}
    assert kept | rejected == {p.task_id for p in problems} and not kept & rejected
    rows = read_sample_log(tmp_path / "out")
    samples = [r for r in rows if r["kind"] == "sample"]
    assert samples and all(r["n_tokens"] >= 1 for r in samples)
    outcomes = {(r["task_id"], r["index"]): r["status"] for r in rows if r["kind"] == "outcome"}
    by_id = {p.task_id: p for p in problems}
    judged = sandbox.run([__import__("codexsd.sandbox", fromlist=["Program"]).Program(by_id[r["task_id"]].program(r["completion"]))
                          for r in samples])
    assert [o.status.value for o in judged] == [outcomes[(r["task_id"], r["index"])] for r in samples]
    for tid in by_id:
        assert (tid in kept) == any(outcomes[k] == "passed" for k in outcomes if k[0] == tid)
    settings = json.loads(next((tmp_path / "out" / "samples").glob("*/settings.json")).read_text())
    assert settings["model"].startswith("hf:") and settings["round_size"] == 2


def test_a_torn_log_is_repaired_on_resume(validated, tmp_path, sandbox):
    """A run killed mid-write leaves a half line and a partial round: both are dropped and redrawn."""
    in_dir, problems = validated
    cfg = _cfg(full=True, n_samples=10)
    solvability_stage(in_dir, tmp_path / "ref", cfg, ReplaySampler(_pools(problems)), sandbox, progress=False)
    solvability_stage(in_dir, tmp_path / "out", cfg, ReplaySampler(_pools(problems)), sandbox, progress=False)
    log = next((tmp_path / "out" / "samples").glob("*/shard-00000.jsonl"))
    lines = log.read_text().splitlines(keepends=True)
    first_outcome = next(i for i, line in enumerate(lines) if '"outcome"' in line)
    log.write_text("".join(lines[: first_outcome - 2]) + lines[first_outcome - 2][:20])  # 2 samples short + a torn line
    for marker in (tmp_path / "out").glob(".done-*"):
        marker.unlink()
    resumed = ReplaySampler(_pools(problems))
    solvability_stage(in_dir, tmp_path / "out", cfg, resumed, sandbox, progress=False)
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "ref")
    assert 0 < resumed.drawn < 10 * len(problems)
