"""Local process pool against Ray at equal cores, on CI tracing + validation.

    nice -n 10 python benchmarks/executors.py [--cores 2] [--modules test_calendar,test_shlex,...]

Workload, the same for both executors:
  1. trace: each stdlib test module traced in its own task (one module = one task, as
     `collect_ci(executor=...)` traces one project per task; the stdlib is one source there,
     so it would be one task here and nothing to spread);
  2. tasks: collect ci's TaskBuilder stage (extract, build and sandbox-check each traced
     function) through `run_stage`, shards of 25;
  3. validate: `validate` (3 sandboxed runs per reference) through `run_stage`, shards of 10.
Local: `LocalExecutor(cores)`. Ray: a local Ray instance started with `num_cpus=cores`, one
CPU per task (its start is timed apart). Each task's process holds a 1-worker sandbox, so both
use `cores` CPUs. Each executor runs the workload twice (a long build's later stages find Ray's workers
started); prints seconds per phase and pass, the per-shard costs (for README's scaling
estimate) and the ratios Ray/local; checks that every run wrote the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codexsd.core.executor import LocalExecutor, RayExecutor  # noqa: E402
from codexsd.pipeline import DEFAULT_STDLIB_MODULES, output_hash  # noqa: E402
from codexsd.core.stage import chunk, read_artifact, run_stage  # noqa: E402

SANDBOX = "local"


def trace_module(job: tuple[str, str]) -> list[dict]:
    """One stdlib test module traced into its own work folder; returns the traced-function items."""
    from curation.ci.collect import DEFAULT_SOURCE, trace_source
    from curation.ci.config import CIConfig

    module, work = job
    cfg = CIConfig(test_modules=[module], require_docstring=True, workers=1)
    return trace_source(DEFAULT_SOURCE, cfg, Path(work) / module)["items"]


def run(executor, modules: list[str], work: Path) -> dict:
    from curation.ci.config import CIConfig
    from curation.ci.tasks import STAGE, TaskBuilder
    from filters.validate import ValidateShard

    t0 = time.perf_counter()
    traced = dict(executor.run(trace_module, [(m, str(work / "trace")) for m in modules]))
    t_trace = time.perf_counter() - t0
    items = [it for i in sorted(traced) for it in traced[i]]
    problems_dir = work / "problems"
    t0 = time.perf_counter()  # each worker process opens a 1-worker sandbox on first use
    run_stage(STAGE, problems_dir, chunk(items, 25), TaskBuilder(CIConfig(require_docstring=True, sandbox=SANDBOX),
                                                                  sandbox_workers=1),
              executor=executor, progress=False)
    t_tasks = time.perf_counter() - t0
    shards = chunk(list(read_artifact(problems_dir)), 10)
    fn = ValidateShard(runs=3, backend=SANDBOX, workers=1)
    t0 = time.perf_counter()
    stats = run_stage("validate", work / "validated", shards, fn, params=fn.params(), executor=executor, progress=False)
    t_validate = time.perf_counter() - t0
    return {"trace_s": t_trace, "tasks_s": t_tasks, "validate_s": t_validate, "modules": len(modules),
            "items": len(items), "problems": sum(map(len, shards)), "shards": len(shards), "kept": stats.kept,
            "hash": output_hash(problems_dir) + output_hash(work / "validated")}


def _noop(_):
    return None


def pool_start_s(method: str, cores: int, repeats: int = 3) -> float:
    """Seconds for a `cores`-process LocalExecutor to start and run one trivial task per worker (best of `repeats`)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        list(LocalExecutor(cores, start_method=method).run(_noop, list(range(cores))))
        best = min(best, time.perf_counter() - t0)
    return best


def _total(r: dict) -> float:
    return r["trace_s"] + r["tasks_s"] + r["validate_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--modules", default=",".join(DEFAULT_STDLIB_MODULES))
    args = ap.parse_args()
    modules = [m for m in args.modules.split(",") if m]
    root = Path(tempfile.mkdtemp(prefix="codexsd-bench-executors-"))
    try:
        with LocalExecutor(args.cores) as ex:
            local_cold = run(ex, modules, root / "local1")
            local = run(ex, modules, root / "local2")
        t0 = time.perf_counter()
        ex = RayExecutor(init_kwargs={"num_cpus": args.cores, "include_dashboard": False})
        ray_start = time.perf_counter() - t0
        try:
            ray_cold = run(ex, modules, root / "ray1")
            on_ray = run(ex, modules, root / "ray2")
        finally:
            ex.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{local['modules']} modules traced -> {local['items']} functions -> {local['problems']} problems "
          f"in {local['shards']} shards (validate keeps {local['kept']}); {args.cores} cores each")
    print("first pass (Ray's workers start and import codexsd), then a second pass on the same executor:")
    print(f"{'':12}{'trace s':>10}{'tasks s':>10}{'validate s':>12}{'total s':>10}")
    for name, r in (("local 1st", local_cold), ("ray 1st", ray_cold), ("local 2nd", local), ("ray 2nd", on_ray)):
        print(f"{name:12}{r['trace_s']:>10.1f}{r['tasks_s']:>10.1f}{r['validate_s']:>12.1f}{_total(r):>10.1f}")
    print(f"ray start (not in totals): {ray_start:.1f} s")
    starts = {m: pool_start_s(m, args.cores) for m in ("forkserver", "fork")}
    print(f"local pool start (paid once per stage, in the totals): forkserver {starts['forkserver']:.2f} s "
          f"(the default: fork hangs after torch ran in the driver), fork {starts['fork']:.2f} s")
    per_module = local["trace_s"] * args.cores / max(1, local["modules"])
    per_function = local["tasks_s"] * args.cores / max(1, local["items"])
    per_problem = local["validate_s"] * args.cores / max(1, local["problems"])
    print(f"per-shard cost (local, CPU-seconds): {per_module:.1f} s per traced module, {per_function:.2f} s per "
          f"traced function made a task, {per_problem:.2f} s per validated problem (3 runs)")
    same = local["hash"] == on_ray["hash"] == ray_cold["hash"] == local_cold["hash"]
    print(f"same task and validated bytes: {same}")
    print(f"ratio ray/local, first pass: total {_total(ray_cold) / _total(local_cold):.2f}")
    print(f"ratio ray/local, second pass: trace {on_ray['trace_s'] / local['trace_s']:.2f}, "
          f"tasks {on_ray['tasks_s'] / local['tasks_s']:.2f}, validate {on_ray['validate_s'] / local['validate_s']:.2f}, "
          f"total {_total(on_ray) / _total(local):.2f}")
    if not same:
        sys.exit("the executors wrote different bytes")


if __name__ == "__main__":
    main()
