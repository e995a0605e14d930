import json

import pytest

from codexsd.core.record import Problem, Reject
from codexsd.core.stage import AccountingError, chunk, read_artifact, read_rejects, run_stage


def _p(i):
    return Problem(task_id=f"t/{i}", prompt="def f():\n", canonical_solution="    return 1\n", test="", entry_point="f")


def keep_even(items):
    for p in items:
        yield p if int(p.task_id.split("/")[1]) % 2 == 0 else Reject(p.task_id, "unit", "odd", "odd id")


def lose_one(items):
    yield from items[1:]


def test_stage_accounts_for_every_item_and_resumes(tmp_path):
    shards = chunk([_p(i) for i in range(10)], 3)
    stats = run_stage("unit", tmp_path, shards, keep_even, params={"k": 1}, progress=False)
    assert (stats.items_in, stats.kept, stats.rejected) == (10, 5, 5)
    assert stats.reasons == {"odd": 5}
    assert [p.task_id for p in read_artifact(tmp_path)] == [f"t/{i}" for i in range(0, 10, 2)]
    assert {r.id for r in read_rejects(tmp_path)} == {f"t/{i}" for i in range(1, 10, 2)}
    assert json.loads((tmp_path / "stats.json").read_text())["kept"] == 5
    again = run_stage("unit", tmp_path, shards, keep_even, params={"k": 1}, progress=False)
    assert again.shards_skipped == len(shards) and again.kept == 5
    changed = run_stage("unit", tmp_path, shards, keep_even, params={"k": 2}, progress=False)
    assert changed.shards_skipped == 0


def test_stage_that_loses_items_fails_loudly(tmp_path):
    with pytest.raises(AccountingError):
        run_stage("unit", tmp_path, chunk([_p(i) for i in range(4)], 2), lose_one, progress=False)
