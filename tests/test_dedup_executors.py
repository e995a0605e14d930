"""Dedup through the executor seam: the same rejects, reasons and bytes wherever the signatures ran.

The per-problem work (benchmark overlap, normalised digest, MinHash) runs as executor tasks; the
driver decides. A user checks that a 2-process pool and a two-node Ray cluster write the files an
in-process run writes, and that a rerun (another process, another hash seed) signs alike.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from codexsd.core.executor import LocalExecutor
from codexsd.core.record import Problem
from codexsd.core.stage import chunk, read_artifact, read_rejects, run_stage
from decontam_data import humaneval_problem, humaneval_rows, mbpp_problem, mbpp_rows, reword
from filters.dedup import DedupConfig, SignShard, dedup_stage, signatures


def _corpus(test_data: Path, humaneval_file: Path) -> list[Problem]:
    """MBPP rows, copies of some of them (renamed, one line longer, reworded) and two HumanEval plants."""
    rows = mbpp_rows(test_data)
    problems = [mbpp_problem(r) for r in rows[:40]]
    he = humaneval_rows(humaneval_file)
    plants = [humaneval_problem(he[0]), humaneval_problem(he[7], prefix="collected/he-copy")]
    renamed = reword(problems[3], new_name="renamed_fn")  # reworded and renamed: kept (too far for 0.85)
    exact = dataclasses.replace(problems[5], task_id="copy/exact-5",
                                canonical_solution=problems[5].canonical_solution.replace(" = ", "  =  "))
    longer = dataclasses.replace(problems[9], task_id="copy/near-9",
                                 canonical_solution=problems[9].canonical_solution + "    # unreachable\n")
    extra = [mbpp_problem(r) for r in rows[40:60]]
    return problems[:20] + [plants[0], exact, longer, renamed] + problems[20:] + [plants[1]] + extra + [
        dataclasses.replace(problems[5], task_id="copy/exact-5-again")]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".lock")}


@pytest.fixture(scope="module")
def inline(tmp_path_factory, test_data, humaneval_file):
    """The corpus in shards of 7 and its in-process dedup (the reference every executor must match)."""
    root = tmp_path_factory.mktemp("dedup")
    problems = _corpus(test_data, humaneval_file)
    run_stage("validate", root / "in", chunk(problems, 7), lambda items: iter(items), progress=False)
    cfg = DedupConfig(benchmarks=["humaneval"], humaneval=str(humaneval_file))
    stats = dedup_stage(root / "in", root / "inline", cfg, progress=False)
    return root, cfg, problems, stats


def test_the_corpus_has_every_kind_of_reject(inline):
    root, _, problems, stats = inline
    assert stats.items_in == len(problems) and stats.kept + stats.rejected == len(problems)
    assert set(stats.reasons) == {"contaminated", "exact_duplicate", "near_duplicate"}
    rejects = {r.id: r for r in read_rejects(root / "inline")}
    assert rejects["copy/exact-5"].reason == rejects["copy/exact-5-again"].reason == "exact_duplicate"
    assert rejects["copy/near-9"].reason == "near_duplicate"
    assert rejects["collected/he/HumanEval/0"].reason == "contaminated"


def test_a_two_worker_pool_writes_the_in_process_bytes(inline, tmp_path):
    root, cfg, _, stats = inline
    with LocalExecutor(2) as pool:
        on_pool = dedup_stage(root / "in", tmp_path / "pool", cfg, progress=False, executor=pool, task_size=5)
    assert on_pool.to_dict() == stats.to_dict()
    assert _files(tmp_path / "pool") == _files(root / "inline")


def test_decisions_do_not_depend_on_how_the_input_is_sharded(inline, tmp_path):
    root, cfg, problems, _ = inline
    run_stage("validate", tmp_path / "in", chunk(problems, 3), lambda items: iter(items), progress=False)
    with LocalExecutor(2) as pool:
        dedup_stage(tmp_path / "in", tmp_path / "out", cfg, progress=False, executor=pool, task_size=11)
    assert [p.task_id for p in read_artifact(tmp_path / "out")] == [p.task_id for p in read_artifact(root / "inline")]
    assert list(read_rejects(tmp_path / "out")) == list(read_rejects(root / "inline"))


def test_signatures_are_seeded_so_another_process_signs_alike(inline):
    _, cfg, problems, _ = inline
    cfg = dataclasses.replace(cfg, decontaminate=False)
    here = signatures(problems, cfg)
    with LocalExecutor(2) as pool:  # fresh interpreters: another hash seed than this one's
        there = signatures(problems, cfg, executor=pool, task_size=13)
    assert len(here) == len(there) == len(problems)
    assert all(a.digest == b.digest and np.array_equal(a.hashvalues, b.hashvalues) for a, b in zip(here, there))
    reseeded = signatures(problems[:3], dataclasses.replace(cfg, seed=cfg.seed + 1))
    assert not any(np.array_equal(a.hashvalues, b.hashvalues) for a, b in zip(here, reseeded))


def test_the_benchmark_index_crosses_to_a_worker_once_pickled(inline):
    """A task carries the index as bytes (pickled once) and a worker unpickles it once."""
    import pickle

    _, cfg, problems, _ = inline
    from filters.dedup import build_benchmark_index

    task = SignShard(cfg, build_benchmark_index(cfg))
    blob = pickle.dumps(task)
    assert pickle.dumps(task) == blob  # the index is not pickled again per task
    a, b = pickle.loads(blob), pickle.loads(blob)
    assert a.index() is b.index()  # one copy per process
    assert a(problems[20:21])[0].contaminated.startswith("HumanEval/0")


@pytest.mark.slow
def test_a_two_node_ray_cluster_writes_the_in_process_bytes(inline, tmp_path):
    pytest.importorskip("ray", reason="pip install 'codexsd[ray]'")
    import contextlib

    from codexsd.core.executor import RayExecutor
    from test_ray_executor import cluster

    root, cfg, _, stats = inline
    with contextlib.contextmanager(cluster.__wrapped__)(), RayExecutor() as ray_executor:
        on_ray = dedup_stage(root / "in", tmp_path / "ray", cfg, progress=False, executor=ray_executor, task_size=5)
    assert on_ray.to_dict() == stats.to_dict()
    assert _files(tmp_path / "ray") == _files(root / "inline")
