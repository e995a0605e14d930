"""vLLM backend (GPU, optional extra `codexsd[vllm]`): the throughput path for large sampling runs.

Each (prompt, sample) pair is one request with n=1 and its own seed, so results match
the other backends' seeding scheme and do not depend on batching; vLLM's prefix cache
makes the repeated prompt cheap. vLLM reports the model's raw (unwarped) log-probs of
the sampled tokens, as the other backends do.
"""

from __future__ import annotations

import logging
from typing import Sequence

from codexsd.core.imports import require
from codexsd.models.base import Completion, BatchedSampler, SamplingParams, derive_seed
from codexsd.models.text import (
    chat_messages, chat_prefill, chat_stops, kept_token_count, tidy_chat_completion, truncate_at_stop,
)

log = logging.getLogger(__name__)


class VLLMSampler(BatchedSampler):
    """`chat=None`: use the chat prompt when the model's tokenizer has a chat template."""

    def __init__(self, model_id: str, *, chat: bool | None = None, dtype: str = "auto",
                 gpu_memory_utilization: float = 0.9, max_model_len: int | None = None,
                 tensor_parallel_size: int = 1, **engine_kw):
        vllm = require("vllm")
        self.vllm = vllm
        self.llm = vllm.LLM(model=model_id, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                            max_model_len=max_model_len, tensor_parallel_size=tensor_parallel_size, seed=0,
                            **engine_kw)
        self.tokenizer = self.llm.get_tokenizer()
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.chat = has_template if chat is None else chat
        self.spec = f"vllm:{model_id}"

    def _prompt(self, prompt: str) -> str:
        if not self.chat:
            return prompt
        text = self.tokenizer.apply_chat_template(chat_messages(prompt), tokenize=False, add_generation_prompt=True)
        return text + chat_prefill(prompt)

    def sample_seeded(self, prompts: Sequence[str], params: SamplingParams, seeds: Sequence[int]) -> list[list[Completion]]:
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        stop = chat_stops(params.stop) if self.chat else tuple(params.stop)
        texts, settings = [], []
        for prompt, seed in zip(prompts, seeds):
            text = self._prompt(prompt)
            for j in range(params.n):
                texts.append(text)
                settings.append(self.vllm.SamplingParams(
                    n=1, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_new_tokens,
                    stop=list(stop), seed=derive_seed(seed, j), logprobs=0,
                ))
        outputs = self.llm.generate(texts, settings, use_tqdm=False)
        flat = [self._completion(o.outputs[0], stop, prompts[k // params.n]) for k, o in enumerate(outputs)]
        return [flat[i * params.n:(i + 1) * params.n] for i in range(len(prompts))]

    def _completion(self, out, stop: Sequence[str], prompt: str) -> Completion:
        ids = list(out.token_ids)
        logprobs = [step[tok].logprob for tok, step in zip(ids, out.logprobs or [])]
        text, stopped = truncate_at_stop(out.text, stop)
        decode = lambda k: self.tokenizer.decode(ids[:k], skip_special_tokens=True)  # noqa: E731
        n = kept_token_count(decode, len(ids), len(text)) if text != "" else 0
        n = min(n, len(logprobs))
        total = float(sum(logprobs[:n]))
        if self.chat:  # as the other backends: n_tokens and log-probs stay those of the sampled text
            text = tidy_chat_completion(prompt, text)
        finish = "stop" if stopped or out.finish_reason == "stop" else "length"
        return Completion(text=text, logprob_sum=total, logprob_mean=total / n if n else 0.0, n_tokens=n,
                          finish_reason=finish)
