"""The MBPP train split shipped inside the package: where it is, what it holds, what it must not hold."""

from __future__ import annotations

import gzip
import json

from codexsd.data import mbpp_train_path
from decontam_data import mbpp_problem, mbpp_rows
from filters.dedup import DedupConfig, build_benchmark_index


def _bundled_rows() -> list[dict]:
    with gzip.open(mbpp_train_path(), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_only_train_split_rows_in_mbpp_schema():
    rows = _bundled_rows()
    ids = [r["task_id"] for r in rows]
    assert len(rows) == 267 and ids == sorted(set(ids))
    assert all(601 <= i <= 974 for i in ids)  # never MBPP's few-shot, test or validation rows
    assert all(set(r) == {"text", "code", "task_id", "test_setup_code", "test_list", "challenge_test_list"} for r in rows)
    assert (mbpp_train_path().parent / "README.md").read_text().count("CC BY 4.0") >= 1


def test_no_row_overlaps_humaneval_or_the_mbpp_evaluation_rows_we_have(test_data):
    """The cut dropped rows overlapping MBPP 1-600; the slice's evaluation rows and HumanEval confirm it."""
    index = build_benchmark_index(DedupConfig(benchmarks=["humaneval", "mbpp"], mbpp=str(test_data / "mbpp.jsonl")))
    hits = [(r["task_id"], o.detail()) for r in _bundled_rows() if (o := index.check(mbpp_problem(r)))]
    assert hits == []
    # and the check is real: the train rows of the slice that the cut dropped are caught again here
    dropped = [r for r in mbpp_rows(test_data) if r["task_id"] > 600 and r["task_id"] not in {b["task_id"] for b in _bundled_rows()}]
    assert dropped and any(index.check(mbpp_problem(r)) for r in dropped)
