"""Strict equality for generated tests: an object whose `__eq__` always answers True must not pass.

HumanEval's own tests use `==`, which a returned object can fool; tests that codexsd writes
(collectors) should instead prepend `strict_equal_source()` and call `assert_equal(actual, expected)`.
"""

from __future__ import annotations

STRICT_EQUAL_SOURCE = '''
def _codexsd_strict_equal(a, b, _depth=0):
    if _depth > 100 or type(a) is not type(b):
        return False
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(_codexsd_strict_equal(x, y, _depth + 1) for x, y in zip(a, b))
    if type(a) is dict:
        return (len(a) == len(b) and all(type(k) in (int, str, bool, float, bytes, tuple, type(None)) for k in a)
                and all(k in b and _codexsd_strict_equal(a[k], b[k], _depth + 1) for k in a))
    if type(a) in (set, frozenset):
        return len(a) == len(b) and repr(sorted(map(repr, a))) == repr(sorted(map(repr, b)))
    if type(a) is float and a != a:
        return b != b
    if type(a) in (int, float, complex, str, bytes, bool, type(None)):
        return type(a).__eq__(a, b) is True and repr(a) == repr(b)
    return repr(a) == repr(b) and a == b and b == a


def assert_equal(actual, expected, message=""):
    """Exact equality: same type, same repr, same value (recursively for containers)."""
    if not _codexsd_strict_equal(actual, expected):
        raise AssertionError(message or f"expected {expected!r} ({type(expected).__name__}), "
                             f"got {actual!r} ({type(actual).__name__})")
'''


def strict_equal_source() -> str:
    """Source of `assert_equal(actual, expected)` to prepend to a generated test."""
    return STRICT_EQUAL_SOURCE
