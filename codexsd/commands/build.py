"""`codexsd build`: every curation stage, end to end, resumable."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from codexsd.core.executor import add_executor_argument

HELP = "collect, validate, test adequacy, dedup, solvability and format: both training sets in one command"
DESCRIPTION = (
    "Build both training variants end to end: collect -> validate -> adequacy -> dedup/decontaminate -> "
    "[solvability] -> format. With no arguments it traces a few of the standard library's own test modules and "
    "reads MBPP's train split shipped in the package, in minutes; the solvability filter runs only when a model is "
    "given (--model). Settings: defaults < YAML --config < flags. Killed or interrupted, the same command resumes "
    "where it stopped."
)


def _csv(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file of build settings (see configs/*.yaml)")
    parser.add_argument("-o", "--out", help="output folder (default ./out)")
    parser.add_argument("--ci-projects", type=_csv, help="comma-separated project folders or pypi:NAME to trace (default: the stdlib tests)")
    parser.add_argument("--no-ci", dest="ci", action="store_false", default=None, help="do not trace any test suite")
    parser.add_argument("--competitive", type=_csv, help="comma-separated APPS/CodeContests/TACO/MBPP files, hub ids or "
                        "bundled:mbpp-train (default: bundled:mbpp-train; '' for none)")
    parser.add_argument("--max-modules", type=int, help="trace a seeded choice of this many fast stdlib test modules (0 = all) instead of the default few")
    parser.add_argument("--model", help="sampler spec that turns the solvability filter on: default (the bundled "
                        "SmolLM2-135M, weak), hf:<hub id or folder>, gguf:<file>, vllm:<id>, openai:<url>#<model> "
                        "(default: none, the filter is off)")
    parser.add_argument("--samples", type=int, help="samples per problem in the solvability filter (paper: 100)")
    parser.add_argument("--variants", type=_csv, help="comma-separated: standard,docstring_last")
    parser.add_argument("--sandbox", help="sandbox backend (docker, local, ...)")
    parser.add_argument("--workers", type=int, help="shards processed in parallel")
    add_executor_argument(parser)  # the config key `executor`
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any setting by dotted key, e.g. --set dedup.ngram=13 (repeatable; VALUE is YAML)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved settings as YAML and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def flags_from_args(args: argparse.Namespace) -> dict:
    import yaml

    from codexsd.core.config import ConfigError

    flags = {
        "out": args.out, "sources.ci": args.ci, "sources.ci_projects": args.ci_projects,
        "sources.competitive": args.competitive, "ci.max_modules": args.max_modules, "solvability.model": args.model,
        "solvability.n_samples": args.samples, "format.variants": args.variants, "sandbox": args.sandbox, "workers": args.workers,
        "executor": args.executor,
    }
    if args.max_modules is not None:  # a seeded choice among all fast modules, not the default list
        flags["ci.test_modules"] = []
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        flags[key.strip()] = yaml.safe_load(value)
    return flags


def run(args: argparse.Namespace) -> int:
    import yaml

    from codexsd.pipeline import load_build_config, run_build, scale_up_hint

    cfg = load_build_config(args.config, flags_from_args(args))
    if args.print_config:
        sys.stdout.write(yaml.safe_dump(cfg.to_dict(), sort_keys=True))
        return 0
    started = time.monotonic()
    t_stage = [started, None]

    def on_stage(name: str) -> None:
        now = time.monotonic()
        if t_stage[1]:
            print(f"  {t_stage[1]} done in {now - t_stage[0]:.0f} s", file=sys.stderr)
        t_stage[:] = [now, name]
        if name:
            print(f"codexsd build: {name} ...", file=sys.stderr)

    from codexsd.pipeline import off_notes

    result = run_build(cfg, progress=not args.no_progress, on_stage=on_stage)
    on_stage("")
    for note in off_notes(cfg):
        print(note, file=sys.stderr)
    print(format_summary(result.summary_rows()), file=sys.stderr)
    for name, st in result.variants.items():
        sp = st.get("splits", {})
        print(f"{name}: {sp.get('train', 0)} train + {sp.get('validation', 0)} validation rows -> "
              f"{Path(result.out) / name} (card: README.md)", file=sys.stderr)
    if any(st.get("kept", 0) == 0 for st in result.variants.values()):
        print("warning: a variant is empty: no problem survived every stage (see the table above); "
              "add sources, or sample more / use a stronger model if the solvability filter ran", file=sys.stderr)
    print(f"finished in {time.monotonic() - started:.0f} s; summary in {Path(result.out) / 'summary.json'}", file=sys.stderr)
    print(scale_up_hint(), file=sys.stderr)
    return 0


def format_summary(rows: list[dict]) -> str:
    lines = [f"{'stage':<24}{'in':>8}{'kept':>8}{'rejected':>10}  top reject reasons"]
    for r in rows:
        reasons = ", ".join(f"{k} {v}" for k, v in r["top_reasons"].items()) or "-"
        lines.append(f"{r['stage']:<24}{r['in']:>8}{r['kept']:>8}{r['rejected']:>10}  {reasons}")
    return "\n".join(lines)
