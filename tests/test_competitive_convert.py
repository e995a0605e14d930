"""Conversion pieces of the competitive collector, on before/after source strings (no sandbox)."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from curation.competitive.convert import build_problem, docstring_block, py_literal
from curation.competitive.pysource import SourceError, clean_source, program_as_function, python_version
from curation.competitive.schemas import clean_statement


def _task(kind: str, **kw):
    base = {"task_id": "t/1", "kind": kind, "statement": "Do it.", "fn_name": None, "starter_code": "", "tests": [],
            "asserts": [], "setup": "", "solutions": [], "origin": {"dataset": "x"}, "metadata": {"kind": kind}}
    base.update(kw)
    return base


@pytest.mark.parametrize(
    "src, version",
    [
        ("print 'hi'\n", "py2"),
        ("n = int(raw_input())\nprint(n)\n", "py2"),
        ("for i in xrange(3):\n    print(i)\n", "py2"),
        ("try:\n    pass\nexcept ValueError, e:\n    pass\n", "py2"),
        ("print('hi')\nxrange = range\nfor i in xrange(2): pass\n", "py3"),
        ("def f(:\n", "invalid"),
    ],
)
def test_python_version(src, version):
    assert python_version(src) == version


def test_program_becomes_function_body():
    src = clean_source(textwrap.dedent('''\
        #!/usr/bin/env python
        from __future__ import division
        from math import *
        import sys
        input = sys.stdin.readline
        best = 0
        def update(x):
        \tglobal best
        \tbest = max(best, x)
        text = """two
        lines"""
        if __name__ == '__main__':
        \tfor t in map(int, input().split()):
        \t\tupdate(t)
        \tprint(best, text)
        '''))
    hoisted, body = program_as_function(src, "def solve(stdin: str) -> str:")
    assert hoisted == ["from __future__ import division", "from math import *"]
    lines = body.splitlines()
    assert lines[0] == "    import sys" and "        nonlocal best" in lines and "    text = \"\"\"two" in lines
    assert "lines\"\"\"" in lines  # the string's second line is not indented: its value is unchanged
    assert "    for t in map(int, input().split()):" in lines and "        update(t)" in lines
    assert not any("__main__" in line or "\t" in line for line in lines)


def test_program_global_that_stays_global():
    src = "def f():\n    global seen\n    seen = 1\nf()\nprint(seen)\n"  # seen is not bound at top level
    _, body = program_as_function(src, "def solve(stdin: str) -> str:")
    assert "        global seen\n" in body


@pytest.mark.parametrize("text", ['plain', 'a \\le b, $x_i$', 'quote """ inside \\n', 'ends with "', "multi\n\nline"])
def test_docstring_block_keeps_the_text(text):
    src = "def f():\n" + docstring_block(text, "    ") + "    pass\n"
    namespace: dict = {}
    exec(compile(src, "<doc>", "exec"), namespace)
    assert inspect.cleandoc(namespace["f"].__doc__).rstrip() == text


def test_statement_cleaning_drops_html_keeps_latex():
    assert clean_statement("<p>Find $\\sum a_i$ if a &lt; b.</p>\r\n<ul><li>one</li><li>two</li></ul>") == \
        "Find $\\sum a_i$ if a < b.\n\n- one\n- two"
    assert clean_statement("x < y and y > z\n\n\n\nend   ") == "x < y and y > z\n\nend"


def test_literals_for_json_values():
    assert py_literal([1, 2.5, "a", None, True, {"k": [float("inf")]}]) == "[1, 2.5, 'a', None, True, {'k': [float('inf')]}]"


def test_leetcode_method_keeps_class_and_starter_header():
    task = _task("call", fn_name="twoSum", tests=[[[[2, 7], 9], [0, 1]]],
                 starter_code="\nclass Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        ")
    solution = clean_source(textwrap.dedent('''\
        import collections
        class Solution:
          def helper(self, x):
            return x
          def twoSum(self, nums, target):
            """:type nums: List[int]"""
            seen = {}
            for i, n in enumerate(nums):
              if target - n in seen:
                return [seen[target - n], self.helper(i)]
              seen[n] = i
        '''))
    p = build_problem(task, solution)
    assert p.entry_point == "Solution"
    assert p.signature == "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:"
    assert p.context == "from typing import List\n\nimport collections\n"
    assert p.canonical_solution.startswith("        seen = {}\n") and ":type nums" not in p.canonical_solution
    assert "    def helper(self, x):\n        return x\n" in p.canonical_solution
    assert "assert_equal(candidate().twoSum([2, 7], 9), [0, 1])" in p.test
    assert [(c["expr"], c["expected"], c["compare"]) for c in p.calls] == [
        ("candidate().twoSum([2, 7], 9)", ["list", [["int", "0"], ["int", "1"]]], "exact")]
    namespace: dict = {}
    exec(compile(p.program(), "<p>", "exec"), namespace)  # our own fixture: the check runs and passes


def test_starter_header_not_used_when_parameter_names_differ():
    task = _task("call", fn_name="f", tests=[[[1], 1]], starter_code="def f(value: int) -> int:\n    ")
    p = build_problem(task, "def f(x):\n    return x\n")
    assert p.signature == "def f(x):" and p.entry_point == "f"


def test_mbpp_asserts_become_strict_and_call_candidate():
    task = _task("function", asserts=["assert add(1, 2) == 3", "assert add(1, 2) != 4", "assert add(0, 0)==0"])
    p = build_problem(task, "def add(a, b):\n    return a + b\n")
    assert "    assert same(candidate(1, 2), 3)\n" in p.test and "    assert candidate(1, 2) != 4\n" in p.test
    assert p.calls == [] and p.metadata["check_asserts"] == 3  # `!=` is no call with a value: check() code stays


def test_mbpp_calls_with_values_become_call_style_tests():
    task = _task("function", asserts=["assert add(1, 2) == 3", "assert 5 == add(2, 3)", "assert add(0, 0) == 0.0",
                                      "assert not add(0, 0)", "assert sorted(add([2], [1])) == [1, 2]"])
    p = build_problem(task, "def add(a, b):\n    return a + b\n")
    assert [(c["expr"], c["expected"], c["compare"]) for c in p.calls] == [
        ("candidate(1, 2)", ["int", "3"], "same"), ("candidate(2, 3)", ["int", "5"], "same"),
        ("candidate(0, 0)", ["float", "0.0"], "same"), ("bool(candidate(0, 0))", ["bool", False], "exact"),
        ("sorted(candidate([2], [1]))", ["list", [["int", "1"], ["int", "2"]]], "same")]
    assert "assert_same(candidate(1, 2), 3)" in p.test and "check_asserts" not in p.metadata
    expression = build_problem(_task("function", asserts=["assert add(1, 2) == int('3')"]), "def add(a, b):\n    return a + b\n")
    assert expression.calls == [] and expression.metadata["expected_sources"] == [["candidate(1, 2)", "int('3')", "same"]]
    with pytest.raises(SourceError) as err:
        build_problem(_task("function", asserts=["assert check(1)"]), "def check(x):\n    return True\n")
    assert err.value.reason == "reserved_entry_point"
    with pytest.raises(SourceError) as err:
        build_problem(_task("function", asserts=["assert g(1)"]), "def f(x):\n    return True\n")
    assert err.value.reason == "entry_point_missing"
