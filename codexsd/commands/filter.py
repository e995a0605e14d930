"""`codexsd filter solvability|adequacy IN_DIR -o OUT_DIR`: keep problems a model can solve, or whose
tests tell a right body from a wrong one."""

from __future__ import annotations

import argparse
import sys

from codexsd.core.executor import add_executor_argument, open_executor

HELP = ("filters: `filter solvability` keeps problems some model sample solves; `filter adequacy` keeps "
        "problems whose tests no trivial body passes and most mutants fail")


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
    add_executor_argument(p)  # elsewhere than this process, each worker loads the model and opens a sandbox
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(_filter=_run_solvability)

    a = sub.add_parser(
        "adequacy",
        help="keep a problem only if its tests reject trivial stand-ins and kill most mutants (strengthening them first)",
        description=(
            "Runs each problem's tests against trivial stand-ins (the reference frozen at its first answer, "
            "`return None`, the first argument, the most common expected value) and up to K libcst mutants of "
            "the reference, in the sandbox. Call-style tests gain up to --max-added asserts on new inputs "
            "(type-aware mutations of the recorded ones, expected values from the reference run twice with two "
            "hash seeds), chosen by the mutants they newly kill. Rejects: degenerate_tests, single_expected_value, "
            "low_mutation_score. OUT_DIR/stats.json and report.json summarise it per source."
        ),
    )
    a.add_argument("in_dir", metavar="IN_DIR", help="a finished stage's output folder (e.g. validated/)")
    a.add_argument("-o", "--out", required=True, metavar="OUT_DIR")
    a.add_argument("--config", help="YAML file with AdequacyConfig keys")
    a.add_argument("-k", "--k-mutants", dest="k_mutants", type=int, help="mutants per task (default 24)")
    a.add_argument("--threshold", type=float, help="least mutation score kept (default 0.5)")
    a.add_argument("--min-distinct-values", dest="min_distinct_values", type=int, help="default 2")
    a.add_argument("--no-strengthen", dest="strengthen", action="store_const", const=False,
                   help="judge the tests as they are, add no asserts")
    a.add_argument("--max-added", dest="max_added", type=int, help="asserts added per task at most (default 10)")
    a.add_argument("--candidates", type=int, help="new inputs tried per task (default 40)")
    a.add_argument("--seed", type=int)
    a.add_argument("--sandbox", help="sandbox backend: auto, docker, local")
    a.add_argument("--timeout", type=float, help="seconds per reference program")
    a.add_argument("--workers", type=int, help="--executor local: shards in parallel processes")
    add_executor_argument(a)
    a.add_argument("--no-progress", action="store_true")
    a.set_defaults(_filter=_run_adequacy)


def run(args: argparse.Namespace) -> int:
    return args._filter(args)


def _run_solvability(args: argparse.Namespace) -> int:
    from codexsd.core.config import load_config
    from filters.solvability import SolvabilityConfig, solvability_stage

    keys = ("model", "n_samples", "round_size", "full", "reverify", "temperature", "top_p", "max_new_tokens", "seed", "sandbox", "timeout")
    cfg = load_config(SolvabilityConfig, args.config, {k: getattr(args, k) for k in keys})
    with open_executor(args) as executor:
        stats = solvability_stage(args.in_dir, args.out, cfg, progress=not args.no_progress, executor=executor)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats.reasons.items())) or "none"
    print(f"solvability: {stats.items_in} in, {stats.kept} kept, {stats.rejected} rejected ({reasons}) -> {args.out}", file=sys.stderr)
    return 0


def _run_adequacy(args: argparse.Namespace) -> int:
    from codexsd.core.config import load_config
    from filters.adequacy import AdequacyConfig, adequacy_stage

    keys = ("k_mutants", "threshold", "min_distinct_values", "strengthen", "max_added", "candidates", "seed", "sandbox",
            "timeout", "workers")
    cfg = load_config(AdequacyConfig, args.config, {k: getattr(args, k) for k in keys})
    try:
        with open_executor(args, workers=cfg.workers) as executor:
            stats = adequacy_stage(args.in_dir, args.out, cfg, progress=not args.no_progress, executor=executor)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats.reasons.items())) or "none"
    print(f"adequacy: {stats.items_in} in, {stats.kept} kept, {stats.rejected} rejected ({reasons}) -> {args.out}",
          file=sys.stderr)
    return 0
