"""Task text built from traced calls: how calls are written, and what a prompt may not import."""

from __future__ import annotations

import pytest

from curation.ci.tasks import absolute_imports, imports_own_module, render_call, render_test

PARAMS = [["a", "pos"], ["flag", "kwonly"], ["rest", "varargs"], ["extra", "varkw"]]  # co_varnames order


def test_calls_pass_arguments_the_way_the_function_takes_them():
    args = repr([1, True, ("x", b"y"), {"k": 2, "not an id": 3}])
    assert render_call(PARAMS, args) == "candidate(1, 'x', b'y', flag=True, **{'k': 2, 'not an id': 3})"
    assert render_call(PARAMS, repr([1, False, (), {"k": 2}])) == "candidate(1, flag=False, k=2)"


def test_generated_tests_compare_type_and_value_exactly():
    test = render_test([["x", "pos"]], [["[2]", "4"], ["[[1, 2]]", "(1, 2)"]])
    assert test.startswith("def check(candidate):\n")
    ns: dict = {}
    exec(test, ns)
    ns["check"](lambda x: x * 2 if isinstance(x, int) else tuple(x))
    for wrong in (lambda x: 4.0 if x == 2 else (1, 2), lambda x: 4 if x == 2 else [1, 2], lambda x: True):
        with pytest.raises(AssertionError):
            ns["check"](wrong)


@pytest.mark.parametrize(
    "context, module, found",
    [
        ("import os\n", "posixpath", "import os"),  # os.path is posixpath
        ("import os.path\n", "posixpath", "import os.path"),
        ("from os import path\n", "posixpath", "from os import ..."),
        ("from textwrap import dedent\n", "textwrap", "from textwrap import ..."),
        ("from . import helpers\n", "pkg.core", "from . import ..."),
        ("import re\nfrom collections import namedtuple\n", "textwrap", None),
        ("from email import utils\n", "email.utils", "from email import ..."),
    ],
)
def test_prompts_never_import_their_own_module(context, module, found):
    assert imports_own_module(context, module) == found


def test_relative_imports_become_absolute():
    context = "from . import _parser\nfrom ._constants import *\nfrom .. import top\nimport os\n"
    assert absolute_imports(context, "re._compiler", False) == (
        "from re import _parser\nfrom re._constants import *\nfrom .. import top\nimport os\n")
    assert absolute_imports("from .x import y\n", "pkg", True) == "from pkg.x import y\n"
