"""Throughput of `curation.extract` over the standard library, against a bare `libcst.parse_module`.

Both read the same files in the same run, first in one process, then on all cores (a process
pool fed with chunks of files). Extraction pauses the cyclic GC per file (its trees are
acyclic), so the bare parse is timed twice: as libcst users call it, and with the GC paused the
same way, the like-for-like baseline. Prints files/s and MB/s of each, the cost of extraction relative
to the bare parse (goal: at most 1.5x) and the all-core speedup over one core (goal: at least
1.8x). With --check, also verifies every extracted file against Python's own `ast`: the same
functions (qualified names, line spans), and pieces that parse back to the same `ast.dump`.

    python benchmarks/extract_throughput.py [--limit N] [--workers N] [--check]
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import sys
import sysconfig
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import libcst  # noqa: E402

from codexsd.core.record import Reject  # noqa: E402
from curation.extract import _cyclic_gc_paused, extract_many  # noqa: E402

CHUNK = 8


def stdlib_files() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "test", "tests", "idle_test"}
    return [str(p) for p in sorted(root.rglob("*.py")) if not skip & set(p.relative_to(root).parts)]


def bare_parse_chunk(paths: list[str], gc_paused: bool = False) -> int:
    parsed = 0
    for path in paths:
        try:
            if gc_paused:
                with _cyclic_gc_paused():
                    libcst.parse_module(Path(path).read_bytes())
            else:
                libcst.parse_module(Path(path).read_bytes())
            parsed += 1
        except Exception:  # an unparsable file costs what it costs; counted as not parsed
            pass
    return parsed


def bare_parse(paths: list[str], workers: int, gc_paused: bool = False) -> int:
    chunks = [paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK)]
    if workers <= 1:
        return sum(bare_parse_chunk(c, gc_paused) for c in chunks)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(bare_parse_chunk, chunks, [gc_paused] * len(chunks)))


def extract(paths: list[str], workers: int) -> tuple[int, int]:
    """(functions, rejects); outcomes are counted and dropped, as `codexsd extract` writes and drops them."""
    functions = rejects = 0
    for outcome in extract_many(paths, workers=workers, chunk_size=CHUNK):
        if isinstance(outcome, Reject):
            rejects += 1
        else:
            functions += len(outcome.functions)
    return functions, rejects


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def ast_functions(tree: ast.AST) -> list[tuple[str, int, int, ast.AST]]:
    found = []

    def visit(node, prefix):
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


def check(paths: list[str], outcomes: list) -> list[str]:
    """Disagreements with `ast`, one line each (empty list: full agreement)."""
    problems = []
    for path, outcome in zip(paths, outcomes):
        expected = ast_functions(ast.parse(Path(path).read_bytes()))
        if isinstance(outcome, Reject):
            if outcome.reason != "empty" or expected:
                problems.append(f"{path}: rejected {outcome.reason}: {outcome.detail}")
            continue
        got = sorted((f.qualname, f.start_line, f.end_line) for f in outcome.functions)
        if got != sorted(e[:3] for e in expected):
            problems.append(f"{path}: functions differ from ast")
            continue
        by_span = {(f.qualname, f.start_line): f for f in outcome.functions}
        for qualname, line, _, node in expected:
            rebuilt = ast.parse(by_span[(qualname, line)].source()).body[0]
            if ast.dump(rebuilt) != ast.dump(node):
                problems.append(f"{path}:{line}: {qualname} does not round-trip")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="a seeded sample of N files instead of all")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--check", action="store_true", help="verify every file against ast")
    args = parser.parse_args()

    files = stdlib_files()
    if args.limit:
        files = sorted(random.Random(0).sample(files, min(args.limit, len(files))))
    megabytes = sum(os.path.getsize(p) for p in files) / 1e6
    print(f"{len(files)} stdlib files, {megabytes:.1f} MB, Python {sys.version.split()[0]}, "
          f"libcst {libcst_version()}, {args.workers} workers, {os.cpu_count()} cores", flush=True)  # fmt: skip
    bare_parse(files[:CHUNK], 1)  # warm the page cache and imports
    rows = {}
    for label, workers in (("1 process", 1), (f"{args.workers} processes", args.workers)):
        parsed, bare_wall, bare_cpu = timed(bare_parse, files, workers)
        _, paused_wall, _ = timed(bare_parse, files, workers, True)
        (functions, rejects), ext_wall, ext_cpu = timed(extract, files, workers)
        rows[label] = (bare_wall, ext_wall)
        for name, wall in (("libcst.parse_module", bare_wall), ("  same, GC paused", paused_wall), ("extract", ext_wall)):
            print(f"{label:>13} {name:>20}: {wall:7.1f} s  {len(files) / wall:7.1f} files/s  {megabytes / wall:6.2f} MB/s")
        cpu_note = f" (CPU time {ext_cpu / bare_cpu:.2f}x)" if workers == 1 else ""
        print(f"{label:>13} extraction cost: {ext_wall / bare_wall:.2f}x bare parse{cpu_note}, "
              f"{ext_wall / paused_wall:.2f}x bare parse with GC paused as extract pauses it (goal <= 1.5x); "
              f"{parsed} parsed bare, {functions} functions, {rejects} rejects", flush=True)  # fmt: skip
        if args.check and workers == 1:  # untimed
            problems = check(files, list(extract_many(files, workers=args.workers, chunk_size=CHUNK)))
            print(f"check against ast: {len(problems)} disagreements")
            for line in problems[:20]:
                print("  " + line)
    (bare1, ext1), (bareN, extN) = rows.values()
    print(f"all-core speedup: extract {ext1 / extN:.2f}x, bare parse {bare1 / bareN:.2f}x (goal >= 1.8x)")
    return 0


def libcst_version() -> str:
    from importlib.metadata import version

    return version("libcst")


if __name__ == "__main__":
    sys.exit(main())
