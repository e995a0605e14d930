"""Decontamination on real data: planted HumanEval/MBPP copies go, everything else stays."""

from __future__ import annotations

import ast
import dataclasses
import itertools

import pytest

from codexsd.core.record import Problem
from codexsd.core.stage import read_artifact, read_rejects, run_stage, chunk
from filters.decontaminate import BenchmarkIndex, BenchmarkItem, load_humaneval, load_mbpp, problem_parts, split_text_code, words
from filters.dedup import DedupConfig, build_benchmark_index, dedup_stage, normalised_form
from decontam_data import (
    apps_problems, humaneval_problem, humaneval_rows, mbpp_problem, mbpp_rows, reword,
)


@pytest.fixture(scope="module")
def data(test_data):
    return test_data


@pytest.fixture(scope="module")
def he_rows(humaneval_file):
    return humaneval_rows(humaneval_file)


@pytest.fixture(scope="module")
def index(data):
    return build_benchmark_index(DedupConfig(mbpp=str(data / "mbpp.jsonl")))


def _write_input(path, problems, shard_size=200):
    run_stage("collect", path, chunk(problems, shard_size), lambda items: iter(items), progress=False)


def _shingles(text: str, code: str) -> set[str]:
    out = set()
    for kind, part in enumerate((text, code)):
        toks = words(part)
        for size in (1, 2):
            out |= {f"{kind}:{' '.join(toks[i:i + size])}" for i in range(len(toks) - size + 1)}
    return out


def _overlap_is_real(problem: Problem, detail: str, bench: dict[str, BenchmarkItem]) -> bool:
    """The evidence a reject names is really in both texts (n-gram), or the sets really are similar."""
    bench_id, evidence = detail.split(": ", 1)
    item = bench[bench_id]
    text, code = problem_parts(problem)
    if evidence.startswith("similarity"):
        a, b = _shingles(text, code), _shingles(item.text, item.code)
        return len(a & b) / len(a | b) >= 0.35  # MinHash estimates within sampling error of 0.5
    gram = ast.literal_eval(evidence)
    joined = lambda s: " " + " ".join(words(s)) + " "  # noqa: E731
    return any(f" {gram} " in joined(p) for p in (text, code)) and any(f" {gram} " in joined(p) for p in (item.text, item.code))


def test_verbatim_and_reworded_benchmark_problems_are_all_caught(data, he_rows, index):
    he = [humaneval_problem(r) for r in he_rows]
    mbpp = [mbpp_problem(r) for r in mbpp_rows(data) if r["task_id"] <= 600]
    for p in itertools.chain(he, mbpp, map(reword, he), map(reword, mbpp)):
        overlap = index.check(p)
        assert overlap is not None, f"{p.task_id} not caught"
        source = p.task_id.split("/", 2)[2].removesuffix("/reworded")
        expected = source if source.startswith("HumanEval") else f"MBPP/{source}"
        assert overlap.benchmark_id == expected or _overlap_is_real(p, overlap.detail(), index.items)


def test_reworded_copy_keeps_no_docstring_ngram_but_is_caught_by_code(he_rows, index):
    row = he_rows[0]
    copy = reword(humaneval_problem(row))
    assert "has_close_elements" not in copy.prompt and "provided" in copy.prompt
    overlap = index.check(copy)
    assert overlap is not None and overlap.benchmark_id == "HumanEval/0"


def test_unrelated_real_problems_are_not_flagged(data):
    """MBPP train rows and APPS against HumanEval: nothing overlaps, nothing goes."""
    index = BenchmarkIndex(load_humaneval())
    background = [mbpp_problem(r) for r in mbpp_rows(data) if r["task_id"] > 600] + apps_problems(data)
    flagged = [(p.task_id, index.check(p)) for p in background]
    assert [(t, o.detail()) for t, o in flagged if o] == []


def test_stage_removes_planted_copies_and_nothing_else(data, he_rows, tmp_path):
    mbpp_eval = [r for r in mbpp_rows(data) if 11 <= r["task_id"] <= 510][::2]  # 20 MBPP test problems
    planted = [humaneval_problem(r) for r in he_rows[::8]] + [mbpp_problem(r) for r in mbpp_eval]  # + 21 HumanEval
    planted += [reword(p) for p in planted]
    train = [mbpp_problem(r) for r in mbpp_rows(data) if r["task_id"] > 600]
    copy = dataclasses.replace(train[3], task_id="collected/mbpp/copy")  # an exact duplicate
    background = train + apps_problems(data) + [copy]
    half = len(background) // 2
    collected = background[:half] + planted + background[half:]
    _write_input(tmp_path / "validated", collected)

    cfg = DedupConfig(mbpp=str(data / "mbpp.jsonl"))
    stats = dedup_stage(tmp_path / "validated", tmp_path / "clean", cfg, progress=False)
    rejects = {r.id: r for r in read_rejects(tmp_path / "clean")}
    kept = {p.task_id for p in read_artifact(tmp_path / "clean")}
    assert stats.items_in == len(collected) == len(kept) + len(rejects)
    for p in planted:
        assert rejects[p.task_id].reason == "contaminated", p.task_id
    assert all(d.startswith(("HumanEval/", "MBPP/")) for d in (r.detail for r in rejects.values() if r.reason == "contaminated"))
    bench = {it.id: it for it in load_humaneval() + load_mbpp(cfg.mbpp)}
    by_id = {p.task_id: p for p in background}
    removed_background = [r for r in rejects.values() if r.id in by_id]
    # Nothing from APPS overlaps; MBPP train rows go only where they really share text or code with
    # an MBPP eval row (MBPP has template siblings across its splits). Duplicates must name a kept twin.
    for r in removed_background:
        if r.reason == "contaminated":
            assert r.id.startswith("collected/mbpp/") and r.detail.startswith("MBPP/"), r
            assert _overlap_is_real(by_id[r.id], r.detail, bench), r
        elif r.reason == "exact_duplicate":
            twin = r.detail.rsplit(" ", 1)[1]
            assert twin in kept and normalised_form(by_id[twin]) == normalised_form(by_id[r.id]), r
        else:
            assert r.reason == "near_duplicate" and r.detail.split(":")[0] in kept, r
    assert stats.reasons["contaminated"] >= len(planted)
    assert rejects[copy.task_id].reason == ("exact_duplicate" if train[3].task_id in kept else "contaminated")


def test_mbpp_index_defaults_to_the_evaluation_rows(data):
    ids = {it.id for it in load_mbpp(data / "mbpp.jsonl")}
    assert ids == {f"MBPP/{r['task_id']}" for r in mbpp_rows(data) if r["task_id"] <= 600}
    assert "MBPP/600" in ids and "MBPP/601" not in ids
    sanitized = load_mbpp(data / "sanitized-mbpp.json", (1, 974))
    assert len(sanitized) == 10


def test_function_names_are_masked_in_text_and_code():
    text, code = split_text_code('def add_two(a, b):\n    """add_two(1, 2) == 3"""\n    return a + b\n')
    assert "add_two" not in text + code and words(text)[:1] == ["fn"]
