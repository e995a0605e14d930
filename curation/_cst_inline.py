"""Inline a project's own imports into a function's context, so the task runs without the project installed.

A traced function's context (curation.extract) keeps imports such as `from stdnum.util import clean`;
the sandbox has no `stdnum`, so the task is not self-contained. Here each such name is replaced by its
definition, taken from the other module's file with the same scoping machinery (`ModuleScope`), and
what that definition needs in turn: imports of other packages stay imports, imports of the project are
inlined again. Definitions are deduplicated and emitted dependencies first (by what each reads as it
runs). A module imported by name (`from stdnum import luhn`) becomes a namespace of what its readers
take from it (`luhn = types.SimpleNamespace(checksum=checksum)`); one whose definitions would clash
with names the program already binds (every stdnum module defines `compact` and `validate`) is
wrapped in a function returning that namespace (`luhn = _module_stdnum_luhn()`), its names local to it.
Anything that cannot be resolved (a module used other than through its attributes, `import pkg.x`)
leaves the context as it was, so validation rejects the task as before; names that clash even so (the
module to wrap uses `global`, or cannot be re-indented safely) give the reason `inline_name_clash`.
"""

from __future__ import annotations

import ast
import copy
import inspect
import io
import os
import symtable
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from curation._cst_context import BUILTIN_NAMES, MODULE_DUNDERS, ModuleScope, _bound_names, header_expressions

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


OWN_FUNCTION = "the task's own function"


class _Unresolved(Exception):
    pass


class _Conflict(_Unresolved):
    """Two different things under one name in one scope."""


class _Unwrappable(_Conflict):
    """A clash that wrapping the module in a function would solve, but the module cannot be wrapped."""


class _TooLarge(Exception):
    pass


@dataclass
class _Unit:
    """One top-level piece of the program (or of a wrapped module's function): definitions from a module,
    a line binding an imported name, a namespace of a module (its text made from `attrs` at the end), or
    the function and call of a wrapped module (`kind` "wrapper", made from `_Project.wrappers`)."""

    kind: str  # "code", "namespace" or "wrapper"
    text: str = ""
    binds: tuple[str, ...] = ()
    module: str = ""
    attrs: set[str] = field(default_factory=set)
    order: tuple[int, int] = (0, 0)  # inside a wrapper: (0, n) for imported names, (1, statement index) for its own


@dataclass
class _Frame:
    """A scope the inlined definitions land in: the program's globals, or the function a module is wrapped in."""

    module: str = ""  # "" for the program's globals
    bound: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (what binds it, its source)
    units: dict[object, _Unit] = field(default_factory=dict)
    requested: set[tuple[str, str]] = field(default_factory=set)

    def bind(self, name: str, what: str, text: str = "") -> None:
        """Record what binds `name`; two different things under one name (not the same source twice) conflict."""
        first, first_text = self.bound.setdefault(name, (what, text or what))
        if first != what and first_text != (text or what):
            where = f" in {self.module}" if self.module else ""
            raise _Conflict(f"{name} bound twice{where} ({first[:80]} and {what[:80]})")


@dataclass
class _Wrapper:
    """A module whose definitions would clash with the program's names: they are emitted inside
    `def function(): ...; return types.SimpleNamespace(...)`, called once as `instance = function()`."""

    module: str
    function: str
    instance: str
    frame: _Frame
    exports: set[str] = field(default_factory=set)


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
    """The files of one top-level package, found from one module's file, and the inlining walk over them.

    Definitions land in the program's globals (`self.top`) when their names are free there; a module
    whose definitions would clash with names already bound (stdnum's modules each define `compact`
    and `validate`) is wrapped instead: its definitions live in a function, `_module_pkg_mod()`, that
    returns a namespace of what the others read from it, called once (`_Wrapper`).
    """

    def __init__(self, module: str, filename: str, strip_docstrings: bool = False) -> None:
        path = Path(filename)
        self.strip_docstrings = strip_docstrings
        parts = module.split(".")
        depth = len(parts) if path.name == "__init__.py" else len(parts) - 1
        self.root = path.parents[depth] if depth < len(path.parents) else path.parent
        self.top_package = parts[0]
        self.own = module
        self.own_name = ""
        self._scopes: dict[str, tuple[ModuleScope, bool] | None] = {}
        self.top = _Frame()
        self.wrappers: dict[str, _Wrapper] = {}
        self.names: list[str] = []  # "pkg.mod.name" of each inlined definition
        self.imports: dict[str, None] = {}  # external import statements, as text
        self.futures: dict[str, None] = {}
        self.size = 0
        # ModuleScope caches per symbol table by id(); symtable's own memo is weak, so keep every table alive
        self._tables: list[list] = []

    def is_project(self, module: str | None) -> bool:
        return bool(module) and module.split(".")[0] == self.top_package and module != self.own

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

    # -- undoing a try: a module first goes to the globals; if a name clashes, all of that is undone --

    def _save(self) -> tuple:
        frames = [self.top] + [w.frame for w in self.wrappers.values()]
        return (copy.deepcopy([(f, dict(f.__dict__)) for f in frames], {id(f): f for f in frames}),
                {m: (w, copy.deepcopy(w.exports)) for m, w in self.wrappers.items()},
                dict(self.imports), dict(self.futures), list(self.names), self.size)

    def _restore(self, saved: tuple) -> None:
        frames, wrappers, self.imports, self.futures, self.names, self.size = saved
        for frame, state in frames:  # in place: callers hold these frames
            frame.__dict__.clear()
            frame.__dict__.update(state)
        for module in list(self.wrappers):
            if module not in wrappers:
                del self.wrappers[module]
        for module, (wrapper, exports) in wrappers.items():
            wrapper.exports = exports
            self.wrappers[module] = wrapper

    # -- the walk --

    def request(self, frame: _Frame, module: str, name: str, depth: int) -> None:
        """Emit the definition of `name` from `module` into `frame` (the globals, or `module`'s wrapper),
        after everything it needs."""
        if (module, name) in frame.requested or (module, name) == (self.own, self.own_name):
            return  # (the task's own function: the program defines it, after everything else)
        frame.requested.add((module, name))
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
            if self._from_stars(frame, scope, package, {name}, depth):
                return
            raise _Unresolved(f"{module} does not bind {name}")
        wanted, unresolved = scope.needed([name])
        self._from_stars(frame, scope, package, unresolved, depth)
        units = []
        for index in sorted(wanted):
            stmt = scope.statements[index]
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                self.futures.setdefault(scope.source(index))
            elif isinstance(stmt, ast.ImportFrom) and (self.is_project(_absolute(stmt, package))
                                                       or _absolute(stmt, package) == self.own and module != self.own):
                target = _absolute(stmt, package)  # (the task's own module too: an import cycle back to it)
                for alias in stmt.names:
                    bound = alias.asname or alias.name
                    if alias.name == "*" or bound not in wanted[index]:
                        continue
                    sub = self.submodule(target, alias.name)
                    if sub:
                        self.namespace(frame, bound, sub, _attribute_uses(_users(scope, wanted), bound), depth + 1)
                    else:
                        self.import_name(frame, target, alias.name, bound, depth + 1)
            elif isinstance(stmt, ast.Import) and all(self.is_project(a.name) or a.name == self.top_package
                                                      for a in stmt.names):
                for alias in stmt.names:
                    bound = alias.asname or alias.name
                    if bound not in wanted[index]:
                        continue
                    if not alias.asname and "." in alias.name:
                        raise _Unresolved(f"{module}: import {alias.name} (a dotted module path)")
                    self.namespace(frame, bound, alias.name, _attribute_uses(_users(scope, wanted), bound), depth + 1)
            elif isinstance(stmt, ast.ImportFrom) and stmt.level or (isinstance(stmt, ast.ImportFrom) and stmt.module == self.own):
                raise _Unresolved(f"{module}: {scope.source(index)}")
            elif scope.is_import(index):
                if self._imports_project(stmt, package):
                    raise _Unresolved(f"{module}: {scope.source(index).splitlines()[0]}")
                keys = _import_keys(stmt, package)
                simple = isinstance(stmt, (ast.Import, ast.ImportFrom))
                target_frame = self.top if simple else frame  # try/if blocks keep their place among the definitions
                try:
                    for bound in wanted[index]:
                        target_frame.bind(bound, keys.get(bound, scope.source(index)))
                except _Conflict:
                    if frame is self.top:
                        raise
                    for bound in wanted[index]:  # an import whose name the globals use otherwise: inside the wrapper
                        frame.bind(bound, keys.get(bound, scope.source(index)))
                    units.append(index)
                    continue
                if simple:
                    self.imports.setdefault(scope.import_source(index, wanted[index]))
                else:
                    units.append(index)
            else:
                units.append(index)
        for index in units:
            self._emit(frame, module, scope, index, wanted[index])
        if wanted:
            for index in scope.future_imports:
                self.futures.setdefault(scope.source(index))

    def _emit(self, frame: _Frame, module: str, scope: ModuleScope, index: int, wanted: set[str]) -> None:
        is_import = scope.is_import(index)
        text = scope.import_source(index, wanted) if is_import else scope.source(index)
        if self.strip_docstrings and not is_import:
            text = without_docstrings(text)
        key = text if frame is self.top else index
        if key in frame.units:
            return
        if frame is not self.top:
            _check_wrappable(module, text)
        if not is_import:
            for bound in scope.binders[index]:
                frame.bind(bound, f"{module}.{bound}", text)  # overloads and redefinitions in one module agree
        self.size += len(text)
        if self.size > MAX_INLINE_CHARS:
            raise _TooLarge(f"inlined definitions exceed {MAX_INLINE_CHARS} chars (CODEXSD_INLINE_MAX_CHARS)")
        frame.units[key] = _Unit("code", text, scope.binders[index], module, order=(1, index))
        self.names.extend(f"{module}.{n}" for n in scope.binders[index] if n in wanted)

    def provide(self, module: str, attrs: set[str], depth: int, instance: str = "") -> str | None:
        """Define `attrs` of `module`: in the globals (returns None) if their names are free there, else in
        the module's wrapper (returns the name of its instance, `instance` if that name is free)."""
        wrapper = self.wrappers.get(module)
        if wrapper is None:
            saved = self._save()
            try:
                for attr in sorted(attrs):
                    self.request(self.top, module, attr, depth)
                return None
            except _Conflict:
                if module == self.own:  # its names are the program's own
                    raise
                self._restore(saved)
            flat = module.replace(".", "_")
            function = f"_module_{flat}"
            self.top.bind(function, f"wrapper {module}")
            if not instance or instance in self.top.bound:
                instance = f"_{flat}"
            self.top.bind(instance, f"wrapped module {module}")
            self.top.bind("types", "types")
            self.imports.setdefault("import types")
            wrapper = self.wrappers[module] = _Wrapper(module, function, instance, _Frame(module))
        for attr in sorted(attrs):
            self.request(wrapper.frame, module, attr, depth)
        wrapper.exports |= attrs
        # after what it reads from other modules (first time only: render_units moves it if it must)
        self.top.units.setdefault(("wrapper", module), _Unit("wrapper", binds=(wrapper.function, wrapper.instance),
                                                             module=module))
        return wrapper.instance

    def import_name(self, frame: _Frame, module: str, name: str, bound: str, depth: int) -> None:
        """`from module import name as bound`, in `frame`."""
        instance = self.provide(module, {name}, depth)
        if instance is None and bound == name:
            if frame is not self.top:
                frame.bind(bound, f"{module}.{name}")  # the global definition, seen from inside the wrapper
            return
        self._line(frame, bound, f"{bound} = {instance or name}" + (f".{name}" if instance else ""),
                   f"alias {module}.{name}")

    def _line(self, frame: _Frame, bound: str, text: str, what: str) -> None:
        """A line binding `bound` (right after what it reads; in a wrapper, before the module's own definitions)."""
        frame = self._place(frame, bound, what)
        if text not in frame.units:
            frame.units[text] = _Unit("code", text, (bound,), order=(0, len(frame.units)))

    def _place(self, frame: _Frame, bound: str, what: str) -> _Frame:
        """Where a line binding `bound` in `frame` goes: the globals if the name is free there (inside a
        wrapper, what it reads could be hidden by the wrapped module's own names), else `frame`."""
        if frame is not self.top:
            try:
                self.top.bind(bound, what)
                return self.top
            except _Conflict:
                pass
        frame.bind(bound, what)
        return frame

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

    def namespace(self, frame: _Frame, bound: str, module: str, attrs: set[str] | None, depth: int) -> None:
        """Bind `bound` in `frame` to a namespace of the definitions `attrs` of project module `module` (an
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
        instance = self.provide(module, attrs, depth, bound if frame is self.top else "")
        self.names.append(module)
        key = ("namespace", bound, module)
        if instance is not None:
            for where in {id(f): f for f in (frame, self.top)}.values():
                earlier = where.units.get(key)
                if earlier is not None and where.bound.get(bound, ("",))[0] == f"module {module}":
                    # the module went to the globals for an earlier reader: its namespace becomes the instance
                    self.provide(module, earlier.attrs, depth)
                    del where.units[key], where.bound[bound]
            if instance != bound:
                self._line(frame, bound, f"{bound} = {instance}", f"wrapped module {module}")
            elif frame is not self.top:
                frame.bind(bound, f"wrapped module {module}")  # the global instance, seen from inside the wrapper
            return
        for attr in attrs:
            if self.top.bound.get(attr, ("", ""))[1] == OWN_FUNCTION:  # the program defines it last
                raise _Unresolved(f"{bound}.{attr} is the task's own function")
        frame = self._place(frame, bound, f"module {module}")
        self.top.bind("types", "types")
        self.imports.setdefault("import types")
        unit = frame.units.setdefault(key, _Unit("namespace", binds=(bound,), module=module,
                                                  order=(0, len(frame.units))))
        unit.attrs |= attrs  # every reader's attributes, in one namespace

    def _from_stars(self, frame: _Frame, scope: ModuleScope, package: str, names: set[str], depth: int) -> bool:
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
                    self.import_name(frame, target, name, name, depth + 1)
                    missing.discard(name)
        return not missing

    def _imports_project(self, stmt: ast.stmt, package: str) -> bool:
        for node in ast.walk(stmt):
            if isinstance(node, ast.ImportFrom) and (node.level or self.is_project(node.module) or node.module == self.own):
                return True
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == self.top_package for a in node.names):
                return True
        return False

    # -- the program --

    def emitted_texts(self) -> set[str]:
        return {u.text for u in self.top.units.values() if u.kind == "code"}

    def render_units(self) -> list[str]:
        """The global units as text, each after the units whose names it reads as it runs (a wrapper's
        call runs its module's statements), else in the order they were emitted."""
        units = list(self.top.units.values())
        reads = [self._eager(u) for u in units]
        every = {name for u in units for name in u.binds}
        placed: set[str] = set()
        out: list[str] = []
        pending = list(range(len(units)))
        while pending:
            pick = next((i for i in pending if (reads[i] & every) - set(units[i].binds) <= placed), pending[0])
            pending.remove(pick)
            placed |= set(units[pick].binds)
            out.append(self._text(units[pick]))
        return out

    def _text(self, unit: _Unit) -> str:
        if unit.kind == "namespace":
            fields = ", ".join(f"{a}={a}" for a in sorted(unit.attrs))
            return f"{unit.binds[0]} = types.SimpleNamespace({fields})  # module {unit.module}"
        if unit.kind == "code":
            return unit.text
        wrapper = self.wrappers[unit.module]
        out = f"def {wrapper.function}():\n"
        out += f'    """Module {wrapper.module}: what is used of it, kept apart (its names clash with others)."""'
        own = {n for u in wrapper.frame.units.values() if u.order[0] for n in u.binds}
        previous_simple = True
        for part in sorted(wrapper.frame.units.values(), key=lambda u: u.order):
            hidden = (self._eager(part) & own) - set(part.binds) if not part.order[0] else set()
            if hidden:
                raise _Conflict(f"{', '.join(sorted(hidden))}: {wrapper.module}'s own and another module's")
            text = self._text(part)
            simple = isinstance(ast.parse(text).body[0], (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr,
                                                           ast.Import, ast.ImportFrom))
            out += ("\n" if simple and previous_simple else "\n\n") + _indent(text, wrapper.module)
            previous_simple = simple
        fields = ", ".join(f"{a}={a}" for a in sorted(wrapper.exports))
        out += ("\n" if previous_simple else "\n\n") + f"    return types.SimpleNamespace({fields})"
        return f"{out}\n\n\n{wrapper.instance} = {wrapper.function}()"

    def _eager(self, unit: _Unit) -> set[str]:
        if unit.kind == "namespace":
            return set(unit.attrs)
        if unit.kind == "code":
            return _eager_reads(unit.text)
        frame = self.wrappers[unit.module].frame
        return {n for u in frame.units.values() for n in self._eager(u)} - set(frame.bound)


def _users(scope: ModuleScope, wanted: dict[int, set[str]]) -> list[ast.stmt]:
    """The statements of `wanted` that are not imports (those that use what the imports bind)."""
    return [scope.statements[i] for i in wanted if not scope.is_import(i)]


class _OtherUse(Exception):
    pass


def _attribute_uses(nodes: list[ast.AST], name: str) -> set[str] | None:
    """The attributes read as `name.attr` in `nodes`, or None if `name` is used any other way. Only the
    module-level `name` counts: a function, lambda or comprehension that binds a `name` of its own
    (`uri = ref.unsplit()` beside `from . import uri`) hides it from its body."""
    attrs: set[str] = set()

    def visit(node: ast.AST, hidden: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for part in header_expressions(node) if not isinstance(node, ast.Lambda) else \
                    node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                visit(part, hidden)
            body = node.body if isinstance(node.body, list) else [node.body]
            inner = hidden or _binds_locally(node, name)
            for stmt in body:
                visit(stmt, inner)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = hidden or any(isinstance(t, ast.Name) and t.id == name
                                  for g in node.generators for t in ast.walk(g.target))
            visit(node.generators[0].iter, hidden)  # evaluated in the enclosing scope
            rest = [node.elt] if not isinstance(node, ast.DictComp) else [node.key, node.value]
            rest += [g.target for g in node.generators] + [g.iter for g in node.generators[1:]]
            rest += [c for g in node.generators for c in g.ifs]
            for part in rest:
                visit(part, inner)
            return
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name:
            if hidden:
                return
            if not isinstance(node.ctx, ast.Load):
                raise _OtherUse
            attrs.add(node.attr)
            return
        if isinstance(node, ast.Name) and node.id == name and not hidden:
            raise _OtherUse
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            raise _OtherUse
        for child in ast.iter_child_nodes(node):
            visit(child, hidden)

    try:
        for root in nodes:
            visit(root, False)
    except _OtherUse:
        return None
    return attrs


def _binds_locally(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, name: str) -> bool:
    """Whether a function binds `name` in its own scope (a parameter, or assigned, imported, defined in
    its body outside nested scopes) without declaring it `global`/`nonlocal`."""
    args = node.args
    if name in {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]}:
        return True
    if isinstance(node, ast.Lambda):
        return False
    pending: list[ast.AST] = list(node.body)
    found = False
    while pending:
        item = pending.pop()
        if isinstance(item, (ast.Global, ast.Nonlocal)) and name in item.names:
            return False
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found = found or item.name == name
            continue
        if isinstance(item, (ast.Lambda, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            continue
        if isinstance(item, ast.Name) and item.id == name and not isinstance(item.ctx, ast.Load):
            found = True
        elif isinstance(item, (ast.Import, ast.ImportFrom)):
            found = found or any((a.asname or a.name.split(".")[0]) == name for a in item.names)
        elif isinstance(item, ast.ExceptHandler) and item.name == name:
            found = True
        pending.extend(ast.iter_child_nodes(item))
    return found


def _check_wrappable(module: str, text: str) -> None:
    """Raise unless `text` (a statement of `module`) means the same inside a function: no `global` or
    `nonlocal`, no `globals()`/`locals()`/`vars()` reading the scope it runs in."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            raise _Unwrappable(f"{module} cannot be wrapped in a function: it uses `{type(node).__name__.lower()}`")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "locals", "vars") \
                and not (node.func.id == "vars" and node.args):
            raise _Unwrappable(f"{module} cannot be wrapped in a function: it calls {node.func.id}()")


def _indent(text: str, module: str) -> str:
    """`text` indented one level. Lines that continue a multi-line string are left as they are, except
    in docstrings (read through `inspect.cleandoc`, which takes the common indentation off); raises
    unless the result parses to the same statements (docstrings cleaned)."""
    try:
        tree = ast.parse(text)
        strings: list[tuple[int, int]] = []  # (first, last) line of each multi-line string
        opened: list[int] = []
        for tok in tokenize.generate_tokens(io.StringIO(text + "\n").readline):
            kind = tokenize.tok_name[tok.type]
            if kind == "STRING" and tok.end[0] > tok.start[0]:
                strings.append((tok.start[0], tok.end[0]))
            elif kind == "FSTRING_START":  # Python 3.12+: an f-string is several tokens
                opened.append(tok.start[0])
            elif kind == "FSTRING_END" and opened:
                strings.append((opened.pop(), tok.end[0]))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise _Unwrappable(f"{module} cannot be re-indented: {exc}") from None
    docstrings = {(d.lineno, d.end_lineno) for d in _docstrings(tree)}
    lines = text.split("\n")
    expected = [_clean_dump(n) for n in tree.body]
    for indent_docstrings in (True, False):
        kept = {n for first, last in strings if not (indent_docstrings and (first, last) in docstrings)
                for n in range(first + 1, last + 1)}
        in_doc = {n for first, last in docstrings for n in range(first + 1, last + 1)} if indent_docstrings else set()
        out = "\n".join(ln if i + 1 in kept or not (ln.strip() or (i + 1 in in_doc and ln)) else "    " + ln
                        for i, ln in enumerate(lines))
        try:
            if [_clean_dump(n) for n in ast.parse("def f():\n" + out).body[0].body] == expected:
                return out
        except SyntaxError:
            pass
    raise _Unwrappable(f"{module} cannot be re-indented safely")


def _docstrings(tree: ast.AST) -> list[ast.Constant]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.append(first.value)
    return out


def _clean_dump(node: ast.AST) -> str:
    for doc in _docstrings(node):
        doc.value = inspect.cleandoc(doc.value)
    return ast.dump(node)


def _eager_reads(text: str) -> set[str]:
    """Names `text` reads when it runs (not those read only inside the functions it defines)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    out: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending += header_expressions(node)
        elif isinstance(node, ast.Lambda):
            pending += node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
        else:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                out.add(node.id)
            pending += ast.iter_child_nodes(node)
    return out


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
                           body: str = "", strip_docstrings: bool = False, signature: str = "") -> Inlined:
    """`context` (of a function of `module`, in `filename`) with imports of the project's other modules inlined.

    `needs` are the module-level names the function itself reads (to resolve `from pkg.x import *`), `own`
    its name, `signature` its header (decorators and `def` line) and `body` its body (to see which
    attributes of an imported module it reads, defaults included: `import pkg as p` and `from pkg import
    submodule` become a namespace of the definitions read through them).
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
               or isinstance(s, ast.Import) and any(a.name.split(".")[0] == project.top_package for a in s.names)]
    if not touched:
        return Inlined(context)
    top = project.top
    try:
        users: list[ast.AST] = list(rest)
        try:  # the function itself (its parameters and locals hide module-level names from its body)
            users.append(ast.parse(signature.strip("\n") + "\n" + textwrap.indent(textwrap.dedent(body), "    ")))
        except SyntaxError:
            for text in (body, signature.strip("\n") + "\n    pass\n" if signature else ""):
                try:
                    users.append(ast.parse(textwrap.dedent(text)))
                except SyntaxError:
                    pass
        if own:
            top.bind(own, f"{module}.{own}", OWN_FUNCTION)
            project.own_name = own
        for stmt in rest:
            keys = _import_keys(stmt, package) if isinstance(stmt, (ast.Try, ast.If)) else {}
            for bound in _bound_names(stmt):
                top.bind(bound, keys.get(bound, f"{module}.{bound}"), _unit_text(lines, stmt))
        kept: list[str] = []
        for stmt in head:
            if stmt not in touched:
                kept.append(_unit_text(lines, stmt))
                for bound, key in _import_keys(stmt, package).items():
                    top.bind(bound, key)
        stars: list[str] = []
        for stmt in touched:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    bound = alias.asname or alias.name
                    if alias.name.split(".")[0] != project.top_package:
                        kept.append(f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""))
                        continue
                    if not alias.asname and "." in alias.name:
                        raise _Unresolved(f"import {alias.name} (a dotted module path)")
                    project.namespace(top, bound, alias.name, _attribute_uses(users, bound), 1)
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
                    project.namespace(top, alias.asname or alias.name, sub, _attribute_uses(users, alias.asname or alias.name), 1)
                    continue
                project.import_name(top, target, alias.name, alias.asname or alias.name, 1)
        if stars:
            loaded = set(needs) | _globals_read(symtable.symtable(context, "<context>", "exec"))
            missing = {n for n in loaded if n not in top.bound and n not in BUILTIN_NAMES and n not in MODULE_DUNDERS}
            for target in reversed(stars):
                found = project.scope(target)
                if found is None:
                    raise _Unresolved(f"no file for {target}")
                for name in sorted(missing):
                    if name in found[0].bindings and _exported(found[0], name):
                        project.import_name(top, target, name, name, 1)
                        missing.discard(name)
            if missing:
                raise _Unresolved(f"{', '.join(sorted(missing))} not found in {', '.join(stars)}")
        text = _render(project, kept, rest, lines)
    except _Conflict as exc:  # not even wrapping the module in a function keeps the names apart
        return Inlined(context, reason="inline_name_clash", detail=str(exc))
    except _Unresolved as exc:
        return Inlined(context, detail=str(exc))
    except _TooLarge as exc:
        return Inlined(context, reason="context_too_large", detail=str(exc))
    return Inlined(text, tuple(dict.fromkeys(project.names)))


def _render(project: _Project, kept: list[str], rest: list[ast.stmt], lines: list[str]) -> str:
    futures = [t for t in project.futures if t not in kept]
    kept_futures = [t for t in kept if t.startswith("from __future__")]
    others = [t for t in kept if not t.startswith("from __future__")]
    imports = list(dict.fromkeys(kept_futures + futures + others + [t for t in project.imports if t not in kept]))
    blocks: list[str] = []
    if imports:
        blocks.append("\n".join(imports))
    blocks += project.render_units()
    emitted = project.emitted_texts()
    text = ""
    previous_simple = False
    for stmt in rest:  # the task's own helpers, spaced as curation.extract spaces them, less those inlined above
        if _unit_text(lines, stmt) in emitted:
            continue
        simple = not hasattr(stmt, "body")
        if text:
            text += "\n" if simple and previous_simple else "\n\n\n"
        text += _unit_text(lines, stmt)
        previous_simple = simple
    if text:
        blocks.append(text)
    return "\n\n\n".join(blocks) + "\n"
