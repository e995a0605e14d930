"""The format registry: each training variant is a small factory, not a copied class.

A `Format` turns one `Problem` into one row `{task_id, prompt, target, ...}` or a
`Reject` with a reason (a problem without a docstring cannot teach either direction).
`prompt + target` is the training text; the loss falls on `target` only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from codexsd.models.base import PAPER_STOP
from codexsd.core.record import Problem, Reject

PAPER_STOP_FOR_CODE = tuple(PAPER_STOP)

# Every variant writes these columns, all strings, in this order.
ROW_FIELDS = ("task_id", "prompt", "target", "source", "entry_point", "test", "docstring", "origin")

RowBuilder = Callable[[Problem], "dict[str, str] | Reject"]


@dataclass(frozen=True)
class Format:
    name: str
    description: str  # one line for the dataset card: what the prompt holds, what the target holds
    build_row: RowBuilder
    stop: tuple[str, ...] = ()  # where a model's completion of `prompt` should stop

    def __call__(self, problem: Problem) -> "dict[str, str] | Reject":
        return self.build_row(problem)


FORMATS: dict[str, Callable[[], Format]] = {}


def register_format(name: str):
    """Decorator: register a zero-argument factory returning a `Format` under `name`."""

    def wrap(factory: Callable[[], Format]) -> Callable[[], Format]:
        if name in FORMATS:
            raise ValueError(f"format {name!r} is already registered")
        FORMATS[name] = factory
        return factory

    return wrap


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]()
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None


def make_row(problem: Problem, prompt: str, target: str) -> dict[str, str]:
    return {
        "task_id": problem.task_id,
        "prompt": prompt,
        "target": target,
        "source": problem.source or problem.task_id.split("/", 1)[0],
        "entry_point": problem.entry_point,
        "test": problem.test,
        "docstring": problem.docstring,
        "origin": json.dumps(problem.origin, ensure_ascii=False, sort_keys=True),
    }


def missing_piece(problem: Problem, stage: str, **pieces: Any) -> Reject | None:
    """A Reject naming the first empty piece (`no_docstring`, `no_body`, ...), or None."""
    for name, value in pieces.items():
        if not str(value or "").strip():
            return Reject(problem.task_id, stage, f"no_{name}", f"the problem has an empty {name}")
    return None


def body_indent(body: str, default: str = "    ") -> str:
    """The indentation of the first non-blank line of a function body."""
    for line in body.splitlines():
        if line.strip():
            return line[: len(line) - len(line.lstrip())] or default
    return default


def indent_docstring(text: str, indent: str) -> str:
    """Docstring text (dedented, no quotes) as indented lines, quotes-safe."""
    text = text.strip("\n").replace('"""', r"\"\"\"")
    return "\n".join(indent + line if line.strip() else "" for line in text.splitlines())
