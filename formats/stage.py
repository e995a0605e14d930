"""The format stage: a finished artifact (e.g. solvable/) in, one folder per variant out.

Every input problem leaves each variant as a row or a Reject (`rejects.jsonl`,
`stats.json`, items in = kept + rejected). The train/validation split is computed once
over the input, so a task sits in the same split in every variant. A variant folder is
written under a temporary name and renamed when complete, with a `.done.json` marker
holding the fingerprint of its inputs: a rerun with the same inputs skips it, a run
killed halfway leaves no half-written variant behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from codexsd.core.record import Problem, Reject, write_jsonl
from codexsd.core.stage import AccountingError, StageStats, fingerprint, read_artifact, write_stats
from formats.base import get_format
from formats.split import SPLITS, assign_splits
from formats.writer import write_variant

log = logging.getLogger(__name__)

MARKER = ".done.json"


@dataclass
class FormatConfig:
    variants: list[str] = field(default_factory=lambda: ["standard", "docstring_last"])
    validation_fraction: float = 0.1
    card: bool = True  # write README.md (dataset card) and plots/ beside the data


def format_problems(
    problems: Sequence[Problem],
    out_root: str | os.PathLike,
    cfg: FormatConfig | None = None,
    pipeline_stats: Sequence[dict[str, Any]] = (),
    progress: bool = True,
) -> dict[str, StageStats]:
    """Write each variant of `problems` to `out_root/<variant>/`; returns stats per variant."""
    cfg = cfg or FormatConfig()
    formats = [get_format(name) for name in cfg.variants]  # unknown names fail before any writing
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    splits = assign_splits(((p.task_id, _source(p)) for p in problems), cfg.validation_fraction)
    results = {}
    for fmt in formats:
        fp = fingerprint("format", fmt.name, cfg, [p.to_dict() for p in problems], list(pipeline_stats))
        final = out_root / fmt.name
        if _marker_fingerprint(final) == fp:
            results[fmt.name] = _stats_from_file(final)
            log.info("format %s: already done, skipped", fmt.name)
            continue
        results[fmt.name] = _write_one(fmt, problems, splits, final, fp, cfg, pipeline_stats, progress)
    return results


def format_stage(
    in_dir: str | os.PathLike,
    out_root: str | os.PathLike,
    cfg: FormatConfig | None = None,
    pipeline_stats: Sequence[dict[str, Any]] = (),
    progress: bool = True,
) -> dict[str, StageStats]:
    """`format_problems` over the kept problems of the finished stage in `in_dir`."""
    return format_problems(list(read_artifact(in_dir)), out_root, cfg, pipeline_stats, progress)


def _source(p: Problem) -> str:
    return p.source or p.task_id.split("/", 1)[0]


def _write_one(fmt, problems, splits, final: Path, fp: str, cfg: FormatConfig, pipeline_stats, progress) -> StageStats:
    from tqdm.auto import tqdm

    stage = f"format.{fmt.name}"
    stats = StageStats(stage=stage, shards=1)
    rows_by_split: dict[str, list[dict[str, str]]] = {s: [] for s in SPLITS}
    kept_by_split: dict[str, list[Problem]] = {s: [] for s in SPLITS}
    rejects: list[Reject] = []
    for p in tqdm(problems, desc=stage, unit="item", disable=not progress or not problems, leave=False):
        stats.items_in += 1
        result = fmt(p)
        if isinstance(result, Reject):
            rejects.append(result)
            stats.rejected += 1
            stats.reasons[result.reason] = stats.reasons.get(result.reason, 0) + 1
            continue
        split = splits[p.task_id]
        rows_by_split[split].append(result)
        kept_by_split[split].append(p)
        stats.kept += 1
    if stats.kept + stats.rejected != stats.items_in:
        raise AccountingError(f"{stage}: {stats.items_in} in but {stats.kept} kept + {stats.rejected} rejected")

    tmp = final.with_name(f".{final.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_variant(tmp, rows_by_split, kept_by_split if fmt.name == "standard" else None)
    write_jsonl(tmp / "rejects.jsonl", (r.to_dict() for r in rejects))
    summary = {**stats.to_dict(), "splits": {s: len(rows_by_split[s]) for s in SPLITS}}
    write_stats(tmp, summary)
    if cfg.card:
        from codexsd.card import write_card

        write_card(tmp, fmt, rows_by_split, summary, pipeline_stats)
    (tmp / MARKER).write_text(json.dumps({"fingerprint": fp}) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return stats


def _marker_fingerprint(variant_dir: Path) -> str | None:
    try:
        return json.loads((variant_dir / MARKER).read_text()).get("fingerprint")
    except (OSError, ValueError):
        return None


def _stats_from_file(variant_dir: Path) -> StageStats:
    d = json.loads((variant_dir / "stats.json").read_text())
    return StageStats(
        stage=d["stage"], items_in=d["items_in"], kept=d["kept"], rejected=d["rejected"],
        shards=d.get("shards", 1), shards_skipped=1, reasons=dict(d.get("reasons", {})),
    )
