"""Typed, canonical encoding of Python values as JSON, and comparison of encodings.

Call-style tests keep their expected values on the trusted side: the program under test only
reports what its calls returned, encoded here, and the comparison happens outside it. So this
module runs in two places: imported by codexsd, and as source text inside sandboxed programs
and the CI tracer's child process. It therefore imports nothing but the standard library, at
module level nothing at all, and every name it defines is fair game for that program to see.

An encoding is a JSON list whose first item names the exact type:

    ["int", "3"]  ["float", "0.1"]  ["str", "a"]  ["list", [e, ...]]  ["dict", [[k, v], ...]]
    ["decimal.Decimal", "Decimal('1.5')"]  ["enum", "pkg.mod:Color", "RED"]
    ["namedtuple", "pkg.mod:Point", ["x", "y"], [e, e]]
    ["code", "lambda x: x * 2", []]  ["code", "operator.add", ["import operator"]]   (arguments only)

Sets, frozensets, dicts and Counters are sorted by their items' encodings, so equal values have
equal encodings; subclasses not listed are not encodable (an object that lies about equality
cannot pass as the value it imitates).
"""

MAX_DEPTH = 100

# Exact types whose repr evaluates back to an equal value given the import beside them.
REPR_TYPES = {
    "decimal.Decimal": "from decimal import Decimal",
    "fractions.Fraction": "from fractions import Fraction",
    "datetime.datetime": "import datetime",
    "datetime.date": "import datetime",
    "datetime.time": "import datetime",
    "datetime.timedelta": "import datetime",
    "datetime.timezone": "import datetime",
    "uuid.UUID": "from uuid import UUID",
    "pathlib.PurePosixPath": "from pathlib import PurePosixPath",
    "pathlib.PureWindowsPath": "from pathlib import PureWindowsPath",
}
_SIMPLE = {"NoneType", "bool", "int", "float", "complex", "str", "bytes", "bytearray", "range"}


class Unencodable(TypeError):
    """The value has a type the encoding does not cover (its name is the message)."""


def _dumps(enc):
    import json

    return json.dumps(enc, sort_keys=True, separators=(",", ":"))


def encode(value, _depth=0, extra=None):
    """The canonical encoding of `value`; raises Unencodable for types not covered.

    `extra(value)` may encode what is not covered (or return None): the CI tracer passes one for
    call arguments, writing a function argument as source code (["code", source, imports])."""
    if _depth > MAX_DEPTH:
        raise Unencodable("nesting deeper than %d" % MAX_DEPTH)
    t = type(value)
    name = t.__name__
    if value is None:
        return ["None"]
    if t is bool:
        return ["bool", value]
    if t is int:
        return ["int", str(value)]
    if t is float or t is complex:
        return [name, repr(value)]
    if t is str:
        return ["str", value]
    if t is bytes or t is bytearray:
        return [name, bytes(value).hex()]
    if t is range:
        return ["range", [value.start, value.stop, value.step]]
    if t is list or t is tuple:
        return [name, [encode(v, _depth + 1, extra) for v in value]]
    if t is set or t is frozenset:
        return [name, sorted((encode(v, _depth + 1, extra) for v in value), key=_dumps)]
    if t is dict:
        return ["dict", _pairs(value, _depth, False, extra)]
    module = getattr(t, "__module__", "")
    qualname = "%s.%s" % (module, getattr(t, "__qualname__", name))
    if qualname == "collections.OrderedDict":
        return ["OrderedDict", _pairs(value, _depth, True, extra)]
    if qualname in ("collections.Counter", "collections.defaultdict"):
        return [name, _pairs(value, _depth, False, extra)]
    if qualname in REPR_TYPES:
        return [qualname, repr(value)]
    import enum

    where = "%s:%s" % (module, getattr(t, "__qualname__", name))  # importable module : attribute path
    if isinstance(value, enum.Enum) and "<locals>" not in where:
        return ["enum", where, value.name]
    if isinstance(value, tuple) and type(getattr(t, "_fields", None)) is tuple and "<locals>" not in where:
        return ["namedtuple", where, list(t._fields), [encode(v, _depth + 1, extra) for v in value]]
    enc = extra(value) if extra is not None else None
    if enc is None:
        raise Unencodable(qualname)
    return enc


def _pairs(mapping, depth, ordered, extra=None):
    pairs = [[encode(k, depth + 1, extra), encode(v, depth + 1, extra)] for k, v in mapping.items()]
    return pairs if ordered else sorted(pairs, key=lambda kv: _dumps(kv[0]))


def equal(actual, expected, mode="exact", _depth=0):
    """Whether two encodings match under `mode`.

    exact: the same exact types and values all the way down (floats by repr).
    same:  like MBPP's `==` checks: int and float by value (relative 1e-9), a tuple matches an
           expected list, a dict subclass matches an expected dict; builtin types otherwise.
    text:  two strings equal after trailing whitespace is dropped from every line and trailing
           blank lines from the end (stdin/stdout problems).
    """
    if mode == "exact":
        return _dumps(_canon(actual)) == _dumps(_canon(expected))
    if not (type(actual) is list and type(expected) is list and actual and expected) or _depth > MAX_DEPTH:
        return False
    ta, te = actual[0], expected[0]
    if mode == "text":
        return ta == te == "str" and _text(actual[1]) == _text(expected[1])
    if mode != "same":
        raise ValueError("unknown comparison mode %r" % (mode,))
    numbers = ("int", "float")
    if ta in numbers and te in numbers:
        a, e = _number(actual), _number(expected)
        if a != a or e != e:
            return a != a and e != e
        return a == e or abs(a - e) <= 1e-9 * max(1.0, abs(e))
    if te == "list" and ta in ("list", "tuple") or te == ta and ta in ("tuple", "set", "frozenset"):
        if te in ("set", "frozenset") and _dumps(actual) == _dumps(expected):
            return True
        a, e = actual[1], expected[1]
        return len(a) == len(e) and all(equal(x, y, "same", _depth + 1) for x, y in zip(a, e))
    if te == "dict" and ta in ("dict", "OrderedDict", "Counter", "defaultdict"):
        a = {_dumps(k): v for k, v in actual[1]}
        e = {_dumps(k): v for k, v in expected[1]}
        return a.keys() == e.keys() and all(equal(a[k], e[k], "same", _depth + 1) for k in e)
    return _dumps(_canon(actual)) == _dumps(_canon(expected))


def _canon(enc, _depth=0):
    """`enc` with the module left out of enum and named-tuple classes (a task defines the class its
    traced module defined, so in the sandbox it lives in `__main__`), collections re-sorted."""
    if type(enc) is not list or not enc or _depth > MAX_DEPTH:
        return enc
    tag = enc[0]
    if tag == "enum" and len(enc) == 3 and type(enc[1]) is str:
        return ["enum", enc[1].partition(":")[2], enc[2]]
    if tag == "namedtuple" and len(enc) == 4 and type(enc[1]) is str and type(enc[3]) is list:
        return ["namedtuple", enc[1].partition(":")[2], enc[2], [_canon(v, _depth + 1) for v in enc[3]]]
    if tag in ("list", "tuple") and len(enc) == 2 and type(enc[1]) is list:
        return [tag, [_canon(v, _depth + 1) for v in enc[1]]]
    if tag in ("set", "frozenset") and len(enc) == 2 and type(enc[1]) is list:
        return [tag, sorted((_canon(v, _depth + 1) for v in enc[1]), key=_dumps)]
    if tag in ("dict", "Counter", "defaultdict", "OrderedDict") and len(enc) == 2 and type(enc[1]) is list:
        pairs = [[_canon(kv[0], _depth + 1), _canon(kv[1], _depth + 1)] for kv in enc[1]
                 if type(kv) is list and len(kv) == 2]
        return [tag, pairs if tag == "OrderedDict" else sorted(pairs, key=lambda kv: _dumps(kv[0]))]
    return enc


def _number(enc):
    return int(enc[1]) if enc[0] == "int" else float(enc[1])


def _text(s):
    lines = [line.rstrip() for line in str(s).replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def to_source(enc, imports=None):
    """A Python expression that evaluates to the encoded value; the imports it needs are added to `imports`."""
    imports = set() if imports is None else imports
    tag = enc[0]
    if tag == "None":
        return "None"
    if tag == "bool":
        return repr(bool(enc[1]))
    if tag == "int":
        return enc[1]
    if tag == "float":
        if enc[1] in ("nan", "inf", "-inf"):
            return "float(%r)" % enc[1]
        return enc[1]
    if tag == "complex":
        if "nan" in enc[1] or "inf" in enc[1]:
            return "complex(%r)" % enc[1].strip("()")
        return enc[1]
    if tag == "str":
        return repr(enc[1])
    if tag == "bytes":
        return repr(bytes.fromhex(enc[1]))
    if tag == "bytearray":
        return "bytearray(%r)" % bytes.fromhex(enc[1])
    if tag == "range":
        return "range(%d, %d, %d)" % tuple(enc[1])
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [to_source(v, imports) for v in enc[1]]
        if tag == "list":
            return "[%s]" % ", ".join(items)
        if tag == "tuple":
            return "(%s,)" % items[0] if len(items) == 1 else "(%s)" % ", ".join(items)
        if not items:
            return "%s()" % tag
        body = "{%s}" % ", ".join(items)
        return body if tag == "set" else "frozenset(%s)" % body
    if tag in ("dict", "Counter", "defaultdict", "OrderedDict"):
        pairs = ["%s: %s" % (to_source(k, imports), to_source(v, imports)) for k, v in enc[1]]
        body = "{%s}" % ", ".join(pairs)
        if tag == "dict":
            return body
        imports.add("import collections")
        if tag == "defaultdict":
            return "collections.defaultdict(None, %s)" % body
        return "collections.%s(%s)" % (tag, body)
    if tag in REPR_TYPES:
        imports.add(REPR_TYPES[tag])
        return enc[1]
    if tag in ("enum", "namedtuple"):
        module, _, attr = enc[1].partition(":")
        imports.add("import %s" % module)
        if tag == "enum":
            return "%s.%s.%s" % (module, attr, enc[2])
        return "%s.%s(%s)" % (module, attr, ", ".join(to_source(v, imports) for v in enc[3]))
    if tag == "code" and len(enc) == 3 and type(enc[1]) is str:
        imports.update(enc[2])
        return "(%s)" % enc[1] if enc[1].startswith("lambda") else enc[1]
    raise ValueError("not an encoding: %r" % (enc,))


def type_name(enc):
    """The exact type an encoding stands for (`int`, `pkg.mod:Color`...)."""
    return enc[1] if enc[0] in ("enum", "namedtuple") else enc[0]
