"""Codex-D: the prompt is signature + body, the target is the docstring placed after it.

    def add(a, b):            <- prompt: signature,
        return a + b          <-         the body,
        \"\"\"                  <-         and an opening triple quote after it
        Add two numbers.      <- target: the docstring, indented like the body,
        \"\"\"                  <-         and its closing quotes (the stop)

A model completing the prompt writes the docstring and closes it; `extract_docstring`
turns a completion back into plain text.
"""

from __future__ import annotations

import textwrap

from codexsd.core.record import Problem, Reject
from formats.base import Format, body_indent, indent_docstring, make_row, missing_piece, register_format

CLOSE = '"""'


def docstring_last_row(problem: Problem) -> "dict[str, str] | Reject":
    body = problem.body or problem.canonical_solution
    rejected = missing_piece(
        problem, "format.docstring_last", signature=problem.signature, docstring=problem.docstring, body=body
    )
    if rejected:
        return rejected
    indent = body_indent(body)
    prompt = f"{problem.signature.rstrip()}\n{body.rstrip()}\n{indent}{CLOSE}\n"
    target = f"{indent_docstring(problem.docstring, indent)}\n{indent}{CLOSE}\n"
    return make_row(problem, prompt, target)


def extract_docstring(completion: str) -> str:
    """The plain docstring text of a completion of a docstring_last prompt."""
    text = completion.split(CLOSE, 1)[0]
    return textwrap.dedent(text).strip("\n")


@register_format("docstring_last")
def docstring_last() -> Format:
    return Format(
        name="docstring_last",
        description="Codex-D: prompt = signature + body + opening quotes; target = the docstring and its closing quotes",
        build_row=docstring_last_row,
        stop=(CLOSE,),
    )
