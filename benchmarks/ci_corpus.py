"""Benchmark: the CI-tracing collector on a corpus of real PyPI projects (configs/ci_projects.txt).

Runs `collect_ci` on every project of the file (projects in parallel, a time budget each;
a project that fails is a reject with its reason) unless `--report-only`, then prints one
row per project: test modules run (passed+failed / all), functions traced, functions with
kept calls, validated tasks, the main reasons functions were rejected, seconds; and totals.

    nice -n 10 python benchmarks/ci_corpus.py --out /tmp/ci-corpus/out --project-workers 4
    python benchmarks/ci_corpus.py --out /tmp/ci-corpus/out --report-only     # the table of a finished run
    python benchmarks/ci_corpus.py --report-only --out A B C    # runs done in batches: a later one's row wins,
                                                                # rows limited to --projects-file
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codexsd.core.stage import read_artifact, read_rejects  # noqa: E402
from curation.ci import CIConfig, collect_ci  # noqa: E402
from curation.ci.collect import read_projects_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def project_of_ids(out: Path, reports: list[dict]) -> dict[str, str]:
    """task/reject id -> project spec, from each project's cached trace."""
    owner: dict[str, str] = {}
    for rep in reports:
        owner[f"ci/project:{rep['project']}"] = rep["project"]
        try:
            traced = json.loads((out / "work" / rep["slug"] / "trace.json").read_text())
        except (OSError, ValueError, KeyError):
            continue
        for item in traced.get("items", []):
            owner.setdefault(item["id"], rep["project"])
    return owner


def table(out: Path) -> tuple[list[dict], dict]:
    reports = json.loads((out / "projects.json").read_text())
    owner = project_of_ids(out, reports)
    tasks: Counter = Counter()
    reasons: dict[str, Counter] = {r["project"]: Counter() for r in reports}
    for p in read_artifact(out):
        tasks[owner.get(p.task_id.split("#")[0], "?")] += 1
    for r in read_rejects(out):
        reasons.setdefault(owner.get(r.id.split("#")[0], "?"), Counter())[r.reason] += 1
    rows = []
    for rep in reports:
        status = rep.get("module_status", {})
        ran = status.get("passed", 0) + status.get("tests_failed", 0)
        rows.append({
            "project": rep["project"].removeprefix("pypi:"), "modules_run": ran, "modules": rep.get("test_modules", 0),
            "traced": rep.get("functions_traced", 0), "with_calls": rep.get("functions_with_calls", 0),
            "tasks": tasks[rep["project"]], "seconds": rep.get("seconds", 0.0),
            "reasons": reasons.get(rep["project"], Counter()), "error": rep.get("error", ""),
        })
    return rows, summarise(rows)


def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    return {"projects": n, "with_tasks": sum(1 for r in rows if r["tasks"]),
              "tasks": sum(r["tasks"] for r in rows), "traced": sum(r["traced"] for r in rows),
              "with_calls": sum(r["with_calls"] for r in rows), "modules_run": sum(r["modules_run"] for r in rows),
              "modules": sum(r["modules"] for r in rows), "seconds": sum(r["seconds"] for r in rows),
              "failed_projects": sum(1 for r in rows if r["error"]),
              "reasons": sum((r["reasons"] for r in rows), Counter())}


def print_table(rows: list[dict], totals: dict) -> None:
    print(f"{'project':22s} {'modules run':>11s} {'traced':>6s} {'w/calls':>7s} {'tasks':>5s} {'sec':>6s}  "
          f"rejects (top) / failure")
    for r in rows:
        top = ", ".join(f"{k} {v}" for k, v in r["reasons"].most_common(3))
        why = r["error"][:70] if r["error"] else top
        print(f"{r['project'][:22]:22s} {r['modules_run']:>5d}/{r['modules']:<5d} {r['traced']:>6d} "
              f"{r['with_calls']:>7d} {r['tasks']:>5d} {r['seconds']:>6.0f}  {why}")
    share = totals["with_tasks"] / totals["projects"] if totals["projects"] else 0.0
    print(f"TOTAL {totals['projects']} projects: {totals['tasks']} validated tasks; {totals['with_tasks']} projects "
          f"({share:.0%}) give >= 1; {totals['failed_projects']} project failures (rejects with a reason); "
          f"test modules run {totals['modules_run']}/{totals['modules']}; functions traced {totals['traced']}, "
          f"with kept calls {totals['with_calls']}; trace seconds summed {totals['seconds']:.0f}")
    print("rejects per reason: " + ", ".join(f"{k} {v}" for k, v in totals["reasons"].most_common()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, nargs="+", help="output directory (reused: finished projects are "
                                                             "cached); several with --report-only")
    ap.add_argument("--projects-file", default=str(ROOT / "configs" / "ci_projects.txt"))
    ap.add_argument("--project-workers", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1, help="test modules of one project traced at once")
    ap.add_argument("--files-per-job", type=int, default=4, help="pytest test files per traced process")
    ap.add_argument("--project-timeout", type=float, default=240.0)
    ap.add_argument("--per-module-timeout", type=float, default=60.0)
    ap.add_argument("--install-timeout", type=float, default=300.0)
    ap.add_argument("--sandbox", default="local")
    ap.add_argument("--report-only", action="store_true", help="print the table of a finished run")
    args = ap.parse_args()
    out = Path(args.out[0])
    wall = None
    if len(args.out) > 1 and not args.report_only:
        ap.error("several --out directories only with --report-only")
    if not args.report_only:
        config = CIConfig(project_workers=args.project_workers, workers=args.workers, files_per_job=args.files_per_job,
                          project_timeout=args.project_timeout, per_module_timeout=args.per_module_timeout,
                          install_timeout=args.install_timeout, sandbox=args.sandbox)
        t0 = time.monotonic()
        collect_ci(read_projects_file(args.projects_file), out, config, progress=False)
        wall = time.monotonic() - t0
    if len(args.out) == 1 and not args.report_only:
        rows, totals = table(out)
    else:
        wanted = [s.removeprefix("pypi:") for s in read_projects_file(args.projects_file)]
        by_project = {r["project"]: r for d in args.out for r in table(Path(d))[0]}
        rows = [by_project[name] for name in wanted if name in by_project]
        totals = summarise(rows)
        missing = [name for name in wanted if name not in by_project]
        if missing:
            print(f"not run: {', '.join(missing)}")
    print_table(rows, totals)
    if wall is not None:
        print(f"collect wall time: {wall:.0f}s with {args.project_workers} projects at a time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
