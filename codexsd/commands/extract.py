"""`codexsd extract PATH... -o OUT`: functions, docstrings, bodies and tests of Python files, as JSONL.

OUT holds one row per file that parsed ({"path", "functions": [...], "tests": [...]}), a file
with no functions included; `<OUT stem>.rejects.jsonl` holds one row per file that did not,
with the reason; `<OUT stem>.stats.json` counts both, and rows + rejects = files given.
Rows are written in input order to `OUT.partial` as they come; an interrupted run, rerun with
the same arguments, continues from there.
"""

from __future__ import annotations
import argparse
import json
import logging
import os
import sys
from pathlib import Path

from codexsd.core import io as atomic

from codexsd.core.stage import AccountingError, fingerprint

HELP = "extract functions (signature, docstring, body, context) and tests from Python files into JSONL"
DESCRIPTION = __doc__

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Python files or directories (searched for *.py)")
    parser.add_argument("-o", "--output", required=True, help="output JSONL (.jsonl or .jsonl.gz)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--chunk-size", type=int, default=8, help="files per task sent to a worker (default 8)")
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB",
        help="skip files whose path or any path part matches GLOB (repeatable), e.g. --exclude test --exclude 'site-packages'",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def output_paths(output: str) -> tuple[Path, Path, Path, Path]:
    """(records, rejects, stats, partial) for `-o output`."""
    out = Path(output)
    name = out.name
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out, out.with_name(f"{name}.rejects.jsonl"), out.with_name(f"{name}.stats.json"), out.with_name(out.name + ".partial")


def result_row(result) -> dict:
    return {
        "path": result.path,
        "functions": [vars(f) for f in result.functions],
        "tests": [vars(t) for t in result.tests],
    }


def _resume(partial: Path, header: dict) -> int:
    """Lines already done in `partial` for this same run (0 if it is absent or from another run)."""
    if not partial.exists():
        return 0
    data = partial.read_bytes()
    data = data[: data.rfind(b"\n") + 1]  # drop a line cut short by the interruption
    lines = data.splitlines()
    if not lines or json.loads(lines[0]) != header:
        partial.unlink()
        return 0
    with open(partial, "r+b") as fh:
        fh.truncate(len(data))
    return len(lines) - 1


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from codexsd.core.record import Reject
    from curation.extract import extract_many, iter_python_files

    files = iter_python_files(args.paths, args.exclude)
    records_path, rejects_path, stats_path, partial = output_paths(args.output)
    records_path.parent.mkdir(parents=True, exist_ok=True)
    header = {"codexsd_extract": fingerprint(files), "files": len(files)}
    done = _resume(partial, header)
    if done:
        log.warning("resuming: %d of %d files already extracted in %s", done, len(files), partial)
    workers = args.workers or os.cpu_count() or 1
    with open(partial, "a", encoding="utf-8") as fh:
        if done == 0:
            fh.write(json.dumps(header) + "\n")
        bar = tqdm(total=len(files), initial=done, unit="file", desc="extract", disable=args.no_progress)
        try:
            for outcome in extract_many(files[done:], workers=workers, chunk_size=args.chunk_size):
                row = {"reject": outcome.to_dict()} if isinstance(outcome, Reject) else {"record": result_row(outcome)}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                bar.update(1)
        finally:
            bar.close()

    stats = _finish(partial, records_path, rejects_path, len(files))
    atomic.write_text(stats_path, json.dumps(stats, indent=2) + "\n")
    partial.unlink()
    print(
        f"codexsd extract: {stats['files']} files -> {stats['records']} records ({stats['functions']} functions, "
        f"{stats['tests']} tests) in {records_path}, {stats['rejected']} rejects in {rejects_path}",
        file=sys.stderr,
    )
    return 0


def _finish(partial: Path, records_path: Path, rejects_path: Path, n_files: int) -> dict:
    """Split the partial file into records and rejects (streaming), check the account, return stats."""
    from codexsd.core.record import iter_jsonl, write_jsonl

    stats = {"stage": "extract", "files": n_files, "records": 0, "rejected": 0, "reasons": {}, "functions": 0,
             "tests": 0, "files_without_functions": 0}  # fmt: skip

    def records():
        for row in iter_jsonl(partial):
            if "record" in row:
                record = row["record"]
                stats["functions"] += len(record["functions"])
                stats["tests"] += len(record["tests"])
                stats["files_without_functions"] += not record["functions"]
                yield record

    def rejects():
        for row in iter_jsonl(partial):
            if "reject" in row:
                reason = row["reject"]["reason"]
                stats["reasons"][reason] = stats["reasons"].get(reason, 0) + 1
                yield row["reject"]

    stats["records"] = write_jsonl(records_path, records())
    stats["rejected"] = write_jsonl(rejects_path, rejects())
    stats["reasons"] = dict(sorted(stats["reasons"].items()))
    if stats["records"] + stats["rejected"] != n_files:
        raise AccountingError(f"extract: {n_files} files in but {stats['records']} records + {stats['rejected']} rejects")
    return stats
