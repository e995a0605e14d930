"""Stage folders that cannot be corrupted, every bad record a reject, paths, limits and errors (issue 15)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codexsd.cli import main as codexsd_main
from codexsd.core.lock import FolderBusy, folder_lock
from codexsd.core.record import Problem, write_jsonl
from codexsd.core.stage import read_artifact, read_rejects, read_shards, run_stage
from codexsd.sandbox import Program, Status
from codexsd.sandbox.pool import SandboxUnavailable

REPO = Path(__file__).resolve().parents[1]


def _problem(i: int, **changes) -> dict:
    row = Problem(f"t/{i}", "def f(x):\n", "    return x\n", "def check(candidate):\n    assert candidate(1) == 1\n", "f").to_dict()
    row.update(changes)
    return row


def _stage_folder(folder: Path, rows: list, extra_lines: list[str] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "data-00000.jsonl", rows)
    with open(folder / "data-00000.jsonl", "a") as fh:
        for line in extra_lines:
            fh.write(line + "\n")
    (folder / "stats.json").write_text("{}")
    return folder


# ------------------------------------------------------------------ one run per stage folder

def _hold_lock(folder: Path) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from codexsd.core.lock import folder_lock
        with folder_lock({str(folder)!r}):
            print("held", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code, "codexsd-validate-holder"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_refuses_naming_the_holder_and_a_killed_holder_is_taken_over(tmp_path, caplog):
    out = tmp_path / "validated"
    holder = _hold_lock(out)
    try:
        with pytest.raises(FolderBusy) as busy:
            with folder_lock(out):
                pass
        assert f"pid {holder.pid}" in str(busy.value) and "codexsd-validate-holder" in str(busy.value)
        with pytest.raises(FolderBusy):  # run_stage takes the same lock before touching a file
            run_stage("t", out, [[_problem(1)]], lambda items: [Problem.from_dict(x) for x in items])
        assert not list(out.glob("data-*"))
    finally:
        holder.send_signal(signal.SIGKILL)  # killed: no chance to clean up
        holder.wait()
    caplog.set_level("INFO", logger="codexsd.core.lock")
    with folder_lock(out):
        held = json.loads((out / ".lock").read_text())
        assert held["pid"] == os.getpid()
    assert any("ended without releasing" in r.message for r in caplog.records)
    assert (out / ".lock").read_text() == ""  # a clean release


def test_the_command_line_refuses_a_busy_folder_in_one_line(tmp_path, capsys):
    src = _stage_folder(tmp_path / "raw", [_problem(1)])
    out = tmp_path / "validated"
    holder = _hold_lock(out)
    try:
        assert codexsd_main(["validate", str(src), "-o", str(out), "--sandbox", "local"]) == 2
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is in use by pid" in err[0], err


def test_the_lock_is_reentrant_in_one_process(tmp_path):
    with folder_lock(tmp_path / "o"):
        with folder_lock(tmp_path / "o"):
            pass
        other = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
                                f"from codexsd.core.lock import folder_lock\nwith folder_lock({str(tmp_path / 'o')!r}): pass"],
                               capture_output=True, text=True)
        assert other.returncode != 0 and "FolderBusy" in other.stderr  # still held after the inner release


# ------------------------------------------------------------------ every bad record a reject

BAD_LINES = [
    "{not json",
    json.dumps(_problem(2, test=5)),
    json.dumps(_problem(3, prompt=["def f(x):\n"])),
    json.dumps(_problem(4, entry_point=None)),
    json.dumps({**_problem(5), "surprise": 1}),
    json.dumps({k: v for k, v in _problem(6).items() if k != "test"}),
    json.dumps(_problem(7, calls=[{"expr": "candidate(1)"}])),
    json.dumps(_problem(8, metadata="x")),
    "[1, 2]",
]


@pytest.mark.parametrize("line", BAD_LINES)
def test_problem_from_dict_checks_types_and_fields(line):
    try:
        row = json.loads(line)
    except ValueError:
        return
    with pytest.raises(ValueError):
        if not isinstance(row, dict):
            raise ValueError("not an object")
        Problem.from_dict(row)


def test_bad_lines_become_malformed_record_rejects_with_file_and_line(tmp_path):
    src = _stage_folder(tmp_path / "raw", [_problem(1)], BAD_LINES)
    stats = run_stage("validate", tmp_path / "out", read_shards(src), lambda items: list(items))
    assert (stats.items_in, stats.kept, stats.rejected) == (1 + len(BAD_LINES), 1, len(BAD_LINES))
    rejects = list(read_rejects(tmp_path / "out"))
    assert {r.reason for r in rejects} == {"malformed_record"}
    lines = sorted(int(r.detail.split(":", 2)[1]) for r in rejects)
    assert lines == list(range(2, 2 + len(BAD_LINES)))
    assert all(r.detail.startswith(str(src / "data-00000.jsonl")) for r in rejects)
    assert {r.id for r in rejects} >= {"t/2", "t/3", "t/4"}


def test_malformed_records_never_reach_format_or_dedup(tmp_path):
    src = _stage_folder(tmp_path / "solvable", [_problem(1)], BAD_LINES)
    assert [p.task_id for p in read_artifact(src)] == ["t/1"]
    assert codexsd_main(["dedup", str(src), "-o", str(tmp_path / "clean"), "--no-decontaminate", "--no-progress"]) == 0
    stats = json.loads((tmp_path / "clean" / "stats.json").read_text())
    assert stats["kept"] == 1 and stats["reasons"] == {"malformed_record": len(BAD_LINES)}
    assert codexsd_main(["format", str(src), "-o", str(tmp_path / "formatted"), "--no-card"]) == 0
    rows = [json.loads(line) for f in (tmp_path / "formatted").rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert rows and all(r.get("task_id", "t/1") == "t/1" for r in rows)


# ------------------------------------------------------------------ paths

def test_relative_and_absolute_outputs_give_the_same_result(tmp_path, monkeypatch):
    src = _stage_folder(tmp_path / "raw", [_problem(1), _problem(2, canonical_solution="    return x + 1\n")])
    monkeypatch.chdir(tmp_path)
    assert codexsd_main(["validate", "raw", "-o", "out/rel", "--sandbox", "local", "--unsafe-local", "--runs", "1"]) == 0
    assert codexsd_main(["validate", str(src), "-o", str(tmp_path / "out" / "abs"), "--sandbox", "local",
                         "--unsafe-local", "--runs", "1"]) == 0
    rel, ab = (json.loads((tmp_path / "out" / d / "stats.json").read_text()) for d in ("rel", "abs"))
    assert rel == ab and rel["kept"] == 1


@pytest.mark.parametrize("case", ["file", "readonly", "timeout", "workers"])
def test_bad_outputs_and_flags_fail_before_any_work_in_one_line(tmp_path, capsys, case):
    src = _stage_folder(tmp_path / "raw", [_problem(1)])
    args = ["validate", str(src), "-o", str(tmp_path / "out"), "--sandbox", "local"]
    if case == "file":
        (tmp_path / "out").write_text("x")
    elif case == "readonly":
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere")
        (tmp_path / "ro").mkdir(mode=0o555)
        args[3] = str(tmp_path / "ro" / "out")
    elif case == "timeout":
        args += ["--timeout", "-1"]
    else:
        args += ["--workers", "0"]
    assert codexsd_main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("codexsd validate: error: "), err
    assert not (tmp_path / "out").is_dir()


def test_a_missing_docker_engine_is_one_line_with_the_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    src = _stage_folder(tmp_path / "raw", [_problem(1)])
    assert codexsd_main(["validate", str(src), "-o", str(tmp_path / "out"), "--sandbox", "docker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--sandbox local" in err[0] and "Traceback" not in err[0], err


# ------------------------------------------------------------------ the local backend's budget

FORKS = """
import os, time
n = 0
try:
    for _ in range(1000):
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        n += 1
except OSError:
    pass
assert n >= 1000, n
"""

FOUR_CHILDREN = """
import os
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        b = bytearray(700 * 1024 * 1024)
        for j in range(0, len(b), 4096):
            b[j] = 1
        os._exit(0)
    kids.append(pid)
ok = sum(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0 for st in (os.waitpid(p, 0)[1] for p in kids))
assert ok == 4, ok
"""


def test_local_backend_has_a_total_budget_or_refuses(monkeypatch):
    from codexsd.sandbox import cgroups
    from codexsd.sandbox.local import LocalSandbox

    monkeypatch.delenv("CODEXSD_UNSAFE_LOCAL", raising=False)
    if not cgroups.available():
        with pytest.raises(SandboxUnavailable, match="--unsafe-local"):
            LocalSandbox(workers=1)
        return
    with LocalSandbox(workers=1) as sb:
        forks, memory, probe = sb.run([Program(FORKS, timeout=10), Program(FOUR_CHILDREN, timeout=8, memory_mb=1024),
                                       Program("assert sum(range(10)) == 45\n")])
    assert forks.status is Status.FAILED and "AssertionError" in forks.detail, forks.detail[-300:]
    assert memory.status is not Status.PASSED, memory.detail[-300:]
    assert probe.passed


def test_the_pool_stops_quietly_when_closed_under_running_programs(capfd):
    from codexsd.sandbox.local import LocalSandbox
    import threading

    sb = LocalSandbox(workers=2, unsafe=True)
    runner = threading.Thread(target=lambda: sb.run([Program("import time\ntime.sleep(0.5)\n", timeout=3)] * 8))
    runner.start()
    time.sleep(0.8)
    sb.close()  # what Ctrl-C does through the `with` block
    runner.join(timeout=30)
    assert "Traceback" not in capfd.readouterr().err
