"""Collect the APPS sample in ../shared/data: counts kept and rejected per reason, and speed.

    python benchmarks/collect_apps.py [--data PATH] [--sandbox local|docker] [--no-baseline]

Runs the collector as shipped (each shard's programs of a round in ONE `sandbox.run`
call) and, side by side on the same sandbox, the baseline "one program per
`sandbox.run` call", then prints both times and their ratio. The two runs must keep
the same problems.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from codexsd.core.stage import read_artifact, read_rejects  # noqa: E402
from curation.competitive import CompetitiveConfig, collect_competitive  # noqa: E402
from codexsd.sandbox import Outcome, Program, Sandbox, get_sandbox  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("CODEXSD_SHARED_DATA", REPO.parent / "shared" / "data")) / "apps" / "apps_train_sample150.jsonl"


class OneAtATime(Sandbox):
    """Baseline: the same sandbox, but each program sent in its own `run` call."""

    name = "one-at-a-time"

    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner

    def run(self, programs: Sequence[Program], progress=None) -> list[Outcome]:
        return [self.inner.run([p])[0] for p in programs]


def collect(data: Path, sandbox: Sandbox, config: CompetitiveConfig) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        stats = collect_competitive([str(data)], out, config, sandbox=sandbox, progress=True)
        elapsed = time.perf_counter() - t0
        kept = list(read_artifact(out))
        rejects = list(read_rejects(out))
    return elapsed, {
        "stats": stats,
        "kinds": collections.Counter(p.metadata["kind"] for p in kept),
        "kept_ids": sorted(p.task_id for p in kept),
        "rejects": rejects,
        "solution_index": collections.Counter(p.metadata["solution_index"] for p in kept),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sandbox", default=None, help="sandbox backend (default: auto)")
    ap.add_argument("--shard-size", type=int, default=50)
    ap.add_argument("--no-baseline", action="store_true", help="skip the one-program-per-call baseline run")
    args = ap.parse_args()
    if not args.data.exists():
        print(f"no APPS sample at {args.data} (give --data FILE or set CODEXSD_SHARED_DATA to ../shared/data)", file=sys.stderr)
        return 2
    config = CompetitiveConfig(shard_size=args.shard_size)
    with get_sandbox(args.sandbox) as sandbox:
        sandbox.run([Program("pass")])  # start the workers outside the timings
        t_batched, batched = collect(args.data, sandbox, config)
        baseline = None if args.no_baseline else collect(args.data, OneAtATime(sandbox), config)

    stats = batched["stats"]
    print(f"APPS sample: {args.data}  (sandbox: {type(sandbox).__name__})")
    print(f"  problems in: {stats.items_in}   kept: {stats.kept}   rejected: {stats.rejected}")
    print(f"  kept by kind: {dict(sorted(batched['kinds'].items()))}")
    print(f"  kept by reference solution tried: {dict(sorted(batched['solution_index'].items()))}")
    print("  rejected per reason:")
    for reason, n in sorted(stats.reasons.items(), key=lambda kv: -kv[1]):
        print(f"    {reason}: {n}")
    for r in batched["rejects"]:
        print(f"    - {r.id}: {r.reason}: {r.detail[:160]}")
    print("\nspeed (same sandbox, same problems):")
    print(f"  batched (one sandbox.run per shard round): {t_batched:8.1f} s  ({stats.items_in / t_batched:.2f} problems/s)")
    if baseline is not None:
        t_base, base = baseline
        print(f"  baseline one-at-a-time (one run per program): {t_base:8.1f} s  ({stats.items_in / t_base:.2f} problems/s)")
        print(f"  ratio baseline / batched: {t_base / t_batched:.2f}x")
        if base["kept_ids"] != batched["kept_ids"]:
            print("  WARNING: the two runs kept different problems", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
