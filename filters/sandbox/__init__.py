"""One execution package for every stage that runs code nobody has read."""

from filters.sandbox.base import Outcome, Program, Sandbox, Status
from filters.sandbox.factory import get_sandbox
from filters.sandbox.pool import SandboxUnavailable
from filters.sandbox.strict import strict_equal_source

__all__ = ["Outcome", "Program", "Sandbox", "SandboxUnavailable", "Status", "get_sandbox", "strict_equal_source"]
