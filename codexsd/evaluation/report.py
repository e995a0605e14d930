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

from codexsd.imports import require

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


def plot_pass_at_k(evals: Sequence[dict[str, Any]], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for summary in evals:
        for temp, curve in summary["curve"].items():
            ks = sorted(int(k) for k in curve)
            ax.plot(ks, [100 * curve[str(k)] for k in ks], marker="o", label=f"{_short(summary['model'])} T={temp}")
    ax.set_xscale("log")
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k (%)")
    ax.set_title("pass@k against k")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_ranking(evals: Sequence[dict[str, Any]], path: Path) -> None:
    plt = _plt()
    bars = [(f"{_short(s['model'])} T={t}", r) for s in evals for t, r in s["ranking"].items()]
    heuristics = [h for h in ("random", "mean_logprob", "sum_logprob", "backtranslation", "oracle")
                  if any(h in r for _, r in bars)]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(1, len(bars))
    for i, (label, ranking) in enumerate(bars):
        xs = [j + i * width for j in range(len(heuristics))]
        ax.bar(xs, [100 * ranking.get(h, {}).get("pass_rate", 0.0) for h in heuristics], width, label=label)
    ax.set_xticks([j + width * (len(bars) - 1) / 2 for j in range(len(heuristics))], heuristics)
    ax.set_ylabel("pass rate of the chosen sample (%)")
    ax.set_title("choosing one of n samples")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    return spec.rstrip("/").split("/")[-1][:40] or spec


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _eval_section(s: dict[str, Any]) -> list[str]:
    st = s["settings"]
    lines = [f"### {s['model']}", "",
             f"{s['tasks']} tasks from {s['problems']}; n={st['n']} samples per task, top_p={st['top_p']}, "
             f"max_new_tokens={st['max_new_tokens']}, seed={st['seed']}.", ""]
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
        for s in evals:
            lines += _eval_section(s)
    if docstring_dir:
        d = _load_summary(docstring_dir)
        from codexsd.record import iter_jsonl

        rows = list(iter_jsonl(Path(docstring_dir) / "docstrings.jsonl"))
        plot_bleu(rows, out / "bleu_vs_correctness.png")
        st = d["settings"]
        lines += [
            "## Docstrings by back-translation", "",
            f"D = `{d['d_model']}`, S = `{d['s_model']}`; {d['tasks']} tasks ({len(d['skipped'])} skipped), "
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
