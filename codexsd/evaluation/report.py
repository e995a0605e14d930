"""PNG plots and a Markdown report from `codexsd eval` and `codexsd score-docstrings` outputs.

- pass@k against k, one line per temperature (per model);
- the ranking heuristics' pass rates (per model, at each temperature);
- BLEU of D's docstrings against whether S's code from them passed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

from codexsd.core.imports import require

log = logging.getLogger(__name__)


def _load_summary(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run codexsd eval / score-docstrings first")
    return json.loads(path.read_text())


def _plt():
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


ALL_ZERO_NOTE = "every value is 0%: no sample passed"


def _percent_axis(ax, label: str) -> None:
    """A 0-100% y axis with plain tick labels, whatever the data."""
    ax.set_ylim(0, 100)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel(label)


def _note_if_all_zero(ax, values: Sequence[float]) -> None:
    if not any(values):
        ax.text(0.5, 0.5, ALL_ZERO_NOTE, transform=ax.transAxes, ha="center", va="center", fontsize=10, color="#555555")


def _label(summary: dict[str, Any]) -> str:
    return summary.get("name") or _short(summary["model"])


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    _plt().close(fig)


def plot_pass_at_k(evals: Sequence[dict[str, Any]], path: Path) -> None:
    _save(pass_at_k_figure(evals), path)


def plot_ranking(evals: Sequence[dict[str, Any]], path: Path) -> None:
    _save(ranking_figure(evals), path)


def pass_at_k_figure(evals: Sequence[dict[str, Any]]):
    """pass@k at the requested k only, one line per (model, temperature); k on an even, plainly labelled axis."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ks = sorted({int(k) for s in evals for k in s["settings"]["ks"]})
    positions = {k: i for i, k in enumerate(ks)}
    values: list[float] = []
    for summary in evals:
        for temp, curve in summary["pass_at_k"].items():
            points = sorted((int(k), 100 * v) for k, v in curve.items() if int(k) in positions)
            values += [v for _, v in points]
            ax.plot([positions[k] for k, _ in points], [v for _, v in points], marker="o",
                    label=f"{_label(summary)} T={temp}")
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set_xlim(-0.5, len(ks) - 0.5)
    ax.set_xlabel("k")
    _percent_axis(ax, "pass@k (%)")
    _note_if_all_zero(ax, values)
    ax.set_title("pass@k against k")
    if values:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def ranking_figure(evals: Sequence[dict[str, Any]]):
    plt = _plt()
    bars = [(f"{_label(s)} T={t}", r) for s in evals for t, r in s["ranking"].items()]
    heuristics = [h for h in ("random", "mean_logprob", "sum_logprob", "backtranslation", "oracle")
                  if any(h in r for _, r in bars)]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(1, len(bars))
    values: list[float] = []
    for i, (label, ranking) in enumerate(bars):
        xs = [j + i * width for j in range(len(heuristics))]
        ys = [100 * ranking.get(h, {}).get("pass_rate", 0.0) for h in heuristics]
        values += ys
        ax.bar(xs, ys, width, label=label)
    ax.set_xticks([j + width * (len(bars) - 1) / 2 for j in range(len(heuristics))], heuristics)
    _percent_axis(ax, "pass rate of the chosen sample (%)")
    _note_if_all_zero(ax, values)
    ax.set_title("choosing one of n samples")
    if bars:
        ax.legend(fontsize=7)
    return fig


def plot_bleu(doc_rows: Sequence[dict[str, Any]], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    passed = [r["bleu"] for r in doc_rows if r["pass_rate"] > 0]
    failed = [r["bleu"] for r in doc_rows if r["pass_rate"] == 0]
    bins = list(range(0, 105, 5))
    ax.hist([failed, passed], bins=bins, stacked=True, label=["code from it failed", "code from it passed"])
    ax.set_xlabel("smoothed BLEU-4 of D's docstring against the ground truth")
    ax.set_ylabel("docstrings")
    ax.set_title("BLEU against back-translation correctness")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _short(spec: str) -> str:
    from codexsd.evaluation.precision import model_name

    return model_name(spec)[:40]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _eval_section(s: dict[str, Any]) -> list[str]:
    st = s["settings"]
    precision = s.get("precision") or "not recorded (summary written before codexsd recorded it)"
    lines = [f"### {_label(s)}", "",
             f"{s['tasks']} tasks from {Path(s['problems']).name}; "
             f"n={st['n']} samples per task, top_p={st['top_p']}, max_new_tokens={st['max_new_tokens']}, "
             f"seed={st['seed']}. Sampled as: {precision}.", ""]
    ks = [str(k) for k in st["ks"]]
    lines += ["| T | " + " | ".join(f"pass@{k}" for k in ks) + " |", "|---|" + "---|" * len(ks)]
    for t, values in s["pass_at_k"].items():
        lines.append(f"| {t} | " + " | ".join(_pct(values.get(k)) for k in ks) + " |")
    lines += ["", "| T | " + " | ".join(("random", "mean logp", "sum logp", "back-transl.", "oracle")) + " |", "|---|" + "---|" * 5]
    for t, r in s["ranking"].items():
        cells = [_pct(r[h]["pass_rate"]) if h in r else "–"
                 for h in ("random", "mean_logprob", "sum_logprob", "backtranslation", "oracle")]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return lines + [""]


def write_report(eval_dirs: Sequence[str | Path], docstring_dir: str | Path | None, out_dir: str | Path) -> Path:
    """Plots and report.md under out_dir; returns the report's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    evals = [_load_summary(d) for d in eval_dirs]
    lines = ["# codexsd evaluation report", ""]
    if evals:
        plot_pass_at_k(evals, out / "pass_at_k.png")
        plot_ranking(evals, out / "ranking.png")
        lines += ["## pass@k", "", "![pass@k](pass_at_k.png)", "", "![ranking](ranking.png)", ""]
        precisions = {s.get("precision") or "" for s in evals}
        if len(evals) > 1:
            lines += [("All models were sampled at one precision: " + precisions.pop() + "." if len(precisions) == 1 and "" not in precisions
                       else "The models were sampled at different precisions (below): differences mix training with "
                            "quantisation; `codexsd eval --quantize q8_0` puts every model through the same export."), ""]
        for s in evals:
            lines += _eval_section(s)
    if docstring_dir:
        d = _load_summary(docstring_dir)
        from codexsd.core.record import iter_jsonl

        rows = list(iter_jsonl(Path(docstring_dir) / "docstrings.jsonl"))
        plot_bleu(rows, out / "bleu_vs_correctness.png")
        st = d["settings"]
        lines += [
            "## Docstrings by back-translation", "",
            f"D = {_short(d['d_model'])}, S = {_short(d['s_model'])}; {d['tasks']} tasks ({len(d['skipped'])} skipped), "
            f"m={st['m']} docstrings per task at T={st['d_temperature']}, {st['code_samples']} program(s) per "
            f"prompt at T={st['s_temperature']}, top_p={st['top_p']}.", "",
            "| S codes from | pass rate |", "|---|---|",
            f"| ground-truth docstrings | {_pct(d['ground_truth_pass_rate'])} |",
            f"| D's docstrings | {_pct(d['backtranslation_pass_rate'])} |", "",
            f"Smoothed BLEU-4 of D's docstrings against the ground truth: {d['bleu_mean']:.1f} "
            f"(docstrings whose code passed: {d['bleu_passing'] if d['bleu_passing'] is None else round(d['bleu_passing'], 1)}, "
            f"failed: {d['bleu_failing'] if d['bleu_failing'] is None else round(d['bleu_failing'], 1)}).", "",
            "![BLEU against correctness](bleu_vs_correctness.png)", "",
        ]
    if not evals and not docstring_dir:
        raise ValueError("nothing to report: give eval folders and/or a score-docstrings folder")
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
