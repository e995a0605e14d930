"""Benchmark: the CI-tracing collector on its default source, the stdlib's own test suite.

Prints validated tasks, distinct stdlib modules they come from, rejects per reason, and
wall time; beside it, the baseline: the same test modules run untraced (same parallelism),
so the tracer's overhead shows as a ratio.

    python benchmarks/ci_stdlib.py --out /tmp/ci-bench --max-modules 60
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codexsd.core.stage import read_artifact  # noqa: E402
from curation.ci import CIConfig, collect_ci  # noqa: E402
from curation.ci.stdlib import choose_test_modules  # noqa: E402


def untraced_seconds(modules: list[str], workers: int, timeout: float) -> float:
    """Baseline: run the same test modules with no tracer, `workers` at a time."""

    def one(m: str) -> None:
        try:
            subprocess.run([sys.executable, "-m", "unittest", "-q", f"test.{m}"], capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, modules))
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory (reused: delete it for a cold run)")
    ap.add_argument("--max-modules", type=int, default=CIConfig.max_modules)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modules", default="", help="comma-separated stdlib test modules instead of a seeded choice "
                                                  "(the default build's: configs/default.yaml ci.test_modules)")
    ap.add_argument("--require-docstring", action="store_true", help="as the default build does")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--per-module-timeout", type=float, default=CIConfig.per_module_timeout)
    ap.add_argument("--sandbox", default="local")
    ap.add_argument("--no-baseline", action="store_true", help="skip the untraced baseline run")
    args = ap.parse_args()

    names = [m.strip() for m in args.modules.split(",") if m.strip()]
    config = CIConfig(max_modules=args.max_modules, seed=args.seed, workers=args.workers, test_modules=names,
                      per_module_timeout=args.per_module_timeout, sandbox=args.sandbox,
                      require_docstring=args.require_docstring)
    modules = choose_test_modules(config.max_modules, config.seed, names or None)
    t0 = time.monotonic()
    stats = collect_ci([], args.out, config)
    collect_s = time.monotonic() - t0
    problems = list(read_artifact(args.out))
    task_modules = sorted({p.origin["module"] for p in problems})
    report = json.loads((Path(args.out) / "projects.json").read_text())[0]

    print(f"source: stdlib {sys.version.split()[0]} tests, {len(modules)} test modules (seed {args.seed}), "
          f"{args.workers} worker(s)")
    print(f"test modules: {report.get('module_status')}")
    print(f"functions traced {report.get('functions_traced')}, with kept calls {report.get('functions_with_calls')}, "
          f"calls kept {report.get('calls_kept')}")
    print(f"calls dropped: {report.get('call_drops')}")
    print(f"functions in {stats.items_in} = validated tasks {stats.kept} + rejected {stats.rejected}")
    print(f"validated tasks: {stats.kept} from {len(task_modules)} stdlib modules")
    kinds = {"raises": sum(1 for p in problems for c in p.calls if c.get("raises")),
             "generator": sum(1 for p in problems for c in p.calls if c["expr"].startswith("list(candidate(")),
             "mutation": sum(1 for p in problems for c in p.calls if c["expr"].startswith("(lambda") and ": (candidate(" in c["expr"]),
             "all": sum(len(p.calls) for p in problems)}
    print(f"calls asserted: {kinds['all']} (expected exceptions {kinds['raises']}, generators {kinds['generator']}, "
          f"mutated arguments {kinds['mutation']})")
    print("rejects per reason:")
    for reason, n in sorted(stats.reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {reason:24s} {n}")
    print(f"collect wall time: {collect_s:.1f}s (trace {report.get('seconds')}s)")
    if not args.no_baseline:
        base = untraced_seconds(modules, args.workers, args.per_module_timeout)
        traced = float(report.get("seconds") or 0.0)
        print(f"baseline (same modules, untraced, {args.workers} worker(s)): {base:.1f}s; "
              f"traced+replayed / untraced = {traced / base:.2f}x" if base else "baseline: 0s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
