"""llama.cpp backend (GGUF files) through llama-cpp-python's low-level API, batched.

llama-cpp-python's high-level `Llama` decodes one sequence at a time, which leaves
most of a CPU's matmul throughput unused. Here many sequences share one llama.cpp
context and every decode step feeds one token per live row. Each row has its own KV
stream (`kv_unified=False`): with one unified cache every row's attention spans every
row's cells, so a step costs batch x all cells (batch^2) and batch 64 ran slower than
batch 1. The context is sized to the rows at hand (per-row cells rounded up, rebuilt
only when a longer row comes). A prompt is evaluated once; the other rows sampling it
get a copy of its stream.

Sampling happens here, in numpy, not in llama.cpp's sampler chain, so that every row
draws from its own seeded generator (reproducible, independent of batching) and the
log-probabilities recorded are the model's unwarped ones: log_softmax of the raw
logits at the sampled token, as in the transformers backend.
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from codexsd.core.imports import require
from codexsd.models.base import Completion, BatchedSampler, SamplingParams, derive_seed
from codexsd.models.text import (
    chat_messages, chat_prefill, chat_stops, first_stop, kept_token_count, render_chat_template, tidy_chat_completion,
    truncate_at_stop,
)

log = logging.getLogger(__name__)

NUCLEUS_CANDIDATES = 256
ROW_CTX_STEP = 256  # per-row KV cells are allocated in multiples of this  # top tokens tried first for top-p; the full sort is the fallback
STOP_CHECK_TOKENS = 16


def draw_tokens(logits, temperature: float, top_p: float, rngs) -> list[int]:
    """One token per row of `logits` (rows x vocab, float32): greedy at temperature 0, else
    nucleus sampling from each row's numpy Generator."""
    np = require("numpy")
    if temperature <= 0:
        return logits.argmax(-1).tolist()
    z = logits / temperature
    z = z - z.max(-1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(-1, keepdims=True)
    out = []
    for row, rng in zip(probs, rngs):
        k = min(NUCLEUS_CANDIDATES, row.shape[0])
        top = np.argpartition(row, -k)[-k:]
        if top_p >= 1.0 or row[top].sum() < top_p:
            top = np.arange(row.shape[0])
        order = top[np.argsort(-row[top], kind="stable")]
        p = row[order]
        if top_p < 1.0:
            cum = np.cumsum(p)
            p = p[: int(np.searchsorted(cum - p, top_p, side="right"))]
        cum = np.cumsum(p, dtype=np.float64)
        out.append(int(order[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(p) - 1)]))
    return out


def token_logprobs(logits, tokens: Sequence[int]) -> list[float]:
    """log_softmax(logits)[row, token] per row, at temperature 1."""
    np = require("numpy")
    peak = logits.max(-1, keepdims=True)
    lse = (np.log(np.exp(logits - peak).sum(-1, keepdims=True)) + peak)[:, 0]
    return [float(logits[r, t] - lse[r]) for r, t in enumerate(tokens)]


@dataclass
class _Row:
    prompt: list[int]
    seed: int
    source: str = ""  # the prompt text
    seq: int = -1
    pos: int = 0
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    hit_eos: bool = False
    done: bool = False


class LlamaCppSampler(BatchedSampler):
    """Samples from a GGUF model with llama.cpp. `batch_size` rows decode together, one
    KV stream each, of at most `ctx_tokens` tokens; `chat=None` means: chat prompt when the GGUF has a chat template."""

    def __init__(self, model_path: str | Path, *, batch_size: int = 32, ctx_tokens: int = 8192,
                 n_threads: int | None = None, chat: bool | None = None, n_gpu_layers: int = 0):
        """`ctx_tokens`: the most tokens (prompt + completion) one row may hold. The KV cache holds
        batch_size rows of just the length the current rows need, so memory follows the prompts."""
        self.llama_cpp = require("llama_cpp")
        self.np = require("numpy")
        self.spec = f"gguf:{model_path}"
        self.model_path = model_path
        self.batch_size = batch_size
        self.ctx_tokens = ctx_tokens
        # Every core this process may use (1.42x over one thread on an idle 2-core machine, same samples).
        # llama.cpp's spinning thread barrier slows down several-fold when its threads outnumber the
        # free cores: on a shared machine, lower it with CODEXSD_LLAMA_THREADS.
        self.threads = n_threads or int(os.environ.get("CODEXSD_LLAMA_THREADS") or len(os.sched_getaffinity(0)))
        self.llm = self.llama_cpp.Llama(model_path=str(model_path), n_ctx=256, n_threads=self.threads,
                                        n_threads_batch=self.threads, n_gpu_layers=n_gpu_layers, verbose=False)
        self.n_vocab = self.llm.n_vocab()
        self.vocab = self.llm._model.vocab
        template = self.llm.metadata.get("tokenizer.chat_template")
        self.chat_template = template
        self.chat = bool(template) if chat is None else chat
        if self.chat and not template:
            raise ValueError(f"{self.spec}: chat=True but the GGUF has no chat template")
        self.ctx = None
        self.row_ctx = 0
        self.n_batch = 512
        self.batch = self.llama_cpp.llama_batch_init(max(self.n_batch, batch_size), 0, 1)

    def _ensure_context(self, row_tokens: int) -> None:
        """A context whose batch_size KV streams each hold `row_tokens` cells or more."""
        if self.ctx is not None and self.row_ctx >= row_tokens:
            return
        lc = self.llama_cpp
        if self.ctx is not None:
            lc.llama_free(self.ctx)
            self.ctx = None
        row_ctx = -(-row_tokens // ROW_CTX_STEP) * ROW_CTX_STEP
        params = lc.llama_context_default_params()
        params.n_ctx = row_ctx * self.batch_size
        params.n_batch = params.n_ubatch = max(self.n_batch, self.batch_size)
        params.n_seq_max = self.batch_size
        params.kv_unified = False  # one KV stream per row: attention cost grows with the row, not the batch
        params.n_threads = params.n_threads_batch = self.threads
        self.ctx = lc.llama_init_from_model(self.llm._model.model, params)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp could not create a context of {self.batch_size} x {row_ctx} tokens "
                               f"for {self.model_path}")
        self.row_ctx = row_ctx
        self.memory = lc.llama_get_memory(self.ctx)

    def close(self) -> None:
        if getattr(self, "ctx", None):
            self.llama_cpp.llama_free(self.ctx)
            self.ctx = None
        if getattr(self, "batch", None) is not None:
            self.llama_cpp.llama_batch_free(self.batch)
            self.batch = None
        if getattr(self, "llm", None) is not None:
            self.llm.close()
            self.llm = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ---- text ----

    def prompt_ids(self, prompt: str) -> list[int]:
        if self.chat:
            special = {"bos_token": self._piece(self.llm.token_bos()), "eos_token": self._piece(self.llm.token_eos())}
            text = render_chat_template(self.chat_template, chat_messages(prompt), **special) + chat_prefill(prompt)
            return self.llm.tokenize(text.encode(), add_bos=False, special=True)
        return self.llm.tokenize(prompt.encode(), add_bos=True, special=False)

    def _piece(self, token: int) -> str:
        return "" if token < 0 else self.llm.detokenize([token], special=True).decode(errors="replace")

    def _decode(self, ids: Sequence[int]) -> str:
        return self.llm.detokenize(list(ids), special=True).decode("utf-8", errors="replace")

    # ---- sampling ----

    def sample_seeded(self, prompts: Sequence[str], params: SamplingParams, seeds: Sequence[int]) -> list[list[Completion]]:
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        stop = chat_stops(params.stop) if self.chat else tuple(params.stop)
        rows: list[tuple[int, int, _Row]] = []
        for i, (prompt, seed) in enumerate(zip(prompts, seeds)):
            ids = self.prompt_ids(prompt)
            if len(ids) + params.max_new_tokens > self.ctx_tokens:
                raise ValueError(f"prompt {i} needs {len(ids) + params.max_new_tokens} tokens of context; "
                                 f"the sampler allows ctx_tokens={self.ctx_tokens} per row")
            rows.extend((i, j, _Row(ids, derive_seed(seed, j), prompt)) for j in range(params.n))
        out: list[list[Completion | None]] = [[None] * params.n for _ in prompts]
        for chunk in self._chunks(rows, params.max_new_tokens):
            self._generate([r for _, _, r in chunk], params, stop)
            for i, j, row in chunk:
                out[i][j] = self._completion(row, stop)
        return out  # type: ignore[return-value]

    def _chunks(self, rows, max_new: int):
        """Groups of at most batch_size rows (one KV stream each), longest prompts first, so a
        group's rows have similar lengths and the context grows to the longest row once."""
        order = sorted(rows, key=lambda item: -len(item[2].prompt))
        for start in range(0, len(order), self.batch_size):
            yield order[start:start + self.batch_size]

    def _decode_batch(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """llama_decode one batch of (token, position, sequence, wants logits) entries."""
        b = self.batch
        for k, (token, pos, seq, logits) in enumerate(entries):
            b.token[k], b.pos[k], b.n_seq_id[k], b.logits[k] = token, pos, 1, logits
            b.seq_id[k][0] = seq
        b.n_tokens = len(entries)
        status = self.llama_cpp.llama_decode(self.ctx, b)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status} (1 = KV cache full)")

    def _logits(self, index: int):
        ptr = self.llama_cpp.llama_get_logits_ith(self.ctx, index)
        return self.np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,)).copy()

    def _prefill(self, rows: list[_Row]):
        """Evaluate each distinct prompt once; rows sharing it get its KV cells. Returns last logits per row."""
        lc, np = self.llama_cpp, self.np
        first: dict[tuple[int, ...], int] = {}
        logits = np.empty((len(rows), self.n_vocab), dtype=np.float32)
        for seq, row in enumerate(rows):
            row.seq, row.pos = seq, len(row.prompt)
            key = tuple(row.prompt)
            if key in first:
                src = first[key]
                lc.llama_memory_seq_cp(self.memory, src, seq, -1, -1)
                logits[seq] = logits[src]
                continue
            first[key] = seq
            for start in range(0, len(row.prompt), self.n_batch):
                part = row.prompt[start:start + self.n_batch]
                last = start + len(part) == len(row.prompt)
                self._decode_batch([(t, start + k, seq, last and k == len(part) - 1) for k, t in enumerate(part)])
            logits[seq] = self._logits(len(part) - 1)
        return logits

    def _generate(self, rows: list[_Row], params: SamplingParams, stop: Sequence[str]) -> None:
        np, lc = self.np, self.llama_cpp
        rngs = [np.random.default_rng(r.seed) for r in rows]
        self._ensure_context(max(len(r.prompt) for r in rows) + params.max_new_tokens)
        self.llama_cpp.llama_memory_clear(self.memory, True)
        logits = self._prefill(rows)
        live = list(range(len(rows)))
        for _step in range(params.max_new_tokens):
            tokens = draw_tokens(logits, params.temperature, params.top_p, [rngs[r] for r in live])
            logprobs = token_logprobs(logits, tokens)
            still = []
            for r, token, lp in zip(live, tokens, logprobs):
                row = rows[r]
                if lc.llama_vocab_is_eog(self.vocab, token):
                    row.hit_eos = row.done = True
                else:
                    row.ids.append(token)
                    row.logprobs.append(lp)
                    if stop and first_stop(self._decode(row.ids[-STOP_CHECK_TOKENS:]), stop) >= 0:
                        row.done = True
                if row.done:
                    lc.llama_memory_seq_rm(self.memory, row.seq, -1, -1)
                else:
                    still.append(r)
            live = still
            if not live or _step == params.max_new_tokens - 1:
                break
            self._decode_batch([(rows[r].ids[-1], rows[r].pos, rows[r].seq, True) for r in live])
            for r in live:
                rows[r].pos += 1
            logits = np.stack([self._logits(k) for k in range(len(live))])

    def _completion(self, row: _Row, stop: Sequence[str]) -> Completion:
        text, stopped = truncate_at_stop(self._decode(row.ids), stop)
        n = kept_token_count(lambda k: self._decode(row.ids[:k]), len(row.ids), len(text)) if stopped else len(row.ids)
        if self.chat:  # n_tokens and log-probs stay those of the sampled text
            text = tidy_chat_completion(row.source, text)
        total = float(sum(row.logprobs[:n]))
        return Completion(text=text, logprob_sum=total, logprob_mean=total / n if n else 0.0, n_tokens=n,
                          finish_reason="stop" if stopped or row.hit_eos else "length")

    # ---- scoring ----

    def score(self, prompts: Sequence[str], targets: Sequence[str]) -> list[float]:
        """Sum log P(target | prompt), one sequence at a time (prompts used as given)."""
        if len(prompts) != len(targets):
            raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
        np = self.np
        scores = []
        for prompt, target in zip(prompts, targets):
            p = self.llm.tokenize(prompt.encode(), add_bos=True, special=False)
            t = self.llm.tokenize(target.encode(), add_bos=False, special=False)
            if not p:
                raise ValueError("score() needs a non-empty prompt (or a model that adds BOS)")
            ids = p + t
            if len(ids) > self.ctx_tokens:
                raise ValueError(f"prompt + target is {len(ids)} tokens; ctx_tokens={self.ctx_tokens}")
            self._ensure_context(len(ids))
            self.llama_cpp.llama_memory_clear(self.memory, True)
            total = 0.0
            for start in range(0, len(ids), self.n_batch):
                part = ids[start:start + self.n_batch]
                want = [start + k >= len(p) - 1 and start + k < len(ids) - 1 for k in range(len(part))]
                self._decode_batch([(tok, start + k, 0, w) for k, (tok, w) in enumerate(zip(part, want))])
                for k, w in enumerate(want):
                    if w:
                        total += token_logprobs(self._logits(k)[None, :], [ids[start + k + 1]])[0]
            scores.append(total)
        return scores
