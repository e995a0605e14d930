"""Data shipped inside the package, so the default build has a competitive source offline.

`mbpp_train.jsonl.gz`: MBPP's train split only (task_ids 601-974, CC BY 4.0), less the rows that
overlap MBPP's evaluation rows or HumanEval; README.md here says where it came from and how it was cut.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

MBPP_TRAIN = "mbpp_train.jsonl.gz"
# `bundled:<name>` sources of `collect competitive` and the build
BUNDLED_SOURCES = {"mbpp-train": MBPP_TRAIN}
BUNDLED_PREFIX = "bundled:"


def bundled_path(name: str) -> Path:
    """A data file of this package as a path on disk (the package is installed as files, never zipped)."""
    path = Path(str(resources.files(__name__).joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"bundled data file {name} is missing from {path.parent}; reinstall codexsd")
    return path


def mbpp_train_path() -> Path:
    """MBPP's train split (601-974), decontaminated, as MBPP-style gzipped JSONL for `collect competitive`."""
    return bundled_path(MBPP_TRAIN)


def bundled_source(spec: str) -> Path:
    """The file behind a `bundled:<name>` source spec (e.g. `bundled:mbpp-train`)."""
    name = spec[len(BUNDLED_PREFIX):] if spec.startswith(BUNDLED_PREFIX) else spec
    if name not in BUNDLED_SOURCES:
        raise FileNotFoundError(f"{spec}: no such bundled source (bundled: {', '.join(BUNDLED_PREFIX + n for n in BUNDLED_SOURCES)})")
    return bundled_path(BUNDLED_SOURCES[name])
