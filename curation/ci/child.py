"""The code that runs inside a traced test process: record calls, or replay them.

Standard library only, and run by path with the project's own interpreter
(`python child.py trace SPEC -- -m pytest tests/test_x.py`), never inside codexsd's
process. Values are encoded with codexsd/sandbox/values.py, exec'd here from the path the
spec names (exact types all the way down: numbers, strings, bytes, containers, dates,
Decimals, Fractions, ranges, enum members, named tuples...).

`trace` installs a tracer (sys.setprofile, or sys.monitoring on 3.12+) that records calls
into the chosen source files: per call the encoded arguments and what happened, one of
{"value": enc} (returned; with "after": the encoded arguments after the call when it
mutated them), {"raised": true} (the exception type is read at replay) or {"iter": true}
(a generator, or a returned iterator: replay records the list it yields). At most
`max_calls` distinct calls per function are kept.

`replay` evaluates planned call expressions (`candidate(...)`, see curation/ci/exprs.py)
twice in a fresh process and keeps the ones that give the same result both times and the
result recorded by the trace; it writes Call dicts {expr, expected, raises}.
Both write JSON that the parent reads; a record is a dict per function:
{module, qualname, filename, firstlineno, params, calls, drops}.
"""

from __future__ import annotations

import atexit
import dis
import itertools
import json
import os
import runpy
import signal
import sys
import threading
import types

_CODE_FLAGS_SKIPPED = 0x80 | 0x100 | 0x200  # coroutine, iterable coroutine, async generator
_GENERATOR = 0x20
_RETURN_OPS = frozenset(dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in dis.opmap)
_YIELD_OPS = frozenset(dis.opmap[n] for n in ("YIELD_VALUE",) if n in dis.opmap)
_UNSEEN = object()
MAX_ITER_ITEMS = 100  # a generator yielding more than this is not a test value
_TEST_MODULE_PARTS = frozenset({"test", "tests", "testing", "conftest"})

_VALUES: dict = {}


def load_values(path: str | None = None) -> dict:
    """The namespace of codexsd/sandbox/values.py (encode, _dumps, Unencodable), exec'd from `path`."""
    if not _VALUES:
        path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "codexsd", "sandbox",
                                    "values.py")
        ns = {"__name__": "codexsd_values"}
        with open(path, encoding="utf-8") as fh:
            exec(compile(fh.read(), path, "exec"), ns)
        _VALUES.update(ns)
    return _VALUES


def is_test_module(module: str) -> bool:
    """Test code, whatever package it sits in: tests.*, *.tests.*, test_*, *_test, conftest."""
    return any(p in _TEST_MODULE_PARTS or p.startswith("test_") or p.endswith("_test") for p in module.split("."))


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
    __slots__ = ("module", "qualname", "filename", "firstlineno", "params", "names", "calls", "drops", "full",
                 "misses", "generator")

    def __init__(self, module, code):
        self.module = module
        self.qualname = getattr(code, "co_qualname", code.co_name)
        self.filename = code.co_filename
        self.firstlineno = code.co_firstlineno
        self.params = param_spec(code)
        self.names = [p[0] for p in self.params]
        self.calls: dict[str, dict] = {}
        self.drops: dict[str, int] = {}
        self.full = False
        self.misses = 0  # calls seen since the last one kept
        self.generator = bool(code.co_flags & _GENERATOR)

    def drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def to_dict(self) -> dict:
        return {
            "module": self.module, "qualname": self.qualname, "filename": self.filename,
            "firstlineno": self.firstlineno, "params": self.params,
            "calls": [[a, r] for a, r in list(self.calls.items())], "drops": dict(self.drops),
        }


_BUILTIN_CALLABLES = (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
                      types.ClassMethodDescriptorType, type)
_LAMBDA_SOURCES: dict = {}  # code object -> lambda source, or None
_MODULE_TREES: dict = {}  # file name -> its ast, or None


def code_encoding(value):
    """A function passed as an argument, written as source (["code", source, imports]), or None.

    Builtins (`len`, `str.upper`, `int`), standard-library functions and classes at module level
    (`operator.add`, `math.floor`), and lambdas that read nothing but their parameters and builtins
    (`lambda x: x * 2`, taken from the test file's syntax tree). Anything else (closures, functions
    of the project or of the tests, bound methods, partials) stays unencodable."""
    kind = type(value)
    if kind is types.FunctionType and value.__name__ == "<lambda>":
        return _lambda_encoding(value)
    if kind is not types.FunctionType and kind not in _BUILTIN_CALLABLES and not issubclass(kind, type):
        return None
    import builtins

    qualname = getattr(value, "__qualname__", None)
    if type(qualname) is not str or "<" in qualname:
        return None
    module = getattr(value, "__module__", None)
    owner = getattr(value, "__objclass__", None)
    if module is None and owner is not None:  # method descriptors name no module: their class does
        module = getattr(owner, "__module__", None)
    if module == "builtins":
        return ["code", qualname, []] if _resolves(builtins, qualname, value) else None
    if type(module) is not str or module.split(".")[0] not in getattr(sys, "stdlib_module_names", ()):
        return None
    for name in (module.lstrip("_"), module):  # _operator.add is operator.add
        imported = sys.modules.get(name)
        if imported is not None and _resolves(imported, qualname, value):
            return ["code", "%s.%s" % (name, qualname), ["import %s" % name]]
    return None


def _resolves(root, qualname, value) -> bool:
    obj = root
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is value


def _lambda_encoding(fn):
    code = fn.__code__
    if code.co_freevars or fn.__defaults__ or fn.__kwdefaults__:
        return None
    if code not in _LAMBDA_SOURCES:
        _LAMBDA_SOURCES[code] = _lambda_source(code, fn.__globals__)
    source = _LAMBDA_SOURCES[code]
    return None if source is None else ["code", source, []]


def _lambda_source(code, namespace):
    """The lambda's source, re-written from the file's syntax tree; None when it is not found
    exactly or reads a name other than its own parameters and builtins."""
    import ast
    import builtins
    import linecache

    filename = code.co_filename
    if filename not in _MODULE_TREES:
        try:
            _MODULE_TREES[filename] = ast.parse("".join(linecache.getlines(filename)))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            _MODULE_TREES[filename] = None
    tree = _MODULE_TREES[filename]
    if tree is None:
        return None
    spots = {p for p in code.co_positions() if None not in p and p[2:] != (0, 0)}  # (0, 0): no column
    candidates = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda) and node.lineno == code.co_firstlineno:
            body = node.body
            start, end = (body.lineno, body.col_offset), (body.end_lineno, body.end_col_offset)
            if spots and all(start <= (p[0], p[2]) and (p[1], p[3]) <= end for p in spots):
                candidates.append(((end[0] - start[0], end[1] - start[1]), ast.unparse(node), node))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0])  # the innermost lambda holding every instruction of the code
    if len(candidates) > 1 and candidates[0][0] == candidates[1][0] and candidates[0][1] != candidates[1][1]:
        return None  # two lambdas alike in span on one line: cannot tell which
    node = candidates[0][2]
    bound = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            bound.add(sub.id)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in bound:
            if sub.id in namespace or not hasattr(builtins, sub.id):
                return None
    if any(isinstance(sub, (ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr)) for sub in ast.walk(node)):
        return None
    return candidates[0][1]


def _is_iterator(value) -> bool:
    kind = type(value)
    return hasattr(kind, "__next__") and hasattr(kind, "__iter__")


class Tracer:
    """Records calls with encodable arguments into functions whose file `wanted(filename)` accepts
    (and, when `packages` is given, whose module belongs to one of those top-level packages)."""

    def __init__(self, wanted, max_calls: int = 20, max_chars: int = 400, skip_files=(), max_misses: int = 500,
                 packages=(), values=None):
        self.wanted = wanted
        self.max_misses = max_misses
        self.max_calls = max_calls
        self.max_chars = max_chars
        self.skip_files = set(skip_files)
        self.packages = frozenset(packages)
        values = values or load_values()
        self.encode, self.dumps = values["encode"], values["_dumps"]
        encode = self.encode
        self.encode_args = lambda args: encode(args, 0, code_encoding)  # functions only as arguments
        self.functions: dict[object, _Function | None] = {}
        self.pending: dict[int, tuple] = {}
        self.generators: set[int] = set()  # generator frames started and not finished (setprofile sees each resume)
        self.resumes_look_like_calls = not hasattr(sys, "monitoring")  # sys.monitoring's PY_START: first start only

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
        if self.packages and (module.split(".")[0] not in self.packages or is_test_module(module)):
            return None
        return _Function(module, code)

    def _key(self, values):
        """The encoded argument list as canonical JSON, or None (the encoding failed)."""
        try:
            return self.dumps(self.encode_args(values))
        except Exception:  # noqa: BLE001 - Unencodable, or a value whose repr/iteration breaks
            return None

    # -- events -----------------------------------------------------------------------
    def on_call(self, frame) -> bool:
        """Start recording `frame`; False when its code is never interesting again."""
        code = frame.f_code
        fn = self.functions.get(code, _UNSEEN)
        if fn is _UNSEEN:
            fn = self.functions[code] = self.classify(code, frame)
        if fn is None or fn.full:
            return False
        if fn.generator and self.resumes_look_like_calls:
            if id(frame) in self.generators:
                return True  # a resumed generator: its arguments were read when it started
            self.generators.add(id(frame))
        local = frame.f_locals
        try:
            values = [local[n] for n in fn.names]
        except KeyError:
            return self._miss(fn, "args_unreadable")
        key = self._key(values)
        if key is None:
            return self._miss(fn, "args_unencodable")
        if len(key) > self.max_chars:
            return self._miss(fn, "args_too_long")
        if key in fn.calls:
            return self._miss(fn, "duplicate")
        if fn.generator:  # a (re)started generator: replay records what it yields
            self._keep(fn, key, {"iter": True})
            return True
        self.pending[id(frame)] = (frame, fn, values, key)
        return True

    def _miss(self, fn: _Function, reason: str) -> bool:
        fn.drop(reason)
        fn.misses += 1
        if fn.misses >= self.max_misses:  # this function keeps giving nothing new: stop paying for it
            fn.full = True
            fn.drop("gave_up")
        return True

    def _keep(self, fn: _Function, key: str, outcome: dict) -> None:
        fn.calls[key] = outcome
        fn.misses = 0
        if len(fn.calls) >= self.max_calls:
            fn.full = True

    def on_return(self, frame, value, raised: bool) -> None:
        entry = self.pending.pop(id(frame), None)
        if entry is None or entry[0] is not frame:
            return
        _, fn, values, key = entry
        if key in fn.calls:
            return
        after = self._key(values)
        mutated = after != key
        if after is None:
            self._miss(fn, "mutates_args")
        elif raised:
            if mutated:
                self._miss(fn, "raised_and_mutated")
            else:
                self._keep(fn, key, {"raised": True})
        else:
            try:
                result = self.encode(value)
            except Exception:  # noqa: BLE001
                if _is_iterator(value) and not mutated:
                    self._keep(fn, key, {"iter": True})
                else:
                    self._miss(fn, "result_unencodable")
                return
            text = self.dumps(result)
            if len(text) > self.max_chars:
                self._miss(fn, "result_too_long")
            elif mutated:
                self._keep(fn, key, {"value": result, "after": json.loads(after)})
            else:
                self._keep(fn, key, {"value": result})

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
        elif event == "return":
            if self.generators and id(frame) in self.generators:
                if frame.f_code.co_code[frame.f_lasti] not in _YIELD_OPS:  # finished (or closed), not suspended
                    self.generators.discard(id(frame))
            elif self.pending:
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
        packages=spec.get("packages", ()),
        values=load_values(spec.get("values_path")),
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
        try:
            obj = inspect.getattr_static(obj, part)
        except AttributeError:
            if not isinstance(obj, types.ModuleType):
                raise
            # a module that put a proxy in sys.modules, or answers names with a module __getattr__ (humanfriendly)
            obj = getattr(obj, part)
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    code = getattr(inspect.unwrap(obj), "__code__", None)
    if code is None or code.co_firstlineno != record["firstlineno"]:
        raise LookupError(f"{record['qualname']} in {record['module']} is not the traced function")
    return obj


def _stub(*args, **kwargs):
    return ()


def replay_one(fn, call: dict, timeout: float, values: dict) -> dict | str:
    """Evaluate one planned call twice on fresh arguments: a Call dict {expr, expected, raises}, or a drop reason.

    `call` holds `expr` (what the task asserts), `inner` (the candidate(...) call itself) and what the
    trace saw: `expected` (an encoding) or `kind` "raises"/"iter", whose expectation this replay records."""
    encode, dumps = values["encode"], values["_dumps"]
    kind = call.get("kind", "value")
    try:
        code = compile(call["inner"] if kind == "iter" else call["expr"], "<call>", "eval")
        eval(code, {"candidate": _stub})  # the arguments rebuild from their source at all
    except Exception:  # noqa: BLE001
        return "args_not_rebuilt"
    seen = []
    for _ in range(2):
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            got = eval(code, {"candidate": fn})
            if kind == "iter":
                if not hasattr(type(got), "__next__") and not hasattr(type(got), "__iter__"):
                    return "not_iterable"
                got = list(itertools.islice(got, MAX_ITER_ITEMS + 1))
                if len(got) > MAX_ITER_ITEMS:
                    return "iterator_too_long"
            outcome = ["value", dumps(encode(got))]
        except _Timeout:
            return "replay_timeout"
        except (RecursionError, MemoryError):
            return "replay_raised"
        except Exception as exc:  # noqa: BLE001 - the exception is the outcome of a raises call
            outcome = ["raised", type(exc).__name__]
        except BaseException:  # noqa: BLE001 - SystemExit and the like drop the call
            return "replay_raised"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        seen.append(outcome)
    if seen[0] != seen[1]:
        return "replay_differs"
    what, text = seen[0]
    if kind == "raises":
        return {"expr": call["expr"], "expected": None, "raises": text} if what == "raised" else "replay_differs"
    if what == "raised":
        return "replay_raised"
    if kind == "iter":
        return {"expr": call["expr"], "expected": json.loads(text), "raises": ""}
    if text != dumps(call["expected"]):
        return "replay_differs"
    return {"expr": call["expr"], "expected": call["expected"], "raises": ""}


def replay_main(spec: dict) -> None:
    """Replay each function's planned calls; append one JSON line per function to spec['out']."""
    sys.path.insert(0, os.getcwd())
    values = load_values(spec.get("values_path"))

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
                for call in record["calls"]:
                    result = "not_importable" if fn is None else replay_one(fn, call, timeout, values)
                    if isinstance(result, dict):
                        kept.append(result)
                    else:
                        drops[result] = drops.get(result, 0) + 1
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
