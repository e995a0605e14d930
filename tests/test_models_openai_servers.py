"""Several OpenAI-compatible servers behind one sampler: real llama-cpp-python servers on
127.0.0.1, each serving the tiny GGUF built in this session (tests/tiny_models.py).

What a user spreading sampling over N servers (one vLLM per GPU node) checks: the samples
equal those from one server for the same seeds, both servers did part of the work, a server
killed mid-run does not stop the run, and no server answering is one line naming them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("uvicorn", reason="the server test needs llama-cpp-python[server]")
pytest.importorskip("transformers")

from codexsd.models import SamplingParams, load_sampler  # noqa: E402
from codexsd.models.openai_compat import OpenAICompletionsSampler, ServerError  # noqa: E402
from tiny_models import build_tiny_causal_lm, build_tiny_gguf  # noqa: E402

PROMPTS = [f"def f{i}(x):\n    \"\"\"Return x plus {i}.\"\"\"\n" for i in range(6)]
PARAMS = SamplingParams(n=2, temperature=0.8, max_new_tokens=12, stop=("\n\n",), seed=11)
PURE_NUCLEUS = {"top_k": 0, "min_p": 0.0}  # llama.cpp's server samples pure nucleus, as the other backends
STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `python -m llama_cpp.server` process on 127.0.0.1."""

    def __init__(self, model: Path, log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self.log = open(log_path, "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", "512", "--logits_all", "true", "--model_alias", "tiny",
             "--n_threads", "1"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the log counts requests
        )
        self.base = f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self) -> "Server":
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(self.base + "/models", timeout=5) as r:
                    if json.loads(r.read())["data"]:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"llama_cpp.server did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.5)

    def completions_served(self) -> int:
        return self.log_path.read_text().count("POST /v1/completions")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny-gguf")
    return build_tiny_gguf(build_tiny_causal_lm(root / "hf", arch="llama"), root / "tiny.gguf")


@pytest.fixture(scope="module")
def servers(tiny_gguf, tmp_path_factory):
    logs = tmp_path_factory.mktemp("servers")
    started = [Server(tiny_gguf, logs / f"server-{k}.log") for k in range(2)]
    try:
        yield [s.wait_ready() for s in started]
    finally:
        for s in started:
            s.stop()


def texts(result) -> list[list[str]]:
    return [[c.text for c in row] for row in result]


def test_two_servers_give_the_samples_one_server_gives(servers):
    a, b = servers
    one = load_sampler(f"openai:{a.base}#tiny", extra_body=PURE_NUCLEUS, concurrency=1)
    two = load_sampler(f"openai:{a.base},{b.base}#tiny", extra_body=PURE_NUCLEUS, concurrency=1)
    assert two.spec == f"openai:{a.base},{b.base}#tiny"
    reference = one.sample(PROMPTS, PARAMS)
    served_before = b.completions_served()
    spread = two.sample(PROMPTS, PARAMS)
    assert texts(spread) == texts(reference)
    assert [[c.n_tokens for c in row] for row in spread] == [[c.n_tokens for c in row] for row in reference]
    assert any(c.n_tokens > 0 for row in spread for c in row)
    assert b.completions_served() > served_before  # the second server did part of the work
    # concurrent requests, all servers together: the same samples again
    again = load_sampler(f"openai:{a.base},{b.base}#tiny", extra_body=PURE_NUCLEUS, concurrency=4).sample(PROMPTS, PARAMS)
    assert texts(again) == texts(reference)


class KillsAServer(OpenAICompletionsSampler):
    """The real sampler; once the `victim` server has answered a request, its process is killed (SIGKILL)
    while the other requests of the run are still to come or in flight."""

    def __init__(self, *a, victim: Server, **kw):
        super().__init__(*a, **kw)
        self.victim = victim

    def _post(self, body, key=0):
        answer = super()._post(body, key)
        if self.victim.proc.poll() is None and self.victim.completions_served() >= 1:
            self.victim.proc.kill()
            self.victim.proc.wait()
        return answer


def test_a_server_killed_mid_run_leaves_the_run_finishing_with_the_same_samples(servers, tiny_gguf, tmp_path):
    a, _ = servers
    victim = Server(tiny_gguf, tmp_path / "victim.log").wait_ready()
    try:
        reference = load_sampler(f"openai:{a.base}#tiny", extra_body=PURE_NUCLEUS, concurrency=1).sample(PROMPTS, PARAMS)
        sampler = KillsAServer([victim.base, a.base], "tiny", extra_body=PURE_NUCLEUS, concurrency=2, victim=victim)
        result = sampler.sample(PROMPTS, PARAMS)
        assert victim.proc.poll() is not None and victim.completions_served() >= 1  # it served, then died
        assert [len(row) for row in result] == [PARAMS.n] * len(PROMPTS)
        assert texts(result) == texts(reference)
    finally:
        victim.stop()


def test_no_server_answering_is_one_line_naming_them(monkeypatch):
    import codexsd.models.openai_compat as oc

    monkeypatch.setattr(oc, "CONNECT_RETRIES", 1)
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    sampler = load_sampler(f"openai:{','.join(urls)}#m", timeout=2)
    with pytest.raises(ServerError) as caught:
        sampler.sample(["x"], SamplingParams(max_new_tokens=2))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("cannot reach any of the 2 servers")
    assert all(u + "/completions" in message for u in urls)
    with pytest.raises(ValueError, match="needs base URLs"):
        load_sampler("openai:http://127.0.0.1:1/v1,ftp://x#m")


def test_the_filter_command_reports_no_server_on_one_line(monkeypatch, tmp_path, capsys):
    import codexsd.models.openai_compat as oc
    from codexsd.cli import main
    from codexsd.core.record import Problem
    from codexsd.core.stage import run_stage

    monkeypatch.setattr(oc, "CONNECT_RETRIES", 1)
    problem = Problem(task_id="t/0", prompt="def f():\n", canonical_solution="    return 1\n",
                      test="def check(c):\n    assert c() == 1\n", entry_point="f")
    run_stage("clean", tmp_path / "in", [[problem]], lambda items: iter(items), progress=False)
    urls = ",".join(f"http://127.0.0.1:{free_port()}/v1" for _ in range(2))
    code = main(["filter", "solvability", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model",
                 f"openai:{urls}#m", "-n", "1", "--sandbox", "local", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("codexsd filter: error: cannot reach any of the 2 servers")
