"""Sizes and shapes that a \\Require / \\KwIn line states in words, turned into inputs' lengths:
`array $a$ of $n$ numbers`, `of length $n$`, `an $n \\times m$ matrix $A$`, `$M$, an $r \\times k$
matrix`, `an $n$-element array $A$`, `$A \\in \\mathbb{R}^{m \\times n}$`, `$|A| = n$`, `$A = [a_1,
\\ldots, a_n]$`; and element forms (`edges $E$ as triples $(u, v, w)$`, whose names are not inputs,
and `intervals $I_j$ given as pairs $(a_j, b_j)$`, whose names are columns of I). Used by params.py.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.mathparse import parse_all
from qtk.tools.transpile_paper.mathtok import Tok, Untranslatable
from qtk.tools.transpile_paper.linetokens import split, top_level


@dataclass
class Params:
    """The inputs a block declares (in its header and Require/Input text), in order, and what the
    text says about them: bounds, lengths derived from other inputs, vectors, matrices."""

    names: list[str] = field(default_factory=list)
    arrays: dict[str, tuple[ast.expr, ast.expr]] = field(default_factory=dict)  # A -> (lo, hi)
    derived: list[tuple[str, ast.expr]] = field(default_factory=list)  # n = len(A)
    constrained: list[str] = field(default_factory=list)  # named only in conditions ($n \ge 1$)
    lows: dict[str, int] = field(default_factory=dict)  # $1 \le k \le n$: k counts from 1
    indexed: str | None = None  # the last input named with its indices (`scores $L[t][v]$`)
    vectors: set[str] = field(default_factory=set)  # `$w \\in \\mathbb{R}^d$`: lists of numbers
    vector_dims: dict[str, ast.expr] = field(default_factory=dict)  # w -> d
    zero_valued: set[str] = field(default_factory=set)  # `y_1, .., y_n \\in \\{0, .., C-1\\}`: entries index from 0
    matrices: set[str] = field(default_factory=set)  # `$A \\in \\mathbb{R}^{n \\times m}$`: lists of rows
    families: set[str] = field(default_factory=set)  # `$x_i \\in \\mathbb{R}^d$`: each entry a vector
    dim_lows: dict[str, dict[int, int]] = field(default_factory=dict)  # L -> {dimension: its first index}
    defaults: dict[str, ast.expr] = field(default_factory=dict)  # `$\epsilon = 10^{-8}$` -> epsilon's default

    def add(self, name: str) -> None:
        if name not in self.names and name not in {d for d, _ in self.derived}:
            self.names.append(name)

    def defined(self) -> set[str]:
        return set(self.names) | {d for d, _ in self.derived}


RELATIONS = {"=", "<", ">", "<=", ">=", "!=", "in", "notin", ":", "<=s", "<s", ">=s", ">s"}
_LENGTH_WORDS = {"length", "size", "elements", "entries", "items", "len",
                 "longueur", "taille", "länge", "laenge", "lunghezza", "tamanho", "longitud", "comprimento"}
# `array $a$ of $n$ numbers`: n counts the elements of the collection named before it
ELEMENT_WORDS = {"numbers", "elements", "entries", "items", "integers", "values", "reals", "points",
                  "keys", "vertices", "nodes", "objects", "words", "characters", "bits", "digits"}
_GRID_WORDS = {"matrix", "matrices", "array", "table", "grid"}


def single_name(seg: list[Tok]) -> bool:
    return len(seg) == 1 and seg[0].kind == "name"


def ident(tok: Tok) -> str:
    return variable_name(tok.value)


def counts_collection(words: list[Tok], after: list[Tok], seg: list[Tok], collection: str | None,
                      ctx: P.Ctx, out: Params) -> bool:
    """`length $n$` / `of $n$ numbers` right after an array: n is its length."""
    if not collection or not single_name(seg) or ident(seg[0]) in out.defined():
        return False
    before = [w.value.lower() for w in words]
    following = after[0].value.lower() if after else ""
    if before and before[-1] in ("with", "on", "of") and following in ("vertices", "nodes"):
        return True  # `graph $G$ with $n$ vertices` (adjacency lists): n = |G|
    if before and before[-1] == "with" and following in ELEMENT_WORDS and (collection in out.arrays
                                                                           or collection in ctx.collections):
        return True  # `a max-heap $H$ with $n$ elements`
    if collection not in out.arrays and collection not in ctx.collections:
        return False  # `start $x_0$, step size $\eta$`: x_0 is no array
    if before and before[-1] in _LENGTH_WORDS:  # `of length $n$`, not `window size $k$`
        # `$a$ and $b$ of equal length $n$`, `un tableau de longueur $n$`
        return len(before) < 2 or before[-2] in (",", "of", "its", "with", "and", "the", "(", "equal", "same",
                                                 "common", "de", "di", "der", "da", "del")
    return bool(before and before[-1] == "of" and following in ELEMENT_WORDS)


def grid_dims(seg: list[Tok], nxt: tuple[list[Tok], list[Tok]] | None, ctx: P.Ctx, out: Params) -> bool:
    """`an $n \times m$ matrix $A$`: n = len(A), m = len(A[0]) (sizes that are plain names)."""
    if nxt is None or not single_name(nxt[1]):
        return False
    if not {w.value.lower() for w in nxt[0]} & _GRID_WORDS:
        return False
    stars = top_level(seg, lambda t: t.kind == "op" and t.value == "*")
    dims = split(seg, stars)
    if len(dims) != 2 or not all(single_name(d) for d in dims):
        return False
    grid = ast.Name(id=ident(nxt[1][0]), ctx=ast.Load())
    first_row = ast.Subscript(value=grid, slice=P.const(0), ctx=ast.Load())
    for dim, length in zip(dims, (P.call("len", [grid]), P.call("len", [first_row]))):
        name = ident(dim[0])
        if name not in out.defined():
            out.derived.append((name, length))
    return True


_FORM_WORDS = {"as", "pairs", "triples", "tuples", "form", "each", "where", "entries", "elements", "intervals",
               "transitions", "samples", "experiences", "quadruples",
               "edges", "points", "items", "records"}  # `a set $I$ of intervals $(s, f)$`


def element_form(words: list[Tok], seg: list[Tok]) -> bool:
    """A parenthesised (or bracketed, `intervals $[s, e]$`) tuple of names after `as` / `triples` /
    `of the form` describes elements."""
    if not (seg and (seg[0].value, seg[-1].value) in (("(", ")"), ("[", "]"), ("langle", "rangle"))):
        return False
    inner = seg[1:-1]
    if not all(t.kind == "name" or t.value in (",", "_", "'") for t in inner):  # `(s, a, r, s')`
        return False
    said = [w.value.lower() for w in words if not w.math]
    if len(said) >= 2 and said[0] == "of" and said[-1].endswith("s"):
        return True  # `a list $R$ of roads $(p, q, len)$`: each road is such a tuple
    return bool(set(said) & _FORM_WORDS)


def columns(seg: list[Tok], collection: str | None, out: Params) -> None:
    """`intervals $I_1, \\ldots, I_m$ given as pairs $(a_j, b_j)$`: a and b are I's columns."""
    parts = split(seg[1:-1], top_level(seg[1:-1], lambda t: t.value == ","))
    if collection is None or not all(len(p) == 3 and p[0].kind == "name" and p[1].value == "_" for p in parts):
        return
    for k, p in enumerate(parts):
        name = ident(p[0])
        if name in out.defined():
            continue
        item = ast.Subscript(value=ast.Name(id="_x", ctx=ast.Load()), slice=P.const(k), ctx=ast.Load())
        gen = ast.comprehension(target=ast.Name(id="_x", ctx=ast.Store()),
                                iter=ast.Name(id=collection, ctx=ast.Load()), ifs=[], is_async=0)
        out.derived.append((name, ast.ListComp(elt=item, generators=[gen])))


def space_dims(e: ast.expr, out: Params) -> bool:
    """`$A \\in \\mathbb{R}^n$` / `\\mathbb{R}^{m \\times n}`: A is the input, n (m, n) its sizes."""
    if not (isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], ast.In)
            and isinstance(e.comparators[0], ast.BinOp)
            and isinstance(e.comparators[0].op, ast.Pow) and _a_space(e.comparators[0].left)):
        return False
    if isinstance(e.left, ast.Subscript) and isinstance(e.left.value, ast.Name):  # `\\mathbf{x}_i \\in \\mathbb{R}^d`
        first = ast.Subscript(value=ast.Name(id=e.left.value.id, ctx=ast.Load()), slice=P.const(0), ctx=ast.Load())
        dim = e.comparators[0].right
        if P.meta(e.comparators[0].left, "style") == "numbers":
            out.families.add(e.left.value.id)
        if isinstance(dim, ast.Name) and dim.id not in out.defined():
            out.derived.append((dim.id, P.call("len", [first])))  # the size of every element: the first's
        return True
    if not isinstance(e.left, ast.Name):
        return False
    exponent, arr = e.comparators[0].right, ast.Name(id=e.left.id, ctx=ast.Load())
    numbers = P.meta(e.comparators[0].left, "style") == "numbers"
    if isinstance(exponent, ast.BinOp) and isinstance(exponent.op, ast.Mult):
        dims = [(exponent.left, P.call("len", [arr])),
                (exponent.right, P.call("len", [ast.Subscript(value=arr, slice=P.const(0), ctx=ast.Load())]))]
        if numbers:
            out.matrices.add(e.left.id)
    else:
        dims = [(exponent, P.call("len", [arr]))]
        if numbers and P.int_value(exponent) != 1:
            out.vectors.add(e.left.id)
            out.vector_dims[e.left.id] = exponent
    out.add(e.left.id)
    for dim, length in dims:
        if isinstance(dim, ast.Name) and dim.id not in out.defined():
            out.derived.append((dim.id, length))
    return True


def interval_power(part: list[Tok], out: Params) -> bool:
    """`$y \\in [0, 1]^K$`, `$p \\in (0, 1)^K$`, `$b \\in \\{0, 1\\}^n$`: y is an input of length K."""
    pairs = {"[": ("]", ")"), "(": (")", "]"), "{s": ("}s",)}
    if len(part) < 7 or part[0].kind != "name" or part[1].value != "in" or part[2].value not in pairs:
        return False
    close = next((k for k in range(3, len(part)) if part[k].value in pairs[part[2].value]), None)
    if close is None or close + 2 > len(part) or part[close + 1].value != "^":
        return False
    dim = [t for t in part[close + 2 :] if t.value not in ("{", "}")]
    out.add(ident(part[0]))
    if single_name(dim) and ident(dim[0]) not in out.defined():
        out.derived.append((ident(dim[0]), P.call("len", [ast.Name(id=ident(part[0]), ctx=ast.Load())])))
    return True


def _a_space(base: ast.expr) -> bool:
    """\\mathbb{R}, an interval `[0, 1]` / `(0, 1)` or a set `\\{0, 1\\}`: raised to a power, vectors of it."""
    if P.meta(base, "style") == "numbers":
        return True
    return isinstance(base, (ast.List, ast.Tuple, ast.Set)) and len(base.elts) == 2 \
        and all(isinstance(x, (ast.Constant, ast.UnaryOp, ast.Attribute)) for x in base.elts)


_COUNT_WORDS = {"element", "elements", "dimensional", "vector", "entry", "item", "long", "length"}


def element_count(seg: list[Tok], nxt: tuple[list[Tok], list[Tok]] | None, out: Params) -> bool:
    """`an $n$-element array $A$`: n = len(A)."""
    if nxt is None or not single_name(seg) or not single_name(nxt[1]) or not nxt[0]:
        return False
    words = [w.value.lower() for w in nxt[0]]
    if words[0] != "-" or len(words) < 2 or words[1] not in _COUNT_WORDS:
        return False
    name = ident(seg[0])
    if name not in out.defined():
        out.derived.append((name, P.call("len", [ast.Name(id=ident(nxt[1][0]), ctx=ast.Load())])))
    return True


def size_equation(e: ast.expr, out: Params) -> bool:
    """`$|A| = n$`: n = len(A); `$|a| = |b| = n$`: n = len(a)."""
    if isinstance(e, ast.Compare) and len(e.ops) > 1 and all(isinstance(o, ast.Eq) for o in e.ops):
        sides = [e.left, *e.comparators]
        sizes = [x for x in sides if isinstance(x, ast.Call) and isinstance(x.func, ast.Name) and x.func.id == "len"]
        names = [x for x in sides if isinstance(x, ast.Name) and x.id not in out.defined()]
        if sizes and len(names) == 1 and len(sizes) + 1 == len(sides):
            out.derived.append((names[0].id, sizes[0]))
            return True
        return False
    if not (isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], ast.Eq)):
        return False
    left, right = e.left, e.comparators[0]
    if isinstance(right, ast.Call) and isinstance(left, ast.Name):
        left, right = right, left
    if not (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "len"
            and isinstance(right, ast.Name) and right.id not in out.defined()):
        return False
    out.derived.append((right.id, left))
    return True


def sequence(parts: list[list[Tok]], ctx: P.Ctx, out: Params, noun: str | None = None) -> str | None:
    """`c_0, \\ldots, c_n` (or `c_1, c_2, \\ldots, c_n`): the array c with bounds 0..n."""
    dots = [k for k, p in enumerate(parts) if len(p) == 1 and p[0].kind == "op" and p[0].value in ("...", "..")]
    if len(dots) != 1 or dots[0] == 0 or dots[0] == len(parts) - 1:
        return None
    rel = top_level(parts[-1], lambda t: t.value in RELATIONS and t.kind in ("op", "kw"))
    bounds: list[str] = []
    power: list[Tok] = []
    zero_valued = False
    if rel:  # `s_1, \\ldots, s_n \\in \\mathbb{R}`: the set they live in is not an input
        where = parts[-1][rel[0] + 1 :]
        if len(where) >= 3 and where[0].value in ("[", "(") and where[-1].value in ("]", ")"):
            bounds = [ident(t) for t in where[1:-1] if t.kind == "name" and t.style == "math"]
        if len(where) >= 5 and where[0].value == "{s" and where[1].value == "0" and where[2].value == "," \
                and where[-1].value == "}s":
            zero_valued = True  # `y_1, \\ldots, y_n \\in \\{0, \\ldots, C-1\\}`: positions counted from 0
        if len(where) >= 3 and where[0].kind == "name" and where[0].style == "numbers" and where[1].value == "^":
            power = [t for t in where[2:] if t.value not in ("{", "}")]  # `x^{(1)}, \\ldots, x^{(n)} \\in \\mathbb{R}^m`
        parts = parts[:-1] + [parts[-1][: rel[0]]]
    head = parts[0]
    if len(head) > 1 and head[0].kind == "name" and head[1].value == "_":
        ctx.collections.add(ident(head[0]))  # x_1, ..., x_n: x is an array
    elif head and head[0].value in ("(", "[") and len(head) > 3:  # (x_1, y_1), ..., (x_n, y_n): x and y are
        ctx.collections.update(ident(t) for k, t in enumerate(head[:-1]) if t.kind == "name" and head[k + 1].value == "_")
    try:
        first, last = parse_all(parts[0], ctx), parse_all(parts[-1], ctx)
    except Untranslatable:
        return None
    if isinstance(first, (ast.Tuple, ast.List)) and type(last) is type(first) and len(first.elts) == len(last.elts) > 1:
        # `(x_1, y_1), \ldots, (x_n, y_n)` (or `[a_1, b_1], \ldots`): parallel arrays x and y, one sequence each
        pairs = list(zip(first.elts, last.elts))
        if not all(_same_array(f, l) for f, l in pairs):
            return None
        if noun:  # `intervals $[a_1, b_1], \\ldots, [a_n, b_n]$`: "the intervals" are the pairs (a_i, b_i)
            ctx.parallel.setdefault(noun, [f.value.id for f, _ in pairs])
        for f, l in pairs:
            ctx.collections.add(f.value.id)
            out.add(f.value.id)
            out.arrays[f.value.id] = (f.slice, l.slice)
        return None
    if not _same_array(first, last):
        return None
    out.add(first.value.id)
    out.arrays[first.value.id] = (first.slice, last.slice)
    if zero_valued:
        out.zero_valued.add(first.value.id)
    if power and not (len(power) == 1 and power[0].value == "1"):  # each element a vector of that many numbers
        out.families.add(first.value.id)
        if single_name(power) and ident(power[0]) not in out.defined():
            entry = ast.Subscript(value=ast.Name(id=first.value.id, ctx=ast.Load()), slice=P.const(0), ctx=ast.Load())
            out.derived.append((ident(power[0]), P.call("len", [entry])))
    for name in bounds:  # `x_1, \\ldots, x_n \\in [lo, hi]`: lo and hi are inputs too, in this order
        out.add(name)
    return first.value.id


def _same_array(first: ast.expr, last: ast.expr) -> bool:
    return isinstance(first, ast.Subscript) and isinstance(last, ast.Subscript) \
        and isinstance(first.value, ast.Name) and isinstance(last.value, ast.Name) \
        and first.value.id == last.value.id


def listed(part: list[Tok], ctx: P.Ctx, out: Params) -> str | None:
    """`$A = [a_1, \\ldots, a_n]$` / `(a_1, ...)` / `\\{a_1, ...\\}`: A is the input (declared 1..n),
    a another name for it, n its length."""
    if len(part) < 6 or part[0].kind != "name" or part[1].value != "=":
        return None
    if part[2].value in ("[", "(", "{s") and part[-1].value in ("]", ")", "}s"):
        inner = part[3:-1]
        pieces = [p for p in split(inner, top_level(inner, lambda t: t.value == ",")) if p]
    else:  # `$X = x_1 \\cdots x_m$`: a word written letter by letter
        inner = part[2:]
        dots = top_level(inner, lambda t: t.kind == "op" and t.value in ("...", ".."))
        if len(dots) != 1:
            return None
        pieces = [inner[: dots[0]], inner[dots[0] : dots[0] + 1], inner[dots[0] + 1 :]]
    scratch = type(out)()
    element = sequence(pieces, ctx, scratch)
    if element is None:
        return None
    name = ident(part[0])
    out.add(name)
    out.arrays[name] = scratch.arrays[element]
    if element != name:
        out.derived.append((element, ast.Name(id=name, ctx=ast.Load())))
    return name


def indexed_family(seg: list[Tok], ctx: P.Ctx, out: Params) -> str | None:
    """`\\{(x_i, y_i)\\}_{i=1}^{N}` or `(a_j)_{j=1}^{m}`: arrays x and y (or a) numbered lo..hi,
    so N is their length. Returns the first array's name, or None when seg is not that form."""
    unders = top_level(seg, lambda t: t.kind == "op" and t.value == "_")
    if not unders or unders[-1] < 2:
        return None
    k = unders[-1]
    body, script = seg[:k], seg[k + 1 :]
    if not (len(script) >= 7 and script[0].value == "{" and script[1].kind == "name" and script[2].value == "="):
        return None
    close = next((j for j, t in enumerate(script) if t.kind == "op" and t.value == "}"), None)
    if close is None or close + 2 > len(script) or script[close + 1].value != "^":
        return None
    var, lo = script[1].value, P.int_value(parse_all(script[3:close], ctx)) if close > 3 else None
    hi_toks = script[close + 2 :]
    if hi_toks and hi_toks[0].value == "{" and hi_toks[-1].value == "}":
        hi_toks = hi_toks[1:-1]
    if lo is None or not hi_toks:
        return None
    while len(body) >= 2 and (body[0].value, body[-1].value) in (("{s", "}s"), ("(", ")"), ("[", "]")):
        body = body[1:-1]
    items = split(body, top_level(body, lambda t: t.kind == "op" and t.value == ","))
    names = []
    for item in items:
        if item and item[0].value == "{":
            item = item[1:-1]
        vals = [t.value for t in item]
        if not (item and item[0].kind == "name" and (vals[1:] in (["_", var], ["_", "{", var, "}"])
                                                     or vals[1:] == ["^", "{", "(", var, ")", "}"])):
            return None  # x_i, x_{i}, or the i-th sample x^{(i)}
        names.append(ident(item[0]))
    hi = parse_all(hi_toks, ctx)
    for name in names:
        ctx.collections.add(name)
        out.add(name)
        out.arrays[name] = (P.const(lo), hi)
    return names[0]
