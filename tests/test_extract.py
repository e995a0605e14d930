"""curation.extract on small dedented sources: each piece of a function, its context, tests, bad input."""

from __future__ import annotations

import textwrap

import pytest

from curation import extract as ex
from curation.extract import ExtractError, extract_source, find_function


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


MODULE = src(
    '''
    import os, sys
    from typing import Dict, List
    import json as j

    SCALE = 3
    OFFSET = SCALE + 1  # derived


    def helper(x):
        return x * OFFSET


    @functools.lru_cache(maxsize=None)
    def total(items: List[int], start: int = SCALE, *, sep: str = os.sep) -> Dict[str, int]:
        """Sum items.

            Indented detail.
        """
        # running sum
        def add(y):
            return helper(y) + len(items)

        return {sep: sum(add(i) for i in items) + start}


    class Box:
        size = 2

        @property
        def area(self): "Area."; return helper(self.size)

        async def fetch(self,
                        key,
                        default=None):
            if key:
                return key
            return default
    '''
)


def test_every_def_found_with_qualname_and_ast_line_span():
    result = extract_source(MODULE, "box.py")
    spans = [(f.qualname, f.start_line, f.end_line) for f in result.functions]
    assert spans == [
        ("helper", 9, 10),
        ("total", 14, 23),
        ("total.<locals>.add", 20, 21),
        ("Box.area", 30, 30),
        ("Box.fetch", 32, 37),
    ]
    area = find_function(result, "Box.area")
    assert (area.class_name, area.is_method, area.path) == ("Box", True, "box.py")
    add = find_function(result, "total.<locals>.add")
    assert (add.class_name, add.is_method) == (None, False)


def test_signature_decorators_and_docstring():
    total = find_function(MODULE, "total")
    assert total.decorators == ("functools.lru_cache(maxsize=None)",)
    assert total.signature == "def total(items: List[int], start: int = SCALE, *, sep: str = os.sep) -> Dict[str, int]:"
    assert total.docstring_raw == '"""Sum items.\n\n        Indented detail.\n    """'
    assert total.docstring == "Sum items.\n\nIndented detail."
    assert total.body == (
        "    # running sum\n"
        "    def add(y):\n"
        "        return helper(y) + len(items)\n"
        "\n"
        "    return {sep: sum(add(i) for i in items) + start}\n"
    )


def test_method_is_dedented_to_a_top_level_def():
    fetch = find_function(MODULE, "Box.fetch")
    assert fetch.signature == "async def fetch(self,\n                key,\n                default=None):"
    assert fetch.docstring_raw is None and fetch.docstring == ""
    assert fetch.body == "    if key:\n        return key\n    return default\n"


def test_one_line_suite_with_docstring():
    area = find_function(MODULE, "Box.area")
    assert (area.decorators, area.signature) == (("property",), "def area(self):")
    assert (area.docstring_raw, area.docstring) == ('"Area."', "Area.")
    assert area.body == "    return helper(self.size)\n"


def test_pieces_reassemble_to_the_same_ast():
    import ast

    tree = ast.parse(MODULE)
    originals = {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for info in extract_source(MODULE).functions:
        rebuilt = ast.parse(info.source()).body[0]
        assert ast.dump(rebuilt) == ast.dump(originals[info.name]), info.qualname


def test_referenced_names_imports_and_helpers():
    total = find_function(MODULE, "total")
    # globals it reads, decorator/defaults/annotations included, builtins left out
    assert total.referenced_names == ("Dict", "List", "SCALE", "functools", "helper", "os")
    assert total.imports == ("import os", "from typing import Dict, List")
    assert total.helpers == ("SCALE", "OFFSET", "helper")
    assert total.context == src(
        """
        import os
        from typing import Dict, List

        SCALE = 3
        OFFSET = SCALE + 1  # derived


        def helper(x):
            return x * OFFSET
        """
    )
    add = find_function(MODULE, "total.<locals>.add")
    assert add.referenced_names == ("helper",)  # `items` is a closure variable, not a global


def test_context_makes_the_function_runnable_on_its_own():
    source = src(
        """
        import math
        from collections import Counter as C, OrderedDict

        RADIUS = 2.0
        UNUSED = object()

        def area(r):
            return math.pi * r * r

        class Shape:
            def size(self):
                return area(RADIUS)

        def report(names):
            '''Count names and the area of the default shape.'''
            return C(names).most_common(1)[0][0], round(Shape().size(), 3)
        """
    )
    report = find_function(source, "report")
    assert report.imports == ("import math", "from collections import Counter as C")
    assert report.helpers == ("RADIUS", "area", "Shape")
    namespace: dict = {}
    exec(report.context + "\n" + report.source(), namespace)
    assert namespace["report"](["a", "b", "a"]) == ("a", 12.566)
    assert "UNUSED" not in namespace and "OrderedDict" not in namespace


def test_try_import_block_and_future_import_go_with_the_imports():
    source = src(
        """
        from __future__ import annotations
        try:
            import simplejson as json
        except ImportError:
            import json

        def dump(x: Thing) -> str:
            return json.dumps(x)
        """
    )
    dump = find_function(source, "dump")
    assert dump.imports[0] == "from __future__ import annotations"
    assert dump.imports[1].startswith("try:\n    import simplejson as json\nexcept ImportError:")
    assert dump.helpers == ()
    assert "Thing" not in dump.referenced_names  # PEP 563: annotations are never evaluated, so not needed


def test_annotation_names_are_needed_without_the_future_import_and_not_with_it():
    body = """
        if TYPE_CHECKING:
            from big.module import Thing
        TYPE_CHECKING = False

        def dump(x: Thing) -> str:
            return str(x)
        """
    eager = find_function(src(body), "dump")
    assert "Thing" in eager.referenced_names  # evaluated when the def runs: reported, not invented
    lazy = find_function(src("from __future__ import annotations\n" + textwrap.dedent(body)), "dump")
    assert "Thing" not in lazy.referenced_names and "TYPE_CHECKING" not in lazy.context
    assert lazy.context.startswith("from __future__ import annotations")  # the header still needs it


def test_star_import_is_kept_when_a_name_is_unresolved():
    source = "from os.path import *\nimport sys\n\ndef f(p):\n    return join(p, 'x')\n"
    assert find_function(source, "f").imports == ("from os.path import *",)


def test_tabs_and_crlf_bodies_come_out_with_four_spaces():
    source = "class A:\r\n\tdef m(self):\r\n\t\tif self:\r\n\t\t\treturn 1\r\n\t\treturn 2\r\n"
    m = find_function(source, "A.m")
    assert m.body == "    if self:\n        return 1\n    return 2\n"


def test_multiline_string_in_body_is_not_reindented():
    source = src(
        '''
        class A:
            def m(self):
                text = """
          keep
            this"""
                return text
        '''
    )
    m = find_function(source, "A.m")
    assert '"""\n  keep\n    this"""' in m.body
    ns: dict = {}
    exec(m.source(), ns)
    assert ns["m"](None) == "\n  keep\n    this"


PYTEST_FILE = src(
    """
    import pytest

    def test_add():
        x = 1 + 1
        assert x == 2, "math"
        assert x > 1

    class TestThing:
        def test_method(self):
            assert [1] == [1]

        def helper(self):
            assert False

    def helper_test():
        assert True
    """
)


def test_pytest_tests_and_their_asserts():
    tests = extract_source(PYTEST_FILE, "test_math.py").tests
    assert [(t.qualname, t.framework, t.asserts) for t in tests] == [
        ("test_add", "pytest", ('assert x == 2, "math"', "assert x > 1")),
        ("TestThing.test_method", "pytest", ("assert [1] == [1]",)),
    ]
    assert (tests[0].start_line, tests[0].end_line) == (3, 6)


def test_unittest_tests_through_a_local_base_class():
    source = src(
        """
        import unittest

        class Base(unittest.TestCase):
            def setUp(self):
                self.x = 1

        class MathTests(Base):
            def test_x(self):
                self.assertEqual(self.x, 1)
                with self.assertRaises(ZeroDivisionError):
                    1 / 0
                assert self.x

            def check(self):
                self.assertTrue(True)
        """
    )
    tests = extract_source(source, "anything.py").tests
    assert [(t.qualname, t.framework) for t in tests] == [("MathTests.test_x", "unittest")]
    assert tests[0].asserts == ("self.assertEqual(self.x, 1)", "self.assertRaises(ZeroDivisionError)", "assert self.x")


def test_test_named_functions_outside_test_files_are_not_tests():
    assert extract_source("def test_x():\n    assert 1\n", "utils.py").tests == ()
    assert len(extract_source("def test_x():\n    assert 1\n", "utils_test.py").tests) == 1


@pytest.mark.parametrize(
    "source, reason",
    [
        ("def f(:\n    pass\n", "syntax_error"),
        ('print "hello"\n', "python2"),
        ("try:\n    pass\nexcept ValueError, e:\n    pass\n", "python2"),
        ("x = 0777\n", "python2"),
        ("x = `y`\n", "python2"),
        ("", "empty"),
        ("  \n\n\t\n", "empty"),
        (b"", "empty"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary"),
        ("x = 1\x00\n", "binary"),
        ("caf\xe9 = 1\n".encode("latin-1"), "not_utf8"),
        (b"# -*- coding: no-such-codec -*-\nx = 1\n", "not_utf8"),
        ("x = " + "(" * 300 + ")" * 300 + "\n", "syntax_error"),
        ("nonlocal x\n", "syntax_error"),
    ],
)
def test_bad_input_is_an_extract_error_with_a_reason(source, reason):
    with pytest.raises(ExtractError) as info:
        extract_source(source, "bad.py")
    assert info.value.reason == reason
    assert info.value.reason in ex.REJECT_REASONS


def test_too_large(monkeypatch):
    monkeypatch.setattr(ex, "MAX_SOURCE_BYTES", 100)
    with pytest.raises(ExtractError) as info:
        extract_source("x = 1\n" * 50)
    assert info.value.reason == "too_large"


def test_declared_latin1_and_utf8_bom_are_read():
    latin = "# -*- coding: latin-1 -*-\ndef f():\n    return 'caf\xe9'\n".encode("latin-1")
    assert find_function(latin, "f").body == "    return 'caf\xe9'\n"
    bom = b"\xef\xbb\xbfdef g():\n    return 1\n"
    assert find_function(bom, "g").start_line == 1


def test_source_without_functions_is_a_result_not_an_error():
    result = extract_source("# just a comment\nX = 1\n", "consts.py")
    assert result.functions == () and result.tests == ()


def test_find_function_names_what_exists():
    with pytest.raises(KeyError, match="helper"):
        find_function(MODULE, "nope")


def test_extract_file_unreadable(tmp_path):
    with pytest.raises(ExtractError) as info:
        ex.extract_file(tmp_path / "missing.py")
    assert info.value.reason == "unreadable"


def test_trailing_comments_and_decorated_first_statement_stay_in_the_body():
    source = src(
        """
        class A:
            def m(self):
                @wraps(self)
                def inner():
                    return 1
                if inner:
                    return inner
                    # deeper trailing note
                # body-level trailing note

            # class-level comment, not part of m
            x = 1
        """
    )
    m = find_function(source, "A.m")
    assert m.body == (
        "    @wraps(self)\n"
        "    def inner():\n"
        "        return 1\n"
        "    if inner:\n"
        "        return inner\n"
        "        # deeper trailing note\n"
        "    # body-level trailing note\n"
    )


def test_extraction_leaves_no_reference_cycles():
    """extract_source pauses the cyclic GC, which is only safe if refcounting frees everything it builds."""
    import gc

    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        extract_source(MODULE, "box.py")
        extract_source(PYTEST_FILE, "test_math.py")
        with pytest.raises(ExtractError):
            extract_source("def f(:\n", "bad.py")
        gc.collect()
        leaked = [type(o).__name__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert leaked == []


def test_an_import_fallback_that_reads_a_helper_comes_after_the_helper():
    src = '''
from operator import mul

def dot(a, b):
    return sum(map(mul, a, b))

try:
    from math import no_such_function as _fast
except ImportError:
    _fast = dot

def norm2(v):
    return _fast(v, v)
'''
    info = find_function(extract_source(src), "norm2")
    assert info.context.index("def dot") < info.context.index("try:")
    ns: dict = {}
    exec(info.context + info.signature + info.body, ns)  # runs: the fallback finds `dot` defined
    assert ns["norm2"]([3, 4]) == 25
