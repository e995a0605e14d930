"""`collect_ci` end to end on small projects written here: traced tasks, their tests, rejects and why."""

from __future__ import annotations

import json
import subprocess

import pytest

from codexsd.core.record import Problem
from codexsd.core.stage import read_artifact, read_rejects
from curation.ci import CIConfig, collect_ci
from ci_testing import sandbox, write_tree  # noqa: F401 (sandbox is a fixture)
from curation.ci.project import find_test_command, split_jobs, command_argv

CORE = '''
"""Small text and number helpers."""

import os
import time

from .helpers import double

SEPARATOR = "-"
VOWELS = "aeiou"


def _clean(word):
    return "".join(c for c in word.lower() if c.isalnum())


def slugify(text, sep=SEPARATOR):
    """Lower-case words of `text` joined by `sep`."""
    return sep.join(w for w in map(_clean, text.split()) if w)


def count_vowels(text):
    """How many vowels `text` has."""
    return sum(1 for c in text.lower() if c in VOWELS)


def append_twice(items, x):
    """Append x twice."""
    items.append(x)
    items.append(x)
    return len(items)


def stamp(prefix):
    """A unique stamp."""
    return f"{prefix}{time.perf_counter_ns()}"


def from_env(key):
    """The environment variable `key`."""
    return os.environ.get(key, "")


def notify(message):
    """Print a message."""
    print(message)


def quadruple(x):
    """Four times x."""
    return double(double(x))


class Point:
    def __init__(self, x):
        self.x = x

    def norm(self):
        return abs(self.x)


def make_point(x):
    """A Point at x."""
    return Point(x)
'''

HELPERS = "def double(x):\n    return 2 * x\n"

TEST_CORE = '''
import os
import unittest

from calc.core import (slugify, count_vowels, append_twice, stamp, from_env, notify, quadruple, Point, make_point)


class CoreTest(unittest.TestCase):
    def test_all(self):
        self.assertEqual(slugify("Hello World"), "hello-world")
        self.assertEqual(slugify("  A b,c  ", sep="_"), "a_bc")
        self.assertEqual((count_vowels("banana"), count_vowels("xyz")), (3, 0))
        self.assertEqual(append_twice([1], 2), 3)
        self.assertTrue(stamp("x").startswith("x"))
        os.environ["CALC_SECRET"] = "42"
        self.assertEqual(from_env("CALC_SECRET"), "42")
        notify("hi"); notify("there")
        self.assertEqual(quadruple(3), 12)
        self.assertEqual((Point(-2).norm(), make_point(1).x), (2, 1))
'''




def test_finding_the_test_command(tmp_path):
    assert command_argv("pytest {posargs} --cov=calc -n auto tests") == ["-m", "pytest", "tests"]
    assert command_argv("coverage run -m pytest -x") == ["-m", "pytest", "-x"]
    assert command_argv("python -m unittest discover -s tests") == ["-m", "unittest", "discover", "-s", "tests"]
    assert command_argv("flake8 calc") is None
    write_tree(tmp_path, {"tox.ini": "[tox]\nenvlist = py\n[testenv]\ndeps = pytest\ncommands =\n    pytest {posargs} tests\n",
                      "tests/test_a.py": "", "tests/test_b.py": "", "tests/conftest.py": "", "calc/x.py": ""})
    argv, where = find_test_command(tmp_path)
    assert (argv, where) == (["-m", "pytest", "tests"], "tox")
    assert [j.name for j in split_jobs(tmp_path, argv)] == ["tests/test_a.py", "tests/test_b.py"]
    assert find_test_command(tmp_path, "python -m unittest")[0] == ["-m", "unittest"]
    assert [j.target for j in split_jobs(tmp_path, ["-m", "unittest", "discover", "-s", "tests"])] == [
        ("-m", "unittest", "discover", "-s", "tests", "-p", "test_a.py"),
        ("-m", "unittest", "discover", "-s", "tests", "-p", "test_b.py")]


def test_collect_small_project(tmp_path, sandbox):
    proj = write_tree(tmp_path / "calc-project", {
        "tox.ini": "[testenv]\ncommands = python -m unittest discover -s tests\n",
        "calc/__init__.py": "", "calc/core.py": CORE, "calc/helpers.py": HELPERS,
        "tests/test_core.py": TEST_CORE,
        "tests/test_hang.py": "import time\nfrom calc.core import count_vowels\n\n"
                              "count_vowels('queue')\ntime.sleep(600)\n",
        "tests/test_crash.py": "import os\n\nos.abort()\n",
    })
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    subprocess.run(["git", "-C", str(proj), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x",
                    "--allow-empty"], check=True)
    revision = subprocess.run(["git", "-C", str(proj), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    crashing = write_tree(tmp_path / "crashing", {"lib.py": "def f(x):\n    return x\n",
                                              "test_lib.py": "import os, lib\n\nlib.f(1)\nos.abort()\n"})
    config = CIConfig(install=False, per_module_timeout=15.0, project_timeout=300.0)
    out = tmp_path / "out"
    stats = collect_ci([str(proj), str(tmp_path / "no-such-project"), str(crashing)], out, config, sandbox=sandbox,
                       progress=False)
    problems = {p.task_id: p for p in read_artifact(out)}
    rejects = {r.id: r for r in read_rejects(out)}
    assert stats.items_in == stats.kept + stats.rejected == len(problems) + len(rejects)

    assert set(problems) == {"ci/calc.core.slugify", "ci/calc.core.count_vowels", "ci/calc.core._clean",
                             "ci/calc.helpers.double", "ci/calc.core.append_twice", "ci/calc.core.quadruple"}
    slug = problems["ci/calc.core.slugify"]
    assert slug.entry_point == "slugify" and slug.source == "ci"
    assert "SEPARATOR = " in slug.prompt and "def _clean(word):" in slug.prompt  # self-contained
    assert "import calc" not in slug.prompt and "from calc" not in slug.prompt
    assert '"""Lower-case words of `text` joined by `sep`."""' in slug.prompt
    assert "assert_equal(candidate('Hello World', '-'), 'hello-world')" in slug.test
    assert "assert_equal(candidate('  A b,c  ', '_'), 'a_bc')" in slug.test
    assert slug.origin["path"] == "calc/core.py" and slug.metadata["n_tests"] == 2
    vowels = problems["ci/calc.core.count_vowels"]
    assert "candidate('queue')" in vowels.test  # recorded by the module that then hung

    twice = problems["ci/calc.core.append_twice"]  # checked on the argument it mutates
    assert twice.calls == [{"expr": "(lambda items: (candidate(items, 2), items))([1])",
                            "expected": ["tuple", [["int", "3"], ["list", [["int", "1"], ["int", "2"], ["int", "2"]]]]],
                            "raises": "", "compare": "exact", "origin": "original"}]
    assert rejects["ci/calc.core.stamp"].reason == "no_kept_calls"  # replay gives another stamp
    assert rejects["ci/calc.core.from_env"].reason == "no_kept_calls"  # hidden state: env set by the test
    assert rejects["ci/calc.core.notify"].reason == "returns_only_none"
    assert rejects["ci/calc.core.make_point"].reason == "no_kept_calls"
    quad = problems["ci/calc.core.quadruple"]  # its package's other module is inlined: the sandbox lacks `calc`
    assert "def double(" in quad.prompt and "from .helpers" not in quad.prompt and "calc" not in quad.context
    assert quad.metadata["inlined"]
    assert rejects[f"ci/project:{tmp_path / 'no-such-project'}"].reason == "fetch_failed"
    assert rejects[f"ci/project:{crashing}"].reason == "tests_crashed"
    assert not any("Point" in k for k in list(problems) + list(rejects))  # methods needing self are not traced

    report = {r["project"]: r for r in json.loads((out / "projects.json").read_text())}
    statuses = {m["name"]: m["status"] for m in report[str(proj)]["modules"]}
    assert statuses == {"tests/test_core.py": "passed", "tests/test_hang.py": "timeout",
                        "tests/test_crash.py": "crashed"}

    # every kept task passes its own tests with nothing but its text; a wrong body fails them
    for p in problems.values():
        ns: dict = {}
        exec(compile(p.program(), p.task_id, "exec"), ns)
    broken = slug.prompt + "    return sep.join(text.lower().split())\n" + "\n" + slug.test
    ns = {}
    exec(broken, ns)
    with pytest.raises(AssertionError):
        ns["check"](ns["slugify"])

    class AlwaysEqual(str):
        def __eq__(self, other):
            return True

    ns = {}
    exec(slug.test, ns)
    with pytest.raises(AssertionError):
        ns["check"](lambda *args: AlwaysEqual("x"))
    assert slug.origin["revision"] == revision

    again = collect_ci([str(proj), str(crashing)], out, config, sandbox=sandbox, progress=False)
    assert again.kept == stats.kept  # traces are cached, shards resume


def test_uninstallable_project_is_a_reject(tmp_path, sandbox):
    bad = write_tree(tmp_path / "bad", {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "no_such_backend_xyz"\n'
                          '[project]\nname = "bad"\nversion = "0.1"\n',
        "bad.py": "def f(x):\n    return x\n", "test_bad.py": "import bad\n\ndef test_f():\n    assert bad.f(1) == 1\n"})
    stats = collect_ci([str(bad)], tmp_path / "out", CIConfig(install_timeout=120.0), sandbox=sandbox, progress=False)
    rejects = list(read_rejects(tmp_path / "out"))
    assert stats.kept == 0 and [r.reason for r in rejects] == ["install_failed"]
    assert "no_such_backend_xyz" in rejects[0].detail


def test_missing_stdlib_tests_names_the_fix(tmp_path, monkeypatch):
    from curation.ci import StdlibTestsMissing, stdlib

    monkeypatch.setattr(stdlib.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(StdlibTestsMissing, match="libpython.*-testsuite"):
        collect_ci([], tmp_path / "out", CIConfig(), progress=False)


def _stdlib_has_tests() -> bool:
    import importlib.util

    return importlib.util.find_spec("test.test_textwrap") is not None


@pytest.mark.skipif(not _stdlib_has_tests(), reason="this CPython ships no test suite")
def test_default_source_stdlib(tmp_path, sandbox):
    config = CIConfig(test_modules=["test_textwrap", "test_colorsys", "test_shlex"])
    stats = collect_ci([], tmp_path / "out", config, sandbox=sandbox, progress=False)
    problems = {p.task_id: p for p in read_artifact(tmp_path / "out")}
    assert {"ci/textwrap.dedent", "ci/colorsys.rgb_to_hsv", "ci/shlex.quote"} <= set(problems)
    assert stats.items_in == stats.kept + stats.rejected
    for p in problems.values():
        assert isinstance(p, Problem) and p.origin["project"] == "stdlib" and p.origin["licence"] == "PSF-2.0"
        assert f"import {p.origin['module']}\n" not in p.prompt


def test_a_function_traced_in_two_copies_of_its_file_is_one_task():
    """A src-layout project whose doctests import the source tree while its tests import the installed copy."""
    from curation.ci.collect import merge_copies

    def item(calls, where):
        return {"id": "ci/pkg.mod.f", "kind": "function", "filename": where, "drops": {"duplicate": 1},
                "traced_by": [where], "calls": [{"expr": f"candidate({a})", "expected": ["int", str(r)], "raises": ""}
                                                for a, r in calls]}

    other = {**item([(9, 9)], "x"), "id": "ci/pkg.mod.g"}
    merged = merge_copies([item([(1, 1), (2, 2)], "site"), other, item([(2, 3), (4, 4)], "src")], max_calls=10)
    assert [m["id"] for m in merged] == ["ci/pkg.mod.f", "ci/pkg.mod.g"]
    f = merged[0]
    assert [c["expr"] for c in f["calls"]] == ["candidate(1)", "candidate(4)"]  # candidate(2): the copies disagree
    assert f["drops"] == {"duplicate": 2} and f["traced_by"] == ["site", "src"]
    assert len(merge_copies([item([(i, i) for i in range(8)], "a"), item([(i, i) for i in range(8, 16)], "b")],
                            max_calls=10)[0]["calls"]) == 10
