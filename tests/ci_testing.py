"""Helpers the CI-tracing tests share: small projects written on disk, and a local sandbox."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative path -> dedented text) under `root`; returns `root`."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture(scope="module")
def sandbox():
    from codexsd.sandbox import get_sandbox

    sb = get_sandbox("local")
    yield sb
    sb.close()
