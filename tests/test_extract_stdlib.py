"""On a seeded sample of the standard library, extraction agrees with Python's own `ast`.

Every function `ast` finds is found, with the same qualified name and line span, and the
extracted decorators + signature + docstring + body parse back to the same `ast.dump`.
The whole library is covered by benchmarks/extract_throughput.py --check.
"""

from __future__ import annotations

import ast
import random
import sysconfig
from pathlib import Path

import pytest

from curation.extract import ExtractError, extract_file

SAMPLE_SIZE = 40
SEED = 20210707  # the Codex paper's arXiv date


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "test", "tests", "idle_test"}
    return [p for p in sorted(root.rglob("*.py")) if not skip & set(p.relative_to(root).parts)]


def ast_functions(tree: ast.AST) -> list[tuple[str, int, int, ast.AST]]:
    """(qualname, lineno, end_lineno, node) of every def, by a generic walk over all nodes."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((prefix + child.name, child.lineno, child.end_lineno, child))
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


SAMPLE = random.Random(SEED).sample(stdlib_files(), SAMPLE_SIZE)


@pytest.mark.parametrize("path", SAMPLE, ids=lambda p: p.name)
def test_stdlib_file_matches_ast(path: Path):
    tree = ast.parse(path.read_bytes())
    expected = ast_functions(tree)
    try:
        result = extract_file(path)
    except ExtractError as exc:
        assert exc.reason == "empty" and not expected, f"{path}: {exc}"
        return
    got = [(f.qualname, f.start_line, f.end_line) for f in result.functions]
    assert sorted(got) == sorted(e[:3] for e in expected)
    by_span = {(f.qualname, f.start_line): f for f in result.functions}
    for qualname, line, _, node in expected:
        info = by_span[(qualname, line)]
        rebuilt = ast.parse(info.source()).body[0]
        assert ast.dump(rebuilt) == ast.dump(node), f"{path}:{line} {qualname}\n{info.source()}"
        assert info.docstring == (ast.get_docstring(node) or "")


def test_sample_is_big_enough_to_mean_something():
    functions = sum(len(ast_functions(ast.parse(p.read_bytes()))) for p in SAMPLE)
    assert len(SAMPLE) == SAMPLE_SIZE and functions > 300


def test_text_fast_path_gives_the_cst_body():
    """Bodies read straight from the file's lines match the bodies the CST renders.

    They may differ only where libcst itself re-spaces (a comment off its block's indentation,
    `except X :`), so: the same AST always, the same text almost always.
    """
    import libcst

    from curation import _cst_functions as fn
    from curation.extract import decode_source

    compared = same_text = 0
    for path in SAMPLE:
        try:
            text = decode_source(path.read_bytes())
        except ExtractError:
            continue
        module = libcst.parse_module(text)
        if module.default_indent != "    ":
            continue
        lines = text.splitlines(keepends=True)
        for found, node in zip(fn.ast_defs(ast.parse(text)), fn.cst_defs(module)):
            if not isinstance(node.body, libcst.IndentedBlock) or node.body.indent is not None:
                continue
            has_docstring = ast.get_docstring(found.node) is not None
            fast = fn.body_from_text(lines, found.node, has_docstring)
            if fast is None or not fast:
                continue
            rendered = fn.body(node, has_docstring)
            compared += 1
            same_text += fast == rendered
            as_tree = [ast.dump(ast.parse(f"def f():\n{b}")) for b in (fast, rendered)]
            assert as_tree[0] == as_tree[1], f"{path}:{found.node.lineno} {found.qualname}"
    assert compared > 300 and same_text >= 0.99 * compared
