"""Solvability filter cost: early stop at the first passing sample against drawing all N (--full).

On the first P validated problems (default 50; MBPP rows collected and validated in the
sandbox by the competitive collector, or any finished stage given with --validated), runs
the filter twice with the same model, seed and sandbox: once stopping each problem at its
first passing round (the default) and once drawing all N samples. Prints samples drawn,
sandbox programs and wall time for both, whether the keep/drop decisions agree, and the
saving as a ratio full / early.

    python benchmarks/solvability_cost.py --mbpp ../shared/data/mbpp/mbpp.jsonl --model default -n 100

Measured 2026-11-26 on one H200 (transformers, SmolLM2-135M-Instruct GGUF dequantised, --no-chat,
batch 256, max_new_tokens 128, local sandbox), MBPP rows 1-60 collected and validated: early stop
4940 samples / 198 s, --full 5000 samples / 147 s, same decisions (1 kept, 49 unsolved), saving
x1.01 in samples. The 135M model solves 1 of 50 (1/100 samples), so almost every problem draws all
N either way; the saving grows with the solved fraction. The early run goes first and carries the
GPU warm-up, so its wall time is not comparable here.

Measured 2026-11-26 on this 2-core CPU with a model that solves more: the S model of the README's
CPU run (SmolLM2-135M after 80 steps on MBPP-derived data, so these MBPP rows were partly seen in
training; exported with `codexsd export-gguf`, llama.cpp, --no-chat, -n 20, rounds of 10, 200 new
tokens, docker sandbox): early stop 940 samples / 420 s, --full 1000 samples / 404 s, same
decisions (12 kept, 38 dropped), saving x1.06 in samples (wall x0.96: noise on a shared VM). Only
a kept problem can save, and at most N minus one round; --full's passes/20 of the kept ones:
13, 12, 5, 3, 2, 1, 1, 1, 1, 1, 1, 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from codexsd.core.record import Problem  # noqa: E402
from codexsd.core.stage import read_artifact, read_rejects, read_shards, run_stage  # noqa: E402
from filters.solvability import SolvabilityConfig, read_sample_log, solvability_stage  # noqa: E402


def validated_problems(args: argparse.Namespace, work: Path, sandbox) -> list[Problem]:
    if args.validated:
        problems = [p for shard in read_shards(args.validated) for p in shard]
    else:
        from curation.competitive.collect import collect_competitive
        from curation.competitive.config import CompetitiveConfig

        cfg = CompetitiveConfig(limit=int(args.problems * 1.5) + 10)
        collect_competitive([args.mbpp], work / "validated", cfg, sandbox=sandbox, progress=True)
        problems = list(read_artifact(work / "validated"))
    if len(problems) < args.problems:
        print(f"only {len(problems)} validated problems available", file=sys.stderr)
    return problems[: args.problems]


def run_once(name: str, in_dir: Path, out: Path, cfg: SolvabilityConfig, sampler, sandbox) -> dict:
    t0 = time.perf_counter()
    stats = solvability_stage(in_dir, out, cfg, sampler=sampler, sandbox=sandbox, progress=True)
    wall = time.perf_counter() - t0
    rows = read_sample_log(out)
    kept = {p.task_id: p.metadata["solvability"] for p in read_artifact(out)}
    return {
        "name": name,
        "wall_s": wall,
        "samples": sum(r["kind"] == "sample" for r in rows),
        "programs": sum(r["kind"] == "outcome" for r in rows),
        "kept": sorted(kept),
        "rejected": sorted(r.id for r in read_rejects(out)),
        "passes": {tid: m["passes"] for tid, m in kept.items()},
        "items_in": stats.items_in,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("CODEXSD_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--mbpp", default=str(shared / "mbpp" / "mbpp.jsonl"), help="MBPP's full mbpp.jsonl (../shared/data or $CODEXSD_SHARED_DATA)")
    ap.add_argument("--validated", help="a finished stage to take problems from instead of collecting MBPP")
    ap.add_argument("--problems", type=int, default=50)
    ap.add_argument("--model", default="default", help="model spec (codexsd.models)")
    ap.add_argument("-n", "--n-samples", type=int, default=100)
    ap.add_argument("--round-size", type=int, default=10)
    ap.add_argument("--max-new-tokens", type=int, default=300)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--tasks-per-call", type=int, default=16)
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--no-chat", action="store_true", help="prompt an instruct model with the bare function (no chat template)")
    ap.add_argument("--batch-size", type=int, help="the sampler's batch size (rows per forward pass)")
    ap.add_argument("--work", default="/tmp/codexsd-solvability-bench")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if not args.validated and not Path(args.mbpp).is_file():
        ap.error(f"MBPP file not found: {args.mbpp} (give --mbpp FILE, set CODEXSD_SHARED_DATA, or use --validated DIR)")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from codexsd.models import load_sampler
    from codexsd.sandbox import get_sandbox

    work = Path(args.work)
    sandbox = get_sandbox(args.sandbox)
    try:
        problems = validated_problems(args, work, sandbox)
        run_stage("input", work / "input", [problems], lambda items: iter(items), progress=False)
        kw = {k: v for k, v in (("chat", False if args.no_chat else None), ("batch_size", args.batch_size)) if v is not None}
        sampler = load_sampler(args.model, **kw)
        base = dict(model=args.model, n_samples=args.n_samples, round_size=args.round_size, max_new_tokens=args.max_new_tokens,
                    temperature=args.temperature, tasks_per_call=args.tasks_per_call)
        early = run_once("early stop", work / "input", work / "early", SolvabilityConfig(**base), sampler, sandbox)
        full = run_once("--full", work / "input", work / "full", SolvabilityConfig(**base, full=True), sampler, sandbox)
    finally:
        sandbox.close()

    same = early["kept"] == full["kept"] and early["rejected"] == full["rejected"]
    print(f"\nsolvability cost on {len(problems)} validated problems, model {args.model}{' (no chat)' if args.no_chat else ''}, N={args.n_samples}, "
          f"rounds of {args.round_size}, max_new_tokens={args.max_new_tokens}")
    print(f"{'run':<12}{'samples':>10}{'programs':>10}{'wall s':>10}{'kept':>6}{'dropped':>9}")
    for r in (early, full):
        print(f"{r['name']:<12}{r['samples']:>10}{r['programs']:>10}{r['wall_s']:>10.1f}{len(r['kept']):>6}{len(r['rejected']):>9}")
    print(f"same keep/drop decisions: {'yes' if same else 'NO'}")
    print(f"saving (full / early stop): samples x{full['samples'] / max(1, early['samples']):.2f}, "
          f"wall time x{full['wall_s'] / max(1e-9, early['wall_s']):.2f}")
    rates = sorted(full["passes"].values(), reverse=True)
    print(f"passes/{args.n_samples} of kept problems (--full difficulty estimate): {rates}")
    if args.json:
        Path(args.json).write_text(json.dumps({"early": early, "full": full, "same_decisions": same}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
