"""`codexsd eval`, `score-docstrings` and `report` end to end on a few HumanEval tasks.

The real path uses tiny random transformers models built here (they pass nothing, but every
file and number must come out right). Beside it, a reference sampler that answers with the
canonical solution on even samples checks that passes are counted and ranked correctly.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from codexsd.cli import main  # noqa: E402
from codexsd.evaluation.humaneval import EvalSettings, evaluate_model, load_problems_subset  # noqa: E402
from codexsd.models.base import Completion, Sampler  # noqa: E402
from codexsd.core.record import iter_jsonl  # noqa: E402
from tiny_models import build_tiny_causal_lm  # noqa: E402

TASKS = "HumanEval/0,HumanEval/2,HumanEval/4"


@pytest.fixture(scope="module")
def problems_file(humaneval_file):
    return humaneval_file


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "lm")


@pytest.fixture(scope="module")
def sandbox():
    from codexsd.sandbox import get_sandbox

    with get_sandbox("local") as sb:
        yield sb


class ReferenceSampler(Sampler):
    """Answers every prompt of a known problem with its reference body on even samples, junk on odd ones."""

    spec = "reference"

    def __init__(self, problems):
        self.by_prompt = {p.prompt: p.canonical_solution for p in problems}

    def sample_seeded(self, prompts, params, seeds):
        out = []
        for prompt in prompts:
            body = self.by_prompt[prompt]
            out.append([Completion(body if j % 2 == 0 else "    return None\n", -1.0 - j, -0.1 * (j + 1), 5)
                        for j in range(params.n)])
        return out

    def sample(self, prompts, params):
        return self.sample_seeded(prompts, params, [0] * len(prompts))

    def score(self, prompts, targets):
        # prefers bodies that look like the reference (it is long), like a good D would
        return [float(len(p)) for p in prompts]


def test_pass_at_k_and_ranking_count_passes_correctly(problems_file, sandbox, tmp_path):
    problems = load_problems_subset(problems_file, task_ids=TASKS.split(","))
    ref = ReferenceSampler(problems)
    settings = EvalSettings(n=4, temperatures=(0.2, 0.8), ks=(1, 2, 4))
    summary = evaluate_model(ref, problems, settings, tmp_path, sandbox, d_sampler=ref, progress=False)
    for t in ("0.2", "0.8"):
        assert summary.pass_at_k[t]["1"] == pytest.approx(0.5)
        assert summary.pass_at_k[t]["2"] == pytest.approx(1 - (2 * 1) / (4 * 3))  # 1 - C(2,2)/C(4,2)
        assert summary.pass_at_k[t]["4"] == 1.0
        r = summary.ranking[t]
        assert r["oracle"]["pass_rate"] == 1.0 and r["random"]["pass_rate"] == 0.5
        assert r["mean_logprob"]["pass_rate"] == 1.0  # sample 0 has the best mean and passes
        assert r["backtranslation"]["pass_rate"] == 1.0
    rows = list(iter_jsonl(tmp_path / "results_t0.2.jsonl"))
    assert len(rows) == 12 and {r["result"] for r in rows} >= {"passed"}
    assert all(r["passed"] == (r["sample"] % 2 == 0) for r in rows)


def test_eval_command_end_to_end_with_a_tiny_model(tiny, problems_file, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["eval", "--model", f"hf:{tiny}", "--problems", str(problems_file), "--tasks", TASKS, "-n", "2",
            "--temperatures", "0.8", "--k", "1,2", "--max-new-tokens", "12", "--d-model", f"hf:{tiny}",
            "--sandbox", "local", "-o", str(out)]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n"] == 2 and set(printed["pass_at_k"]["0.8"]) == {"1", "2"}
    samples = list(iter_jsonl(out / "samples_t0.8.jsonl"))
    assert len(samples) == 6 and all({"task_id", "completion", "logprob_mean"} <= set(s) for s in samples)
    results = list(iter_jsonl(out / "results_t0.8.jsonl"))
    assert all(isinstance(r["passed"], bool) and r["result"] for r in results)
    assert all(r["backtranslation_logprob"] is None or r["backtranslation_logprob"] < 0 for r in results)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["n"] == 2 and summary["settings"]["top_p"] == 0.95
    assert summary["backtranslation_model"] == f"hf:{tiny}"
    assert 0.0 <= summary["pass_at_k"]["0.8"]["1"] <= summary["pass_at_k"]["0.8"]["2"] <= 1.0
    # a rerun resumes: nothing is sampled again, the numbers stay
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["pass_at_k"] == printed["pass_at_k"]


def test_score_docstrings_and_report_end_to_end(tiny, problems_file, tmp_path, capsys):
    out = tmp_path / "docs"
    assert main(["score-docstrings", "--d-model", f"hf:{tiny}", "--s-model", f"hf:{tiny}", "--problems",
                 str(problems_file), "--tasks", TASKS, "-m", "2", "--d-max-new-tokens", "16",
                 "--s-max-new-tokens", "12", "--sandbox", "local", "-o", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["tasks"] == 3 and printed["docstrings_per_task"] == 2
    docs = list(iter_jsonl(out / "docstrings.jsonl"))
    assert len(docs) == 6 and all(0.0 <= d["bleu"] <= 100.0 for d in docs)
    gt = list(iter_jsonl(out / "code_ground_truth_results.jsonl"))
    bt = list(iter_jsonl(out / "code_backtranslated_results.jsonl"))
    assert len(gt) == 3 and len(bt) == 6
    assert all("::docstring" in r["task_id"] for r in bt)

    eval_out = tmp_path / "eval"
    problems = load_problems_subset(problems_file, task_ids=TASKS.split(","))
    from codexsd.sandbox import get_sandbox

    with get_sandbox("local") as sb:
        evaluate_model(ReferenceSampler(problems), problems, EvalSettings(n=2, temperatures=(0.2, 0.8), ks=(1, 2)),
                       eval_out, sb, progress=False)
    report_dir = tmp_path / "report"
    assert main(["report", "--eval", str(eval_out), "--docstrings", str(out), "-o", str(report_dir)]) == 0
    text = (report_dir / "report.md").read_text()
    assert "pass@1" in text and "n=2" in text and "ground-truth docstrings" in text
    for png in ("pass_at_k.png", "ranking.png", "bleu_vs_correctness.png"):
        data = (report_dir / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 2000


def test_eval_quantize_puts_a_gguf_base_through_the_same_export(problems_file, tmp_path, capsys):
    """`--quantize q8_0` on a GGUF (as the bundled base is): dequantised, exported to Q8_0, sampled by llama.cpp."""
    pytest.importorskip("llama_cpp")
    gguf = pytest.importorskip("gguf")
    from tiny_models import build_tiny_gguf

    base = build_tiny_gguf(build_tiny_causal_lm(tmp_path / "hf"), tmp_path / "base.gguf")
    common = ["--problems", str(problems_file), "--tasks", "HumanEval/0", "-n", "1", "--temperatures", "0.2", "-k", "1",
              "--max-new-tokens", "8", "--sandbox", "local"]
    assert main(["eval", "--model", f"gguf:{base}", "--quantize", "q8_0", *common, "-o", str(tmp_path / "q8")]) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((tmp_path / "q8" / "summary.json").read_text())
    assert summary["name"] == printed["model"] == "base"
    assert summary["precision"] == "Q8_0 GGUF exported by codexsd from base, sampled by llama.cpp"
    exported = tmp_path / "q8" / "model-q8_0.gguf"
    assert summary["model"] == f"gguf:{exported}" and not (tmp_path / "q8" / "model-dequantised").exists()
    assert gguf.GGUFReader(str(exported)).fields["general.file_type"].contents() == 7  # Q8_0

    assert main(["eval", "--model", f"gguf:{base}", *common, "-o", str(tmp_path / "as_is")]) == 0
    capsys.readouterr()
    as_is = json.loads((tmp_path / "as_is" / "summary.json").read_text())
    assert as_is["precision"] == "F32 GGUF as shipped, sampled by llama.cpp"

    assert main(["report", "--eval", str(tmp_path / "q8"), str(tmp_path / "as_is"), "-o", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert "sampled at different precisions" in text and "Sampled as: F32 GGUF as shipped" in text
