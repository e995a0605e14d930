"""The local executor: a dead pool worker's shards are run again, a shard's own error is not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codexsd.core.executor import LocalExecutor, WorkerDied, get_executor, process_resource
from codexsd.core.record import Problem, Reject
from codexsd.core.stage import chunk, read_artifact, run_stage


def _p(i):
    return Problem(task_id=f"t/{i}", prompt="def f():\n", canonical_solution="    return 1\n", test="", entry_point="f")


class DiesOnce:
    """Kills its worker process the first time it sees shard `victim` (a marker file remembers)."""

    def __init__(self, marker: Path, victim: str = "t/2"):
        self.marker, self.victim = marker, victim

    def __call__(self, items):
        if items[0].task_id == self.victim and not self.marker.exists():
            self.marker.write_text("died")
            os._exit(9)
        for p in items:
            yield p if int(p.task_id[2:]) % 2 == 0 else Reject(p.task_id, "unit", "odd", "")


class AlwaysDies:
    def __call__(self, items):
        os._exit(9)


class Raises:
    def __init__(self, log: Path):
        self.log = log

    def __call__(self, items):
        with open(self.log, "a") as fh:
            fh.write(items[0].task_id + "\n")
        raise KeyError("the stage's own bug")


def test_a_dead_pool_worker_is_replaced_and_its_shard_run_again(tmp_path):
    shards = chunk([_p(i) for i in range(8)], 2)
    stats = run_stage("unit", tmp_path / "out", shards, DiesOnce(tmp_path / "died"), executor=LocalExecutor(2),
                      progress=False)
    assert (tmp_path / "died").exists()
    assert (stats.items_in, stats.kept, stats.rejected) == (8, 4, 4)
    assert [p.task_id for p in read_artifact(tmp_path / "out")] == ["t/0", "t/2", "t/4", "t/6"]


def test_a_worker_that_always_dies_fails_after_the_retry_budget(tmp_path):
    with pytest.raises(WorkerDied):
        run_stage("unit", tmp_path, chunk([_p(i) for i in range(4)], 2), AlwaysDies(),
                  executor=LocalExecutor(2, max_retries=1), progress=False)


def test_a_shard_functions_own_error_propagates_without_retry(tmp_path):
    log = tmp_path / "calls"
    with pytest.raises(KeyError, match="own bug"):
        run_stage("unit", tmp_path / "out", [[_p(0)]], Raises(log), executor=LocalExecutor(1), progress=False)
    with pytest.raises(KeyError):
        run_stage("unit", tmp_path / "out2", chunk([_p(i) for i in range(4)], 2), Raises(log),
                  executor=LocalExecutor(2), progress=False)
    assert len(log.read_text().split()) <= 3  # one call per shard at most: nothing was retried


def test_unknown_executor_is_a_one_line_error():
    with pytest.raises(ValueError, match="choose one of local, ray"):
        get_executor("spark")


class _Closable:
    closed = 0

    def close(self):
        _Closable.closed += 1


def test_process_resource_is_built_once_per_process():
    made = []
    a = process_resource(("test", 1), lambda: made.append(1) or _Closable())
    b = process_resource(("test", 1), lambda: made.append(1) or _Closable())
    assert a is b and made == [1]


class _Marks:
    def __init__(self, path: Path):
        self.path = path

    def close(self):
        self.path.write_text("closed")

    def __del__(self):
        self.close()


def test_a_forked_child_never_closes_its_parents_resources(tmp_path):
    """subprocess with preexec_fn runs the at-fork hooks in the child: the parent's sandbox must survive it."""
    import subprocess
    import sys

    first = id(process_resource(("test", "fork"), lambda: _Marks(tmp_path / "closed")))  # held by the cache only
    subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None, check=True)
    pid = os.fork()
    if pid == 0:  # a plain fork that exits without running exit handlers
        os._exit(0)
    os.waitpid(pid, 0)
    assert not (tmp_path / "closed").exists()
    assert id(process_resource(("test", "fork"), lambda: None)) == first


# -- how pool workers start ------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
TORCH_POOL_TIMEOUT_S = 180  # a hung pool fails the test instead of blocking the run

TORCH_DRIVER = '''
import torch
from codexsd.core.executor import LocalExecutor


def matmul(n):
    x = torch.ones(n, n)
    return int((x @ x).sum())


if __name__ == "__main__":
    a = torch.ones(256, 256)
    (a @ a).sum()  # the driver's intra-op thread pool now exists; a forked child's torch op would hang
    with LocalExecutor(2) as pool:
        print(sorted(r for _, r in pool.run(matmul, [16, 32, 48, 64])))
'''


def test_a_driver_that_ran_torch_finishes_a_two_worker_pool(tmp_path):
    pytest.importorskip("torch")
    import signal
    import subprocess
    import sys

    script = tmp_path / "driver.py"
    script.write_text(TORCH_DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("CODEXSD_MP_START", None)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TORCH_POOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool workers
        proc.communicate()
        pytest.fail(f"the pool did not finish in {TORCH_POOL_TIMEOUT_S} s after torch ran in the driver")
    assert proc.returncode == 0, err[-2000:]
    assert out.split("\n")[0] == str(sorted(n**3 for n in (16, 32, 48, 64)))


def _where(_):
    import importlib

    return os.environ.get("CODEXSD_TEST_MARK"), os.getcwd(), importlib.import_module("codexsd_test_mark").VALUE


def test_pool_workers_see_the_drivers_environment_folder_and_import_path(tmp_path, monkeypatch):
    """Set after the fork server may have started: each pool takes them from the driver as it is now."""
    (tmp_path / "codexsd_test_mark.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CODEXSD_TEST_MARK", "set late")
    monkeypatch.chdir(tmp_path)
    with LocalExecutor(2) as pool:
        seen = {result for _, result in pool.run(_where, [0, 1, 2])}
    assert seen == {("set late", str(tmp_path), 7)}


def test_an_unknown_start_method_is_a_one_line_error():
    from codexsd.core.config import ConfigError

    with pytest.raises(ConfigError, match="CODEXSD_MP_START"):
        LocalExecutor(2, start_method="vfork")
