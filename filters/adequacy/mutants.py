"""Mutants of a reference solution, made with libcst.

A mutant is the reference's entry-point definition (function or class) with one small change,
written as a redefinition after the reference: `prompt + canonical_solution + mutant.code`
is a program whose entry point is the mutant, and whose helpers, context and recursion (the
redefined name is global) are the reference's. Operators, one change each:

    comparison   < <= > >= == != in / not in, is / is not swapped
    arithmetic   + -, * / //, % swapped (also in augmented assignments)
    boolean      and <-> or, `not x` -> x, True <-> False
    constant     an integer literal +1 or -1
    negate_if    `if c:` -> `if not (c):`
    zero_loop    `for x in it:` -> `for x in ():`, `while c:` -> `while False:`
    early_return the function's last `return e` copied before an earlier top-level statement
    pass         a simple statement replaced by `pass`
    return_value the whole body replaced by `return <v>`, for each distinct expected value v

`make_mutants(source, entry_point, values, k, seed)` samples up to k of them, round-robin over
the operator kinds in a seeded order, so small functions still get every kind they have.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import libcst as cst

KINDS = ("comparison", "arithmetic", "boolean", "constant", "negate_if", "zero_loop", "early_return", "pass",
         "return_value")

_CMP_SWAP = {
    cst.LessThan: cst.LessThanEqual, cst.LessThanEqual: cst.LessThan,
    cst.GreaterThan: cst.GreaterThanEqual, cst.GreaterThanEqual: cst.GreaterThan,
    cst.Equal: cst.NotEqual, cst.NotEqual: cst.Equal,
    cst.In: cst.NotIn, cst.NotIn: cst.In, cst.Is: cst.IsNot, cst.IsNot: cst.Is,
}
_BIN_SWAP = {
    cst.Add: cst.Subtract, cst.Subtract: cst.Add, cst.Multiply: cst.FloorDivide, cst.Divide: cst.Multiply,
    cst.FloorDivide: cst.Multiply, cst.Modulo: cst.FloorDivide,
}
_AUG_SWAP = {
    cst.AddAssign: cst.SubtractAssign, cst.SubtractAssign: cst.AddAssign, cst.MultiplyAssign: cst.FloorDivideAssign,
    cst.DivideAssign: cst.MultiplyAssign, cst.FloorDivideAssign: cst.MultiplyAssign, cst.ModuloAssign: cst.FloorDivideAssign,
}


@dataclass(frozen=True)
class Mutant:
    kind: str
    description: str
    code: str  # the mutated definition of the entry point (a module-level statement)


class MutationError(ValueError):
    """The reference cannot be mutated (it does not parse, or has no definition of the entry point)."""


def entry_definition(source: str, entry_point: str) -> cst.CSTNode:
    """The last module-level `def`/`class` named `entry_point` in `source`."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise MutationError(f"reference does not parse: {str(exc).splitlines()[0]}") from None
    found = None
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.name.value == entry_point:
            found = stmt
    if found is None:
        raise MutationError(f"no module-level definition of {entry_point!r}")
    return found


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


class _Sites(cst.CSTVisitor):
    """Every place an operator applies: (kind, description, node, replacement) tuples."""

    def __init__(self) -> None:
        self.sites: list[tuple[str, str, cst.CSTNode, Callable[[], cst.CSTNode]]] = []

    def add(self, kind: str, what: str, node: cst.CSTNode, make: Callable[[], cst.CSTNode]) -> None:
        self.sites.append((kind, what, node, make))

    def visit_ComparisonTarget(self, node: cst.ComparisonTarget) -> None:
        new = _CMP_SWAP.get(type(node.operator))
        if new is not None:
            self.add("comparison", f"{type(node.operator).__name__} -> {new.__name__}", node,
                     lambda: node.with_changes(operator=new()))
        if isinstance(node.operator, cst.LessThan):
            self.add("comparison", "LessThan -> GreaterThan", node, lambda: node.with_changes(operator=cst.GreaterThan()))
        if isinstance(node.operator, cst.GreaterThan):
            self.add("comparison", "GreaterThan -> LessThan", node, lambda: node.with_changes(operator=cst.LessThan()))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        new = _BIN_SWAP.get(type(node.operator))
        if new is not None:
            self.add("arithmetic", f"{type(node.operator).__name__} -> {new.__name__}", node,
                     lambda: node.with_changes(operator=new()))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        new = _AUG_SWAP.get(type(node.operator))
        if new is not None:
            self.add("arithmetic", f"{type(node.operator).__name__} -> {new.__name__}", node,
                     lambda: node.with_changes(operator=new()))

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        new = cst.Or if isinstance(node.operator, cst.And) else cst.And
        self.add("boolean", f"{type(node.operator).__name__} -> {new.__name__}", node,
                 lambda: node.with_changes(operator=new()))

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self.add("boolean", "not x -> x", node, lambda: cst.ensure_type(node.expression, cst.BaseExpression))

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in ("True", "False"):
            other = "False" if node.value == "True" else "True"
            self.add("boolean", f"{node.value} -> {other}", node, lambda: node.with_changes(value=other))

    def visit_Integer(self, node: cst.Integer) -> None:
        try:
            value = int(node.value.replace("_", ""), 0)
        except ValueError:
            return
        for delta in (1, -1):
            if value + delta >= 0:
                self.add("constant", f"{value} -> {value + delta}", node,
                         lambda d=delta: node.with_changes(value=str(value + d)))

    def visit_If(self, node: cst.If) -> None:
        self.add("negate_if", "if c -> if not (c)", node, lambda: node.with_changes(test=cst.UnaryOperation(
            operator=cst.Not(), expression=_paren(node.test))))

    def visit_For(self, node: cst.For) -> None:
        self.add("zero_loop", "for loop runs zero times", node, lambda: node.with_changes(iter=cst.Tuple(elements=[])))

    def visit_While(self, node: cst.While) -> None:
        self.add("zero_loop", "while loop runs zero times", node, lambda: node.with_changes(test=cst.Name("False")))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if _is_docstring(node) or all(isinstance(s, (cst.Pass, cst.Return)) for s in node.body):
            return
        first = type(node.body[0]).__name__
        self.add("pass", f"{first} statement -> pass", node, lambda: node.with_changes(body=[cst.Pass()]))


def _paren(expr: cst.BaseExpression) -> cst.BaseExpression:
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]) if not expr.lpar else expr


def _function_level_sites(fn: cst.FunctionDef, values_source: Sequence[str]) -> list[tuple[str, str, Callable[[], cst.CSTNode]]]:
    """Sites that rewrite the whole function: early return, and body -> return <value>."""
    out: list[tuple[str, str, Callable[[], cst.CSTNode]]] = []
    if not isinstance(fn.body, cst.IndentedBlock):
        return out
    stmts = list(fn.body.body)
    head = 1 if stmts and _is_docstring(stmts[0]) else 0
    last = stmts[-1] if stmts else None
    if (isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1 and isinstance(last.body[0], cst.Return)
            and len(stmts) - head >= 2):
        at = len(stmts) - 2  # before the last statement that does work
        new_body = stmts[:at] + [last] + stmts[at:]
        out.append(("early_return", f"return before statement {at + 1}",
                    lambda: fn.with_changes(body=fn.body.with_changes(body=new_body))))
    for src in values_source:
        try:
            ret = cst.parse_statement(f"return {src}\n")
        except cst.ParserSyntaxError:
            continue
        out.append(("return_value", f"return {src[:60]}",
                    lambda r=ret: fn.with_changes(body=fn.body.with_changes(body=stmts[:head] + [r]))))
    return out


def make_mutants(source: str, entry_point: str, values_source: Sequence[str] = (), k: int = 24,
                 seed: int = 0) -> list[Mutant]:
    """Up to `k` distinct mutants of the entry point's definition in `source`, round-robin over kinds.

    `values_source` are Python expressions of the distinct expected values (for `return_value`).
    Raises MutationError when `source` does not parse or lacks the definition."""
    target = entry_definition(source, entry_point)
    original = cst.Module(body=[target]).code
    finder = _Sites()
    target.visit(finder)
    by_kind: dict[str, list[tuple[str, Callable[[], cst.CSTNode]]]] = {kind: [] for kind in KINDS}
    for kind, what, node, make in finder.sites:
        if node is target:
            continue
        by_kind[kind].append((what, lambda n=node, m=make: target.deep_replace(n, m())))
    if isinstance(target, cst.FunctionDef):
        for kind, what, make in _function_level_sites(target, values_source):
            by_kind[kind].append((what, make))
    rng = random.Random(seed)
    queues = {kind: rng.sample(sites, len(sites)) for kind, sites in by_kind.items() if sites}
    order = rng.sample(sorted(queues), len(queues))
    if "return_value" in queues:  # constant bodies first: every task gets them, whatever k is
        order.remove("return_value")
        order.insert(0, "return_value")
    mutants: list[Mutant] = []
    seen = {original}
    while len(mutants) < k and any(queues.values()):
        for kind in order:
            if len(mutants) >= k or not queues[kind]:
                continue
            what, make = queues[kind].pop()
            try:
                code = cst.Module(body=[cst.ensure_type(make(), cst.CSTNode)]).code
                compile(code, "<mutant>", "exec")
            except Exception:  # an operator that makes no valid code here: skip the site
                continue
            if code not in seen:
                seen.add(code)
                mutants.append(Mutant(kind, what, code))
    return mutants
