"""Hugging Face transformers backend: batched sampling with a KV cache, on CPU or GPU.

We run our own decode loop instead of `generate()` for three reasons: every row
draws from its own `torch.Generator`, so a prompt's samples do not depend on the
other prompts in its batch; rows that hit a stop sequence or EOS leave the batch
(their KV-cache rows are dropped), so one long sample does not keep 63 finished ones
computing; and the log-probabilities we record are the model's own, unwarped:
`log_softmax` of the raw logits at temperature 1, taken at the sampled token, which
is what the Codex paper ranks samples by. Temperature and top-p shape only the draw.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Sequence

from codexsd.core.imports import require
from codexsd.models.base import Completion, BatchedSampler, SamplingParams, derive_seed
from codexsd.models.text import (
    chat_messages, chat_prefill, chat_stops, first_stop, kept_token_count, tidy_chat_completion, truncate_at_stop,
)

log = logging.getLogger(__name__)

STOP_CHECK_TOKENS = 16  # decoded tail, in tokens, searched for a stop sequence at each step


def pick_device(device: str = "auto") -> str:
    torch = require("torch")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_dtype(dtype: str, device: str):
    torch = require("torch")
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def load_model_and_tokenizer(model_id: str, *, gguf_file: str | None = None, device: str = "auto",
                             dtype: str = "auto", trust_remote_code: bool = False):
    """Load a causal LM and its tokenizer from a hub id, a local folder, or (with `gguf_file`)
    a GGUF file that transformers dequantises (needs the `gguf` package). Returns (model, tokenizer)."""
    transformers = require("transformers")
    if gguf_file is not None:
        require("gguf")
        require("accelerate")
    device = pick_device(device)
    kw = {"trust_remote_code": trust_remote_code}
    if gguf_file is not None:
        kw["gguf_file"] = gguf_file
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_id, **kw)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_id, dtype=pick_dtype(dtype, device), **kw)
    model.to(device).eval()
    return model, tokenizer


def load_gguf_with_transformers(path: str | Path, **kw):
    """(model, tokenizer) from a GGUF file via transformers' `gguf_file`, dequantised to torch weights."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {path}")
    return load_model_and_tokenizer(str(path.parent), gguf_file=path.name, **kw)


def forward_names(model) -> tuple[str, str | None]:
    """The model's names for the KV-cache argument and the keep-last-k-logits argument, which
    transformers renamed across versions (past_key_values -> cache, num_logits_to_keep -> logits_to_keep)."""
    params = inspect.signature(model.forward).parameters
    cache = "cache" if "cache" in params else "past_key_values"
    keep = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
    return cache, keep


class TransformersSampler(BatchedSampler):
    """Samples from a transformers causal LM. `chat=None` means: use the chat prompt
    exactly when the tokenizer has a chat template (an instruct model)."""

    def __init__(self, model_id: str | Path, *, gguf_file: str | None = None, device: str = "auto",
                 dtype: str = "auto", batch_size: int = 32, chat: bool | None = None,
                 trust_remote_code: bool = False, model=None, tokenizer=None):
        self.torch = require("torch")
        if model is None or tokenizer is None:
            model, tokenizer = load_model_and_tokenizer(
                str(model_id), gguf_file=gguf_file, device=device, dtype=dtype, trust_remote_code=trust_remote_code
            )
        self.model, self.tokenizer = model, tokenizer
        self.spec = f"hf:{model_id}" + (f"#{gguf_file}" if gguf_file else "")
        self.batch_size = batch_size
        self.chat = bool(tokenizer.chat_template) if chat is None else chat
        if self.chat and not tokenizer.chat_template:
            raise ValueError(f"{self.spec}: chat=True but the tokenizer has no chat template")
        eos = model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id is not None:
            eos.append(tokenizer.eos_token_id)
        self.eos_ids = sorted(set(eos))
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.eos_ids[0] if self.eos_ids else 0)
        self.device = next(model.parameters()).device
        self._cache_arg, self._keep_arg = forward_names(model)

    def _forward(self, cache=None, keep: int | None = None, **inputs):
        if cache is not None:
            inputs[self._cache_arg] = cache
            inputs["use_cache"] = True
        if keep is not None and self._keep_arg is not None:
            inputs[self._keep_arg] = keep
        return self.model(**inputs).logits

    # ---- prompts and text ----

    def prompt_ids(self, prompt: str) -> list[int]:
        """Token ids the model is conditioned on for `prompt` (chat-wrapped for instruct models)."""
        if self.chat:
            text = self.tokenizer.apply_chat_template(chat_messages(prompt), tokenize=False, add_generation_prompt=True)
            return self.tokenizer(text + chat_prefill(prompt), add_special_tokens=False)["input_ids"]
        return self.tokenizer(prompt)["input_ids"]

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _completion(self, ids: list[int], logprobs: list[float], hit_eos: bool, stop: Sequence[str],
                    prompt: str) -> Completion:
        text, stopped = truncate_at_stop(self._decode(ids), stop)
        n = kept_token_count(lambda k: self._decode(ids[:k]), len(ids), len(text)) if stopped else len(ids)
        if self.chat:  # as the llama.cpp backend: n_tokens and log-probs stay those of the sampled text
            text = tidy_chat_completion(prompt, text)
        total = float(sum(logprobs[:n]))
        return Completion(text=text, logprob_sum=total, logprob_mean=total / n if n else 0.0, n_tokens=n,
                          finish_reason="stop" if stopped or hit_eos else "length")

    # ---- sampling ----

    def sample_seeded(self, prompts: Sequence[str], params: SamplingParams, seeds: Sequence[int]) -> list[list[Completion]]:
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        stop = chat_stops(params.stop) if self.chat else tuple(params.stop)
        rows = []  # (prompt index, sample index, ids, seed)
        for i, (prompt, seed) in enumerate(zip(prompts, seeds)):
            ids = self.prompt_ids(prompt)
            rows.extend((i, j, ids, derive_seed(seed, j)) for j in range(params.n))
        rows.sort(key=lambda r: -len(r[2]))  # similar lengths share a batch: less padding
        out: list[list[Completion | None]] = [[None] * params.n for _ in prompts]
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            results = self._generate([r[2] for r in chunk], [r[3] for r in chunk], params, stop)
            for (i, j, _, _), (ids, logprobs, hit_eos) in zip(chunk, results):
                out[i][j] = self._completion(ids, logprobs, hit_eos, stop, prompts[i])
        return out  # type: ignore[return-value]

    def _left_pad(self, batch: Sequence[Sequence[int]]):
        torch = self.torch
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, ids in enumerate(batch):
            input_ids[r, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            mask[r, width - len(ids):] = 1
        return input_ids.to(self.device), mask.to(self.device)

    def _draw(self, logits, params: SamplingParams, generators):
        """Next token per row: greedy at temperature 0, else nucleus sampling from each row's generator."""
        torch = self.torch
        if params.temperature <= 0:
            return logits.argmax(-1)
        probs = torch.softmax(logits / params.temperature, dim=-1)
        if params.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            sorted_p[(sorted_p.cumsum(-1) - sorted_p) > params.top_p] = 0.0
            probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
        return torch.cat([torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(generators)])

    def _generate(self, batch: list[list[int]], seeds: list[int], params: SamplingParams, stop: Sequence[str]):
        """Decode a batch; returns per row (new token ids without EOS, their log-probs, ended by EOS)."""
        torch = self.torch
        transformers = require("transformers")
        generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
        input_ids, mask = self._left_pad(batch)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = transformers.DynamicCache()
        new_ids: list[list[int]] = [[] for _ in batch]
        new_lp: list[list[float]] = [[] for _ in batch]
        hit_eos = [False] * len(batch)
        active = list(range(len(batch)))  # batch row -> original row
        eos = torch.tensor(self.eos_ids, device=self.device)
        with torch.inference_mode():
            out = self._forward(cache, keep=1, input_ids=input_ids, attention_mask=mask, position_ids=positions)
            next_pos = positions[:, -1] + 1
            for _step in range(params.max_new_tokens):
                logits = out[:, -1, :].float()
                tokens = self._draw(logits, params, [generators[r] for r in active])
                logprobs = torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, None])[:, 0]
                is_eos = torch.isin(tokens, eos).tolist()
                tokens_l, logprobs_l = tokens.tolist(), logprobs.tolist()
                done = []
                for b, r in enumerate(active):
                    if is_eos[b]:
                        hit_eos[r] = True
                        done.append(b)
                        continue
                    new_ids[r].append(tokens_l[b])
                    new_lp[r].append(logprobs_l[b])
                if stop:
                    tails = self.tokenizer.batch_decode(
                        [new_ids[r][-STOP_CHECK_TOKENS:] for r in active],
                        skip_special_tokens=False, clean_up_tokenization_spaces=False,
                    )
                    done.extend(b for b, tail in enumerate(tails) if first_stop(tail, stop) >= 0 and b not in done)
                if len(done) == len(active):
                    break
                if done:
                    keep = [b for b in range(len(active)) if b not in set(done)]
                    index = torch.tensor(keep, device=self.device)
                    cache.batch_select_indices(index)
                    tokens, mask, next_pos = tokens[index], mask[index], next_pos[index]
                    active = [active[b] for b in keep]
                mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
                out = self._forward(cache, input_ids=tokens[:, None], attention_mask=mask,
                                    position_ids=next_pos[:, None])
                next_pos = next_pos + 1
        return [(new_ids[r], new_lp[r], hit_eos[r]) for r in range(len(batch))]

    # ---- scoring ----

    def score(self, prompts: Sequence[str], targets: Sequence[str]) -> list[float]:
        """Sum log P(target | prompt) from one forward pass per batch. Prompts are used as
        given (no chat wrapping); target tokens are the target's own tokenization."""
        torch = self.torch
        if len(prompts) != len(targets):
            raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
        scores: list[float] = []
        for start in range(0, len(prompts), self.batch_size):
            pairs = []
            for prompt, target in zip(prompts[start:start + self.batch_size], targets[start:start + self.batch_size]):
                p_ids = self.tokenizer(prompt)["input_ids"]
                if not p_ids:
                    raise ValueError("score() needs a non-empty prompt (or a tokenizer that adds BOS)")
                t_ids = self.tokenizer(target, add_special_tokens=False)["input_ids"]
                pairs.append((p_ids, t_ids))
            width = max(len(t) for _, t in pairs)
            input_ids, mask = self._left_pad([p + t for p, t in pairs])
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self._forward(keep=width + 1, input_ids=input_ids, attention_mask=mask,
                                       position_ids=positions).float()
            logits = logits[:, -(width + 1):, :]
            logp = torch.log_softmax(logits[:, :-1, :], dim=-1)  # position k predicts token k+1
            for r, (_, t_ids) in enumerate(pairs):
                if not t_ids:
                    scores.append(0.0)
                    continue
                tgt = torch.tensor(t_ids, device=self.device)
                rows = logp[r, width - len(t_ids):, :]
                scores.append(float(rows.gather(-1, tgt[:, None]).sum()))
        return scores
