"""CI tracing on ordinary project layouts written here: odd tox files, unittest-only packages with
`tests.py`, a src layout whose tests import the installed copy with a pytest plugin loaded, and
values beyond literals (dates, Decimals, sets), generators, exceptions and mutated arguments."""

from __future__ import annotations

import json
import pytest

from codexsd.core.record import Problem
from codexsd.core.stage import read_artifact, read_rejects
from curation.ci import CIConfig, collect_ci
from curation.ci.collect import read_projects_file
from ci_testing import sandbox, write_tree  # noqa: F401 (sandbox is a fixture)
from curation.ci.project import _requested_dist, _tox_section, find_test_command, split_jobs




def _collect(projects, out, sandbox, **settings):
    config = CIConfig(**{"per_module_timeout": 60.0, "project_timeout": 300.0, **settings})
    stats = collect_ci([str(p) for p in projects], out, config, sandbox=sandbox, progress=False)
    problems = {p.task_id: p for p in read_artifact(out)}
    rejects = {r.id: r for r in read_rejects(out)}
    assert stats.items_in == stats.kept + stats.rejected == len(problems) + len(rejects)
    return problems, rejects


TOX_ODD = r"""
[tox]
envlist = py3

[testenv]
deps =
    pytest  # the runner
    unidecode: text-unidecode
commands =
    python -c "print('an unterminated quote)"
    python -c "print(1)"
    pytest {posargs:tests} \
        -q \
        -p no:randomly
"""


def test_tox_with_backslashes_and_posargs_falls_back_instead_of_crashing(tmp_path):
    write_tree(tmp_path, {"tox.ini": TOX_ODD, "tests/test_a.py": "", "pkg/__init__.py": ""})
    argv, where = find_test_command(tmp_path)
    assert (argv, where) == (["-m", "pytest", "tests", "-q"], "tox")  # the continued line, joined; {posargs:tests}: tests
    assert _tox_section(tmp_path)[1] == ["pytest", "text-unidecode"]  # comments and factor prefixes dropped
    write_tree(tmp_path, {"tox.ini": "[testenv]\ncommands = pytest 'unterminated {posargs}\n"})
    assert find_test_command(tmp_path)[0] == ["-m", "pytest"]  # logged, then the default


@pytest.mark.parametrize("files, found", [
    ({"pyproject.toml": '[tool.tox.env_run_base]\ncommands = [["pytest", "{posargs}", "tests"]]\n'},
     (["-m", "pytest", "tests"], "tox (toml)")),
    ({"noxfile.py": "import nox\n\n@nox.session\ndef tests(session):\n    session.run('pytest', '-x', 'tests')\n"},
     (["-m", "pytest", "-x", "tests"], "noxfile.py")),
    ({"Makefile": "test:\n\t$(PYTHON) -m unittest discover -s tests $(ARGS)\n"},
     (["-m", "unittest", "discover", "-s", "tests"], "Makefile")),
    ({"noxfile.py": "def broken(:\n"}, (["-m", "pytest"], "default (pytest; it runs unittest TestCases too)")),
])
def test_test_command_from_nox_makefile_and_tox_toml(tmp_path, files, found):
    write_tree(tmp_path, {"tests/test_x.py": "", **files})
    assert find_test_command(tmp_path) == found


UNITTEST_PKG = {
    "ulib/__init__.py": "",
    "ulib/core.py": '''
        def title_words(text):
            """Each word of `text` capitalised."""
            return " ".join(w.capitalize() for w in text.split())
        ''',
    "ulib/tests.py": '''
        import unittest

        from .core import title_words


        def helper(x):
            return x


        class TitleTest(unittest.TestCase):
            def test_title(self):
                self.assertEqual(title_words("hello big world"), "Hello Big World")
                self.assertEqual(title_words("a"), helper("A"))
        ''',
}


def test_unittest_only_package_with_tests_py(tmp_path, sandbox):
    proj = write_tree(tmp_path / "ulib-project", UNITTEST_PKG)
    argv, where = find_test_command(proj)
    assert argv == ["-m", "pytest"]  # tests.py is named on pytest's command line (else: exit 5, no tests ran)
    assert [j.target[-1] for j in split_jobs(proj, argv)] == ["ulib/tests.py"]
    assert [j.target for j in split_jobs(proj, ["-m", "unittest"])] == [
        ("-m", "unittest", "discover", "-s", "ulib", "-p", "tests.py", "-t", ".")]
    problems, rejects = _collect([proj], tmp_path / "out", sandbox, install=False)
    assert set(problems) == {"ci/ulib.core.title_words"}  # not the test module's helper
    assert "candidate('hello big world')" in problems["ci/ulib.core.title_words"].test
    report = json.loads((tmp_path / "out" / "projects.json").read_text())[0]
    assert report["module_status"] == {"passed": 1}


SRC_PKG = {
    "pyproject.toml": '''
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "srcpkg"
        version = "0.1"

        [tool.setuptools.packages.find]
        where = ["src"]
        ''',
    "tox.ini": '''
        [testenv]
        deps =
            pytest
            pytest-cov
        commands = pytest --cov=srcpkg --cov-report=term {posargs} tests
        ''',
    "src/srcpkg/__init__.py": "",
    "src/srcpkg/core.py": '''
        def scale(values, k):
            """Each value times k."""
            return [v * k for v in values]
        ''',
    "tests/test_core.py": '''
        import srcpkg
        from srcpkg.core import scale


        def test_installed_copy():
            assert "site-packages" in srcpkg.__file__  # the tests import the installed wheel, not src/
            assert scale([1, 2], 3) == [3, 6]
            assert scale([], 5) == []
        ''',
}


def test_src_layout_tests_importing_the_installed_copy_with_a_pytest_plugin(tmp_path, sandbox):
    proj = write_tree(tmp_path / "srcpkg", SRC_PKG)
    problems, rejects = _collect([proj], tmp_path / "out", sandbox, install_timeout=300.0)
    report = json.loads((tmp_path / "out" / "projects.json").read_text())[0]
    assert report["module_status"] == {"passed": 1}, report
    assert set(problems) == {"ci/srcpkg.core.scale"}
    assert not [i for i in list(problems) + list(rejects) if "pytest" in i or "cov" in i]  # the plugin is not traced
    assert "candidate([1, 2], 3)" in problems["ci/srcpkg.core.scale"].test


def test_the_projects_distribution_is_found_by_its_url_not_the_first_local_one(tmp_path):
    wheel = tmp_path / "mypkg-1.0-py3-none-any.whl"
    report = {"install": [
        {"requested": True, "download_info": {"url": "file:///opt/pypi/pytest_cov-6.0-py3-none-any.whl"},
         "metadata": {"name": "pytest-cov"}},
        {"requested": True, "download_info": {"url": wheel.as_uri()}, "metadata": {"name": "mypkg"}},
    ]}
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert _requested_dist(tmp_path / "report.json", str(wheel)) == "mypkg"


VALUES_PKG = {
    "vlib/__init__.py": "",
    "vlib/core.py": '''
        import datetime
        from decimal import Decimal


        def add_days(day, n):
            """The date n days after `day`."""
            return day + datetime.timedelta(days=n)


        def total(prices):
            """The sum of Decimal prices, rounded to cents."""
            return sum(prices, Decimal("0")).quantize(Decimal("0.01"))


        def common(a, b):
            """Items in both sets."""
            return a & b


        def countdown(n):
            """n, n-1, ..., 1."""
            while n > 0:
                yield n
                n -= 1


        def parse_age(text):
            """A non-negative age from text; ValueError otherwise."""
            age = int(text)
            if age < 0:
                raise ValueError("negative age")
            return age


        def push_sorted(items, x):
            """Insert x into the sorted list `items`, in place; returns the new length."""
            items.append(x)
            items.sort()
            return len(items)
        ''',
    "tests/test_core.py": '''
        import datetime
        import unittest
        from decimal import Decimal

        from vlib.core import add_days, common, countdown, parse_age, push_sorted, total


        class CoreTest(unittest.TestCase):
            def test_values(self):
                self.assertEqual(add_days(datetime.date(2024, 2, 28), 2), datetime.date(2024, 3, 1))
                self.assertEqual(total([Decimal("1.10"), Decimal("2.205")]), Decimal("3.30"))
                self.assertEqual(common({1, 2, 3}, frozenset({2, 3, 4})), {2, 3})
                self.assertEqual(list(countdown(3)), [3, 2, 1])
                self.assertEqual(parse_age("42"), 42)
                with self.assertRaises(ValueError):
                    parse_age("-1")
                items = [1, 5]
                self.assertEqual(push_sorted(items, 3), 3)
                self.assertEqual(items, [1, 3, 5])
        ''',
}


def test_dates_decimals_sets_generators_raises_and_mutation(tmp_path, sandbox):
    proj = write_tree(tmp_path / "vlib-project", VALUES_PKG)
    problems, rejects = _collect([proj], tmp_path / "out", sandbox, install=False)
    assert set(problems) == {f"ci/vlib.core.{n}" for n in
                             ("add_days", "total", "common", "countdown", "parse_age", "push_sorted")}, rejects
    calls = {tid.rsplit(".", 1)[1]: p.calls for tid, p in problems.items()}
    assert calls["add_days"][0]["expected"] == ["datetime.date", "datetime.date(2024, 3, 1)"]
    assert calls["total"][0]["expected"] == ["decimal.Decimal", "Decimal('3.30')"]
    assert calls["common"][0]["expected"] == ["set", [["int", "2"], ["int", "3"]]]
    assert "frozenset({" in calls["common"][0]["expr"]
    assert [c["expr"] for c in calls["countdown"]] == ["list(candidate(3))"]
    assert [(c["expr"], c["raises"]) for c in calls["parse_age"]] == [("candidate('42')", ""),
                                                                    ("candidate('-1')", "ValueError")]
    assert calls["push_sorted"] == [{"expr": "(lambda items: (candidate(items, 3), items))([1, 5])",
                                     "expected": ["tuple", [["int", "3"], ["list", [["int", "1"], ["int", "3"],
                                                                                   ["int", "5"]]]]],
                                     "raises": "", "compare": "exact", "origin": "original"}]

    # the HumanEval test text agrees with the calls: the reference passes it, a wrong body fails it
    from codexsd.sandbox.calls import judge_bodies

    for p in problems.values():
        ns: dict = {}
        exec(compile(p.program(), p.task_id, "exec"), ns)
    wrong = {"add_days": "    return day\n", "countdown": "    yield n\n",
             "parse_age": "    return abs(int(text))\n", "push_sorted": "    return len(items) + 1\n",
             "common": "    return a | b\n", "total": "    return sum(prices, Decimal('0'))\n"}
    verdicts = judge_bodies(sandbox, [(problems[f"ci/vlib.core.{n}"], body) for n, body in wrong.items()])
    assert [v[0].status.value for v in verdicts] == ["failed"] * len(wrong)


FUNCS_PKG = {
    "setup.py": "from setuptools import setup\nsetup(name='flib', version='0.1', packages=['flib'])\n",
    "flib/__init__.py": "",
    "flib/core.py": """
        def apply_each(fn, items):
            \"\"\"fn applied to every item.\"\"\"
            return [fn(x) for x in items]


        def sort_by(items, key=None):
            \"\"\"items sorted by key(item).\"\"\"
            return sorted(items, key=key)


        def fold(op, items, start):
            \"\"\"op(...op(op(start, items[0]), items[1])...).\"\"\"
            for x in items:
                start = op(start, x)
            return start


        def keep(pred, items):
            \"\"\"The items pred accepts.\"\"\"
            return [x for x in items if pred(x)]
        """,
    "tests/test_core.py": """
        import operator
        import unittest

        from flib.core import apply_each, fold, keep, sort_by

        OFFSET = 10


        def double(x):
            return 2 * x


        class FuncTest(unittest.TestCase):
            def test_functions_as_arguments(self):
                self.assertEqual(apply_each(lambda x: x * 3, [1, 2]), [3, 6])
                self.assertEqual(apply_each(len, ["ab", ""]), [2, 0])
                self.assertEqual(apply_each(str.upper, ["a"]), ["A"])
                self.assertEqual(sort_by(["bbb", "cc", "a"], key=len), ["a", "cc", "bbb"])
                self.assertEqual(sort_by([3, 1]), [1, 3])
                self.assertEqual(fold(operator.add, [1, 2], 0), 3)
                self.assertEqual(keep(lambda s: s.isdigit() and int(s) > 1, ["1", "2", "x"]), ["2"])
                self.assertEqual(keep(lambda x: x > OFFSET, [5, 11]), [11])     # reads a test global: dropped
                self.assertEqual(apply_each(double, [1]), [2])                   # a test function: dropped
                self.assertEqual(apply_each(lambda x: x, [1]), [1]); g = (lambda y: y + 1, lambda y: y - 1)
                self.assertEqual(apply_each(g[1], [1]), [0])                     # two lambdas on one line
        """,
}


def test_functions_passed_as_arguments_are_written_as_source(tmp_path, sandbox):
    proj = write_tree(tmp_path / "flib-project", FUNCS_PKG)
    problems, rejects = _collect([proj], tmp_path / "out", sandbox, install=False)
    assert set(problems) == {f"ci/flib.core.{n}" for n in ("apply_each", "sort_by", "fold", "keep")}, rejects
    exprs = {tid.rsplit(".", 1)[1]: sorted(c["expr"] for c in p.calls) for tid, p in problems.items()}
    assert exprs["apply_each"] == ["candidate((lambda x: x * 3), [1, 2])", "candidate((lambda x: x), [1])",
                                   "candidate((lambda y: y - 1), [1])", "candidate(len, ['ab', ''])",
                                   "candidate(str.upper, ['a'])"]
    assert exprs["sort_by"] == ["candidate(['bbb', 'cc', 'a'], len)", "candidate([3, 1], None)"]
    assert exprs["fold"] == ["(lambda operator=__import__('operator'): candidate(operator.add, [1, 2], 0))()"]
    assert exprs["keep"] == ["candidate((lambda s: s.isdigit() and int(s) > 1), ['1', '2', 'x'])"]
    # the tests tell the reference from a wrong body
    from codexsd.sandbox.calls import judge_bodies

    wrong = {"apply_each": "    return list(items)\n", "sort_by": "    return sorted(items)\n",
             "fold": "    return start\n", "keep": "    return items\n"}
    verdicts = judge_bodies(sandbox, [(problems[f"ci/flib.core.{n}"], body) for n, body in wrong.items()]
                            + [(p, p.canonical_solution) for p in problems.values()])
    assert [v[0].status.value for v in verdicts] == ["failed"] * len(wrong) + ["passed"] * len(problems)


DOCTEST_PKG = {
    "setup.cfg": """
        [tool:pytest]
        addopts = --doctest-modules --doctest-glob="*.doctest" dlib tests --ignore=dlib/broken.py --cov=dlib
        """,
    "dlib/__init__.py": "",
    "dlib/nums.py": '''
        def digits(n):
            """The decimal digits of n.

            >>> digits(305)
            [3, 0, 5]
            """
            return [int(c) for c in str(n)]


        def checksum(n):
            """Sum of the digits, mod 10."""
            return sum(digits(n)) % 10
        ''',
    "dlib/broken.py": '''
        """>>> 1 + 1
        3
        """
        raise ImportError("not importable")
        ''',
    "tests/test_nums.doctest": """
        >>> from dlib.nums import checksum
        >>> checksum(1234)
        0
        >>> checksum(99)
        8
        """,
    "tests/test_other.py": "import not_installed_anywhere\n",
}


def test_doctests_the_pytest_config_asks_for_are_traced(tmp_path, sandbox):
    from curation.ci.project import find_test_command, split_jobs

    proj = write_tree(tmp_path / "dlib-project", DOCTEST_PKG)
    jobs = split_jobs(proj, find_test_command(proj)[0], files_per_job=4)
    named = sorted(a for j in jobs for a in j.target if not a.startswith("-") and "/" in a)
    assert named == ["dlib/nums.py", "tests/test_nums.doctest", "tests/test_other.py"]  # broken.py: --ignore'd
    assert {"--doctest-modules", "--doctest-glob=*.doctest"} <= set(jobs[0].target)
    assert not any(a.startswith("--cov") for j in jobs for a in j.target)
    problems, rejects = _collect([proj], tmp_path / "out", sandbox, install=False)
    # traced only by doctests, in a job where another test file does not import: both functions are tasks
    assert set(problems) == {"ci/dlib.nums.digits", "ci/dlib.nums.checksum"}, rejects
    assert sorted(c["expr"] for c in problems["ci/dlib.nums.checksum"].calls) == ["candidate(1234)", "candidate(99)"]


ENUM_PKG = {
    "setup.py": "from setuptools import setup\nsetup(name='elib', version='0.1', packages=['elib'])\n",
    "elib/__init__.py": "",
    "elib/types.py": '''
        import enum
        from typing import NamedTuple


        class Shade(enum.Enum):
            LIGHT = 1
            DARK = 2


        class RGB(NamedTuple):
            r: int
            g: int
            b: int
        ''',
    "elib/ops.py": '''
        def invert(colour):
            """The colour with each channel inverted."""
            return tuple(255 - c for c in colour)


        def describe(shade, name):
            """`name`, prefixed by how dark it is."""
            return ("dark " if shade.value == 2 else "light ") + name
        ''',
    "tests/test_ops.py": '''
        from elib.ops import describe, invert
        from elib.types import RGB, Shade


        def test_ops():
            assert invert(RGB(0, 10, 255)) == (255, 245, 0)
            assert describe(Shade.DARK, "red") == "dark red"
            assert describe(Shade.LIGHT, "sky") == "light sky"
        ''',
}


def test_the_projects_own_enum_and_named_tuple_values_are_defined_in_the_task(tmp_path, sandbox):
    proj = write_tree(tmp_path / "elib-project", ENUM_PKG)
    problems, rejects = _collect([proj], tmp_path / "out", sandbox, install=False)
    assert set(problems) == {"ci/elib.ops.invert", "ci/elib.ops.describe"}, rejects
    assert [c["expr"] for c in problems["ci/elib.ops.invert"].calls] == ["candidate(RGB(0, 10, 255))"]
    assert "class RGB(NamedTuple):" in problems["ci/elib.ops.invert"].prompt
    assert sorted(c["expr"] for c in problems["ci/elib.ops.describe"].calls) == [
        "candidate(Shade.DARK, 'red')", "candidate(Shade.LIGHT, 'sky')"]
    assert "import elib" not in problems["ci/elib.ops.describe"].prompt


def test_projects_file(tmp_path):
    (tmp_path / "p.txt").write_text("# corpus\ninflection==0.5.1  # pinned\n\n./local/tree\npypi:idna\n")
    assert read_projects_file(tmp_path / "p.txt") == ["pypi:inflection==0.5.1", "./local/tree", "pypi:idna"]


def test_a_surprise_in_one_project_is_its_reject_and_the_others_finish(tmp_path, sandbox, monkeypatch):
    from curation.ci import project

    good = write_tree(tmp_path / "good", VALUES_PKG)
    bad = write_tree(tmp_path / "bad", {"x.py": "def f(a):\n    return a\n"})
    real = project.project_target

    def explode(proj, work, config):
        if proj.src.name == "src" and (proj.src / "x.py").exists():
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return real(proj, work, config)

    monkeypatch.setattr(project, "project_target", explode)
    problems, rejects = _collect([good, bad], tmp_path / "out", sandbox, install=False, project_workers=2)
    assert rejects[f"ci/project:{bad}"].reason == "trace_error"
    assert any(isinstance(p, Problem) and p.task_id.startswith("ci/vlib.") for p in problems.values())


def test_imports_the_tests_lack_are_named_for_installing():
    from curation.ci.project import missing_modules

    details = ["E   ModuleNotFoundError: No module named 'hypothesis'", "No module named 'yaml.constructor'",
               "No module named 'srcpkg.extra'", "No module named '_private'"]
    assert missing_modules(details, ["srcpkg"]) == ["hypothesis", "yaml"]


def test_a_test_helper_of_the_project_is_not_installed_from_pypi(tmp_path):
    from curation.ci.project import missing_modules

    write_tree(tmp_path, {"tests/__init__.py": "", "tests/helpers.py": "", "testing/util/__init__.py": "",
                          "pkg/__init__.py": ""})
    details = ["No module named 'tests.helpers'", "No module named 'helpers'", "No module named 'testing'",
               "No module named 'freezegun'"]
    assert missing_modules(details, ["pkg"], tmp_path) == ["freezegun"]


INLINE_PKG = {
    "ilib/__init__.py": "",
    "ilib/text.py": '''
        import re

        _SPACES = re.compile(r"\\s+")


        def squash(text):
            """`text` with each run of whitespace made one space."""
            return _SPACES.sub(" ", text).strip()
        ''',
    "ilib/data/__init__.py": "",
    "ilib/data/limits.py": '''
        MAX_WORDS = 3
        ''',
    "ilib/core.py": '''
        from ilib import text as textmod
        from ilib.data.limits import MAX_WORDS as LIMIT

        from .text import squash


        def headline(text):
            """The first LIMIT words of `text`, whitespace squashed, title-cased."""
            return " ".join(squash(text).split(" ")[:LIMIT]).title()


        def shout(text):
            """`text` squashed and upper-cased."""
            return textmod.squash(text).upper()
        ''',
    "tests/test_core.py": '''
        from ilib.core import headline, shout


        def test_headline():
            assert headline("  the quick   brown fox ") == "The Quick Brown"
            assert headline("one") == "One"
            assert headline("a\\tb c d e") == "A B C"


        def test_shout():
            assert shout(" a  b ") == "A B"
            assert shout("x") == "X"
        ''',
}


def test_project_imports_are_inlined_so_the_task_runs_without_the_project(tmp_path, sandbox):
    proj = write_tree(tmp_path / "ilib-project", INLINE_PKG)
    problems, rejects = _collect([proj], tmp_path / "out", sandbox, install=False)
    task = problems["ci/ilib.core.headline"]  # validated in a sandbox where `ilib` cannot be imported
    assert "def squash(text):" in task.prompt and "MAX_WORDS = 3" in task.prompt and "LIMIT = MAX_WORDS" in task.prompt
    assert "import re" in task.prompt  # the helper's own third-party/stdlib import stays an import
    assert not [ln for ln in task.prompt.splitlines() if "import" in ln and ("ilib" in ln or "from ." in ln)]
    assert task.prompt.index("_SPACES = re.compile") < task.prompt.index("def squash") < task.prompt.index("def headline")
    assert task.metadata["inlined"] == ["ilib.data.limits.MAX_WORDS", "ilib.text._SPACES", "ilib.text.squash"]
    assert "candidate('one')" in task.test
    # a module imported by name, read only as `textmod.squash`: a namespace of what is read
    shout = problems["ci/ilib.core.shout"]
    assert "textmod = types.SimpleNamespace(squash=squash)" in shout.prompt and "import types" in shout.prompt
    assert shout.prompt.index("def squash") < shout.prompt.index("textmod = ") < shout.prompt.index("def shout")


def test_inlining_dedups_orders_and_caps(tmp_path, monkeypatch):
    from curation import _cst_inline

    write_tree(tmp_path, {
        "p/__init__.py": "from .a import twice\n",
        "p/a.py": "from p.b import BASE\n\n\ndef twice(x):\n    return 2 * x + BASE\n",
        "p/b.py": "BASE = 1\nUNUSED = 2\n",
        "p/c.py": "def f(x):\n    return twice(x) + BASE\n",
    })
    context = "from p import twice\nfrom p.b import BASE\n"
    out = _cst_inline.inline_project_imports(context, "p.c", str(tmp_path / "p" / "c.py"), ("BASE", "twice"))
    assert out.context == "BASE = 1\n\n\ndef twice(x):\n    return 2 * x + BASE\n"  # once each, BASE first
    assert out.names == ("p.b.BASE", "p.a.twice")
    write_tree(tmp_path, {"p/d.py": """
        from typing import overload

        TYPE_CHECKING = False


        @overload
        def same(x: int) -> int: ...
        @overload
        def same(x: str) -> str: ...
        def same(x):
            return x if TYPE_CHECKING else x
        """})
    context = "from p.d import same\n\nTYPE_CHECKING = False\n"  # the task's own module has the same flag
    out = _cst_inline.inline_project_imports(context, "p.c", str(tmp_path / "p" / "c.py"))
    assert out.context.startswith("from typing import overload\n\n\nTYPE_CHECKING = False\n")
    assert out.context.count("TYPE_CHECKING = False") == 1 and out.context.count("def same(") == 3
    assert out.names == ("p.d.TYPE_CHECKING", "p.d.same")
    namespace: dict = {}
    exec(out.context, namespace)  # definitions come before their users
    assert namespace["same"]("x") == "x"
    missing = _cst_inline.inline_project_imports("from p.a import nothing\n", "p.c", str(tmp_path / "p" / "c.py"))
    assert missing.context == "from p.a import nothing\n" and not missing.reason  # left for validation to reject
    monkeypatch.setattr(_cst_inline, "MAX_INLINE_CHARS", 10)
    big = _cst_inline.inline_project_imports(context, "p.c", str(tmp_path / "p" / "c.py"))
    assert big.reason == "context_too_large"


def test_a_value_of_the_tasks_own_module_is_named_when_the_task_defines_its_class(tmp_path, sandbox):
    files = {
        "setup.py": "from setuptools import setup\nsetup(name='olib', version='0.1', packages=['olib'])\n",
        "olib/__init__.py": "",
        "olib/core.py": '''
            from typing import NamedTuple


            class Span(NamedTuple):
                start: int
                end: int


            class Other(NamedTuple):
                x: int


            def width(span):
                """How long `span` is."""
                return span.end - span.start if isinstance(span, Span) else 0
            ''',
        "tests/test_core.py": '''
            from olib.core import Other, Span, width


            def test_width():
                assert width(Span(2, 7)) == 5
                assert width(Other(3)) == 0     # a class the function does not name: this call is dropped
            ''',
    }
    proj = write_tree(tmp_path / "olib-project", files)
    problems, rejects = _collect([proj], tmp_path / "out", sandbox, install=False)
    assert set(problems) == {"ci/olib.core.width"}, rejects
    p = problems["ci/olib.core.width"]
    assert [c["expr"] for c in p.calls] == ["candidate(Span(2, 7))"] and "import olib" not in p.prompt
    assert p.metadata["call_drops"].get("project_value_not_rewritten") == 1
