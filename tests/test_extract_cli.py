"""`codexsd extract`: every file given ends as a record or a reject, runs resume, crashes are contained."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from codexsd.cli import main
from codexsd.core.record import Reject, iter_jsonl
from curation import extract as ex


def write_tree(root):
    files = {
        "pkg/__init__.py": b"",
        "pkg/good.py": b"import os\n\ndef here():\n    '''Where we are.'''\n    return os.getcwd()\n",
        "pkg/consts.py": b"X = 1\n",
        "pkg/sub/deep.py": b"class A:\n    def m(self):\n        return 1\n",
        "pkg/legacy.py": b'print "hello"\n',
        "pkg/broken.py": b"def f(:\n",
        "pkg/latin.py": "x = 'caf\xe9'\n".encode("latin-1"),
        "pkg/blob.py": b"\x00\x01\x02binary",
        "pkg/test_thing.py": b"def test_one():\n    assert 1 + 1 == 2\n",
        "pkg/build/skipped.py": b"def skipped():\n    pass\n",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_outputs(out):
    stem = out.with_name(out.name[: -len(".jsonl")])
    records = list(iter_jsonl(out))
    rejects = list(iter_jsonl(stem.with_name(stem.name + ".rejects.jsonl")))
    stats = json.loads(stem.with_name(stem.name + ".stats.json").read_text())
    return records, rejects, stats


def test_every_file_is_a_record_or_a_reject(tmp_path, capsys):
    write_tree(tmp_path / "src")
    out = tmp_path / "out" / "functions.jsonl"
    rc = main(["extract", str(tmp_path / "src"), "-o", str(out), "--exclude", "build", "--workers", "2", "--no-progress"])
    assert rc == 0
    records, rejects, stats = read_outputs(out)
    names = lambda rows, key: sorted(os.path.basename(r[key]) for r in rows)  # noqa: E731
    assert names(records, "path") == ["consts.py", "deep.py", "good.py", "test_thing.py"]
    assert {os.path.basename(r["id"]): r["reason"] for r in rejects} == {
        "__init__.py": "empty",
        "legacy.py": "python2",
        "broken.py": "syntax_error",
        "latin.py": "not_utf8",
        "blob.py": "binary",
    }
    assert stats["files"] == 9 == stats["records"] + stats["rejected"]
    assert (stats["functions"], stats["tests"], stats["files_without_functions"]) == (3, 1, 1)
    good = next(r for r in records if r["path"].endswith("good.py"))["functions"][0]
    assert (good["qualname"], good["docstring"], good["imports"]) == ("here", "Where we are.", ["import os"])
    assert not out.with_name(out.name + ".partial").exists()
    assert "9 files" in capsys.readouterr().err


def test_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    write_tree(tmp_path / "src")
    clean = tmp_path / "clean.jsonl"
    assert main(["extract", str(tmp_path / "src"), "-o", str(clean), "--workers", "1", "--no-progress"]) == 0

    real = ex.extract_many
    seen: list[int] = []

    def interrupted(paths, **kw):
        for i, outcome in enumerate(real(paths, **kw)):
            if i == 4:
                raise KeyboardInterrupt
            yield outcome

    def counting(paths, **kw):
        seen.append(len(paths))
        yield from real(paths, **kw)

    out = tmp_path / "resumed.jsonl"
    args = ["extract", str(tmp_path / "src"), "-o", str(out), "--workers", "1", "--no-progress"]
    monkeypatch.setattr(ex, "extract_many", interrupted)
    assert main(args) == 130
    assert not out.exists() and out.with_name("resumed.jsonl.partial").exists()
    monkeypatch.setattr(ex, "extract_many", counting)
    assert main(args) == 0
    assert seen == [10 - 4]  # only the files not done before
    assert read_outputs(out) == read_outputs(clean)


def test_missing_path_is_a_clear_error(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "nope"), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def _crash_on(path):
    real = _crash_on.real
    if str(path).endswith("crash.py"):
        os._exit(3)  # as a segfault in native code would
    return real(path)


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="patching workers needs fork")
def test_a_file_that_kills_its_worker_becomes_a_crashed_reject(tmp_path, monkeypatch):
    paths = []
    for name in ["a.py", "b.py", "crash.py", "c.py", "d.py", "e.py"]:
        (tmp_path / name).write_text("def f():\n    return 1\n")
        paths.append(str(tmp_path / name))
    _crash_on.real = ex.extract_file
    monkeypatch.setattr(ex, "extract_file", _crash_on)
    outcomes = list(ex.extract_many(paths, workers=2, chunk_size=2))
    assert [o.id if isinstance(o, Reject) else o.path for o in outcomes] == paths
    crashed = [o for o in outcomes if isinstance(o, Reject)]
    assert [(os.path.basename(o.id), o.reason) for o in crashed] == [("crash.py", "crashed")]
