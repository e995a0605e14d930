"""One sampling interface for the solvability filter, evaluation and back-translation."""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, field, replace
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

    def sample_seeded(
        self, prompts: Sequence[str], params: SamplingParams, seeds: Sequence[int]
    ) -> list[list[Completion]]:
        """Like `sample`, but prompt i draws from its own seed `seeds[i]` (params.seed is ignored),
        so a prompt's samples do not depend on which other prompts share its batch.
        Backends that batch across prompts override this; the default samples prompt by prompt."""
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        out: list[list[Completion]] = []
        for prompt, seed in zip(prompts, seeds):
            out.extend(self.sample([prompt], replace(params, seed=int(seed))))
        return out

    def close(self) -> None:  # noqa: B027
        pass

    def __enter__(self) -> "Sampler":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BatchedSampler(Sampler):
    """A backend that batches across prompts: it implements `sample_seeded`, and `sample` gives
    prompt i the seed derive_seed(params.seed, i)."""

    def sample(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        return self.sample_seeded(prompts, params, [derive_seed(params.seed, i) for i in range(len(prompts))])

    @abc.abstractmethod
    def sample_seeded(
        self, prompts: Sequence[str], params: SamplingParams, seeds: Sequence[int]
    ) -> list[list[Completion]]: ...


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed (every backend accepts it) from any parts, e.g. base seed, task id, index."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1
