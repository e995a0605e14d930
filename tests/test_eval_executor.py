"""Judging samples through the executor seam: `codexsd eval SAMPLES` in this process, the same samples
in shards on a 2-worker local pool, and on a real two-node Ray cluster (`--executor ray`) write the same
results file, byte for byte, and the same pass@k.

Four HumanEval problems, three samples each, right and wrong (a wrong value, an exception, a syntax
error) in counts that make every pass@k a known fraction; the local sandbox backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codexsd.cli import main
from codexsd.core.executor import LocalExecutor
from codexsd.core.record import iter_jsonl, write_jsonl
from codexsd.evaluation.functional import evaluate_samples, load_problems

WRONG = ("    return None\n", "    raise ValueError('no')\n", "    return (\n")
KS = (1, 2, 3)
# task i has i right samples of 3: pass@1 = mean(0, 1/3, 2/3, 1); pass@2 = mean(0, 1 - (2/3)(1/2), 1, 1)
EXPECTED = {"pass@1": 0.5, "pass@2": (2 / 3 + 2) / 4, "pass@3": 0.75}


@pytest.fixture(scope="module")
def inline(tmp_path_factory, humaneval_file):
    """The samples and problems files, and `codexsd eval` run on them in this process."""
    root = tmp_path_factory.mktemp("eval-exec")
    problems = list(load_problems(humaneval_file).values())[:4]
    write_jsonl(root / "problems.jsonl", problems)
    samples = [{"task_id": p["task_id"], "completion": p["canonical_solution"] if j < i else WRONG[(i + j) % 3]}
               for i, p in enumerate(problems) for j in range(3)]
    write_jsonl(root / "samples.jsonl", samples)
    out = root / "inline_results.jsonl"
    scores = _cli(root, out)
    return root, out.read_bytes(), scores


def _cli(root: Path, out: Path, *extra: str) -> dict:
    import io
    from contextlib import redirect_stdout

    stdout = io.StringIO()
    with redirect_stdout(stdout):
        code = main(["eval", str(root / "samples.jsonl"), "--problems", str(root / "problems.jsonl"), "-k", "1,2,3",
                     "--sandbox", "local", "--workers", "2", "-o", str(out), *extra])
    assert code == 0
    return json.loads(stdout.getvalue())


def test_in_process_results_are_the_expected_verdicts(inline):
    root, results, scores = inline
    assert scores == pytest.approx(EXPECTED)
    rows = [json.loads(line) for line in results.decode().splitlines()]
    assert [r["passed"] for r in rows] == [j < i for i in range(4) for j in range(3)]
    failures = {r["result"].split(":")[1].strip() for r in rows if not r["passed"]}
    assert failures == {"AssertionError", "ValueError", "SyntaxError"}, failures


def test_a_two_worker_pool_writes_the_same_results(inline, tmp_path):
    root, results, scores = inline
    samples = list(iter_jsonl(root / "samples.jsonl"))
    with LocalExecutor(2) as pool:  # 4 tasks of 3 samples, each worker with its own sandbox
        rows, pooled = evaluate_samples(samples, load_problems(root / "problems.jsonl"), k=KS, backend="local",
                                        executor=pool, shard_size=3)
    write_jsonl(tmp_path / "pool.jsonl", rows)
    assert (tmp_path / "pool.jsonl").read_bytes() == results
    assert pooled == scores


def test_the_eval_command_rejects_an_unknown_executor_on_one_line(inline, capsys, tmp_path):
    root, _, _ = inline
    code = main(["eval", str(root / "samples.jsonl"), "--problems", str(root / "problems.jsonl"),
                 "--executor", "bogus", "-o", str(tmp_path / "r.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["codexsd eval: error: --executor 'bogus' is not one of local, ray"]


@pytest.mark.slow
def test_a_two_node_ray_cluster_writes_the_same_results(inline, tmp_path):
    pytest.importorskip("ray", reason="pip install 'codexsd[ray]'")
    import contextlib

    from codexsd.core.executor import RayExecutor
    from test_ray_executor import cluster

    root, results, scores = inline
    samples = list(iter_jsonl(root / "samples.jsonl"))
    with contextlib.contextmanager(cluster.__wrapped__)():
        on_ray = _cli(root, tmp_path / "ray.jsonl", "--executor", "ray")  # the command, one task
        with RayExecutor() as ray_executor:  # tasks of 2 samples spread over both nodes
            rows, sharded = evaluate_samples(samples, load_problems(root / "problems.jsonl"), k=KS, backend="local",
                                             executor=ray_executor, shard_size=2)
    assert (tmp_path / "ray.jsonl").read_bytes() == results and on_ray == scores
    write_jsonl(tmp_path / "sharded.jsonl", rows)
    assert (tmp_path / "sharded.jsonl").read_bytes() == results and sharded == scores
