"""The dataset card of a pipeline run by hand says what happened: the stages that ran, the sources' licences."""

from __future__ import annotations

import json

import pytest

from codexsd.cli import main


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory, test_data):
    """collect (MBPP's train split, ids 601-610) -> format, no validate/dedup/solvability."""
    root = tmp_path_factory.mktemp("hand")
    rows = [json.loads(line) for line in (test_data / "mbpp.jsonl").read_text().splitlines()]
    src = root / "mbpp_train.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows if 601 <= r["task_id"] <= 610))
    assert main(["collect", "competitive", str(src), "-o", str(root / "raw"), "--sandbox", "local", "--no-progress"]) == 0
    assert main(["format", str(root / "raw"), "-o", str(root), "--validation-fraction", "0.2", "--no-progress"]) == 0
    return root


def test_card_names_only_the_stages_that_ran(hand_run):
    card = (hand_run / "standard" / "README.md").read_text()
    made_by = next(line for line in card.splitlines() if line.startswith("Made by codexsd"))
    assert "collect" in made_by and "format" in made_by
    assert "validate" not in made_by and "dedup" not in made_by
    assert "solvability filter did not run" in made_by
    assert "→ solvability →" not in card


def test_card_licence_comes_from_the_source(hand_run):
    card = (hand_run / "standard" / "README.md").read_text()
    front = card.split("---")[1]
    assert "license: cc-by-4.0" in front and "license: other" not in front
    assert "CC BY 4.0" in card  # the sources table, from each row's origin.licence


def test_card_load_path_works(hand_run):
    datasets = pytest.importorskip("datasets")
    card = (hand_run / "standard" / "README.md").read_text()
    assert 'load_from_disk("OUT/standard/dataset")' in card
    dd = datasets.load_from_disk(str(hand_run / "standard" / "dataset"))
    assert set(dd) == {"train", "validation"} and len(dd["train"]) + len(dd["validation"]) == 10


def test_licence_front_matter_mixed_and_unknown():
    from codexsd.card import licence_front_matter

    assert licence_front_matter(["CC BY 4.0", "MIT", "MIT"]) == ["license: [cc-by-4.0, mit]"]
    assert licence_front_matter(["PSF-2.0"]) == ["license: other", 'license_name: "PSF-2.0"']
