"""`--executor local|ray` on every command that runs shards: an unknown name is one line before any work,
and `--executor local` runs each command on a tiny input (a pool of 2 where the command has a worker count)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_testing import write_tree
from codexsd.cli import main
from codexsd.core.record import Problem, write_problems
from codexsd.core.stage import read_artifact, read_rejects
from test_adequacy import CONSTANT, GOOD


def _double(task_id: str, body: str) -> Problem:
    return Problem(task_id=task_id, prompt='def double(x):\n    """Twice x."""\n', canonical_solution=body,
                   test="def check(candidate):\n    assert candidate(2) == 4\n", entry_point="double")


@pytest.fixture
def stage_in(tmp_path) -> Path:
    """A finished stage folder: a right reference, a wrong one, and an exact copy of the right one."""
    src = tmp_path / "in"
    write_problems(src / "data-00000.jsonl", [_double("t/good", "    return 2 * x\n"),
                                              _double("t/wrong", "    return x + 1\n")])
    write_problems(src / "data-00001.jsonl", [_double("t/copy", "    return 2 * x\n")])
    (src / "stats.json").write_text("{}")
    return src


COMMANDS = {
    "validate": ["validate", "{in}", "-o", "{out}"],
    "dedup": ["dedup", "{in}", "-o", "{out}"],
    "filter": ["filter", "adequacy", "{in}", "-o", "{out}"],
    "filter solvability": ["filter", "solvability", "{in}", "-o", "{out}"],
    "collect": ["collect", "ci", "-o", "{out}"],
    "collect competitive": ["collect", "competitive", "{in}", "-o", "{out}"],
    "build": ["build", "-o", "{out}"],
    "evaluate": ["evaluate", "{in}"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_executor_is_one_line(name, stage_in, tmp_path, capsys):
    argv = [a.format(**{"in": stage_in, "out": tmp_path / "out"}) for a in COMMANDS[name]]
    assert main([*argv, "--executor", "bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"codexsd {argv[0]}: error: --executor 'bogus' is not one of local, ray"]
    assert not (tmp_path / "out").exists()  # nothing ran


def test_validate_on_the_local_executor(stage_in, tmp_path):
    out = tmp_path / "validated"
    assert main(["validate", str(stage_in), "-o", str(out), "--runs", "2", "--sandbox", "local", "--workers", "1",
                 "--executor", "local"]) == 0
    assert [p.task_id for p in read_artifact(out)] == ["t/good", "t/copy"]
    assert {r.id: r.reason for r in read_rejects(out)} == {"t/wrong": "reference_fails"}


def test_dedup_on_a_local_pool_of_two(stage_in, tmp_path):
    out = tmp_path / "clean"
    assert main(["dedup", str(stage_in), "-o", str(out), "--no-decontaminate", "--no-progress",
                 "--executor", "local", "--workers", "2"]) == 0
    assert [p.task_id for p in read_artifact(out)] == ["t/good", "t/wrong"]
    assert [r.id for r in read_rejects(out)] == ["t/copy"]


def test_filter_adequacy_on_a_local_pool_of_two(tmp_path, capsys):
    src = tmp_path / "in"
    write_problems(src / "data-00000.jsonl", [GOOD])
    write_problems(src / "data-00001.jsonl", [CONSTANT])
    (src / "stats.json").write_text("{}")
    assert main(["filter", "adequacy", str(src), "-o", str(tmp_path / "out"), "--sandbox", "local", "--no-progress",
                 "--executor", "local", "--workers", "2"]) == 0
    assert "2 in, 1 kept, 1 rejected (degenerate_tests 1)" in capsys.readouterr().err


def test_collect_competitive_on_the_local_executor(test_data, tmp_path):
    out = tmp_path / "raw"
    assert main(["collect", "competitive", str(test_data / "mbpp.jsonl"), "--limit", "3", "-o", str(out),
                 "--sandbox", "local", "--no-progress", "--executor", "local", "--workers", "2"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["items_in"] == 3 == stats["kept"] + stats["rejected"] and stats["kept"] >= 1


def test_collect_ci_on_the_local_executor(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path / "proj", {
        "kit.py": 'def double(x):\n    """Twice x."""\n    return 2 * x\n',
        "test_kit.py": "import unittest\nfrom kit import double\n\n\nclass T(unittest.TestCase):\n"
                       "    def test_double(self):\n        self.assertEqual(double(21), 42)\n",
    })
    assert main(["collect", "ci", "proj", "-o", "raw", "--no-install", "--sandbox", "local", "--no-progress",
                 "--executor", "local"]) == 0
    assert [p.task_id for p in read_artifact(tmp_path / "raw")] == ["ci/kit.double"]
