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
