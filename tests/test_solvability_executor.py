"""The solvability filter on an executor: shards in worker processes, each loading the model and
opening a sandbox itself, give the bytes an inline run gives, sample logs included.

The executor runs happen in a fresh interpreter: this one ran torch (building the model, the
inline run), and a process forked after OpenMP ran hangs in its first parallel region.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from codexsd.core.record import Problem  # noqa: E402
from codexsd.core.stage import chunk, run_stage  # noqa: E402
from filters.solvability import SolvabilityConfig, read_sample_log, solvability_stage  # noqa: E402
from tiny_models import build_tiny_causal_lm  # noqa: E402


def _problems() -> list[Problem]:
    out = []
    for i in range(5):
        out.append(Problem(task_id=f"t/{i}", prompt=f'def add_{i}(a, b):\n    """Return a plus b."""\n', canonical_solution="",
                           test="def check(candidate):\n    assert candidate(2, 3) == 5\n", entry_point=f"add_{i}"))
    # prompts that already hold a working body: a completion that leaves them runnable passes
    for i in range(3):
        out.append(Problem(task_id=f"t/easy{i}", prompt=f"def one_{i}():\n    return 1\n    ", canonical_solution="",
                           test="def check(candidate):\n    assert candidate() == 1\n", entry_point=f"one_{i}"))
    return out


REPO = Path(__file__).resolve().parent.parent
POOL_RUN = """
import json, sys
from codexsd.core.executor import LocalExecutor
from filters.solvability import SolvabilityConfig, solvability_stage
in_dir, out, cfg = sys.argv[1], sys.argv[2], SolvabilityConfig(**json.loads(sys.argv[3]))
stats = solvability_stage(in_dir, out, cfg, progress=False, executor=LocalExecutor(workers=2))
print(json.dumps({"items_in": stats.items_in, "kept": stats.kept, "rejected": stats.rejected,
                  "shards_skipped": stats.shards_skipped}))
"""


def _pool_run(in_dir: Path, out: Path, cfg: SolvabilityConfig) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", POOL_RUN, str(in_dir), str(out), json.dumps(cfg.to_dict())],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(".lock")}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("solv-exec")
    model = build_tiny_causal_lm(root / "tiny", arch="gpt2")
    run_stage("clean", root / "in", chunk(_problems(), 2), lambda items: iter(items), progress=False)
    cfg = SolvabilityConfig(model=f"hf:{model}", n_samples=4, round_size=2, max_new_tokens=8, sandbox="local")
    inline = root / "inline"
    solvability_stage(root / "in", inline, cfg, progress=False)
    return root, cfg, inline


def test_shards_in_worker_processes_give_the_inline_bytes(setup, tmp_path):
    root, cfg, inline = setup
    ref = _files(inline)
    assert sum(name.startswith("data-") for name in ref) == 4 and any(name.startswith("samples/") for name in ref)
    assert any(r["kind"] == "sample" for r in read_sample_log(inline))
    stats = _pool_run(root / "in", tmp_path / "pool", cfg)
    assert stats["items_in"] == 8 and stats["kept"] + stats["rejected"] == 8
    assert _files(tmp_path / "pool") == ref


def test_a_shard_resumed_from_its_torn_log_on_the_executor_ends_as_inline(setup, tmp_path):
    """One shard's marker and data gone and its sample log cut mid-line: the rerun redoes that shard
    alone from its log and ends with the inline bytes."""
    import shutil

    root, cfg, inline = setup
    out = tmp_path / "resumed"
    shutil.copytree(inline, out)
    for name in (".done-00001.json", "data-00001.jsonl", "rejects-00001.jsonl"):
        (out / name).unlink()
    (log,) = out.glob("samples/*/shard-00001.jsonl")
    text = log.read_bytes()
    log.write_bytes(text[: len(text) // 2])
    (out / "samples" / "extra").mkdir()  # (nothing else under samples/ is touched)
    stats = _pool_run(root / "in", out, cfg)
    assert stats["shards_skipped"] == 3
    (out / "samples" / "extra").rmdir()
    name = str(log.relative_to(out))
    got, want = _files(out), _files(inline)
    assert {k: v for k, v in got.items() if k != name} == {k: v for k, v in want.items() if k != name}
    # the repaired log: the torn line cut (every line parses), the same samples as the uninterrupted log
    rows = [json.loads(line) for line in got[name].decode().splitlines()]
    ref = [json.loads(line) for line in want[name].decode().splitlines()]

    def samples(rows):
        return {(r["task_id"], r["index"]): r["completion"] for r in rows if r["kind"] == "sample"}

    assert samples(rows) == samples(ref)


@pytest.mark.slow
def test_shards_on_a_two_node_ray_cluster_give_the_inline_bytes(setup, tmp_path):
    """Ray workers are fresh processes (no fork): the stage runs in this interpreter."""
    pytest.importorskip("ray")

    from codexsd.core.executor import RayExecutor

    root, cfg, inline = setup
    with _two_node_cluster():
        with RayExecutor() as ray_executor:
            stats = solvability_stage(root / "in", tmp_path / "ray", cfg, progress=False, executor=ray_executor)
    assert stats.items_in == 8
    got, want = _files(tmp_path / "ray"), _files(inline)
    logs = {k for k in want if k.endswith(".jsonl") and k.startswith("samples/")}
    assert got.keys() == want.keys() and logs
    assert {k: v for k, v in got.items() if k not in logs} == {k: v for k, v in want.items() if k not in logs}
    # the logs hold the same samples and verdicts; a log-prob may differ in its last bits: Ray runs a
    # 1-CPU task with one torch thread, and a float32 sum over other thread splits rounds otherwise
    for name in logs:
        ours, theirs = ([json.loads(line) for line in d[name].decode().splitlines()] for d in (got, want))
        assert [{k: v for k, v in r.items() if k != "logprob_mean"} for r in ours] == \
               [{k: v for k, v in r.items() if k != "logprob_mean"} for r in theirs]
        assert [r.get("logprob_mean") for r in ours] == pytest.approx([r.get("logprob_mean") for r in theirs], rel=1e-6)


def _two_node_cluster():
    """tests/test_ray_executor.py's cluster fixture as a context manager."""
    import contextlib

    from test_ray_executor import cluster

    return contextlib.contextmanager(cluster.__wrapped__)()
