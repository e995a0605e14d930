"""Inlining a project's own imports into a traced function's context (curation/_cst_inline.py):
modules imported by name become namespaces, annotation-only names stay out, long helpers lose
their docstrings before a task is given up as too large."""

from __future__ import annotations

import textwrap

from curation import _cst_inline
from curation.extract import extract_file


def _tree(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def _inline(root, module: str, qualname: str, **kw):
    path = root / (module.replace(".", "/") + ".py")
    info = next(f for f in extract_file(path).functions if f.qualname == qualname)
    out = _cst_inline.inline_project_imports(info.context, module, str(path), info.referenced_names,
                                             own=info.name, body=info.body, **kw)
    return info, out


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


def test_a_namespace_that_would_shadow_the_task_or_leak_is_left_for_validation(tmp_path):
    _tree(tmp_path, PKG)
    _, same_name = _inline(tmp_path, "num.card", "validate")  # luhn.validate vs the task's own validate
    assert "import luhn" in same_name.context and "SimpleNamespace" not in same_name.context
    _, as_value = _inline(tmp_path, "num.card", "modules")  # the module itself is returned: not a namespace
    assert "from num import luhn" in as_value.context and "SimpleNamespace" not in as_value.context


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
