"""`collect_ci` through the executor seam, on a real two-node Ray cluster (1 CPU per node).

What a user of `--executor ray` checks: tracing small projects on the cluster writes the same
data and rejects, byte for byte, as tracing them from this process; a project whose tests
crash is a reject and the other projects still finish; a worker that does not see the
driver's output folder stops the run with an error that says why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="pip install 'codexsd[ray]'")

from ci_testing import write_tree  # noqa: E402
from codexsd.core.executor import LocalExecutor, RayExecutor  # noqa: E402
from codexsd.core.stage import read_artifact, read_rejects  # noqa: E402
from curation.ci import CIConfig, collect_ci  # noqa: E402
from curation.ci.collect import TraceTask, WorkNotShared  # noqa: E402
from test_ray_executor import SANDBOX, cluster  # noqa: E402,F401 (cluster is a fixture)

pytestmark = pytest.mark.slow

WORDS = '''
"""Word helpers."""

VOWELS = "aeiou"


def count_vowels(text):
    """How many vowels `text` has."""
    return sum(1 for c in text.lower() if c in VOWELS)


def initials(name):
    """The upper-case first letters of the words of `name`."""
    return "".join(w[0].upper() for w in name.split())


def shout(text):
    """Print `text` in capitals."""
    print(text.upper())
'''

TEST_WORDS = '''
import unittest

from words import count_vowels, initials, shout


class WordsTest(unittest.TestCase):
    def test_words(self):
        self.assertEqual((count_vowels("banana"), count_vowels("xyz")), (3, 0))
        self.assertEqual(initials("ada lovelace"), "AL")
        shout("hi")
'''

NUMBERS = '''
"""Number helpers."""


def clamp(x, low, high):
    """`x` limited to [low, high]."""
    return max(low, min(x, high))


def digits(n):
    """The decimal digits of a non-negative int."""
    if n < 0:
        raise ValueError("negative")
    return [int(c) for c in str(n)]
'''

TEST_NUMBERS = '''
import unittest

from numbers_kit import clamp, digits


class NumbersTest(unittest.TestCase):
    def test_numbers(self):
        self.assertEqual((clamp(5, 0, 3), clamp(-1, 0, 3)), (3, 0))
        self.assertEqual(digits(120), [1, 2, 0])
        with self.assertRaises(ValueError):
            digits(-4)
'''


def _projects(root: Path) -> list[str]:
    """Three projects under `root`, named by paths relative to it (as a user types them)."""
    write_tree(root / "projects/words", {"words.py": WORDS, "test_words.py": TEST_WORDS})
    write_tree(root / "projects/numbers", {"numbers_kit.py": NUMBERS, "test_numbers_kit.py": TEST_NUMBERS})
    write_tree(root / "projects/crashing", {"lib.py": "def f(x):\n    return x\n",
                                            "test_lib.py": "import os, lib\n\nlib.f(1)\nos.abort()\n"})
    return ["projects/words", "projects/crashing", "projects/numbers"]


def _stage_files(out: Path) -> dict[str, bytes]:
    names = [p for p in out.iterdir() if p.name.startswith(("data-", "rejects-")) or p.name == "stats.json"]
    return {p.name: p.read_bytes() for p in sorted(names)}


def test_collect_ci_on_ray_equals_local(tmp_path, cluster, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative project and output paths: Ray workers run in other folders
    projects = _projects(tmp_path)
    config = CIConfig(install=False, workers=1, per_module_timeout=30.0, project_timeout=120.0, sandbox=SANDBOX,
                      shard_size=2)
    local = collect_ci(projects, "local", config, progress=False)
    with RayExecutor() as ex:
        on_ray = collect_ci(projects, "ray", config, progress=False, executor=ex)
    with LocalExecutor(2) as ex:  # a local process pool: the same tasks, pickled the same way
        collect_ci(projects, "pool", config, progress=False, executor=ex)

    assert _stage_files(tmp_path / "ray") == _stage_files(tmp_path / "local") == _stage_files(tmp_path / "pool")
    assert on_ray.to_dict() == local.to_dict()
    assert on_ray.items_in == on_ray.kept + on_ray.rejected and on_ray.shards > 1
    problems = {p.task_id for p in read_artifact(tmp_path / "ray")}
    assert problems == {"ci/words.count_vowels", "ci/words.initials", "ci/numbers_kit.clamp",
                        "ci/numbers_kit.digits"}
    rejects = {r.id: r.reason for r in read_rejects(tmp_path / "ray")}
    assert rejects == {"ci/words.shout": "returns_only_none", f"ci/project:{projects[1]}": "tests_crashed"}
    reports = json.loads((tmp_path / "ray" / "projects.json").read_text())
    assert [r["project"] for r in reports] == projects  # in source order, whichever finished first


def test_a_worker_that_does_not_see_the_output_folder_says_so(tmp_path):
    task = TraceTask(CIConfig(install=False), str(tmp_path / "work"), "the driver's mark", str(tmp_path))
    with pytest.raises(WorkNotShared, match="storage every node sees"):
        task(str(tmp_path))
