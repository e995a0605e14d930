"""Back-translation with Codex-D (Chen et al. 2021, §5).

- Ranking: a code sample's score is log P(ground-truth docstring | signature + sample) under D.
- Docstring quality: D writes m docstrings from signature + reference body; S writes code
  from signature + each docstring; the unit tests decide. The pass rate is set beside the
  same S's from the ground-truth docstrings, with smoothed BLEU-4 against the ground truth.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from codexsd.evaluation.prompts import PromptParts, docstring_last_pair, prompt_with_docstring, split_prompt
from codexsd.models.base import DEFAULT_TOP_P, PAPER_STOP, Sampler, SamplingParams
from codexsd.core.record import Problem, Reject, write_jsonl

log = logging.getLogger(__name__)

DOC_SEP = "::docstring"  # task id of S's program from a generated docstring: <task_id>::docstring<j>


def add_backtranslation_scores(d_sampler: Sampler, problems: Sequence[Problem], rows: list[dict[str, Any]]) -> None:
    """Set rows' `backtranslation_logprob` (None for a sample D cannot read, e.g. an empty body)."""
    parts = {}
    for p in problems:
        try:
            parts[p.task_id] = split_prompt(p)
        except ValueError as exc:
            log.warning("no back-translation score for %s: %s", p.task_id, exc)
    pairs, where = [], []
    for i, row in enumerate(rows):
        pair = docstring_last_pair(parts[row["task_id"]], row["completion"]) if row["task_id"] in parts else None
        row["backtranslation_logprob"] = None
        if pair is not None:
            pairs.append(pair)
            where.append(i)
    scores = d_sampler.score([p for p, _ in pairs], [t for _, t in pairs]) if pairs else []
    for i, s in zip(where, scores):
        rows[i]["backtranslation_logprob"] = float(s)


@dataclass
class DocstringSettings:
    m: int = 4  # docstrings D writes per task
    d_temperature: float = 0.8
    d_max_new_tokens: int = 160
    code_samples: int = 1  # programs S writes per prompt (ground truth and each docstring alike)
    s_temperature: float = 0.2
    s_max_new_tokens: int = 300
    top_p: float = DEFAULT_TOP_P
    seed: int = 0
    timeout_s: float = 3.0


@dataclass
class DocstringSummary:
    d_model: str
    s_model: str
    tasks: int
    skipped: list[dict[str, str]]
    settings: dict[str, Any]
    ground_truth_pass_rate: float  # S from the ground-truth docstrings
    backtranslation_pass_rate: float  # S from D's docstrings
    bleu_mean: float  # smoothed BLEU-4 of D's docstrings against the ground truth
    bleu_passing: float | None = None  # mean BLEU of docstrings whose code passed
    bleu_failing: float | None = None
    per_task: list[dict[str, Any]] = field(default_factory=list)


def _pass_rate(rows: list[dict[str, Any]]) -> float:
    return sum(bool(r["passed"]) for r in rows) / len(rows) if rows else 0.0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def score_docstrings(
    d_sampler: Sampler,
    s_sampler: Sampler,
    problems: Sequence[Problem],
    settings: DocstringSettings,
    out_dir: str | Path,
    sandbox,
    progress: bool = True,
) -> DocstringSummary:
    """Run the docstring back-translation test; files under out_dir, sampling resumable."""
    from codexsd.evaluation.bleu import sentence_bleu
    from codexsd.evaluation.humaneval import run_tests
    from codexsd.models.resumable import sample_to_file
    from formats.docstring_last import extract_docstring

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    usable: list[tuple[Problem, PromptParts, str]] = []
    skipped: list[Reject] = []
    for p in problems:
        try:
            parts = split_prompt(p)
        except ValueError as exc:
            skipped.append(Reject(p.task_id, "score-docstrings", "no_docstring", str(exc)))
            continue
        pair = docstring_last_pair(parts, p.canonical_solution)
        if pair is None:
            skipped.append(Reject(p.task_id, "score-docstrings", "no_body", "empty canonical solution"))
            continue
        usable.append((p, parts, pair[0]))
    if not usable:
        raise ValueError("no problem has both a docstring and a reference body")

    d_params = SamplingParams(n=settings.m, temperature=settings.d_temperature, top_p=settings.top_p,
                              max_new_tokens=settings.d_max_new_tokens, stop=('"""',), seed=settings.seed)
    written = sample_to_file(d_sampler, [(p.task_id, d_prompt) for p, _, d_prompt in usable], d_params,
                             out / "docstrings_samples.jsonl", progress=progress)

    s_params = SamplingParams(n=settings.code_samples, temperature=settings.s_temperature, top_p=settings.top_p,
                              max_new_tokens=settings.s_max_new_tokens, stop=PAPER_STOP, seed=settings.seed)
    gt_problems = [p for p, _, _ in usable]
    bt_problems, doc_rows = [], []
    for p, parts, _ in usable:
        for j, completion in enumerate(written[p.task_id]):
            text = extract_docstring(completion.text)
            task_id = f"{p.task_id}{DOC_SEP}{j}"
            bt_problems.append(Problem(task_id=task_id, prompt=prompt_with_docstring(parts, text),
                                       canonical_solution=p.canonical_solution, test=p.test, entry_point=p.entry_point))
            doc_rows.append({"task_id": p.task_id, "docstring_index": j, "docstring": text,
                             "ground_truth": parts.docstring, "bleu": sentence_bleu(text, parts.docstring)})

    code = {}
    for name, probs in (("ground_truth", gt_problems), ("backtranslated", bt_problems)):
        drawn = sample_to_file(s_sampler, [(p.task_id, p.prompt) for p in probs], s_params,
                               out / f"code_{name}_samples.jsonl", progress=progress)
        samples = [{"task_id": t, "completion": c.text, "sample": j} for t, cs in drawn.items() for j, c in enumerate(cs)]
        code[name] = run_tests(probs, samples, sandbox, settings.timeout_s)
        write_jsonl(out / f"code_{name}_results.jsonl", code[name])

    by_doc: dict[str, list[bool]] = {}
    for row in code["backtranslated"]:
        by_doc.setdefault(row["task_id"], []).append(bool(row["passed"]))
    for row in doc_rows:
        outcomes = by_doc.get(f"{row['task_id']}{DOC_SEP}{row['docstring_index']}", [])
        row["pass_rate"] = sum(outcomes) / len(outcomes) if outcomes else 0.0
    write_jsonl(out / "docstrings.jsonl", doc_rows)
    write_jsonl(out / "rejects.jsonl", (r.to_dict() for r in skipped))

    gt_by_task: dict[str, list[bool]] = {}
    for row in code["ground_truth"]:
        gt_by_task.setdefault(row["task_id"], []).append(bool(row["passed"]))
    per_task = []
    for p, parts, _ in usable:
        docs = [r for r in doc_rows if r["task_id"] == p.task_id]
        per_task.append({
            "task_id": p.task_id,
            "ground_truth_pass_rate": _mean([float(x) for x in gt_by_task.get(p.task_id, [])]) or 0.0,
            "backtranslation_pass_rate": _mean([r["pass_rate"] for r in docs]) or 0.0,
            "bleu": _mean([r["bleu"] for r in docs]) or 0.0,
        })
    summary = DocstringSummary(
        d_model=d_sampler.spec, s_model=s_sampler.spec, tasks=len(usable),
        skipped=[r.to_dict() for r in skipped], settings=asdict(settings),
        ground_truth_pass_rate=_pass_rate(code["ground_truth"]),
        backtranslation_pass_rate=_pass_rate(code["backtranslated"]),
        bleu_mean=_mean([r["bleu"] for r in doc_rows]) or 0.0,
        bleu_passing=_mean([r["bleu"] for r in doc_rows if r["pass_rate"] > 0]),
        bleu_failing=_mean([r["bleu"] for r in doc_rows if r["pass_rate"] == 0]),
        per_task=per_task,
    )
    (out / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary
