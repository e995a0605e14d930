"""`codexsd validate IN_DIR -o OUT_DIR`: keep problems whose reference passes its tests R times."""

from __future__ import annotations

import argparse
import json
import sys

from codexsd.core.executor import add_executor_argument, open_executor

HELP = "run each problem's reference solution R times in the sandbox; keep those that always pass"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="a finished stage's directory (data-*.jsonl shards), e.g. OUT/raw")
    parser.add_argument("-o", "--output", required=True, help="output stage directory, e.g. OUT/validated")
    parser.add_argument("--runs", type=int, default=3, help="runs per reference (default: 3)")
    parser.add_argument("--sandbox", choices=["auto", "docker", "local"], default="auto")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per run (default: the sandbox default)")
    parser.add_argument("--workers", type=int, default=None,
                        help="sandbox workers (default: CPUs + 1); with --executor ray each task's sandbox has its task's CPUs")
    add_executor_argument(parser)


def run(args: argparse.Namespace) -> int:
    from codexsd.core.executor import runs_here, task_cpus
    from codexsd.core.stage import read_shards, run_stage
    from codexsd.sandbox import get_sandbox
    from codexsd.sandbox.base import DEFAULT_TIMEOUT_S
    from filters.validate import STAGE, ValidateShard

    if args.runs < 1:
        print("codexsd validate: error: --runs must be >= 1", file=sys.stderr)
        return 2
    shards = read_shards(args.input)
    with open_executor(args) as executor, get_sandbox(args.sandbox, workers=args.workers) as sandbox:
        here = runs_here(executor)  # elsewhere, each worker process opens a sandbox of the same backend
        fn = ValidateShard(runs=args.runs, backend=sandbox.name, timeout=args.timeout or DEFAULT_TIMEOUT_S,
                           workers=None if here else task_cpus(executor), sandbox=sandbox if here else None)
        stats = run_stage(STAGE, args.output, shards, fn, params=fn.params(), executor=executor)
    print(json.dumps(stats.to_dict()))
    return 0
