"""A task dict and one of its reference solutions -> a HumanEval-style `Problem`.

- MBPP: the function the tests call keeps its header; the rest of the file is context.
- call-based (APPS/TACO `fn_name`): LeetCode's `class Solution: def fn(self, ...)` stays a
  class (entry point `Solution`, the tests instantiate it), a plain `def fn` stays a function;
  the starter code's header is shown when its parameters match the solution's.
- stdin/stdout: the program becomes the body of `solve(stdin: str) -> str`, and the
  `stdio_program` decorator in the context feeds it `stdin` and returns what it printed.

Tests are call-style wherever they can be (`Problem.calls`, judged outside the sandbox, so a
program cannot forge its verdict; `test` is their HumanEval rendering): every call-based and
stdin/stdout test, and MBPP tasks whose asserts are all `assert <call of f> == <value>` (or
`assert f(...)` / `assert not f(...)`), the value from `ast.literal_eval` or, when it is an
expression, from evaluating it in the sandbox at collection time (collect.py). Call-based
outputs compare exactly (same types), stdin/stdout outputs as text, MBPP's `==` as "same"
(int and float by value, a tuple for a list, builtin types only). MBPP tasks with any other
assert (or with setup code) keep `check()` code: `assert x == y` becomes `assert same(x, y)`.
"""

from __future__ import annotations

import ast
import math
import re
import typing
from typing import Any

import libcst as cst

from codexsd.core.record import Problem
from codexsd.sandbox import strict_equal_source, values
from codexsd.sandbox.calls import Call, render_check
from curation.competitive import pysource
from curation.competitive.pysource import INDENT, SourceError

STDIO_SIGNATURE = "@stdio_program\ndef solve(stdin: str) -> str:"
STDIO_CONTEXT = '''import io
import sys


def stdio_program(program):
    """Make `program`, which reads sys.stdin and prints, a function from input text to output text."""

    def run(stdin: str) -> str:
        import builtins
        import threading

        def stop(*args):
            raise SystemExit(*args)

        def open_stdin(file, mode="r", *args, **kwargs):  # open(0).read() reads the input too
            if type(file) is int and file == 0:
                data = io.BytesIO(stdin.encode("utf-8"))
                return data if "b" in mode else io.TextIOWrapper(data, encoding="utf-8")
            return saved[-1](file, mode, *args, **kwargs)

        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\\n", write_through=True)
        saved = sys.stdin, sys.stdout, builtins.exit, builtins.quit, builtins.open
        running = set(threading.enumerate())
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8")
        sys.stdout = out
        builtins.exit = builtins.quit = stop
        builtins.open = open_stdin
        try:
            program(stdin)
        except SystemExit:
            pass
        finally:
            for thread in set(threading.enumerate()) - running:
                thread.join()
            sys.stdin, sys.stdout, builtins.exit, builtins.quit, builtins.open = saved
        return out.buffer.getvalue().decode("utf-8", "replace")

    return run
'''

# Source of the comparison MBPP's rewritten asserts use (nested inside check()).
SAME_SOURCE = '''def same(got, expected):
    """Equal in value and in builtin type (int and float compare by value)."""
    numbers = (int, float)
    if type(expected) in numbers and type(got) in numbers:
        return got == expected or abs(got - expected) <= 1e-9 * max(1.0, abs(expected))
    if type(expected) is list and type(got) is tuple:
        got = list(got)
    if type(expected) is dict and isinstance(got, dict):  # Counter, OrderedDict, defaultdict
        got = dict(dict.items(got))
    if type(got) is not type(expected):
        return False
    if type(expected) in (list, tuple):
        return len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected))
    if type(expected) is dict:
        return set(got) == set(expected) and all(same(got[k], expected[k]) for k in expected)
    if type(expected) in (set, frozenset):
        return len(got) == len(expected) and all(any(same(g, e) for g in got) for e in expected)
    return got == expected
'''

NORMALISE_SOURCE = '''def normalise(text):
    """Output text with trailing whitespace removed from every line and from the end."""
    assert type(text) is str, f"expected the printed text, got {type(text).__name__}"
    return "\\n".join(line.rstrip() for line in text.rstrip().splitlines())
'''

RESERVED_NAMES = {"check", "candidate", "same", "normalise"}
_TYPING_NAMES = {n for n in getattr(typing, "__all__", []) if n[:1].isupper()}


def docstring_block(text: str, indent: str) -> str:
    """`text` as a triple-quoted docstring at `indent`, quoting so that its value is `text`."""
    prefix = ""
    if '"""' in text:
        text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    elif "\\" in text:
        prefix = "r"
    lines = text.split("\n")
    body = "\n".join([lines[0]] + [indent + line if line else "" for line in lines[1:]])
    return f'{indent}{prefix}"""{body}\n{indent}"""\n'


def py_literal(value: Any) -> str:
    """Python source for a JSON value (floats that repr cannot spell included)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(py_literal(v) + ", " for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _indented(source: str, prefix: str = INDENT) -> str:
    """Indent helper source we wrote ourselves (it has no multi-line strings)."""
    return "".join(prefix + line if line.strip() else line for line in source.splitlines(keepends=True))


def _check(helpers: list[str], lines: list[str], setup: str = "") -> str:
    parts = [setup.rstrip("\n") + "\n\n\n"] if setup.strip() else []
    parts.append("def check(candidate):\n")
    for h in helpers:
        parts.append(_indented(h) + "\n")
    parts.extend(INDENT + line + "\n" for line in lines)
    return "".join(parts)


def _prompt(context: str, signature: str, docstring: str, doc_indent: str) -> str:
    head = context.strip("\n") + "\n\n\n" if context.strip() else ""
    return head + signature + "\n" + docstring_block(docstring, doc_indent)


def build_problem(task: dict[str, Any], solution: str, variant: str = "") -> Problem:
    """Raises SourceError (with a reject reason) when this solution cannot be converted.

    An MBPP task whose expected values are expressions (not literals) comes back with check()
    code and `metadata["expected_sources"]`: evaluate them and call `with_calls` (collect.py)."""
    kind = task["kind"]
    calls: list[Call] = []
    metadata = dict(task["metadata"])
    if kind == "stdio":
        context, signature, body, entry, doc_indent = _stdio_parts(solution)
        calls = [Call(f"candidate({py_literal(i)})", values.encode(o if isinstance(o, str) else str(o)), compare="text")
                 for i, o in task["tests"]]
        test = render_check(calls)
    elif kind == "call":
        context, signature, body, entry, doc_indent, call = _call_parts(task, solution)
        for args, expected in task["tests"]:
            if variant == "unwrapped":
                expected = expected[0]
            args = args if isinstance(args, list) else [args]
            calls.append(Call(f"{call}({', '.join(py_literal(a) for a in args)})", _encode_json(expected)))
        test = render_check(calls)
    elif kind == "function":
        context, signature, body, entry, doc_indent = _function_parts(task, solution)
        test = _check([SAME_SOURCE], _mbpp_asserts(task["asserts"], entry), task.get("setup", ""))
        shapes = None if task.get("setup", "").strip() else mbpp_call_shapes(task["asserts"], entry)
        if shapes is None:
            metadata["check_asserts"] = len(task["asserts"])
        else:
            literal = [_literal(src) for _, src, _ in shapes]
            if all(enc is not None for enc in literal):
                calls = [Call(expr, enc, compare=mode) for (expr, _, mode), enc in zip(shapes, literal)]
                test = render_check(calls)
            else:
                metadata["expected_sources"] = [[expr, src, mode] for expr, src, mode in shapes]
    else:
        raise SourceError("malformed_row", f"unknown task kind {kind!r}")
    prompt = _prompt(context, signature, task["statement"], doc_indent)
    metadata["num_tests"] = len(task["tests"]) or len(task["asserts"])
    if variant:
        metadata["expected_outputs"] = variant
    return Problem(
        task_id=task["task_id"],
        prompt=prompt,
        canonical_solution=body,
        test=test,
        entry_point=entry,
        source="competitive",
        origin=dict(task["origin"]),
        signature=signature,
        docstring=task["statement"],
        body=body,
        context=context,
        metadata=metadata,
        calls=[c.to_dict() for c in calls],
    )


def with_calls(problem: Problem, expected: list[Any]) -> Problem:
    """`problem` (with `metadata["expected_sources"]`) judged by calls whose expected encodings
    are `expected` (one per source, computed by the caller); `test` re-rendered from them."""
    shapes = problem.metadata.pop("expected_sources")
    calls = [Call(expr, enc, compare=mode) for (expr, _, mode), enc in zip(shapes, expected)]
    problem.calls = [c.to_dict() for c in calls]
    problem.test = render_check(calls)
    return problem


def _encode_json(value: Any) -> list:
    """A JSON test value's encoding (JSON has no tuples or sets: lists and dicts stay what they are)."""
    return values.encode(value)


def _literal(source: str) -> list | None:
    try:
        return values.encode(ast.literal_eval(source))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, values.Unencodable):
        return None


_SAFE_NAMES = {"candidate", "list", "tuple", "set", "sorted", "frozenset", "dict", "str", "int", "float", "bool",
               "round", "len", "abs", "sum", "min", "max", "True", "False", "None"}


def mbpp_call_shapes(asserts: list[str], entry: str) -> list[tuple[str, str, str]] | None:
    """(call expression, expected source, comparison) per assert when every assert is a call with
    a value: `assert <expr calling f> == <value>`, `assert f(...)`, `assert not f(...)`. None when any
    other assert is present (the task then keeps its check() code)."""
    shapes: list[tuple[str, str, str]] = []
    for text in asserts:
        try:
            tree = pysource.quiet_parse(text)
        except SyntaxError:
            return None
        for stmt in tree.body:
            if not isinstance(stmt, ast.Assert):
                return None
            shape = _call_shape(stmt.test, entry)
            if shape is None:
                return None
            shapes.append(shape)
    return shapes or None


def _call_shape(test: ast.expr, entry: str) -> tuple[str, str, str] | None:
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        if _calls(right, entry) and not _calls(left, entry):
            left, right = right, left
        if not _calls(left, entry) or _calls(right, entry) or not _only_safe_names(left, entry):
            return None
        return ast.unparse(_Rename(entry).visit(left)), ast.unparse(right), "same"
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    inner = test.operand if negated else test
    if isinstance(inner, ast.Call) and _calls(inner, entry) and _only_safe_names(inner, entry):
        return f"bool({ast.unparse(_Rename(entry).visit(inner))})", repr(not negated), "exact"
    return None


def _calls(node: ast.AST, entry: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == entry for n in ast.walk(node))


def _only_safe_names(node: ast.AST, entry: str) -> bool:
    """The call expression runs in the program without the task's setup: builtins and the entry only."""
    return all(n.id == entry or n.id in _SAFE_NAMES for n in ast.walk(node) if isinstance(n, ast.Name))


class _Rename(ast.NodeTransformer):
    def __init__(self, entry: str) -> None:
        self.entry = entry

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id="candidate", ctx=node.ctx), node) if node.id == self.entry else node


def _stdio_parts(solution: str):
    hoisted, body = pysource.program_as_function(solution, "def solve(stdin: str) -> str:")
    futures = [h for h in hoisted if "__future__" in h]
    others = [h for h in hoisted if "__future__" not in h]
    context = "\n".join(futures + ([""] if futures else []) + [STDIO_CONTEXT.rstrip("\n")] + ([""] + others if others else []))
    return context + "\n", STDIO_SIGNATURE, body, "solve", INDENT


def _context_of(module: cst.Module, keep_out: cst.CSTNode, signature: str) -> str:
    """The solution's other top-level statements, plus `typing` imports the shown header needs."""
    others = [s for s in module.body if s is not keep_out]
    context = pysource.render_statements(others).strip("\n") if others else ""
    used = set(re.findall(r"\b([A-Z]\w*)\b", signature)) & _TYPING_NAMES
    defined = set(re.findall(r"\b([A-Z]\w*)\b", context))
    needed = sorted(used - defined)
    if needed:
        context = f"from typing import {', '.join(needed)}\n" + ("\n" + context if context else "")
    return context + "\n" if context else ""


def _call_parts(task: dict[str, Any], solution: str):
    name = task["fn_name"]
    module = pysource.parse(solution)
    starter = pysource.starter_function(task.get("starter_code") or "", name)
    method = pysource.find_method(module, "Solution", name)
    if method is not None:
        cls, func = method
        shown = starter if starter is not None and pysource.param_names(starter) == pysource.param_names(func) else None
        split = pysource.split_method(cls, func, shown)
        context = _context_of(module, cls, split.header)
        return context, split.header, split.body, "Solution", INDENT * 2, f"candidate().{name}"
    func = pysource.find_function(module, name)
    if func is None:
        raise SourceError("entry_point_missing", f"the solution defines neither {name}() nor Solution.{name}()")
    shown = starter if starter is not None and pysource.param_names(starter) == pysource.param_names(func) else None
    split = pysource.split_function(func, shown)
    context = _context_of(module, func, split.header)
    return context, split.header, split.body, name, INDENT, "candidate"


def mbpp_entry_point(asserts: list[str], module: cst.Module) -> str:
    """The first top-level function of the solution that the asserts call."""
    defined = {s.name.value for s in module.body if isinstance(s, cst.FunctionDef)}
    for line in asserts:
        try:
            tree = pysource.quiet_parse(line)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defined:
                return node.func.id
    raise SourceError("entry_point_missing", f"the tests call none of the solution's functions {sorted(defined)}")


def _function_parts(task: dict[str, Any], solution: str):
    module = pysource.parse(solution)
    entry = mbpp_entry_point(task["asserts"], module)
    if entry in RESERVED_NAMES:
        raise SourceError("reserved_entry_point", f"the function is called {entry}(), which the HumanEval test harness defines")
    func = pysource.find_function(module, entry)
    split = pysource.split_function(func)
    context = _context_of(module, func, split.header)
    return context, split.header, split.body, entry, INDENT


class _StrictAsserts(ast.NodeTransformer):
    """`assert x == y` -> `assert same(x, y)`; calls of the entry point -> `candidate`."""

    def __init__(self, entry: str) -> None:
        self.entry = entry

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id="candidate", ctx=node.ctx), node) if node.id == self.entry else node

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.generic_visit(node)
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            call = ast.Call(func=ast.Name(id="same", ctx=ast.Load()), args=[test.left, test.comparators[0]], keywords=[])
            node.test = ast.copy_location(call, test)
        return node


def _mbpp_asserts(asserts: list[str], entry: str) -> list[str]:
    lines: list[str] = []
    for text in asserts:
        try:
            tree = pysource.quiet_parse(text)
        except SyntaxError as exc:
            raise SourceError("malformed_tests", f"a test does not parse: {text[:120]!r} ({exc.msg})") from exc
        tree = ast.fix_missing_locations(_StrictAsserts(entry).visit(tree))
        for stmt in tree.body:
            lines.extend(ast.unparse(stmt).splitlines())
    return lines
