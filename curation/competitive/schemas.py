"""The four published row schemas, each read into one plain task dict.

A task dict is what enters the collect stage (JSON-serialisable, small: tests and
solutions are already capped). It is either a task

    {"task_id", "kind": "stdio" | "call" | "function", "statement", "fn_name",
     "starter_code", "tests": [[input, output], ...], "asserts": [...], "setup",
     "solutions": [...], "origin": {...}, "metadata": {...}}

or a reject `{"task_id", "reject": reason, "detail"}` for a row that cannot become one.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Callable

from curation.competitive.config import CompetitiveConfig
from curation.competitive.pysource import clean_source, python_version

LICENCES = {"apps": "MIT", "code_contests": "CC BY 4.0", "taco": "Apache-2.0", "mbpp": "CC BY 4.0"}
HOMEPAGES = {
    "apps": "https://github.com/hendrycks/apps",
    "code_contests": "https://github.com/google-deepmind/code_contests",
    "taco": "https://github.com/FlagOpen/TACO",
    "mbpp": "https://github.com/google-research/google-research/tree/master/mbpp",
}
REQUIRED = {
    "apps": ("problem_id", "question", "solutions", "input_output"),
    "taco": ("question", "solutions", "input_output"),
    "code_contests": ("name", "description", "public_tests", "solutions"),
    "mbpp": ("code", "test_list", "task_id"),
}
# CodeContests language codes (and the names some exports use instead)
_CC_PY3 = {3, "3", "PYTHON3", "python3"}
_CC_PY2 = {1, "1", "PYTHON", "python", "python2"}
_CC_SOURCES = {1: "CODECHEF", 2: "CODEFORCES", 3: "HACKEREARTH", 4: "CODEJAM", 5: "ATCODER", 6: "AIZU"}


class RowError(ValueError):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


def detect_schema(row: dict[str, Any]) -> str | None:
    keys = set(row)
    if {"description", "public_tests"} <= keys:
        return "code_contests"
    if {"code", "test_list"} <= keys:
        return "mbpp"
    if {"question", "input_output"} <= keys:
        return "apps" if "problem_id" in keys else "taco"
    return None


def read_row(schema: str, row: Any, split: str, index: int, config: CompetitiveConfig, where: str) -> dict[str, Any]:
    """One source row -> a task dict or a reject dict; never raises for bad data."""
    provisional = f"{schema}/{split}/{index}"
    if not isinstance(row, dict):
        return _reject(provisional, "malformed_row", f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [k for k in REQUIRED[schema] if row.get(k) is None]
    if missing:
        return _reject(provisional, "malformed_row", f"{where}: missing field(s) {', '.join(missing)}")
    try:
        return READERS[schema](row, split, index, config)
    except RowError as exc:
        return _reject(_task_id(schema, row, split, index), exc.reason, f"{where}: {exc.detail}")
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        return _reject(_task_id(schema, row, split, index), "malformed_row", f"{where}: {type(exc).__name__}: {exc}")


def _reject(task_id: str, reason: str, detail: str) -> dict[str, Any]:
    return {"task_id": task_id, "reject": reason, "detail": detail[:500]}


def _task_id(schema: str, row: dict[str, Any], split: str, index: int) -> str:
    try:
        if schema == "apps":
            return f"apps/{split}/{int(row['problem_id']):04d}"
        if schema == "code_contests":
            return f"code_contests/{split}/{str(row['name']).replace('/', '_')}"
        if schema == "mbpp":
            return f"mbpp/{int(row['task_id'])}"
    except (KeyError, TypeError, ValueError):
        pass
    return f"{schema}/{split}/{index:05d}"


# --- statements ----------------------------------------------------------------------------

_TAGS = re.compile(r"</?(?:p|br|div|span|pre|code|strong|em|b|i|u|ul|ol|li|h\d|table|tr|td|th|tbody|thead|hr|img|a|font|center|blockquote)\b[^>]*>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_statement(text: str) -> str:
    """Readable plain text: HTML tags dropped and entities decoded where the text is HTML;
    LaTeX and everything else kept as written."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4)
    if _TAGS.search(text) or re.search(r"&(?:lt|gt|amp|quot|nbsp|#\d+);", text):
        text = re.sub(r"<br\s*/?>", "\n", text, flags=re.I)
        text = re.sub(r"</?li\b[^>]*>", lambda m: "\n" if m.group(0).startswith("</") else "- ", text, flags=re.I)
        text = re.sub(r"</?(?:p|div|pre|h\d|ul|ol|table|tr|blockquote)\b[^>]*>", "\n", text, flags=re.I)
        text = re.sub(r"<sup>", "^", text, flags=re.I)
        text = _TAGS.sub("", re.sub(r"</?sup>", "", text, flags=re.I))
        text = html.unescape(text).replace("\xa0", " ")
    text = _CONTROL.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip()


# --- tests and solutions -------------------------------------------------------------------


def _as_text(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    if isinstance(value, str):
        return value
    raise RowError("malformed_row", f"a stdin/stdout test holds {type(value).__name__}, not text")


def select_tests(groups: list[tuple[str, list, list]], kind: str, config: CompetitiveConfig) -> tuple[list, dict]:
    """Up to `max_tests` (input, output) pairs, groups in order (examples first); oversized ones dropped."""
    available = sum(min(len(i), len(o)) for _, i, o in groups)
    if available == 0:
        raise RowError("no_tests", "the row has no tests")
    tests: list[list[Any]] = []
    counts: dict[str, int] = {}
    too_large = 0
    for origin, inputs, outputs in groups:
        if len(inputs) != len(outputs):
            raise RowError("malformed_row", f"{origin} tests: {len(inputs)} inputs but {len(outputs)} outputs")
        for given, expected in zip(inputs, outputs):
            if len(tests) >= config.max_tests:
                break
            if kind == "stdio":
                given, expected = _as_text(given), _as_text(expected)
                size = max(len(given), len(expected))
            else:
                size = len(json.dumps([given, expected], default=str))
            if size > config.max_test_chars:
                too_large += 1
                continue
            tests.append([given, expected])
            counts[origin] = counts.get(origin, 0) + 1
    if not tests:
        raise RowError("tests_too_large", f"all {too_large} tests exceed max_test_chars={config.max_test_chars}")
    return tests, {"tests": counts, "tests_available": available, "tests_too_large": too_large}


def select_solutions(solutions: list[Any], config: CompetitiveConfig, python2: int = 0) -> tuple[list[str], dict]:
    """The first `max_solutions_tried` Python 3 solutions; rejects a row with none."""
    kept: list[str] = []
    invalid = 0
    for sol in solutions:
        if len(kept) >= config.max_solutions_tried:
            break  # enough to try; the rest are not read (their counts below cover those read)
        if not isinstance(sol, str) or not sol.strip():
            invalid += 1
            continue
        version = python_version(clean_source(sol))
        if version == "py3":
            kept.append(clean_source(sol))
        elif version == "py2":
            python2 += 1
        else:
            invalid += 1
    if not kept:
        if python2:
            raise RowError("python2_only", f"{python2} Python 2 solution(s), {invalid} that do not parse, none in Python 3")
        raise RowError("no_python_solution", f"no Python solution ({invalid} that do not parse)")
    return kept, {"python2_solutions": python2, "unparsable_solutions": invalid}


def _json_field(row: dict[str, Any], name: str, default: Any) -> Any:
    value = row.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError("malformed_row", f"field {name} is not valid JSON: {exc}") from exc
    return value


# --- the schemas ---------------------------------------------------------------------------


def _io_task(dataset: str, task_id: str, row: dict[str, Any], split: str, config: CompetitiveConfig, extra: dict) -> dict:
    """APPS and TACO share `question`, `solutions` and `input_output` (both JSON strings)."""
    io = _json_field(row, "input_output", {})
    if not isinstance(io, dict):
        raise RowError("malformed_row", "input_output is not an object")
    fn_name = io.get("fn_name") or None
    kind = "call" if fn_name else "stdio"
    if fn_name is not None and not (isinstance(fn_name, str) and fn_name.isidentifier()):
        raise RowError("malformed_row", f"fn_name {fn_name!r} is not an identifier")
    inputs, outputs = io.get("inputs") or [], io.get("outputs") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise RowError("malformed_row", "input_output inputs/outputs are not lists")
    tests, test_meta = select_tests([("examples", inputs, outputs)], kind, config)
    solutions = _json_field(row, "solutions", [])
    if not isinstance(solutions, list):
        raise RowError("malformed_row", "solutions is not a list")
    kept, sol_meta = select_solutions(solutions, config)
    statement = clean_statement(str(row["question"]))
    if not statement:
        raise RowError("malformed_row", "empty statement")
    origin = {
        "dataset": dataset,
        "split": split,
        "id": extra.pop("original_id"),
        "url": row.get("url") or "",
        "difficulty": row.get("difficulty"),
        "licence": LICENCES[dataset],
        "homepage": HOMEPAGES[dataset],
    }
    metadata = {"difficulty": row.get("difficulty"), "kind": kind, "solutions_available": len(solutions),
                **test_meta, **sol_meta, **extra}
    return {"task_id": task_id, "kind": kind, "statement": statement, "fn_name": fn_name,
            "starter_code": row.get("starter_code") or "", "tests": tests, "asserts": [], "setup": "",
            "solutions": kept, "origin": origin, "metadata": metadata}


def read_apps(row: dict[str, Any], split: str, index: int, config: CompetitiveConfig) -> dict:
    task_id = _task_id("apps", row, split, index)
    return _io_task("apps", task_id, row, split, config, {"original_id": int(row["problem_id"])})


def read_taco(row: dict[str, Any], split: str, index: int, config: CompetitiveConfig) -> dict:
    extra = {k: row.get(k) for k in ("name", "source", "tags", "skill_types", "time_limit", "memory_limit") if row.get(k) not in (None, "")}
    extra["original_id"] = index
    return _io_task("taco", _task_id("taco", row, split, index), row, split, config, extra)


def _cc_tests(row: dict[str, Any], name: str) -> tuple[list, list]:
    tests = row.get(name) or {}
    if not isinstance(tests, dict):
        raise RowError("malformed_row", f"{name} is not an object with input/output lists")
    return list(tests.get("input") or []), list(tests.get("output") or [])


def read_code_contests(row: dict[str, Any], split: str, index: int, config: CompetitiveConfig) -> dict:
    task_id = _task_id("code_contests", row, split, index)
    groups = [(g, *_cc_tests(row, f"{g}_tests")) for g in ("public", "private", "generated")]
    tests, test_meta = select_tests(groups, "stdio", config)
    sols = row["solutions"]
    if not isinstance(sols, dict):
        raise RowError("malformed_row", "solutions is not an object with language/solution lists")
    languages, texts = list(sols.get("language") or []), list(sols.get("solution") or [])
    if len(languages) != len(texts):
        raise RowError("malformed_row", f"solutions: {len(languages)} languages but {len(texts)} solutions")
    py3 = [t for lang, t in zip(languages, texts) if lang in _CC_PY3]
    py2 = sum(1 for lang in languages if lang in _CC_PY2)
    if not py3 and py2:
        raise RowError("python2_only", f"{py2} PYTHON (Python 2) solution(s), none in PYTHON3")
    kept, sol_meta = select_solutions(py3, config, python2=py2)
    statement = clean_statement(str(row["description"]))
    source = row.get("source")
    name = str(row["name"])
    url = ""
    m = re.match(r"(\d+)_([A-Z]\d?)\.", name)
    if _CC_SOURCES.get(source) == "CODEFORCES" and m:
        url = f"https://codeforces.com/problemset/problem/{m.group(1)}/{m.group(2)}"
    origin = {"dataset": "code_contests", "split": split, "id": name, "url": url, "difficulty": row.get("difficulty"),
              "licence": LICENCES["code_contests"], "homepage": HOMEPAGES["code_contests"]}
    incorrect = row.get("incorrect_solutions") or {}
    metadata = {"difficulty": row.get("difficulty"), "kind": "stdio", "source": _CC_SOURCES.get(source, source),
                "cf_rating": row.get("cf_rating"), "tags": row.get("cf_tags"), "time_limit": row.get("time_limit"),
                "memory_limit_bytes": row.get("memory_limit_bytes"), "solutions_available": len(texts),
                "incorrect_solutions": len((incorrect.get("solution") or []) if isinstance(incorrect, dict) else []),
                **test_meta, **sol_meta}
    return {"task_id": task_id, "kind": "stdio", "statement": statement, "fn_name": None, "starter_code": "",
            "tests": tests, "asserts": [], "setup": "", "solutions": kept, "origin": origin, "metadata": metadata}


def mbpp_split(task_id: int) -> str:
    """The MBPP paper's split by task id."""
    if 1 <= task_id <= 10:
        return "prompt"
    if 11 <= task_id <= 510:
        return "test"
    if 511 <= task_id <= 600:
        return "validation"
    return "train"


def read_mbpp(row: dict[str, Any], split: str, index: int, config: CompetitiveConfig) -> dict:
    original = int(row["task_id"])
    task_id = f"mbpp/{original}"
    statement = clean_statement(str(row.get("text") or row.get("prompt") or ""))
    if not statement:
        raise RowError("malformed_row", "no statement (text or prompt)")
    public = [t for t in row["test_list"] if isinstance(t, str) and t.strip()]
    hidden = [t for t in (row.get("challenge_test_list") or []) if isinstance(t, str) and t.strip()]
    if not public and not hidden:
        raise RowError("no_tests", "test_list is empty")
    asserts = [clean_source(t).rstrip("\n") for t in (public + hidden)[: config.max_tests]]
    setup_parts = [str(row.get("test_setup_code") or ""), "\n".join(row.get("test_imports") or [])]
    setup = "\n".join(clean_source(p).rstrip("\n") for p in setup_parts if p.strip())
    kept, sol_meta = select_solutions([row["code"]], config)
    origin = {"dataset": "mbpp", "split": mbpp_split(original), "id": original, "url": HOMEPAGES["mbpp"],
              "licence": LICENCES["mbpp"], "homepage": HOMEPAGES["mbpp"]}
    metadata = {"kind": "function", "tests": {"test_list": min(len(public), config.max_tests),
                "challenge_test_list": max(0, min(len(hidden), config.max_tests - len(public)))},
                "tests_available": len(public) + len(hidden), **sol_meta}
    return {"task_id": task_id, "kind": "function", "statement": statement, "fn_name": None, "starter_code": "",
            "tests": [], "asserts": asserts, "setup": setup, "solutions": kept, "origin": origin, "metadata": metadata}


READERS: dict[str, Callable[..., dict]] = {
    "apps": read_apps,
    "taco": read_taco,
    "code_contests": read_code_contests,
    "mbpp": read_mbpp,
}
