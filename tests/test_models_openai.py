"""The OpenAI-compatible backend against a real server: llama-cpp-python's server on 127.0.0.1
serving the bundled SmolLM2 GGUF, started by this test module."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("uvicorn", reason="the server test needs llama-cpp-python[server]")

from codexsd.models import PAPER_STOP, SamplingParams, default_model_path, load_sampler  # noqa: E402
from codexsd.models.openai_compat import ServerError  # noqa: E402

PROMPTS = ["def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n",
           "def is_even(n):\n    \"\"\"Return True if n is even.\"\"\"\n"]
STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--logits_all", "true", "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            with urllib.request.urlopen(base + "/models", timeout=5) as r:
                if json.loads(r.read())["data"]:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.seek(0)
            pytest.fail(f"llama_cpp.server did not start: {log.read()[-2000:]}")
        time.sleep(1)
    yield base
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_server_samples_with_logprobs_and_the_papers_stops(server):
    # One request at a time, from the same server state each time: llama.cpp's server reuses the
    # longest prompt prefix of the previous request, and a different batch split of the prompt
    # changes the logits in their last bits, which a temperature-0.8 draw can turn into other text.
    sampler = load_sampler(f"openai:{server}#smollm2", extra_body={"top_k": 0, "min_p": 0.0}, concurrency=1)
    params = SamplingParams(n=2, max_new_tokens=24, temperature=0.8, seed=3)

    def reset_server_cache():
        sampler.sample(["Hello"], SamplingParams(n=1, max_new_tokens=1, temperature=0.0))

    reset_server_cache()
    result = sampler.sample(PROMPTS, params)
    assert [len(row) for row in result] == [2, 2]
    for c in (c for row in result for c in row):
        assert not any(s in c.text for s in PAPER_STOP)  # all five, though the request carried only four
        assert c.n_tokens == 0 or (c.logprob_sum < 0 and c.logprob_mean == pytest.approx(c.logprob_sum / c.n_tokens))
    assert any(c.n_tokens > 0 for row in result for c in row)
    reset_server_cache()
    again = sampler.sample(PROMPTS, params)
    assert [[c.text for c in row] for row in again] == [[c.text for c in row] for row in result]


def test_server_greedy_matches_the_in_process_llamacpp_backend(server):
    remote = load_sampler(f"openai:{server}#smollm2")
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=16, stop=("\n\n",))
    theirs = remote.sample(PROMPTS, greedy)
    with load_sampler("default", chat=False, batch_size=2, ctx_tokens=2048) as local:
        ours = local.sample(PROMPTS, greedy)
    for a, b in zip(theirs, ours):
        assert a[0].text == b[0].text
        assert a[0].n_tokens == b[0].n_tokens
        assert a[0].logprob_sum == pytest.approx(b[0].logprob_sum, abs=0.05)


def test_unreachable_server_is_a_clear_error(monkeypatch):
    import codexsd.models.openai_compat as oc

    monkeypatch.setattr(oc, "CONNECT_RETRIES", 1)
    sampler = load_sampler(f"openai:http://127.0.0.1:{free_port()}/v1#m", timeout=2)
    with pytest.raises(ServerError, match="cannot reach"):
        sampler.sample(["x"], SamplingParams(max_new_tokens=2))
