"""Turn traced functions into self-contained, validated Problems.

libcst (curation.extract) gives each function its signature, docstring, body and the
imports, helpers and constants it needs; the recorded calls become `Problem.calls`
(codexsd.sandbox.calls.Call: an expression, and the encoding of what it returned at trace
time or the exception it raised; types compared exactly all the way down) and the `test`
text is rendered from them. Every task of a shard is judged in ONE sandbox batch through
`judge_bodies` (the reference runs with nothing but the task's text, the comparison happens
outside the program); a task that fails is a Reject.

Only module-level functions become tasks: the tracer never records functions whose
first parameter is self/cls (their behaviour depends on object state), and static
methods and other class members are rejected as `method` (their bodies reach the class
by name, which a standalone task cannot provide).
"""

from __future__ import annotations

import ast
import logging
import re
import textwrap
from pathlib import Path
from typing import Any, Iterator

from codexsd.core.record import Problem, Reject
from curation.ci.config import CIConfig
from filters.base import SandboxShard

log = logging.getLogger(__name__)

STAGE = "collect-ci"
# modules importable under a second name: importing the alias imports the original
MODULE_ALIASES = {"posixpath": ("os.path",), "ntpath": ("os.path",), "_pydecimal": ("decimal",),
                  "_pydatetime": ("datetime",), "_strptime": ("time",)}
def task_calls(calls: list[dict], cap: int | None = None) -> list:
    """The replayed calls as `Call`s: value calls first, then expected exceptions; at most `cap`."""
    from codexsd.sandbox.calls import Call

    out = [Call(expr=c["expr"], expected=c.get("expected"), raises=c.get("raises", "")) for c in calls]
    out.sort(key=lambda c: bool(c.raises))
    return out[:cap] if cap else out


def imports_own_module(context: str, module: str) -> str | None:
    """The import in `context` that brings in `module` itself (or an alias of it), if any."""
    aliases = MODULE_ALIASES.get(module, ())
    own = {module, *aliases, *(a.rsplit(".", 1)[0] for a in aliases if "." in a)}  # `import os` gives os.path
    try:
        tree = ast.parse(context)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in own:
                    return f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                return f"from {'.' * node.level}{node.module or ''} import ..."
            if node.module in own or any(f"{node.module}.{a.name}" in own for a in node.names):
                return f"from {node.module} import ..."
    return None


def third_party_imports(source: str) -> list[str]:
    """Top-level modules outside the standard library that `source` imports unconditionally (an import
    inside a `try` with handlers or under an `if` (`TYPE_CHECKING`, a Python 2 branch) is not counted)."""
    import sys

    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return []
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and node.handlers:
            guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        elif isinstance(node, ast.If):  # `if TYPE_CHECKING:`, `if PY2: ... else: ...`: a branch may not run
            guarded.update(id(n) for stmt in (*node.body, *node.orelse) for n in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return sorted(m for m in found if m not in sys.stdlib_module_names and m != "__future__")


_RELATIVE_IMPORT = re.compile(r"^(\s*from\s+)(\.+)([\w.]*)(\s+import\b)", re.M)


def absolute_imports(context: str, module: str, is_package: bool) -> str:
    """`context` with relative imports made absolute (`from .x import y` in a.b -> `from a.x import y`)."""
    package = module if is_package else module.rpartition(".")[0]

    def fix(m: re.Match) -> str:
        parts = package.split(".") if package else []
        level = len(m.group(2))
        if level - 1 >= len(parts):
            return m.group(0)  # beyond the top package: left as it is (validation will say so)
        base = ".".join(parts[: len(parts) - (level - 1)])
        target = f"{base}.{m.group(3)}" if m.group(3) else base
        return f"{m.group(1)}{target}{m.group(4)}"

    return _RELATIVE_IMPORT.sub(fix, context)


def _is_stdlib(filename: str) -> bool:
    from curation.ci.stdlib import stdlib_dir

    return Path(filename).is_relative_to(stdlib_dir())


def _header(info) -> str:
    decorators = [d if d.startswith("@") else f"@{d}" for d in (info.decorators or ())]
    signature = info.signature.strip("\n")
    if decorators and not signature.lstrip().startswith("@"):
        signature = "\n".join(decorators) + "\n" + signature
    return signature


def _docstring_block(info) -> str:
    if not info.docstring_raw:
        return ""
    body_indent = next((ln[: len(ln) - len(ln.lstrip())] for ln in info.body.splitlines() if ln.strip()), "    ")
    raw = info.docstring_raw.strip()
    return f"{body_indent or '    '}{raw}\n"


def _prompt(context: str, header: str, docblock: str) -> str:
    return (context.rstrip("\n") + "\n\n\n" if context.strip() else "") + header + "\n" + docblock


def project_values_in_calls(calls: list[dict], package: str, taken: set[str],
                            definable=lambda name, module: True) -> tuple[list[dict], dict[str, str], int]:
    """Calls whose arguments import the project itself (its own enum members or named tuples:
    `(lambda pkg=__import__('pkg.mod'): candidate(pkg.mod.Color.RED))()`), rewritten to name the class
    bare (`candidate(Color.RED)`) so the task can define it; returns (calls, {class: module} to import
    into the task's context, how many calls were dropped because they could not be rewritten).
    `taken`: names the task already binds otherwise; `definable(name, module)`: whether the task can
    define that class (a call needing one it cannot is dropped)."""
    out, classes, dropped = [], {}, 0
    for call in calls:
        if f"__import__('{package}" not in call["expr"]:
            out.append(call)
            continue
        rewritten = _rewrite_project_values(call["expr"], package, classes, taken, definable)
        if rewritten is None:
            dropped += 1
            continue
        out.append({**call, "expr": rewritten})
    return out, classes, dropped


def _rewrite_project_values(expr: str, package: str, classes: dict[str, str], taken: set[str],
                            definable) -> str | None:
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None
    outer = tree.body
    if not (isinstance(outer, ast.Call) and isinstance(outer.func, ast.Lambda) and not outer.args):
        return None
    lam = outer.func
    bound: dict[str, str] = {}  # lambda parameter -> module it was bound to, for the project's own modules
    keep_args, keep_defaults = [], []
    for arg, default in zip(lam.args.args, lam.args.defaults):
        if (isinstance(default, ast.Call) and isinstance(default.func, ast.Name) and default.func.id == "__import__"
                and default.args and isinstance(default.args[0], ast.Constant)
                and str(default.args[0].value).split(".")[0] == package):
            bound[arg.arg] = str(default.args[0].value)
        else:
            keep_args.append(arg)
            keep_defaults.append(default)
    found: dict[str, str] = {}

    class Bare(ast.NodeTransformer):
        def visit_Attribute(self, node):
            parts, inner = [], node
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id in bound:
                dotted = ".".join([inner.id, *reversed(parts)])
                module = bound[inner.id]
                if dotted.startswith(module + ".") and "." not in dotted[len(module) + 1:]:
                    found[dotted[len(module) + 1:]] = module
                    return ast.copy_location(ast.Name(dotted[len(module) + 1:], ast.Load()), node)
            return self.generic_visit(node)

    body = Bare().visit(lam.body)
    if any(isinstance(n, ast.Name) and n.id in bound for n in ast.walk(body)):
        return None  # the module is used some other way
    for name, module in found.items():
        if classes.get(name, module) != module or not definable(name, module) or name in taken:
            return None
    classes.update(found)
    if keep_args:
        lam.args.args, lam.args.defaults, lam.body = keep_args, keep_defaults, body
        return ast.unparse(outer)
    return ast.unparse(body)


def build_problem(item: dict[str, Any], info, config: CIConfig) -> Problem | Reject:
    """The task for one traced function, before validation (or a Reject saying why not)."""
    task_id = item["id"]
    if info.is_method or info.class_name:
        return Reject(task_id, STAGE, "method", f"{info.qualname} belongs to class {info.class_name}")
    if config.require_docstring and not (info.docstring or "").strip():
        return Reject(task_id, STAGE, "no_docstring", info.qualname)
    header = _header(info)
    docblock = _docstring_block(info)
    context = info.context or ""
    inlined = None
    calls_in, drops = item["calls"], item["drops"]
    if not _is_stdlib(item["filename"]):  # the sandbox has the stdlib, not the project: inline its own imports
        from curation._cst_inline import inline_project_imports

        def definable(name: str, module: str) -> bool:  # a class of the task's own module: only if its context has it
            return module != item["module"] or re.search(rf"^class {name}\b", context, re.M) is not None

        # {info.name}: the only name a passed class may not take (a class the function reads is the one passed)
        calls_in, classes, dropped = project_values_in_calls(calls_in, item["module"].split(".")[0], {info.name},
                                                             definable)
        if dropped:
            drops = {**drops, "project_value_not_rewritten": drops.get("project_value_not_rewritten", 0) + dropped}
        if not calls_in:
            return Reject(task_id, STAGE, "no_kept_calls", "every call passes a value of the project's own that "
                          "could not be named in the task")
        extra = "".join(f"from {module} import {name}\n" for name, module in sorted(classes.items())
                        if module != item["module"])
        needs = (*info.referenced_names, *sorted(classes))
        for strip in (False, True):  # too long with the inlined helpers' docstrings: try without them
            inlined = inline_project_imports(extra + (info.context or ""), item["module"], item["filename"],
                                             needs, own=info.name, body=info.body,
                                             strip_docstrings=strip, signature=header)
            if inlined.reason:
                continue
            if not inlined.names or len(_prompt(inlined.context, header, docblock)) <= inlined.max_chars:
                break
        if inlined.reason:
            return Reject(task_id, STAGE, inlined.reason, inlined.detail)
        context = inlined.context
        prompt = _prompt(context, header, docblock)
        if inlined.names and len(prompt) > inlined.max_chars:  # what inlining added made it too long
            return Reject(task_id, STAGE, "context_too_large", f"prompt of {len(prompt)} chars with "
                          f"{len(inlined.names)} inlined definitions > {inlined.max_chars} (CODEXSD_INLINE_MAX_CHARS)")
    context = absolute_imports(context, item["module"], Path(item["filename"]).name == "__init__.py")
    own = imports_own_module(context, item["module"])
    if own:
        return Reject(task_id, STAGE, "imports_own_module", own)
    prompt = _prompt(context, header, docblock)
    body = info.body if info.body.endswith("\n") else info.body + "\n"
    package = item["module"].split(".")[0]
    foreign = [m for m in third_party_imports(prompt + body) if m != package]
    if foreign:
        return Reject(task_id, STAGE, "needs_third_party", f"imports {', '.join(foreign)}: not in the sandbox, "
                      "which has the standard library only")
    from codexsd.sandbox.calls import render_check

    calls = task_calls(calls_in)
    test = render_check(calls)
    problem = Problem(
        task_id=task_id,
        prompt=prompt,
        canonical_solution=body,
        test=test,
        entry_point=info.name,
        source="ci",
        origin={**item["origin"], "module": item["module"], "qualname": item["qualname"],
                "path": item["rel_path"], "line": item["firstlineno"]},
        signature=header,
        docstring=info.docstring or "",
        body=body,
        context=context,
        metadata={"n_tests": len(calls), "n_raises": sum(1 for c in calls if c.raises),
                  "call_drops": drops, "traced_by": item.get("traced_by", []),
                  **({"inlined": list(inlined.names)} if inlined and inlined.names else {})},
        calls=[c.to_dict() for c in calls],
    )
    from curation.ci.exprs import utf8

    if not utf8(problem.to_dict()):
        return Reject(task_id, STAGE, "not_utf8", "the task's text holds a lone surrogate")
    try:
        ast.parse(problem.program())
    except SyntaxError as exc:
        return Reject(task_id, STAGE, "not_self_contained", f"program does not parse: {exc}")
    return problem


def _pre_reject(item: dict[str, Any], config: CIConfig) -> Reject | None:
    task_id = item["id"]
    if item.get("kind") == "project_failure":
        return Reject(task_id, STAGE, item["reason"], item.get("detail", ""))
    calls = item["calls"]
    if not calls:
        top = sorted(item["drops"].items(), key=lambda kv: -kv[1])[:4]
        return Reject(task_id, STAGE, "no_kept_calls", ", ".join(f"{r}={n}" for r, n in top))
    if len(calls) < config.min_calls_per_function:
        return Reject(task_id, STAGE, "too_few_calls", f"{len(calls)} < min_calls_per_function")
    if all(not c.get("raises") and c.get("expected") == ["None"] for c in calls):
        return Reject(task_id, STAGE, "returns_only_none", f"{len(calls)} call(s), all returning None")
    if "." in item["qualname"]:
        return Reject(task_id, STAGE, "method", f"{item['qualname']} is defined in a class")
    return None


def traced_definition(result, qualname: str, firstlineno: int):
    """The definition the tracer saw: same qualname, and its `def` (or first decorator) at `firstlineno`."""
    best = None
    for info in result.functions:
        if info.qualname != qualname:
            continue
        gap = info.start_line - firstlineno  # co_firstlineno is the first decorator's line
        if 0 <= gap <= 2 * len(info.decorators) + 20 and (best is None or gap < best[0]):
            best = (gap, info)
    return best[1] if best else None


class TaskBuilder(SandboxShard):
    """The stage function: traced-function items in, validated Problems or Rejects out.

    Picklable (pool or Ray workers): `sandbox` is used in the process that made it; a worker
    opens its own (`config.sandbox`, else the backend of `sandbox`) once, with `sandbox_workers`.
    The items' source files must be readable where it runs (OUT on shared storage, for Ray).
    """

    def __init__(self, config: CIConfig, sandbox=None, sandbox_workers: int | None = None):
        self.config = config
        self.sandbox = sandbox
        self.backend = config.sandbox or getattr(sandbox, "name", None)
        self.sandbox_workers = sandbox_workers

    def __call__(self, items: list[dict[str, Any]]) -> Iterator[Problem | Reject]:
        from curation import extract
        from codexsd.sandbox.calls import judge_bodies

        results: list[Problem | Reject | None] = []
        parsed: dict[str, Any] = {}
        for item in items:
            early = _pre_reject(item, self.config)
            if early is not None:
                results.append(early)
                continue
            path = item["filename"]
            if path not in parsed:
                try:
                    parsed[path] = extract.extract_file(path)
                except extract.ExtractError as exc:
                    parsed[path] = exc
                except OSError as exc:
                    parsed[path] = extract.ExtractError("unreadable", str(exc))
            source = parsed[path]
            if isinstance(source, Exception):
                results.append(Reject(item["id"], STAGE, "extract_error", str(source)))
                continue
            info = traced_definition(source, item["qualname"], item["firstlineno"])
            if info is None:
                results.append(Reject(item["id"], STAGE, "not_extracted",
                                      f"no definition of {item['qualname']} at line {item['firstlineno']} of {path}"))
                continue
            results.append(build_problem(item, info, self.config))

        todo = [(i, r) for i, r in enumerate(results) if isinstance(r, Problem)]
        judged = judge_bodies(self.get_sandbox(), [(p, p.canonical_solution) for _, p in todo],
                              timeout=self.config.validation_timeout) if todo else []
        for (i, problem), (outcome, _) in zip(todo, judged):
            if not outcome.passed:  # (no run time kept: the output bytes must not depend on where it ran)
                reason = {"failed": "validation_failed", "timeout": "validation_timeout"}.get(outcome.status.value,
                                                                                              "validation_error")
                results[i] = Reject(problem.task_id, STAGE, reason, outcome.detail[-500:])
        yield from results  # type: ignore[misc]
