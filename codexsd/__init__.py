"""codexsd: curate Codex-style supervised data, train Codex-S / Codex-D, evaluate them."""

from codexsd.core.record import Problem, Reject, read_problems, write_problems

__version__ = "0.1.0"
__all__ = ["Problem", "Reject", "read_problems", "write_problems", "__version__"]
