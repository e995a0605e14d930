"""Run test modules under the tracer in separate processes, each within a time budget.

The parent side of `child.py`: one subprocess (its own session, so it and anything it
spawns can be killed as a group) per test module, a few at a time, each with a
per-module budget inside the project's overall budget; then one fresh process that
replays every kept call. A module that hangs, crashes the interpreter or fails still
leaves the others' records, and its outcome says what happened.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

CHILD = Path(__file__).with_name("child.py")


def values_path() -> str:
    """codexsd/sandbox/values.py, which the child execs to encode values."""
    from codexsd.sandbox import values

    return str(Path(values.__file__).resolve())
KILL_GRACE_S = 10.0  # after its budget the child dumps and exits itself; this long later it is killed


@dataclass(frozen=True)
class TraceJob:
    name: str  # e.g. "test.test_textwrap" or "tests/test_core.py"
    target: tuple[str, ...]  # what follows `python child.py trace SPEC --`, e.g. ("-m", "pytest", "tests/x.py")
    whole_suite: bool = False  # a command that could not be split per module: it gets the project's budget


@dataclass
class TraceTarget:
    """Everything needed to trace one project's tests."""

    python: str
    cwd: str
    jobs: list[TraceJob]
    roots: list[str] = field(default_factory=list)  # directories whose functions are recorded
    files: list[str] = field(default_factory=list)  # single files whose functions are recorded
    exclude: list[str] = field(default_factory=list)  # directories never recorded (tests, site-packages)
    env: dict[str, str] = field(default_factory=dict)  # added to a cleaned copy of os.environ
    packages: list[str] = field(default_factory=list)  # top-level packages whose modules are recorded (all when empty)


@dataclass(frozen=True)
class ModuleOutcome:
    name: str
    status: str  # passed | tests_failed | timeout | crashed | skipped
    seconds: float
    functions: int
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 2),
                "functions": self.functions, "detail": self.detail}


def child_env(extra: dict[str, str], hash_seed: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COV_", "PYTEST_"))}
    env.update({"PYTHONHASHSEED": str(hash_seed), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"})
    env.update(extra)
    return env


def _run_child(argv: list[str], cwd: str, env: dict[str, str], budget: float, log_path: Path) -> tuple[int | None, float]:
    """Run argv in its own session; returns (exit status or None when killed, seconds)."""
    t0 = time.monotonic()
    with open(log_path, "wb") as log_fh:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log_fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code: int | None = proc.wait(timeout=budget + KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the child's session: it and whatever it spawned
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
    return code, time.monotonic() - t0


def _tail(path: Path, chars: int = 600) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _broken_plugin(log_path: Path) -> str | None:
    """The name of the pytest plugin whose loading stopped pytest, from the child's log."""
    match = re.search(r"PluginValidationError: Plugin '([^']+)'", _tail(log_path, 4000))
    return match.group(1) if match else None


def trace_module(target: TraceTarget, job: TraceJob, index: int, budget: float, workdir: Path,
                 max_calls: int, max_chars: int) -> tuple[list[dict], ModuleOutcome]:
    out = workdir / f"trace-{index:04d}.json"
    spec_path = workdir / f"trace-{index:04d}.spec.json"
    out.unlink(missing_ok=True)
    spec = {"out": str(out), "roots": target.roots, "files": target.files, "exclude": target.exclude,
            "max_calls": max_calls * 2, "max_chars": max_chars, "budget_s": budget,
            "packages": target.packages, "values_path": values_path()}
    spec_path.write_text(json.dumps(spec))
    log_path = workdir / f"trace-{index:04d}.log"
    pytest_args, seconds = list(job.target), 0.0
    for _ in range(4):
        argv = [target.python, str(CHILD), "trace", str(spec_path), "--", *pytest_args]
        code, took = _run_child(argv, target.cwd, child_env(target.env, 0), budget - seconds, log_path)
        seconds += took
        broken = _broken_plugin(log_path) if code not in (0, None) and pytest_args[:2] == ["-m", "pytest"] else None
        if not broken or budget - seconds < 1.0:
            break
        # an installed plugin that does not load with this pytest (pytest-flake8 and the like): run without it
        log.info("%s: pytest plugin %r does not load; running without it", job.name, broken)
        pytest_args[2:2] = ["-p", f"no:{broken}"]
    try:
        data = json.loads(out.read_text())
    except (OSError, ValueError):
        data = None
    records = data["functions"] if data else []
    for rec in records:
        rec["traced_by"] = [job.name]
    if code == 124 or (data and data["status"] == "timeout"):
        status = "timeout"
    elif code is None:
        status = "timeout"
    elif data is None or code < 0:
        status = "crashed"
    elif code == 0:
        status = "passed"
    else:
        status = "tests_failed"
    detail = "" if status == "passed" else f"exit {code}: {_tail(log_path)}"
    return records, ModuleOutcome(job.name, status, seconds, len(records), detail)


def trace_jobs(target: TraceTarget, workdir: Path, per_module_timeout: float, project_timeout: float,
               max_calls: int, max_chars: int, workers: int = 2,
               progress: Callable[[ModuleOutcome], None] | None = None) -> tuple[list[dict], list[ModuleOutcome]]:
    """Trace every job of `target`; returns merged function records and one outcome per job."""
    workdir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + project_timeout

    def one(item: tuple[int, TraceJob]) -> tuple[list[dict], ModuleOutcome]:
        index, job = item
        left = deadline - time.monotonic() - KILL_GRACE_S
        if left < 1.0:
            result = [], ModuleOutcome(job.name, "skipped", 0.0, 0, "project time budget spent")
        else:
            budget = left if job.whole_suite else min(per_module_timeout, left)
            result = trace_module(target, job, index, budget, workdir, max_calls, max_chars)
        if progress:
            progress(result[1])
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, enumerate(target.jobs)))
    outcomes = [o for _, o in results]
    merged = merge_records([r for r, _ in results], max_calls * 2)
    return merged, outcomes


def merge_records(groups: list[list[dict]], max_calls: int) -> list[dict]:
    """One record per function; a call seen with two different results is dropped."""
    by_key: dict[tuple, dict] = {}
    conflicts: dict[tuple, set[str]] = {}
    for records in groups:
        for rec in records:
            key = (rec["filename"], rec["qualname"], rec["firstlineno"])
            into = by_key.get(key)
            if into is None:
                by_key[key] = into = {**rec, "calls": [], "drops": {}, "traced_by": []}
                conflicts[key] = set()
            into["traced_by"] = sorted(set(into["traced_by"]) | set(rec.get("traced_by", [])))
            for reason, n in rec["drops"].items():
                into["drops"][reason] = into["drops"].get(reason, 0) + n
            known = dict(into["calls"])
            for args, result in rec["calls"]:
                if args in known and known[args] != result:
                    conflicts[key].add(args)
                elif args not in known:
                    known[args] = result
            into["calls"] = [[a, r] for a, r in known.items()]
    for key, rec in by_key.items():
        if conflicts[key]:
            rec["calls"] = [c for c in rec["calls"] if c[0] not in conflicts[key]]
            rec["drops"]["differs_across_runs"] = rec["drops"].get("differs_across_runs", 0) + len(conflicts[key])
        if len(rec["calls"]) > max_calls:
            rec["calls"] = sorted(rec["calls"], key=lambda c: c[0])[:max_calls]
    return sorted(by_key.values(), key=lambda r: (r["module"], r["qualname"]))


def replay(target: TraceTarget, records: list[dict], workdir: Path, call_timeout: float, budget: float,
           max_crashes: int = 5) -> list[dict]:
    """Replay every record's calls in fresh processes (another hash seed); a crash drops that function.

    The traced calls are first written as expressions (curation/ci/exprs.py); each runs twice
    on fresh arguments, in the project's directory, with a per-call alarm; calls whose outcome
    differs between the runs or from the recording are dropped. Returned records hold Call dicts.
    """
    from curation.ci.exprs import plan_record

    workdir.mkdir(parents=True, exist_ok=True)
    records = [plan_record(r) for r in records]
    # calls that only ever returned None make no task (and are the likeliest to only have side
    # effects, like deleting a path): they are not replayed
    todo = [r for r in records if not only_none(r["calls"])]
    done: list[dict] = [r for r in records if only_none(r["calls"])]
    deadline = time.monotonic() + budget
    crashes = 0
    while todo:
        out = workdir / "replay.jsonl"
        out.unlink(missing_ok=True)
        spec_path = workdir / "replay.spec.json"
        spec_path.write_text(json.dumps({"out": str(out), "functions": todo, "call_timeout": call_timeout,
                                         "values_path": values_path()}))
        left = max(1.0, deadline - time.monotonic())
        code, _ = _run_child([target.python, str(CHILD), "replay", str(spec_path)], target.cwd,
                             child_env(target.env, 1), left, workdir / "replay.log")
        lines = out.read_text().splitlines() if out.exists() else []
        finished = [json.loads(line) for line in lines]
        done.extend(finished)
        todo = todo[len(finished):]
        if not todo:
            break
        crashes += 1
        why = "replay_timeout" if code is None else "replay_crashed"
        give_up = crashes >= max_crashes or time.monotonic() >= deadline
        victims, todo = (todo, []) if give_up else (todo[:1], todo[1:])
        log.warning("replay %s (exit %s) at %s; %d function(s) dropped", why, code, victims[0]["qualname"], len(victims))
        for rec in victims:
            done.append({**rec, "calls": [], "drops": {**rec["drops"], why: rec["drops"].get(why, 0) + len(rec["calls"])}})
    return sorted(done, key=lambda r: (r["module"], r["qualname"]))


def only_none(calls: list[dict]) -> bool:
    """Every call is expected to return None (no task in that: it checks nothing, or only side effects)."""
    return all(c.get("kind", "value") == "value" and c.get("expected") == ["None"] and not c.get("raises")
               for c in calls)
