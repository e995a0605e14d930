"""Per-source summary of an adequacy stage's output (kept and rejected tasks alike), and its plot."""

from __future__ import annotations

import os
import statistics
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from codexsd.core.record import Problem, iter_jsonl

BINS = [i / 10 for i in range(11)]  # [0, .1), ..., [.9, 1.0), and 1.0 alone


def histogram(scores: list[float]) -> list[int]:
    """Counts in [0,.1), [.1,.2) ... [.9,1) and exactly 1.0 (11 bins)."""
    counts = [0] * 11
    for s in scores:
        counts[10 if s >= 1.0 else int(s * 10)] += 1
    return counts


def _dist(scores: list[float]) -> dict[str, Any]:
    if not scores:
        return {"n": 0}
    q = statistics.quantiles(scores, n=4, method="inclusive") if len(scores) > 1 else [scores[0]] * 3
    return {"n": len(scores), "mean": round(statistics.fmean(scores), 4), "q1": round(q[0], 4),
            "median": round(q[1], 4), "q3": round(q[2], 4), "perfect": sum(s >= 1.0 for s in scores),
            "histogram": histogram(scores)}


def items(out_dir: str | os.PathLike) -> Iterable[tuple[str, dict[str, Any] | None]]:
    """(outcome, metrics) per task: outcome is "kept" or the reject reason."""
    from filters.adequacy.stage import METRICS_SEP
    import json

    out = Path(out_dir)
    for path in sorted(out.glob("data-*.jsonl")):
        for row in iter_jsonl(path):
            yield "kept", Problem.from_dict(row).metadata.get("adequacy")
    for path in sorted(out.glob("rejects-*.jsonl")):
        for row in iter_jsonl(path):
            detail = row.get("detail", "")
            metrics = None
            if METRICS_SEP in detail:
                try:
                    metrics = json.loads(detail.split(METRICS_SEP, 1)[1])
                except ValueError:
                    metrics = None
            yield row["reason"], metrics


def summarise(out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Per source: outcomes, stand-in pass rates, mutation scores before/after, inputs, programs."""
    groups: dict[str, list[tuple[str, dict | None]]] = {}
    for outcome, m in items(out_dir):
        source = (m or {}).get("source", "unmeasured")
        groups.setdefault(source, []).append((outcome, m))
    summary = {}
    for source, rows in sorted(groups.items()):
        measured = [m for _, m in rows if m]
        n = len(measured)
        standin_pass: Counter = Counter()
        standin_after: Counter = Counter()
        inputs: Counter = Counter()
        dropped: Counter = Counter()
        survivors: Counter = Counter()
        for m in measured:
            standin_pass.update(k for k, v in m["standins"].items() if v)
            standin_after.update(k for k, v in m["standins_after"].items() if v)
            for key in ("generated", "kept", "added"):
                inputs[key] += m["inputs"].get(key, 0)
            dropped.update(m["inputs"].get("dropped", {}))
            survivors.update(m.get("survivors", []))
        before = [m["score_before"] for m in measured if m["score_before"] is not None]
        after = [m["score_after"] for m in measured if m["score_after"] is not None]
        strengthened = [m for m in measured if m["asserts"]["added"]]
        summary[source] = {
            "tasks": len(rows),
            "outcomes": dict(sorted(Counter(o for o, _ in rows).items())),
            "standin_pass_rate": {k: round(v / n, 4) for k, v in sorted(standin_pass.items())} if n else {},
            "any_standin_passes": sum(any(m["standins"].values()) for m in measured),
            "any_standin_passes_after": sum(any(m["standins_after"].values()) for m in measured),
            "single_distinct_value": sum(m["distinct_values"] < 2 for m in measured),
            "mutation_score_before": _dist(before),
            "mutation_score_after": _dist(after),
            "tasks_strengthened": len(strengthened),
            "inputs": {**dict(inputs), "dropped": dict(sorted(dropped.items()))},
            "surviving_mutants_by_kind": dict(survivors.most_common()),
            "programs_per_task": round(sum(m["programs"] for m in measured) / n, 2) if n else None,
        }
    return summary


def plot_scores(summary: dict[str, dict[str, Any]], path: str | os.PathLike) -> Path | None:
    """One PNG: mutation-score histograms before/after strengthening, one panel per source."""
    from codexsd.core.imports import require

    sources = [s for s in summary if summary[s]["mutation_score_before"].get("n")]
    if not sources:
        return None
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sources), figsize=(4.5 * len(sources), 3.2), squeeze=False)
    labels = [f"{b:.1f}" for b in BINS[:10]] + ["1.0"]
    xs = range(11)
    for ax, source in zip(axes[0], sources):
        before = summary[source]["mutation_score_before"]["histogram"]
        after = summary[source]["mutation_score_after"]["histogram"]
        ax.bar([x - 0.2 for x in xs], before, width=0.4, label="original tests")
        ax.bar([x + 0.2 for x in xs], after, width=0.4, label="strengthened")
        ax.set_xticks(list(xs), labels, fontsize=7)
        ax.set_title(f"{source}: mutation score", fontsize=9)
        ax.set_xlabel("killed / mutants (bin start)", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)
    return path
