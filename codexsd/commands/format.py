"""`codexsd format IN_DIR -o OUT`: write the training variants of a finished stage's problems."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "write the standard (Codex-S) and docstring_last (Codex-D) variants with a dataset card"
DESCRIPTION = (
    "Read the kept problems of a finished stage (usually OUT/solvable) and write each variant as JSONL, "
    "Parquet and a datasets.DatasetDict (train/validation), the standard one also as HumanEval JSONL, "
    "with a dataset card (README.md + plots) beside the data."
)

STAGE_ORDER = ("raw", "validated", "clean", "solvable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("in_dir", help="a finished stage folder (data-*.jsonl + stats.json), e.g. out/solvable")
    parser.add_argument("-o", "--out", required=True, help="folder that receives one subfolder per variant")
    parser.add_argument("--config", help="YAML file with the format settings (variants, validation_fraction, card)")
    parser.add_argument("--variants", help="comma-separated, from: standard, docstring_last")
    parser.add_argument("--validation-fraction", type=float, help="share of each source's tasks in validation (default 0.1)")
    parser.add_argument("--no-card", dest="card", action="store_false", default=None, help="skip README.md and plots")
    parser.add_argument("--no-progress", action="store_true")


def pipeline_stats_beside(in_dir: Path) -> list[dict]:
    """stats.json of the stages up to `in_dir` when it sits in a build folder (for the card)."""
    found = []
    if in_dir.name in STAGE_ORDER:
        for name in STAGE_ORDER[: STAGE_ORDER.index(in_dir.name) + 1]:
            path = in_dir.parent / name / "stats.json"
            if path.exists():
                found.append(json.loads(path.read_text()))
    return found


def run(args: argparse.Namespace) -> int:
    from codexsd.core.config import load_config
    from formats import FormatConfig, format_stage

    flags = {"variants": args.variants, "validation_fraction": args.validation_fraction, "card": args.card}
    cfg = load_config(FormatConfig, args.config, flags)
    in_dir = Path(args.in_dir)
    results = format_stage(in_dir, args.out, cfg, pipeline_stats=pipeline_stats_beside(in_dir), progress=not args.no_progress)
    for name, st in results.items():
        splits = json.loads((Path(args.out) / name / "stats.json").read_text()).get("splits", {})
        print(f"{name}: {st.items_in} in, {st.kept} kept ({splits.get('train', 0)} train / "
              f"{splits.get('validation', 0)} validation), {st.rejected} rejected -> {Path(args.out) / name}",
              file=sys.stderr)
    return 0
