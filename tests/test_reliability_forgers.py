"""Forgers: completions that try to record a pass for a wrong body, through both backends.

Each forger returns `a - b` for `add(a, b)` and, before that, tries one way to reach the
worker's verdict channel (the nonce and the result pipe) or the comparison, and writes forged
pass reports (old and new formats, to every descriptor) then exits with status 0. A task with
call-style tests must never pass; a task with HumanEval `check()` code must not pass either,
except through the holes the README's reliability section lists (the always-equal object and
patched builtins, shown at the end).
"""

from __future__ import annotations

import textwrap

import pytest

from codexsd.core.record import Problem
from codexsd.sandbox import values
from codexsd.sandbox.base import Status
from codexsd.sandbox.calls import Call, calls_program, judge_bodies, render_check
from sandbox_testing import BACKENDS, make_sandbox

# Module-level helpers every forger shares: harvest nonce-like strings from what it reached,
# then write forged reports to every descriptor and exit 0 as a passing child would.
EMIT = '''

import os as _os, re as _re, json as _json, sys as _sys

_HEX = _re.compile(rb"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])")


def _harvest(value, found, depth=0):
    if depth > 3:
        return
    if isinstance(value, str) and _re.fullmatch(r"[0-9a-f]{16}", value):
        found.add(value)
    elif isinstance(value, (bytes, bytearray)):
        found.update(m.decode() for m in _HEX.findall(bytes(value)))
    elif isinstance(value, dict):
        for v in list(value.values()):
            _harvest(v, found, depth + 1)
    elif isinstance(value, (list, tuple, set)):
        for v in list(value):
            _harvest(v, found, depth + 1)
    elif type(value).__name__ == "generator":
        try:
            _harvest(value.gi_frame.f_locals, found, depth + 1)
        except Exception:
            pass


def _walk(frame, found):
    while frame is not None:
        _harvest(dict(frame.f_locals), found)
        frame = frame.f_back


def _emit(found, why):
    pid = _os.getpid()
    for nonce in list(found)[:5000]:
        lines = [_json.dumps({"pid": pid, "nonce": nonce, "status": "passed", "detail": ""}).encode() + b"\\n",
                 ("%d %s passed \\n" % (pid, nonce)).encode()]
        for fd in range(3, 64):
            for line in lines:
                try:
                    _os.write(fd, line)
                except OSError:
                    pass
    if found:
        _sys.stderr.write("forger (%s) wrote %d forged reports\\n" % (why, len(found)))
        _sys.stderr.flush()
        _os._exit(0)
'''

FORGERS = {
    "frame_walk_getframe": """
        found = set()
        try:
            _walk(_sys._getframe(), found)
        except Exception:
            pass
        _emit(found, "sys._getframe")
    """,
    "frame_walk_inspect": """
        import inspect
        found = set()
        try:
            for info in inspect.stack(0):
                _harvest(dict(info.frame.f_locals), found)
        except Exception:
            pass
        _emit(found, "inspect")
    """,
    "frame_walk_traceback": """
        found = set()
        try:
            raise RuntimeError
        except RuntimeError as exc:
            try:
                _walk(exc.__traceback__.tb_frame, found)
            except Exception:
                pass
        _emit(found, "traceback")
    """,
    "frame_walk_generator": """
        found = set()
        def gen():
            yield
        g = gen()
        try:
            next(g)
            _walk(g.gi_frame.f_back, found)
        except Exception:
            pass
        _emit(found, "gi_frame")
    """,
    "frame_walk_signal_handler": """
        import signal
        found = set()
        frames = []
        try:
            signal.signal(signal.SIGUSR1, lambda s, f: frames.append(f))
            _os.kill(_os.getpid(), signal.SIGUSR1)
            _walk(frames[0], found)
        except Exception:
            pass
        _emit(found, "signal handler frame")
    """,
    "frame_walk_signal_module_reloaded": """
        import importlib, signal, _signal, _imp
        found = set()
        frames = []
        for make in (lambda: importlib.reload(_signal),
                     lambda: _imp.create_builtin(importlib.machinery.ModuleSpec("_signal", None)),
                     lambda: signal.signal.__wrapped__):
            try:
                fresh = make()
                setter = fresh if callable(fresh) else fresh.signal
                setter(signal.SIGUSR2, lambda s, f: frames.append(f))
                _os.kill(_os.getpid(), signal.SIGUSR2)
                _walk(frames[-1], found)
            except Exception:
                pass
        _emit(found, "reloaded _signal")
    """,
    "frame_walk_settrace": """
        found = set()
        frames = []
        try:
            _sys.settrace(lambda f, e, a: frames.append(f))
            (lambda: 0)()
            _sys.settrace(None)
            _walk(frames[0], found)
        except Exception:
            pass
        try:
            _sys.setprofile(lambda f, e, a: frames.append(f))
            (lambda: 0)()
            _sys.setprofile(None)
            _walk(frames[-1], found)
        except Exception:
            pass
        _emit(found, "settrace/setprofile")
    """,
    "frame_walk_current_frames": """
        found = set()
        try:
            for frame in _sys._current_frames().values():
                _walk(frame, found)
        except Exception:
            pass
        _emit(found, "sys._current_frames")
    """,
    "gc_get_objects": """
        import gc
        found = set()
        try:
            for obj in gc.get_objects():
                if isinstance(obj, dict) or type(obj).__name__ in ("frame", "generator"):
                    _harvest(obj, found)
        except Exception:
            pass
        try:
            _harvest(gc.get_referrers(_sys.modules[__name__]), found)
        except Exception:
            pass
        _emit(found, "gc")
    """,
    "ctypes_frame": """
        found = set()
        try:
            import ctypes
            get = ctypes.pythonapi.PyEval_GetFrame
            get.restype = ctypes.py_object
            _walk(get(), found)
        except Exception:
            pass
        _emit(found, "ctypes")
    """,
    "proc_self_mem": """
        found = set()
        try:
            maps = open("/proc/self/maps").read().splitlines()
            with open("/proc/self/mem", "rb", buffering=0) as mem:
                for line in maps:
                    where, perms = line.split()[:2]
                    if not perms.startswith("r") or len(line.split()) > 5 and "[heap]" not in line:
                        continue
                    lo, hi = (int(x, 16) for x in where.split("-"))
                    if hi - lo > 256 << 20:
                        continue
                    try:
                        mem.seek(lo)
                        found.update(m.decode() for m in _HEX.findall(mem.read(hi - lo)))
                    except OSError:
                        pass
        except Exception:
            pass
        _emit(found, "/proc/self/mem")
    """,
    "inherited_descriptors_guessing": """
        found = {"%016x" % i for i in range(2000)} | {"0" * 16}
        _emit(found, "guessed nonces on every descriptor")
    """,
    "patches_the_harness_module": """
        main = _sys.modules["__main__"]
        for name in ("_describe", "_reporter", "_verdict", "_tail"):
            try:
                setattr(main, name, lambda *a, **k: "")
            except Exception:
                pass
        try:
            main.SystemExit = main.MemoryError = main.BaseException = AssertionError
        except Exception:
            pass
        import builtins
        for name in ("SystemExit", "MemoryError", "BaseException", "exec", "type", "str"):
            setattr(builtins, name, AssertionError)
    """,
    "nested_harness_call": """
        import marshal
        main = _sys.modules["__main__"]
        try:
            code = compile("pass", "<program>", "exec")
            main._child(code, 3, 2, None, ".", {"timeout": 5, "memory_mb": 0}, {"devnull": 0, "file_mb": 16, "nofile": 256}, ["0" * 16])
        except BaseException:
            pass
    """,
    "exit_zero_after_forged_write": """
        for fd in range(3, 64):
            try:
                _os.write(fd, b'{"status": "passed", "detail": ""}\\n')
            except OSError:
                pass
        _os._exit(0)
    """,
    "patches_comparison_helpers": """
        import builtins
        builtins.isinstance = lambda *a: True
        builtins.len = lambda x: 0
        builtins.abs = lambda x: 0
        builtins.repr = lambda x: ""
        builtins.sorted = lambda x, **k: []
        builtins.eval = lambda *a, **k: 5
    """,
    "prints_forged_call_results": """
        marker = "\\x1ecodexsd-call-results:"
        print(marker + _json.dumps([{"value": ["int", str(i)]} for i in range(2)]))
        print(marker + '[{"raised": "AssertionError"}, {"raised": "AssertionError"}]', flush=True)
        _os._exit(0)
    """,
}


def _body(payload: str) -> str:
    """A body for `def add(a, b):` that runs `payload` (at module level, as a helper) then answers wrongly."""
    return "    _forge()\n    return a - b\n" + EMIT + "\n\ndef _forge():\n" + textwrap.indent(textwrap.dedent(payload), "    ")


CALLS = [Call("candidate(2, 3)", values.encode(5)), Call("candidate(1, 1)", values.encode(2))]
CALLS_TASK = Problem("t/calls", "def add(a, b):\n", "    return a + b\n", render_check(CALLS), "add",
                     calls=[c.to_dict() for c in CALLS])
CHECK_TASK = Problem("t/check", "def add(a, b):\n", "    return a + b\n",
                     "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(1, 1) == 2\n", "add")


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request):
    sb = make_sandbox(request.param, workers=2)
    yield sb
    sb.close()


def test_there_are_forgers_for_every_route_the_issue_names():
    assert len(FORGERS) >= 15


def test_the_reference_and_a_plain_wrong_body(sandbox):
    for task in (CALLS_TASK, CHECK_TASK):
        (good, _), (bad, _) = judge_bodies(sandbox, [(task, task.canonical_solution), (task, "    return a - b\n")])
        assert good.status is Status.PASSED, good.detail
        assert bad.status is Status.FAILED, bad.detail


@pytest.mark.parametrize("name", sorted(FORGERS))
def test_forgers_never_pass(sandbox, name):
    body = _body(FORGERS[name])
    (calls_outcome, _), (check_outcome, _) = judge_bodies(sandbox, [(CALLS_TASK, body), (CHECK_TASK, body)], timeout=20)
    assert calls_outcome.status is not Status.PASSED, (name, calls_outcome.detail[-800:])
    assert check_outcome.status is not Status.PASSED, (name, check_outcome.detail[-800:])


def test_the_program_never_holds_the_expected_values():
    source = calls_program(CALLS_TASK.prompt + "    return a - b\n", "add", [c.expr for c in CALLS])
    assert "candidate(2, 3)" in source and "== 5" not in source and "['int', '5']" not in source


ALWAYS_EQUAL = """    class Same:
        def __eq__(self, other):
            return True
    return Same()
"""
PATCHED_BUILTIN = """    return a - b


import builtins
builtins.abs = lambda x: 0
"""


def test_what_check_code_cannot_stop(sandbox):
    """The README's residual holes for HumanEval `check()` code, and that call-style tests close them."""
    tolerant = Problem("t/tolerant", "def add(a, b):\n", "    return a + b\n",
                       "def check(candidate):\n    assert abs(candidate(2, 3) - 5) < 1e-9\n", "add")
    got = judge_bodies(sandbox, [(CHECK_TASK, ALWAYS_EQUAL), (tolerant, PATCHED_BUILTIN),
                                 (CALLS_TASK, ALWAYS_EQUAL), (CALLS_TASK, PATCHED_BUILTIN)])
    assert [o.status for o, _ in got] == [Status.PASSED, Status.PASSED, Status.FAILED, Status.FAILED]
