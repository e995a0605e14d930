"""`collect_ci`: trace projects' test suites and turn the recorded calls into validated tasks.

Per project: fetch and install (or, for the default source, pick stdlib test modules),
trace each test module in its own process, replay the kept calls in a fresh one, and
cache the result under OUT/work/<project>/trace.json (a rerun with the same settings
reuses it). Then one resumable stage turns every traced function into a Problem or a
Reject; a project that cannot be fetched, installed or traced becomes one Reject, and
the other projects of the run go on.

Given an executor (codexsd.core.executor), each source is traced as one task and the
stage's shards run there too; results are merged in source order, so the output bytes
do not depend on where anything ran.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from codexsd.core.config import ConfigError
from codexsd.core.executor import Executor, LocalExecutor, task_cpus
from codexsd.core.stage import StageStats, chunk, fingerprint, run_stage
from curation.ci import project as projects_mod
from curation.ci import runner, stdlib
from curation.ci.config import CIConfig
from curation.ci.tasks import STAGE, TaskBuilder

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "stdlib"
TRACE_FORMAT = 3


def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


def _items(records: list[dict], origin: dict, src_root: Path | None) -> list[dict]:
    items = []
    for rec in records:
        path = Path(rec["filename"])
        if src_root is not None and path.is_relative_to(src_root):
            rel = str(path.relative_to(src_root))
        elif path.is_relative_to(stdlib.stdlib_dir()):
            rel = str(path.relative_to(stdlib.stdlib_dir()))
        else:
            rel = rec["module"].replace(".", "/") + ".py"
        items.append({
            "id": f"ci/{rec['module']}.{rec['qualname']}", "kind": "function", "module": rec["module"],
            "qualname": rec["qualname"], "filename": rec["filename"], "file_sha": _file_digest(rec["filename"]),
            "rel_path": rel, "firstlineno": rec["firstlineno"], "params": rec["params"], "calls": rec["calls"],
            "drops": rec["drops"], "traced_by": rec.get("traced_by", []), "origin": origin,
        })
    return items


def _failure_item(spec: str, reason: str, detail: str) -> dict:
    return {"id": f"ci/project:{spec}", "kind": "project_failure", "reason": reason, "detail": detail[-1500:]}


def trace_source(spec: str, config: CIConfig, work_root: Path,
                 on_module: Callable[[runner.ModuleOutcome], None] | None = None,
                 cwd: Path | None = None) -> dict[str, Any]:
    """Trace one source (DEFAULT_SOURCE or a PROJECT); returns {'items': [...], 'report': {...}} (cached).

    `cwd`: where a relative project path is found (the driver's folder, for a task run elsewhere).
    """
    is_stdlib = spec == DEFAULT_SOURCE
    slug = f"stdlib-{sys.version.split()[0]}" if is_stdlib else projects_mod.project_slug(spec)
    work = work_root / slug
    key = fingerprint(TRACE_FORMAT, spec, config.trace_key(), sys.version)
    cache = work / "trace.json"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached
    except (OSError, ValueError):
        pass
    t0 = time.monotonic()
    report: dict[str, Any] = {"project": spec, "slug": slug}
    try:
        if is_stdlib:
            modules = stdlib.choose_test_modules(config.max_modules, config.seed, config.test_modules or None)
            scratch = work / "scratch"
            scratch.mkdir(parents=True, exist_ok=True)
            target = stdlib.stdlib_target(modules, scratch)
            origin, src_root = stdlib.stdlib_origin(), None
        else:
            proj = projects_mod.fetch(_anchored(spec, cwd), work, config.install_timeout)
            target = projects_mod.project_target(proj, work, config)
            origin, src_root = proj.origin, proj.src.resolve()
        report["test_modules"] = len(target.jobs)
        records, outcomes = runner.trace_jobs(
            target, work / "trace", config.per_module_timeout, config.project_timeout,
            config.max_calls_per_function, config.max_value_chars, config.workers, on_module)
        for attempt in range(3 if not is_stdlib and config.install else 0):  # each run may reveal the next import
            retried = _retry_missing_modules(spec, target, records, outcomes, config, work / f"retry-{attempt}",
                                             on_module)
            if retried is None:
                break
            records, outcomes = retried
        records = runner.replay(target, records, work / "replay", config.replay_call_timeout,
                                budget=max(60.0, config.project_timeout / 2))
        for rec in records:
            rec["calls"] = sorted(rec["calls"], key=lambda c: bool(c.get("raises")))[: config.max_calls_per_function]
        items = _items(records, origin, src_root)
        report.update(_summarise(records, outcomes))
        if not any(o.status in ("passed", "tests_failed") for o in outcomes):
            statuses = sorted({o.status for o in outcomes}) or ["no test modules"]
            detail = "; ".join(f"{o.name}: {o.status} {o.detail[-200:]}" for o in outcomes[:3])
            items.append(_failure_item(spec, f"tests_{statuses[0]}" if len(statuses) == 1 else "tests_did_not_run",
                                       detail))
    except projects_mod.ProjectError as exc:
        log.error("%s: %s", spec, exc)
        items, report["error"] = [_failure_item(spec, exc.reason, exc.detail)], str(exc)
    except Exception as exc:  # noqa: BLE001 - one project's surprise is its reject, the others go on
        log.exception("%s: tracing failed", spec)
        detail = f"{type(exc).__name__}: {exc}"
        items, report["error"] = [_failure_item(spec, "trace_error", detail)], detail
    report["seconds"] = round(time.monotonic() - t0, 1)
    result = {"key": key, "items": items, "report": report}
    if "error" not in report:  # a failed fetch/install may be transient: try again next run
        work.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name("trace.json.tmp")
        tmp.write_text(json.dumps(result))
        os.replace(tmp, cache)
    return result


def _anchored(spec: str, cwd: Path | None) -> str:
    """A relative local-path `spec` made absolute against `cwd`; any other spec as it is."""
    if cwd is None or spec.startswith("pypi:") or projects_mod._is_git_url(spec):
        return spec
    path = Path(spec).expanduser()
    return spec if path.is_absolute() else str(cwd / path)


def _retry_missing_modules(spec, target, records, outcomes, config: CIConfig, work: Path, on_module):
    """Test modules that failed on an import the project's test extras did not declare: install it, run them
    again; (records, outcomes) after that, or None when there was nothing to install (or it failed)."""
    import dataclasses

    failed = [i for i, o in enumerate(outcomes) if o.status == "tests_failed" and "No module named" in o.detail]
    missing = projects_mod.missing_modules([outcomes[i].detail for i in failed], target.packages, Path(target.cwd))
    if not missing:
        return None
    try:
        installed = projects_mod.install_more(target.python, missing, config.install_timeout)
    except projects_mod.ProjectError as exc:
        log.warning("%s: installing %s the tests import failed: %s", spec, missing, exc.detail[-200:])
        return None
    log.info("%s: installed %s (imported by the tests), running %d test module(s) again", spec, installed, len(failed))
    again = dataclasses.replace(target, jobs=[target.jobs[i] for i in failed])
    more, retried = runner.trace_jobs(again, work, config.per_module_timeout,
                                      config.project_timeout / 2, config.max_calls_per_function,
                                      config.max_value_chars, config.workers, on_module)
    outcomes = list(outcomes)
    for i, outcome in zip(failed, retried):
        outcomes[i] = outcome
    return runner.merge_records([records, more], config.max_calls_per_function * 2), outcomes


def _summarise(records: list[dict], outcomes: list[runner.ModuleOutcome]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    drops: dict[str, int] = {}
    for rec in records:
        for reason, n in rec["drops"].items():
            drops[reason] = drops.get(reason, 0) + n
    return {
        "module_status": statuses,
        "modules": [o.to_dict() for o in outcomes],
        "functions_traced": len(records),
        "functions_with_calls": sum(1 for r in records if r["calls"]),
        "calls_kept": sum(len(r["calls"]) for r in records),
        "call_drops": dict(sorted(drops.items())),
    }


def merge_copies(items: list[dict], max_calls: int) -> list[dict]:
    """One item per function of one project: a function traced in two copies of its file (the source tree a
    doctest run imports and the installed copy the tests import) has its calls merged, a call whose two
    copies disagree dropped, at most `max_calls` kept (returned values first)."""
    first: dict[str, dict] = {}
    out = []
    for item in items:
        into = first.get(item["id"]) if item.get("kind") == "function" else None
        if into is None:
            if item.get("kind") == "function":
                first[item["id"]] = item = {**item, "calls": list(item["calls"]), "drops": dict(item["drops"])}
            out.append(item)
            continue
        known = {c["expr"]: c for c in into["calls"]}
        for call in item["calls"]:
            seen = known.get(call["expr"])
            if seen is None:
                known[call["expr"]] = call
            elif seen != call:
                known[call["expr"]] = None
        kept = [c for c in known.values() if c is not None]
        into["calls"] = sorted(kept, key=lambda c: bool(c.get("raises")))[:max_calls]
        for reason, n in item["drops"].items():
            into["drops"][reason] = into["drops"].get(reason, 0) + n
        into["traced_by"] = sorted(set(into.get("traced_by", [])) | set(item.get("traced_by", [])))
    return out


def _dedupe(items: list[dict]) -> list[dict]:
    """A second item with an id already seen becomes a duplicate_task_id reject (ids stay unique)."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        n = seen.get(item["id"], 0)
        seen[item["id"]] = n + 1
        if n:
            dup = _failure_item(item["id"], "duplicate_task_id", "an earlier project gave a task the same id")
            dup["id"] = f"{item['id']}#{n}"
            item = dup
        out.append(item)
    return out


def collect_ci(projects: list[str], out_dir: str | os.PathLike, config: CIConfig | None = None, sandbox=None,
               progress: bool = True, executor: Executor | None = None) -> StageStats:
    """Trace `projects` (default: the stdlib's own tests) into validated `ci` Problems under `out_dir`.

    Writes the stage's shards, rejects and stats.json, plus `projects.json` (per project: test
    modules passed/failed/timed out/crashed, functions traced, calls kept and dropped by reason).

    Without `executor` (or with a local one of 1 worker) everything runs from this process:
    `config.project_workers` projects traced at a time, the stage with `sandbox` (else one it
    opens). Otherwise each source is traced as one task of `executor`, and the stage's shards
    run there with a sandbox per worker process. On a Ray cluster `out_dir` must be on storage
    that every node sees at the same path (a shared mount): the projects' sources, venvs and
    traces live under OUT/work, and a worker that cannot see or write it stops the run saying so.
    """
    config = config or CIConfig()
    out = Path(out_dir)
    work_root = out.absolute() / "work"  # absolute: a task may run in another folder, or on another node
    sources = list(projects) or [DEFAULT_SOURCE]
    if DEFAULT_SOURCE in sources:
        stdlib.require_test_package()
    inline = executor is None or (isinstance(executor, LocalExecutor) and executor.workers <= 1)
    if inline:
        traced_all = _trace_all(sources, config, work_root, progress)
    else:
        traced_all = _trace_on(executor, sources, config, work_root, progress)
    items = [item for traced in traced_all for item in merge_copies(traced["items"], config.max_calls_per_function)]
    reports = [traced["report"] for traced in traced_all]
    out.mkdir(parents=True, exist_ok=True)
    (out / "projects.json").write_text(json.dumps(reports, indent=2) + "\n")
    items = _dedupe(items)
    own_sandbox = sandbox is None and inline
    if own_sandbox:
        from codexsd.sandbox import get_sandbox

        sandbox = get_sandbox(config.sandbox or None)
    # a Ray task's CPUs: its worker's sandbox runs that many programs
    builder = TaskBuilder(config, sandbox, sandbox_workers=task_cpus(executor))
    try:
        params = {k: v for k, v in config.to_dict().items() if k not in ("workers", "project_workers", "sandbox")}
        return run_stage(STAGE, out, chunk(items, config.shard_size), builder, params=params,
                         workers=1, progress=progress, executor=None if inline else executor)
    finally:
        if own_sandbox:
            sandbox.close()


def _trace_all(sources: list[str], config: CIConfig, work_root: Path, progress: bool) -> list[dict[str, Any]]:
    """trace_source for every source, `config.project_workers` projects at a time; results in `sources` order."""
    if config.project_workers <= 1 or len(sources) <= 1:
        out = []
        for spec in sources:
            bar = _module_bar(spec, progress)
            try:
                out.append(trace_source(spec, config, work_root, bar.update_outcome if bar else None))
            finally:
                if bar:
                    bar.close()
        return out
    from concurrent.futures import ThreadPoolExecutor

    bar = _projects_bar(len(sources), progress)

    def one(spec: str) -> dict[str, Any]:
        result = trace_source(spec, config, work_root)
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(spec, refresh=False)
        return result

    try:
        with ThreadPoolExecutor(max_workers=config.project_workers) as pool:
            return list(pool.map(one, sources))
    finally:
        if bar is not None:
            bar.close()


def _trace_on(executor: Executor, sources: list[str], config: CIConfig, work_root: Path,
              progress: bool) -> list[dict[str, Any]]:
    """One `executor` task per source, holding `config.workers` CPUs (its test modules run in that many
    processes at once); results in `sources` order."""
    task = TraceTask(config, str(work_root), _mark_work_root(work_root), os.getcwd())
    bar = _projects_bar(len(sources), progress)
    results: dict[int, dict[str, Any]] = {}
    try:
        for i, result in executor.run(task, sources, cpus=max(1, config.workers)):
            results[i] = result
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(sources[i], refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return [results[i] for i in range(len(sources))]


class WorkNotShared(ConfigError):
    """A worker does not see, or cannot write, the OUT/work folder the driver made."""


DRIVER_MARK = ".driver"


def _mark_work_root(work_root: Path) -> str:
    """Write the mark a worker looks for under OUT/work (who made it, when); returns its text."""
    work_root.mkdir(parents=True, exist_ok=True)
    mark = f"{socket.gethostname()} pid {os.getpid()} at {time.time_ns()}"
    (work_root / DRIVER_MARK).write_text(mark)
    return mark


def _check_work_root(work_root: Path, mark: str) -> None:
    host = socket.gethostname()
    try:
        seen = (work_root / DRIVER_MARK).read_text()
    except OSError:
        seen = None
    if seen != mark:
        raise WorkNotShared(f"{work_root} on node {host} is not the driver's folder (its mark is missing): on a "
                            "Ray cluster the output folder must be on storage every node sees at the same path")
    probe = work_root / f".probe-{host}-{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise WorkNotShared(f"cannot write {work_root} on node {host} ({exc.strerror or exc}): on a Ray cluster the "
                            "output folder must be on storage every node sees and can write") from None


@dataclass(frozen=True)
class TraceTask:
    """An executor task (picklable): one source's `trace_source` result, traced wherever it runs.

    `mark` is the text the driver wrote to OUT/work/.driver: a worker that reads something else
    sees another folder, and says so instead of tracing into it.
    """

    config: CIConfig
    work_root: str
    mark: str
    cwd: str  # the driver's folder: relative project paths are read from there

    def __call__(self, spec: str) -> dict[str, Any]:
        work_root = Path(self.work_root)
        _check_work_root(work_root, self.mark)
        return trace_source(spec, self.config, work_root, cwd=Path(self.cwd))


def read_projects_file(path: str | os.PathLike) -> list[str]:
    """PROJECT specs, one a line (`#` comments, blank lines skipped); a bare name means pypi:NAME."""
    specs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if not spec:
            continue
        bare = ":" not in spec and "/" not in spec and not spec.startswith(".")
        specs.append(f"pypi:{spec}" if bare else spec)
    return specs


class _ModuleBar:
    def __init__(self, spec: str):
        from tqdm.auto import tqdm

        self.bar = tqdm(desc=f"trace {spec}", unit="module", leave=False)

    def update_outcome(self, outcome: runner.ModuleOutcome) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(f"{outcome.name}: {outcome.status}", refresh=False)

    def close(self) -> None:
        self.bar.close()


def _module_bar(spec: str, progress: bool) -> _ModuleBar | None:
    return _ModuleBar(spec) if progress else None


def _projects_bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="trace projects", unit="project")
