"""The sandbox API: programs in, one outcome per program out, from a closed set.

Every stage that runs code (validation, solvability, evaluation, back-translation)
goes through `Sandbox.run`. What crosses the process boundary is these frozen
dataclasses and the `Status` enum; exceptions never do.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Callable, Sequence

from codexsd.core.config import env_number

# Limits: named constants, overridable by environment.
DEFAULT_TIMEOUT_S = env_number("CODEXSD_SANDBOX_TIMEOUT_S", 10.0)
DEFAULT_MEMORY_MB = env_number("CODEXSD_SANDBOX_MEMORY_MB", 1024)
MAX_OUTPUT_BYTES = env_number("CODEXSD_SANDBOX_MAX_OUTPUT_BYTES", 64 * 1024)
DETAIL_TAIL_CHARS = env_number("CODEXSD_SANDBOX_DETAIL_CHARS", 2000)


class Status(str, enum.Enum):
    PASSED = "passed"  # ran to its end
    FAILED = "failed"  # an assertion or exception; detail holds the error's last lines
    TIMEOUT = "timeout"  # ran past its time limit
    ERROR = "error"  # crashed, out of memory, killed, exited early


@dataclass(frozen=True)
class Program:
    source: str
    timeout: float = DEFAULT_TIMEOUT_S
    memory_mb: int = int(DEFAULT_MEMORY_MB)
    id: str = ""
    stdout: bool = False  # return what the program wrote to stdout (its last 4 MiB) in Outcome.output


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str = ""
    duration: float = 0.0
    output: str = ""  # the program's stdout, when its Program asked for it

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED


Progress = Callable[[int], None]


class Sandbox(abc.ABC):
    """Runs untrusted programs; `run` returns exactly one Outcome per Program, in order."""

    name: str = "sandbox"

    @abc.abstractmethod
    def run(self, programs: Sequence[Program], progress: Progress | None = None) -> list[Outcome]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
