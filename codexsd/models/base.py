"""One sampling interface for the solvability filter, evaluation and back-translation."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Sequence

# The Codex paper's stop sequences for function completion.
PAPER_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
DEFAULT_TOP_P = 0.95


@dataclass(frozen=True)
class Completion:
    text: str  # the completion, cut before the first stop sequence
    logprob_sum: float  # sum of the sampled tokens' log-probabilities (kept tokens only)
    logprob_mean: float  # logprob_sum / n_tokens
    n_tokens: int
    finish_reason: str = "stop"  # "stop" (stop sequence or EOS) or "length"


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.8
    top_p: float = DEFAULT_TOP_P
    max_new_tokens: int = 300
    stop: tuple[str, ...] = field(default=PAPER_STOP)
    seed: int = 0


class Sampler(abc.ABC):
    """Draws n completions per prompt. `sample(prompts, params)[i]` has `params.n` Completions."""

    spec: str = ""

    @abc.abstractmethod
    def sample(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]: ...

    def score(self, prompts: Sequence[str], targets: Sequence[str]) -> list[float]:
        """Sum log P(target | prompt) for each pair (used for back-translation ranking)."""
        raise TypeError(f"{type(self).__name__} cannot score fixed continuations")

    def close(self) -> None:  # noqa: B027
        pass

    def __enter__(self) -> "Sampler":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
