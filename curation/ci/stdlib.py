"""The default source: the running interpreter's own standard-library test suite."""

from __future__ import annotations

import importlib.util
import random
import sys
import sysconfig
from pathlib import Path

from curation.ci.runner import TraceJob, TraceTarget

STDLIB_PROJECT = "stdlib"

# Test modules of pure-Python libraries that run in a few seconds, need no network,
# no subprocess farms and do not install tracers of their own (test_sys_setprofile,
# test_profile, test_pdb ... would fight ours). The seeded choice is made from these.
FAST_TEST_MODULES = (
    "test_abc", "test_argparse", "test_base64", "test_binascii", "test_bisect", "test_bz2",
     "test_cgi", "test_cmath", "test_cmd", "test_code_module", "test_codeop", "test_colorsys",
    "test_configparser", "test_contextlib", "test_copy", "test_copyreg", "test_csv", "test_dataclasses",
    "test_difflib", "test_dis", "test_email", "test_enum", "test_filecmp",
    "test_fileinput", "test_fnmatch", "test_fractions", "test_functools", "test_genericpath", "test_getopt",
    "test_gettext", "test_glob", "test_graphlib", "test_gzip", "test_hashlib", "test_heapq", "test_hmac",
    "test_html", "test_htmlparser", "test_http_cookiejar", "test_http_cookies", "test_imghdr", "test_inspect",
    "test_ipaddress", "test_itertools", "test_json", "test_keyword", "test_linecache", "test_locale",
    "test_lzma", "test_mailbox", "test_mailcap", "test_math", "test_mimetypes", "test_minidom",
    "test_modulefinder", "test_netrc", "test_ntpath", "test_nturl2path", "test_operator", "test_optparse",
    "test_ordered_dict", "test_pathlib", "test_pickletools", "test_pipes", "test_pkgutil", "test_plistlib",
    "test_posixpath", "test_pprint", "test_pstats", "test_pulldom", "test_py_compile", "test_pyclbr",
    "test_queue", "test_quopri", "test_random", "test_re", "test_reprlib", "test_rlcompleter",
    "test_robotparser", "test_sax", "test_sched", "test_secrets", "test_shelve", "test_shlex", "test_shutil",
    "test_sndhdr", "test_stat", "test_statistics", "test_strftime", "test_string", "test_stringprep",
    "test_strptime", "test_struct", "test_symtable", "test_tabnanny", "test_tarfile", "test_tempfile",
    "test_textwrap", "test_timeit", "test_tokenize", "test_tomllib", "test_traceback", "test_typing",
    "test_urllib", "test_urllib2", "test_urllib_response", "test_urlparse", "test_userdict", "test_userlist",
    "test_userstring", "test_uu", "test_uuid", "test_warnings", "test_wave", "test_wsgiref", "test_xdrlib",
    "test_xml_etree", "test_xmlrpc", "test_zipapp", "test_zipfile", "test_zipimport", "test_zoneinfo",
)


class StdlibTestsMissing(FileNotFoundError):
    """This interpreter was installed without its `test` package."""


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"]).resolve()


def require_test_package() -> Path:
    """The stdlib `test` package directory, or StdlibTestsMissing naming the fix."""
    spec = importlib.util.find_spec("test")
    path = Path(spec.origin).parent if spec and spec.origin else None
    if path is None or not (path / "support").is_dir() or path.parent.resolve() != stdlib_dir():
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        raise StdlibTestsMissing(
            f"the default source traces the standard library's own tests, but {sys.executable} has no `test` "
            f"package. Fix: install the interpreter's test suite (Debian/Ubuntu: `apt-get install "
            f"libpython{version}-testsuite`; pyenv and python.org builds ship it), or name a project to trace, "
            f"e.g. `codexsd collect ci pypi:NAME` or `codexsd collect ci path/to/project`"
        )
    return path


def choose_test_modules(max_modules: int, seed: int, names: list[str] | None = None) -> list[str]:
    """`max_modules` fast test modules (all when 0), chosen by `seed`; or the given `names`."""
    test_dir = require_test_package()
    if names:
        missing = [n for n in names if not _exists(test_dir, n.removeprefix("test."))]
        if missing:
            raise ValueError(f"no such stdlib test module(s): {', '.join(missing)}")
        return [n.removeprefix("test.") for n in names]
    available = sorted(n for n in FAST_TEST_MODULES if _exists(test_dir, n))
    if max_modules <= 0 or max_modules >= len(available):
        return available
    return sorted(random.Random(seed).sample(available, max_modules))


def _exists(test_dir: Path, name: str) -> bool:
    return (test_dir / f"{name}.py").is_file() or (test_dir / name / "__init__.py").is_file()


def stdlib_target(modules: list[str], cwd: Path) -> TraceTarget:
    """Trace `python -m unittest test.<module>` per module (run in scratch dir `cwd`), recording calls into the stdlib only."""
    root = stdlib_dir()
    exclude = [root / "test", root / "site-packages", root / "idlelib", root / "lib2to3" / "tests",
               Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["platlib"])]
    return TraceTarget(
        python=sys.executable,
        cwd=str(cwd),
        jobs=[TraceJob(f"test.{m}", ("-m", "unittest", "-q", f"test.{m}")) for m in modules],
        roots=[str(root)],
        exclude=sorted({str(p) for p in exclude}),
    )


def stdlib_origin() -> dict:
    return {
        "project": STDLIB_PROJECT,
        "version": sys.version.split()[0],
        "revision": sys.version.split()[0],
        "licence": "PSF-2.0",
        "url": f"https://github.com/python/cpython/tree/v{sys.version.split()[0]}/Lib",
    }
