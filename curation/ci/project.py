"""Fetch a project, install it with its test dependencies into its own venv, find its test command.

A PROJECT is a local source tree, a git URL or checkout, or `pypi:NAME[==VERSION]` (the
sdist, fetched with pip and unpacked). The tree is copied into the work directory, a
fresh virtual environment gets the project (not editable), its test extras, tox deps,
test requirement files and pytest. The test command comes from `--test-command`, else
tox (tox.ini, setup.cfg, pyproject), else .travis.yml, else pytest.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from curation.ci.runner import TraceJob, TraceTarget

log = logging.getLogger(__name__)

TEST_EXTRAS = "test,tests,testing"
TEST_REQUIREMENT_FILES = ("requirements-test.txt", "requirements-tests.txt", "requirements_test.txt",
                          "test-requirements.txt", "test_requirements.txt", "requirements/test.txt",
                          "requirements/tests.txt", "tests/requirements.txt", "requirements-testing.txt",
                          "requirements/testing.txt", "test/requirements.txt", "requirements-test.in")
DEPENDENCY_GROUPS = ("test", "tests", "testing")
SKIP_DIRS = {".git", ".tox", ".nox", ".venv", "venv", "env", "build", "dist", "site-packages", "__pycache__",
             "node_modules", ".eggs", "docs", "doc", "examples", "benchmarks"}
TEST_DIRS = {"test", "tests", "testing"}
UNITTEST_NAMES = ("tests.py", "test.py")  # test modules pytest does not collect by default


class ProjectError(RuntimeError):
    """A project that cannot be traced; `reason` becomes the reject reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Project:
    spec: str
    slug: str
    src: Path
    origin: dict


def project_slug(spec: str) -> str:
    if spec.startswith("pypi:"):
        base = spec[5:]
    else:
        base = Path(spec.rstrip("/")).name.removesuffix(".git") or "project"
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-")[:60]
    return f"{clean}-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"


def _run(argv: list[str], timeout: float, cwd: Path | None = None, reason: str = "install_failed") -> str:
    try:
        r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ProjectError(reason, f"`{' '.join(argv[:6])} ...` ran past {timeout:.0f}s") from exc
    except OSError as exc:
        raise ProjectError(reason, f"cannot run {argv[0]}: {exc}") from exc
    if r.returncode != 0:
        raise ProjectError(reason, f"`{' '.join(argv[:6])} ...` exit {r.returncode}: {(r.stderr or r.stdout)[-800:]}")
    return r.stdout


def _is_git_url(spec: str) -> bool:
    return spec.startswith(("git+", "git@", "git://", "ssh://")) or (
        spec.startswith(("https://", "http://")) and (spec.endswith(".git") or "github.com" in spec or "gitlab" in spec))


def fetch(spec: str, work: Path, timeout: float) -> Project:
    """Copy, clone or download PROJECT into `work/src`."""
    slug = project_slug(spec)
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    work.mkdir(parents=True, exist_ok=True)
    if spec.startswith("pypi:"):
        return _fetch_pypi(spec, slug, work, timeout)
    if _is_git_url(spec):
        url = spec.removeprefix("git+")
        _run(["git", "clone", "--quiet", "--depth", "1", url, str(src)], timeout, reason="fetch_failed")
        return Project(spec, slug, src, {"project": Path(url).name.removesuffix(".git"), "url": url,
                                         "revision": _git_revision(src), **_licence_of(src)})
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ProjectError("fetch_failed", f"{spec} is neither a directory, a git URL nor pypi:NAME")
    shutil.copytree(path, src, ignore=shutil.ignore_patterns(*SKIP_DIRS - {"docs", "doc", "examples", "benchmarks"},
                                                           "*.pyc"), symlinks=True)
    return Project(spec, slug, src, {"project": path.resolve().name, "url": str(path.resolve()),
                                     "revision": _git_revision(path), **_licence_of(path)})


def _fetch_pypi(spec: str, slug: str, work: Path, timeout: float) -> Project:
    req = spec[5:]
    dl = work / "download"
    shutil.rmtree(dl, ignore_errors=True)
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "--dest",
                str(dl), req]
    try:  # this interpreter's setuptools prepares the metadata: no build backend to download
        _run(download[:4] + ["--no-build-isolation"] + download[4:], timeout, reason="fetch_failed")
    except ProjectError:
        _run(download, timeout, reason="fetch_failed")
    archives = sorted(dl.iterdir())
    if not archives:
        raise ProjectError("fetch_failed", f"pip downloaded no sdist for {req}")
    unpacked = work / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    archive = archives[0]
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(unpacked)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(unpacked, filter="data")
    tops = [p for p in unpacked.iterdir() if p.is_dir()]
    root = tops[0] if len(tops) == 1 else unpacked
    shutil.move(str(root), str(work / "src"))
    src = work / "src"
    name, version = _pkg_info(src)
    return Project(spec, slug, src, {"project": name or req.split("==")[0], "version": version,
                                     "revision": version, "url": f"https://pypi.org/project/{name or req}/",
                                     "sdist": archive.name, **_licence_of(src)})


def _pkg_info(src: Path) -> tuple[str, str]:
    fields: dict[str, str] = {}
    info = src / "PKG-INFO"
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields.get("Name", ""), fields.get("Version", "")


def _licence_of(src: Path) -> dict:
    info = src / "PKG-INFO"
    text = info.read_text(errors="replace") if info.is_file() else ""
    m = re.search(r"^License-Expression:\s*(.+)$", text, re.M) or re.search(r"^License:\s*(\S.{0,60})$", text, re.M)
    classifier = re.search(r"^Classifier: License :: (?:OSI Approved :: )?(.+)$", text, re.M)
    licence = (m.group(1).strip() if m and m.group(1).strip().upper() != "UNKNOWN" else "") or (
        classifier.group(1).strip() if classifier else "")
    if not licence:
        for name in ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "LICENCE"):
            if (src / name).is_file():
                first = next((ln.strip() for ln in (src / name).read_text(errors="replace").splitlines() if ln.strip()), "")
                licence = first[:80]
                break
    return {"licence": licence or "unknown"}


def _git_revision(path: Path) -> str:
    try:
        r = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


# -- test command -----------------------------------------------------------------------------
def _tox_section(src: Path) -> tuple[list[str], list[str]]:
    """(commands, deps) of tox's [testenv], from tox.ini, setup.cfg or pyproject's legacy_tox_ini."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    text = ""
    if (src / "tox.ini").is_file():
        text = (src / "tox.ini").read_text(errors="replace")
    elif (src / "pyproject.toml").is_file():
        import tomllib

        try:
            text = tomllib.loads((src / "pyproject.toml").read_text(errors="replace")).get("tool", {}).get(
                "tox", {}).get("legacy_tox_ini", "")
        except tomllib.TOMLDecodeError:
            text = ""
    try:
        parser.read_string(text)
        if not text and (src / "setup.cfg").is_file():
            parser.read_string((src / "setup.cfg").read_text(errors="replace").replace("[tox:tox]", "[tox]"))
    except configparser.Error:
        return [], []
    if not parser.has_section("testenv"):
        return [], []
    lines = lambda key: _logical_lines(parser.get("testenv", key, fallback=""))  # noqa: E731
    unfactor = lambda c: re.sub(r"^[\w,\-!{}]+:\s*", "", c) if re.match(r"^[\w,\-!{}]+:\s", c) else c  # noqa: E731
    return [unfactor(c) for c in lines("commands")], [unfactor(d) for d in lines("deps")]


def _logical_lines(text: str) -> list[str]:
    """Non-empty lines of an ini value, with lines ending in a backslash joined to the next."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = re.sub(r"\s+#.*$", "", raw).strip()  # an inline comment, as tox strips it
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line and not line.startswith("#"):
            out.append(line)
    if pending.strip():
        out.append(pending.strip())
    return out


def _tox_toml_commands(src: Path) -> list[str]:
    """tox 4's native TOML: `[tool.tox.env_run_base] commands = [["pytest", ...]]` (or tox.toml's env_run_base)."""
    import tomllib

    out = []
    for path, prefix in ((src / "tox.toml", ()), (src / "pyproject.toml", ("tool", "tox"))):
        try:
            data = tomllib.loads(_read(path)) if path.is_file() else {}
        except (tomllib.TOMLDecodeError, ValueError):
            continue
        for key in prefix:
            data = data.get(key, {}) if isinstance(data, dict) else {}
        base = data.get("env_run_base", {}) if isinstance(data, dict) else {}
        for command in base.get("commands", []) if isinstance(base, dict) else []:
            if isinstance(command, list) and all(isinstance(t, str) for t in command):
                out.append(shlex.join(command))
    return out


def _nox_commands(src: Path) -> list[str]:
    """`session.run("pytest", ...)` calls of noxfile.py whose arguments are all string literals."""
    import ast

    path = src / "noxfile.py"
    try:
        tree = ast.parse(path.read_text(errors="replace")) if path.is_file() else None
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree) if tree else ():
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"
                and node.args and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)):
            out.append(shlex.join(a.value for a in node.args))
    return out


def _makefile_commands(src: Path) -> list[str]:
    """Recipe lines of a Makefile that run pytest or unittest (make variables dropped)."""
    for name in ("Makefile", "makefile", "GNUmakefile"):
        path = src / name
        if path.is_file():
            lines = [ln.strip().lstrip("@-").strip() for ln in path.read_text(errors="replace").splitlines()
                     if ln.startswith("\t")]
            lines = [re.sub(r"\$[({]\w*PYTHON\w*[)}]", "python", ln, flags=re.I) for ln in lines]
            return [re.sub(r"\$[({][^)}]*[)}]", "", ln) for ln in lines if re.search(r"pytest|unittest", ln)]
    return []


def _has_pytest_config(src: Path) -> bool:
    if (src / "pytest.ini").is_file() or "[tool:pytest]" in _read(src / "setup.cfg") or "[pytest]" in _read(
            src / "tox.ini"):
        return True
    return "[tool.pytest" in _read(src / "pyproject.toml")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def _travis_commands(src: Path) -> list[str]:
    path = src / ".travis.yml"
    if not path.is_file():
        return []
    import yaml

    try:
        data = yaml.safe_load(path.read_text(errors="replace")) or {}
    except yaml.YAMLError:
        return []
    script = data.get("script", []) if isinstance(data, dict) else []
    return [script] if isinstance(script, str) else [s for s in script if isinstance(s, str)]


DOC_SUFFIXES = (".rst", ".md", ".txt")


def command_argv(command: str) -> list[str] | None:
    """`python` arguments for a pytest/unittest command line, or None when it is neither (or does not parse)."""
    # tox's `{posargs:DEFAULT}` is DEFAULT when no arguments are given (as here); `{posargs}` is nothing
    command = re.sub(r"\{posargs(?::([^{}]*))?\}", lambda m: m.group(1) or "", command)
    try:
        tokens = shlex.split(command.replace("\\\n", " "))
    except ValueError as exc:
        log.warning("test command %r does not parse (%s): trying the next one", command[:200], exc)
        return None
    tokens = [t for t in tokens if t and "{posargs" not in t and t not in ("\\", "--")]
    tokens = [t.replace("{toxinidir}/", "").replace("{toxinidir}", ".") for t in tokens]
    while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
        tokens.pop(0)
    if tokens[:1] == ["coverage"] and "-m" in tokens:
        tokens = ["python"] + tokens[tokens.index("-m"):]
    if tokens and tokens[0] in ("pytest", "py.test"):
        tokens = ["python", "-m", "pytest"] + tokens[1:]
    if len(tokens) < 3 or not re.match(r"^(python[\d.]*|\{envpython\})$", Path(tokens[0]).name) or tokens[1] != "-m":
        return None
    if tokens[2] in ("pytest", "py.test"):
        rest, skip = [], False
        for t in tokens[3:]:
            if skip:
                skip = False
                continue
            if t in ("-n", "--numprocesses", "--cov", "--cov-report", "--cov-config", "--cov-context", "--cov-fail-under",
                     "--cov-precision", "-p", "--dist"):
                skip = True
                continue
            if t.startswith(("--cov", "-n=", "--numprocesses", "--dist", "--doctest")) or "{" in t:
                continue
            rest.append(t)
        paths = [t for t in rest if not t.startswith("-")]
        if paths and all(Path(t).suffix in DOC_SUFFIXES for t in paths):
            return None  # doctests of documents only (`pytest README.rst`): the suite is another command
        return ["-m", "pytest"] + rest
    if tokens[2] == "unittest":
        return ["-m", "unittest"] + tokens[3:]
    return None


def find_test_command(src: Path, override: str = "") -> tuple[list[str], str]:
    """(python arguments, where they came from): --test-command, else tox, nox, Makefile, .travis.yml, else a
    default from the layout (pytest when there are pytest-style test files or pytest config, else unittest)."""
    if override:
        argv = command_argv(override)
        if argv is None:
            raise ProjectError("unsupported_test_command", f"{override!r}: give a pytest or `python -m unittest` command")
        return argv, "--test-command"
    try:
        tox_commands, _ = _tox_section(src)
    except Exception as exc:  # noqa: BLE001 - an unreadable config is a fallback, never a crash
        log.warning("%s: tox configuration unreadable (%s): falling back", src, exc)
        tox_commands = []
    sources = (("tox", lambda: tox_commands), ("tox (toml)", lambda: _tox_toml_commands(src)),
               ("noxfile.py", lambda: _nox_commands(src)),
               ("Makefile", lambda: _makefile_commands(src)), (".travis.yml", lambda: _travis_commands(src)))
    for source, commands in sources:
        try:
            found = commands()
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: %s unreadable (%s): falling back", src, source, exc)
            continue
        for command in found:
            argv = command_argv(command)
            if argv is not None:
                return argv, source
    files = _python_files(src)
    if any(_is_pytest_file(f.name) or f.name in UNITTEST_NAMES for f in files) or _has_pytest_config(src):
        return ["-m", "pytest"], "default (pytest; it runs unittest TestCases too)"
    if any(f.name.startswith("test") and f.suffix == ".py" for f in files):
        return ["-m", "unittest"], "default (unittest: no pytest-style test files)"
    return ["-m", "pytest"], "default (pytest)"


def is_test_file(rel: Path) -> bool:
    name = rel.name
    return (name.startswith("test_") or name.endswith("_test.py") or name in ("conftest.py", "testing.py")
            or name in UNITTEST_NAMES or any(part in TEST_DIRS for part in rel.parts[:-1]))


def _python_files(src: Path) -> list[Path]:
    out = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if not any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            out.append(rel)
    return out


def split_jobs(src: Path, argv: list[str], files_per_job: int = 1) -> list[TraceJob]:
    """One job per test file (so each has its own time budget) for pytest and unittest discovery; pytest
    jobs take `files_per_job` files each (fewer interpreter and pytest start-ups on large suites)."""
    if argv[:2] == ["-m", "unittest"]:
        return _split_unittest(src, argv)
    if argv[:2] != ["-m", "pytest"]:
        return [TraceJob(" ".join(argv), tuple(argv), whole_suite=True)]
    paths = [a for a in argv[2:] if not a.startswith("-") and (src / a.split("::")[0]).exists()]
    opts = [a for a in argv[2:] if a not in paths]
    roots = [src / p for p in paths] or [src]
    found = [f for f in _python_files(src) if any((src / f).is_relative_to(r) or src / f == r for r in roots)]
    files = sorted({str(f) for f in found if _is_pytest_file(f.name)})
    # tests.py / test.py inside a package: pytest collects them only when named on its command line
    files += sorted({str(f) for f in found if f.name in UNITTEST_NAMES and str(f) not in files})
    # the ini file's addopts often need plugins that are not installed (--cov...): tracing does not need them,
    # but its doctest options are kept: doctests call the project's functions with plain values
    ini = [*_ini_addopts(src), *opts]
    globs, modules = _doctest_options(ini)
    doctests = _doctest_files(src, roots, globs, modules)
    files += [f for f in doctests if f not in files]
    ignored = _option_values(ini, "--ignore")
    files = [f for f in files if not any(f == i or f.startswith(i.rstrip("/") + "/") for i in ignored)]
    base = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--continue-on-collection-errors",
            *[o for o in opts if not o.startswith("--doctest-")],
            *(f"--doctest-glob={g}" for g in globs), *(["--doctest-modules"] if modules else [])]
    if not files:
        return [TraceJob(" ".join(argv), tuple(base + paths), whole_suite=True)]
    groups = [files[i:i + files_per_job] for i in range(0, len(files), max(1, files_per_job))]
    return [TraceJob(" ".join(g), tuple(base + g)) for g in groups]


def _ini_addopts(src: Path) -> list[str]:
    """pytest's `addopts` from pytest.ini, pyproject.toml, tox.ini or setup.cfg (the first that has a section)."""
    import tomllib

    try:
        table = tomllib.loads(_read(src / "pyproject.toml")).get("tool", {}).get("pytest", {}).get("ini_options")
    except tomllib.TOMLDecodeError:
        table = None
    candidates = [(src / "pytest.ini", "pytest"), (None, table), (src / "tox.ini", "pytest"),
                  (src / "setup.cfg", "tool:pytest")]
    for path, section in candidates:
        if path is None:
            if isinstance(section, dict):
                value = section.get("addopts", "")
                return [str(v) for v in value] if isinstance(value, list) else _split_words(str(value))
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(_read(path))
        except configparser.Error:
            continue
        if parser.has_section(section):
            return _split_words(parser.get(section, "addopts", fallback=""))
    return []


def _split_words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:  # an unbalanced quote: the words as they stand
        return text.split()


def _option_values(opts: list[str], name: str) -> list[str]:
    """The values given to the pytest option `name` (`--name=V` or `--name V`), unquoted."""
    values = []
    for i, opt in enumerate(opts):
        if opt.startswith(name + "="):
            values.append(opt.split("=", 1)[1])
        elif opt == name and i + 1 < len(opts):
            values.append(opts[i + 1])
    return [v.strip("'\"") for v in values if v.strip("'\"")]


def _doctest_options(opts: list[str]) -> tuple[list[str], bool]:
    """(--doctest-glob patterns, whether --doctest-modules is on) among pytest options."""
    return _option_values(opts, "--doctest-glob"), "--doctest-modules" in opts


def _doctest_files(src: Path, roots: list[Path], globs: list[str], modules: bool) -> list[str]:
    """Files pytest would run doctests from: text files matching `globs`, and with --doctest-modules the
    modules of the project's packages that hold an example (`>>> `), tests and setup scripts left out."""
    import fnmatch

    out = []
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(src)
            if not path.is_file() or any(p in SKIP_DIRS or p.startswith(".") for p in rel.parts[:-1]):
                continue
            if path.suffix != ".py" and any(fnmatch.fnmatch(path.name, g) for g in globs):
                out.append(str(rel))
            elif (modules and path.suffix == ".py" and (path.parent / "__init__.py").is_file()
                  and not _is_pytest_file(path.name) and path.name not in (*UNITTEST_NAMES, "conftest.py", "setup.py")
                  and not any(p in ("tests", "test", "testing", "docs", "examples") for p in rel.parts[:-1])
                  and ">>> " in _read(path)):
                out.append(str(rel))
    return sorted(set(out))


def _is_pytest_file(name: str) -> bool:
    """pytest's default `python_files`: test_*.py and *_test.py."""
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _split_unittest(src: Path, argv: list[str]) -> list[TraceJob]:
    rest = argv[2:]
    if rest and all(a.startswith("-") for a in rest):  # `python -m unittest -v`: discovery, with options
        rest = ["discover"]
    if rest[:1] not in ([], ["discover"]):
        return [TraceJob(" ".join(argv), tuple(argv), whole_suite=True)]  # named test modules: run as given
    opts = {"-s": ".", "-p": "test*.py", "-t": None}
    args = rest[1:]
    positional = [a for a in args if not a.startswith("-")]
    for flag, value in zip(args, args[1:]):
        if flag in opts or flag in ("--start-directory", "--pattern", "--top-level-directory"):
            key = {"--start-directory": "-s", "--pattern": "-p", "--top-level-directory": "-t"}.get(flag, flag)
            opts[key] = value
    if not any(a.startswith("-") for a in args):  # positional form: discover [start [pattern [top]]]
        for key, value in zip(("-s", "-p", "-t"), positional):
            opts[key] = value
    start = src / opts["-s"]
    files = sorted(p for p in start.rglob(opts["-p"]) if p.is_file() and p.suffix == ".py"
                   and not any(part in SKIP_DIRS for part in p.relative_to(src).parts[:-1]))
    if not files:
        return [TraceJob(" ".join(argv), tuple(argv), whole_suite=True)]
    jobs = []
    for f in files:
        top = opts["-t"] or _import_root(src, f.parent)
        top_args = ["-t", top] if top and top != str(f.parent.relative_to(src)) else []
        jobs.append(TraceJob(str(f.relative_to(src)), ("-m", "unittest", "discover", "-s",
                                                        str(f.parent.relative_to(src)), "-p", f.name, *top_args)))
    return jobs


def _import_root(src: Path, folder: Path) -> str:
    """The directory from which `folder` imports as a package (the first ancestor without __init__.py)."""
    while folder != src and (folder / "__init__.py").is_file():
        folder = folder.parent
    return str(folder.relative_to(src)) if folder != src else "."


# -- environment ------------------------------------------------------------------------------
def source_files(project: Project) -> list[str]:
    """The project's own (non-test) Python files in its source tree."""
    return [str(project.src / f) for f in _python_files(project.src) if not is_test_file(f)
            and f.name not in ("setup.py", "noxfile.py", "fabfile.py")]


def install(project: Project, work: Path, timeout: float, with_pytest: bool = True) -> tuple[str, list[str], list[str]]:
    """Create `work/venv` with the project and its test dependencies; returns (python, project files, top-level
    packages): only calls into those files and packages are recorded, whatever path the tests import them from."""
    venv = work / "venv"
    if venv.exists():
        shutil.rmtree(venv)
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], 120)
    python = str(venv / "bin" / "python")
    _, tox_deps = _tox_section(project.src)
    own = _canonical(project.origin.get("project", ""))
    deps = [d for d in tox_deps + _dependency_groups(project.src) if not d.startswith(("-", ".")) and "{" not in d
            and _canonical(re.split(r"[\s\[<>=!~;@]", d, maxsplit=1)[0]) != own]  # not the project itself from PyPI
    reqs = [f for f in TEST_REQUIREMENT_FILES if (project.src / f).is_file()]
    for dep in tox_deps:  # `-r{toxinidir}/requirements-test.txt`
        if dep.startswith("-r"):
            name = dep[2:].strip().replace("{toxinidir}/", "")
            if "{" not in name and (project.src / name).is_file() and name not in reqs:
                reqs.append(name)
    report = work / "pip-report.json"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--disable-pip-version-check",
           "--report", str(report)]
    pytest = ["pytest"] if with_pytest else []
    target = _built_wheel(project, work, timeout) or str(project.src)
    full = pip + [f"{target}[{TEST_EXTRAS}]", *pytest, *deps] + [a for r in reqs for a in ("-r", str(project.src / r))]
    try:
        _run(full, timeout)
    except ProjectError as first:
        log.warning("%s: installing with test dependencies failed (%s); retrying with the project and pytest only",
                    project.spec, first.detail[-200:])
        _run(pip + [target, *pytest], timeout)
    dist = _requested_dist(report, target)
    listing = json.loads(_run([python, "-c", _LIST_FILES, dist], 120)) if dist else {"files": [], "packages": []}
    files = [f for f in listing["files"] if not is_test_file(Path(f))]
    tree = source_files(project)
    packages = sorted(set(listing["packages"]) | set(top_level_names(project.src, tree)))
    if dist:
        project.origin.setdefault("distribution", dist)
    return python, files + tree, packages


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dependency_groups(src: Path) -> list[str]:
    """The requirements of pyproject's [dependency-groups] test/tests/testing (PEP 735)."""
    import tomllib

    try:
        groups = tomllib.loads(_read(src / "pyproject.toml")).get("dependency-groups", {})
    except (tomllib.TOMLDecodeError, ValueError):
        return []
    return [r for g in DEPENDENCY_GROUPS for r in groups.get(g, []) if isinstance(r, str)] if isinstance(groups, dict) else []


def _built_wheel(project: Project, work: Path, timeout: float) -> str | None:
    """A wheel built with this interpreter's setuptools (no isolated build env to download), or None."""
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    try:
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
              str(wheels), str(project.src)], timeout)
    except ProjectError:
        return None
    built = sorted(wheels.glob("*.whl"))
    return str(built[0]) if built else None


_LIST_FILES = (
    "import importlib.metadata as m, json, sys\n"
    "d = m.distribution(sys.argv[1])\n"
    "fs = [f for f in (d.files or []) if str(f).endswith('.py') and '..' not in f.parts]\n"
    "print(json.dumps({'files': [str(f.locate()) for f in fs],\n"
    "                  'packages': sorted({f.parts[0].removesuffix('.py') for f in fs})}))\n"
)


def top_level_names(src: Path, files: list[str]) -> list[str]:
    """Top-level module names of the project's files in its source tree (src/ layout or flat)."""
    names = set()
    for f in files:
        path = Path(f)
        if not path.is_relative_to(src):
            continue
        rel = path.relative_to(src)
        parts = rel.parts[1:] if rel.parts[0] in ("src", "lib", "python") and len(rel.parts) > 1 else rel.parts
        if parts and parts[0].isidentifier() or parts and parts[0].removesuffix(".py").isidentifier():
            names.add(parts[0].removesuffix(".py"))
    return sorted(names)


def _requested_dist(report: Path, target: str) -> str:
    """The name of the distribution pip installed from `target` (the project's wheel or tree).

    Matched by URL: with a local package index every requested item (pytest, a plugin such as
    pytest-cov) has a file:// URL too, and taking the first of those traced the plugin."""
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return ""
    want = Path(target).resolve()
    for item in data.get("install", []):
        url = item.get("download_info", {}).get("url", "")
        if url.startswith("file://"):
            from urllib.parse import unquote, urlparse

            if Path(unquote(urlparse(url).path)).resolve() == want:
                return item.get("metadata", {}).get("name", "")
    return ""


def project_target(project: Project, work: Path, config) -> TraceTarget:
    """Install (unless `config.install` is off: then this interpreter runs the tests from the tree) and plan jobs."""
    argv, where = find_test_command(project.src, config.test_command)
    project.origin["test_command"] = f"python {' '.join(argv)}  ({where})"
    jobs = split_jobs(project.src, argv, config.files_per_job)
    if not any(is_test_file(f) and f.name != "conftest.py" for f in _python_files(project.src)):
        raise ProjectError("no_tests", f"{project.spec} ships no test files (test_*.py, *_test.py, tests.py, tests/)")
    if not config.install:
        files = source_files(project)
        return TraceTarget(python=sys.executable, cwd=str(project.src), jobs=jobs, files=files,
                           packages=top_level_names(project.src, files))
    python, files, packages = install(project, work, config.install_timeout,
                                      with_pytest=any(j.target[:2] == ("-m", "pytest") for j in jobs))
    project.origin["packages"] = packages
    venv = str(Path(python).parent.parent)
    return TraceTarget(python=python, cwd=str(project.src), jobs=jobs, files=files, packages=packages,
                       env={"VIRTUAL_ENV": venv, "PATH": f"{venv}/bin:" + os.environ.get("PATH", "")})


# import names whose distribution is called otherwise
DIST_OF_MODULE = {"yaml": "pyyaml", "PIL": "pillow", "dateutil": "python-dateutil", "bs4": "beautifulsoup4",
                  "sklearn": "scikit-learn", "cv2": "opencv-python", "attr": "attrs", "jwt": "pyjwt",
                  "Crypto": "pycryptodome", "google": "protobuf", "magic": "python-magic"}


def missing_modules(details: list[str], own: list[str], tree: Path | None = None) -> list[str]:
    """Top-level modules the test runs could not import: not the project's own, nor a folder or module
    of its source `tree` (`tests`, `helpers`: a test helper that did not import is no PyPI package)."""
    local = set()
    if tree is not None:
        for depth in ("*", "*/*"):
            local.update(p.stem for p in tree.glob(depth) if p.suffix == ".py" or (p.is_dir() and p.name.isidentifier()))
    names = set()
    for detail in details:
        for name in re.findall(r"No module named '([\w.]+)'", detail):
            top = name.split(".")[0]
            if top not in own and top not in local and not top.startswith("_"):
                names.add(top)
    return sorted(names)


def install_more(python: str, modules: list[str], timeout: float) -> list[str]:
    """pip-install the distributions of `modules` into the project's venv; returns what was installed."""
    dists = [DIST_OF_MODULE.get(m, m) for m in modules]
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--disable-pip-version-check",
          *dists], timeout)
    return dists
