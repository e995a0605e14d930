"""GGUF backends: llama.cpp (batched, low-level API) and transformers' gguf_file, on a tiny
random Llama written as GGUF in this session, and the bundled SmolLM2 default model."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from codexsd.models import PAPER_STOP, SamplingParams, default_model_path, derive_seed, load_sampler  # noqa: E402
from codexsd.models.text import FENCE_CLOSE  # noqa: E402
from tiny_models import build_tiny_causal_lm, build_tiny_gguf  # noqa: E402

PROMPTS = ["def add(a, b):\n    return", "import os\n\n\ndef main():\n    \"\"\"Print the working directory.\"\"\"\n"]
GREEDY = SamplingParams(n=1, temperature=0.0, max_new_tokens=10, stop=())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    hf_dir = build_tiny_causal_lm(root / "llama", arch="llama")
    return hf_dir, build_tiny_gguf(hf_dir, root / "tiny-llama-f32.gguf")


@pytest.fixture(scope="module")
def tiny_llamacpp(tiny):
    with load_sampler(f"gguf:{tiny[1]}", batch_size=8, ctx_tokens=2048) as sampler:
        yield sampler


@pytest.fixture(scope="module")
def tiny_hf(tiny):
    return load_sampler(f"hf:{tiny[0]}")


def texts(result):
    return [[c.text for c in row] for row in result]


def test_llamacpp_runs_the_same_model_as_transformers(tiny_llamacpp, tiny_hf):
    """Greedy decoding of the GGUF in llama.cpp and of the original weights in torch agree,
    token log-probs included, and so do the scores of a fixed continuation."""
    ours, theirs = tiny_llamacpp.sample(PROMPTS, GREEDY), tiny_hf.sample(PROMPTS, GREEDY)
    assert texts(ours) == texts(theirs)
    for a, b in zip(ours, theirs):
        assert a[0].n_tokens == b[0].n_tokens
        assert a[0].logprob_sum == pytest.approx(b[0].logprob_sum, abs=0.05)
    target = ["    return a + b\n", "    print(os.getcwd())\n"]
    assert tiny_llamacpp.score(PROMPTS, target) == pytest.approx(tiny_hf.score(PROMPTS, target), abs=0.05)


def test_transformers_loads_the_gguf_file(tiny, tiny_hf):
    dequantised = load_sampler(f"hf-gguf:{tiny[1]}")
    assert texts(dequantised.sample(PROMPTS, GREEDY)) == texts(tiny_hf.sample(PROMPTS, GREEDY))


def test_llamacpp_sampling_is_seeded_and_independent_of_batching(tiny, tiny_llamacpp):
    params = SamplingParams(n=3, max_new_tokens=12, stop=(), seed=4)
    seeds = [derive_seed("gguf", i) for i in range(len(PROMPTS))]
    batched = tiny_llamacpp.sample_seeded(PROMPTS, params, seeds)
    assert [len(row) for row in batched] == [3, 3]
    assert texts(tiny_llamacpp.sample_seeded(PROMPTS, params, seeds)) == texts(batched)
    with load_sampler(f"gguf:{tiny[1]}", batch_size=1, ctx_tokens=512) as one_at_a_time:
        assert texts(one_at_a_time.sample_seeded(PROMPTS, params, seeds)) == texts(batched)
    assert len({c.text for row in batched for c in row}) > 1


def test_llamacpp_stop_sequences_cut_and_count_only_kept_tokens(tiny_llamacpp):
    params = SamplingParams(n=4, max_new_tokens=30, stop=(), seed=2)
    free = tiny_llamacpp.sample([PROMPTS[1]], params)[0]
    j, base = next((j, c) for j, c in enumerate(free) if len(c.text) > 15 and "\ufffd" not in c.text[:12])
    stop = base.text[8:11]
    cut = tiny_llamacpp.sample([PROMPTS[1]], SamplingParams(n=4, max_new_tokens=30, stop=(stop,), seed=2))[0][j]
    assert cut.text == base.text[: base.text.find(stop)]
    assert cut.finish_reason == "stop" and cut.n_tokens < base.n_tokens
    assert cut.logprob_sum > base.logprob_sum


def test_default_model_is_the_bundled_smollm2_and_answers_with_code():
    path = default_model_path()
    assert path.suffix == ".gguf" and "SmolLM2-135M-Instruct" in path.name
    with load_sampler("default", batch_size=4, ctx_tokens=4096) as sampler:
        assert sampler.chat  # an instruct model: its GGUF carries a chat template
        prompt = "def is_even(n: int) -> bool:\n    \"\"\"Return True if n is even.\"\"\"\n"
        assert sampler._decode(sampler.prompt_ids(prompt)).endswith("assistant\n```python\n" + prompt)
        result = sampler.sample([prompt], SamplingParams(n=4, max_new_tokens=24, seed=0))[0]
    assert len(result) == 4
    for c in result:
        assert FENCE_CLOSE not in c.text and not any(s in c.text for s in PAPER_STOP)
        assert c.n_tokens == 0 or c.logprob_sum < 0
    assert any(c.n_tokens > 0 for c in result)
