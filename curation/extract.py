"""Extract functions and test cases from Python sources with libcst.

For every `def` in a file (methods and nested functions included, named by `__qualname__`)
this gives its signature, decorators, docstring (as written and cleaned), body without the
docstring, the module-level names it reads, and the imports and helpers that make it
self-contained; for pytest/unittest files also each test and its asserts. A source that cannot
be read as Python raises `ExtractError` with a machine-readable reason, never anything else.
"""

from __future__ import annotations

import ast
import gc
import io
import logging
import os
import re
import symtable
import tokenize
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from curation import _cst_functions as fn
from curation._cst_context import ModuleScope, module_level

log = logging.getLogger(__name__)

MAX_SOURCE_BYTES = int(os.environ.get("CODEXSD_EXTRACT_MAX_BYTES", 2_000_000))

# Syntax errors that mean "this is Python 2", by CPython's message or by the offending line.
_PY2_MESSAGES = ("Missing parentheses in call to", "multiple exception types must be parenthesized", "leading zeros in decimal")
_PY2_LINE = re.compile(
    r"^\s*(print\s+[^\s(=]|exec\s+[\"'\w]|raise\s+\w+\s*,)|`|<>|\bur[\"']|\b\d+[lL]\b|except\s+[\w.]+\s*,\s*\w+\s*:"
)
_TEST_FILE = re.compile(r"(^test_.*|.*_test)\.py$")


@dataclass(frozen=True)
class FunctionInfo:
    """One function or method as found in its file."""

    qualname: str  # "f", "C.m", "f.<locals>.g"
    name: str
    path: str
    start_line: int  # line of `def` (after decorators), as ast's lineno
    end_line: int  # ast's end_lineno
    decorators: tuple[str, ...]  # each decorator expression, without "@"
    signature: str  # "def f(a: int = 1, *args, **kw) -> str:" (async kept, no decorators)
    docstring_raw: str | None  # the literal as written, quotes included
    docstring: str  # cleaned text (inspect.cleandoc), "" if none
    body: str  # body without the docstring, indented 4 spaces as under a top-level def
    class_name: str | None
    is_method: bool
    referenced_names: tuple[str, ...]  # module-level names (globals) it reads, sorted
    imports: tuple[str, ...]  # import statements binding the names it needs, transitively
    helpers: tuple[str, ...]  # module-level functions/classes/constants it needs, transitively
    context: str  # the needed imports, then the needed helpers, in file order

    def source(self) -> str:
        """Decorators, signature, docstring and body put back together (a top-level definition)."""
        lines = [f"@{d}\n" for d in self.decorators] + [self.signature, "\n"]
        if self.docstring_raw is not None:
            lines.append(f"    {self.docstring_raw}\n")
        lines.append(self.body)
        return "".join(lines)


@dataclass(frozen=True)
class TestCaseInfo:
    """A pytest or unittest test function and the asserts it makes."""

    __test__ = False  # not a test class for pytest

    qualname: str
    path: str
    start_line: int
    end_line: int
    framework: str  # "pytest" or "unittest"
    asserts: tuple[str, ...]  # each assert statement / self.assert*(...) call


@dataclass(frozen=True)
class ExtractResult:
    path: str
    functions: tuple[FunctionInfo, ...]
    tests: tuple[TestCaseInfo, ...]


class ExtractError(Exception):
    """A source that cannot be extracted; `reason` is one of REJECT_REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self):
        return (ExtractError, (self.reason, self.detail))


REJECT_REASONS = (
    "empty", "binary", "not_utf8", "too_large", "python2", "syntax_error", "too_deep", "unsupported_syntax", "unreadable",
    "internal_error", "crashed",
)  # fmt: skip


def decode_source(source: str | bytes) -> str:
    """Source text with newlines normalised, or ExtractError (too_large, binary, not_utf8, empty)."""
    if len(source) > MAX_SOURCE_BYTES:
        raise ExtractError("too_large", f"{len(source)} bytes > limit {MAX_SOURCE_BYTES} (CODEXSD_EXTRACT_MAX_BYTES)")
    if isinstance(source, bytes):
        if b"\0" in source:
            raise ExtractError("binary", "contains NUL bytes")
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
            text = source.decode(encoding)
        except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
            raise ExtractError("not_utf8", str(exc)[:200]) from None
    else:
        if "\0" in source:
            raise ExtractError("binary", "contains NUL characters")
        text = source
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ExtractError("empty", "no code")
    return text


def _syntax_error(exc: SyntaxError) -> ExtractError:
    line = (exc.text or "").strip()
    where = f"line {exc.lineno}: {exc.msg}" + (f": {line[:120]}" if line else "")
    if any(m in exc.msg for m in _PY2_MESSAGES) or _PY2_LINE.search(line):
        return ExtractError("python2", where)
    return ExtractError("syntax_error", where)


def _parse(text: str, path: str) -> tuple[ast.Module, symtable.SymbolTable, cst.Module]:
    try:
        tree = ast.parse(text, filename=path)
        table = symtable.symtable(text, path, "exec")
    except SyntaxError as exc:
        raise _syntax_error(exc) from None
    except (RecursionError, MemoryError) as exc:
        raise ExtractError("too_deep", f"{type(exc).__name__} in the AST parser") from None
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise ExtractError("unsupported_syntax", f"libcst: {str(exc).splitlines()[0][:200]}") from None
    except (RecursionError, MemoryError) as exc:
        raise ExtractError("too_deep", f"{type(exc).__name__} in libcst") from None
    return tree, table, module


@contextmanager
def _cyclic_gc_paused():
    """Pause the cyclic garbage collector while one file's trees are alive.

    An AST, a CST and symbol tables of one file are large and acyclic: refcounting frees them,
    and the collector, left running, spends up to a third of extraction time traversing them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def extract_source(source: str | bytes, path: str = "<string>") -> ExtractResult:
    """Every function and test case in `source`; raises ExtractError for a source that is not Python 3."""
    text = decode_source(source)
    with _cyclic_gc_paused():
        return _extract_text(text, path)


def _extract_text(text: str, path: str) -> ExtractResult:
    tree, table, module = _parse(text, path)
    try:
        return _extract(tree, table, module, text, path)
    except RecursionError:
        raise ExtractError("too_deep", "RecursionError while rendering") from None
    except ExtractError:
        raise
    except Exception as exc:  # a bug here must not end a run over many files
        log.exception("extracting %s failed", path)
        raise ExtractError("internal_error", f"{type(exc).__name__}: {exc}"[:300]) from None


def extract_file(path: str | os.PathLike) -> ExtractResult:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise ExtractError("too_large", f"{size} bytes > limit {MAX_SOURCE_BYTES} (CODEXSD_EXTRACT_MAX_BYTES)")
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError("unreadable", f"{type(exc).__name__}: {exc}") from None
    return extract_source(data, str(path))


def find_function(result_or_source: ExtractResult | str | bytes, qualname: str) -> FunctionInfo:
    """The function named `qualname` (the first, if a name is defined twice); KeyError if none."""
    result = result_or_source if isinstance(result_or_source, ExtractResult) else extract_source(result_or_source)
    for info in result.functions:
        if info.qualname == qualname:
            return info
    known = ", ".join(f.qualname for f in result.functions[:20])
    raise KeyError(f"no function {qualname!r} in {result.path} (found: {known or 'none'})")


def _every_arg(args: ast.arguments) -> list[ast.arg]:
    return args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]


def _extract(tree: ast.Module, table: symtable.SymbolTable, module: cst.Module, text: str, path: str) -> ExtractResult:
    ast_defs = fn.ast_defs(tree)
    cst_defs = fn.cst_defs(module)
    if len(ast_defs) != len(cst_defs) or any(a.node.name != c.name.value for a, c in zip(ast_defs, cst_defs)):
        raise ExtractError("internal_error", f"libcst found {len(cst_defs)} functions, ast {len(ast_defs)}")
    scope = ModuleScope(tree, table, module, text)
    tables = _def_tables(ast_defs, scope)
    testing = _TestClassifier(tree, path)
    lines = scope.lines if module.default_indent == "    " else None
    functions, tests = [], []
    for found, node in zip(ast_defs, cst_defs):
        own_table, parent_table = tables[id(found.node)]
        needs = scope.def_needs(found.node, own_table, parent_table)
        names = module_level(needs, scope)
        annotated = bool(found.node.returns) or any(a.annotation for a in _every_arg(found.node.args))
        imports, helpers, context = scope.closure(names, found.top_index, annotated)
        docstring = ast.get_docstring(found.node, clean=True)
        body = None
        if lines is not None and isinstance(node.body, cst.IndentedBlock) and node.body.indent is None:
            body = fn.body_from_text(lines, found.node, docstring is not None)
        if body is None:
            body = fn.body(node, docstring is not None)
        info = FunctionInfo(
            qualname=found.qualname,
            name=found.node.name,
            path=path,
            start_line=found.node.lineno,
            end_line=found.node.end_lineno,
            decorators=fn.decorators(node),
            signature=fn.signature(node),
            docstring_raw=fn.docstring_raw(node) if docstring is not None else None,
            docstring=docstring or "",
            body=body,
            class_name=found.class_node.name if found.class_node else None,
            is_method=found.class_node is not None,
            referenced_names=names,
            imports=imports,
            helpers=helpers,
            context=context,
        )
        functions.append(info)
        framework = testing.framework(found)
        if framework:
            tests.append(
                TestCaseInfo(info.qualname, path, info.start_line, info.end_line, framework, fn.asserts(node))
            )
    return ExtractResult(path=path, functions=tuple(functions), tests=tuple(tests))


def _def_tables(ast_defs: list[fn.AstDef], scope: ModuleScope) -> dict[int, tuple]:
    """For each def: (its symbol table, the table of the scope that evaluates its header)."""
    tables: dict[int, symtable.SymbolTable] = {id(scope.tree): scope.table}
    _map_tables(scope.tree.body, scope.table, scope, tables)
    out = {}
    for found in ast_defs:
        parent = tables.get(id(found.parent_scope))
        if parent is None:
            raise ExtractError("internal_error", f"no symbol table for the scope around {found.qualname}")
        out[id(found.node)] = (tables.get(id(found.node)), parent)
    return out


def _map_tables(body: list[ast.stmt], parent: symtable.SymbolTable, scope: ModuleScope, tables: dict) -> None:
    """Map every def and class node (by id) to its symbol table."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            child = scope.child_table(parent, stmt)
            if child is not None:
                tables[id(stmt)] = child
                _map_tables(stmt.body, child, scope, tables)
        else:
            for block in fn._ast_blocks(stmt):
                _map_tables(block, parent, scope, tables)


class _TestClassifier:
    """Which functions are tests: unittest `test*` methods of TestCase subclasses anywhere;
    pytest `test*` functions and `Test*` class methods in test files (test_*.py, *_test.py, or importing pytest)."""

    def __init__(self, tree: ast.Module, path: str) -> None:
        self.tree = tree
        self.pytest_file = bool(_TEST_FILE.match(os.path.basename(path))) or _imports_pytest(tree)
        self._testcase_classes: set[str] | None = None

    @property
    def testcase_classes(self) -> set[str]:
        if self._testcase_classes is None:
            self._testcase_classes = _testcase_classes(self.tree)
        return self._testcase_classes

    def framework(self, found: fn.AstDef) -> str | None:
        if not found.node.name.startswith("test"):
            return None
        cls = found.class_node
        if cls is not None and cls.name in self.testcase_classes:
            return "unittest"
        if not self.pytest_file or "<locals>" in found.qualname:
            return None
        if cls is None or cls.name.startswith("Test"):
            return "pytest"
        return None


def _testcase_classes(tree: ast.Module) -> set[str]:
    """Names of classes deriving from a *TestCase class, directly or through classes of this module."""
    found: set[str] = set()
    classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    changed = True
    while changed:
        changed = False
        for cls in classes:
            if cls.name not in found and any(
                _base_name(b).endswith("TestCase") or _base_name(b) in found for b in cls.bases
            ):
                found.add(cls.name)
                changed = True
    return found


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _imports_pytest(tree: ast.Module) -> bool:
    for stmt in tree.body:
        if isinstance(stmt, ast.Import) and any(a.name.split(".")[0] == "pytest" for a in stmt.names):
            return True
        if isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[0] == "pytest":
            return True
    return False


# the batch runner builds on the names above
from curation._cst_batch import extract_many, iter_python_files  # noqa: E402

__all__ = [
    "ExtractError", "ExtractResult", "FunctionInfo", "TestCaseInfo", "REJECT_REASONS", "MAX_SOURCE_BYTES",
    "decode_source", "extract_source", "extract_file", "find_function", "extract_many", "iter_python_files",
]  # fmt: skip
