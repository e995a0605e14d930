"""Any OpenAI-compatible completions server (vLLM, llama.cpp's server, TGI, OpenAI itself).

Plain `urllib`, no client package. Each sample is one request with `n=1` and its own
seed, so sample j of a prompt gets the same seed whatever n and the batching; requests
run concurrently and the server batches them. Bitwise-equal text on a rerun also needs a
deterministic server: llama.cpp's server, for one, reuses the prompt prefix of its
previous request, and the different batch split shifts the logits in their last bits
(send requests one at a time, `concurrency=1`, from the same server state for that). Log-probabilities are the
server's `logprobs` of the sampled tokens (vLLM and llama.cpp report the model's
unwarped ones). The completion is cut again at the stop sequences here, because some
servers cap the number of stop sequences (OpenAI allows four; the paper uses five).

Several servers (`openai:http://h1:8000/v1,http://h2:8000/v1#model`, e.g. one vLLM per GPU
node) share the requests: the n samples of a prompt go to the server its seed picks, so a
prompt's prefix stays cached on one server; a server that fails is skipped for a while and
the request goes to the next one. The seed travels in the request, so which server answered
does not change the sample (on deterministic servers, as above).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from codexsd.models.base import Completion, Sampler, SamplingParams, derive_seed
from codexsd.models.text import (
    chat_messages, chat_prefill, chat_stops, render_chat_template, tidy_chat_completion, truncate_at_stop,
)

log = logging.getLogger(__name__)

MAX_SERVER_STOPS = int(os.environ.get("CODEXSD_OPENAI_MAX_STOPS", "4"))
CONNECT_RETRIES = 5
DOWN_SECONDS = float(os.environ.get("CODEXSD_OPENAI_DOWN_SECONDS", "30"))  # a failed server is skipped this long


class ServerError(RuntimeError):
    """The completions server answered with an error or not at all."""


def completions_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base + "/completions" if base.endswith("/v1") else base + "/v1/completions"


def split_base_urls(base_url: str | Sequence[str]) -> list[str]:
    """`"http://h1/v1,http://h2/v1"` (or a list) -> the base URLs, in order."""
    urls = [u.strip() for u in (base_url.split(",") if isinstance(base_url, str) else base_url) if u.strip()]
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if not urls or bad:
        raise ValueError(f"openai spec needs base URLs, e.g. openai:http://127.0.0.1:8000/v1#model or "
                         f"openai:http://h1:8000/v1,http://h2:8000/v1#model, got {base_url!r}")
    return urls


class OpenAICompletionsSampler(Sampler):
    """Samples from `POST <base_url>/v1/completions` of one server or several (a comma-separated
    `base_url` or a list). Instruct models served this way get the chat prompt when
    `chat_template` (the model's Jinja template text) is given. `concurrency`: requests in
    flight, all servers together (default 8 per server)."""

    def __init__(self, base_url: str | Sequence[str], model: str = "", *, api_key: str | None = None,
                 concurrency: int | None = None, timeout: float = 600.0, chat_template: str | None = None,
                 special_tokens: dict[str, str] | None = None, extra_body: dict[str, Any] | None = None):
        bases = split_base_urls(base_url)
        self.urls = [completions_url(b) for b in bases]
        self.url = self.urls[0]
        self.model = model
        self.spec = f"openai:{','.join(bases)}#{model}"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.concurrency = concurrency or 8 * len(self.urls)
        self._down_until: dict[str, float] = {}  # url -> monotonic time before which it is not tried first
        self.timeout = timeout
        self.chat_template = chat_template
        self.special_tokens = special_tokens or {}
        # server-specific fields, e.g. {"top_k": 0, "min_p": 0.0} so llama.cpp's server samples pure nucleus
        self.extra_body = extra_body or {}

    def _route(self, key: int) -> list[str]:
        """The servers to try for a request, in order: the one `key` picks first, then the next ones;
        servers that failed lately go last."""
        n = len(self.urls)
        order = [self.urls[(key + k) % n] for k in range(n)]
        now = time.monotonic()
        return sorted(order, key=lambda u: self._down_until.get(u, 0.0) > now)  # stable: the order stays otherwise

    def _post(self, body: dict[str, Any], key: int = 0) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        failures: dict[str, str] = {}
        for attempt in range(CONNECT_RETRIES):
            for url in self._route(key):
                request = urllib.request.Request(url, data=data, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=self.timeout) as response:
                        answer = json.loads(response.read())
                    self._down_until.pop(url, None)
                    return answer
                except urllib.error.HTTPError as exc:
                    detail = " ".join(exc.read().decode(errors="replace").split())[:500]
                    if exc.code < 500:  # the request itself is wrong: every server would say so
                        raise ServerError(f"{url} answered {exc.code}: {detail}") from None
                    failures[url] = f"answered {exc.code}: {detail[:200]}"
                except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException, ValueError) as exc:
                    failures[url] = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
                self._down_until[url] = time.monotonic() + DOWN_SECONDS
                if len(self.urls) > 1:
                    log.warning("%s failed (%s); trying another server", url, failures[url])
            if attempt < CONNECT_RETRIES - 1:
                log.warning("no server answered; retrying in %ds", 2 ** attempt)
                time.sleep(2 ** attempt)
        if len(self.urls) == 1:
            raise ServerError(f"cannot reach {self.url}: {failures[self.url]}")
        raise ServerError(f"cannot reach any of the {len(self.urls)} servers: "
                          + "; ".join(f"{u}: {why}" for u, why in failures.items()))

    def _prompt(self, prompt: str) -> str:
        if self.chat_template is None:
            return prompt
        return render_chat_template(self.chat_template, chat_messages(prompt), **self.special_tokens) + chat_prefill(prompt)

    def _one(self, prompt: str, params: SamplingParams, seed: int, stop: Sequence[str], source: str,
             route: int = 0) -> Completion:
        """One sample of `prompt` (the text sent: chat-wrapped for instruct models) for the task `source`;
        `route` picks the server tried first."""
        body = {
            "model": self.model, "prompt": prompt, "n": 1, "max_tokens": params.max_new_tokens,
            "temperature": params.temperature, "top_p": params.top_p, "seed": seed, "logprobs": 1,
            "stop": list(stop)[:MAX_SERVER_STOPS], **self.extra_body,
        }
        choice = self._post(body, route)["choices"][0]
        text, stopped = truncate_at_stop(choice.get("text", ""), stop)
        logprobs = choice.get("logprobs") or {}
        pieces = logprobs.get("tokens") or []
        values = [v for v in (logprobs.get("token_logprobs") or []) if v is not None]
        n = _kept_pieces(pieces, len(text)) if pieces else 0
        total = float(sum(values[:n]))
        if self.chat_template is not None:  # as the other backends: n_tokens and log-probs stay the sampled text's
            text = tidy_chat_completion(source, text)
        finish = "stop" if stopped or choice.get("finish_reason") == "stop" else "length"
        return Completion(text=text, logprob_sum=total, logprob_mean=total / n if n else 0.0, n_tokens=n,
                          finish_reason=finish)

    def sample(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        return self.sample_seeded(prompts, params, [derive_seed(params.seed, i) for i in range(len(prompts))])

    def sample_seeded(self, prompts: Sequence[str], params: SamplingParams, seeds: Sequence[int]) -> list[list[Completion]]:
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        stop = chat_stops(params.stop) if self.chat_template else tuple(params.stop)
        # a prompt's n samples go to the server its seed picks first (its prefix stays cached there)
        jobs = [(i, j, self._prompt(p), derive_seed(s, j), p, int(s)) for i, (p, s) in enumerate(zip(prompts, seeds))
                for j in range(params.n)]
        out: list[list[Completion | None]] = [[None] * params.n for _ in prompts]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            results = pool.map(lambda job: self._one(job[2], params, job[3], stop, job[4], job[5]), jobs)
            for (i, j, *_), completion in zip(jobs, results):
                out[i][j] = completion
        return out  # type: ignore[return-value]


def _kept_pieces(pieces: Sequence[str], n_chars: int) -> int:
    """How many leading token pieces it takes to cover `n_chars` characters of the completion."""
    covered = 0
    for k, piece in enumerate(pieces):
        if covered >= n_chars:
            return k
        covered += len(piece)
    return len(pieces)
