"""Training throughput: left padding (the paper's) against packing, on the same data, in one run.

Both modes train the same model from the same initial weights on the same examples for the
same number of optimiser steps' worth of examples, and report target tokens per second,
all tokens per second and the share of collated tokens that were padding.

    python benchmarks/train_throughput.py                      # a tiny random Llama, HumanEval rows
    python benchmarks/train_throughput.py --model default      # the bundled SmolLM2 (dequantised)
    python benchmarks/train_throughput.py --data OUT/standard --examples 256 --batch-size 8

Baseline: left_pad. The ratio line prints packing's tokens/s over left padding's.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def load_pairs(data: str | None, limit: int) -> list[tuple[str, str]]:
    if data:
        from codexsd.training.data import load_split, render

        rows = load_split(data, "train") or []
        return render(rows[:limit], "{prompt}", "{target}")
    from codexsd.evaluation.functional import humaneval_problem_file
    from codexsd.record import read_problems

    problems = read_problems(humaneval_problem_file())
    return [(p.prompt, p.canonical_solution) for p in problems[:limit]]


def load_model(spec: str):
    if spec == "tiny":
        from tiny_models import build_tiny_causal_lm
        import transformers

        folder = build_tiny_causal_lm(Path(tempfile.mkdtemp()) / "tiny")
        return transformers.AutoModelForCausalLM.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    from codexsd.training.base_model import load_for_training

    return load_for_training(spec)


def run_mode(mode: str, model0, tokenizer, examples, batch_size: int, pack_length: int, device: str, seed: int):
    import torch

    from codexsd.training.engine import LeftPadCollator, PackedCollator, pack_examples

    torch.manual_seed(seed)
    model = copy.deepcopy(model0).to(device).train()
    if mode == "pack":
        rows = pack_examples(examples, pack_length)
        collator = PackedCollator(tokenizer.pad_token_id)
        # the same examples per step on average: a packed row holds several
        per_step = max(1, round(batch_size * len(rows) / len(examples)))
    else:
        rows = [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]
        collator = LeftPadCollator(tokenizer.pad_token_id)
        per_step = batch_size
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    target_tokens = sum(sum(1 for x in e.labels if x != -100) for e in examples)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    steps = 0
    for i in range(0, len(order), per_step):
        batch = collator([rows[j] for j in order[i:i + per_step]])
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        steps += 1
    sync()
    seconds = time.perf_counter() - start
    return {
        "mode": mode, "steps": steps, "rows": len(rows), "seconds": round(seconds, 3),
        "target_tokens_per_s": round(target_tokens / seconds, 1),
        "tokens_per_s": round((collator.tokens - collator.padding_tokens) / seconds, 1),
        "padding_waste": round(collator.padding_tokens / collator.tokens, 4),
        "collated_tokens": collator.tokens,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="'tiny' (random, built here), 'default', or a model spec")
    parser.add_argument("--data", help="training data (default: HumanEval prompt/solution pairs)")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--pack-length", type=int, default=0, help="tokens per packed row (default: max-length)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    import torch

    from codexsd.training.engine import tokenize_pairs

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    model, tokenizer = load_model(args.model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    examples, stats = tokenize_pairs(tokenizer, load_pairs(args.data, args.examples), args.max_length)
    print(f"model={args.model} device={device} examples={len(examples)} (dropped {stats.dropped_too_long} too long) "
          f"batch_size={args.batch_size} pack_length={args.pack_length or args.max_length}", file=sys.stderr)
    # warm-up pass so one-time costs (allocator, kernels) do not land on the first mode
    run_mode("left_pad", model, tokenizer, examples[: args.batch_size], args.batch_size, args.pack_length or args.max_length,
             device, args.seed)
    results = [run_mode(mode, model, tokenizer, examples, args.batch_size, args.pack_length or args.max_length,
                        device, args.seed) for mode in ("left_pad", "pack")]
    print(f"{'mode':<9} {'steps':>5} {'seconds':>8} {'target tok/s':>12} {'tok/s':>9} {'padding waste':>13}")
    for r in results:
        print(f"{r['mode']:<9} {r['steps']:>5} {r['seconds']:>8.2f} {r['target_tokens_per_s']:>12.1f} "
              f"{r['tokens_per_s']:>9.1f} {100 * r['padding_waste']:>12.1f}%")
    base, packed = results
    print(f"packing / left_pad: {packed['target_tokens_per_s'] / base['target_tokens_per_s']:.2f}x target tokens/s")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "device": device, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
