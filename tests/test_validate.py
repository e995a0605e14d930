"""Validation stage: references run R times in the sandbox; kept, or rejected with a reason."""

from __future__ import annotations

import json

import pytest

from codexsd.core.record import Problem, write_problems
from codexsd.core.stage import read_artifact, read_rejects, run_stage
from filters.validate import REASONS, ValidateShard, judge
from codexsd.sandbox import Outcome, Status
from sandbox_testing import make_sandbox


def problem(task_id: str, body: str, test: str = "def check(candidate):\n    assert candidate(2) == 4\n") -> Problem:
    return Problem(task_id=task_id, prompt="def double(x):\n    \"\"\"Twice x.\"\"\"\n", canonical_solution=body,
                   test=test, entry_point="double", metadata={"source_note": "test"})


PROBLEMS = [
    problem("t/good", "    return 2 * x\n"),
    problem("t/wrong", "    return x + 1\n"),
    problem("t/raises", "    raise RuntimeError('no')\n"),
    problem("t/loops", "    while True:\n        pass\n"),
    problem("t/crash", "    import faulthandler\n    return faulthandler._sigsegv()\n"),
    problem("t/exits", "    import sys\n    sys.exit(0)\n"),
]


@pytest.fixture(scope="module", params=["local", "docker"])
def sandbox(request):
    sb = make_sandbox(request.param, workers=2)
    yield sb
    sb.close()


def test_reasons(sandbox):
    fn = ValidateShard(runs=8, timeout=1.0, sandbox=sandbox)
    out = {(r.task_id if isinstance(r, Problem) else r.id): r for r in fn(PROBLEMS)}
    assert len(out) == len(PROBLEMS)
    good = out["t/good"]
    assert isinstance(good, Problem) and good.metadata == {"source_note": "test", "validation_runs": 8}
    reasons = {k: v.reason for k, v in out.items() if not isinstance(v, Problem)}
    assert reasons["t/wrong"] == "reference_fails" and "AssertionError" in out["t/wrong"].detail
    assert reasons["t/raises"] == "reference_fails" and "RuntimeError: no" in out["t/raises"].detail
    assert reasons["t/loops"] == "timeout"
    assert reasons["t/crash"] == "error" and reasons["t/exits"] == "error"
    assert set(reasons.values()) <= set(REASONS)


def test_flaky_reference(sandbox):
    # a coin flip per run: 16 runs all alike has probability 2 / 65536
    flaky = problem("t/flaky", "    import os\n    assert os.urandom(1)[0] % 2 == 0, 'tails'\n    return 2 * x\n")
    [reject] = ValidateShard(runs=16, timeout=2.0, sandbox=sandbox)([flaky])
    assert reject.reason == "flaky" and "of 16 runs" in reject.detail and "tails" in reject.detail


def test_judge_flaky_and_default_runs():
    p = PROBLEMS[0]
    ok, bad = Outcome(Status.PASSED), Outcome(Status.FAILED, "AssertionError")
    assert judge(p, [ok, bad, ok]).reason == "flaky"
    assert "passed 2 of 3" in judge(p, [ok, bad, ok]).detail
    assert judge(p, [Outcome(Status.TIMEOUT, "t")] * 3).reason == "timeout"
    assert ValidateShard().runs == 3


def test_stage_accounting_and_resume(tmp_path, sandbox):
    shards = [PROBLEMS[:3], PROBLEMS[3:5], [PROBLEMS[0]]]
    fn = ValidateShard(runs=3, timeout=1.0, sandbox=sandbox)
    stats = run_stage("validate", tmp_path / "validated", shards, fn, params=fn.params(), progress=False)
    assert stats.items_in == 6 == stats.kept + stats.rejected
    assert stats.kept == 2 and stats.reasons == {"reference_fails": 2, "timeout": 1, "error": 1}
    again = run_stage("validate", tmp_path / "validated", shards, fn, params=fn.params(), progress=False)
    assert again.shards_skipped == 3
    kept = list(read_artifact(tmp_path / "validated"))
    assert [p.task_id for p in kept] == ["t/good", "t/good"]
    assert all(p.metadata["validation_runs"] == 3 for p in kept)
    assert {r.reason for r in read_rejects(tmp_path / "validated")} == {"reference_fails", "timeout", "error"}


def test_validate_cli(tmp_path):
    from codexsd.cli import main

    raw = tmp_path / "raw"
    write_problems(raw / "data-00000.jsonl", PROBLEMS[:3])
    write_problems(raw / "data-00001.jsonl", [PROBLEMS[4]])
    (raw / "stats.json").write_text("{}")
    out = tmp_path / "validated"
    assert main(["validate", str(raw), "-o", str(out), "--runs", "2", "--sandbox", "local", "--workers", "1"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["items_in"] == 4 and stats["kept"] == 1 and stats["rejected"] == 3
    assert stats["reasons"] == {"error": 1, "reference_fails": 2}
    assert [p.metadata["validation_runs"] for p in read_artifact(out)] == [2]
