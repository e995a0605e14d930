"""Pick one of n samples per task without running its tests, and see how often the pick passes.

Heuristics (Codex paper §3.3 and §5): the sample with the highest mean token log-prob, the
highest sum log-prob, a random one (its expected pass rate is c/n, so no draw is made),
the oracle (passes if any sample passes: the ceiling) and back-translation (the sample
under which Codex-D gives the ground-truth docstring the highest probability).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

HEURISTICS = ("mean_logprob", "sum_logprob", "random", "oracle", "backtranslation")

# heuristic -> the field of a result row it maximises
_KEYS = {"mean_logprob": "logprob_mean", "sum_logprob": "logprob_sum", "backtranslation": "backtranslation_logprob"}


def group_by_task(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        tasks[row["task_id"]].append(row)
    return dict(tasks)


def _pick_pass(samples: list[dict[str, Any]], key: str) -> float | None:
    scored = [s for s in samples if s.get(key) is not None]
    if not scored:
        return None
    # ties go to the earliest sample, so the choice is deterministic
    best = max(range(len(scored)), key=lambda i: (scored[i][key], -i))
    return 1.0 if scored[best]["passed"] else 0.0


def rank(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """{heuristic: {"pass_rate": ..., "tasks": ...}} over result rows with `passed` and score fields.

    A heuristic whose score is missing from every sample of a task skips that task; `tasks`
    says how many it covered (back-translation is absent without a D model).
    """
    totals: dict[str, list[float]] = {h: [] for h in HEURISTICS}
    for samples in group_by_task(rows).values():
        passes = [bool(s["passed"]) for s in samples]
        totals["random"].append(sum(passes) / len(passes))
        totals["oracle"].append(1.0 if any(passes) else 0.0)
        for heuristic, key in _KEYS.items():
            picked = _pick_pass(samples, key)
            if picked is not None:
                totals[heuristic].append(picked)
    return {
        h: {"pass_rate": sum(v) / len(v), "tasks": float(len(v))} for h, v in totals.items() if v
    }
