"""The code that runs inside a traced test process: record calls, or replay them.

Standard library only, and run by path with the project's own interpreter
(`python child.py trace SPEC -- -m pytest tests/test_x.py`), never inside codexsd's
process. `trace` installs a tracer (sys.setprofile, or sys.monitoring on 3.12+) that
records calls into the chosen source files whose arguments and result are plain data
(numbers, strings, bytes, None and lists/tuples/dicts/sets of them) that round-trip
through repr/ast.literal_eval, keeping at most `max_calls` distinct calls per function
and dropping calls that mutate their arguments or raise. `replay` calls every kept
call again in a fresh process, twice, and drops the ones that differ, raise or hang.
Both write JSON that the parent reads; what they record is a dict per function:
{module, qualname, filename, firstlineno, params, calls: [[args_repr, result_repr]], drops}.
"""

from __future__ import annotations

import ast
import atexit
import dis
import json
import os
import runpy
import signal
import sys
import threading

_SCALARS = frozenset({int, float, complex, str, bytes, bool, type(None)})
_CONTAINERS = frozenset({list, tuple, dict, set})
_RETURN_OPS = frozenset(dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in dis.opmap)
_CODE_FLAGS_SKIPPED = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async generator
_MAX_ITEMS = 200
_UNSEEN = object()
_MAX_DEPTH = 12


def plain_size(value, depth: int = 0) -> int:
    """How many plain items `value` holds, or -1 when it is not plain data."""
    kind = type(value)
    if kind in _SCALARS:
        return 1
    if kind not in _CONTAINERS or depth > _MAX_DEPTH:
        return -1
    total = 1
    items = value.items() if kind is dict else value
    for item in items:
        if kind is dict:
            n = plain_size(item[0], depth + 1)
            m = plain_size(item[1], depth + 1) if n >= 0 else -1
            n = -1 if m < 0 else n + m
        else:
            n = plain_size(item, depth + 1)
        if n < 0:
            return -1
        total += n
        if total > _MAX_ITEMS:
            return -1
    return total


def same(a, b) -> bool:
    """Exact equality of plain data: same types all the way down, same values."""
    if type(a) is not type(b):
        return False
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return len(a) == len(b) and same(sorted(a.items(), key=repr), sorted(b.items(), key=repr))
    if type(a) is set:
        return len(a) == len(b) and same(sorted(a, key=repr), sorted(b, key=repr))
    if type(a) in (float, complex):
        return repr(a) == repr(b)
    return a == b


def literal(value, limit: int):
    """`repr(value)` when it round-trips through ast.literal_eval to the same value, else None."""
    text = repr(value)
    if len(text) > limit:
        return None
    try:
        back = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    return text if same(back, value) else None


def param_spec(code) -> list[list[str]]:
    """[[name, kind]] for each parameter; kind is pos, kwonly, varargs or varkw."""
    names = code.co_varnames
    n_pos, n_kw = code.co_argcount, code.co_kwonlyargcount
    spec = [[n, "pos"] for n in names[:n_pos]] + [[n, "kwonly"] for n in names[n_pos : n_pos + n_kw]]
    i = n_pos + n_kw
    if code.co_flags & 0x04:
        spec.append([names[i], "varargs"])
        i += 1
    if code.co_flags & 0x08:
        spec.append([names[i], "varkw"])
    return spec


class _Function:
    __slots__ = ("module", "qualname", "filename", "firstlineno", "params", "names", "calls", "drops", "full", "misses")

    def __init__(self, module, code):
        self.module = module
        self.qualname = getattr(code, "co_qualname", code.co_name)
        self.filename = code.co_filename
        self.firstlineno = code.co_firstlineno
        self.params = param_spec(code)
        self.names = [p[0] for p in self.params]
        self.calls: dict[str, str] = {}
        self.drops: dict[str, int] = {}
        self.full = False
        self.misses = 0  # calls seen since the last one kept

    def drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def to_dict(self) -> dict:
        return {
            "module": self.module, "qualname": self.qualname, "filename": self.filename,
            "firstlineno": self.firstlineno, "params": self.params,
            "calls": [[a, r] for a, r in list(self.calls.items())], "drops": dict(self.drops),
        }


class Tracer:
    """Records plain-data calls into functions whose file `wanted(filename)` accepts."""

    def __init__(self, wanted, max_calls: int = 20, max_chars: int = 400, skip_files=(), max_misses: int = 500):
        self.wanted = wanted
        self.max_misses = max_misses
        self.max_calls = max_calls
        self.max_chars = max_chars
        self.skip_files = set(skip_files)
        self.functions: dict[object, _Function | None] = {}
        self.pending: dict[int, tuple] = {}

    # -- classification ---------------------------------------------------------------
    def classify(self, code, frame):
        name = code.co_name
        qualname = getattr(code, "co_qualname", name)
        if (
            name.startswith("<")
            or "<locals>" in qualname
            or code.co_flags & _CODE_FLAGS_SKIPPED
            or code.co_filename in self.skip_files
            or not code.co_filename.endswith(".py")
            or not (code.co_argcount or code.co_kwonlyargcount or code.co_flags & 0x0C)
            or (code.co_argcount and code.co_varnames[0] in ("self", "cls", "mcs", "metacls"))
            or not self.wanted(code.co_filename)
        ):
            return None
        module = frame.f_globals.get("__name__")
        if not isinstance(module, str) or module == "__main__":
            return None
        return _Function(module, code)

    # -- events -----------------------------------------------------------------------
    def on_call(self, frame) -> bool:
        """Start recording `frame`; False when its code is never interesting again."""
        code = frame.f_code
        fn = self.functions.get(code, _UNSEEN)
        if fn is _UNSEEN:
            fn = self.functions[code] = self.classify(code, frame)
        if fn is None or fn.full:
            return False
        local = frame.f_locals
        try:
            values = [local[n] for n in fn.names]
        except KeyError:
            return self._miss(fn, "args_unreadable")
        if plain_size(values) < 0:
            return self._miss(fn, "args_not_plain")
        key = repr(values)
        if len(key) > self.max_chars:
            return self._miss(fn, "args_too_long")
        if key in fn.calls:
            return self._miss(fn, "duplicate")
        self.pending[id(frame)] = (frame, fn, values, key)
        return True

    def _miss(self, fn: _Function, reason: str) -> bool:
        fn.drop(reason)
        fn.misses += 1
        if fn.misses >= self.max_misses:  # this function keeps giving nothing new: stop paying for it
            fn.full = True
            fn.drop("gave_up")
        return True

    def on_return(self, frame, value, raised: bool) -> None:
        entry = self.pending.pop(id(frame), None)
        if entry is None or entry[0] is not frame:
            return
        _, fn, values, key = entry
        if raised:
            self._miss(fn, "raised")
        elif repr(values) != key:
            self._miss(fn, "mutates_args")
        elif plain_size(value) < 0:
            self._miss(fn, "result_not_plain")
        elif key not in fn.calls:
            result = literal(value, self.max_chars)
            if result is None:
                self._miss(fn, "result_not_literal")
            elif literal(values, self.max_chars) != key:
                self._miss(fn, "args_not_literal")
            else:
                fn.calls[key] = result
                fn.misses = 0
                if len(fn.calls) >= self.max_calls:
                    fn.full = True

    # -- installation -------------------------------------------------------------------
    def start(self) -> None:
        if hasattr(sys, "monitoring"):
            self._start_monitoring()
        else:
            sys.setprofile(self._profile)

    def stop(self) -> None:
        if hasattr(sys, "monitoring"):
            mon = sys.monitoring
            if mon.get_tool(self._tool) is not None:
                mon.set_events(self._tool, 0)
                mon.free_tool_id(self._tool)
        else:
            sys.setprofile(None)

    def _profile(self, frame, event, arg):
        if event == "call":
            self.on_call(frame)
        elif event == "return" and self.pending:
            raised = arg is None and frame.f_code.co_code[frame.f_lasti] not in _RETURN_OPS
            self.on_return(frame, arg, raised)

    def _start_monitoring(self) -> None:
        mon = sys.monitoring
        for tool in (mon.PROFILER_ID, 3, 4, 5):
            if mon.get_tool(tool) is None:
                break
        else:
            raise RuntimeError("no free sys.monitoring tool id")
        self._tool = tool
        mon.use_tool_id(tool, "codexsd-ci-tracer")
        disable = mon.DISABLE
        getframe = sys._getframe

        def start(code, offset):
            if not self.on_call(getframe(1)):
                return disable

        def ret(code, offset, value):
            if not self.pending:
                return None
            self.on_return(getframe(1), value, False)

        def unwind(code, offset, exc):
            if self.pending:
                self.on_return(getframe(1), None, True)

        mon.register_callback(tool, mon.events.PY_START, start)
        mon.register_callback(tool, mon.events.PY_RETURN, ret)
        mon.register_callback(tool, mon.events.PY_UNWIND, unwind)
        mon.set_events(tool, mon.events.PY_START | mon.events.PY_RETURN | mon.events.PY_UNWIND)

    def records(self) -> list[dict]:
        for _ in range(5):  # the traced thread may still be adding entries
            try:
                items = list(self.functions.values())
                return [f.to_dict() for f in items if f is not None and (f.calls or f.drops)]
            except RuntimeError:
                continue
        return []


def _write_json(path: str, data) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def _path_filter(roots, files, exclude):
    roots = tuple(os.path.join(os.path.realpath(r), "") for r in roots)
    exclude = tuple(os.path.join(os.path.realpath(e), "") for e in exclude)
    files = {os.path.realpath(f) for f in files}
    cache: dict[str, bool] = {}

    def wanted(filename: str) -> bool:
        ok = cache.get(filename)
        if ok is None:
            real = os.path.realpath(filename)
            ok = cache[filename] = (real in files or real.startswith(roots)) and not real.startswith(exclude)
        return ok

    return wanted


def trace_main(spec: dict, target: list[str]) -> None:
    """Run `target` (`-m module args...` or `script args...`) under the tracer."""
    tracer = Tracer(
        _path_filter(spec.get("roots", ()), spec.get("files", ()), spec.get("exclude", ())),
        max_calls=int(spec.get("max_calls", 20)),
        max_chars=int(spec.get("max_chars", 400)),
        skip_files={os.path.realpath(__file__), __file__},
    )
    done = threading.Event()

    def finish(status: str) -> None:
        if done.is_set():
            return
        done.set()
        _write_json(spec["out"], {"status": status, "functions": tracer.records()})

    def on_budget() -> None:
        finish("timeout")
        os._exit(124)

    def on_term(signum, frame) -> None:
        tracer.stop()
        finish("terminated")
        os._exit(143)

    atexit.register(lambda: (tracer.stop(), finish("finished")))
    signal.signal(signal.SIGTERM, on_term)
    budget = float(spec.get("budget_s", 0) or 0)
    if budget > 0:
        timer = threading.Timer(budget, on_budget)
        timer.daemon = True
        timer.start()
    if target[0] == "-m":
        sys.argv = [target[1]] + target[2:]
        sys.path[0] = os.getcwd()
        tracer.start()
        runpy.run_module(target[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(target)
        sys.path[0] = os.path.dirname(os.path.abspath(target[0]))
        tracer.start()
        runpy.run_path(target[0], run_name="__main__")


# -- replay ---------------------------------------------------------------------------------
class _Timeout(BaseException):
    pass


def _resolve(record: dict):
    import importlib
    import inspect

    obj = importlib.import_module(record["module"])
    for part in record["qualname"].split("."):
        obj = inspect.getattr_static(obj, part)
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    code = getattr(inspect.unwrap(obj), "__code__", None)
    if code is None or code.co_firstlineno != record["firstlineno"]:
        raise LookupError(f"{record['qualname']} in {record['module']} is not the traced function")
    return obj


def call_args(params, values):
    """(args, kwargs) that pass `values` (one per parameter of `params`) to a function."""
    args, kwargs = [], {}
    for (name, kind), value in zip(params, values):
        if kind == "pos":
            args.append(value)
        elif kind == "varargs":
            args.extend(value)
        elif kind == "kwonly":
            kwargs[name] = value
        else:
            kwargs.update(value)
    return args, kwargs


def replay_one(fn, params, args_repr: str, result_repr: str, timeout: float) -> str | None:
    """None when two fresh calls reproduce the result without mutating; else a drop reason."""
    expected = ast.literal_eval(result_repr)
    for _ in range(2):
        values = ast.literal_eval(args_repr)
        args, kwargs = call_args(params, values)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            got = fn(*args, **kwargs)
        except _Timeout:
            return "replay_timeout"
        except BaseException:  # noqa: BLE001 - anything the function raises drops the call
            return "replay_raised"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if not same(got, expected):
            return "replay_differs"
        if repr(values) != args_repr:
            return "mutates_args"
    return None


def replay_main(spec: dict) -> None:
    """Replay each recorded function's calls; append one JSON line per function to spec['out']."""
    sys.path.insert(0, os.getcwd())

    def alarm(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGALRM, alarm)
    timeout = float(spec.get("call_timeout", 2.0))
    devnull = open(os.devnull, "w")
    with open(spec["out"], "a", encoding="utf-8") as out:
        for record in spec["functions"]:
            drops = dict(record.get("drops", {}))
            kept = []
            stdout, stderr = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = devnull
            try:
                fn = _resolve(record)
            except BaseException:  # noqa: BLE001
                fn = None
            try:
                for args_repr, result_repr in record["calls"]:
                    reason = "not_importable" if fn is None else replay_one(fn, record["params"], args_repr, result_repr, timeout)
                    if reason is None:
                        kept.append([args_repr, result_repr])
                    else:
                        drops[reason] = drops.get(reason, 0) + 1
            finally:
                sys.stdout, sys.stderr = stdout, stderr
            out.write(json.dumps({**record, "calls": kept, "drops": drops}) + "\n")
            out.flush()


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] not in ("trace", "replay"):
        raise SystemExit("usage: child.py trace SPEC.json -- TARGET... | child.py replay SPEC.json")
    with open(argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    if argv[0] == "trace":
        target = argv[3:] if len(argv) > 2 and argv[2] == "--" else argv[2:]
        if not target:
            raise SystemExit("child.py trace: nothing to run")
        trace_main(spec, target)
    else:
        replay_main(spec)


if __name__ == "__main__":
    main(sys.argv[1:])
