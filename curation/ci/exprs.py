"""Call expressions for traced calls: what a task asserts, as Python source calling `candidate`.

The tracer records each call's encoded arguments (codexsd/sandbox/values.py) and what
happened; this module writes the expression that repeats the call, passing the arguments
the way the function takes them:

    candidate(1, 'x', flag=True)                          a returned value
    list(candidate(3))                                    a generator / returned iterator
    (lambda items: (candidate(items, 2), items))([3, 1])  a call that mutates `items`
    (lambda datetime=__import__('datetime'): candidate(datetime.date(2024, 1, 31)))()
                                                          values that need an import

so that every expression is self-contained: the judge evaluates it in the task's program
with nothing but `candidate` defined.
"""

from __future__ import annotations

import json
import keyword

from codexsd.sandbox import values

_ORDER = {"pos": 0, "varargs": 1, "kwonly": 2, "varkw": 3}  # co_varnames lists keyword-only before *args


class NotExpressible(ValueError):
    """The call cannot be written as a self-contained expression (the reason is the message)."""


def _bindings(imports: set[str]) -> list[str]:
    """`name=__import__(...)` default arguments equivalent to `imports` (from to_source)."""
    out = []
    for line in sorted(imports):
        words = line.split()
        if words[0] == "import" and len(words) == 2:
            module = words[1]
            out.append(f"{module.split('.')[0]}=__import__({module!r})")
        elif words[0] == "from" and len(words) == 4 and words[2] == "import":
            out.append(f"{words[3]}=__import__({words[1]!r}, fromlist=[{words[3]!r}]).{words[3]}")
        else:
            raise NotExpressible(f"import {line!r}")
    return out


def _with_imports(expr: str, imports: set[str]) -> str:
    return f"(lambda {', '.join(_bindings(imports))}: {expr})()" if imports else expr


def call_parts(params: list[list[str]], args: list, exposed: dict[int, str], imports: set[str]) -> str:
    """The argument list passing `args` (one encoding per parameter); `exposed` params are passed by name."""
    parts: list[str] = []
    indexed = sorted(enumerate(zip(params, args)), key=lambda item: _ORDER[item[1][0][1]])
    for i, ((name, kind), enc) in indexed:
        if kind == "pos":
            parts.append(exposed.get(i) or values.to_source(enc, imports))
        elif kind == "varargs":
            if enc[0] != "tuple":
                raise NotExpressible("*args is not a tuple")
            parts.extend(values.to_source(v, imports) for v in enc[1])
        elif kind == "kwonly":
            parts.append(f"{name}={exposed.get(i) or values.to_source(enc, imports)}")
        else:
            if enc[0] != "dict":
                raise NotExpressible("**kwargs is not a dict")
            keys = [k for k, _ in enc[1]]
            if all(k[0] == "str" and k[1].isidentifier() and not keyword.iskeyword(k[1]) for k in keys):
                parts.extend(f"{k[1]}={values.to_source(v, imports)}" for k, v in enc[1])
            elif enc[1]:
                parts.append(f"**{values.to_source(enc, imports)}")
    return ", ".join(parts)


def plan_call(params: list[list[str]], args_key: str, outcome: dict) -> dict:
    """One traced call as {expr, inner, kind, expected}: what replay evaluates and the task asserts.

    `args_key` is the canonical JSON of the encoded argument list; `outcome` is the tracer's
    {"value": enc[, "after": enc]} | {"raised": true} | {"iter": true}. Raises NotExpressible."""
    args = json.loads(args_key)
    if args[0] != "list" or len(args[1]) != len(params):
        raise NotExpressible("arguments do not match the parameters")
    args = args[1]
    imports: set[str] = set()
    exposed: dict[int, str] = {}
    if "after" in outcome:
        after = outcome["after"][1]
        changed = [i for i, (a, b) in enumerate(zip(args, after)) if a != b]
        if any(params[i][1] in ("varargs", "varkw") for i in changed):
            raise NotExpressible("mutates *args or **kwargs")
        exposed = {i: params[i][0] if params[i][0] != "candidate" else f"_{i}" for i in changed}
    inner = f"candidate({call_parts(params, args, exposed, imports)})"
    if exposed:
        names = [exposed[i] for i in changed]
        sources = [values.to_source(args[i], imports) for i in changed]
        expr = f"(lambda {', '.join(names)}: ({inner}, {', '.join(names)}))({', '.join(sources)})"
        expected = ["tuple", [outcome["value"], *(after[i] for i in changed)]]
        if set(names) & {b.split("=")[0] for b in _bindings(imports)}:
            raise NotExpressible("a parameter shadows an import")
        return {"expr": _with_imports(expr, imports), "inner": _with_imports(expr, imports), "kind": "value",
                "expected": expected}
    if outcome.get("raised"):
        kind, expr, expected = "raises", inner, None
    elif outcome.get("iter"):
        kind, expr, expected = "iter", f"list({inner})", None
    else:
        kind, expr, expected = "value", inner, outcome["value"]
    return {"expr": _with_imports(expr, imports), "inner": _with_imports(inner, imports), "kind": kind,
            "expected": expected}


def plan_record(record: dict) -> dict:
    """`record` with its traced calls planned as expressions (calls that cannot be written are drops)."""
    planned, drops = [], dict(record["drops"])
    for args_key, outcome in record["calls"]:
        try:
            call = plan_call(record["params"], args_key, outcome)
        except (NotExpressible, ValueError, KeyError, IndexError, TypeError):
            drops["not_expressible"] = drops.get("not_expressible", 0) + 1
            continue
        if not utf8(call):  # a lone surrogate (a str made with surrogateescape) cannot be written as UTF-8
            drops["not_utf8"] = drops.get("not_utf8", 0) + 1
            continue
        planned.append(call)
    return {**record, "calls": planned, "drops": drops}


def utf8(obj) -> bool:
    """Whether `obj` serialises to valid UTF-8 JSON (no lone surrogates in its strings)."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError):
        return False
    return True
