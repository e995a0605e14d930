"""What a function needs from its module: the globals it reads, and the imports and helpers that bind them.

Scoping comes from `symtable` (CPython's own symbol tables, exact for closures, class scopes,
comprehensions and `global` statements); module bindings come from the AST; the source of each
helper is rendered from the CST so it keeps its comments and layout.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from typing import Iterable, Iterator

import libcst as cst

from curation._cst_functions import render

BUILTIN_NAMES = frozenset(dir(builtins))
# names every module has without binding them
MODULE_DUNDERS = frozenset(
    {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__", "__path__", "__cached__"}
)
_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _bound_names(stmt: ast.stmt) -> Iterator[str]:
    """Names a module-level statement binds in the module namespace (not looking inside nested scopes)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            if alias.name != "*":
                yield alias.asname or alias.name.split(".")[0]
        return
    if isinstance(stmt, _SCOPE_NODES):
        yield stmt.name
        return
    pending: list[ast.AST] = [stmt]
    while pending:
        node = pending.pop()
        if isinstance(node, _SCOPE_NODES):
            yield node.name  # a def/class nested in if/try at module level
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from _bound_names(node)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            yield node.id
        elif isinstance(node, ast.ExceptHandler) and node.name:
            yield node.name
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            yield node.name
        elif isinstance(node, ast.MatchMapping) and node.rest:
            yield node.rest
        pending.extend(reversed(list(ast.iter_child_nodes(node))))


def _loaded_names(nodes: Iterable[ast.AST | None]) -> set[str]:
    out: set[str] = set()
    for root in nodes:
        if root is None:
            continue
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                out.add(node.id)
    return out


def header_expressions(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
                       annotations: bool = True) -> list[ast.AST]:
    """The parts of a def/class evaluated in the enclosing scope: decorators, defaults, annotations (unless
    `annotations` is False: a module with `from __future__ import annotations` never evaluates them), bases."""
    parts: list[ast.AST] = list(node.decorator_list)
    if isinstance(node, ast.ClassDef):
        parts += node.bases + [k.value for k in node.keywords]
        return parts
    args = node.args
    parts += args.defaults + [d for d in args.kw_defaults if d is not None]
    every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
    if not annotations:
        return parts
    parts += [a.annotation for a in every if a.annotation is not None]
    if node.returns is not None:
        parts.append(node.returns)
    return parts


class ModuleScope:
    """Scoping facts of one module, computed once and shared by all its functions."""

    def __init__(self, tree: ast.Module, table: symtable.SymbolTable, module: cst.Module, text: str) -> None:
        self.tree = tree
        self.lines = text.splitlines(keepends=True)
        self.table = table
        self.statements = list(tree.body)
        self._cst_statements = _align_statements(tree.body, module)
        self.bindings: dict[str, list[int]] = {}
        self.binders: list[tuple[str, ...]] = []
        self.star_imports: list[int] = []
        self.future_imports: list[int] = []
        for i, stmt in enumerate(self.statements):
            names = tuple(dict.fromkeys(_bound_names(stmt)))
            self.binders.append(names)
            for name in names:
                self.bindings.setdefault(name, []).append(i)
            if isinstance(stmt, ast.ImportFrom):
                if any(a.name == "*" for a in stmt.names):
                    self.star_imports.append(i)
                if stmt.module == "__future__":
                    self.future_imports.append(i)
        # PEP 563: annotations stay strings, so names read only in annotations are not needed at run time
        self.lazy_annotations = any(a.name == "annotations" for i in self.future_imports for a in self.statements[i].names)
        self._children: dict[int, dict[tuple[str, str, int], symtable.SymbolTable]] = {}
        self._globals: dict[int, frozenset[str]] = {}
        self._needs: dict[int, frozenset[str]] = {}
        self._source: dict[int, str] = {}

    # -- symbol tables --

    def child_table(self, parent: symtable.SymbolTable, node: ast.AST) -> symtable.SymbolTable | None:
        """The table of def/class `node` among `parent`'s children (looking through 3.12+ type-parameter scopes)."""
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        pending = [parent]
        while pending:
            table = pending.pop()
            index = self._children.get(id(table))
            if index is None:
                index = {(str(c.get_type()).lower().split(".")[-1], c.get_name(), c.get_lineno()): c for c in table.get_children()}
                self._children[id(table)] = index
            found = index.get((kind, node.name, node.lineno))
            if found is not None:
                return found
            pending += [c for c in table.get_children() if str(c.get_type()).lower().split(".")[-1] not in ("function", "class")]
        return None

    def globals_read(self, table: symtable.SymbolTable) -> frozenset[str]:
        """Globals read in `table`'s scope and every scope nested in it."""
        key = id(table)
        if key not in self._globals:
            names = {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
            for child in table.get_children():
                names |= self.globals_read(child)
            self._globals[key] = frozenset(names)
        return self._globals[key]

    def def_needs(self, node, table: symtable.SymbolTable | None, parent: symtable.SymbolTable) -> set[str]:
        """Global names a def/class reads: its scope's globals plus its header's names seen as globals by `parent`."""
        names = set(self.globals_read(table)) if table is not None else _loaded_names(node.body)
        for name in _loaded_names(header_expressions(node, annotations=not self.lazy_annotations)):
            if parent is self.table or _is_global_in(parent, name):
                names.add(name)
        return names

    # -- module statements --

    def statement_needs(self, index: int) -> frozenset[str]:
        if index not in self._needs:
            stmt = self.statements[index]
            if isinstance(stmt, _SCOPE_NODES):
                needs = self.def_needs(stmt, self.child_table(self.table, stmt), self.table)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                needs = set()
            elif isinstance(stmt, ast.AnnAssign) and self.lazy_annotations:
                needs = _loaded_names([stmt.value])
            else:
                needs = _loaded_names([stmt])
            self._needs[index] = frozenset(needs)
        return self._needs[index]

    def is_import(self, index: int) -> bool:
        """Import statements, and try/if blocks that import (e.g. `try: import x except ImportError: ...`)."""
        stmt = self.statements[index]
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return True
        if isinstance(stmt, (ast.Try, ast.If)):
            return any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(stmt))
        return False

    def source(self, index: int) -> str:
        """A module-level statement's source: its lines of the file, or rendered if it shares a line."""
        if index not in self._source:
            stmt = self.statements[index]
            first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())])
            before = self.statements[index - 1].end_lineno if index else 0
            after = self.statements[index + 1].lineno if index + 1 < len(self.statements) else len(self.lines) + 1
            if before < first and stmt.end_lineno < after:
                self._source[index] = "".join(self.lines[first - 1 : stmt.end_lineno]).rstrip("\n")
                return self._source[index]
            node = self._cst_statements[index]
            if isinstance(node, cst.BaseSmallStatement):
                node = node.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            else:
                node = node.with_changes(leading_lines=())
            self._source[index] = render(node).rstrip("\n")
        return self._source[index]

    def import_source(self, index: int, names: set[str]) -> str:
        """An import statement narrowed to the aliases that bind `names`."""
        stmt = self.statements[index]
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return self.source(index)
        aliases = [a for a in stmt.names if (a.asname or a.name.split(".")[0]) in names]
        if not aliases or len(aliases) == len(stmt.names):
            return self.source(index)
        if isinstance(stmt, ast.Import):
            return ast.unparse(ast.Import(names=aliases))
        return ast.unparse(ast.ImportFrom(module=stmt.module, names=aliases, level=stmt.level))

    # -- closure --

    def needed(self, names: Iterable[str], skip: int | None = None) -> tuple[dict[int, set[str]], set[str]]:
        """The module statements `names` need, transitively (statement index -> the names it provides
        them), and the names no statement binds (builtins and module dunders aside). `skip`: a
        statement left out (the function's own)."""
        wanted: dict[int, set[str]] = {}
        unresolved: set[str] = set()
        seen: set[str] = set()
        queue = list(names)
        while queue:
            name = queue.pop()
            if name in seen:
                continue
            seen.add(name)
            where = self.bindings.get(name)
            if not where:
                if name not in BUILTIN_NAMES and name not in MODULE_DUNDERS:
                    unresolved.add(name)
                continue
            for index in where:
                if index == skip:
                    continue
                if index not in wanted:
                    wanted[index] = set()
                    queue.extend(self.statement_needs(index))
                wanted[index].add(name)
        return wanted, unresolved

    def closure(self, names: Iterable[str], own_statement: int | None,
                annotated: bool = False) -> tuple[tuple[str, ...], tuple[str, ...], str]:
        """(imports, helper names, context source) for a function that reads `names`.

        Helpers are followed transitively; the statement that holds the function itself is left out.
        `annotated`: the function's header has annotations (they need the module's `from __future__
        import annotations`, if it has one, since the names they read are not in the context).
        """
        wanted, unresolved = self.needed(names, skip=own_statement)
        if unresolved:
            for index in self.star_imports:
                wanted.setdefault(index, set())
        if wanted or (annotated and self.lazy_annotations):
            for index in self.future_imports:
                wanted.setdefault(index, {a.asname or a.name for a in self.statements[index].names})
        imports, helpers, context = [], [], ""
        previous_is_block = first_is_block = False
        # a try/if block that imports but also reads a helper (`except ImportError: x = helper`) stays in
        # source order among the helpers instead of moving up with the imports, so the helper is defined first
        helper_names = {n for i in wanted if not self.is_import(i) for n in self.binders[i]}
        for index in sorted(wanted):
            if self.is_import(index) and not (isinstance(self.statements[index], (ast.Try, ast.If))
                                              and self.statement_needs(index) & helper_names):
                imports.append(self.import_source(index, wanted[index]))
                continue
            helpers.extend(n for n in self.binders[index] if n in wanted[index])
            is_block = not isinstance(self._cst_statements[index], cst.BaseSmallStatement)
            if context:  # PEP 8 spacing: two blank lines around defs and classes
                context += "\n\n\n" if is_block or previous_is_block else "\n"
            else:
                first_is_block = is_block
            context += self.source(index)
            previous_is_block = is_block
        if imports:
            head = "\n".join(imports)
            context = head + ("\n\n\n" if first_is_block else "\n\n") + context if context else head
        return tuple(imports), tuple(helpers), context + "\n" if context else ""


def module_level(names: Iterable[str], scope: ModuleScope) -> tuple[str, ...]:
    """The names that are module globals: bound by the module, or neither builtins nor implicit dunders."""
    return tuple(
        sorted(n for n in names if n in scope.bindings or (n not in BUILTIN_NAMES and n not in MODULE_DUNDERS))
    )


def _is_global_in(table: symtable.SymbolTable, name: str) -> bool:
    try:
        return table.lookup(name).is_global()
    except KeyError:
        return True


def _align_statements(statements: list[ast.stmt], module: cst.Module) -> list[cst.CSTNode]:
    """The CST node of each module-level AST statement (small statements split out of their lines)."""
    out: list[cst.CSTNode] = []
    for line in module.body:
        if isinstance(line, cst.SimpleStatementLine):
            out.extend(line.body)
        else:
            out.append(line)
    if len(out) != len(statements):
        raise ValueError(f"CST has {len(out)} module statements, AST has {len(statements)}")
    return out
