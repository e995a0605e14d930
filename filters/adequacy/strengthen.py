"""Strengthening call-style tests: new inputs by type-aware mutation (as EvalPlus did for HumanEval).

Each Call.expr is parsed with `ast`; every literal argument of a call in it (`candidate(...)`,
or the lambda a mutated-argument check wraps around it) is a site. A new input changes one
site's value by its type: ints and floats +-1, bools negated, strings with a character
inserted, deleted or replaced, lists and tuples with an element dropped, duplicated, inserted
or two swapped, dicts with a key added or dropped, sets with an item added or dropped, an
element mutated inside a container, or the value swapped for another of the same type seen
elsewhere in the task. Seeded from the task id.

Expected outputs come from the reference, run by one program (`observe_twice_program`) in fresh
`python3 -c` interpreters started with fork+execve (`subprocess` itself is not importable in the
sandbox), each with another fixed PYTHONHASHSEED, then in the sandboxed process itself (the sandbox
forks every program from one parent, so in-process runs all share the parent's seed; a fresh
interpreter also reseeds `random`). Each call runs under a per-call CPU-time guard, so one slow
input costs only itself (after two such, the rest get 50 ms each: a mutant that loops forever is
not paid for per input). `keep_observations` then drops inputs that raise, time out, disagree
between the runs, cannot be encoded, or return a type the task's own calls never returned.
"""

from __future__ import annotations

import ast
import json
import random
from typing import Any, Iterable, Sequence

from codexsd.sandbox import values
from codexsd.sandbox.calls import RESULTS_MARKER, Call, calls_program, parse_results

SECOND_MARKER = "\x1ecodexsd-second-run:"
GUARD_EXC = "_CodexsdCallTimeout"
MAX_LITERAL_CHARS = 2000  # sites with longer literals are not mutated
MAX_RESULT_CHARS = 20000  # a new expected value longer than this (encoded) is dropped
DROP_REASONS = ("raises", "timeout", "disagrees", "unencodable", "unseen_type", "too_large", "no_result")

GUARD_SOURCE = f'''

class {GUARD_EXC}(BaseException):
    pass


_codexsd_timeouts = [0]


def _codexsd_guard(_thunk, _limit):
    import signal as _signal

    def _stop(*_):
        _codexsd_timeouts[0] += 1
        raise {GUARD_EXC}()

    if _codexsd_timeouts[0] >= 2:  # a body that loops on two inputs gets a short leash on the rest
        _limit = min(_limit, 0.05)
    _old = _signal.signal(_signal.SIGPROF, _stop)
    _signal.setitimer(_signal.ITIMER_PROF, _limit)
    try:
        return _thunk()
    finally:
        _signal.setitimer(_signal.ITIMER_PROF, 0)
        _signal.signal(_signal.SIGPROF, _old)
'''


def guarded(expr: str, limit: float) -> str:
    """`expr` evaluated under the per-call CPU-time guard (needs GUARD_SOURCE in the program)."""
    return f"_codexsd_guard(lambda: ({expr}), {limit!r})"


# ------------------------------------------------------------------ new inputs

def _literal_sites(tree: ast.AST) -> list[ast.expr]:
    """Argument nodes of any call in `tree` that are literals (ast.literal_eval accepts them)."""
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(kw.value for kw in node.keywords)]:
                if isinstance(arg, ast.Starred):
                    arg = arg.value
                try:
                    ast.literal_eval(arg)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
                sites.append(arg)
    return sites


def _chars(s: str, pool: dict[type, list[Any]]) -> str:
    """Characters to insert: the string's own and those of the task's other strings."""
    return "".join(sorted(set(s).union(*pool.get(str, ())))) or "ab"


def mutate_value(value: Any, rng: random.Random, pool: dict[type, list[Any]], depth: int = 0) -> Any:
    """One type-aware change of `value` (may return an equal value; the caller dedups)."""
    t = type(value)
    same_type = [v for v in pool.get(t, ()) if v != value]
    if same_type and rng.random() < 0.15:
        return rng.choice(same_type)
    if t is bool:
        return not value
    if t is int:
        return value + rng.choice((1, -1))
    if t is float:
        return value + rng.choice((1.0, -1.0, 0.5))
    if t is str:
        pos = rng.randrange(len(value) + 1)
        op = rng.choice(("insert", "delete", "replace")) if value else "insert"
        ch = rng.choice(_chars(value + "az", pool))
        if op == "insert":
            return value[:pos] + ch + value[pos:]
        pos = min(pos, len(value) - 1)
        return value[:pos] + (ch if op == "replace" else "") + value[pos + 1:]
    if t in (list, tuple):
        items = list(value)
        ops = ["insert"] + (["drop", "duplicate", "mutate"] if items else []) + (["swap"] if len(items) > 1 else [])
        op = rng.choice(ops)
        if op == "drop":
            del items[rng.randrange(len(items))]
        elif op == "duplicate":
            i = rng.randrange(len(items))
            items.insert(i, items[i])
        elif op == "swap":
            i, j = rng.sample(range(len(items)), 2)
            items[i], items[j] = items[j], items[i]
        elif op == "mutate" and depth < 3:
            i = rng.randrange(len(items))
            items[i] = mutate_value(items[i], rng, pool, depth + 1)
        else:  # insert: a changed copy of an element, or an element seen elsewhere
            seed = rng.choice(items) if items else rng.choice(pool.get(int, [0]) or [0])
            items.insert(rng.randrange(len(items) + 1), mutate_value(seed, rng, pool, depth + 1) if depth < 3 else seed)
        return t(items)
    if t is dict:
        d = dict(value)
        ops = ["drop", "mutate", "add"] if d else ["add"]
        op = rng.choice(ops)
        keys = list(d)
        if op == "drop":
            del d[rng.choice(keys)]
        elif op == "mutate" and depth < 3:
            k = rng.choice(keys)
            d[k] = mutate_value(d[k], rng, pool, depth + 1)
        elif keys:
            k = rng.choice(keys)
            d[mutate_value(k, rng, pool, depth + 1)] = d[k]
        return d
    if t in (set, frozenset):
        items = set(value)
        if items and rng.random() < 0.5:
            items.discard(rng.choice(sorted(items, key=repr)))
        elif items:
            items.add(mutate_value(rng.choice(sorted(items, key=repr)), rng, pool, depth + 1))
        return t(items)
    return value


def _value_pool(trees: Iterable[ast.AST], calls: Sequence[Call]) -> dict[type, list[Any]]:
    """Literal values seen anywhere in the task's inputs and expected values, by type."""
    pool: dict[type, list[Any]] = {}

    def add(v: Any) -> None:
        bucket = pool.setdefault(type(v), [])
        if len(bucket) < 50 and v not in bucket:
            bucket.append(v)

    for tree in trees:
        for site in _literal_sites(tree):
            v = ast.literal_eval(site)
            add(v)
            if isinstance(v, (list, tuple, set, frozenset)):
                for x in list(v)[:20]:
                    try:
                        add(x)
                    except TypeError:
                        pass
    for c in calls:
        if c.expected is not None and c.expected[0] in ("int", "str", "float", "bool"):
            try:
                add(ast.literal_eval(values.to_source(c.expected)))
            except (ValueError, SyntaxError):
                pass
    return pool


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, new: ast.expr) -> None:
        self.target, self.new = target, new

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return self.new
        return super().generic_visit(node)


def new_inputs(calls: Sequence[Call], n: int, seed: int) -> list[str]:
    """Up to `n` new call expressions, each one type-aware change away from an existing call."""
    parsed = []
    for c in calls:
        try:
            parsed.append(ast.parse(c.expr, mode="eval"))
        except SyntaxError:
            continue
    pool = _value_pool(parsed, calls)
    sites = [(tree, site) for tree in parsed for site in _literal_sites(tree)
             if len(ast.unparse(site)) <= MAX_LITERAL_CHARS]
    seen = {c.expr for c in calls} | {ast.unparse(t) for t in parsed}
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(n * 6):
        if len(out) >= n or not sites:
            break
        tree, site = rng.choice(sites)
        old = ast.literal_eval(site)
        try:
            new = mutate_value(old, rng, pool)
            if new == old and type(new) is type(old):
                continue
            node = ast.parse(repr(new), mode="eval").body
            new_tree = _Replace(site, node).visit(_copy(tree, site))
            expr = ast.unparse(new_tree)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            continue
        if expr not in seen and len(expr) <= 4 * MAX_LITERAL_CHARS:
            seen.add(expr)
            out.append(expr)
            # as in EvalPlus, new inputs are seeds too: later ones may be several changes away
            sites += [(new_tree, s) for s in _literal_sites(new_tree) if len(ast.unparse(s)) <= MAX_LITERAL_CHARS]
    return out


def _copy(tree: ast.AST, site: ast.AST) -> ast.AST:
    """The tree itself: _Replace builds a new tree where the site was (the parsed trees are ours)."""
    import copy

    memo: dict[int, Any] = {id(site): site}  # keep the site's identity so _Replace finds it
    return copy.deepcopy(tree, memo)


# ------------------------------------------------------------------ observing the reference twice

_LAUNCHER = '''
import os as _os
import sys as _sys
import time as _time


def _codexsd_second_run(_src, _timeout, _hash_seed, _marker, _second):
    import select as _select

    _out = b""
    _r, _w = _os.pipe()
    _pid = _os.fork()
    if _pid == 0:
        try:
            _os.dup2(_w, 1)
            _env = dict(_os.environ, PYTHONHASHSEED=_hash_seed)
            _os.execve(_sys.executable, [_sys.executable, "-c", _src], _env)
        finally:
            _os._exit(127)
    _os.close(_w)
    _deadline = _time.monotonic() + _timeout
    while True:
        _left = _deadline - _time.monotonic()
        if _left <= 0:
            _os.kill(_pid, 9)
            break
        _ready = _select.select([_r], [], [], _left)[0]
        if not _ready:
            continue
        _chunk = _os.read(_r, 1 << 16)
        if not _chunk:
            break
        _out += _chunk
    _os.close(_r)
    _os.waitpid(_pid, 0)
    _text = _out.decode("utf-8", "replace")
    _at = _text.rfind(_marker)
    _line = _text[_at + len(_marker):].split("\\n", 1)[0] if _at >= 0 else "null"
    _b = ("\\n" + _second + _line + "\\n").encode("utf-8", "replace")
    while _b:
        _b = _b[_os.write(1, _b):]


_codexsd_src = %(src)r
for _codexsd_seed in %(hash_seeds)r:
    _codexsd_second_run(_codexsd_src, %(timeout)r, _codexsd_seed, %(marker)r, %(second)r)
exec(compile(_codexsd_src, "<reference>", "exec"), {"__name__": "__main__"})
'''


def observe_twice_program(source: str, entry_point: str, exprs: Sequence[str], per_call: float,
                          hash_seeds: Sequence[int], timeout: float) -> str:
    """A program that evaluates `exprs` on `source` (the reference) in a fresh interpreter per
    PYTHONHASHSEED in `hash_seeds`, then in itself; every run's result list is printed."""
    src = calls_program(source.rstrip("\n") + "\n" + GUARD_SOURCE, entry_point, [guarded(e, per_call) for e in exprs])
    return _LAUNCHER % {"src": src, "timeout": timeout, "hash_seeds": [str(h) for h in hash_seeds], "marker": RESULTS_MARKER,
                        "second": SECOND_MARKER}


def parse_twice(output: str, n: int) -> tuple[list[dict] | None, list[list[dict] | None]]:
    """(in-process results, [results of each fresh-interpreter run]) printed by observe_twice_program."""
    first = parse_results(output, n)
    others: list[list[dict] | None] = []
    for chunk in output.split(SECOND_MARKER)[1:]:
        try:
            run = json.loads(chunk.split("\n", 1)[0])
        except ValueError:
            run = None
        others.append(run if isinstance(run, list) and len(run) == n else None)
    return first, others


def hash_order_matters(source: str) -> bool:
    """Whether `source` builds sets or hashes (str iteration order then follows the hash seed):
    such tasks get more seeds, since two seeds agree on a 2-item set's order half the time."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return True
    for node in ast.walk(tree):
        if isinstance(node, (ast.Set, ast.SetComp)):
            return True
        if isinstance(node, ast.Name) and node.id in ("set", "frozenset", "hash", "id"):
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("union", "intersection", "difference", "symmetric_difference"):
            return True
    return False


def type_signature(enc: Any, depth: int = 0) -> set[str]:
    """Type names in an encoding, two container levels deep: ["list", [["int","1"]]] -> {list, list>int}."""
    if not isinstance(enc, list) or not enc:
        return {"?"}
    name = values.type_name(enc)
    out = {name}
    if depth < 2 and enc[0] in ("list", "tuple", "set", "frozenset"):
        for item in enc[1]:
            out |= {f"{name}>{s}" for s in type_signature(item, depth + 1)}
    elif depth < 2 and enc[0] in ("dict", "OrderedDict", "Counter", "defaultdict"):
        for k, v in enc[1]:
            out |= {f"{name}>k>{s}" for s in type_signature(k, depth + 1)}
            out |= {f"{name}>v>{s}" for s in type_signature(v, depth + 1)}
    return out


def keep_observations(exprs: Sequence[str], first: list[dict] | None, others: Sequence[list[dict] | None],
                      seen_types: set[str]) -> tuple[list[tuple[str, Any]], dict[str, int]]:
    """The (expr, expected encoding) pairs worth asserting, and the count dropped per reason.
    `first` is the in-process run, `others` the runs under other hash seeds (at least one)."""
    dropped = {r: 0 for r in DROP_REASONS}
    kept: list[tuple[str, Any]] = []
    if first is None or not others or any(o is None for o in others):
        dropped["no_result"] += len(exprs)
        return kept, dropped
    for i, (expr, a) in enumerate(zip(exprs, first)):
        runs = [a] + [o[i] for o in others]
        reason = None
        if any(r.get("raised") == GUARD_EXC for r in runs):
            reason = "timeout"
        elif any("raised" in r for r in runs):
            reason = "raises"
        elif any("unencodable" in r for r in runs):
            reason = "unencodable"
        elif len({values._dumps(r.get("value")) for r in runs}) > 1:
            reason = "disagrees"
        elif len(values._dumps(a["value"])) > MAX_RESULT_CHARS:
            reason = "too_large"
        elif not type_signature(a["value"]) <= seen_types:
            reason = "unseen_type"
        if reason:
            dropped[reason] += 1
        else:
            kept.append((expr, a["value"]))
    return kept, dropped


def greedy_select(kills: dict[str, set[int]], targets: Sequence[int], most: int,
                  priority: set[int] = frozenset()) -> list[str]:
    """Inputs chosen one at a time by how many not-yet-killed targets they kill (priority targets,
    the stand-ins, count 1000 times); stops at `most` inputs or when none kills anything new."""
    alive = set(targets)
    chosen: list[str] = []
    while len(chosen) < most and alive:
        best, gain = None, 0
        for expr in kills:  # insertion order: ties go to the earlier input
            if expr in chosen:
                continue
            hit = kills[expr] & alive
            score = sum(1000 if t in priority else 1 for t in hit)
            if score > gain:
                best, gain = expr, score
        if best is None:
            break
        chosen.append(best)
        alive -= kills[best]
    return chosen
