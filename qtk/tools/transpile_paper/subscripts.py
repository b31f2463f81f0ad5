"""Subscripts in pseudo-code maths: `x_i` and `A[i, j]` index, `A_{ik}` with one-letter variables
indexes twice, `x_1` is a name unless x is an array or an input (`p_1` of a point p), `d_{\\max}`
is a label, and a parenthesised superscript is a layer (`D^{(k)}` -> D[k], `\\theta^{(t+1)}` ->
theta[t + 1]); the entries of a layered matrix written in lower case (`d^{(k)}_{ij}` for D) are
its entries.
"""

from __future__ import annotations

import ast
from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.cursor import Cursor
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.mathtok import Tok


def is_layer(self: Cursor, base: ast.expr) -> bool:
    """At `^`: `D^{(k)}`; `d^k_{ij}` / `d^{k-1}_{ij}` (a superscript followed by a subscript); or
    `D^{k}` for a name the algorithm assigns with a superscript (`D^{0} \\gets W`)."""
    if not self.at("op", "^"):
        return False
    if self.at("op", "*", 1) or self.at("op", "{", 1) and self.at("op", "*", 2):
        return False  # r^*_i: an entry of r^*, no layer
        return True
    end = self.i + 2
    if self.at("op", "{", 1):
        depth = 0
        for k in range(self.i + 1, len(self.t)):
            depth += {"{": 1, "}": -1}.get(self.t[k].value, 0) if self.t[k].kind == "op" else 0
            if depth == 0:
                end = k + 1
                break
    followed = end < len(self.t) and self.t[end].kind == "op" and self.t[end].value == "_"
    named = isinstance(base, ast.Name) and (base.id in self.ctx.layered or base.id.upper() in self.ctx.layered)
    return followed or named or (isinstance(base, ast.Name) and _parenthesised(self) and base.id != "e")


def _parenthesised(self: Cursor) -> bool:
    """At `^`: `^{(i)}`, a superscript in parentheses (never a power: the i-th sample or iterate)."""
    if not (self.at("op", "{", 1) and self.at("op", "(", 2)):
        return False
    depth = 0
    for k in range(self.i + 1, len(self.t)):
        depth += {"{": 1, "}": -1}.get(self.t[k].value, 0) if self.t[k].kind == "op" else 0
        if depth == 0:
            return self.t[k - 1].kind == "op" and self.t[k - 1].value == ")"
    return False


def layer(self: Cursor, base: ast.expr) -> ast.expr:
    """`D^{(k)}`, `d^k_{ij}`: the k-th matrix of a sequence (an iteration label that indexes)."""
    paren = _parenthesised(self)
    named = isinstance(base, ast.Name) and (base.id in self.ctx.layered or base.id.upper() in self.ctx.layered)
    self.expect("op", "^")
    if self.at("op", "{") and self.at("op", "(", 1):
        self.expect("op", "{")
        self.expect("op", "(")
        index = self.expr()
        self.expect("op", ")")
        self.expect("op", "}")
    else:
        index = self.script()
    sample = isinstance(base, ast.Name) and base.id in self.ctx.declared and base.id not in self.ctx.layered \
        and base.id.upper() not in self.ctx.layered  # `p^{(i)}_c` of inputs `p^{(1)}, ..., p^{(N)}`: the i-th sample's c
    if paren and not named and (not self.at("op", "_") or sample):
        # `x^{(i)}` of a name never assigned with a superscript: the i-th sample, indexed as x_i is
        # (a target `\\theta^{(t+1)} \\gets` makes theta a sequence of layers: statements._layer_target)
        if isinstance(base, ast.Name):
            self.ctx.collections.add(base.id)
        return P.mark(ast.Subscript(value=base, slice=index, ctx=ast.Load()), index=True, superscript=True)
    base = _entries_of(base, self.ctx)
    if isinstance(base, ast.Name):
        self.ctx.collections.add(base.id)
    # not marked as an index: the layer number is a key (D[0] = W), never shifted or weighed
    return P.mark(ast.Subscript(value=base, slice=index, ctx=ast.Load()), layer=True)


def _constant_matrix(value: ast.expr, shape: ast.expr) -> ast.expr:
    dims = [shape.left, shape.right] if isinstance(shape, ast.BinOp) and isinstance(shape.op, ast.Mult) else [shape]
    for size in reversed(dims):
        value = P.repeat(value, size)
    return value


def _identity(size: ast.expr) -> ast.expr:
    i, j = ast.Name(id="_i", ctx=ast.Load()), ast.Name(id="_j", ctx=ast.Load())
    entry = P.call("int", [ast.Compare(left=i, ops=[ast.Eq()], comparators=[j])])
    row = ast.ListComp(elt=entry, generators=[ast.comprehension(target=ast.Name(id="_j", ctx=ast.Store()),
                                                                iter=P.call("range", [size]), ifs=[], is_async=0)])
    return ast.ListComp(elt=row, generators=[ast.comprehension(target=ast.Name(id="_i", ctx=ast.Store()),
                                                               iter=P.call("range", [size]), ifs=[], is_async=0)])


def _slice_to(self: Cursor, base: ast.expr, lo: ast.expr) -> ast.expr:
    hi = self.expr()
    self.expect("op", "]")
    return P.mark(ast.Subscript(value=base, slice=P.mark(ast.Slice(lower=lo, upper=hi), inclusive=True),
                                ctx=ast.Load()), index=True)


def _entries_of(base: ast.expr, ctx: P.Ctx) -> ast.expr:
    """`d` in `d^{(k)}_{ij}` and `c` in `c_{ij}` are entries of the matrices D and C, and `x` in `x_i`
    of the sequence X, when only the upper-case name is in use (CLRS writes C = (c_ij), X = <x_1, ..>)."""
    upper = base.id.upper() if isinstance(base, ast.Name) else ""
    if isinstance(base, ast.Name) and len(base.id) == 1 and base.id.islower() and base.id not in ctx.known \
            and base.id not in ctx.declared | ctx.params \
            and (upper in ctx.collections or upper in ctx.layered or upper in ctx.params or upper in ctx.known
                 or upper in ctx.declared):
        return P.name(base.id.upper())
    return base


def subscript(self: Cursor, base: ast.expr) -> ast.expr:
    """`x_i`, `A_{i,j}`, `A_{ik}` (i, k variables), `x_1` (a name unless x is an array), `d_{\\max}` (a label)."""
    self.expect("op", "_")
    tok = self.peek()
    grouped = self.at("op", "{")
    inner = self.peek(1) if grouped else tok
    closes = self.at("op", "}", 2) if grouped else True
    if isinstance(base, (ast.Name, ast.Subscript)) and inner is not None and closes \
            and _index_letters(inner, self.ctx):
        self.i += 3 if grouped else 1  # A_{ik} with i and k variables: A[i][k]
        base = _entries_of(base, self.ctx)  # a_{ik}: an entry of the matrix A
        if isinstance(base, ast.Name):
            self.ctx.collections.add(base.id)
        for letter in inner.value:
            base = P.mark(ast.Subscript(value=base, slice=P.name(letter), ctx=ast.Load()), index=True)
        return base
    if isinstance(base, ast.Name) and inner is not None and closes and inner.kind == "op" \
            and inner.value in ("+", "-") and (grouped or not self.at("num", None, 1)):
        self.i += 3 if grouped else 1  # n_+, n_{-}: the count of positives, of negatives (a label)
        return P.name(variable_name(f"{base.id.rstrip('_')}_{'plus' if inner.value == '+' else 'minus'}"))
    if isinstance(base, ast.Name) and inner is not None and closes and _label_like(inner, self.ctx):
        self.i += 3 if grouped else 1
        label = inner.value  # `s_{\\min}`, `s_{\\max}`: two names
        return P.name(variable_name(f"{base.id.rstrip('_')}_{label}"))
    if isinstance(base, ast.Name) and inner is not None and closes and inner.kind == "name" \
            and inner.value in _AXES and _coordinate(base.id, inner.value, self.ctx):
        self.i += 3 if grouped else 1  # `a_x`, `p_y` of a point a, p: its coordinates
        return ast.Subscript(value=base, slice=P.const(_AXES.index(inner.value)), ctx=ast.Load())
    sub = self.script()
    if isinstance(base, ast.Name) and base.id == "I" and not {"I"} & (self.ctx.known | self.ctx.declared
                                                                    | self.ctx.params | self.ctx.collections):
        return _identity(sub)  # I_n: the n x n identity matrix
    if isinstance(base, ast.Constant):  # 0_{n \\times m}: the zero matrix of that shape
        if base.value not in (0, 1) or isinstance(base.value, bool):
            P.fail("a subscript on a number")
        return _constant_matrix(base, sub)
    items = sub.elts if isinstance(sub, ast.Tuple) else [sub]
    constant = all(P.int_value(x) is not None for x in items)
    if isinstance(base, ast.Name) and len(items) == 1 and isinstance(items[0], ast.Name):
        key = (base.id, items[0].id)  # `m_i \\gets 0` before any i exists: m_i is a name
        if self.ctx.collecting and items[0].id not in self.ctx.known and items[0].id not in self.ctx.declared \
                and base.id not in self.ctx.collections:  # v_1, ..., v_{n_{items}}: v is an array
            self.ctx.labels.add(key)
        if key in self.ctx.labels or base.id in self.ctx.applied:  # g_t beside the function g(x): a value
            return P.name(variable_name(f"{base.id}_{items[0].id}"))
        if items[0].id in self.ctx.params and items[0].id in self.ctx.collections:
            return P.name(variable_name(f"{base.id}_{items[0].id}"))  # `S_A` of an input list A: a name, no index
    if isinstance(base, ast.Name) and not constant:
        base = _entries_of(base, self.ctx)  # CLRS's `x_i` of a sequence X = <x_1, ..., x_m>
    if isinstance(base, ast.Name):
        if not constant:
            self.ctx.collections.add(base.id)
        elif base.id not in self.ctx.collections and base.id not in self.ctx.params:
            return P.name(base.id + "_" + "_".join(str(P.int_value(x)).replace("-", "m") for x in items))
    for item in items:
        base = P.mark(ast.Subscript(value=base, slice=item, ctx=ast.Load()), index=True)
    return base

def bracket(self: Cursor, base: ast.expr) -> ast.expr:
    """`A[i]`, `A[i, j]`, `A[i..j]` and `A[i:j]` (inclusive), CLRS's `length[A]`."""
    self.expect("op", "[")
    if isinstance(base, ast.Name) and base.id.rstrip("_").lower() in ("length", "size") \
            and base.id not in self.ctx.known:
        arg = self.tuple_expr()
        self.expect("op", "]")
        return P.call("len", [arg])  # CLRS 2nd edition: length[A]
    while True:
        lo = self.expr()
        if self.at("op", ",") and self.at("op", "...", 1) and self.at("op", ",", 2):
            self.i += 3  # A[1, \\ldots, n] is A[1..n]
            return _slice_to(self, base, lo)
        # A[i..j], and CLRS 4th edition's A[i:j]: both include j
        colon = self.at("op", ":")
        if self.accept("op", "..") or self.accept("op", "...") or self.accept("op", ":"):
            hi = self.expr()
            # colon=True: CLRS 4e's A[p:r] in a 1-based block, Python's half-open x[i:j] in a 0-based one
            index: ast.expr = P.mark(ast.Slice(lower=lo, upper=hi), inclusive=True, colon=colon)
        else:
            index = lo
            if isinstance(base, ast.Name) and P.int_value(lo) is None:
                self.ctx.collections.add(base.id)
        base = P.mark(ast.Subscript(value=base, slice=index, ctx=ast.Load()), index=True)
        if not self.accept("op", ","):
            break
    self.expect("op", "]")
    return base


_AXES = ("x", "y", "z")


def _coordinate(point: str, axis: str, ctx: P.Ctx) -> bool:
    """Whether `point_axis` is a coordinate of the variable `point` (an input or a variable of the
    block) rather than a name of its own (`p_x` declared as an input) or an entry at a position x."""
    own = f"{point}_{axis}"
    names = ctx.known | ctx.declared | ctx.params
    return point in names and axis not in names and own not in names and len(point) <= 2


def _index_letters(tok: Tok, ctx: P.Ctx) -> bool:
    """`ij` in `C_{ij}`: two or three one-letter variables side by side, not a name of its own (`s_{xy}`
    beside arrays x and y is a name: an index is a number, never an array)."""
    return (tok.kind == "name" and tok.style == "math" and 2 <= len(tok.value) <= 3
            and tok.value not in ctx.known and all(c in ctx.known and c not in ctx.collections for c in tok.value))


def _label_like(tok: Tok, ctx: P.Ctx) -> bool:
    """`d_{\\max}`, `w_{\\text{new}}`, `x_{best}`: a subscript that names, not indexes."""
    if tok.kind == "bigop" and tok.value in ("max", "min"):
        return True
    if tok.kind == "kw" and not tok.math:  # x_{\\text{new}}: a word of text, even a keyword
        return True
    if tok.kind != "name":
        return False
    if tok.style in ("roman", "prose", "func"):
        return True
    return len(tok.value) > 1 and variable_name(tok.value) not in ctx.known
