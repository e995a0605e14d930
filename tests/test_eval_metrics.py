"""BLEU, ranking heuristics and prompt surgery: the pure parts of evaluation."""

from __future__ import annotations

import ast

import pytest

from codexsd.evaluation.bleu import mean_bleu, sentence_bleu, tokenize
from codexsd.evaluation.prompts import docstring_last_pair, prompt_with_docstring, split_prompt
from codexsd.evaluation.ranking import rank
from codexsd.core.record import read_problems


def test_bleu_identical_is_100_and_disjoint_is_0():
    text = "Return the sum of two integers a and b."
    assert sentence_bleu(text, text) == pytest.approx(100.0)
    assert sentence_bleu("completely unrelated words here", text) == 0.0
    assert sentence_bleu("", text) == 0.0


def test_bleu_matches_sacrebleu_add_one_smoothing():
    sacrebleu = pytest.importorskip("sacrebleu")
    pairs = [
        ("Return the sum of a and b.", "Return the sum of two numbers a and b."),
        ("Check if the list is sorted", "Return True if the given list is sorted in ascending order."),
        ("count vowels in a string", "Count the number of vowels in the string s."),
        ("x", "a much longer reference sentence than the hypothesis"),
    ]
    for hyp, ref in pairs:
        ours = sentence_bleu(hyp, ref)
        theirs = sacrebleu.sentence_bleu(
            " ".join(tokenize(hyp)), [" ".join(tokenize(ref))], smooth_method="add-k", smooth_value=1, tokenize="none"
        ).score
        assert ours == pytest.approx(theirs, abs=1e-6), (hyp, ref)


def test_bleu_rewards_closer_paraphrase_and_checks_lengths():
    ref = "Return the largest prime factor of n."
    assert sentence_bleu("Return the largest prime factor of the number n.", ref) > sentence_bleu("Find a factor.", ref)
    assert mean_bleu([ref, "nothing"], [ref, ref]) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        mean_bleu(["a"], [])


def _row(task, passed, mean, total, bt=None):
    row = {"task_id": task, "passed": passed, "logprob_mean": mean, "logprob_sum": total}
    if bt is not None:
        row["backtranslation_logprob"] = bt
    return row


def test_ranking_heuristics_pick_the_right_sample():
    rows = [
        # task A: the passing sample has the best mean log-prob but the worst sum (it is long)
        _row("A", True, -0.1, -30.0, bt=-5.0),
        _row("A", False, -0.5, -2.0, bt=-9.0),
        # task B: nothing passes
        _row("B", False, -0.2, -3.0, bt=-1.0),
        _row("B", False, -0.3, -4.0, bt=-2.0),
        # task C: the passing sample has the best sum, D scores it badly
        _row("C", False, -0.1, -9.0, bt=-1.0),
        _row("C", True, -0.4, -1.0, bt=-7.0),
        _row("C", True, -0.6, -8.0, bt=-8.0),
    ]
    result = rank(rows)
    assert result["oracle"]["pass_rate"] == pytest.approx(2 / 3)
    assert result["random"]["pass_rate"] == pytest.approx((1 / 2 + 0 + 2 / 3) / 3)
    assert result["mean_logprob"]["pass_rate"] == pytest.approx(1 / 3)  # A yes, C no
    assert result["sum_logprob"]["pass_rate"] == pytest.approx(1 / 3)  # A no, C yes
    assert result["backtranslation"]["pass_rate"] == pytest.approx(1 / 3)  # A yes, C no


def test_ranking_without_d_has_no_backtranslation_and_unscorable_samples_lose():
    rows = [_row("A", True, -0.1, -1.0), _row("A", False, -0.2, -2.0)]
    assert "backtranslation" not in rank(rows)
    rows = [dict(_row("A", False, -0.1, -1.0), backtranslation_logprob=None),
            dict(_row("A", True, -0.2, -2.0), backtranslation_logprob=-50.0)]
    assert rank(rows)["backtranslation"]["pass_rate"] == 1.0


@pytest.fixture(scope="module")
def humaneval(humaneval_file):
    return {p.task_id: p for p in read_problems(humaneval_file)}


def test_split_prompt_reassembles_every_humaneval_prompt(humaneval):
    for problem in humaneval.values():
        parts = split_prompt(problem)
        assert parts.signature.lstrip().startswith(("def ", "@")), problem.task_id
        rebuilt = prompt_with_docstring(parts, parts.docstring)
        again = split_prompt(type(problem)(task_id="t", prompt=rebuilt, canonical_solution="", test="",
                                           entry_point=problem.entry_point))
        assert again == parts, problem.task_id
        program = rebuilt + problem.canonical_solution
        ast.parse(program)  # the canonical body still fits


def test_docstring_last_pair_matches_the_training_format(humaneval):
    from formats.docstring_last import extract_docstring

    problem = humaneval["HumanEval/0"]
    parts = split_prompt(problem)
    prompt, target = docstring_last_pair(parts, problem.canonical_solution)
    assert prompt.startswith(parts.signature) and problem.canonical_solution.strip() in prompt
    assert prompt.rstrip().endswith('"""')
    assert extract_docstring(target) == parts.docstring
    assert docstring_last_pair(parts, "   \n") is None


def test_split_prompt_rejects_a_prompt_without_docstring(humaneval):
    problem = humaneval["HumanEval/0"]
    bare = type(problem)(task_id="x", prompt="def f(a):\n    pass\n", canonical_solution="", test="", entry_point="f")
    with pytest.raises(ValueError, match="no docstring"):
        split_prompt(bare)
