"""Call-style tests whose verdict the program under test cannot forge.

A task whose tests are calls with expected values (CI-traced functions, MBPP, call-based and
stdin/stdout competitive problems, asserts added by the adequacy stage) carries them as
`Problem.calls`: a list of `Call`. To judge a body, the trusted side sends the program only the
call *expressions*; the program evaluates each one and prints the encoded results
(codexsd/sandbox/values.py) as its last line; the comparison with the expected encodings happens
here, outside the sandbox. Whatever the program does to itself (walking frames, patching the
harness, forging a report, exiting early), all it can change is what it claims its calls
returned, and it never sees what they should return.

    from codexsd.sandbox.calls import run_calls, CallJob
    outcomes = run_calls(sandbox, [CallJob(source=prompt + body, entry_point="f", calls=calls)])

The HumanEval `test` text (`def check(candidate): ...`) is still written beside the calls so
that any HumanEval tool can run the task; codexsd's own verdicts use the calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from codexsd.core.record import COMPARE_MODES, ORIGINS, Call, parse_calls  # noqa: F401 - the record holds them
from codexsd.sandbox import values
from codexsd.sandbox.base import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Outcome, Program, Sandbox, Status

RESULTS_MARKER = "\x1ecodexsd-call-results:"


# ------------------------------------------------------------------ inside the sandbox

_VALUES_SOURCE: str | None = None


def values_source() -> str:
    """The source of codexsd/sandbox/values.py, which programs and the CI tracer exec."""
    global _VALUES_SOURCE
    if _VALUES_SOURCE is None:
        _VALUES_SOURCE = Path(values.__file__).read_text(encoding="utf-8")
    return _VALUES_SOURCE


_HARNESS = '''

def _codexsd_report_calls(_exprs, _entry_point, _values_source, _marker):
    import os as _os
    import sys as _sys
    _ns = {"__name__": "codexsd_values"}
    exec(_values_source, _ns)
    _encode, _dumps = _ns["encode"], _ns["_dumps"]
    _g = globals()
    _g["candidate"] = _g[_entry_point]
    _results = []
    for _expr in _exprs:
        try:
            _value = eval(_expr, _g)
        except BaseException as _exc:
            _results.append({"raised": type(_exc).__name__, "detail": str(_exc)[:200]})
            continue
        try:
            _results.append({"value": _encode(_value)})
        except Exception as _exc:
            _results.append({"unencodable": str(_exc)[:200]})
    try:
        _sys.stdout.flush()
    except BaseException:
        pass
    _line = ("\\n" + _marker + _dumps(_results) + "\\n").encode("utf-8", "replace")
    while _line:
        _line = _line[_os.write(1, _line):]


_codexsd_report_calls(%(exprs)r, %(entry_point)r, %(values_source)r, %(marker)r)
'''


def calls_program(source: str, entry_point: str, exprs: Sequence[str]) -> str:
    """`source` (prompt + body) followed by a harness that evaluates each expression and prints
    the encoded results: the program never holds an expected value."""
    return source.rstrip("\n") + "\n" + _HARNESS % {
        "exprs": list(exprs), "entry_point": entry_point, "values_source": values_source(), "marker": RESULTS_MARKER}


def parse_results(output: str, n: int) -> list[dict[str, Any]] | None:
    """The results the program printed last, if they are well-formed and there are `n` of them."""
    at = output.rfind(RESULTS_MARKER)
    if at < 0:
        return None
    line = output[at + len(RESULTS_MARKER):].split("\n", 1)[0]
    try:
        results = json.loads(line)
    except ValueError:
        return None
    if not isinstance(results, list) or len(results) != n or not all(isinstance(r, dict) for r in results):
        return None
    return results


# ------------------------------------------------------------------ the trusted side

def call_failure(call: Call, result: dict[str, Any]) -> str | None:
    """None when `result` satisfies `call`, else a one-line reason."""
    if call.raises:
        if result.get("raised") == call.raises:
            return None
        return f"{call.expr}: expected {call.raises} to be raised, got {_show(result)}"
    got = result.get("value")
    if got is not None and _well_formed(got):
        try:
            if values.equal(got, call.expected, call.compare):
                return None
        except (TypeError, ValueError, IndexError, KeyError):
            pass
    return f"{call.expr}: expected {_short(call.expected)}, got {_show(result)}"


def _well_formed(enc: Any) -> bool:
    return isinstance(enc, list) and bool(enc) and isinstance(enc[0], str)


def _show(result: dict[str, Any]) -> str:
    if "raised" in result:
        return f"{result['raised']}: {result.get('detail', '')}"[:300]
    if "unencodable" in result:
        return f"a value of a type tests cannot compare ({result['unencodable']})"[:300]
    return _short(result.get("value"))


def _short(enc: Any) -> str:
    try:
        text = values.to_source(enc)
    except Exception:
        text = json.dumps(enc)[:200]
    return text if len(text) <= 200 else text[:200] + "..."


def judge_calls(calls: Sequence[Call], outcome: Outcome) -> tuple[Outcome, list[str | None] | None]:
    """The verdict of one calls program from its raw outcome: (Outcome, per-call failure or None).

    Passed only when every call's reported result matches; the per-call list is None when the
    program reported no results (it failed before the calls, timed out or crashed)."""
    if outcome.status is Status.TIMEOUT:
        return outcome, None
    results = parse_results(outcome.output, len(calls))
    if results is None:
        if outcome.status is Status.PASSED:  # ran to its end without the harness's report
            return Outcome(Status.ERROR, "the program reported no call results", outcome.duration), None
        return Outcome(outcome.status, outcome.detail, outcome.duration), None
    failures = [call_failure(c, r) for c, r in zip(calls, results)]
    bad = [f for f in failures if f]
    if bad:
        detail = f"{len(bad)} of {len(calls)} calls wrong; first: {bad[0]}"
        return Outcome(Status.FAILED, detail, outcome.duration), failures
    return Outcome(Status.PASSED, "", outcome.duration), failures


@dataclass(frozen=True)
class CallJob:
    source: str  # prompt + body
    entry_point: str
    calls: tuple[Call, ...] | list[Call]
    timeout: float = DEFAULT_TIMEOUT_S
    memory_mb: int = int(DEFAULT_MEMORY_MB)
    id: str = ""


def run_calls(sandbox: Sandbox, jobs: Sequence[CallJob], progress=None) -> list[tuple[Outcome, list[str | None] | None]]:
    """Run each job's calls in the sandbox; the comparisons happen here. One result per job, in order."""
    programs = [Program(calls_program(j.source, j.entry_point, [c.expr for c in j.calls]), timeout=j.timeout,
                        memory_mb=j.memory_mb, id=j.id, stdout=True) for j in jobs]
    outcomes = sandbox.run(programs, progress=progress)
    return [judge_calls(j.calls, o) for j, o in zip(jobs, outcomes)]


def observe(sandbox: Sandbox, source: str, entry_point: str, exprs: Sequence[str], timeout: float = DEFAULT_TIMEOUT_S,
            memory_mb: int = int(DEFAULT_MEMORY_MB)) -> tuple[Outcome, list[dict[str, Any]] | None]:
    """What a trusted program's calls return (e.g. the reference on new inputs): the raw results."""
    prog = Program(calls_program(source, entry_point, exprs), timeout=timeout, memory_mb=memory_mb, stdout=True)
    outcome = sandbox.run([prog])[0]
    return outcome, parse_results(outcome.output, len(exprs))


def render_check(calls: Sequence[Call]) -> str:
    """HumanEval's `def check(candidate):` for these calls, using the strict `assert_equal` helper
    (exact calls), MBPP-style `same` (same calls) or a text comparison; exceptions via try/except."""
    from codexsd.sandbox.strict import strict_equal_source

    imports: set[str] = set()
    lines: list[str] = []
    for call in calls:
        if call.raises:
            lines += [
                "    try:",
                f"        {call.expr}",
                "    except Exception as exc:",
                f"        assert type(exc).__name__ == {call.raises!r}, exc",
                "    else:",
                f"        raise AssertionError('expected {call.raises} from ' + {call.expr!r})",
            ]
            continue
        expected = values.to_source(call.expected, imports)
        helper = {"exact": "assert_equal", "same": "assert_same", "text": "assert_same_text"}[call.compare]
        lines.append(f"    {helper}({call.expr}, {expected})")
    helpers = _indent(strict_equal_source().strip("\n")) + "\n" + _indent(_LOOSE_HELPERS.strip("\n"))
    head = ["def check(candidate):", *(f"    {imp}" for imp in sorted(imports)), helpers, ""]
    return "\n".join(head + lines) + "\n"


def _indent(text: str) -> str:
    return "\n".join(("    " + ln) if ln.strip() else ln for ln in text.splitlines())


_LOOSE_HELPERS = '''
def assert_same(actual, expected):
    """Like `==` for numbers (int and float by value), a tuple for an expected list; builtin types."""
    numbers = (int, float)
    if type(expected) in numbers and type(actual) in numbers:
        assert actual == expected or abs(actual - expected) <= 1e-9 * max(1.0, abs(expected)), (actual, expected)
        return
    if type(expected) is list and type(actual) is tuple:
        actual = list(actual)
    if type(expected) is dict and isinstance(actual, dict):
        actual = dict(actual)
    assert type(actual) is type(expected), (type(actual).__name__, type(expected).__name__)
    if type(expected) in (list, tuple):
        assert len(actual) == len(expected), (actual, expected)
        for a, e in zip(actual, expected):
            assert_same(a, e)
        return
    assert_equal(actual, expected)


def assert_same_text(actual, expected):
    def norm(s):
        lines = [ln.rstrip() for ln in s.replace("\\r\\n", "\\n").split("\\n")]
        while lines and not lines[-1]:
            lines.pop()
        return lines
    assert type(actual) is str and norm(actual) == norm(expected), (actual, expected)
'''


def judge_bodies(sandbox: Sandbox, items: Sequence[tuple[Any, str]], timeout: float = DEFAULT_TIMEOUT_S,
                 memory_mb: int = int(DEFAULT_MEMORY_MB), progress=None) -> list[tuple[Outcome, list[str | None] | None]]:
    """The one way every stage judges a body for a Problem: `items` are (problem, body) pairs.

    A problem with `calls` is judged by them, outside the sandbox (unforgeable); one without
    (HumanEval's own `check()` code) runs `prompt + body + test` and its own asserts decide.
    The second item of each result is the per-call failure list (None without calls or results)."""
    results: list[tuple[Outcome, list[str | None] | None] | None] = [None] * len(items)
    jobs, job_at, programs, prog_at = [], [], [], []
    for i, (problem, body) in enumerate(items):
        if problem.calls:
            jobs.append(CallJob(problem.prompt + body, problem.entry_point, parse_calls(problem.calls), timeout,
                                memory_mb, id=problem.task_id))
            job_at.append(i)
        else:
            programs.append(Program(problem.program(body), timeout=timeout, memory_mb=memory_mb, id=problem.task_id))
            prog_at.append(i)
    for i, res in zip(job_at, run_calls(sandbox, jobs, progress=progress) if jobs else []):
        results[i] = res
    for i, outcome in zip(prog_at, sandbox.run(programs, progress=progress) if programs else []):
        results[i] = (outcome, None)
    return results  # type: ignore[return-value]
