"""`codexsd score-docstrings`: judge Codex-D's docstrings by whether Codex-S can code from them."""

from __future__ import annotations

import argparse
import json
import sys

from codexsd.commands.eval import MODEL_SPEC_HELP, add_problem_arguments, open_sampler

HELP = "D writes docstrings from signature + body, S codes from them, unit tests decide; BLEU beside it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--d-model", required=True, help="Codex-D model (writes docstrings), e.g. hf:models/d; " + MODEL_SPEC_HELP)
    parser.add_argument("--s-model", required=True, help="Codex-S model (writes code from docstrings), e.g. hf:models/s; same spec forms as --d-model")
    parser.add_argument("-m", "--docstrings", type=int, default=4, help="docstrings D writes per task")
    parser.add_argument("--d-temperature", type=float, default=0.8, help="D's sampling temperature")
    parser.add_argument("--code-samples", type=int, default=1, help="programs S writes per docstring")
    parser.add_argument("--s-temperature", type=float, default=0.2, help="S's sampling temperature")
    parser.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass")
    parser.add_argument("--d-max-new-tokens", type=int, default=160, help="tokens per docstring at most")
    parser.add_argument("--s-max-new-tokens", type=int, default=300, help="tokens per program at most")
    add_problem_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from codexsd.evaluation.backtranslation import DocstringSettings, score_docstrings
    from codexsd.evaluation.humaneval import load_problems_subset
    from codexsd.sandbox import get_sandbox

    problems = load_problems_subset(args.problems, args.limit, [t for t in args.tasks.split(",") if t])
    settings = DocstringSettings(
        m=args.docstrings, d_temperature=args.d_temperature, d_max_new_tokens=args.d_max_new_tokens,
        code_samples=args.code_samples, s_temperature=args.s_temperature, s_max_new_tokens=args.s_max_new_tokens,
        top_p=args.top_p, seed=args.seed, timeout_s=args.timeout,
    )
    with open_sampler(args.d_model, args.batch_size) as d, open_sampler(args.s_model, args.batch_size) as s, \
            get_sandbox(args.sandbox) as sandbox:
        summary = score_docstrings(d, s, problems, settings, args.output, sandbox)
    print(json.dumps({
        "tasks": summary.tasks, "skipped": len(summary.skipped), "docstrings_per_task": settings.m,
        "ground_truth_pass_rate": summary.ground_truth_pass_rate,
        "backtranslation_pass_rate": summary.backtranslation_pass_rate,
        "bleu_mean": summary.bleu_mean, "bleu_passing": summary.bleu_passing, "bleu_failing": summary.bleu_failing,
    }, indent=2))
    print(f"codexsd score-docstrings: docstrings, results and summary.json in {args.output}", file=sys.stderr)
    return 0
