"""CPUs per task: `run(fn, args, cpus=n)` has Ray reserve n CPUs for each task (no more than the largest
node holds), and collect ci asks for `ci.workers` CPUs for a project's trace task, which runs that many
test-module processes at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_testing import write_tree
from codexsd.core.executor import LocalExecutor
from curation.ci import CIConfig, collect_ci

TESTS = Path(__file__).resolve().parent


def assigned_cpus(_arg) -> float:
    import ray

    return ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)


@pytest.mark.slow
def test_ray_reserves_the_cpus_a_task_asks_for_up_to_the_largest_node(monkeypatch):
    ray = pytest.importorskip("ray", reason="pip install 'codexsd[ray]'")
    from ray.cluster_utils import Cluster

    from codexsd.core.executor import RayExecutor

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), str(TESTS.parent),
                                                                    os.environ.get("PYTHONPATH")])))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    try:
        with RayExecutor() as ex:
            assert sorted(cpus for _, cpus in ex.run(assigned_cpus, [0, 1])) == [1.0, 1.0]  # the executor's own 1
            assert [cpus for _, cpus in ex.run(assigned_cpus, [0], cpus=2)] == [2.0]
            assert [cpus for _, cpus in ex.run(assigned_cpus, [0], cpus=8)] == [2.0]  # no node has 8: it still runs
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


class RecordingPool(LocalExecutor):
    """A local pool that notes the `cpus` each `run` asks for."""

    def __init__(self, workers: int):
        super().__init__(workers)
        self.asked: list[float | None] = []

    def run(self, fn, args, cpus=None):
        self.asked.append(cpus)
        return super().run(fn, args, cpus)


def test_collect_ci_asks_for_ci_workers_cpus_per_traced_project(tmp_path):
    write_tree(tmp_path / "proj", {
        "kit.py": 'def double(x):\n    """Twice x."""\n    return 2 * x\n',
        "test_kit.py": "import unittest\nfrom kit import double\n\n\nclass T(unittest.TestCase):\n"
                       "    def test_double(self):\n        self.assertEqual(double(21), 42)\n",
    })
    pool = RecordingPool(2)
    stats = collect_ci([str(tmp_path / "proj")], tmp_path / "raw", CIConfig(install=False, workers=3, sandbox="local"),
                       progress=False, executor=pool)
    assert stats.kept == 1
    assert pool.asked[0] == 3  # the trace task; the task-building shards ask for the executor's own figure
    assert all(cpus is None for cpus in pool.asked[1:])
