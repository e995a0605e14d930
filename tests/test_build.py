"""`codexsd build` end to end on a small local source set: accounting, resume after SIGKILL, configuration.

The solvability filter here samples from `ReplaySampler`, which answers each prompt with the
problem's reference body or with a wrong body (chosen by a hash of the prompt): a fake that
keeps this test fast and deterministic, beside the real default model that `codexsd build`
uses (exercised by test_build_default.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codexsd.models.base import Completion, Sampler
from codexsd.core.record import iter_jsonl, write_jsonl

REPO = Path(__file__).resolve().parents[1]
MBPP_TRAIN_IDS = range(601, 611)  # MBPP's own train split: decontamination keeps it
STAGES = ("raw", "validated", "adequate", "clean", "solvable")


class ReplaySampler(Sampler):
    """Answers with the reference body of the problem whose prompt matches, or a wrong body."""

    spec = "replay"

    def __init__(self, clean_dir: Path):
        self.clean_dir = clean_dir
        self._answers: dict[str, str] | None = None

    def _answer(self, prompt: str) -> str:
        if self._answers is None:
            from codexsd.core.stage import read_artifact

            self._answers = {p.prompt: p.canonical_solution for p in read_artifact(self.clean_dir)}
        for known, body in self._answers.items():
            if prompt.endswith(known) or known in prompt:
                solvable = int(hashlib.sha256(known.encode()).hexdigest(), 16) % 3 != 0
                return body if solvable else "    raise NotImplementedError\n"
        return "    pass\n"

    def sample(self, prompts, params):
        return [[Completion(self._answer(p), -1.0, -1.0, 1) for _ in range(params.n)] for p in prompts]


def write_sources(test_data: Path, folder: Path) -> Path:
    rows = [r for r in iter_jsonl(test_data / "mbpp.jsonl") if r["task_id"] in MBPP_TRAIN_IDS]
    path = folder / "mbpp-train-sample.jsonl"
    write_jsonl(path, rows)
    return path


def write_config(folder: Path, source: Path, mbpp: Path) -> Path:
    import yaml

    cfg = {
        "shard_size": 3,
        "sandbox": os.environ.get("CODEXSD_TEST_SANDBOX", ""),
        "sources": {"ci": False, "competitive": [str(source)]},
        "competitive": {"shard_size": 4},
        "validate": {"runs": 2},
        "dedup": {"benchmarks": ["humaneval", "mbpp"], "mbpp": str(mbpp)},
        "solvability": {"model": "default", "n_samples": 1},  # on (the test passes its own sampler)
        "format": {"validation_fraction": 0.25},
    }
    path = folder / "build.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def build_cmd(config: Path, out: Path) -> list[str]:
    return [sys.executable, __file__, str(config), str(out)]


def main(config: str, out: str) -> None:
    """The build under test, as a subprocess that can be killed: the replay sampler, real everything else."""
    from codexsd.pipeline import load_build_config, run_build

    run_build(load_build_config(config), out, sampler=ReplaySampler(Path(out) / "clean"), progress=False)


def run_until(cmd: list[str], ready, timeout: float = 120.0) -> bool:
    """Start `cmd`; SIGKILL its process group as soon as `ready()` holds. Returns True if it was killed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the build did not finish in time")
    err = proc.stderr.read().decode()
    assert proc.returncode == 0, err[-3000:]
    return False


@pytest.fixture(scope="module")
def sources(test_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    return write_config(folder, write_sources(test_data, folder), test_data / "mbpp.jsonl")


@pytest.fixture(scope="module")
def uninterrupted(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    assert run_until(build_cmd(sources, out), lambda: False) is False
    return out


def test_every_stage_accounts_for_every_item(uninterrupted):
    stats = {s: json.loads((uninterrupted / s / "stats.json").read_text()) for s in STAGES}
    variants = {v: json.loads((uninterrupted / v / "stats.json").read_text()) for v in ("standard", "docstring_last")}
    for name, st in [*stats.items(), *variants.items()]:
        assert st["items_in"] == st["kept"] + st["rejected"], name
        assert sum(st["reasons"].values()) == st["rejected"], name
    assert stats["raw"]["items_in"] == len(MBPP_TRAIN_IDS)
    for before, after in zip(STAGES, STAGES[1:]):  # each stage reads exactly what the previous kept
        assert stats[after]["items_in"] == stats[before]["kept"], after
    for st in variants.values():
        assert st["items_in"] == stats["solvable"]["kept"]
        assert st["splits"]["train"] > 0 and st["splits"]["validation"] > 0
    assert 0 < stats["solvable"]["kept"] < stats["clean"]["kept"]  # the replay sampler fails a third on purpose
    summary = json.loads((uninterrupted / "summary.json").read_text())
    assert [r["stage"] for r in summary["stages"]][:5] == ["collect", *(stats[s]["stage"] for s in STAGES[1:])]


@pytest.mark.slow
def test_killed_builds_resume_to_the_same_output(sources, uninterrupted, tmp_path):
    from codexsd.pipeline import output_hash

    out = tmp_path / "out"
    cmd = build_cmd(sources, out)
    kill_points = [
        lambda: (out / "raw" / "competitive" / ".done-00000.json").exists(),  # mid-collection
        lambda: (out / "validated" / ".done-00001.json").exists(),  # mid-validation
        lambda: (out / "solvable" / ".done-00000.json").exists(),  # mid-solvability
        lambda: any(out.glob(".*.partial")) or (out / "standard" / "stats.json").exists(),  # mid-format
    ]
    killed = 0
    for ready in kill_points:
        killed += run_until(cmd, ready)
    first_shard = out / "validated" / "data-00000.jsonl"
    before = first_shard.stat().st_mtime_ns if first_shard.exists() else None
    assert run_until(cmd, lambda: False) is False
    assert killed >= 2  # the kills landed inside the build, not after it
    if before is not None:
        assert first_shard.stat().st_mtime_ns == before  # a finished shard is not redone
    assert output_hash(out) == output_hash(uninterrupted)
    for v in ("standard", "docstring_last"):
        assert (out / v / "README.md").exists() and (out / v / "dataset" / "dataset_dict.json").exists()


def test_collection_rejects_prompts_longer_than_the_limit():
    from codexsd.pipeline import PromptFits
    from codexsd.core.record import Problem, Reject

    short = Problem("ci/a", "def a():\n", "    return 1\n", "", "a")
    long = Problem("ci/b", "X = 1\n" * 100 + "def b():\n", "    return 1\n", "", "b")
    out = list(PromptFits(200)([short, long]))
    assert out[0] is short and isinstance(out[1], Reject) and out[1].reason == "prompt_too_long"
    assert list(PromptFits(0)([long])) == [long]


def test_settings_flow_defaults_then_yaml_then_flags(tmp_path):
    from codexsd.core.config import ConfigError
    from codexsd.pipeline import load_build_config

    default = load_build_config()
    assert default.sources.ci and default.sources.competitive == ["bundled:mbpp-train"]
    assert default.solvability.model == "none" and default.solvability.n_samples <= 8
    yml = tmp_path / "c.yaml"
    yml.write_text("solvability:\n  n_samples: 5\nformat:\n  validation_fraction: 0.2\n")
    cfg = load_build_config(yml, {"solvability.n_samples": 3})
    assert cfg.solvability.n_samples == 3 and cfg.format.validation_fraction == 0.2
    yml.write_text("solvabilty:\n  n_samples: 5\n")
    with pytest.raises(ConfigError, match="solvabilty"):
        load_build_config(yml)


def test_example_configs_load_and_default_yaml_is_the_embedded_default():
    from codexsd.pipeline import load_build_config

    for path in sorted((REPO / "configs").glob("*.yaml")):
        load_build_config(path)
    assert load_build_config(REPO / "configs" / "default.yaml") == load_build_config()


def test_cli_print_config_and_bad_key(tmp_path):
    from codexsd.cli import main

    assert main(["build", "--print-config", "--samples", "4", "--set", "format.validation_fraction=0.3"]) == 0
    assert main(["build", "--print-config", "--set", "nosuch.key=1"]) == 2


if __name__ == "__main__":
    main(*sys.argv[1:3])


def test_bundled_mbpp_train_source_holds_only_the_train_split():
    from curation.competitive.config import CompetitiveConfig
    from curation.competitive.loaders import SourceNotFound, load_tasks

    tasks = load_tasks("bundled:mbpp-train", CompetitiveConfig())
    ids = [int(str(t.get("task_id") or t.get("id")).rsplit("/", 1)[-1]) for t in tasks]
    assert len(ids) > 200 and min(ids) >= 601 and max(ids) <= 974  # never MBPP's evaluation rows 1-600
    with pytest.raises(FileNotFoundError, match="no such bundled source"):
        load_tasks("bundled:humaneval", CompetitiveConfig())
    assert issubclass(SourceNotFound, FileNotFoundError)
