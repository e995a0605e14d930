"""Task text built from traced calls: how calls are written, and what a prompt may not import."""

from __future__ import annotations

import pytest

import json

from curation.ci.exprs import plan_call
from curation.ci.tasks import absolute_imports, imports_own_module
from codexsd.sandbox import values

PARAMS = [["a", "pos"], ["flag", "kwonly"], ["rest", "varargs"], ["extra", "varkw"]]  # co_varnames order


def _key(args) -> str:
    return json.dumps(values.encode(list(args)), sort_keys=True, separators=(",", ":"))


def _plan(params, args, **outcome):
    return plan_call(params, _key(args), outcome or {"value": values.encode(None)})


def test_calls_pass_arguments_the_way_the_function_takes_them():
    plan = _plan(PARAMS, [1, True, ("x", b"y"), {"k": 2, "not an id": 3}])
    assert plan["expr"] == "candidate(1, 'x', b'y', flag=True, **{'k': 2, 'not an id': 3})"
    assert _plan(PARAMS, [1, False, (), {"k": 2}])["expr"] == "candidate(1, flag=False, k=2)"


def test_generators_raises_and_mutations_become_expressions():
    one = [["n", "pos"]]
    assert _plan(one, [3], iter=True)["expr"] == "list(candidate(3))"
    raises = _plan(one, [-1], raised=True)
    assert (raises["expr"], raises["kind"], raises["expected"]) == ("candidate(-1)", "raises", None)
    two = [["items", "pos"], ["x", "pos"]]
    plan = _plan(two, [[3, 1], 2], value=values.encode(None), after=values.encode([[3, 1, 2], 2]))
    assert plan["expr"] == "(lambda items: (candidate(items, 2), items))([3, 1])"
    assert plan["expected"] == values.encode((None, [3, 1, 2]))
    assert eval(plan["expr"], {"candidate": lambda items, x: items.append(x)}) == (None, [3, 1, 2])


def test_values_needing_imports_stay_self_contained():
    import datetime
    from decimal import Decimal
    from fractions import Fraction

    args = [datetime.date(2024, 2, 29), Decimal("1.10"), Fraction(1, 3), frozenset({2, 1}), range(0, 6, 2),
            datetime.timedelta(days=1, seconds=5), 1 + 2j, bytearray(b"ab")]
    params = [[f"p{i}", "pos"] for i in range(len(args))]
    expr = _plan(params, args)["expr"]
    assert expr.startswith("(lambda ") and "import" not in expr.replace("__import__", "")
    got = eval(expr, {"candidate": lambda *a: a})  # nothing but `candidate` is defined
    assert values.encode(list(got)) == values.encode(args)  # exact types all the way down


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


def test_a_value_that_cannot_be_written_as_utf8_is_a_drop_not_a_crash():
    from curation.ci.exprs import plan_record

    record = {"params": [["s", "pos"]], "drops": {},
              "calls": [[_key(["a"]), {"value": ["str", "\udce9"]}], [_key(["b"]), {"value": ["str", "ok"]}]]}
    planned = plan_record(record)
    assert planned["drops"] == {"not_utf8": 1} and [c["expr"] for c in planned["calls"]] == ["candidate('b')"]


def test_a_task_importing_a_third_party_module_is_rejected_with_its_name():
    from curation.ci.tasks import third_party_imports

    source = """
import os
import rapidfuzz.fuzz
from tld import get_tld
try:
    import simplejson as json
except ImportError:
    import json
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    import numpy
if PY2:
    from StringIO import StringIO
else:
    from io import StringIO


def f():
    import yaml
"""
    assert third_party_imports(source) == ["rapidfuzz", "tld", "yaml"]  # guarded imports have a way out
    assert third_party_imports("import json, re\nfrom collections import deque\n") == []
