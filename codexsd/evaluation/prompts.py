"""Split a HumanEval-style prompt into context, signature and docstring, and put it back together
with another docstring or turn it into Codex-D's docstring_last prompt."""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass

from codexsd.core.record import Problem


@dataclass(frozen=True)
class PromptParts:
    context: str  # everything before the function (imports, helpers)
    signature: str  # decorators + the `def ...:` header as written (+ any imports before the docstring)
    docstring: str  # cleaned docstring text
    indent: str  # the body's indentation


def split_prompt(problem: Problem) -> PromptParts:
    """The pieces of `problem.prompt`, whose last function named entry_point must carry a docstring."""
    try:
        tree = ast.parse(problem.prompt)
    except SyntaxError as exc:
        raise ValueError(f"{problem.task_id}: the prompt does not parse ({exc.msg}, line {exc.lineno})") from exc
    funcs = [
        n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == problem.entry_point
    ]
    if not funcs:
        raise ValueError(f"{problem.task_id}: no top-level function {problem.entry_point!r} in the prompt")
    func = funcs[-1]
    doc_node = _docstring_node(func)
    if doc_node is None:
        raise ValueError(f"{problem.task_id}: {problem.entry_point} has no docstring")
    docstring = inspect.cleandoc(doc_node.value.value).strip()
    lines = problem.prompt.splitlines(keepends=True)
    start = min([func.lineno] + [d.lineno for d in func.decorator_list]) - 1
    doc_line = lines[doc_node.lineno - 1]
    indent = doc_line[: len(doc_line) - len(doc_line.lstrip())]
    return PromptParts(
        context="".join(lines[:start]),
        signature="".join(lines[start : doc_node.lineno - 1]).rstrip("\n"),
        docstring=docstring,
        indent=indent,
    )


def _docstring_node(func: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.Expr | None:
    """The function's docstring statement; a string after leading imports counts (HumanEval/115 has one)."""
    for stmt in func.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            return stmt
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return None
    return None


def prompt_with_docstring(parts: PromptParts, docstring: str) -> str:
    """A HumanEval-style prompt: context + signature + `docstring` in triple quotes, ready for a body."""
    text = textwrap.dedent(docstring).strip("\n").replace('"""', r"\"\"\"")
    body = "\n".join(parts.indent + line if line.strip() else "" for line in text.splitlines())
    return f'{parts.context}{parts.signature}\n{parts.indent}"""\n{body}\n{parts.indent}"""\n'


def docstring_last_pair(parts: PromptParts, body: str, docstring: str | None = None) -> tuple[str, str] | None:
    """Codex-D's (prompt, target) for a function body: the same text `codexsd format` trains D on.

    None when the body is empty (nothing to describe).
    """
    from formats.docstring_last import docstring_last_row

    probe = Problem(
        task_id="probe", prompt="", canonical_solution=body, test="", entry_point="",
        signature=parts.signature, docstring=docstring if docstring is not None else parts.docstring, body=body,
    )
    row = docstring_last_row(probe)
    if not isinstance(row, dict):
        return None
    return row["prompt"], row["target"]
