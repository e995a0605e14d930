"""One execution package for every stage that runs code nobody has read."""

from filters.sandbox.base import Outcome, Program, Sandbox, Status
from filters.sandbox.factory import get_sandbox

__all__ = ["Outcome", "Program", "Sandbox", "Status", "get_sandbox"]
