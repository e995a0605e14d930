"""Stages on a real two-node Ray cluster (two raylets of 1 CPU each on this machine).

What a user of `--executor ray` checks: the build's bytes equal the local build's; a Ray
worker killed mid-stage is retried and the output does not change; a driver killed
mid-stage leaves finished shards that the rerun does not redo; no sandbox worker process
(or container) outlives the stage.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="pip install 'codexsd[ray]'")

from codexsd.core.executor import LocalExecutor, RayExecutor  # noqa: E402
from codexsd.core.io import append_jsonl, read_log  # noqa: E402
from codexsd.models.base import Completion, Sampler  # noqa: E402
from codexsd.pipeline import load_build_config, output_hash, run_build  # noqa: E402
from codexsd.core.record import Problem, Reject, write_jsonl  # noqa: E402
from codexsd.core.stage import chunk, run_stage  # noqa: E402
from codexsd.sandbox import Program  # noqa: E402
from filters.validate import ValidateShard  # noqa: E402

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def _sandbox_backend() -> str:
    """docker where it runs (then no container may outlive the stage), else the local backend."""
    if os.environ.get("CODEXSD_TEST_SANDBOX"):
        return os.environ["CODEXSD_TEST_SANDBOX"]
    from codexsd.sandbox import settings
    from codexsd.sandbox.docker_backend import docker_available

    return "docker" if docker_available(settings.IMAGE)[0] else "local"


SANDBOX = _sandbox_backend()


@pytest.fixture(scope="module")
def cluster():
    """Head + one worker node, 1 CPU each; RAY_ADDRESS points at it for the module's tests."""
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in ("RAY_ADDRESS", "PYTHONPATH")}
    # workers import this module's shard functions, as a cluster's nodes import an installed codexsd
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), str(REPO), saved["PYTHONPATH"]]))
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    os.environ["RAY_ADDRESS"] = c.address
    try:
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- a small MBPP-style build ---------------------------------------------------------------

MBPP_ROWS = [
    (601, "Write a function to add two numbers.", "def add(a, b):\n    return a + b", ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]),
    (602, "Write a function to reverse a string.", "def rev(s):\n    return s[::-1]", ["assert rev('ab') == 'ba'"]),
    (603, "Write a function to find the largest number in a list.", "def big(xs):\n    return min(xs)",
     ["assert big([1, 5, 2]) == 5"]),  # a wrong reference: rejected at collection
    (604, "Write a function to count the vowels of a string.",
     "def vowels(s):\n    return sum(c in 'aeiou' for c in s)", ["assert vowels('banana') == 3"]),
    (605, "Write a function to check whether a number is even.", "def is_even(n):\n    return n % 2 == 0",
     ["assert is_even(4)", "assert not is_even(3)"]),
    (606, "Write a function to add two numbers.", "def add(a, b):\n    return a + b", ["assert add(2, 2) == 4"]),  # a duplicate
    (607, "Write a function to compute the factorial of n.",
     "def fact(n):\n    r = 1\n    for i in range(2, n + 1):\n        r *= i\n    return r", ["assert fact(5) == 120"]),
    (608, "Write a function to return the n-th Fibonacci number.",
     "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a", ["assert fib(10) == 55"]),
]


class BodySampler(Sampler):
    """Answers a prompt with its problem's reference body, or a wrong one for every third problem."""

    spec = "body-sampler"

    def __init__(self, clean_dir: Path):
        self.clean_dir = clean_dir

    def sample(self, prompts, params):
        from codexsd.core.stage import read_artifact

        bodies = {p.prompt: (p.canonical_solution, int(p.task_id.split("/")[-1])) for p in read_artifact(self.clean_dir)}
        out = []
        for prompt in prompts:
            body, n = next((v for k, v in bodies.items() if k in prompt), ("    pass\n", 0))
            text = "    raise NotImplementedError\n" if n % 3 == 0 else body
            out.append([Completion(text, -1.0, -1.0, 1) for _ in range(params.n)])
        return out


def _build(tmp: Path, out: Path, executor: str) -> str:
    source = tmp / "mbpp-style.jsonl"
    write_jsonl(source, [{"task_id": i, "text": t, "code": c, "test_list": tests} for i, t, c, tests in MBPP_ROWS])
    cfg = load_build_config(None, {
        "out": str(out), "executor": executor, "sandbox": SANDBOX, "shard_size": 2,
        "sources": {"ci": False, "competitive": [str(source)]}, "competitive": {"shard_size": 3},
        "validate": {"runs": 2}, "solvability": {"model": "default", "n_samples": 1, "round_size": 1},
        "format": {"validation_fraction": 0.25},
    })
    run_build(cfg, out, sampler=BodySampler(out / "clean"), progress=False)
    return output_hash(out)


def test_build_on_ray_equals_local_build(cluster, tmp_path):
    local = _build(tmp_path, tmp_path / "local", "local")
    on_ray = _build(tmp_path, tmp_path / "ray", "ray")
    assert on_ray == local
    stats = json.loads((tmp_path / "ray" / "summary.json").read_text())["stages"]
    kept = {r["stage"]: r["kept"] for r in stats}
    assert kept["collect"] == 7 and 0 < kept["solvability"] < kept["collect"]  # the data went through every stage


# -- a worker killed mid-stage ----------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclasses.dataclass
class RecordingValidate(ValidateShard):
    """ValidateShard that logs its worker's sandbox processes/containers; the shard holding
    `victim` sleeps on its first attempt so that the test can kill its worker."""

    log_dir: str = ""
    victim: str = ""

    def __call__(self, items):
        sandbox = self.get_sandbox()
        sandbox.run([Program("pass", timeout=5.0)])  # the sandbox's workers are up from here on
        containers = [h.container.id for h in getattr(sandbox, "_handles", []) if getattr(h, "container", None)]
        append_jsonl(Path(self.log_dir) / "calls.jsonl", [{"pid": os.getpid(), "first": items[0].task_id,
                                                           "sandbox_pids": _descendants(os.getpid()),
                                                           "containers": containers}])
        victim_file = Path(self.log_dir) / "victim.pid"
        if items[0].task_id == self.victim and not victim_file.exists():
            victim_file.write_text(str(os.getpid()))
            time.sleep(60)  # killed long before this ends
        yield from super().__call__(items)


def _problems(n: int) -> list[Problem]:
    out = []
    for i in range(n):
        answer = i if i % 4 else i + 1  # every fourth reference is wrong
        out.append(Problem(task_id=f"t/{i}", prompt=f"def f():\n    \"\"\"Return {i}.\"\"\"\n",
                           canonical_solution=f"    return {answer}\n", test=f"def check(c):\n    assert c() == {i}\n",
                           entry_point="f"))
    return out


def test_ray_worker_killed_mid_stage_still_finishes_with_identical_output(cluster, tmp_path):
    shards = chunk(_problems(8), 2)
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    fn = RecordingValidate(runs=2, backend=SANDBOX, workers=1, log_dir=str(log_dir), victim="t/2")

    def kill_victim():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (log_dir / "victim.pid").exists():
                time.sleep(0.5)
                os.kill(int((log_dir / "victim.pid").read_text()), signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_victim)
    killer.start()
    with RayExecutor() as ex:
        stats = run_stage("validate", tmp_path / "ray", shards, fn, params=fn.params(), executor=ex, progress=False)
    killer.join()
    reference = ValidateShard(runs=2, backend=SANDBOX, workers=1)
    with LocalExecutor(1) as ex:
        run_stage("validate", tmp_path / "local", shards, reference, params=reference.params(), executor=ex, progress=False)

    calls = read_log(log_dir / "calls.jsonl")
    victim_pid = int((log_dir / "victim.pid").read_text())
    assert [c["first"] for c in calls].count("t/2") == 2  # killed once, run again on another worker
    assert any(c["pid"] == victim_pid for c in calls) and any(c["pid"] != victim_pid for c in calls)
    assert (stats.kept, stats.rejected, stats.reasons) == (6, 2, {"reference_fails": 2})
    assert output_hash(tmp_path / "ray") == output_hash(tmp_path / "local")

    # nothing the workers' sandboxes started is left: neither processes nor containers
    pids = {p for c in calls for p in c["sandbox_pids"]}
    containers = {cid for c in calls for cid in c["containers"]}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (any(_alive(p) for p in pids) or containers & _sandbox_containers()):
        time.sleep(0.2)
    assert pids or containers  # the check below looked at something
    assert not [p for p in pids if _alive(p)]
    assert not containers & _sandbox_containers()


def _sandbox_containers() -> set[str]:
    if SANDBOX != "docker":
        return set()
    out = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", "label=codexsd.sandbox"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


# -- the driver killed mid-stage -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SlowShard:
    """Logs each shard it starts, takes `seconds`, then keeps even ids and rejects odd ones."""

    log: str
    seconds: float = 0.0

    def __call__(self, items):
        append_jsonl(self.log, [{"first": items[0].task_id}])
        time.sleep(self.seconds)
        for p in items:
            yield p if int(p.task_id.split("/")[1]) % 2 == 0 else Reject(p.task_id, "slow", "odd", "")


DRIVER = """
import sys
sys.path[:0] = [{tests!r}]
from test_ray_executor import SlowShard, _problems
from codexsd.core.executor import RayExecutor
from codexsd.core.stage import chunk, run_stage
with RayExecutor() as ex:
    run_stage("slow", {out!r}, chunk(_problems(16), 2), SlowShard({log!r}, 1.5), params=1, executor=ex, progress=False)
"""


def test_driver_killed_rerun_redoes_only_unfinished_shards(cluster, tmp_path):
    out = tmp_path / "out"
    script = DRIVER.format(tests=str(TESTS), out=str(out), log=str(tmp_path / "first.jsonl"))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while len(list(out.glob(".done-*"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {int(p.name.split("-")[1].split(".")[0]) for p in out.glob(".done-*")}
    assert 2 <= len(done) < 8

    shards = chunk(_problems(16), 2)
    with RayExecutor() as ex:
        stats = run_stage("slow", out, shards, SlowShard(str(tmp_path / "rerun.jsonl")), params=1, executor=ex,
                          progress=False)
    redone = sorted(int(r["first"].split("/")[1]) // 2 for r in read_log(tmp_path / "rerun.jsonl"))
    assert redone == sorted(set(range(8)) - done)
    assert stats.shards_skipped == len(done) and (stats.kept, stats.rejected) == (8, 8)
    run_stage("slow", tmp_path / "whole", shards, SlowShard(str(tmp_path / "whole.jsonl")), params=1, progress=False)
    assert output_hash(out) == output_hash(tmp_path / "whole")


@dataclasses.dataclass(frozen=True)
class Broken:
    """A shard function with a bug of its own."""

    log: str

    def __call__(self, items):
        append_jsonl(self.log, [{"first": items[0].task_id}])
        raise KeyError("a bug in the stage")


def test_a_stage_error_on_ray_fails_the_stage_without_retry(cluster, tmp_path):
    log = tmp_path / "calls.jsonl"
    with RayExecutor() as ex, pytest.raises(KeyError, match="a bug in the stage"):
        run_stage("broken", tmp_path / "out", [_problems(1)], Broken(str(log)), executor=ex, progress=False)
    assert len(read_log(log)) == 1
    assert not list((tmp_path / "out").glob(".done-*"))
