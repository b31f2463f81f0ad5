"""CLRS-style records and named constants.

`u.d \\gets \\infty` written on the elements of a graph makes d an array keyed by the element:
every `x.d` becomes `d[x]` (a map the body fills; never shifted, since its keys are elements, not
positions), while attributes the algorithm only reads (`G.V`, `G.Adj[u]`) stay attributes of its
inputs. Names in capitals that nothing assigns and nothing passes in (`WHITE`, `GRAY`,
`\\textsc{Black}` without arguments) are constants, the strings of their names. An empty set used as
a queue or a stack (`Q \\gets \\emptyset`, then ENQUEUE) starts as an empty list.
"""

from __future__ import annotations

import ast
import re

from qtk.tools.transpile_paper import pyast as P


FIELDS = "_fields"  # the module's map of the fields of arrays, by (id(array), field)


def array_fields(body: list[ast.stmt]) -> list[ast.stmt]:
    """CLRS's `A.heap-size` on an array the body indexes (`A[i]`, `A.length`): a field of that array, shared by
    every procedure it is passed to, `_fields[id(A), "heap_size"]` (a list holds no attributes)."""
    arrays = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}
    arrays |= {n.args[0].id for n in _walk(body) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
               and n.func.id == "len" and len(n.args) == 1 and isinstance(n.args[0], ast.Name)}  # `A.length`
    called = {id(n.func) for n in _walk(body) if isinstance(n, ast.Call)}
    if not any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in arrays
               and id(n) not in called for n in _walk(body)):
        return body

    class Rewrite(ast.NodeTransformer):
        def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
            self.generic_visit(node)
            if not (isinstance(node.value, ast.Name) and node.value.id in arrays) or id(node) in called:
                return node
            key = ast.Tuple(elts=[P.call("id", [ast.Name(id=node.value.id, ctx=ast.Load())]), P.const(node.attr)],
                            ctx=ast.Load())
            return ast.Subscript(value=ast.Name(id=FIELDS, ctx=ast.Load()), slice=key, ctx=node.ctx)

    tr = Rewrite()
    return [tr.visit(stmt) for stmt in body]


def attribute_arrays(body: list[ast.stmt]) -> list[ast.stmt]:
    """`v.d \\\\gets 0` ... `u.d + 1` -> `d[v] = 0` ... `d[u] + 1` for every attribute the body writes."""
    written = {t.attr for node in _walk(body) for t in _targets(node)
               for t in ast.walk(t) if isinstance(t, ast.Attribute)}
    if not written:
        return body

    class Rewrite(ast.NodeTransformer):
        def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
            self.generic_visit(node)
            if node.attr not in written:
                return node
            return P.mark(ast.Subscript(value=ast.Name(id=node.attr, ctx=ast.Load()), slice=node.value,
                                        ctx=node.ctx), record=True)

    tr = Rewrite()
    return [tr.visit(stmt) for stmt in body]


def named_constants(body: list[ast.stmt], free: list[str]) -> tuple[list[ast.stmt], list[str]]:
    """Free names in capitals (`WHITE`) or small capitals without arguments (`\\textsc{Gray}`)
    become the strings of their names; so do free names added to a string (`solution + E`)."""
    indexed = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}
    consts = {n.id for node in _walk(body) for n in [node] if isinstance(n, ast.Name) and n.id in free
              and n.id not in indexed and (_capitals(n.id) or P.meta(n, "style") == "func")}
    texts = {t.id for n in _walk(body) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
             and isinstance(n.value.value, str) for t in n.targets if isinstance(t, ast.Name)}
    letters = {side.id for n in _walk(body) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add)
               for side, other in ((n.left, n.right), (n.right, n.left))
               if isinstance(side, ast.Name) and side.id in free and side.id not in indexed
               and isinstance(other, ast.Name) and other.id in texts}  # `solution + E` with solution a string
    if not consts and not letters:
        return body, free

    class Rewrite(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in consts and isinstance(node.ctx, ast.Load):
                return ast.Constant(P.meta(node, "raw", node.id).upper())
            if node.id in letters and isinstance(node.ctx, ast.Load):
                return ast.Constant(P.meta(node, "raw", node.id))
            return node

    tr = Rewrite()
    return [tr.visit(stmt) for stmt in body], [n for n in free if n not in consts | letters]


def _capitals(name: str) -> bool:
    letters = name.replace("_", "")
    return len(letters) >= 3 and letters.isalpha() and letters.isupper()


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.For)):
        return [node.target]
    return []


def _walk(body: list[ast.stmt]):
    for stmt in body:
        yield from ast.walk(stmt)


def heaps(body: list[ast.stmt]) -> list[ast.stmt]:
    """A collection created as `an empty min-heap`: pushing and popping keep it a heap (heapq), the
    least item first; and an empty set written into by key (`dist[s] \\gets 0`) is a map."""
    made = {t.id for n in _walk(body) if isinstance(n, ast.Assign) and P.meta(n.value, "heap")
            for t in n.targets if isinstance(t, ast.Name)}
    keyed = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)
             and isinstance(n.value, ast.Name)}
    for n in _walk(body):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and P.is_empty_set(n.value) and n.targets[0].id in keyed:
            n.value = P.mark(ast.Dict(keys=[], values=[]), map=True)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id in made and n.func.attr in ("append", "pop"):
            heap = n.func.value
            n.func = ast.Attribute(value=ast.Name(id="heapq", ctx=ast.Load()),
                                   attr="heappush" if n.func.attr == "append" else "heappop", ctx=ast.Load())
            n.args = [heap] + (n.args if n.func.attr == "heappush" else [])
    return body


def queues_from_empty_sets(body: list[ast.stmt]) -> list[ast.stmt]:
    """`Q \\gets \\emptyset` then \\textsc{Enqueue}(Q, s): an empty collection used as a queue or a
    stack starts as an empty list; so does a set written out (`Q \\gets \\{s\\}`) that is dequeued or
    appended to."""
    ordered = {n.func.value.id for n in _walk(body) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and isinstance(n.func.value, ast.Name) and n.func.attr in ("append", "pop", "insert", "extend")}
    positional = {n.func.value.id for n in _walk(body) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and isinstance(n.func.value, ast.Name) and (n.func.attr in ("append", "insert", "extend")
                                                             or n.func.attr == "pop" and n.args)}
    made = set()
    for node in _walk(body):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        if P.is_empty_set(node.value) and node.targets[0].id in ordered:
            node.value = ast.List(elts=[], ctx=ast.Load())
            made.add(node.targets[0].id)
        elif isinstance(node.value, ast.Set) and node.targets[0].id in positional:  # `Q \gets \{s\}`, dequeued
            node.value = ast.List(elts=node.value.elts, ctx=ast.Load())
            made.add(node.targets[0].id)
    for node in _walk(body):  # `enqueue $s$ into $Q$` read as adding to the set Q: appending to the list
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in made:
            node.func.attr = "append"
    return body


def scalar_labels(body: list[ast.stmt], names: list[str], params: set[str]) -> tuple[list[ast.stmt], list[str]]:
    """`g_w \\gets ...` and `g_b` beside the scalars w and b: a never-created name subscripted only
    by variables that are neither loop variables, counters, positions of another array nor inputs
    the body never assigns (`g_w` beside an input w updated by `w \\gets w - \\eta g_w` is a name; `col_r`
    with r a helper's read-only input is col[r]) is a family of names (g_w, g_b), not an array.
    Returns the body and the names still arrays."""
    loops = {n.id for node in _walk(body) for t in _loop_targets(node) for n in ast.walk(t)
             if isinstance(n, ast.Name)}
    stepped = {t.id for node in _walk(body) if isinstance(node, (ast.Assign, ast.AugAssign))
               for t in _targets(node) if isinstance(t, ast.Name) and _steps_by_one(node, t.id)}
    assigned = {t.id for node in _walk(body) if isinstance(node, (ast.Assign, ast.AugAssign))
                for t in _targets(node) if isinstance(t, ast.Name)}
    subs: dict[str, list[ast.Subscript]] = {}
    for node in _walk(body):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            subs.setdefault(node.value.id, []).append(node)
    positions = {s.slice.id for root, found in subs.items() if root not in names for s in found
                 if isinstance(s.slice, ast.Name)}
    labels = {n for n in names if n in subs and all(
        isinstance(s.slice, ast.Name) and s.slice.id not in loops | stepped | positions | (params - assigned)
        for s in subs[n])}
    if not labels:
        return body, names

    class Rewrite(ast.NodeTransformer):
        def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.value, ast.Name) and node.value.id in labels:
                return ast.Name(id=f"{node.value.id}_{node.slice.id}", ctx=node.ctx)
            return node

    tr = Rewrite()
    return [tr.visit(stmt) for stmt in body], [n for n in names if n not in labels]


def _loop_targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.For):
        return [node.target]
    if isinstance(node, ast.comprehension):
        return [node.target]
    return []


def _steps_by_one(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.AugAssign):
        return True
    v = node.value
    return isinstance(v, ast.BinOp) and isinstance(v.op, (ast.Add, ast.Sub)) and isinstance(v.left, ast.Name) \
        and v.left.id == name and P.int_value(v.right) is not None


def sorted_values(body: list[ast.stmt]) -> list[ast.stmt]:
    """`B \\gets \\textsc{Sort}(A)`: a sort whose result is used is `sorted(A)`; only a sort on a
    line of its own sorts in place."""

    class Rewrite(ast.NodeTransformer):
        def visit_Expr(self, node: ast.Expr) -> ast.AST:
            if _is_sort(node.value):
                node.value.args = [self.visit(a) for a in node.value.args]
                node.value.func.value = self.visit(node.value.func.value)
                return node
            return self.generic_visit(node)

        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            return P.call("sorted", [node.func.value]) if _is_sort(node) else node

    tr = Rewrite()
    return [tr.visit(stmt) for stmt in body]


def _is_sort(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sort" \
        and not node.args and not node.keywords


def loop_sizes(body: list[ast.stmt], free: list[str], inputs: set[str]) -> list[tuple[str, ast.expr]]:
    """`for i = 1 to d` (or `2 to d`, `0 to d - 1`) with d defined nowhere and i indexing an input
    u (`u_i`): d is the length of u; and n defined nowhere in a block with one array input: its length."""
    found: dict[str, ast.expr] = {}
    for node in _walk(body):
        if not (isinstance(node, ast.For) and isinstance(node.target, ast.Name)):
            continue
        bounds = P.meta(node.iter, "bounds")
        if not bounds or bounds[2]:
            continue
        start, stop = P.int_value(bounds[0]), bounds[1]
        size = _minus_one_of(stop) if start == 0 else stop if start is not None and start >= 1 else None
        if not (isinstance(size, ast.Name) and size.id in free and size.id not in found):
            continue
        indexed = [_sized_part(n) for n in _walk(node.body) if isinstance(n, ast.Subscript)
                   and P.root_name(n) in inputs and isinstance(n.slice, ast.Name) and n.slice.id == node.target.id]
        if indexed:  # u[i]: len(u); W[u][v]: v runs over a row, len(W[0])
            found[size.id] = P.call("len", [indexed[0]])
    arrays = sorted({P.root_name(n) for n in _walk(body) if isinstance(n, ast.Subscript) and P.root_name(n) in inputs})
    for name in _COUNT_NAMES & set(free) - set(found):
        if len(arrays) == 1:  # `oben \gets n - 1` with one array input S and n named nowhere: n = |S|
            found[name] = P.call("len", [ast.Name(id=arrays[0], ctx=ast.Load())])
    return list(found.items())


_COUNT_NAMES = {"n", "N"}  # the name texts give the number of elements of the (one) input array


def _sized_part(sub: ast.Subscript) -> ast.expr:
    """What the index of `sub` runs over: the array itself, or its first row for W[u][v]."""
    depth, e = 0, sub.value
    while isinstance(e, ast.Subscript):
        depth, e = depth + 1, e.value
    part: ast.expr = ast.Name(id=e.id, ctx=ast.Load())
    for _ in range(depth):
        part = ast.Subscript(value=part, slice=P.const(0), ctx=ast.Load())
    return part


def _minus_one_of(e: ast.expr) -> ast.expr | None:
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Sub) and P.int_value(e.right) == 1:
        return e.left
    return None


def function_and_sequence(body: list[ast.stmt], params: set[str]) -> list[ast.stmt]:
    """`g_t \\gets g(\\theta_{t-1})` with g an input function: the indexed g is another variable (the
    sequence of its values, `g_values`), so the function stays callable."""
    called = {n.func.id for n in _walk(body) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    written = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)
               and isinstance(n.value, ast.Name)}
    both = called & written & params
    if not both:
        return body

    class Rename(ast.NodeTransformer):
        def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.value, ast.Name) and node.value.id in both:
                node.value = ast.Name(id=node.value.id + "_values", ctx=ast.Load())
            return node

    return [Rename().visit(stmt) for stmt in body]


def value_copies(body: list[ast.stmt]) -> list[ast.stmt]:
    """`r \\gets r'` (or `d \\gets W`) between arrays the algorithm changes entry by entry: the
    pseudo-code assigns the value, so the new name gets its own copy (`copy.deepcopy`), never an
    alias whose later writes would change both."""
    entry_written = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)
                     and isinstance(n.value, ast.Name)}
    for node in _walk(body):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Name) and node.value.id != node.targets[0].id \
                and {node.value.id, node.targets[0].id} & entry_written:
            node.value = P.call("copy.deepcopy", [node.value])
    return body


def scalar_and_sequence(body: list[ast.stmt], params: set[str]) -> tuple[list[ast.stmt], dict[str, str]]:
    """`n \\gets \\sum_k n_k` with the sizes `n_1, \\ldots, n_K` given: the letter names both the input
    sequence and a number the block computes; the sequence (entries and parameter) becomes `n_values`."""
    indexed = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}
    whole = {t.id for n in _walk(body) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
             and not isinstance(n.value, (ast.List, ast.ListComp, ast.Dict, ast.Set, ast.Name))
             and t.id not in _whole_uses(n.value)}  # `A \\gets \\text{sort}(A)` keeps A one sequence
    both = indexed & whole & params
    # `M \\gets \\prod_i m_i` then `M_i \\gets M / m_i`: a number and, under the same letter, entries
    # the block writes itself: two variables (the entries become `M_values`)
    stored = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)
              and isinstance(n.value, ast.Name)}
    numbers = {t.id for n in _walk(body) if isinstance(n, ast.Assign) and _numeric(n.value)
               for t in n.targets if isinstance(t, ast.Name)}
    both |= (stored & numbers) - params
    if not both:
        return body, {}
    renamed = {x: x + "_values" for x in both}
    rename = _RenameEntries(renamed)
    return [rename.visit(stmt) for stmt in body], renamed


def entries_renamed(body: list[ast.stmt]) -> list[ast.stmt]:
    """Entries `b[i]` of a number b whose digits the block names under the same letter (the
    statement that makes them says so): read from the digits' own list."""
    renamed = {P.meta(n, "entries_of"): n.targets[0].id for n in _walk(body) if P.meta(n, "entries_of")}
    if not renamed:
        return body
    rename = _RenameEntries(renamed)
    return [rename.visit(stmt) for stmt in body]


class _RenameEntries(ast.NodeTransformer):
    """Entries `x[i]` of the names in `renamed` read from the new name (`x_values[i]`)."""

    def __init__(self, renamed: dict[str, str]) -> None:
        self.renamed = renamed

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id in self.renamed:
            node.value = ast.Name(id=self.renamed[node.value.id], ctx=ast.Load())
        return node


def query_and_points(body: list[ast.stmt], params: set[str], io_text: str) -> tuple[list[ast.stmt], dict[str, str]]:
    """`query $x$, training points $x_1, \\ldots, x_N$`: the inputs name one letter twice, a number and
    a sequence, and the body uses it both ways (`|x - x_j|`). The sequence (its entries, its length,
    loops over it) becomes its own input `x_points`, declared right after x."""
    indexed = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}
    arithmetic = set()
    for n in _walk(body):
        if isinstance(n, ast.BinOp):
            arithmetic |= {x.id for x in (n.left, n.right) if isinstance(x, ast.Name)}
    found = {}
    for name in indexed & arithmetic & params:
        alone = re.search(r"\$\s*" + re.escape(name) + r"\s*\$", io_text)
        entries = re.search(re.escape(name) + r"_\{?\s*1\s*\}?\s*,", io_text)
        if alone and entries:
            found[name] = name + "_points"
    if not found:
        return body, {}

    class Split(_RenameEntries):  # also the sequence's length and loops over it
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.func, ast.Name) and node.func.id == "len" and len(node.args) == 1 \
                    and isinstance(node.args[0], ast.Name) and node.args[0].id in found:
                node.args[0] = ast.Name(id=found[node.args[0].id], ctx=ast.Load())
            return node

        def visit_For(self, node: ast.For) -> ast.AST:
            self.generic_visit(node)
            if isinstance(node.iter, ast.Name) and node.iter.id in found:
                node.iter = ast.Name(id=found[node.iter.id], ctx=ast.Load())
            return node

    split = Split(found)
    return [split.visit(stmt) for stmt in body], found


def room_for_one_more(body: list[ast.stmt], derived: list[tuple[str, ast.expr]]) -> list[ast.stmt]:
    """`i \\gets n` with n = |A|, then `A[i + 1] \\gets ..` (shifting right to insert into a sorted
    A[1..n]): the pseudo-code writes one place past A's end, so the list first grows by one slot
    (`A.append(None)` after n is taken)."""
    lengths = {n: v.args[0].id for n, v in derived if isinstance(v, ast.Call) and isinstance(v.func, ast.Name)
               and v.func.id == "len" and len(v.args) == 1 and isinstance(v.args[0], ast.Name)}
    from_length = {t.id: lengths[n.value.id] for n in _walk(body) if isinstance(n, ast.Assign)
                   for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Name)
                   and n.value.id in lengths}
    grown = set()
    for n in _walk(body):
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name) \
                and isinstance(n.slice, ast.BinOp) and isinstance(n.slice.op, ast.Add) \
                and isinstance(n.slice.left, ast.Name) and P.int_value(n.slice.right) == 1 \
                and from_length.get(n.slice.left.id) == n.value.id:
            grown.add(n.value.id)
    if not grown:
        return body
    out: list[ast.stmt] = []
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and lengths.get(stmt.targets[0].id) in grown:
            out.append(ast.Expr(value=P.method(ast.Name(id=lengths[stmt.targets[0].id], ctx=ast.Load()),
                                               "append", [P.const(None)])))
            grown.discard(lengths[stmt.targets[0].id])
    return out


_NUMERIC_CALLS = {"sum", "len", "max", "min", "abs", "math.prod", "prod", "int", "float", "round", "math.floor",
                  "math.ceil", "math.sqrt", "math.log", "math.exp"}


def _numeric(e: ast.expr) -> bool:
    """A value that is a number: a numeric constant, or arithmetic / numeric calls with no list in it
    (never the bold zero, `\\mathbf{0}`: a vector)."""
    if P.meta(e, "vector"):
        return False
    if isinstance(e, ast.Constant):
        return isinstance(e.value, (int, float)) and not isinstance(e.value, bool)
    if isinstance(e, ast.Call):
        f = e.func
        name = f"{f.value.id}.{f.attr}" if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
            else f.id if isinstance(f, ast.Name) else ""
        return name in _NUMERIC_CALLS
    if isinstance(e, ast.BinOp):
        return not any(isinstance(n, (ast.List, ast.ListComp)) for n in ast.walk(e)) \
            and (_numeric(e.left) or _numeric(e.right))
    return False


def _whole_uses(e: ast.expr) -> set[str]:
    """Names e reads whole (not only through a subscript)."""
    bases = {id(n.value) for n in ast.walk(e) if isinstance(n, ast.Subscript)}
    return {n.id for n in ast.walk(e) if isinstance(n, ast.Name) and id(n) not in bases}
