"""Adequacy stage: tests that cannot tell a right body from a wrong one are rejected or strengthened."""

from __future__ import annotations

import json

import pytest

from codexsd.core.record import Problem, write_problems
from codexsd.core.stage import read_artifact, read_rejects
from filters.adequacy import AdequacyChecker, AdequacyConfig, adequacy_stage, metrics_of
from filters.adequacy.mutants import make_mutants
from filters.adequacy.strengthen import keep_observations, new_inputs
from codexsd.sandbox import values
from codexsd.sandbox.calls import Call, judge_bodies, parse_calls, render_check
from sandbox_testing import make_sandbox


def calls_task(task_id: str, header: str, body: str, pairs, source: str = "ci") -> Problem:
    calls = [Call(expr, expected=values.encode(v)) for expr, v in pairs]
    entry = header.split("def ", 1)[1].split("(", 1)[0]
    return Problem(task_id=task_id, prompt=f'{header}\n    """Doc."""\n', canonical_solution=body,
                   test=render_check(calls), entry_point=entry, source=source, calls=[c.to_dict() for c in calls])


# every assert expects False: a constant function passes
ONE_VALUE = calls_task("t/one_value", "def is_sunder(name):",
                       "    return len(name) > 2 and name[0] == name[-1] == '_' and name[1] != '_'\n",
                       [("candidate('a')", False), ("candidate('__x__')", False), ("candidate('abc')", False)])
# the tests never reach the `x > hi` branch: the planted mutant (that branch deleted) survives them
WEAK = calls_task("t/clamp", "def clamp(x, lo, hi):",
                  "    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n",
                  [("candidate(5, 0, 10)", 5), ("candidate(-3, 0, 10)", 0), ("candidate(7, 0, 10)", 7)])
PLANTED = "    if x < lo:\n        return lo\n    return x\n"
# the order of a set of strings depends on the hash seed (`upper` is never tested: mutants survive)
HASH_ORDER = calls_task("t/uniq", "def uniq(words, upper=False):",
                        "    if upper:\n        words = [w.upper() for w in words]\n    return list(set(words))\n",
                        [("candidate(['a'])", ["a"]), ("candidate([])", []), ("candidate(['b', 'b'])", ["b"])])
# random past 3: the recorded inputs never get there
RANDOM = calls_task("t/noisy", "def noisy(n):",
                    "    import random\n    if n > 3:\n        return n + random.random()\n    return float(n)\n",
                    [("candidate(1)", 1.0), ("candidate(2)", 2.0), ("candidate(3)", 3.0)])
CONSTANT = calls_task("t/constant", "def has_length(x):", "    return len(str(x)) >= 0\n",
                      [("candidate('a')", True), ("candidate(3)", True)])
GOOD = calls_task("t/add", "def add(a, b):", "    return a + b\n",
                  [("candidate(1, 2)", 3), ("candidate(-4, 2)", -2), ("candidate(10, 0)", 10)])
# HumanEval-shaped: no calls, its own check()
CHECK_ONLY = Problem(task_id="HumanEval/t", prompt='def double(x):\n    """Twice x."""\n',
                     canonical_solution="    return 2 * x\n", entry_point="double",
                     test="def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(3) == 6\n")
CHECK_CONSTANT = Problem(task_id="HumanEval/c", prompt='def small(x):\n    """Whether x < 100."""\n',
                         canonical_solution="    return x < 100\n", entry_point="small",
                         test="def check(candidate):\n    assert candidate(1) is True\n    assert candidate(5)\n")


@pytest.fixture(scope="module")
def sandbox():
    sb = make_sandbox("local", workers=2)
    yield sb
    sb.close()


def check(problems, sandbox, **cfg):
    return {r.task_id if isinstance(r, Problem) else r.id: r for r in AdequacyChecker(AdequacyConfig(**cfg), sandbox)(problems)}


def test_single_expected_value_rejected(sandbox):
    out = check([ONE_VALUE, CHECK_CONSTANT], sandbox, strengthen=False)
    for task_id in ("t/one_value", "HumanEval/c"):
        reject = out[task_id]
        assert not isinstance(reject, Problem)
        assert reject.reason in ("degenerate_tests", "single_expected_value")
        m = metrics_of(reject)
        assert m["standins"]["common_value"] is True and m["distinct_values"] == 1


def test_weak_test_gains_asserts_that_kill_a_planted_mutant(sandbox):
    [(outcome, _)] = judge_bodies(sandbox, [(WEAK, PLANTED)])
    assert outcome.passed  # the original tests miss it
    kept = check([WEAK], sandbox, threshold=0.0)["t/clamp"]
    assert isinstance(kept, Problem)
    calls = parse_calls(kept.calls)
    added = [c for c in calls if c.origin == "added"]
    assert added and [c.origin for c in calls[:3]] == ["original"] * 3
    assert kept.metadata["adequacy"]["asserts"] == {"original": 3, "added": len(added)}
    [(outcome, _)] = judge_bodies(sandbox, [(kept, PLANTED), (kept, kept.canonical_solution)])[:1]
    assert not outcome.passed  # the strengthened tests kill it
    assert judge_bodies(sandbox, [(kept, kept.canonical_solution)])[0][0].passed
    assert "candidate(" in kept.test and kept.test == render_check(calls)  # the HumanEval rendering follows
    m = kept.metadata["adequacy"]
    assert m["score_after"] > m["score_before"]


def test_non_deterministic_inputs_dropped(sandbox):
    out = check([HASH_ORDER, RANDOM], sandbox, threshold=0.0, candidates=60)
    for task_id in ("t/uniq", "t/noisy"):
        item = out[task_id]
        m = metrics_of(item)
        assert m["inputs"]["dropped"].get("disagrees", 0) > 0, m
        if isinstance(item, Problem):  # what was added gives one answer under any hash seed
            for c in parse_calls(item.calls):
                if c.origin == "added" and task_id == "t/uniq":
                    assert len(set(eval(values.to_source(c.expected)))) <= 1
                if c.origin == "added" and task_id == "t/noisy":
                    assert eval(c.expr, {"candidate": lambda n: n}) <= 3


def test_check_only_tasks_measured(sandbox):
    kept = check([CHECK_ONLY], sandbox)["HumanEval/t"]
    assert isinstance(kept, Problem)
    m = kept.metadata["adequacy"]
    assert m["mutants"] > 0 and m["score_before"] == m["score_after"] and not any(m["standins"].values())
    assert m["distinct_values"] == 2 and m["asserts"]["added"] == 0


def test_stage_accounting_and_resume(tmp_path, sandbox):
    src = tmp_path / "validated"
    rows = [ONE_VALUE, WEAK, CONSTANT, GOOD, CHECK_ONLY]
    write_problems(src / "data-00000.jsonl", rows[:3])
    write_problems(src / "data-00001.jsonl", rows[3:])
    (src / "stats.json").write_text("{}")
    out = tmp_path / "adequate"
    cfg = AdequacyConfig(threshold=0.0)
    stats = adequacy_stage(src, out, cfg, sandbox=sandbox, progress=False)
    kept, rejects = list(read_artifact(out)), list(read_rejects(out))
    assert stats.items_in == 5 == len(kept) + len(rejects) == stats.kept + stats.rejected
    assert {r.id for r in rejects} == {"t/constant"}
    # the all-False task of the issue (enum._is_sunder) is saved by an input the reference answers True
    sunder = next(p for p in kept if p.task_id == "t/one_value")
    assert any(c.origin == "added" and c.expected == ["bool", True] for c in parse_calls(sunder.calls))
    summary = json.loads((out / "stats.json").read_text())["adequacy"]
    assert summary["ci"]["tasks"] == 4 and summary["HumanEval"]["tasks"] == 1
    before = {p.name: p.read_bytes() for p in out.glob("*-*.jsonl")}
    (out / "data-00001.jsonl").unlink()  # a killed run: one shard's files gone, its marker stale
    again = adequacy_stage(src, out, cfg, sandbox=sandbox, progress=False)
    assert again.shards_skipped == 1 and again.items_in == 5
    assert {p.name: p.read_bytes() for p in out.glob("*-*.jsonl")} == before


def test_malformed_rows_rejected_not_raised(sandbox):
    from filters.adequacy import AdequacyShard

    bad = GOOD.to_dict() | {"calls": [{"expr": "candidate(1)", "expected": None, "raises": ""}]}
    out = list(AdequacyShard(cfg=AdequacyConfig(), sandbox=sandbox)([{"task_id": "x"}, bad]))
    assert sorted(r.reason for r in out) == ["malformed", "malformed"]


def test_mutants_span_kinds_and_are_seeded():
    src = "def f(xs, k):\n    total = 0\n    for x in xs:\n        if x > k and x % 2 == 0:\n            total += x\n    return total\n"
    a = make_mutants(src, "f", ["0"], k=12, seed=7)
    assert a == make_mutants(src, "f", ["0"], k=12, seed=7)
    assert len({m.kind for m in a}) >= 7 and all(m.code.startswith("def f(") for m in a)


def test_new_inputs_by_type():
    calls = [Call("candidate([1, 2], 'ab', {'k': 1})", expected=values.encode(3))]
    exprs = new_inputs(calls, 30, seed=1)
    assert len(exprs) == len(set(exprs)) > 10
    assert all(e.startswith("candidate(") and e != calls[0].expr for e in exprs)
    drops = keep_observations(["a", "b", "c"], [{"value": ["int", "1"]}, {"raised": "KeyError"}, {"value": ["str", "x"]}],
                              [[{"value": ["int", "2"]}, {"raised": "KeyError"}, {"value": ["str", "x"]}]], {"int"})[1]
    assert drops["disagrees"] == 1 and drops["raises"] == 1 and drops["unseen_type"] == 1


def test_cli_filter_adequacy(tmp_path, capsys):
    from codexsd.cli import main

    src = tmp_path / "in"
    write_problems(src / "data-00000.jsonl", [GOOD, CONSTANT])
    (src / "stats.json").write_text("{}")
    assert main(["filter", "adequacy", str(src), "-o", str(tmp_path / "out"), "--sandbox", "local", "--no-progress"]) == 0
    assert "2 in, 1 kept, 1 rejected (degenerate_tests 1)" in capsys.readouterr().err
    assert main(["filter", "adequacy", str(tmp_path / "missing"), "-o", str(tmp_path / "o2"), "--no-progress"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0] and "Traceback" not in err[0]


def test_a_mutant_that_loops_forever_on_a_new_input_is_killed_by_that_input(sandbox):
    # the tests never take the loop; the mutant `n *= 2` only loops forever on the new inputs that do
    loop = calls_task("t/halvings", "def halvings(n):",
                      "    steps = 0\n    while n > 1:\n        n //= 2\n        steps += 1\n    return steps\n",
                      [("candidate(1)", 0), ("candidate(0)", 0), ("candidate(-3)", 0)])
    kept = check([loop], sandbox, threshold=0.0, k_mutants=40)["t/halvings"]
    assert isinstance(kept, Problem), kept
    m = kept.metadata["adequacy"]
    assert m["killed_after"] > m["killed_before"] and m["asserts"]["added"] >= 1
    added = [c for c in parse_calls(kept.calls) if c.origin == "added"]
    assert any(eval(c.expr, {"candidate": lambda n: n}) > 1 for c in added)
    assert "arithmetic" not in m["survivors"]
