"""Trivial stand-ins for a task's reference, and the values its tests expect.

A stand-in is a body (appended after the reference, so the reference's helpers stay defined)
that rebinds the entry point to something that checks nothing:

    frozen        the reference, frozen at its first answer (every call returns it)
    none          `return None`
    first_arg     returns its first argument
    common_value  returns the value the tests expect most often

A task whose tests any of them passes cannot tell a right body from a wrong one.

Expected values: a task with `calls` names them (Call.expected, or the exception it raises);
for a task with only a `check()` program (HumanEval's own tests) an observing program runs
the check with the entry point wrapped and reports what the reference returned to it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from codexsd.core.record import Problem
from codexsd.sandbox import values
from codexsd.sandbox.calls import parse_calls, values_source

STANDINS = ("frozen", "none", "first_arg", "common_value")
OBSERVED_MARKER = "\x1ecodexsd-observed-returns:"


def value_key(enc: Any) -> str:
    return values._dumps(enc)


def call_expectations(problem: Problem) -> list[Any]:
    """What each call expects: its value encoding, or ["raises", name]."""
    return [c.expected if not c.raises else ["raises", c.raises] for c in parse_calls(problem.calls)]


def distinct(expectations: list[Any]) -> list[Any]:
    """Distinct expectations, most common first (ties in first-seen order)."""
    counts = Counter(value_key(e) for e in expectations)
    first: dict[str, Any] = {}
    for e in expectations:
        first.setdefault(value_key(e), e)
    order = {k: i for i, k in enumerate(first)}
    return [first[k] for k in sorted(first, key=lambda k: (-counts[k], order[k]))]


def value_source(enc: Any, imports: set[str]) -> str | None:
    """A Python expression for an expectation (None for exceptions and unencodable values)."""
    if not isinstance(enc, list) or not enc or enc[0] in ("raises", "unencodable"):
        return None
    try:
        return values.to_source(enc, imports)
    except (ValueError, TypeError, IndexError, KeyError):
        return None


def _rebind(entry_point: str, body: str, imports: set[str] = frozenset()) -> str:
    lines = sorted(imports) + [f"def {entry_point}(*args, **kwargs):"] + ["    " + ln for ln in body.splitlines()]
    return "\n".join(lines) + "\n"


def standin_bodies(problem: Problem, common: Any | None) -> dict[str, str]:
    """Stand-in name -> body (the reference, then the entry point rebound). `common` is the most
    common expectation, or None when there is none to return."""
    ep = problem.entry_point
    ref = problem.canonical_solution.rstrip("\n") + "\n\n\n"
    frozen = (f"_codexsd_reference = {ep}\n_codexsd_first = []\n\n\n"
              + _rebind(ep, "if not _codexsd_first:\n    _codexsd_first.append(_codexsd_reference(*args, **kwargs))\n"
                            "return _codexsd_first[0]"))
    out = {
        "frozen": ref + frozen,
        "none": ref + _rebind(ep, "return None"),
        "first_arg": ref + _rebind(ep, "return args[0] if args else next(iter(kwargs.values()), None)"),
    }
    imports: set[str] = set()
    src = value_source(common, imports) if common is not None else None
    if src is not None:
        out["common_value"] = ref + _rebind(ep, f"return {src}", imports)
    return out


_OBSERVE = '''

def _codexsd_observe(_entry_point, _values_source, _marker):
    import os as _os
    _ns = {"__name__": "codexsd_values"}
    exec(_values_source, _ns)
    _seen = []
    _f = globals()[_entry_point]

    def _wrapped(*args, **kwargs):
        _r = _f(*args, **kwargs)
        try:
            _seen.append(_ns["encode"](_r))
        except Exception:
            _seen.append(["unencodable", type(_r).__qualname__])
        return _r

    try:
        check(_wrapped)
    except BaseException as _exc:
        _seen.append(["raises", type(_exc).__name__])
    _line = ("\\n" + _marker + _ns["_dumps"](_seen[:1000]) + "\\n").encode("utf-8", "replace")
    while _line:
        _line = _line[_os.write(1, _line):]


_codexsd_observe(%(entry_point)r, %(values_source)r, %(marker)r)
'''


def observe_check_program(problem: Problem) -> str:
    """prompt + reference + test, then check() run on the wrapped entry point; prints the returns."""
    head = f"{problem.prompt}{problem.canonical_solution}\n\n{problem.test}\n"
    return head + _OBSERVE % {"entry_point": problem.entry_point, "values_source": values_source(),
                              "marker": OBSERVED_MARKER}


def parse_observed(output: str) -> list[Any] | None:
    at = output.rfind(OBSERVED_MARKER)
    if at < 0:
        return None
    try:
        seen = json.loads(output[at + len(OBSERVED_MARKER):].split("\n", 1)[0])
    except ValueError:
        return None
    return seen if isinstance(seen, list) else None
