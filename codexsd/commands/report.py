"""`codexsd report`: PNG plots and a Markdown report from eval and score-docstrings outputs."""

from __future__ import annotations

import argparse
import sys

HELP = "plots (pass@k vs k, ranking heuristics, BLEU vs back-translation correctness) and report.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eval", nargs="*", default=[], help="output folders of codexsd eval --model (one per model; "
                        "headings use each run's --name, else a short name from its model spec)")
    parser.add_argument("--docstrings", help="output folder of codexsd score-docstrings")
    parser.add_argument("-o", "--output", required=True, help="folder for report.md and the PNGs")


def run(args: argparse.Namespace) -> int:
    from codexsd.evaluation.report import write_report

    if not args.eval and not args.docstrings:
        print("codexsd report: error: give --eval folders and/or --docstrings", file=sys.stderr)
        return 2
    path = write_report(args.eval, args.docstrings, args.output)
    print(path)
    return 0
