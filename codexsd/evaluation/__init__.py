"""Functional-correctness evaluation: pass@k on HumanEval-format problems through the sandbox."""

from codexsd.evaluation.functional import evaluate_samples, humaneval_program, load_problems
from codexsd.evaluation.passk import estimate_pass_at_k

__all__ = ["estimate_pass_at_k", "evaluate_samples", "humaneval_program", "load_problems"]
