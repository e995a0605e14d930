"""Test adequacy: a task's tests must tell a right body from a wrong one.

standins.py (trivial bodies that must fail), mutants.py (libcst mutants of the reference),
strengthen.py (new call inputs by type-aware mutation, expected values from the reference),
stage.py (the stage and its keep rule), report.py (per-source summary and plot).
"""

from filters.adequacy.stage import STAGE, AdequacyChecker, AdequacyConfig, AdequacyShard, adequacy_stage, metrics_of

__all__ = ["STAGE", "AdequacyChecker", "AdequacyConfig", "AdequacyShard", "adequacy_stage", "metrics_of"]
