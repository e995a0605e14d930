"""The README's main job, `codexsd build` on its embedded defaults (a stdlib trace and MBPP's bundled train split).

Slow (minutes): it runs the real thing end to end, as a user on a fresh machine would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # minutes on a laptop; far longer on a busy 2-core CI box
def test_default_build_writes_both_variants_and_their_cards(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "codexsd.cli", "build", "--no-progress"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / "out"  # the default output folder, relative to where the command runs
    assert "To scale up" in proc.stderr and "solvability.n_samples" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    for row in summary["stages"]:
        assert row["in"] == row["kept"] + row["rejected"], row
    assert [r["stage"] for r in summary["stages"][:4]] == ["collect", "validate", "adequacy", "dedup"]
    assert "solvability: not run" in proc.stderr  # off without a model, and the build says so
    adequate = {p["task_id"]: p for p in map(json.loads, _lines(out / "adequate"))}
    for variant in ("standard", "docstring_last"):
        folder = out / variant
        rows = [json.loads(line) for split in ("train", "validation") for line in open(folder / f"{split}.jsonl")]
        assert len(rows) == summary["variants"][variant]["kept"] >= 20
        assert {r["source"] for r in rows} == {"ci", "competitive"}  # more than one source
        for row in rows:  # every row went through the adequacy stage and no stand-in passed its tests
            meta = adequate[row["task_id"]]["metadata"]["adequacy"]
            assert not any(meta["standins_after"].values()), (row["task_id"], meta)
        card = (folder / "README.md").read_text()
        assert "PSF-2.0" in card and "cc-by-4.0" in card.lower() and "## Pipeline" in card
        assert (folder / "plots" / "lengths.png").exists() and (folder / "dataset" / "dataset_dict.json").exists()
    assert (out / "standard" / "humaneval-train.jsonl").exists()


def _lines(folder: Path):
    for path in sorted(folder.glob("data-*.jsonl")):
        yield from (line for line in path.read_text().splitlines() if line.strip())
