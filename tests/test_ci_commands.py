"""Test commands as real projects write them: tox's `{posargs:DEFAULT}`, a doctest-only command before the
suite's, and an installed pytest plugin that no longer loads with this pytest (pytest-flake8 and the like)."""

from __future__ import annotations

import sys

from ci_testing import write_tree
from curation.ci.project import command_argv, find_test_command
from curation.ci.runner import TraceJob, TraceTarget, trace_module


def test_posargs_default_is_used_and_doc_only_commands_are_skipped(tmp_path):
    assert command_argv("python -m pytest --doctest-modules -n auto {posargs:w3lib tests}") == [
        "-m", "pytest", "w3lib", "tests"]
    assert command_argv("pytest {posargs} tests") == ["-m", "pytest", "tests"]
    assert command_argv("pytest README.rst docs/examples.rst") is None
    assert command_argv("python -m pytest --cov termcolor --cov-context test --cov-report html {posargs}") == [
        "-m", "pytest"]  # coverage options and their values dropped
    write_tree(tmp_path, {"tests/test_a.py": "", "tox.ini": """
        [testenv]
        commands =
            pytest README.rst docs/examples.rst
            pytest --hypothesis-profile=slow-tests {posargs:tests}
        """})
    assert find_test_command(tmp_path) == (["-m", "pytest", "--hypothesis-profile=slow-tests", "tests"], "tox")


BROKEN_PLUGIN = {
    # an entry-point plugin whose hook has an argument pytest no longer passes: pytest stops with exit 3
    "plugins/badplug.py": """
        def pytest_collect_file(file_path, no_such_argument, parent):
            return None
        """,
    "plugins/badplug-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: badplug\nVersion: 0.1\n",
    "plugins/badplug-0.1.dist-info/entry_points.txt": "[pytest11]\nbadflake = badplug\n",
    "lib/shout.py": """
        def shout(word):
            return word.upper() + "!"
        """,
    "tests/test_shout.py": """
        from shout import shout


        def test_shout():
            assert shout("hi") == "HI!"
        """,
}


def test_a_plugin_that_does_not_load_is_disabled_and_the_tests_run(tmp_path):
    proj = write_tree(tmp_path / "proj", BROKEN_PLUGIN)
    target = TraceTarget(python=sys.executable, cwd=str(proj), roots=[str(proj / "lib")],
                         exclude=[str(proj / "tests"), str(proj / "plugins")],
                         env={"PYTHONPATH": f"{proj / 'plugins'}:{proj / 'lib'}"}, jobs=[])
    job = TraceJob("tests/test_shout.py", ("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_shout.py"))
    work = tmp_path / "work"
    work.mkdir()
    records, outcome = trace_module(target, job, 0, 60.0, work, 10, 1000)
    assert outcome.status == "passed", outcome.detail
    assert [r["qualname"] for r in records] == ["shout"]


PROXY_MODULE = '''
import sys
import types


def shout(word):
    return word.upper() + "!"


class _Proxy(types.ModuleType):  # as humanfriendly's deprecation aliases do: sys.modules holds a proxy
    def __init__(self, module):
        super().__init__(module.__name__)
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)


sys.modules[__name__] = _Proxy(sys.modules[__name__])
'''


def test_a_function_of_a_module_proxied_in_sys_modules_is_found_for_replay(tmp_path, monkeypatch):
    from curation.ci.child import _resolve

    write_tree(tmp_path, {"proxied_mod.py": PROXY_MODULE})
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        fn = _resolve({"module": "proxied_mod", "qualname": "shout", "firstlineno": 6})
        assert fn("hi") == "HI!"
    finally:
        sys.modules.pop("proxied_mod", None)
