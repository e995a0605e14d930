"""`--executor local|ray`: the one flag with which every command that runs shards picks where they run.

`local` (the default) runs them on this machine: in this process, or in a pool of the command's
parallel-shard count where it has one; `ray` on the Ray cluster $RAY_ADDRESS names, else on a
Ray started on this machine (codexsd.core.executor). `codexsd build` reads the same choice from
its config key `executor`. A value that is neither fails in `codexsd.cli.prepare_args`, on one line.
"""

from __future__ import annotations

import argparse

from codexsd.core.executor import EXECUTORS, Executor, get_executor

HELP = ("where shards run: local (this machine) or ray (the Ray cluster $RAY_ADDRESS names, else a Ray on this "
        "machine; see README 'Running on a cluster')")


def add_executor_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", metavar="|".join(EXECUTORS), help=HELP + " (default: local)")


def open_executor(args: argparse.Namespace, workers: int | None = 1) -> Executor:
    """The executor `args.executor` names; `workers`: the local pool's processes (1: this process)."""
    return get_executor(getattr(args, "executor", None) or "local", workers=workers or 1)
