"""Inlining a project's own imports into a traced function's context (curation/_cst_inline.py):
modules imported by name become namespaces of every attribute their readers take, modules whose names
clash with the task's are wrapped in a function, annotation-only names stay out, long helpers lose
their docstrings before a task is given up as too large."""

from __future__ import annotations

import textwrap

from curation import _cst_inline
from curation.extract import extract_file

from ci_testing import sandbox  # noqa: F401 (a fixture)


def _tree(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def _inline(root, module: str, qualname: str, **kw):
    path = root / (module.replace(".", "/") + ".py")
    info = next(f for f in extract_file(path).functions if f.qualname == qualname)
    out = _cst_inline.inline_project_imports(info.context, module, str(path), info.referenced_names,
                                             own=info.name, body=info.body, signature=info.signature, **kw)
    return info, out


def _task(root, sandbox, module: str, name: str, calls: list[tuple[str, object]]):
    """The task for `module.name` built and validated as `codexsd collect ci` does (calls: (expr, value),
    or (expr, exception class) for a call that raises)."""
    from codexsd.sandbox import values
    from curation.ci import CIConfig
    from curation.ci.tasks import TaskBuilder

    path = root / (module.replace(".", "/") + ".py")
    info = next(f for f in extract_file(path).functions if f.qualname == name)
    rows = [{"expr": e, "raises": v.__name__} if isinstance(v, type) else {"expr": e, "expected": values.encode(v)}
            for e, v in calls]
    item = {"id": f"ci/{module}.{name}", "module": module, "qualname": name, "filename": str(path),
            "rel_path": str(path.relative_to(root)), "firstlineno": info.start_line, "origin": {"project": "test"},
            "drops": {}, "calls": rows}
    [task] = TaskBuilder(CIConfig(), sandbox)([item])
    return task


def _run(info, out, call: str):
    namespace: dict = {}
    exec(out.context + "\n\n" + info.signature + "\n" + info.body, namespace)
    return eval(call, namespace)


PKG = {
    "num/__init__.py": """
        from num.luhn import checksum
        from num import luhn
        """,
    "num/luhn.py": '''
        """The Luhn checksum."""
        from __future__ import annotations

        TYPE_CHECKING = False
        if TYPE_CHECKING:
            from num.types import Digits


        def _digits(number: str) -> Digits:
            """The digits of `number`, as ints."""
            return [int(c) for c in number]


        def checksum(number: str) -> int:
            """The Luhn checksum of `number`."""
            digits = _digits(number)[::-1]
            return (sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])) % 10


        def validate(number: str) -> str:
            """`number` if its checksum is 0, else ValueError."""
            if checksum(number):
                raise ValueError("bad checksum")
            return number
        ''',
    "num/card.py": '''
        import num as n
        from num import luhn


        def is_valid(number):
            """Whether `number` passes the Luhn check."""
            return luhn.checksum(number) == 0 and n.checksum(number) == 0


        def validate(number):
            """`number` with spaces removed, if valid."""
            return luhn.validate(number.replace(" ", ""))


        def modules():
            return [luhn]
        ''',
}


def test_a_module_imported_by_name_becomes_a_namespace_of_what_is_read(tmp_path):
    _tree(tmp_path, PKG)
    info, out = _inline(tmp_path, "num.card", "is_valid")
    assert not out.reason
    assert "luhn = types.SimpleNamespace(checksum=checksum)" in out.context
    assert "n = types.SimpleNamespace(checksum=checksum)" in out.context
    assert "import num" not in out.context and "from num" not in out.context
    assert "TYPE_CHECKING" not in out.context  # Digits is read only in annotations, never evaluated
    assert out.context.startswith("from __future__ import annotations")
    assert _run(info, out, "is_valid('79927398713')") is True
    assert _run(info, out, "is_valid('79927398710')") is False


def test_a_module_whose_names_clash_with_the_task_is_wrapped_in_a_function(tmp_path):
    _tree(tmp_path, PKG)
    info, same_name = _inline(tmp_path, "num.card", "validate")  # luhn.validate vs the task's own validate
    assert "def _module_num_luhn():" in same_name.context and "luhn = _module_num_luhn()" in same_name.context
    assert "import num" not in same_name.context and "from num" not in same_name.context
    assert _run(info, same_name, "validate('7992 7398 713')") == "79927398713"
    _, as_value = _inline(tmp_path, "num.card", "modules")  # the module itself is returned: not a namespace
    assert "from num import luhn" in as_value.context and "SimpleNamespace" not in as_value.context


CLASH = {  # python-stdnum's shape: every module defines compact and validate, and reads others' by module
    "num/util.py": """
        def clean(number, deletechars=""):
            return "".join(c for c in number if c not in deletechars).strip()
        """,
    "num/mod11.py": '''
        from num import luhn, util
        from num.luhn import checksum as luhn_checksum


        class Mod11Error(ValueError):
            pass


        def compact(number):
            return util.clean(number, " ")


        def checksum(number):
            """Weighted sum mod 11,
            over the digits."""
            return sum((i + 1) * int(c) for i, c in enumerate(number)) % 11


        def validate(number):
            """Digits passing mod 11 (then Luhn, for the test's sake)."""
            number = compact(number)
            if checksum(number) == 10 or luhn_checksum(number) == 9:
                raise Mod11Error("""mod 11:
        a message over two lines""")
            return luhn.validate(number)
        ''',
    "num/bank.py": '''
        from num import luhn, mod11
        from num.util import clean


        def compact(number):
            return clean(number, " -.")


        def format(number):
            return "-".join([number[:4], number[4:]])


        def validate(number):
            """The number, compact, if it passes both checks (ValueError otherwise)."""
            number = compact(number)
            if not luhn.validate(number):
                raise ValueError("empty")
            return format(mod11.validate(number))
        ''',
}


def test_stdnum_like_modules_with_clashing_names_validate_in_the_sandbox(tmp_path, sandbox):
    _tree(tmp_path, {**PKG, **CLASH})
    info, out = _inline(tmp_path, "num.bank", "validate")
    assert not out.reason, out.detail
    program = out.context
    for module in ("luhn", "mod11"):  # each defines validate (and mod11 compact): both wrapped, once each
        assert program.count(f"def _module_num_{module}():") == 1 and program.count(f"= _module_num_{module}()") == 1
    assert program.count("def clean(") == 1 and "import num" not in program and "from num" not in program
    assert '\na message over two lines"""' in program  # a string's own lines are not re-indented,
    assert '\n        over the digits."""' in program  # but a docstring's are (inspect.cleandoc reads it)
    assert _run(info, out, "validate('7992 7398 713')") == "7992-7398713"
    task = _task(tmp_path, sandbox, "num.bank", "validate",
                 [("candidate('7992 7398 713')", "7992-7398713"), ("candidate('79927398710')", ValueError)])
    assert type(task).__name__ == "Problem", task
    assert "def _module_num_mod11():" in task.prompt and task.metadata["inlined"]


def test_a_module_first_inlined_then_wrapped_is_one_namespace(tmp_path):
    _tree(tmp_path, {**PKG, **CLASH, "num/both.py": '''
        from num import luhn, mod11


        def validate(number):
            """`number` if it passes both checks."""
            if luhn.checksum(number):  # luhn.checksum clashes with nothing: luhn goes to the globals first
                raise ValueError("luhn")
            return mod11.validate(number)  # mod11 then luhn.validate clash with this function: both wrapped
        '''})
    info, out = _inline(tmp_path, "num.both", "validate")
    assert not out.reason, out.detail
    assert out.context.count("\nluhn = ") == 1 and "def _module_num_luhn():" in out.context
    assert "checksum=checksum" in out.context.split("def _module_num_luhn():")[1].split("\n\n\n")[0]
    assert _run(info, out, "validate('79927398713')") == "79927398713"


def test_a_module_that_sets_globals_is_not_wrapped_and_says_why(tmp_path):
    _tree(tmp_path, {**PKG, "num/count.py": """
        CALLS = 0


        def validate(number):
            global CALLS
            CALLS += 1
            return number
        """, "num/user.py": """
        from num import count


        def validate(number):
            return count.validate(number)
        """})
    _, out = _inline(tmp_path, "num.user", "validate")
    assert out.context == "from num import count\n" and "uses `global`" in out.detail
    assert out.reason == "inline_name_clash"  # a reject with that reason, before validation


CALENDARS = {  # convertdate's shape: two modules read one module's attributes, each different ones
    "cal/__init__.py": "",
    "cal/gregorian.py": """
        EPOCH = 1721425.5


        def leap(year):
            return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        """,
    "cal/julian.py": """
        from cal import gregorian


        def days_before(year):
            return sum(366 if gregorian.leap(y) else 365 for y in range(1, year))
        """,
    "cal/positivist.py": '''
        from cal import gregorian, julian

        YEAR_EPOCH = 1789


        def _gregorian_year(year):
            gregorian = year + YEAR_EPOCH - 1  # a local named like the module hides it
            return gregorian


        def to_jd(year, day, epoch=gregorian.EPOCH):
            """Julian day of `day` of positivist `year` (default epoch: the Gregorian one)."""
            def start():
                return epoch - 1 + julian.days_before(_gregorian_year(year))
            return start() + day
        ''',
}


def test_every_attribute_any_reader_takes_from_a_module_is_in_its_namespace(tmp_path, sandbox):
    _tree(tmp_path, CALENDARS)
    info, out = _inline(tmp_path, "cal.positivist", "to_jd")
    assert not out.reason, out.detail
    assert "gregorian = types.SimpleNamespace(EPOCH=EPOCH, leap=leap)" in out.context  # one namespace, both readers
    assert out.context.index("def leap") < out.context.index("gregorian = ") < out.context.index("def days_before")
    leap_years = sum(1 for y in range(1, 1789) if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))
    expected = 1721425.5 - 1 + 365 * 1788 + leap_years + 1
    assert _run(info, out, "to_jd(1, 1)") == expected
    task = _task(tmp_path, sandbox, "cal.positivist", "to_jd", [("candidate(1, 1)", expected)])
    assert type(task).__name__ == "Problem", task


def test_an_import_cycle_back_to_the_tasks_module_is_followed(tmp_path):
    _tree(tmp_path, {"cyc/__init__.py": "", "cyc/core.py": '''
        from cyc.helpers import shout

        SUFFIX = "!"


        def greet(name):
            """The greeting for `name`, shouted."""
            return shout("hello " + name)
        ''', "cyc/helpers.py": """
        from cyc.core import SUFFIX, greet


        def shout(text):
            return text.upper() + SUFFIX


        def greet_all(names):
            return [greet(n) for n in names]
        """})
    info, out = _inline(tmp_path, "cyc.core", "greet")
    assert not out.reason and out.names == ("cyc.core.SUFFIX", "cyc.helpers.shout"), out.detail
    assert "def greet" not in out.context  # the task's own function stays the task's
    assert _run(info, out, "greet('bob')") == "HELLO BOB!"


def test_long_helpers_lose_their_docstrings_before_the_task_is_too_large(tmp_path, monkeypatch):
    _tree(tmp_path, PKG)
    info, full = _inline(tmp_path, "num.card", "is_valid")
    info, short = _inline(tmp_path, "num.card", "is_valid", strip_docstrings=True)
    assert '"""The Luhn checksum of `number`."""' in full.context
    assert '"""' not in short.context and len(short.context) < len(full.context)
    assert _run(info, short, "is_valid('79927398713')") is True
    assert _cst_inline.without_docstrings('class E(Exception):\n    """Doc."""\n') == "class E(Exception):\n    pass\n"
    one_line = 'def f(): """doc"""; return 1\n'
    assert _cst_inline.without_docstrings(one_line) == one_line  # shares its line: left as it is
