"""Inline a project's own imports into a function's context, so the task runs without the project installed.

A traced function's context (curation.extract) keeps imports such as `from stdnum.util import clean`;
the sandbox has no `stdnum`, so the task is not self-contained. Here each such name is replaced by its
definition, taken from the other module's file with the same scoping machinery (`ModuleScope`), and
what that definition needs in turn: imports of other packages stay imports, imports of the project are
inlined again. Definitions are deduplicated and emitted dependencies first. Anything that cannot be
resolved (a module imported as a module, `import pkg.x`, two different definitions under one name)
leaves the context as it was, so validation rejects the task as before.
"""

from __future__ import annotations

import ast
import os
import symtable
import textwrap
from dataclasses import dataclass
from pathlib import Path

from curation._cst_context import BUILTIN_NAMES, MODULE_DUNDERS, ModuleScope, _bound_names

MAX_INLINE_DEPTH = int(os.environ.get("CODEXSD_INLINE_MAX_DEPTH", 8))  # import hops followed from the task's module
# a prompt with inlined definitions may be this long at most (the pipeline's default max_prompt_chars)
MAX_INLINE_CHARS = int(os.environ.get("CODEXSD_INLINE_MAX_CHARS", 8000))


@dataclass(frozen=True)
class Inlined:
    """The context with project imports inlined; `reason` is "" or why the task cannot be built."""

    context: str
    names: tuple[str, ...] = ()  # "pkg.mod.name" of each inlined definition, in the order emitted
    reason: str = ""
    detail: str = ""

    @property
    def max_chars(self) -> int:
        return MAX_INLINE_CHARS


class _Unresolved(Exception):
    pass


class _TooLarge(Exception):
    pass


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    """The absolute module an ImportFrom names, or None above the top package."""
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts) or (node.level - 1 == len(parts)):
        return None
    base = ".".join(parts[: len(parts) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base


def _import_keys(stmt: ast.stmt, package: str) -> dict[str, str]:
    """What each name an import binds refers to ("module.name"), so equal imports from two modules agree."""
    keys: dict[str, str] = {}
    for node in ast.walk(stmt):
        if isinstance(node, ast.Import):
            for a in node.names:
                keys[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package) or "?"
            for a in node.names:
                keys[a.asname or a.name] = f"{base}.{a.name}"
    return keys


def _unit_text(lines: list[str], node: ast.stmt) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])
    return "".join(lines[first - 1 : node.end_lineno]).rstrip("\n")


def _exported(scope: ModuleScope, name: str) -> bool:
    """Whether `from module import *` binds `name` (its `__all__` if a literal list, else public names)."""
    for stmt in scope.statements:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets):
            try:
                return name in ast.literal_eval(stmt.value)
            except ValueError:
                break
    return not name.startswith("_")


class _Project:
    """The files of one top-level package, found from one module's file, and the inlining walk over them."""

    def __init__(self, module: str, filename: str, strip_docstrings: bool = False) -> None:
        path = Path(filename)
        self.strip_docstrings = strip_docstrings
        parts = module.split(".")
        depth = len(parts) if path.name == "__init__.py" else len(parts) - 1
        self.root = path.parents[depth] if depth < len(path.parents) else path.parent
        self.top = parts[0]
        self.own = module
        self._scopes: dict[str, tuple[ModuleScope, bool] | None] = {}
        self.emitted: dict[str, str] = {}  # source of each inlined statement -> its module, in emission order
        self.names: list[str] = []
        self.imports: dict[str, None] = {}  # external import statements, as text
        self.futures: dict[str, None] = {}
        self.bound: dict[str, tuple[str, str]] = {}  # name -> (what binds it, its source)
        self.size = 0
        self._requested: set[tuple[str, str]] = set()
        # ModuleScope caches per symbol table by id(); symtable's own memo is weak, so keep every table alive
        self._tables: list[list] = []

    def is_project(self, module: str | None) -> bool:
        return bool(module) and module.split(".")[0] == self.top and module != self.own

    def scope(self, module: str) -> tuple[ModuleScope, bool] | None:
        """The module's scope and whether it is a package, or None if it has no readable file."""
        if module not in self._scopes:
            from curation import extract

            base = self.root.joinpath(*module.split("."))
            found = None
            for path, is_package in ((base.with_suffix(".py"), False), (base / "__init__.py", True)):
                if path.is_file():
                    try:
                        text = extract.decode_source(path.read_bytes())
                        tree, table, cst_module = extract._parse(text, str(path))
                        found = (ModuleScope(tree, table, cst_module, text), is_package)
                        self._tables.append(_every_table(table))
                    except (OSError, extract.ExtractError, ValueError, RecursionError):
                        found = None
                    break
            self._scopes[module] = found
        return self._scopes[module]

    def bind(self, name: str, what: str, text: str = "") -> None:
        """Record what binds `name`; two different things under one name (not the same source twice) give up."""
        first, first_text = self.bound.setdefault(name, (what, text or what))
        if first != what and first_text != (text or what):
            raise _Unresolved(f"{name} bound twice ({first[:80]} and {what[:80]})")

    def request(self, module: str, name: str, depth: int) -> None:
        """Emit the definition of `name` from `module` after everything it needs."""
        if (module, name) in self._requested:
            return
        self._requested.add((module, name))
        if depth > MAX_INLINE_DEPTH:
            raise _TooLarge(f"imports nested deeper than {MAX_INLINE_DEPTH} (CODEXSD_INLINE_MAX_DEPTH)")
        found = self.scope(module)
        if found is None:
            raise _Unresolved(f"no file for {module}")
        scope, is_package = found
        package = _package_of(module, is_package)
        if self.submodule(module, name):
            raise _Unresolved(f"{module}.{name} is a module: only `{name}.attribute` uses of it can be inlined")
        if name not in scope.bindings:
            if self._from_stars(scope, package, {name}, depth):
                return
            raise _Unresolved(f"{module} does not bind {name}")
        wanted, unresolved = scope.needed([name])
        self._from_stars(scope, package, unresolved, depth)
        units = []
        for index in sorted(wanted):
            stmt = scope.statements[index]
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                self.futures.setdefault(scope.source(index))
            elif isinstance(stmt, ast.ImportFrom) and self.is_project(_absolute(stmt, package)):
                target = _absolute(stmt, package)
                for alias in stmt.names:
                    bound = alias.asname or alias.name
                    if alias.name == "*" or bound not in wanted[index]:
                        continue
                    sub = self.submodule(target, alias.name)
                    if sub:
                        self.namespace(bound, sub, _attribute_uses(_users(scope, wanted), bound), depth + 1)
                        continue
                    self.request(target, alias.name, depth + 1)
                    if bound != alias.name:
                        self.alias(bound, alias.name, f"{target}.{alias.name}")
            elif isinstance(stmt, ast.Import) and all(self.is_project(a.name) or a.name == self.top for a in stmt.names):
                for alias in stmt.names:
                    bound = alias.asname or alias.name
                    if bound not in wanted[index]:
                        continue
                    if not alias.asname and "." in alias.name:
                        raise _Unresolved(f"{module}: import {alias.name} (a dotted module path)")
                    self.namespace(bound, alias.name, _attribute_uses(_users(scope, wanted), bound), depth + 1)
            elif isinstance(stmt, ast.ImportFrom) and stmt.level or (isinstance(stmt, ast.ImportFrom) and stmt.module == self.own):
                raise _Unresolved(f"{module}: {scope.source(index)}")
            elif scope.is_import(index):
                if self._imports_project(stmt, package):
                    raise _Unresolved(f"{module}: {scope.source(index).splitlines()[0]}")
                keys = _import_keys(stmt, package)
                for bound in wanted[index]:
                    self.bind(bound, keys.get(bound, scope.source(index)))
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    self.imports.setdefault(scope.import_source(index, wanted[index]))
                else:  # try/if blocks (`if TYPE_CHECKING: ...`) keep their place among the definitions
                    units.append(index)
            else:
                units.append(index)
        for index in units:
            text = scope.source(index)
            if self.strip_docstrings and not scope.is_import(index):
                text = without_docstrings(text)
            if text in self.emitted:
                continue
            if not scope.is_import(index):
                for bound in scope.binders[index]:
                    self.bind(bound, f"{module}.{bound}", text)  # overloads and redefinitions in one module agree
            self.size += len(text)
            if self.size > MAX_INLINE_CHARS:
                raise _TooLarge(f"inlined definitions exceed {MAX_INLINE_CHARS} chars (CODEXSD_INLINE_MAX_CHARS)")
            self.emitted[text] = module
            self.names.extend(f"{module}.{n}" for n in scope.binders[index] if n in wanted[index])
        if wanted:
            for index in scope.future_imports:
                self.futures.setdefault(scope.source(index))

    def submodule(self, module: str, name: str) -> str | None:
        """`module.name` if that is a module of the project with a file (and `module` binds `name` at most
        by importing it), else None."""
        full = f"{module}.{name}"
        if not self.is_project(full) or self.scope(full) is None:
            return None
        found = self.scope(module)
        if found is not None and name in found[0].bindings:
            scope = found[0]
            if not all(scope.is_import(i) for i in scope.bindings[name]):
                return None  # the package rebinds the name to something else
        return full

    def namespace(self, bound: str, module: str, attrs: set[str] | None, depth: int) -> None:
        """Bind `bound` to a namespace of the definitions `attrs` of project module `module` (an
        `import pkg as bound` or `from pkg import submodule` whose users only read `bound.attr`)."""
        if attrs is None:
            raise _Unresolved(f"module {module} is used as {bound} other than {bound}.attribute")
        if self.scope(module) is None:
            raise _Unresolved(f"no file for {module}")
        if module == self.own:
            raise _Unresolved(f"{bound} is the task's own module {module}")
        for attr in sorted(attrs):
            if self.submodule(module, attr):
                raise _Unresolved(f"{bound}.{attr} is a module ({module}.{attr})")
            self.request(module, attr, depth)
        self.bind(bound, f"module {module}")
        self.bind("types", "types")
        self.imports.setdefault("import types")
        fields = ", ".join(f"{a}={a}" for a in sorted(attrs))
        self.emitted.setdefault(f"{bound} = types.SimpleNamespace({fields})  # module {module}", "namespace")
        self.names.append(module)

    def alias(self, bound: str, name: str, origin: str) -> None:
        self.bind(bound, f"alias {origin}")
        self.emitted.setdefault(f"{bound} = {name}", "alias")  # right after its target, before its users

    def _from_stars(self, scope: ModuleScope, package: str, names: set[str], depth: int) -> bool:
        """Request `names` from the project modules `scope` star-imports; True if all were found."""
        missing = set(names)
        for index in reversed(scope.star_imports):  # the last star import wins
            stmt = scope.statements[index]
            target = _absolute(stmt, package)
            if not self.is_project(target):
                continue
            found = self.scope(target)
            if found is None:
                continue
            for name in sorted(missing):
                if name in found[0].bindings and _exported(found[0], name):
                    self.request(target, name, depth + 1)
                    missing.discard(name)
        return not missing

    def _imports_project(self, stmt: ast.stmt, package: str) -> bool:
        for node in ast.walk(stmt):
            if isinstance(node, ast.ImportFrom) and (node.level or self.is_project(node.module) or node.module == self.own):
                return True
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == self.top for a in node.names):
                return True
        return False


def _users(scope: ModuleScope, wanted: dict[int, set[str]]) -> list[ast.stmt]:
    """The statements of `wanted` that are not imports (those that use what the imports bind)."""
    return [scope.statements[i] for i in wanted if not scope.is_import(i)]


def _attribute_uses(nodes: list[ast.AST], name: str) -> set[str] | None:
    """The attributes read as `name.attr` in `nodes`, or None if `name` is used any other way."""
    attrs: set[str] = set()
    through: set[int] = set()
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name:
                if not isinstance(node.ctx, ast.Load):
                    return None
                attrs.add(node.attr)
                through.add(id(node.value))
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and node.id == name and id(node) not in through:
                return None
            if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
                return None
    return attrs


def without_docstrings(text: str) -> str:
    """`text` (a def or class) with the docstrings of it and everything in it removed (`pass` where a
    docstring was the whole body); `text` itself if it does not parse or a docstring shares its lines."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.splitlines(keepends=True)
    cuts = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or not node.body:
            continue
        first = node.body[0]
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            continue
        start, end = first.lineno, first.end_lineno
        if lines[start - 1][: first.col_offset].strip() or lines[end - 1][first.end_col_offset :].strip():
            return text
        cuts.append((start, end, first.col_offset, len(node.body) == 1))
    for start, end, col, alone in sorted(cuts, reverse=True):
        lines[start - 1 : end] = [" " * col + "pass\n"] if alone else []
    out = "".join(lines)
    try:
        ast.parse(out)
    except SyntaxError:
        return text
    return out


def _globals_read(table) -> set[str]:
    """Module-level names read anywhere in a module (its own scope and every function/class scope in it)."""
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced() and (s.is_global() or table.get_type() == "module")}
    for child in table.get_children():
        names |= _globals_read(child)
    return names


def _every_table(table) -> list:
    out = [table]
    for child in table.get_children():
        out += _every_table(child)
    return out


def inline_project_imports(context: str, module: str, filename: str, needs: tuple[str, ...] = (), own: str = "",
                           body: str = "", strip_docstrings: bool = False) -> Inlined:
    """`context` (of a function of `module`, in `filename`) with imports of the project's other modules inlined.

    `needs` are the module-level names the function itself reads (to resolve `from pkg.x import *`), `own`
    its name and `body` its body (to see which attributes of an imported module it reads: `import pkg as p`
    and `from pkg import submodule` become a namespace of the definitions read through them).
    `strip_docstrings`: inlined definitions lose their docstrings (the task's own keeps its docstring).
    """
    if "import" not in context:
        return Inlined(context)
    try:
        tree = ast.parse(context)
    except SyntaxError:
        return Inlined(context)
    project = _Project(module, filename, strip_docstrings)
    package = _package_of(module, Path(filename).name == "__init__.py")
    lines = context.splitlines(keepends=True)
    head: list[ast.stmt] = []
    rest: list[ast.stmt] = []
    for stmt in tree.body:
        (head if isinstance(stmt, (ast.Import, ast.ImportFrom)) else rest).append(stmt)
    touched = [s for s in head if isinstance(s, ast.ImportFrom) and s.module != "__future__"
               and (s.level or project.is_project(s.module))
               or isinstance(s, ast.Import) and any(a.name.split(".")[0] == project.top for a in s.names)]
    if not touched:
        return Inlined(context)
    try:
        users: list[ast.AST] = list(rest)
        try:
            users.append(ast.parse(textwrap.dedent(body)))
        except SyntaxError:
            pass
        if own:
            project.bind(own, f"{module}.{own}", "the task's own function")
        for stmt in rest:
            keys = _import_keys(stmt, package) if isinstance(stmt, (ast.Try, ast.If)) else {}
            for bound in _bound_names(stmt):
                project.bind(bound, keys.get(bound, f"{module}.{bound}"), _unit_text(lines, stmt))
        kept: list[str] = []
        for stmt in head:
            if stmt not in touched:
                kept.append(_unit_text(lines, stmt))
                for bound, key in _import_keys(stmt, package).items():
                    project.bind(bound, key)
        stars: list[str] = []
        for stmt in touched:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    bound = alias.asname or alias.name
                    if alias.name.split(".")[0] != project.top:
                        kept.append(f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""))
                        continue
                    if not alias.asname and "." in alias.name:
                        raise _Unresolved(f"import {alias.name} (a dotted module path)")
                    project.namespace(bound, alias.name, _attribute_uses(users, bound), 1)
                continue
            target = _absolute(stmt, package)
            if not project.is_project(target):
                raise _Unresolved(f"{_unit_text(lines, stmt)}: not a module of the project")
            for alias in stmt.names:
                if alias.name == "*":
                    stars.append(target)
                    continue
                sub = project.submodule(target, alias.name)
                if sub:
                    project.namespace(alias.asname or alias.name, sub, _attribute_uses(users, alias.asname or alias.name), 1)
                    continue
                project.request(target, alias.name, 1)
                if alias.asname and alias.asname != alias.name:
                    project.alias(alias.asname, alias.name, f"{target}.{alias.name}")
        if stars:
            loaded = set(needs) | _globals_read(symtable.symtable(context, "<context>", "exec"))
            missing = {n for n in loaded if n not in project.bound and n not in BUILTIN_NAMES and n not in MODULE_DUNDERS}
            for target in reversed(stars):
                found = project.scope(target)
                if found is None:
                    raise _Unresolved(f"no file for {target}")
                for name in sorted(missing):
                    if name in found[0].bindings and _exported(found[0], name):
                        project.request(target, name, 1)
                        missing.discard(name)
            if missing:
                raise _Unresolved(f"{', '.join(sorted(missing))} not found in {', '.join(stars)}")
    except _Unresolved as exc:
        return Inlined(context, detail=str(exc))
    except _TooLarge as exc:
        return Inlined(context, reason="context_too_large", detail=str(exc))
    return Inlined(_render(project, kept, rest, lines), tuple(dict.fromkeys(project.names)))


def _render(project: _Project, kept: list[str], rest: list[ast.stmt], lines: list[str]) -> str:
    futures = [t for t in project.futures if t not in kept]
    kept_futures = [t for t in kept if t.startswith("from __future__")]
    others = [t for t in kept if not t.startswith("from __future__")]
    imports = list(dict.fromkeys(kept_futures + futures + others + [t for t in project.imports if t not in kept]))
    blocks: list[str] = []
    if imports:
        blocks.append("\n".join(imports))
    blocks += list(project.emitted)
    text = ""
    previous_simple = False
    for stmt in rest:  # the task's own helpers, spaced as curation.extract spaces them, less those inlined above
        if _unit_text(lines, stmt) in project.emitted:
            continue
        simple = not hasattr(stmt, "body")
        if text:
            text += "\n" if simple and previous_simple else "\n\n\n"
        text += _unit_text(lines, stmt)
        previous_simple = simple
    if text:
        blocks.append(text)
    return "\n\n\n".join(blocks) + "\n"
