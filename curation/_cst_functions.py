"""Find every `def` in a module, in source order, in both the CST and the AST, and render its pieces.

The CST gives the exact source of each piece (signature, docstring literal, body, decorators,
asserts); the AST (CPython's C parser, cheap next to libcst's) gives the line span, the
cleaned docstring and the scoping facts. Both walks visit statements only, never expressions,
so they cost little next to the parse, and they meet every `def` in the same order.

Rendering a node through a bare module with a 4-space default indent dedents it: libcst keeps
indentation relative to the enclosing block, so a method renders as if it were top level.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Iterator

import libcst as cst

RENDERER = cst.Module(body=[], default_indent="    ", default_newline="\n")
_PASS_SUITE = cst.SimpleStatementSuite(
    body=[cst.Pass()], leading_whitespace=cst.SimpleWhitespace(""), trailing_whitespace=cst.TrailingWhitespace()
)
_PASS_TAIL = "pass\n"
_ASSERT_METHOD = re.compile(r"^(assert|fail)[A-Z_a-z]*$")


try:  # a codegen state without libcst's per-node generator context managers: same text, less time
    from libcst._nodes.internal import CodegenState

    class _NoPositions:
        __slots__ = ()

        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc) -> bool:
            return False

    _NO_POSITIONS = _NoPositions()

    class _FastCodegenState(CodegenState):
        def record_syntactic_position(self, node, *, start_node=None, end_node=None):
            return _NO_POSITIONS

    def render(node: cst.CSTNode) -> str:
        """Source of `node` alone, blocks re-indented to 4 spaces from column 0."""
        state = _FastCodegenState(default_indent="    ", default_newline="\n")
        node._codegen(state)
        return "".join(state.tokens)

except ImportError:  # libcst moved its internals: the public, slower path

    def render(node: cst.CSTNode) -> str:
        """Source of `node` alone, blocks re-indented to 4 spaces from column 0."""
        return RENDERER.code_for_node(node)


@dataclass
class AstDef:
    """One `def` as the AST walk meets it."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    qualname: str
    class_node: ast.ClassDef | None  # the class whose body holds it directly
    top_index: int  # index of the module-level statement that contains it
    parent_scope: ast.AST  # the Module, ClassDef or function whose scope evaluates its header


# --- statement walks (AST and CST in the same order) ---------------------------------------


def _ast_blocks(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists nested in a compound statement that is not a def or class, in source order."""
    if isinstance(stmt, ast.If):
        yield stmt.body
        yield stmt.orelse
    elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        yield stmt.body
        yield stmt.orelse
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        yield stmt.body
    elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        yield stmt.body
        for handler in stmt.handlers:
            yield handler.body
        yield stmt.orelse
        yield stmt.finalbody
    elif isinstance(stmt, ast.Match):
        for case in stmt.cases:
            yield case.body


def ast_defs(module: ast.Module) -> list[AstDef]:
    """Every function definition, nested ones included, with its `__qualname__`."""
    out: list[AstDef] = []
    _walk_ast(module.body, "", None, module, None, out)
    return out


# Walks are module-level functions, not recursive closures: a closure that calls itself is a
# reference cycle, and it would keep a whole file's trees alive until the cyclic GC runs.
def _walk_ast(body: list[ast.stmt], prefix: str, class_node, scope, top: int | None, out: list[AstDef]) -> None:
    for i, stmt in enumerate(body):
        t = i if top is None else top
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qual = prefix + stmt.name
            out.append(AstDef(stmt, qual, class_node, t, scope))
            _walk_ast(stmt.body, qual + ".<locals>.", None, stmt, t, out)
        elif isinstance(stmt, ast.ClassDef):
            _walk_ast(stmt.body, prefix + stmt.name + ".", stmt, stmt, t, out)
        else:
            for block in _ast_blocks(stmt):
                _walk_ast(block, prefix, class_node, scope, t, out)


def _cst_suite_statements(suite: cst.BaseSuite) -> list[cst.BaseStatement]:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else []


def _cst_blocks(stmt: cst.BaseStatement) -> Iterator[cst.BaseSuite]:
    if isinstance(stmt, cst.If):
        yield stmt.body
        orelse = stmt.orelse
        while isinstance(orelse, cst.If):  # elif chains
            yield orelse.body
            orelse = orelse.orelse
        if orelse is not None:
            yield orelse.body
    elif isinstance(stmt, (cst.For, cst.While)):
        yield stmt.body
        if stmt.orelse is not None:
            yield stmt.orelse.body
    elif isinstance(stmt, cst.With):
        yield stmt.body
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        yield stmt.body
        for handler in stmt.handlers:
            yield handler.body
        if stmt.orelse is not None:
            yield stmt.orelse.body
        if stmt.finalbody is not None:
            yield stmt.finalbody.body
    elif isinstance(stmt, cst.Match):
        for case in stmt.cases:
            yield case.body


def cst_defs(module: cst.Module) -> list[cst.FunctionDef]:
    """Every `FunctionDef` in source order (the order of `ast_defs`)."""
    out: list[cst.FunctionDef] = []
    _walk_cst(module.body, out)
    return out


def _walk_cst(statements, out: list[cst.FunctionDef]) -> None:
    for stmt in statements:
        if isinstance(stmt, cst.FunctionDef):
            out.append(stmt)
            _walk_cst(_cst_suite_statements(stmt.body), out)
        elif isinstance(stmt, cst.ClassDef):
            _walk_cst(_cst_suite_statements(stmt.body), out)
        elif not isinstance(stmt, cst.SimpleStatementLine):
            for suite in _cst_blocks(stmt):
                _walk_cst(_cst_suite_statements(suite), out)


# --- pieces of one function ----------------------------------------------------------------


def decorators(func: cst.FunctionDef) -> tuple[str, ...]:
    return tuple(render(d.decorator) for d in func.decorators)


def signature(func: cst.FunctionDef) -> str:
    """`def name(params) -> ret:` (async kept), without decorators, comments before it or body."""
    header = func.with_changes(decorators=(), leading_lines=(), lines_after_decorators=(), body=_PASS_SUITE)
    return render(header)[: -len(_PASS_TAIL)]


def _docstring_expr(func: cst.FunctionDef) -> cst.Expr:
    body = func.body
    first = body.body[0]
    return first.body[0] if isinstance(body, cst.IndentedBlock) else first


def docstring_raw(func: cst.FunctionDef) -> str:
    """The docstring literal as written (quotes, prefixes, implicit concatenation, parentheses)."""
    return render(_docstring_expr(func).value)


def _strip_blank_lines(lines) -> list[cst.EmptyLine]:
    """Leading lines from the first comment on (blank lines before it dropped)."""
    lines = list(lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    return lines


def _strip_trailing_blank_lines(lines) -> list[cst.EmptyLine]:
    lines = list(lines)
    while lines and lines[-1].comment is None:
        lines.pop()
    return lines


def body(func: cst.FunctionDef, has_docstring: bool) -> str:
    """The body without the docstring, as a top-level function body (4-space indent); "" if nothing is left."""
    suite = func.body
    if isinstance(suite, cst.SimpleStatementSuite):
        small = list(suite.body[1:] if has_docstring else suite.body)
        if not small:
            return ""
        block = cst.IndentedBlock(
            body=[cst.SimpleStatementLine(body=small, trailing_whitespace=suite.trailing_whitespace)],
            header=cst.TrailingWhitespace(),
        )
        return render(block)[1:]
    statements = list(suite.body)
    if has_docstring:
        first = statements[0]
        rest = list(first.body[1:])  # `"""doc"""; x = 1` keeps `x = 1`
        if rest:
            statements[0] = first.with_changes(body=rest, leading_lines=())
        else:
            statements.pop(0)
    if not statements:
        return ""
    statements[0] = statements[0].with_changes(leading_lines=_strip_blank_lines(statements[0].leading_lines))
    footer = _strip_trailing_blank_lines(suite.footer)
    block = suite.with_changes(body=statements, header=cst.TrailingWhitespace(), indent=None, footer=footer)
    return render(block)[1:]


def _is_comment_or_blank(line: str, min_indent: int) -> bool:
    stripped = line.lstrip(" ")
    return not stripped.strip() or (stripped.startswith("#") and len(line) - len(stripped) >= min_indent)


_MULTILINE_STRING = re.compile(r"\"\"\"|'''|\\\n")


def body_from_text(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef, has_docstring: bool) -> str | None:
    """`body()`'s result read straight from the file's lines, or None where only the CST can say.

    Valid for an indented block (not `def f(): x`) 4 spaces deeper than its `def`, in a file that
    indents by 4 spaces (the caller checks both). Dedenting is a plain prefix removal, so it gives up on any text
    where a line might continue a string (triple quotes, backslash-newline) or a statement shares
    the docstring's line.
    """
    statements = node.body
    if has_docstring:
        if len(statements) == 1:
            return ""
        if statements[1].lineno == statements[0].end_lineno:
            return None
        start = statements[0].end_lineno  # 0-based index of the line after the docstring
    else:
        first = statements[0]
        start = min([first.lineno] + [d.lineno for d in getattr(first, "decorator_list", ())]) - 1
        while start > node.lineno and lines[start - 1].lstrip()[:1] in ("#", ""):
            start -= 1  # comments above the first statement belong to the body; the `:` line stops this
    indent = lines[node.lineno - 1][: node.col_offset]
    if indent.strip(" "):
        return None
    end = node.end_lineno
    while end < len(lines) and _is_comment_or_blank(lines[end], len(indent) + 4):
        end += 1  # comments after the last statement, at the body's depth or deeper, close the body
    region = lines[start:end]
    while region and not region[0].strip():
        region.pop(0)
    while region and not region[-1].strip():
        region.pop()
    if not indent:
        return "".join(region)
    text = "".join(region)
    if _MULTILINE_STRING.search(text):
        return None
    out = []
    for line in region:
        if line.startswith(indent):
            out.append(line[len(indent) :])
        elif not line.strip():
            out.append("\n")
        elif line.lstrip().startswith("#"):
            out.append(line)
        else:
            return None
    return "".join(out)


# --- test functions ------------------------------------------------------------------------


class _AssertCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[str] = []

    def visit_Assert(self, node: cst.Assert) -> bool:
        self.found.append(render(node.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)))
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == "self"
            and _ASSERT_METHOD.match(func.attr.value)
        ):
            self.found.append(render(node))
            return False
        return True


def asserts(func: cst.FunctionDef) -> tuple[str, ...]:
    """Source of each `assert` statement and `self.assert*(...)`/`self.fail*(...)` call in the body."""
    collector = _AssertCollector()
    func.body.visit(collector)
    return tuple(collector.found)
