"""The README's main job, `codexsd build` on its embedded defaults (the stdlib trace, the bundled model).

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
    assert [r["stage"] for r in summary["stages"][:5]] == ["collect", "validate", "adequacy", "dedup", "solvability"]
    for variant in ("standard", "docstring_last"):
        folder = out / variant
        rows = sum(1 for split in ("train", "validation") for _ in open(folder / f"{split}.jsonl"))
        assert rows == summary["variants"][variant]["kept"] > 0
        card = (folder / "README.md").read_text()
        assert "PSF-2.0" in card and "## Pipeline" in card
        assert (folder / "plots" / "lengths.png").exists() and (folder / "dataset" / "dataset_dict.json").exists()
    assert (out / "standard" / "humaneval-train.jsonl").exists()
