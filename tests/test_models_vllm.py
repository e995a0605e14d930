"""vLLM backend (GPU only): the same contract as the other backends, on a tiny random Llama."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu

vllm = pytest.importorskip("vllm")
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("vLLM needs a CUDA device", allow_module_level=True)

from codexsd.models import PAPER_STOP, SamplingParams, load_sampler  # noqa: E402
from tiny_models import build_tiny_causal_lm  # noqa: E402

PROMPTS = ["def add(a, b):\n", "import os\n"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "llama", arch="llama")


@pytest.fixture(scope="module")
def sampler(tiny):
    return load_sampler(f"vllm:{tiny}", dtype="float32", gpu_memory_utilization=0.3, max_model_len=512)


def test_vllm_samples_are_seeded_cut_at_stops_and_carry_logprobs(sampler):
    params = SamplingParams(n=3, max_new_tokens=16, seed=5)
    first = sampler.sample(PROMPTS, params)
    assert [len(row) for row in first] == [3, 3]
    assert [[c.text for c in row] for row in sampler.sample(PROMPTS, params)] == [[c.text for c in row] for row in first]
    for c in (c for row in first for c in row):
        assert not any(s in c.text for s in PAPER_STOP)
        assert c.n_tokens == 0 or c.logprob_sum < 0


def test_vllm_greedy_matches_transformers(sampler, tiny):
    hf = load_sampler(f"hf:{tiny}", dtype="float32")
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=8, stop=())
    assert [r[0].text for r in sampler.sample(PROMPTS, greedy)] == [r[0].text for r in hf.sample(PROMPTS, greedy)]
