"""Exact and near-duplicate removal, the stage's accounting and resume, and the command."""

from __future__ import annotations

import json

import pytest

from codexsd.cli import main
from codexsd.core.config import ConfigError
from codexsd.core.record import Problem
from codexsd.core.stage import chunk, read_artifact, read_rejects, run_stage
from filters.dedup import DedupConfig, dedup_problems, dedup_stage

BODY = """    total = 0
    for value in values:
        if value % {k} == 0:
            total += value * value
    result = total - {k}
    return result
"""


def _problem(task_id: str, name: str = "f", k: int = 2, doc: str | None = None, extra: str = "") -> Problem:
    doc = doc or f"Sum the squares of the values divisible by {k}, minus {k}, for the report of the accounting team."
    prompt = f'def {name}(values: list[int]) -> int:\n    """{doc}"""\n'
    return Problem(task_id=task_id, prompt=prompt, canonical_solution=BODY.format(k=k) + extra, test="def check(c):\n    assert c([]) == -2\n",
                   entry_point=name)


def _cfg(**kw) -> DedupConfig:
    return DedupConfig(decontaminate=False, **kw)


def test_exact_duplicate_with_other_name_and_formatting_is_dropped_for_the_first():
    a = _problem("src/a")
    b = _problem("src/b", name="renamed")
    b.canonical_solution = b.canonical_solution.replace("total = 0", "total   =   0")
    kept, rejects = dedup_problems([a, b], _cfg())
    assert [p.task_id for p in kept] == ["src/a"]
    assert (rejects[0].id, rejects[0].reason) == ("src/b", "exact_duplicate") and "src/a" in rejects[0].detail


def test_near_duplicate_is_dropped_and_distinct_problems_stay():
    a = _problem("src/a", k=3)
    near = _problem("src/near", k=3, extra="    # unreachable\n")  # one line more than a
    other = _problem("src/other", k=7, doc="Count the vowels in a sentence, ignoring the case of each letter entirely.")
    other.canonical_solution = "    return sum(ch in 'aeiou' for ch in values.lower())\n"
    kept, rejects = dedup_problems([a, near, other], _cfg())
    assert [p.task_id for p in kept] == ["src/a", "src/other"]
    assert rejects[0].reason == "near_duplicate" and rejects[0].detail.startswith("src/a: similarity ")
    # a stricter threshold keeps the near copy
    kept, _ = dedup_problems([a, near, other], _cfg(threshold=0.99))
    assert len(kept) == 3


def test_stage_accounts_for_every_item_and_resumes(tmp_path):
    problems = [_problem(f"src/{i}", k=i % 5 + 2, doc=f"Problem {i}: " + " ".join(f"word{i}x{j}" for j in range(20))) for i in range(12)]
    problems += [_problem("src/dup-of-3", k=3 % 5 + 2, doc=problems[3].prompt.split('"""')[1])]
    run_stage("validate", tmp_path / "in", chunk(problems, 5), lambda items: iter(items), progress=False)

    stats = dedup_stage(tmp_path / "in", tmp_path / "out", _cfg(), progress=False)
    assert (stats.items_in, stats.kept, stats.rejected) == (13, 12, 1)
    assert stats.reasons == {"exact_duplicate": 1}
    assert [r.id for r in read_rejects(tmp_path / "out")] == ["src/dup-of-3"]
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["kept"] == 12

    again = dedup_stage(tmp_path / "in", tmp_path / "out", _cfg(), progress=False)
    assert again.shards_skipped == 3 and again.kept == 12
    # a change in one shard changes the decisions of all of them: nothing is skipped
    (tmp_path / "in" / "data-00000.jsonl").write_text(
        "".join(json.dumps(p.to_dict()) + "\n" for p in problems[1:5]))
    changed = dedup_stage(tmp_path / "in", tmp_path / "out", _cfg(), progress=False)
    assert changed.shards_skipped == 0 and changed.items_in == 12


def test_mbpp_decontamination_without_the_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="--mbpp"):
        DedupConfig().validate()
    with pytest.raises(ConfigError, match="unknown benchmark"):
        DedupConfig(benchmarks=["apps"]).validate()


def test_command_writes_clean_shards(tmp_path, test_data, humaneval_file, capsys):
    he_copy = json.loads(__import__("gzip").open(humaneval_file, "rt").readline())
    planted = Problem(task_id="ci/planted", prompt=he_copy["prompt"], canonical_solution=he_copy["canonical_solution"],
                      test=he_copy["test"], entry_point=he_copy["entry_point"])
    problems = [_problem("src/a"), _problem("src/b", name="g"), planted]
    run_stage("validate", tmp_path / "in", [problems], lambda items: iter(items), progress=False)
    rc = main(["dedup", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--mbpp", str(test_data / "mbpp.jsonl"), "--no-progress"])
    assert rc == 0
    assert [p.task_id for p in read_artifact(tmp_path / "out")] == ["src/a"]
    reasons = {r.id: (r.reason, r.detail.split(":")[0]) for r in read_rejects(tmp_path / "out")}
    assert reasons == {"src/b": ("exact_duplicate", "same normalised text and code as src/a"), "ci/planted": ("contaminated", "HumanEval/0")}
    assert "1 kept" in capsys.readouterr().err
    assert main(["dedup", str(tmp_path / "in"), "-o", str(tmp_path / "out2")]) == 2  # MBPP file missing: clear error
