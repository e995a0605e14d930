"""Chat-mode completion repair (tidy_chat_completion) and the text helpers around it."""

from __future__ import annotations

import ast

from codexsd.models.text import FENCE_CLOSE, entry_point, tidy_chat_completion

PROMPT = 'import math\n\n\ndef helper(x):\n    return x\n\n\ndef area(r: float) -> float:\n    """Area of a circle."""\n'


def run(prompt: str, completion: str, *args):
    """Execute prompt + completion and call the entry point, as the solvability filter's tests do."""
    scope: dict = {}
    exec(prompt + completion, scope)  # noqa: S102 - test-only, our own strings
    return scope[entry_point(prompt)](*args)


def test_entry_point_is_the_last_top_level_def():
    assert entry_point(PROMPT) == "area"
    assert entry_point("x = 1\n") is None
    assert entry_point("async def fetch(url):\n    pass\n") == "fetch"


def test_redeclared_entry_point_becomes_its_body():
    raw = 'def area(r: float) -> float:\n    """Area."""\n    return math.pi * r * r\n\nprint(area(2))\n'
    fixed = tidy_chat_completion(PROMPT, raw)
    assert fixed == "    return math.pi * r * r\n"
    assert run(PROMPT, fixed, 1.0) == ast.literal_eval("3.141592653589793")


def test_redeclared_body_keeps_nested_blocks_and_drops_a_trailing_half_line():
    raw = "def area(r):\n    if r < 0:\n        raise ValueError(r)\n    return 3 * r * r\nx = (\n"
    fixed = tidy_chat_completion(PROMPT, raw)
    assert fixed == "    if r < 0:\n        raise ValueError(r)\n    return 3 * r * r\n"
    assert run(PROMPT, fixed, 2) == 12


def test_only_the_entry_point_counts_as_redeclared():
    raw = "    return helper(r)\n"
    assert tidy_chat_completion(PROMPT, raw) == raw
    other = "def helper(y):\n    return 2\nreturn helper(r)\n"  # not `def area(`: an unindented body
    fixed = tidy_chat_completion(PROMPT, other)
    assert fixed == "    def helper(y):\n        return 2\n    return helper(r)\n"
    assert run(PROMPT, fixed, 5) == 2


def test_unindented_body_is_indented_and_cut_at_the_fence():
    raw = f"total = r * r\nreturn 3 * total\n{FENCE_CLOSE}\nThis computes the area."
    fixed = tidy_chat_completion(PROMPT, raw)
    assert fixed == "    total = r * r\n    return 3 * total\n"
    assert run(PROMPT, fixed, 2) == 12


def test_correct_completion_is_only_cut_at_the_fence():
    assert tidy_chat_completion(PROMPT, "    return r\n") == "    return r\n"
    assert tidy_chat_completion(PROMPT, f"    return r\n{FENCE_CLOSE}\n") == "    return r\n"


def test_unparseable_repairs_keep_the_raw_text():
    raw = "return (r *\n"  # indented or not, it does not parse
    assert tidy_chat_completion(PROMPT, raw) == raw
    broken = "def area(r):\n    return )\n"
    assert tidy_chat_completion(PROMPT, broken) == broken
    assert tidy_chat_completion("x = 1\n", "return 1\n") == "return 1\n"  # no entry point known


def test_repaired_completions_parse_with_their_prompt():
    samples = ["def area(r):\n    return r\n", "return r\n", "    return r\n"]
    for raw in samples:
        ast.parse(PROMPT + tidy_chat_completion(PROMPT, raw))
