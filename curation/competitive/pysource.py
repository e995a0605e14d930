"""Reading reference solutions: Python 2 or 3, and libcst surgery on their source.

Everything here takes source text and returns source text (or raises `SourceError`
with a reject reason); nothing runs the code.
"""

from __future__ import annotations

import ast
import io
import re
import symtable
import tokenize
import warnings
from dataclasses import dataclass

import libcst as cst

INDENT = "    "

# Names that only exist in Python 2 (used without being defined, they mark a Python 2 program).
_PY2_NAMES = {"raw_input", "xrange", "unichr", "basestring", "execfile"}
_PY2_SYNTAX = [
    re.compile(r"^\s*print\s+[^\s(=.,\[]", re.M),  # print statement
    re.compile(r"^\s*print\s*$", re.M),
    re.compile(r"^\s*print\s*>>", re.M),
    re.compile(r"except\s+[\w.]+\s*,\s*\w+\s*:"),  # except E, e:
    re.compile(r"^\s*exec\s+['\"\w]", re.M),
    re.compile(r"`[^`\n]+`"),  # backtick repr
    re.compile(r"(?<![\w.])0\d+L?\b"),  # 0777 octal / 10L long literals
    re.compile(r"\b\d+L\b"),
    re.compile(r"<>"),
    re.compile(r"\bur['\"]"),
]


class SourceError(ValueError):
    """A source that cannot be used; `reason` is a reject reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _quiet(fn, *args):
    """Parse without SyntaxWarnings (old solutions are full of `1if x` and `\\d` strings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return fn(*args)


def quiet_parse(src: str) -> ast.Module:
    return _quiet(ast.parse, src)


def clean_source(src: str) -> str:
    """Unix line endings, no trailing blank lines, one final newline."""
    src = src.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return src.rstrip() + "\n"


def python_version(src: str) -> str:
    """'py3', 'py2' (parses only as Python 2, or uses Python 2's builtins) or 'invalid'."""
    try:
        tree = _quiet(ast.parse, src)
    except (SyntaxError, ValueError):
        return "py2" if any(p.search(src) for p in _PY2_SYNTAX) else "invalid"
    bound = set()
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else used).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return "py2" if (used - bound) & _PY2_NAMES else "py3"


def parse(src: str) -> cst.Module:
    """Parse with libcst and re-indent every block with four spaces."""
    try:
        module = cst.parse_module(src)
    except (cst.ParserSyntaxError, RecursionError, ValueError) as exc:
        # libcst is stricter than CPython about tab/space mixes; CPython's own reading, re-spelt, is not
        try:
            module = cst.parse_module(ast.unparse(_quiet(ast.parse, src)) + "\n")
        except (SyntaxError, cst.ParserSyntaxError, RecursionError, ValueError):
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise SourceError("syntax_error", lines[0] if lines else type(exc).__name__) from exc
    if module.default_indent == INDENT and _indents_by_four(src):
        return module  # already four spaces everywhere: skip the (slow) tree rewrite
    return module.visit(_Reindent()).with_changes(default_indent=INDENT)


def _indents_by_four(src: str) -> bool:
    """Every block is indented four spaces deeper than its parent (no tabs)."""
    stack = [""]
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.INDENT:
                if tok.string != stack[-1] + INDENT:
                    return False
                stack.append(tok.string)
            elif tok.type == tokenize.DEDENT:
                stack.pop()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return False
    return True


class _Reindent(cst.CSTTransformer):
    def leave_IndentedBlock(self, original, updated):
        return updated.with_changes(indent=None)


def render(node: cst.CSTNode) -> str:
    return cst.Module(body=[], default_indent=INDENT).code_for_node(node)


def render_statements(statements) -> str:
    return cst.Module(body=list(statements), default_indent=INDENT).code


@dataclass(frozen=True)
class SplitFunction:
    """A function cut into what the prompt shows and what the model writes."""

    header: str  # leading comments, decorators and the def line(s), as the prompt shows them; ends with ":"
    body: str  # the body without its docstring, indented as in the rendered file, ending with a newline
    params: tuple[str, ...]


def _placeholder(func: cst.FunctionDef) -> cst.FunctionDef:
    block = func.body if isinstance(func.body, cst.IndentedBlock) else cst.IndentedBlock(body=[])
    return func.with_changes(body=block.with_changes(body=[cst.SimpleStatementLine(body=[cst.Pass()])], footer=()))


def _docless(func: cst.FunctionDef) -> cst.FunctionDef:
    block = func.body
    if not isinstance(block, cst.IndentedBlock):  # def f(x): return x
        block = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=list(block.body))])
    statements = list(block.body)
    if statements and _is_docstring(statements[0]):
        statements = statements[1:]
    if not statements:
        raise SourceError("empty_solution", f"function {func.name.value} has no body")
    return func.with_changes(body=block.with_changes(body=statements))


def _header(text: str, depth: int) -> str:
    tail = INDENT * depth + "pass\n"
    assert text.endswith(tail), text[-80:]
    return text[: -len(tail)]


def split_function(func: cst.FunctionDef, signature_from: cst.FunctionDef | None = None) -> SplitFunction:
    """Cut a top-level function into header and docstring-free body."""
    prefix = _header(render(_placeholder(func)), 1)
    full = render(_docless(func))
    if not full.startswith(prefix):
        raise SourceError("unsupported_source", "cannot separate the function header from its body")
    shown = _header(render(_placeholder(signature_from or func)), 1) if signature_from else prefix
    return SplitFunction(header=shown.rstrip(), body=full[len(prefix):], params=param_names(func))


def split_method(cls: cst.ClassDef, method: cst.FunctionDef, signature_from: cst.FunctionDef | None = None) -> SplitFunction:
    """Cut `class C: def method` into the class + method header and a body that goes on with
    the class's other members (placed after the method)."""
    others = [m for m in cls.body.body if m is not method]

    def with_members(members):
        return cls.with_changes(body=cls.body.with_changes(body=members, footer=()))

    prefix = _header(render(with_members([_placeholder(method)])), 2)
    full = render(cls.with_changes(body=cls.body.with_changes(body=[_docless(method), *others])))
    if not full.startswith(prefix):
        raise SourceError("unsupported_source", "cannot separate the method header from its body")
    shown = prefix
    if signature_from is not None:
        shown = _header(render(with_members([_placeholder(signature_from)])), 2)
    return SplitFunction(header=shown.rstrip(), body=full[len(prefix):], params=param_names(method))


def param_names(func: cst.FunctionDef) -> tuple[str, ...]:
    p = func.params
    names = [x.name.value for x in (*p.posonly_params, *p.params)]
    if isinstance(p.star_arg, cst.Param):
        names.append("*" + p.star_arg.name.value)
    names += [x.name.value for x in p.kwonly_params]
    if p.star_kwarg is not None:
        names.append("**" + p.star_kwarg.name.value)
    return tuple(names)


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def find_function(module: cst.Module, name: str) -> cst.FunctionDef | None:
    for stmt in module.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return stmt
    return None


def find_method(module: cst.Module, cls_name: str, name: str) -> tuple[cst.ClassDef, cst.FunctionDef] | None:
    for stmt in module.body:
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == cls_name and isinstance(stmt.body, cst.IndentedBlock):
            for member in stmt.body.body:
                if isinstance(member, cst.FunctionDef) and member.name.value == name:
                    return stmt, member
    return None


def starter_function(starter: str, name: str) -> cst.FunctionDef | None:
    """The def of `name` in starter code (`def f(a, b):` or `class Solution: def f(self, ...):`), completed with `pass`."""
    src = clean_source(starter)
    lines = src.rstrip("\n").splitlines()
    if lines and lines[-1].rstrip().endswith(":"):
        width = len(lines[-1]) - len(lines[-1].lstrip())
        src = src + " " * (width + 4) + "pass\n"
    try:
        module = parse(src)
    except SourceError:
        return None
    found = find_function(module, name)
    if found is None:
        method = find_method(module, "Solution", name)
        found = method[1] if method else None
    return found


def program_as_function(src: str, header: str) -> tuple[list[str], str]:
    """Turn a stdin/stdout program into the body of the function `header` (a `def` line).

    Returns the statements that must stay at module level (`from __future__`, star
    imports) and the body. Top-level code becomes function code: an
    `if __name__ == "__main__":` guard is unwrapped, and `global x` in a nested function
    becomes `nonlocal x` when `x` is a top-level variable of the program (now a local).
    """
    module = parse(src)
    try:
        top = _quiet(symtable.symtable, src, "<solution>", "exec")
        declared_global = _top_level_globals(_quiet(ast.parse, src))
    except (SyntaxError, ValueError, RecursionError) as exc:
        raise SourceError("syntax_error", str(exc)) from exc
    bound = {
        s.get_name()
        for s in top.get_symbols()
        if (s.is_assigned() or s.is_imported() or s.is_namespace()) and s.get_name() not in declared_global
    }
    hoisted: list[str] = []
    statements: list[cst.BaseStatement] = []
    for stmt in module.body:
        if _must_stay_global(stmt):
            hoisted.append(render(stmt.with_changes(leading_lines=())).rstrip("\n"))
        elif _is_main_guard(stmt):
            block = stmt.body
            if isinstance(block, cst.IndentedBlock):
                statements.extend(block.body)
            else:
                statements.append(cst.SimpleStatementLine(body=list(block.body)))
        else:
            statements.append(stmt)
    if not statements:
        raise SourceError("empty_solution", "the program has no statements")
    body_module = cst.Module(body=statements, default_indent=INDENT)
    if re.search(r"\bglobal\b", src):
        body_module = body_module.visit(_GlobalToNonlocal(bound))
    func = cst.parse_statement(f"{header}\n{INDENT}pass\n")
    func = func.with_changes(body=func.body.with_changes(body=list(body_module.body)))
    text = render(func)
    first_line_end = text.index("\n") + 1
    return hoisted, text[first_line_end:]


def _top_level_globals(tree: ast.Module) -> set[str]:
    """Names a `global` statement declares in module-level code (outside any def or class)."""
    names: set[str] = set()
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Global):
            names.update(node.names)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return names


def _must_stay_global(stmt: cst.BaseStatement) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for small in stmt.body:
        if isinstance(small, cst.ImportFrom):
            name = render(small.module) if small.module is not None else ""
            if name == "__future__" or isinstance(small.names, cst.ImportStar):
                return True
    return False


def _is_main_guard(stmt: cst.BaseStatement) -> bool:
    if not isinstance(stmt, cst.If) or stmt.orelse is not None:
        return False
    test = stmt.test
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    if not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    sides = {render(test.left).strip(), render(test.comparisons[0].comparator).strip()}
    return "__name__" in sides and bool(sides & {"'__main__'", '"__main__"'})


class _GlobalToNonlocal(cst.CSTTransformer):
    """`global x` in nested scopes -> `nonlocal x` for names the program binds at top level."""

    def __init__(self, top_level_names: set[str]) -> None:
        super().__init__()
        self.names = top_level_names
        self.depth = 0

    def visit_FunctionDef(self, node) -> None:
        self.depth += 1

    def leave_FunctionDef(self, original, updated):
        self.depth -= 1
        return updated

    def visit_ClassDef(self, node) -> None:
        self.depth += 1

    def leave_ClassDef(self, original, updated):
        self.depth -= 1
        return updated

    def leave_SimpleStatementLine(self, original, updated):
        if self.depth == 0 or not any(isinstance(s, cst.Global) for s in updated.body):
            return updated
        small: list[cst.BaseSmallStatement] = []
        for s in updated.body:
            if not isinstance(s, cst.Global):
                small.append(s)
                continue
            keep = [n.name.value for n in s.names if n.name.value not in self.names]
            moved = [n.name.value for n in s.names if n.name.value in self.names]
            if keep:
                small.append(cst.Global(names=[cst.NameItem(cst.Name(n)) for n in keep]))
            if moved:
                small.append(cst.Nonlocal(names=[cst.NameItem(cst.Name(n)) for n in moved]))
        return updated.with_changes(body=small)
