"""The transformers backend on tiny random models built in this session (CPU)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("transformers")

from codexsd.models import PAPER_STOP, SamplingParams, derive_seed, load_sampler, resolve_spec  # noqa: E402
from codexsd.models.text import FENCE_CLOSE, FENCE_OPEN  # noqa: E402
from tiny_models import build_tiny_causal_lm  # noqa: E402

PROMPTS = [
    "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n",
    "import os\n",
    "def longest_word(text: str) -> str:\n    \"\"\"Return the longest whitespace-separated word in text.\"\"\"\n",
]


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory):
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "gpt2", arch="gpt2")


@pytest.fixture(scope="session")
def tiny_llama_chat(tmp_path_factory):
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "llama-chat", arch="llama", chat_template=True)


@pytest.fixture(scope="session")
def gpt2_sampler(tiny_gpt2):
    return load_sampler(f"hf:{tiny_gpt2}", batch_size=4)


def texts(result):
    return [[c.text for c in row] for row in result]


def test_spec_forms_resolve_and_unknown_ones_fail(tiny_gpt2, tmp_path):
    assert resolve_spec(f"hf:{tiny_gpt2}") == ("hf", str(tiny_gpt2))
    assert resolve_spec(str(tiny_gpt2)) == ("hf", str(tiny_gpt2))
    assert resolve_spec("default") == ("gguf", "default")
    assert resolve_spec("openai:http://127.0.0.1:1/v1#m") == ("openai", "http://127.0.0.1:1/v1#m")
    with pytest.raises(ValueError, match="unknown model spec"):
        resolve_spec(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError):
        load_sampler(f"gguf:{tmp_path / 'missing.gguf'}")


def test_each_prompt_gets_n_completions_and_a_rerun_reproduces_them(gpt2_sampler):
    params = SamplingParams(n=3, max_new_tokens=12, stop=(), seed=7)
    first = gpt2_sampler.sample(PROMPTS, params)
    assert [len(row) for row in first] == [3, 3, 3]
    assert texts(gpt2_sampler.sample(PROMPTS, params)) == texts(first)
    assert texts(gpt2_sampler.sample(PROMPTS, SamplingParams(n=3, max_new_tokens=12, stop=(), seed=8))) != texts(first)
    for c in (c for row in first for c in row):
        assert c.finish_reason in ("stop", "length") and 0 < c.n_tokens <= 12
        assert math.isclose(c.logprob_mean, c.logprob_sum / c.n_tokens) and c.logprob_sum < 0


def test_a_prompts_samples_do_not_depend_on_its_batch(gpt2_sampler, tiny_gpt2):
    """Per-row generators and left padding: alone, or padded beside longer prompts, the same samples."""
    params = SamplingParams(n=2, max_new_tokens=10, stop=())
    seeds = [derive_seed("batch", i) for i in range(len(PROMPTS))]
    together = gpt2_sampler.sample_seeded(PROMPTS, params, seeds)
    alone = [gpt2_sampler.sample_seeded([p], params, [s])[0] for p, s in zip(PROMPTS, seeds)]
    assert texts(together) == texts(alone)
    wide = load_sampler(f"hf:{tiny_gpt2}", batch_size=64)
    assert texts(wide.sample_seeded(PROMPTS, params, seeds)) == texts(together)
    for row_a, row_b in zip(together, alone):
        for a, b in zip(row_a, row_b):
            assert a.logprob_sum == pytest.approx(b.logprob_sum, abs=1e-3)


def first_cuttable(sampler, prompt: str, min_chars: int = 20):
    """(seed, sample index, completion) of a sample long enough to cut, drawn with no stops."""
    for seed in range(20):
        params = SamplingParams(n=4, max_new_tokens=40, stop=(), seed=seed)
        for j, c in enumerate(sampler.sample([prompt], params)[0]):
            if len(c.text) > min_chars and "\ufffd" not in c.text[:min_chars]:
                return seed, j, c
    pytest.fail("the tiny model produced no sample long enough to cut")


def test_stop_sequence_truncates_and_ends_sampling_early(gpt2_sampler):
    seed, j, base = first_cuttable(gpt2_sampler, PROMPTS[0])
    stop = base.text[12:15]
    cut_at = base.text.find(stop)
    stopped = gpt2_sampler.sample([PROMPTS[0]], SamplingParams(n=4, max_new_tokens=40, stop=(stop,), seed=seed))[0][j]
    assert stopped.text == base.text[:cut_at]
    assert stopped.finish_reason == "stop"
    assert stopped.n_tokens < base.n_tokens
    assert stopped.logprob_sum > base.logprob_sum  # fewer (negative) terms: only the kept tokens count


def test_logprobs_are_the_models_unwarped_ones(gpt2_sampler):
    """One-token samples: the recorded log-prob is log_softmax at temperature 1, whatever the
    sampling temperature, and equals what score() computes for the same token."""
    prompt = PROMPTS[2]
    seen: dict[str, list[float]] = {}
    for temperature in (0.5, 1.5):
        for c in gpt2_sampler.sample([prompt], SamplingParams(n=24, temperature=temperature, top_p=1.0,
                                                              max_new_tokens=1, stop=()))[0]:
            seen.setdefault(c.text, []).append(c.logprob_sum)
    tok = gpt2_sampler.tokenizer
    checked = 0
    for text, values in seen.items():
        if "\ufffd" in text:
            continue  # several partial-UTF-8 byte tokens decode to the same replacement character
        assert max(values) - min(values) < 1e-4, f"{text!r} got different log-probs at different temperatures"
        if len(tok(text, add_special_tokens=False)["input_ids"]) == 1:
            assert gpt2_sampler.score([prompt], [text])[0] == pytest.approx(values[0], abs=1e-4)
            checked += 1
    assert checked >= 3


def test_score_matches_an_unbatched_forward_pass(gpt2_sampler):
    import torch

    targets = ["    return a + b\n", "\nprint(os.getcwd())", "    return max(text.split(), key=len)\n"]
    scores = gpt2_sampler.score(PROMPTS, targets)
    tok, model = gpt2_sampler.tokenizer, gpt2_sampler.model
    for prompt, target, score in zip(PROMPTS, targets, scores):
        p, t = tok(prompt)["input_ids"], tok(target, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([p + t], device=model.device)).logits[0]
        logp = torch.log_softmax(logits.float(), -1)
        expected = sum(float(logp[len(p) + k - 1, tid]) for k, tid in enumerate(t))
        assert score == pytest.approx(expected, abs=1e-3 if model.dtype == torch.float32 else 0.1)


def test_instruct_model_gets_a_chat_prompt_prefilled_with_the_function(tiny_llama_chat):
    sampler = load_sampler(f"hf:{tiny_llama_chat}", batch_size=8)
    assert sampler.chat
    rendered = sampler.tokenizer.decode(sampler.prompt_ids(PROMPTS[0]))
    assert rendered.startswith("<|im_start|>user\n")
    assert rendered.endswith("<|im_start|>assistant\n" + FENCE_OPEN + PROMPTS[0])
    for c in sampler.sample([PROMPTS[0]], SamplingParams(n=8, max_new_tokens=30, seed=1))[0]:
        assert FENCE_CLOSE not in c.text and not any(s in c.text for s in PAPER_STOP)
    plain = load_sampler(f"hf:{tiny_llama_chat}", chat=False)
    assert plain.prompt_ids(PROMPTS[0]) == plain.tokenizer(PROMPTS[0])["input_ids"]


def test_chat_answers_are_cut_at_the_closing_fence_like_llamacpp(tiny_llama_chat):
    """An instruct model that closes its code block and goes on explaining: in chat mode the
    completion is the code only (tidy_chat_completion), with the sampled tokens still counted."""
    sampler = load_sampler(f"hf:{tiny_llama_chat}", batch_size=8)
    answer = "    return a + b\n" + FENCE_CLOSE + "\nThis adds the two numbers."
    ids = sampler.tokenizer(answer, add_special_tokens=False)["input_ids"]
    prompt = "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n"
    c = sampler._completion(ids, [-0.5] * len(ids), False, (), prompt)
    assert c.text == "    return a + b\n"
    assert c.n_tokens == len(ids) and c.logprob_sum == pytest.approx(-0.5 * len(ids))
    plain = load_sampler(f"hf:{tiny_llama_chat}", chat=False)
    assert plain._completion(ids, [-0.5] * len(ids), False, (), prompt).text == answer


def test_chat_requested_without_a_template_is_an_error(tiny_gpt2):
    with pytest.raises(ValueError, match="no chat template"):
        load_sampler(f"hf:{tiny_gpt2}", chat=True)
