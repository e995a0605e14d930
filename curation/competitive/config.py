"""Settings of the competitive-programming collector (defaults < YAML < flags)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

SCHEMAS = ("apps", "code_contests", "taco", "mbpp")


@dataclass
class CompetitiveConfig:
    schema: Optional[str] = None  # force one of SCHEMAS; None: detect from each source's fields
    split: Optional[str] = None  # hub split to load / split name for local files (None: all hub splits, or guessed)
    limit: Optional[int] = None  # read at most this many rows per source (None: all)
    max_tests: int = 20  # unit tests kept per problem: examples/public first, then hidden/generated
    max_test_chars: int = 20_000  # one test input or output longer than this is dropped
    max_solutions_tried: int = 5  # Python reference solutions tried, in order, until one passes
    timeout: float = 20.0  # seconds for one validation program (all of a problem's tests)
    memory_mb: int = 1024
    shard_size: int = 50  # problems per shard: one sandbox batch per round of a shard
    workers: int = 1
    sandbox: Optional[str] = None  # backend name for codexsd.sandbox.get_sandbox (None: its default)

    def __post_init__(self) -> None:
        self.timeout = float(self.timeout)  # 10 and 10.0 are the same setting (and fingerprint)
        if self.schema is not None and self.schema not in SCHEMAS:
            raise ValueError(f"unknown schema {self.schema!r}; expected one of {', '.join(SCHEMAS)}")
        for name in ("max_tests", "max_test_chars", "max_solutions_tried", "shard_size", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def conversion_params(self) -> dict[str, Any]:
        """What the output of a shard depends on (workers and backend do not change it)."""
        d = self.to_dict()
        for k in ("workers", "sandbox", "shard_size"):
            d.pop(k)
        return d
