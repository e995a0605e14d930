"""`codexsd collect competitive SOURCE... -o OUT`: competitive-programming problems -> validated Problems."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

from codexsd.core.config import ConfigError, load_config

HELP = "APPS / CodeContests / TACO rows (hub id or local JSON, JSONL, Parquet) or MBPP-style JSONL -> validated problems"
DESCRIPTION = (
    "Convert competitive-programming problems into HumanEval-style problems and keep those whose Python "
    "reference solution passes the problem's tests in the sandbox. SOURCE is a datasets hub id "
    "(codeparrot/apps, deepmind/code_contests, BAAI/TACO, mbpp) or a local file or folder of JSON/JSONL/Parquet "
    "rows in one of those published schemas. Writes data-*.jsonl, rejects-*.jsonl and stats.json under OUT."
)

log = logging.getLogger(__name__)

# flag -> CompetitiveConfig field, for flags that map one to one
_FLAGS = ("schema", "split", "limit", "max_tests", "max_test_chars", "max_solutions_tried", "timeout", "memory_mb",
          "shard_size", "workers", "sandbox")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from curation.competitive.config import SCHEMAS

    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="hub id, or local file/folder")
    parser.add_argument("-o", "--out", required=True, help="output directory (the stage artifact)")
    parser.add_argument("--config", help="YAML file with CompetitiveConfig keys (flags override it)")
    parser.add_argument("--schema", choices=SCHEMAS, help="force the row schema instead of detecting it from the fields")
    parser.add_argument("--split", help="hub split to load, or the split name recorded for local files")
    parser.add_argument("--limit", type=int, help="read at most this many rows per source")
    parser.add_argument("--max-tests", type=int, help="tests kept per problem (examples first, then hidden/generated)")
    parser.add_argument("--max-test-chars", type=int, help="drop a test whose input or output is longer than this")
    parser.add_argument("--max-solutions-tried", type=int, help="reference solutions tried per problem, in order")
    parser.add_argument("--timeout", type=float, help="seconds for one validation run of a problem's tests")
    parser.add_argument("--memory-mb", type=int, help="memory limit of one validation run")
    parser.add_argument("--shard-size", type=int, help="problems per shard (one sandbox batch per round)")
    parser.add_argument("--workers", type=int, help="shards validated in parallel")
    parser.add_argument("--sandbox", help="sandbox backend (default: the sandbox package's choice)")
    from codexsd.core.executor import add_executor_argument

    add_executor_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from curation.competitive.collect import collect_competitive
    from curation.competitive.config import CompetitiveConfig
    from curation.competitive.loaders import SourceNotFound

    try:
        config = load_config(CompetitiveConfig, args.config, {k: getattr(args, k, None) for k in _FLAGS})
    except (ConfigError, ValueError) as exc:
        print(f"codexsd collect competitive: {exc}", file=sys.stderr)
        return 2
    log.info("config: %s", json.dumps(dataclasses.asdict(config)))
    from codexsd.core.executor import open_executor

    try:
        with open_executor(args, workers=config.workers) as executor:
            stats = collect_competitive(args.sources, args.out, config, progress=not args.no_progress, executor=executor)
    except (SourceNotFound, ImportError) as exc:
        print(f"codexsd collect competitive: {exc}", file=sys.stderr)
        return 2
    print(f"{stats.items_in} problems in, {stats.kept} kept, {stats.rejected} rejected -> {args.out}", file=sys.stderr)
    for reason, n in sorted(stats.reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {reason}: {n}", file=sys.stderr)
    return 0
