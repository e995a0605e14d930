"""`codexsd filter solvability IN_DIR -o OUT_DIR --model SPEC`: keep problems a model can solve."""

from __future__ import annotations

import argparse
import sys

HELP = "model-based filters: `filter solvability` keeps problems that some model sample solves"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="filter", metavar="FILTER")
    sub.required = True
    p = sub.add_parser(
        "solvability",
        help="keep a problem if any of up to N model samples passes its tests in the sandbox",
        description=(
            "Draws up to N samples per problem (nucleus sampling, the Codex paper's stop sequences) in rounds, "
            "runs them in the sandbox and keeps problems with a passing sample. Stops at the first pass unless "
            "--full. Samples and verdicts are logged under OUT_DIR/samples; rerunning resumes from the log."
        ),
    )
    p.add_argument("in_dir", metavar="IN_DIR", help="a finished stage's output folder (e.g. clean/)")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR")
    p.add_argument("--config", help="YAML file with SolvabilityConfig keys")
    p.add_argument("--model", help="model spec: default, hf:<dir>, gguf:<file>, vllm:<id>, openai:<url>#<model>")
    p.add_argument("-n", "--n-samples", dest="n_samples", type=int, help="most samples per problem (default 100)")
    p.add_argument("--round-size", dest="round_size", type=int, help="samples per problem per round (default 10)")
    p.add_argument("--full", action="store_const", const=True, help="draw all N samples (passes/N as difficulty)")
    p.add_argument("--reverify", type=int, help="rerun the passing sample R times; any failure rejects as flaky")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", dest="top_p", type=float)
    p.add_argument("--max-new-tokens", dest="max_new_tokens", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--sandbox", help="sandbox backend: auto, docker, local")
    p.add_argument("--timeout", type=float, help="seconds per program")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(_filter=_run_solvability)


def run(args: argparse.Namespace) -> int:
    return args._filter(args)


def _run_solvability(args: argparse.Namespace) -> int:
    from codexsd.config import load_config
    from filters.solvability import SolvabilityConfig, solvability_stage

    keys = ("model", "n_samples", "round_size", "full", "reverify", "temperature", "top_p", "max_new_tokens", "seed", "sandbox", "timeout")
    cfg = load_config(SolvabilityConfig, args.config, {k: getattr(args, k) for k in keys})
    stats = solvability_stage(args.in_dir, args.out, cfg, progress=not args.no_progress)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats.reasons.items())) or "none"
    print(f"solvability: {stats.items_in} in, {stats.kept} kept, {stats.rejected} rejected ({reasons}) -> {args.out}", file=sys.stderr)
    return 0
