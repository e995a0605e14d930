"""Backend-independent text handling: stop sequences and chat prompts for instruct models.

An instruct model asked to "complete this function" tends to answer in prose. We
instead render its chat template with the user's request and pre-fill the assistant
turn with an opening code fence and the function prompt itself, so the model's
continuation is the function body; the closing fence then acts as one more stop.
A small model still often re-declares the function or forgets to indent its body;
`tidy_chat_completion` repairs that when the repaired code parses.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Callable, Iterable, Sequence

FENCE_OPEN = "```python\n"
FENCE_CLOSE = "```"
CHAT_INSTRUCTION = "Complete the following Python function:\n"


def first_stop(text: str, stop: Iterable[str]) -> int:
    """Index of the earliest stop sequence in `text`, or -1."""
    hits = [i for s in stop if s and (i := text.find(s)) >= 0]
    return min(hits) if hits else -1


def truncate_at_stop(text: str, stop: Iterable[str]) -> tuple[str, bool]:
    """`text` cut before its first stop sequence, and whether a stop was found."""
    cut = first_stop(text, stop)
    return (text, False) if cut < 0 else (text[:cut], True)


def kept_token_count(decode_prefix: Callable[[int], str], n_tokens: int, n_chars: int) -> int:
    """The fewest leading tokens whose decoded text covers `n_chars` characters.

    After cutting at a stop, the kept tokens are those up to and including the one
    holding the last kept character; a token straddling the cut counts as kept.
    Decoded length grows with the prefix, so a binary search needs O(log n) decodes.
    """
    if n_chars <= 0:
        return 0
    lo, hi = 1, n_tokens
    while lo < hi:
        mid = (lo + hi) // 2
        if len(decode_prefix(mid)) >= n_chars:
            hi = mid
        else:
            lo = mid + 1
    return lo


def chat_messages(prompt: str) -> list[dict[str, str]]:
    """The user turn asking an instruct model to complete the function in `prompt`."""
    # An open fence here (no closing one): with a closed block SmolLM2-Instruct tends to
    # consider the function complete and end its turn at once.
    return [{"role": "user", "content": f"{CHAT_INSTRUCTION}{FENCE_OPEN}{prompt}"}]


def chat_prefill(prompt: str) -> str:
    """What the assistant turn starts with: the code fence and the function prompt."""
    return FENCE_OPEN + prompt


def chat_stops(stop: Sequence[str]) -> tuple[str, ...]:
    return tuple(stop) + (FENCE_CLOSE,) if FENCE_CLOSE not in stop else tuple(stop)


def render_chat_template(template: str, messages: list[dict[str, str]], **special: str) -> str:
    """Render a Jinja chat template (as found in tokenizer_config.json or GGUF metadata)
    with a generation prompt, the way transformers' `apply_chat_template` does."""
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=messages, add_generation_prompt=True, **special)


def entry_point(prompt: str) -> str | None:
    """The function a completion prompt asks for: its last top-level `def`, or None."""
    names = ENTRY_DEF.findall(prompt)
    return names[-1] if names else None


def tidy_chat_completion(prompt: str, text: str, entry: str | None = None) -> str:
    """Repair the two ways a small instruct model misreads the pre-filled function prompt,
    the kind of clean-up evalplus' "sanitize" does; `text` is returned unchanged unless the
    repaired `prompt + completion` parses.

    - cut at the closing code fence;
    - if the answer re-declares the entry point (`def <entry>(`), its body becomes the completion;
    - if the body starts unindented, indent it by 4 spaces.
    """
    entry = entry or entry_point(prompt)
    if entry is None:
        return text
    cut = text.find(FENCE_CLOSE)
    body = text if cut < 0 else text[:cut]
    redeclared = _redeclared_body(body, entry)
    if redeclared is not None:
        body = redeclared
    elif _first_line_unindented(body):
        body = textwrap.indent(body, INDENT, lambda line: bool(line.strip()))
    if body == text or not _parses(prompt + body):
        return text
    return body


ENTRY_DEF = re.compile(r"^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
INDENT = "    "


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def _first_line_unindented(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return bool(first) and not first[0].isspace()


def _redeclared_body(text: str, entry: str) -> str | None:
    """The body of the first `def <entry>(` in `text`, indented by 4 (docstring dropped), or None."""
    match = re.search(rf"^([ \t]*)(?:async\s+)?def\s+{re.escape(entry)}\s*\(", text, re.MULTILINE)
    if match is None:
        return None
    lines = textwrap.dedent(text[match.start():]).splitlines(keepends=True)
    for end in range(len(lines), 0, -1):  # the longest prefix that parses: a trailing half line is dropped
        source = "".join(lines[:end])
        if not _parses(source):
            continue
        func = ast.parse(source).body[0]
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        stmts = func.body
        if (isinstance(stmts[0], ast.Expr) and isinstance(stmts[0].value, ast.Constant)
                and isinstance(stmts[0].value.value, str) and len(stmts) > 1):
            stmts = stmts[1:]
        first = min([stmts[0].lineno] + [d.lineno for d in getattr(stmts[0], "decorator_list", [])])
        body = textwrap.dedent("".join(lines[first - 1:func.end_lineno]))
        return textwrap.indent(body, INDENT, lambda line: bool(line.strip()))
    return None
