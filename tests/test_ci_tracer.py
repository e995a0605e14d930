"""The CI tracer in its own process: what it records, drops, replays, and how it survives bad tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from curation.ci import child, runner
from codexsd.sandbox import values

LIB = '''
_counter = [0]


def add(a, b=1):
    """Add two numbers."""
    return a + b


def push(items, x):
    items.append(x)
    return len(items)


def positive(x):
    if x < 0:
        raise ValueError(x)
    return x


class Box:
    def __init__(self, v):
        self.v = v

    def get(self, k):
        return self.v

    @staticmethod
    def twice(x):
        return 2 * x


def boxed(v):
    return Box(v)


def ticket(name):
    _counter[0] += 1
    return f"{name}-{_counter[0]}"


def square(n):
    return n * n


def gen(n):
    yield n


def weekday(day, amount, tags):
    return f"{day.strftime('%A')} {amount} {len(tags)}"
'''

TESTS = '''
import mylib

mylib.add(1, 2); mylib.add(1, 2); mylib.add("a", b="b"); mylib.add(0.5)
mylib.push([1], 2)
mylib.positive(3)
try:
    mylib.positive(-1)
except ValueError:
    pass
mylib.Box(1).get("k"); mylib.Box.twice(4)
mylib.boxed(3)
mylib.ticket("a"); mylib.ticket("b")
for i in range(50):
    mylib.square(i)
list(mylib.gen(2))
import datetime, decimal
mylib.weekday(datetime.date(2024, 1, 31), decimal.Decimal("1.50"), {1, 2})
'''


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "mylib.py").write_text(LIB)
    (root / "run_me.py").write_text(TESTS)
    return root


def _trace(root: Path, jobs, python=sys.executable, per_module=30.0, project=60.0):
    target = runner.TraceTarget(python=python, cwd=str(root), jobs=jobs, files=[str(root / "mylib.py")])
    records, outcomes = runner.trace_jobs(target, root.parent / "trace", per_module, project, max_calls=5,
                                          max_chars=200, workers=2)
    return target, {r["qualname"]: r for r in records}, outcomes


def _src(key: str) -> str:
    """An encoded argument list (canonical JSON) as Python source, for reading the records."""
    return values.to_source(json.loads(key))


def _check_records(by_name):
    add = by_name["add"]["calls"]
    assert [_src(a) for a, _ in add] == ["[1, 2]", "['a', 'b']", "[0.5, 1]"]
    assert [values.to_source(r["value"]) for _, r in add] == ["3", "'ab'", "1.5"]
    assert by_name["add"]["drops"] == {"duplicate": 1}
    assert by_name["add"]["params"] == [["a", "pos"], ["b", "pos"]]
    # a mutated argument is recorded as it was after the call
    assert [(_src(a), values.to_source(r["value"]), values.to_source(r["after"])) for a, r in by_name["push"]["calls"]] \
        == [("[[1], 2]", "2", "[[1, 2], 2]")]
    assert [(_src(a), r) for a, r in by_name["positive"]["calls"]] == [("[3]", {"value": ["int", "3"]}),
                                                                         ("[-1]", {"raised": True})]
    assert by_name["boxed"]["drops"] == {"result_unencodable": 1}
    assert "Box.get" not in by_name and "Box.__init__" not in by_name  # methods that need `self`
    assert [(_src(a), r) for a, r in by_name["Box.twice"]["calls"]] == [("[4]", {"value": ["int", "8"]})]
    assert len(by_name["square"]["calls"]) == 10  # the child keeps twice the cap for replay to choose from
    assert [(_src(a), r) for a, r in by_name["gen"]["calls"]] == [("[2]", {"iter": True})]
    when = by_name["weekday"]["calls"]
    assert [_src(a) for a, _ in when] == ["[datetime.date(2024, 1, 31), Decimal('1.50'), {1, 2}]"]
    assert when[0][1] == {"value": ["str", "Wednesday 1.50 2"]}


def test_trace_records_plain_calls_and_drops_the_rest(tmp_path):
    root = _project(tmp_path)
    target, by_name, outcomes = _trace(root, [runner.TraceJob("run_me", ("run_me.py",))])
    assert [o.status for o in outcomes] == ["passed"]
    _check_records(by_name)

    replayed = {r["qualname"]: r for r in runner.replay(target, list(by_name.values()), tmp_path / "replay", 2.0, 60)}
    # ticket() depends on a hidden counter: a fresh process gives other results
    assert replayed["ticket"]["calls"] == [] and replayed["ticket"]["drops"]["replay_differs"] == 2
    assert [(c["expr"], values.to_source(c["expected"])) for c in replayed["add"]["calls"]] == [
        ("candidate(1, 2)", "3"), ("candidate('a', 'b')", "'ab'"), ("candidate(0.5, 1)", "1.5")]
    assert replayed["push"]["calls"] == [{"expr": "(lambda items: (candidate(items, 2), items))([1])",
                                          "expected": ["tuple", [["int", "2"], ["list", [["int", "1"], ["int", "2"]]]]],
                                          "raises": ""}]
    assert replayed["positive"]["calls"][1] == {"expr": "candidate(-1)", "expected": None, "raises": "ValueError"}
    assert replayed["gen"]["calls"] == [{"expr": "list(candidate(2))", "expected": ["list", [["int", "2"]]],
                                         "raises": ""}]
    weekday = replayed["weekday"]["calls"][0]
    assert "datetime=__import__('datetime')" in weekday["expr"] and weekday["expected"] == ["str", "Wednesday 1.50 2"]
    assert eval(weekday["expr"], {"candidate": lambda d, x, s: (d.weekday(), str(x), sorted(s))}) == (
        2, "1.50", [1, 2])  # the expression rebuilds the values on its own


def _python_312() -> str | None:
    """An interpreter >= 3.12 (sys.monitoring): python3.12+ on PATH, else one pyenv installed; None if none runs."""
    candidates = [shutil.which(f"python3.{minor}") for minor in range(12, 16)]
    if shutil.which("pyenv"):  # pyenv's shims on PATH answer only for the active version
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(map(str, Path(root or "/nonexistent").glob("versions/3.1[2-9]*/bin/python3")))
    for python in filter(None, candidates):
        probe = subprocess.run([python, "-c", "import sys; print(sys.version_info >= (3, 12))"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return python
    return None


PYTHON_312 = _python_312()


@pytest.mark.skipif(PYTHON_312 is None, reason="no python3.12 or newer on PATH")
def test_sys_monitoring_tracer_on_312_records_the_same(tmp_path):
    root = _project(tmp_path)
    python = PYTHON_312
    _, by_name, outcomes = _trace(root, [runner.TraceJob("run_me", ("run_me.py",))], python=python)
    assert [o.status for o in outcomes] == ["passed"]
    _check_records(by_name)


def test_hanging_and_crashing_modules_end_alone(tmp_path):
    root = _project(tmp_path)
    (root / "hang.py").write_text("import mylib, time\nmylib.add(7, 7)\ntime.sleep(600)\n")
    (root / "crash.py").write_text("import mylib, os\nmylib.add(9, 9)\nos.abort()\n")
    (root / "fails.py").write_text("import mylib\nmylib.add(5, 5)\nraise SystemExit(1)\n")
    jobs = [runner.TraceJob(n, (f"{n}.py",)) for n in ("hang", "crash", "fails", "run_me")]
    _, by_name, outcomes = _trace(root, jobs, per_module=3.0)
    status = {o.name: o.status for o in outcomes}
    assert status == {"hang": "timeout", "crash": "crashed", "fails": "tests_failed", "run_me": "passed"}
    calls = {_src(a): values.to_source(r["value"]) for a, r in by_name["add"]["calls"]}
    assert calls["[7, 7]"] == "14"  # recorded before the hang, dumped when the budget ran out
    assert calls["[5, 5]"] == "10" and "[9, 9]" not in calls  # an aborted interpreter leaves nothing


def test_project_budget_skips_what_is_left(tmp_path):
    root = _project(tmp_path)
    (root / "hang.py").write_text("import time\ntime.sleep(600)\n")
    jobs = [runner.TraceJob("hang", ("hang.py",)), runner.TraceJob("run_me", ("run_me.py",))]
    target = runner.TraceTarget(python=sys.executable, cwd=str(root), jobs=jobs, files=[str(root / "mylib.py")])
    _, outcomes = runner.trace_jobs(target, tmp_path / "t", 30.0, runner.KILL_GRACE_S + 3.0, 5, 200, workers=1)
    assert [o.status for o in outcomes] == ["timeout", "skipped"]


def test_only_the_projects_packages_are_recorded():
    tracer = child.Tracer(lambda f: True, packages=["mylib"])
    frame = sys._getframe()
    code = test_only_the_projects_packages_are_recorded.__code__
    assert tracer.classify(code, frame) is None  # this module is not in package `mylib`
    assert child.is_test_module("mylib.tests.helpers") and child.is_test_module("test_mylib")
    assert child.is_test_module("mylib.conftest") and not child.is_test_module("mylib.contest")
