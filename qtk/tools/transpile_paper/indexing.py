"""Index base: decide whether an algorithm indexes arrays from 1 (CLRS) or 0, and shift its
subscripts onto Python's 0-based lists.

Loop variables and other index values keep the pseudo-code's numbering (so `for j = 2 to n`
stays `range(2, n + 1)`); only the subscripts move: `A[j]` -> `A[j - 1]`, `A[i..j]` ->
`A[i - 1:j]`. Arrays the algorithm allocates itself (`let C[0..k] be a new array`) use their
declared lower bound whatever the default, as CLRS's counting sort does.

`auto` weighs evidence about the variables that index arrays: values 0 / len(A) - 1 / tests
`i >= 0` say 0-based, values len(A) / declarations A[1..n] say 1-based (strong); a loop or a
variable starting at 1, or a test `i > 0`, says 1-based (weak). Ties keep the indices as written.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from qtk.tools.transpile_paper import pyast as P

STRONG, WEAK = 2, 1
NO_EVIDENCE = "auto: no sign of 1-based arrays, indices kept as written"


@dataclass
class Evidence:
    one: int = 0
    zero: int = 0
    notes: dict[int, list[str]] = field(default_factory=lambda: {0: [], 1: []})

    def add(self, base: int, weight: int, note: str) -> None:
        if base == 1:
            self.one += weight
        else:
            self.zero += weight
        if note not in self.notes[base]:
            self.notes[base].append(note)


def allocations(body: list[ast.stmt]) -> dict[str, int]:
    """Arrays the algorithm allocates with an explicit lower bound, and tables it creates one longer
    than a length (`an $(n+1) \\times (m+1)$ matrix of zeros`): positions 0 .. n, from 0."""
    found = {P.meta(n, "alloc")[0]: P.meta(n, "alloc")[1] for n in _walk(body) if P.meta(n, "alloc")}
    for n in _walk(body):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and _one_longer(n.value):
            found.setdefault(n.targets[0].id, 0)
    return found


def _one_longer(value: ast.expr) -> bool:
    """`[0] * (n + 1)` or `[[0] * (m + 1) for _ in range(n + 1)]` with n not a constant, filled with
    numbers (a list of layers `[None] * (n + 1)` holds tables of their own)."""
    if isinstance(value, ast.ListComp) and len(value.generators) == 1:
        it = value.generators[0].iter
        size = it.args[0] if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
            and len(it.args) == 1 else None
        leaf = value.elt
    elif isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult) and isinstance(value.left, ast.List) \
            and len(value.left.elts) == 1:
        size, leaf = value.right, value.left.elts[0]
    else:
        return False
    while isinstance(leaf, ast.BinOp) and isinstance(leaf.op, ast.Mult) and isinstance(leaf.left, ast.List) \
            and len(leaf.left.elts) == 1:
        leaf = leaf.left.elts[0]
    if not (isinstance(leaf, ast.Constant) and isinstance(leaf.value, (int, float))
            and not isinstance(leaf.value, bool)):
        return False
    return isinstance(size, ast.BinOp) and isinstance(size.op, ast.Add) and P.int_value(size.right) == 1 \
        and P.int_value(size.left) is None


def keyed_arrays(body: list[ast.stmt], inputs: set[str], from_zero: set[str] = frozenset()) -> set[str]:
    """The algorithm's own arrays that start at 0 whatever the others do: maps it creates empty
    (`an empty map`); arrays (not inputs) with a subscript that is an element read from an array
    (`C[A[j]]`), a string constant, or a variable running over a collection's items (`for c in
    s: cnt[c]`), i.e. keyed by values; and arrays it fills itself that it indexes at 0 (`P[0]
    \\gets 0`), or by a variable whose range the block gives as `0, \\ldots, B-1` (`from_zero`).
    They are never shifted, and say nothing about the base of the other arrays."""
    keyed = created_maps(body)
    items = {t.id for n in _walk(body) if isinstance(n, ast.For) and not P.meta(n.iter, "bounds")
             and not P.meta(n.iter, "positions_of")  # (`each sample $y_i$`: i is a position, not an item)
             for t in ast.walk(n.target) if isinstance(t, ast.Name)}  # `for c in s`, `for i, c in enumerate(s)`
    allocated = allocations(body)
    for node in _walk(body):
        if not (isinstance(node, ast.Subscript) and P.meta(node, "index") and isinstance(node.value, ast.Name)):
            continue
        key, arr = node.slice, node.value.id
        by_value = (isinstance(key, ast.Subscript) or isinstance(key, ast.Constant) and isinstance(key.value, str)
                    or isinstance(key, ast.Name) and key.id in items | set(from_zero) or P.int_value(key) == 0)
        if by_value and arr not in inputs and arr not in allocated:
            keyed.add(arr)
    return keyed | _grown_from_zero(body, inputs) | _read_at_zero(body, inputs)


def _read_at_zero(body: list[ast.stmt], inputs: set[str]) -> set[str]:
    """Inputs read at `v - c` where the loop variable v starts at c (`p_{i-1}` for i from 1,
    `r[i-1]` for i from 1): they count from 0 whatever the block's other arrays do."""
    lowest: dict[str, int] = {}
    for n in _walk(body):
        if isinstance(n, ast.For) and isinstance(n.target, ast.Name) and P.meta(n.iter, "bounds"):
            start, end, down = P.meta(n.iter, "bounds")
            low = P.int_value(end if down else start)
            if low is not None:
                lowest[n.target.id] = low
    found = set()
    for n in _walk(body):
        if isinstance(n, ast.Subscript) and P.meta(n, "index") and isinstance(n.value, ast.Name) \
                and n.value.id in inputs and isinstance(n.slice, ast.BinOp) and isinstance(n.slice.op, ast.Sub) \
                and isinstance(n.slice.left, ast.Name) and n.slice.left.id in lowest \
                and P.int_value(n.slice.right) == lowest[n.slice.left.id]:
            found.add(n.value.id)
    return found


def _grown_from_zero(body: list[ast.stmt], inputs: set[str]) -> set[str]:
    """Lists the algorithm starts empty and grows by appends, read at positions that a variable set
    to 0 gives (`lo \\gets 0`, `mid \\gets \\lfloor (lo + hi)/2 \\rfloor`; a counter stepped by one may
    count from 1 and is no sign): the positions of what was appended, counted from 0."""
    empty = {t.id for n in _walk(body) if isinstance(n, ast.Assign) and isinstance(n.value, ast.List)
             and not n.value.elts for t in n.targets if isinstance(t, ast.Name)}
    grown = {n.func.value.id for n in _walk(body) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "append" and isinstance(n.func.value, ast.Name)}
    counters = _counters(body)
    zero = {t.id for n in _walk(body) if isinstance(n, ast.Assign) and P.int_value(n.value) == 0
            for t in n.targets if isinstance(t, ast.Name)} - counters
    sources: dict[str, set[str]] = {}
    for n in _walk(body):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            sources.setdefault(n.targets[0].id, set()).update(
                x.id for x in ast.walk(n.value) if isinstance(x, ast.Name))
    found = set()
    for node in _walk(body):
        if isinstance(node, ast.Subscript) and P.meta(node, "index") and isinstance(node.value, ast.Name) \
                and node.value.id in (empty & grown) - inputs and isinstance(node.slice, ast.Name):
            key = node.slice.id
            if key not in counters and (key in zero or sources.get(key, set()) & zero):
                found.add(node.value.id)
    return found


_INT_FUNCS = {"range", "math.gcd", "math.comb", "math.factorial", "math.isqrt"}


def integer_divisions(body: list[ast.stmt]) -> list[ast.stmt]:
    """`mid \\gets (lo + hi)/2` read as A[mid], `A[n/2]`, `\\ell \\cdot a_i / \\gcd(\\ell, a_i)` passed to
    gcd again: a quotient that must be an integer (a position, a range bound, gcd's argument) is
    the pseudo-code's integer division, `//`."""
    body = [_ModularInverse().visit(stmt) for stmt in body]
    contexts: list[ast.expr] = []
    modular: set[str] = set()  # names whose entries pow(.., -1, m) takes: whole numbers
    for node in _walk(body):
        if isinstance(node, ast.Subscript) and P.meta(node, "index") and not isinstance(node.slice, ast.Slice):
            contexts.append(node.slice)
        elif isinstance(node, ast.Call) and _func_name(node) in _INT_FUNCS:
            contexts.extend(node.args)
        elif isinstance(node, ast.Call) and _func_name(node) == "pow" and len(node.args) == 3:
            contexts.extend(node.args)
            modular |= {n.id for n in ast.walk(node.args[0]) if isinstance(n, ast.Name)}
    names = {n.id for c in contexts for n in ast.walk(c) if isinstance(n, ast.Name)}
    for node in _walk(body):
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id in names:
            contexts.append(node.value)
        elif isinstance(target, ast.Subscript) and _root(target) in modular:  # `M_i \\gets M / m_i`, then M_i^{-1}
            contexts.append(node.value)
    for c in contexts:
        for n in _arithmetic(c):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div):
                n.op = ast.FloorDiv()
    for node in _walk(body):  # `while d mod 2 = 0: d \\gets d / 2`: a division known to be exact stays an integer
        if isinstance(node, (ast.While, ast.If)):
            for x, k in _divisibility_tests(node.test):
                for stmt in node.body:
                    v = stmt.value if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                        and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == x else None
                    if isinstance(v, ast.BinOp) and isinstance(v.op, ast.Div) and isinstance(v.left, ast.Name) \
                            and v.left.id == x and ast.dump(v.right) == ast.dump(k):
                        v.op = ast.FloorDiv()
    return body


class _ModularInverse(ast.NodeTransformer):
    """`a^{-1} \\bmod m`: the inverse of a modulo m, `pow(a, -1, m)` (never the float 1/a taken mod m)."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Mod):
            inverted = self._inverse(node.left, node.right)
            if inverted is not None and not (isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Mult)):
                return inverted  # `b^{-1} \\bmod p`
            node.left = inverted or node.left  # `a b^{-1} \\bmod p`: each inverted factor modulo p
        return node

    def _inverse(self, e: ast.expr, m: ast.expr) -> ast.expr | None:
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow) and P.int_value(e.right) == -1:
            return P.call("pow", [e.left, P.const(-1), m])
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
            left, right = self._inverse(e.left, m), self._inverse(e.right, m)
            if left is not None or right is not None:
                return ast.BinOp(left=left or e.left, op=ast.Mult(), right=right or e.right)
        return None


def _divisibility_tests(test: ast.expr) -> list[tuple[str, ast.expr]]:
    """(x, k) for each `x % k == 0` the test requires (alone or in an `and`)."""
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    found = []
    for t in parts:
        if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq) \
                and P.int_value(t.comparators[0]) == 0 and isinstance(t.left, ast.BinOp) \
                and isinstance(t.left.op, ast.Mod) and isinstance(t.left.left, ast.Name):
            found.append((t.left.left.id, t.left.right))
    return found


def _arithmetic(e: ast.expr):
    """The nodes of e outside any call (`\\lceil q/100 \\cdot n \\rceil` rounds its own quotient)."""
    yield e
    if not isinstance(e, ast.Call):
        for child in ast.iter_child_nodes(e):
            yield from _arithmetic(child)


def _func_name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return f.id if isinstance(f, ast.Name) else ""


def created_maps(body: list[ast.stmt]) -> set[str]:
    """Names the algorithm assigns a map to (`an empty map`, `a mapping of each letter onto 0`)."""
    return {t.id for n in _walk(body) if isinstance(n, ast.Assign) and P.meta(n.value, "map")
            for t in n.targets if isinstance(t, ast.Name)}


def _bounds(rng: ast.expr, base: int) -> tuple[ast.expr, ast.expr, bool] | None:
    """A counted loop's first and last value and direction; a loop over an array's positions
    (`each sample $y_i$`) runs over them as the block numbers them."""
    if P.meta(rng, "bounds"):
        return P.meta(rng, "bounds")
    arr = P.meta(rng, "positions_of")
    if arr is None:
        return None
    size = P.call("len", [ast.Name(id=arr, ctx=ast.Load())])
    return P.const(base), P.add_const(size, base - 1), False


def implicit_size(body: list[ast.stmt], name: str, base: int) -> ast.expr | None:
    """How long a list the algorithm's never-created array `name` must be, when every write to
    it is `name[v + c]` with v counting up to one same bound (or a constant): else None (a map)."""
    stop, top, low, covered = None, None, 0, set()
    highest = {}  # loop variable -> its largest value (`for j = i downto 1` inside `for i = 1 to n`: i, so n)
    for loop in _walk(body):
        if isinstance(loop, ast.For) and _bounds(loop.iter, base) and isinstance(loop.target, ast.Name):
            start, end, down = _bounds(loop.iter, base)
            highest[loop.target.id] = start if down else end
    vertices = None  # `for each vertex v: d[v] <- ...` over 0 .. |G| - 1: |G| entries
    for loop in _walk(body):
        if (base == 0 and isinstance(loop, ast.For) and P.meta(loop.iter, "vertices")
                and isinstance(loop.target, ast.Name)):
            for node in _writes(loop.body, name):
                if _var_of(node.slice) == (loop.target.id, 0):
                    covered.add(id(node))
                    vertices = loop.iter.args[0]
    for loop in _walk(body):
        if isinstance(loop, ast.For) and _bounds(loop.iter, base) and isinstance(loop.target, ast.Name):
            for node in _writes(loop.body, name):
                var, c = _var_of(node.slice)
                if var != loop.target.id:
                    continue
                covered.add(id(node))
                start, end, down = _bounds(loop.iter, base)
                first, last = (end, start) if down else (start, end)
                seen = {loop.target.id}
                while isinstance(last, ast.Name) and last.id in highest and last.id not in seen:
                    seen.add(last.id)
                    last = highest[last.id]
                if stop is not None and ast.dump(last) != ast.dump(stop):
                    return None
                shift = 0 if P.meta(node, "layer") else base  # D^{(k)}: layers keep their numbers
                stop, top = last, max(c - shift, top if top is not None else c - shift)
                low = min(low, (P.int_value(first) if P.int_value(first) is not None else -1) + c - shift)
    uncovered = [node for node in _writes(body, name) if id(node) not in covered and P.int_value(node.slice) is None]
    for node in list(uncovered) if stop is not None else []:
        # `G_T \gets 0` beside `G_t` for t = T-1 down to 0: one past the loop's reach, still in the list
        d = next((d for d in range(-3, 4) if ast.dump(P.add_const(copy.deepcopy(stop), d)) == ast.dump(node.slice)), None)
        if d is not None:
            uncovered.remove(node)
            top = max(top, d - base)
    if uncovered and not _filled_first(body, name):
        return None  # written at a position no loop bounds, and never filled whole beforehand
    if vertices is not None and stop is None:
        return copy.deepcopy(vertices)
    if stop is None or low < 0:
        return None
    return P.add_const(stop, top + 1)


def placed_output(body: list[ast.stmt], name: str, inputs: set[str],
                  lengths: dict[str, str] | None = None) -> ast.expr | None:
    """The length of a declared output the algorithm never creates and fills by placing, once in
    each round of a loop over all the positions of an input X, one entry at a computed position
    (counting sort's `B[C[A[j]]] \\gets A[j]` for j over A): len(X); else None."""
    writes = list(_writes(body, name))
    if not writes:
        return None
    for loop in _walk(body):
        if not (isinstance(loop, ast.For) and isinstance(loop.target, ast.Name)):
            continue
        inside = {id(w) for w in _writes(loop.body, name)}
        if inside != {id(w) for w in writes} or len(inside) != 1:
            continue
        bounds = _bounds(loop.iter, 1)
        if bounds is None:
            continue
        ends = [bounds[0], bounds[1]]
        sizes = [e for e in ends if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "len"
                 and isinstance(e.args[0], ast.Name) and e.args[0].id in inputs]
        sizes += [P.call("len", [ast.Name(id=(lengths or {})[e.id], ctx=ast.Load())]) for e in ends
                  if isinstance(e, ast.Name) and (lengths or {}).get(e.id) in inputs]  # m = |X|
        first = [P.int_value(e) for e in ends if P.int_value(e) is not None]
        if sizes and first and first[0] in (0, 1) and not (isinstance(writes[0].slice, ast.Name)
                                                           and writes[0].slice.id == loop.target.id):
            return copy.deepcopy(sizes[0])
    return None


def implicit_grid(body: list[ast.stmt], name: str, base: int) -> tuple[ast.expr, ast.expr] | None:
    """The shape of a never-created table written only as `name[i][j]` (i and j loop variables
    counting up to known bounds, `B[i][j] \\gets 0` over 1..n, 1..m): (rows, columns), else None."""
    bounds = {}
    for loop in _walk(body):
        if isinstance(loop, ast.For) and P.meta(loop.iter, "bounds") and isinstance(loop.target, ast.Name):
            start, end, down = P.meta(loop.iter, "bounds")
            bounds[loop.target.id] = (end, start) if down else (start, end)
    dims: list[tuple[str, int] | None] = [None, None]
    found = False
    for node in _walk(body):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            if not (isinstance(t, ast.Subscript) and _root(t) == name):
                continue
            if not (isinstance(t.value, ast.Subscript) and isinstance(t.value.value, ast.Name)):
                return None  # written whole rows or entries of one level: not a table
            found = True
            for k, index in enumerate((t.value.slice, t.slice)):
                var, c = _var_of(index)
                if var not in bounds or P.int_value(bounds[var][0]) is None:
                    return None
                low, stop = bounds[var]
                if P.int_value(low) + c - base < 0 or any(isinstance(n, ast.Name) and n.id in bounds
                                                         for n in ast.walk(stop)):
                    return None  # a row length that depends on another loop (`j \\le \\min(i, k)`): a map
                top = (ast.dump(stop), c)
                if dims[k] is not None and dims[k][0] != top[0]:
                    return None
                dims[k] = (top[0], max(c, dims[k][1]) if dims[k] else c, stop)
    if not found or None in dims:
        return None
    return tuple(P.add_const(stop, c - base + 1) for _, c, stop in dims)


def _filled_first(body: list[ast.stmt], name: str) -> bool:
    """Whether a top-level counted loop fills `name` (`for v = 0 to n-1: dist[v] <- inf`) before any
    statement writes it elsewhere (`dist[s] <- 0`): then every later write is inside its range."""
    for stmt in body:
        writes = list(_writes([stmt], name))
        if not writes:
            continue
        if isinstance(stmt, ast.For) and (P.meta(stmt.iter, "bounds") is not None or P.meta(stmt.iter, "vertices")) \
                and isinstance(stmt.target, ast.Name) and all(_var_of(w.slice)[0] == stmt.target.id for w in writes):
            return True
        # `for t = 1 to T: (for v: r'[v] <- c) ...`: filled first thing in each round of an outer loop
        return isinstance(stmt, (ast.For, ast.While)) and _filled_first(stmt.body, name)
    return False


def _writes(body: list[ast.stmt], name: str):
    for node in _walk(body):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name:
                yield t


def decide(body: list[ast.stmt], arrays: dict[str, tuple[ast.expr, ast.expr]],
           lengths: dict[str, str], keyed: set[str] = frozenset(),
           lows: dict[str, int] | None = None) -> tuple[int, str]:
    """(base, reason) for `auto`. `arrays`: declared A[lo..hi]; `lengths`: n -> A when n = len(A);
    `keyed`: arrays indexed by values, left out of the evidence; `lows`: inputs declared with a
    lowest value (`1 \\le k \\le |A|`)."""
    allocated = {**{k: 0 for k in keyed}, **allocations(body)}
    ev = Evidence()
    for arr, (lo, _) in arrays.items():
        v = P.int_value(lo)
        if v in (0, 1):
            ev.add(v, STRONG, f"{arr}[{v}..] is declared")
    for arr, lo in allocations(body).items():  # maps keyed by values say nothing about the base
        if lo == 1 and arr not in keyed:  # a table from 0 (`r[0..n]`, DP) is no sign for the inputs
            ev.add(lo, STRONG, f"{arr}[{lo}..] is allocated")
    index_vars, offsets = _index_vars(body, allocated, ev)
    _guard_evidence(body, allocated, ev)
    for node in _walk(body):  # A[\\lceil n/2 \\rceil] reaches A[n] when n = 1: only valid 1-based
        if isinstance(node, ast.Subscript) and P.meta(node, "index") and _root(node) not in allocated:
            half = _half_of_length(node.slice, _root(node), lengths)
            if half is not None:
                ev.add(half, STRONG if half else WEAK, f"{_root(node)}[{'ceil' if half else 'floor'}(n / 2)] "
                       "is read with n its length")
    # `for j = i to n` inside `for i = 1 to n`: j starts where i does
    starts = {n.target.id: P.meta(n.iter, "bounds")[0] for n in _walk(body) if isinstance(n, ast.For)
              and isinstance(n.target, ast.Name) and P.meta(n.iter, "bounds") and not P.meta(n.iter, "bounds")[2]}
    for var, low in (lows or {}).items():
        if var in index_vars and 0 in offsets.get(var, ()):
            ev.add(low, STRONG, f"input {var} >= {low} indexes {index_vars[var]}")
    direct = set(index_vars)
    _propagate(body, index_vars, offsets)
    counters = _counters(body)  # t <- 0 then t <- t + 1 before use: a count, weak evidence of 0
    for node in _walk(body):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name) and t.id in index_vars:
                    # a bound of mid that is set to the length (hi <- n) is the 1-based last
                    # position or the 0-based end of a half-open range: weak either way
                    _value_evidence(t.id, node.value, index_vars[t.id], lengths, ev, "is set to", True,
                                    offsets[t.id], WEAK if t.id in counters else STRONG,
                                    STRONG if t.id in direct else WEAK)
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name) \
                and node.target.id in index_vars:  # a loop, or a sum's range (\\sum_{i=1}^{n} M_{ii})
            bounds = P.meta(node.iter, "bounds")
            if bounds and isinstance(node, ast.For) and not _indexes_free_arrays(node, allocated):
                continue  # `for i = 0 to n-1: sort B[i]` with B allocated: says nothing of the inputs
            if bounds:
                v, arr = node.target.id, index_vars[node.target.id]
                start = starts.get(bounds[0].id, bounds[0]) if isinstance(bounds[0], ast.Name) else bounds[0]
                _value_evidence(v, start, arr, lengths, ev, "starts at", not bounds[2], offsets[v])
                _value_evidence(v, bounds[1], arr, lengths, ev, "ends at", bounds[2], offsets[v])
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name):
            _test_evidence(node, index_vars, ev)
    if ev.one > ev.zero:
        return 1, "auto: " + "; ".join(ev.notes[1][:2])
    if ev.zero:
        return 0, "auto: " + "; ".join(ev.notes[0][:2])
    return 0, NO_EVIDENCE


def _indexes_free_arrays(loop: ast.For, allocated: dict[str, int]) -> bool:
    """Whether the loop's body indexes, with the loop variable, an array whose base is not fixed."""
    var = loop.target.id
    for stmt in loop.body:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Subscript) and P.meta(n, "index") and _root(n) not in allocated \
                    and _var_of(n.slice)[0] == var:
                return True
    return False


def _index_vars(body: list[ast.stmt], allocated: dict[str, int],
                ev: Evidence) -> tuple[dict[str, str], dict[str, set[int]]]:
    """Variables used as A[v] / A[v + c] for arrays whose base is not fixed -> (the array, the
    offsets c seen)."""
    found: dict[str, str] = {}
    offsets: dict[str, set[int]] = {}
    zero_read = {_root(n) for n in _walk(body) if isinstance(n, ast.Subscript) and P.meta(n, "index")
                 and not isinstance(n.slice, ast.Slice) and P.int_value(n.slice) == 0}
    for node in _walk(body):
        if not (isinstance(node, ast.Subscript) and P.meta(node, "index")):
            continue
        arr = _root(node)
        if arr in allocated:
            continue
        index = node.slice
        if isinstance(index, ast.Slice):
            for bound in (index.lower, index.upper):
                v = P.int_value(bound) if bound is not None else None
                if v in (0, 1) and bound is index.lower:
                    ev.add(v, STRONG, f"slice {arr}[{v}..]")
            if arr and index.upper is not None and _is_length(index.upper, arr, {}):
                ev.add(1, STRONG, f"slice {arr}[..len({arr})]")  # inclusive up to |A|: only 1-based
            continue
        if arr and isinstance(index, ast.Call) and _is_length(index, arr, {}):  # A[|A|]: valid 1-based only
            ev.add(1, STRONG, f"{arr}[len({arr})] is read")
        if P.int_value(index) == 0:
            ev.add(0, STRONG, f"{arr}[0] is read")
        elif P.int_value(index) == 1 and arr not in zero_read:
            ev.add(1, WEAK, f"{arr}[1] is read and {arr}[0] never")
        var, offset = _var_of(index)
        if var and arr:
            found.setdefault(var, arr)
            offsets.setdefault(var, set()).add(offset)
    return found, offsets


def _propagate(body: list[ast.stmt], index_vars: dict[str, str], offsets: dict[str, set[int]]) -> None:
    """mid = (low + high) // 2 with mid an index: low and high are indices of the same array."""
    assigns = [n for n in _walk(body) if isinstance(n, ast.Assign) and len(n.targets) == 1
               and isinstance(n.targets[0], ast.Name)]
    for _ in range(3):
        for node in assigns:
            arr = index_vars.get(node.targets[0].id)
            if arr is None:
                continue
            for sub in ast.walk(node.value):
                if isinstance(sub, (ast.Subscript, ast.Call)):
                    break  # values read from arrays or calls are data, not positions
            else:
                for sub in ast.walk(node.value):
                    if isinstance(sub, ast.Name) and sub.id not in index_vars:
                        index_vars[sub.id] = arr
                        offsets.setdefault(sub.id, set()).add(0)


def _counters(body: list[ast.stmt]) -> set[str]:
    """Variables stepped by one (`t \\gets t + 1`)."""
    found = set()
    for n in _walk(body):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            v = n.value
            if isinstance(v, ast.BinOp) and isinstance(v.op, ast.Add) and isinstance(v.left, ast.Name) \
                    and v.left.id == n.targets[0].id and P.int_value(v.right) == 1:
                found.add(v.left.id)
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name) and P.int_value(n.value) == 1:
            found.add(n.target.id)
    return found


def _value_evidence(var: str, value: ast.expr, arr: str, lengths: dict[str, str], ev: Evidence,
                    verb: str, weak_one: bool, offsets: set[int], zero_weight: int = STRONG,
                    length_weight: int = STRONG) -> None:
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "min" \
            and len(value.args) == 2:  # b <- min(.., B - 1): capped at a last position
        for arg in value.args:
            if _is_length(arg, arr, lengths) or _length_minus(arg, arr, lengths) is not None:
                value = arg
    v = P.int_value(value)
    child = _heap_child(value)
    if child is not None:  # j = 2i (children 2i, 2i + 1) is the 1-based heap; 2i + 2 the 0-based one
        ev.add(child, STRONG, f"index {var} {verb} a heap child of another index")
    elif v is not None and v != 0 and any(v + c == 0 for c in offsets):
        ev.add(0, STRONG, f"index {var} {verb} {v} and {arr}[{var} - {v}] is read")
    elif v == 0:
        ev.add(0, zero_weight, f"index {var} {verb} 0")
    elif v == 1 and weak_one:
        ev.add(1, WEAK, f"index {var} {verb} 1")
    elif _is_length(value, arr, lengths) or _length_minus(value, arr, lengths) is not None:
        # the highest position read is the length plus the bound's and the index's offsets:
        # `for i = 1 to n - 1` reading A[i + 1] reaches A[n] (1-based), A[i] only A[n - 1] (0-based)
        k = 0 if _is_length(value, arr, lengths) else -_length_minus(value, arr, lengths)
        top = k + max(offsets, default=0)
        read = f" and {arr}[{var} + {max(offsets)}] is read" if max(offsets, default=0) > 0 else ""
        bound = f"the length of {arr}" + (f" - {-k}" if k else "")
        if top == 0:
            ev.add(1, length_weight if k == 0 and not read else STRONG, f"index {var} {verb} {bound}{read}")
        elif top == -1:
            ev.add(0, STRONG, f"index {var} {verb} {bound}{read}")


def _half_of_length(index: ast.expr, arr: str | None, lengths: dict[str, str]) -> int | None:
    """1 for ceil(len(A) / c) (`-(-n // c)`), 0 for floor(len(A) / c) (`n // c`), else None."""
    ceil = isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub)
    inner = index.operand if ceil else index
    if not (arr and isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.FloorDiv)
            and (P.int_value(inner.right) or 0) > 1):
        return None
    n = inner.left
    if ceil:
        if not (isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub)):
            return None
        n = n.operand
    return (1 if ceil else 0) if _is_length(n, arr, lengths) else None


def _length_minus(value: ast.expr, arr: str, lengths: dict[str, str]) -> int | None:
    """c for `len(A) - c` (c a positive literal), else None."""
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Sub) and _is_length(value.left, arr, lengths):
        c = P.int_value(value.right)
        return c if c is not None and c > 0 else None
    return None


def _heap_child(value: ast.expr) -> int | None:
    """1 for `2i`, 0 for `2i + 2`, else None."""
    def doubled(e: ast.expr) -> bool:
        return isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult) and P.int_value(e.left) == 2 \
            and isinstance(e.right, ast.Name)

    if doubled(value):
        return 1
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add) and doubled(value.left) \
            and P.int_value(value.right) == 2:
        return 0
    return None


def _guard_evidence(body: list[ast.stmt], allocated: dict[str, int], ev: Evidence) -> None:
    """`j \\ge g \\land A[j - g] > t`: the test lets A[0] be read, so A counts from 0 (`j > g` before
    A[j - g]: from 1, as CLRS's `i > 0 and A[i] > key`)."""
    for node in _walk(body):
        if not (isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And)):
            continue
        for test, later in zip(node.values, node.values[1:]):
            if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name)
                    and isinstance(test.ops[0], (ast.Gt, ast.GtE))):
                continue
            var, bound = test.left.id, test.comparators[0]
            for sub in ast.walk(later):
                if not (isinstance(sub, ast.Subscript) and P.meta(sub, "index") and _root(sub) not in allocated):
                    continue
                idx = sub.slice
                if isinstance(bound, ast.Constant) and P.int_value(bound) == 0:
                    hit = isinstance(idx, ast.Name) and idx.id == var
                else:
                    hit = isinstance(idx, ast.BinOp) and isinstance(idx.op, ast.Sub) \
                        and isinstance(idx.left, ast.Name) \
                        and idx.left.id == var and ast.dump(idx.right) == ast.dump(bound)
                if hit:
                    base = 0 if isinstance(test.ops[0], ast.GtE) else 1
                    ev.add(base, STRONG, f"test {var} {'>=' if base == 0 else '>'} {ast.unparse(bound)} "
                           f"before {_root(sub)}[{ast.unparse(idx)}] is read")
                    break


def _test_evidence(node: ast.Compare, index_vars: dict[str, str], ev: Evidence) -> None:
    var = node.left.id
    if var not in index_vars:
        return
    op, v = node.ops[0], P.int_value(node.comparators[0])
    if v == 0 and isinstance(op, ast.GtE):
        ev.add(0, STRONG, f"test {var} >= 0")
    elif v == 0 and isinstance(op, ast.Gt) or v == 1 and isinstance(op, ast.GtE):
        ev.add(1, WEAK, f"test {var} {'>' if isinstance(op, ast.Gt) else '>='} {v}")


def _is_length(value: ast.expr, arr: str, lengths: dict[str, str]) -> bool:
    if isinstance(value, ast.Name):
        return lengths.get(value.id) == arr
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "len"
            and len(value.args) == 1 and isinstance(value.args[0], ast.Name) and value.args[0].id == arr)


def _var_of(index: ast.expr) -> tuple[str | None, int]:
    """`i` -> (i, 0); `i - 1` -> (i, -1); anything else -> (None, 0)."""
    if isinstance(index, ast.Name):
        return index.id, 0
    if isinstance(index, ast.BinOp) and isinstance(index.op, (ast.Add, ast.Sub)) \
            and isinstance(index.left, ast.Name) and P.int_value(index.right) is not None:
        c = P.int_value(index.right)
        return index.left.id, c if isinstance(index.op, ast.Add) else -c
    return None, 0


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _walk(body: list[ast.stmt]):
    for stmt in body:
        yield from ast.walk(stmt)


class Shift(ast.NodeTransformer):
    """Move marked subscripts from the pseudo-code's base onto 0-based lists; turn inclusive
    slices A[i..j] into Python slices."""

    def __init__(self, default: int, bases: dict[str, int], maps: set[str] = frozenset(),
                 zero_valued: set[str] = frozenset()) -> None:
        self.default, self.bases, self.maps, self.zero_valued = default, bases, maps, zero_valued

    def _base(self, root: str, inner: ast.expr | None) -> int:
        """The base of `root`'s dimension that a subscript of `inner` (root, root[i], ...) indexes:
        one number for the whole array, or one per dimension (`S[i][c]` for i = 1..n, c = 0..C-1)."""
        base = self.bases.get(root, self.default)
        if not isinstance(base, tuple):
            return base
        depth = 0
        while isinstance(inner, ast.Subscript):
            depth, inner = depth + 1, inner.value
        own = base[depth] if depth < len(base) else None
        return self.default if own is None else own

    def visit_Call(self, node: ast.Call) -> ast.AST:
        chunk = P.meta(node, "chunk")  # `append $x[i : j]$ to $C$`: in a 0-based block, one piece of x
        if chunk is not None and self._base(chunk, None) == 0:
            node.func.attr = "append"
        self.generic_visit(node)
        arr = P.meta(node, "positions_of")
        if arr in self.maps:  # `\\max_\\ell c[\\ell]` over a map: its keys, smallest first (ties as for positions)
            return P.call("sorted", [ast.Name(id=arr, ctx=ast.Load())])
        base = self._base(arr, node.args[0].args[0] if node.args and isinstance(node.args[0], ast.Call)
                          and node.args[0].args else None) if arr else 0
        if base:  # positions of a 1-based array: 1 .. len
            node.args = [P.const(base), P.add_const(node.args[0], base)]
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        if not P.meta(node, "index"):
            return node
        root = _root(node)
        base = self._base(root, node.value) if root else self.default
        sl = node.slice
        if isinstance(sl, ast.Subscript) and _root(sl) in self.zero_valued:
            base = 0  # p[y_i] with the labels y counted from 0: the label is the position
        if isinstance(sl, ast.Slice) and P.meta(sl, "inclusive") and P.meta(sl, "colon") and base == 0:
            node.slice = ast.Slice(lower=None if P.int_value(sl.lower) == 0 else sl.lower, upper=sl.upper)
        elif isinstance(sl, ast.Slice) and P.meta(sl, "inclusive"):
            lower = P.add_const(sl.lower, -base)
            node.slice = ast.Slice(lower=None if P.int_value(lower) == 0 else lower,
                                   upper=P.add_const(sl.upper, 1 - base))
        elif not isinstance(sl, ast.Slice):
            node.slice = P.add_const(sl, -base)
        return node


def shift(body: list[ast.stmt], default: int, keyed: set[str] = frozenset(),
          declared: dict[str, int] | None = None, zero_valued: set[str] = frozenset()) -> list[ast.stmt]:
    """Shift every array from its base: its own when the block fixes it (keyed by values, allocated
    `C[0..k]`, declared `A[0..n-1]`), else the algorithm's; a subscript that is an entry of an
    input whose values the block counts from 0 (`labels in \\{0, \\ldots, C-1\\}`) is kept."""
    dims = {P.meta(n, "alloc_dims")[0]: P.meta(n, "alloc_dims")[1] for n in _walk(body) if P.meta(n, "alloc_dims")}
    bases = {**(declared or {}), **{k: 0 for k in keyed}, **allocations(body), **dims}  # (per dimension: s[1.., 2..])
    tr = Shift(default, bases, created_maps(body), zero_valued)
    return [tr.visit(stmt) for stmt in body]


class _TupleKeys(ast.NodeTransformer):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        keys: list[ast.expr] = []
        inner: ast.expr = node
        while isinstance(inner, ast.Subscript) and not isinstance(inner.slice, ast.Slice):
            keys.insert(0, inner.slice)
            inner = inner.value
        if isinstance(inner, ast.Name) and inner.id in self.names and len(keys) > 1:
            keys = [self.visit(k) for k in keys]
            return ast.Subscript(value=inner, slice=ast.Tuple(elts=keys, ctx=ast.Load()), ctx=node.ctx)
        self.generic_visit(node)
        return node


def tuple_keys(body: list[ast.stmt], names: set[str]) -> list[ast.stmt]:
    """A table the algorithm fills without creating it (`m[i, j] \\gets 0`) is a map keyed by
    (i, j): `m[i][j]` would need the row m[i] to exist first."""
    if not names:
        return body
    tr = _TupleKeys(names)
    return [tr.visit(stmt) for stmt in body]


def appends_past_the_end(body: list[ast.stmt], lengths: dict[str, str]) -> list[ast.stmt]:
    """`A[n + 1] \\gets x` with n = |A| (a sentinel after the last entry), once shifted `A[n] = x`:
    the list grows by one, `A.append(x)`."""

    class Append(ast.NodeTransformer):
        def visit_Assign(self, node: ast.Assign) -> ast.AST:
            t = node.targets[0] if len(node.targets) == 1 else None
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) \
                    and _is_length(t.slice, t.value.id, lengths):
                return ast.Expr(value=P.method(ast.Name(id=t.value.id, ctx=ast.Load()), "append", [node.value]))
            return node

    return [Append().visit(stmt) for stmt in body]
