"""Settings of the CI-tracing collector."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CIConfig:
    """How much of which test suites to trace, and how tasks are built from the calls.

    `max_modules` is the size knob for the default source (the standard library's own
    tests): that many test modules, chosen by `seed` from a list of fast ones.
    """

    max_modules: int = 60  # stdlib test modules traced (seeded choice); 0 = every fast module
    test_modules: list[str] = field(default_factory=list)  # stdlib test modules to run instead of a seeded choice
    per_module_timeout: float = 60.0  # seconds one test module (one job) may run under the tracer
    files_per_job: int = 1  # pytest test files run by one traced process (more: fewer start-ups, one budget)
    project_timeout: float = 900.0  # seconds one project's whole test run may take
    install_timeout: float = 600.0  # seconds to fetch and install one project and its test dependencies
    max_calls_per_function: int = 10  # distinct calls kept per function (tests asserted per task)
    min_calls_per_function: int = 1  # fewer kept calls than this: the function is rejected
    max_value_chars: int = 300  # longest repr of an argument list or a result that is kept
    replay_call_timeout: float = 2.0  # seconds one replayed call may take
    require_docstring: bool = False  # reject functions without a docstring
    seed: int = 0
    workers: int = 2  # test modules traced at the same time (per project)
    project_workers: int = 1  # projects fetched, installed and traced at the same time
    shard_size: int = 100  # tasks per stage shard (one sandbox batch each)
    validation_timeout: float = 10.0  # seconds per task program in the sandbox
    install: bool = True  # install each project into a fresh venv; off: run its tests from the tree with this Python
    test_command: str = ""  # overrides the command found in a project's tox/CI/pytest config
    sandbox: str = ""  # sandbox backend name ('' = CODEXSD_SANDBOX or auto)

    def __post_init__(self) -> None:
        for name in ("per_module_timeout", "project_timeout", "install_timeout", "replay_call_timeout",
                     "validation_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("max_calls_per_function", "min_calls_per_function", "max_value_chars", "workers", "files_per_job",
                     "project_workers", "shard_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_modules < 0:
            raise ValueError(f"max_modules must be 0 (all) or more, got {self.max_modules}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def trace_key(self) -> dict[str, Any]:
        """The settings that change what a trace records (a cached trace is reused when equal)."""
        keys = ("max_modules", "test_modules", "per_module_timeout", "project_timeout", "max_calls_per_function",
                "max_value_chars", "replay_call_timeout", "seed", "test_command", "install")
        return {k: getattr(self, k) for k in keys}
