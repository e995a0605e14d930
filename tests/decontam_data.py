"""Real benchmark rows (tests/data, HumanEval from its package) as collected Problems, and a light rewording."""

from __future__ import annotations

import ast
import dataclasses
import gzip
import json
import re
import warnings
from pathlib import Path

from codexsd.core.record import Problem

# A light paraphrase: the common verbs and nouns of problem statements swapped for synonyms.
SYNONYMS = {"write": "create", "function": "routine", "find": "compute", "given": "provided", "return": "output",
            "returns": "outputs", "check": "determine", "whether": "if"}


def mbpp_rows(data: Path) -> list[dict]:
    return [json.loads(line) for line in open(data / "mbpp.jsonl", encoding="utf-8")]


def humaneval_rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def mbpp_problem(row: dict, prefix: str = "collected/mbpp") -> Problem:
    """An MBPP row as a HumanEval-style problem: the statement becomes the docstring."""
    code = row["code"].replace("\r\n", "\n").replace("\t", "    ")
    m = re.search(r"([A-Za-z_]\w*)\s*\(", row["test_list"][0].split("assert", 1)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # MBPP regexes like "\\A" in plain strings
        warnings.simplefilter("ignore", DeprecationWarning)
        tree = ast.parse(code)
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    fn = next((n for n in fns if m and n.name == m.group(1)), fns[-1])
    lines = code.split("\n")
    first = fn.body[0]
    head = "\n".join(lines[: first.lineno - 1] + [lines[first.lineno - 1][: first.col_offset]]).rstrip()
    indent = " " * (fn.col_offset + 4)
    prompt = f'{head}\n{indent}"""{row["text"]}"""\n'
    body = indent + lines[first.lineno - 1][first.col_offset :] + "\n" + "\n".join(lines[first.lineno :]).rstrip() + "\n"
    test = "def check(candidate):\n" + "".join(f"    {t.replace(fn.name + '(', 'candidate(')}\n" for t in row["test_list"])
    return Problem(task_id=f"{prefix}/{row['task_id']}", prompt=prompt, canonical_solution=body, test=test,
                   entry_point=fn.name, source="competitive", docstring=row["text"], body=body)


def humaneval_problem(row: dict, prefix: str = "collected/he") -> Problem:
    return Problem(task_id=f"{prefix}/{row['task_id']}", prompt=row["prompt"], canonical_solution=row["canonical_solution"],
                   test=row["test"], entry_point=row["entry_point"])


def apps_problems(data: Path) -> list[Problem]:
    out = []
    for line in open(data / "apps_train.jsonl", encoding="utf-8"):
        r = json.loads(line)
        out.append(Problem(task_id=f"apps/{r['problem_id']}", prompt=f'def solve(stdin: str) -> str:\n    """{r["question"]}"""\n',
                           canonical_solution=json.loads(r["solutions"])[0], test="", entry_point="solve"))
    return out


def reword_text(text: str) -> str:
    return re.sub(r"[A-Za-z]+", lambda m: SYNONYMS.get(m.group(0).lower(), m.group(0)), text)


def reword(p: Problem, new_name: str = "solve_task") -> Problem:
    """Synonyms in the docstring, and the function renamed everywhere."""
    rename = lambda s: re.sub(rf"\b{re.escape(p.entry_point)}\b", new_name, s)  # noqa: E731
    prompt = re.sub(r'("""|\'\'\')(.*?)\1', lambda m: m.group(1) + reword_text(m.group(2)) + m.group(1), p.prompt, flags=re.S)
    return dataclasses.replace(p, task_id=p.task_id + "/reworded", prompt=rename(prompt), canonical_solution=rename(p.canonical_solution),
                               test=rename(p.test), entry_point=new_name, docstring=reword_text(p.docstring))
