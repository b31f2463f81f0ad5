"""Atoms of the pseudo-code expression grammar: names, numbers, constants, groups, set and list
literals, |S|, floor/ceiling, \\frac, \\sqrt, \\binom, \\log-style functions and the big
operators \\max/\\min/\\sum/\\prod/\\argmax/\\argmin over a range or a set.
"""

from __future__ import annotations

import ast
import copy
from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.cursor import Cursor
from qtk.tools.transpile_paper.latex_text import function_name, variable_name
from qtk.tools.transpile_paper.mathtok import GREEK, Untranslatable

_ELLIPSIS = object()


def atom(p: Cursor) -> ast.expr:
    tok = p.peek()
    if tok is None:
        P.fail("the expression ends too early")
    p.i += 1
    k, v = tok.kind, tok.value
    if k == "num":
        value = P.const(float(v) if "." in v else int(v, 0) if v[:2].lower() in ("0x", "0b") else int(v))
        return P.mark(value, vector=True) if tok.bold else value  # \\mathbf{0}: the zero vector
    if k == "name":
        name = _name(p, v, tok.style)
        return P.mark(name, vector=True) if tok.bold else name
    if k == "const":
        return constant(v)
    if k == "str":
        return ast.Constant(v)
    if k == "kw" and v in ("infinity",):
        return P.math_attr("inf")
    if k == "kw" and v not in _OPERATOR_KWS and p.at("op", "("):  # \\text{zeros}(n, n): a function
        return _name(p, v, "roman")
    if k == "op" and v in _OP_ATOMS:
        return _OP_ATOMS[v](p)
    if k == "cmd":
        return _command(p, v)
    if k == "bigop":
        return _bigop(p, v)
    if k == "mathfn":
        return _mathfn(p, v)
    if k == "unknown":
        P.fail(f"unknown command \\{v}")
    P.fail(f"unexpected {'word ' if k == 'kw' else ''}{v!r}")


def constant(value: str) -> ast.expr:
    if value == "inf":
        return P.math_attr("inf")
    if value == "emptyset":
        return P.empty_set()
    return P.const({"True": True, "False": False, "None": None}[value])


def _name(p: Cursor, raw: str, style: str) -> ast.expr:
    if (raw == "pi" or raw == "e" and p.at("op", "^")) and style == "math" and not p.ctx.collecting \
            and not p.at("op", "[") and not {raw} & (p.ctx.known | p.ctx.declared | p.ctx.collections):
        return P.math_attr(raw)  # \\pi, e^{-z} that the algorithm never assigns: the constants
    if style == "func":
        return P.name(function_name(raw), raw=raw, style=style)
    scalars = p.ctx.known | p.ctx.declared | p.ctx.params
    if style == "math" and len(raw) == 2 and raw.isalpha() and raw not in scalars and not p.ctx.collecting \
            and raw[0] in scalars and raw[1] in scalars and not p.at("op", "_") and not p.at("op", "("):
        return P.binop(P.name(raw[0]), ast.Mult(), P.name(raw[1]))  # `bB`: b times B, both variables
    ident = variable_name(raw)
    if style == "prose" and p.at("op", "("):
        style = "roman"  # \text{length}(A): a function name
    if style == "prose" and len(raw) > 2 and raw.isalpha() and raw.isupper():
        return P.name(ident, raw=raw, style="func")  # GRAY, WHITE: a named constant (records.py)
    if style == "prose" and len(raw) > 1 and not p.ctx.collecting and ident not in p.ctx.known:
        P.fail(f"{raw!r} is a word, not a variable of the algorithm")
    return P.name(ident, raw=raw, style=style)


def _paren(p: Cursor) -> ast.expr:
    if p.accept("op", ")"):
        return ast.Tuple(elts=[], ctx=ast.Load())
    commas = 0
    for k in range(p.i, len(p.t)):  # `(\\hat{m}_1, \\ldots, \\hat{m}_T)`: the entries of a sequence
        tok = p.t[k]
        if tok.kind == "op" and tok.value in ("(", ")") and k > p.i:
            break
        commas += tok.kind == "op" and tok.value == ","
        if tok.kind == "op" and tok.value in ("...", "..") and commas:
            items = _items(p, ")")
            rng = _ellipsis_range(items)
            if isinstance(rng, ast.Subscript):
                return P.call("list", [rng])
            return P.call("tuple", [rng]) if rng is not None else ast.Tuple(elts=items, ctx=ast.Load())
    e = p.tuple_expr()
    p.expect("op", ")")
    return e


def _group(p: Cursor) -> ast.expr:
    e = p.tuple_expr()
    p.expect("op", "}")
    return e


def _items(p: Cursor, close: str) -> list:
    """Comma-separated items up to `close`, with `\\ldots` kept as a marker."""
    items: list = []
    if p.accept("op", close):
        return items
    while True:
        if p.accept("op", "...") or p.accept("op", ".."):
            items.append(_ELLIPSIS)
        else:
            items.append(p.expr())
            if p.accept("op", "..") or p.accept("op", "..."):
                items.extend([_ELLIPSIS, p.expr()])
        if not p.accept("op", ","):
            break
    p.expect("op", close)
    return items


def _ellipsis_range(items: list) -> ast.expr | None:
    """[1, ..., n] or [1, 3, ..., n] -> range(1, n + 1[, 2])."""
    if _ELLIPSIS not in items:
        return None
    k = items.index(_ELLIPSIS)
    if k not in (1, 2) or len(items) != k + 2:
        P.fail("cannot read this \\ldots sequence")
    start, stop = items[0], items[-1]
    if k in (1, 2) and isinstance(start, ast.Subscript) and isinstance(stop, ast.Subscript) \
            and isinstance(start.value, ast.Name) and isinstance(stop.value, ast.Name) \
            and start.value.id == stop.value.id and not isinstance(start.slice, ast.Slice):
        bounds = P.mark(ast.Slice(lower=start.slice, upper=stop.slice), inclusive=True)  # [f_1, ..., f_n]: f's entries
        return P.mark(ast.Subscript(value=start.value, slice=bounds, ctx=ast.Load()), index=True)
    step = None
    if k == 2:
        step = P.difference(items[1], items[0])
        if P.int_value(step) is not None and P.int_value(step) < 0:
            return P.make_range(start, stop, P.const(-P.int_value(step)), down=True)
    return P.make_range(start, stop, step)


def _set_literal(p: Cursor) -> ast.expr:
    if p.accept("op", "}s"):
        return P.empty_set()
    start = p.i
    first = p.expr()
    if isinstance(first, ast.Name) and (p.at("op", ":") or p.at("op", "mid") or p.at("op", "|")):
        p.ctx.known.add(first.id)  # `\\{i : x_i > 0\\}`: i is bound here
    if p.accept("op", ":") or p.accept("op", "mid") or p.accept("op", "|"):
        cond = p.expr()
        chain = _index_chain(cond)
        if chain is not None:  # `\\{a_i - a_j : 1 \\le j < i \\le n\\}`: read the element again, i and j bound
            p.ctx.known.update(chain[0])
            p.ctx.labels -= {key for key in p.ctx.labels if key[1] in chain[0]}
            end, p.i = p.i, start
            first = p.expr()
            p.i = end
        p.expect("op", "}s")
        return _set_builder(first, cond)
    items = [first]
    if p.accept("op", "..") or p.accept("op", "..."):
        items.extend([_ELLIPSIS, p.expr()])
    while p.accept("op", ","):
        if p.accept("op", "...") or p.accept("op", ".."):
            items.append(_ELLIPSIS)
        else:
            items.append(p.expr())
    p.expect("op", "}s")
    rng = _ellipsis_range(items)
    if rng is not None:
        return P.mark(rng, set_of=True)
    return ast.Set(elts=[ast.Tuple(elts=x.elts, ctx=ast.Load()) if isinstance(x, ast.List) and P.meta(x, "angle")
                         else x for x in items])  # \\{\\langle u, v \\rangle\\}: a set of pairs


def _list_builder(p: Cursor) -> ast.expr | None:
    """`[\\, i : 2 \\le i \\le N, is\\_prime[i] \\,]`: the list of the elements the conditions
    (commas meaning `and`) keep, in order; None (nothing read) when the brackets hold no colon."""
    start = p.i
    try:
        first = p.expr()
    except Untranslatable:
        p.i = start
        return None
    if not (p.at("op", ":") or p.at("op", "mid")):
        p.i = start
        return None
    bound = isinstance(first, ast.Name) and first.id not in p.ctx.known
    if isinstance(first, ast.Name):
        p.ctx.known.add(first.id)
    try:
        p.i += 1
        conds = [p.expr()]
        while p.accept("op", ","):
            conds.append(p.expr())
        p.expect("op", "]")
    finally:
        if bound:
            p.ctx.known.discard(first.id)
    cond = conds[0] if len(conds) == 1 else ast.BoolOp(op=ast.And(), values=conds)
    comp = _set_builder(first, cond)
    return ast.ListComp(elt=comp.elt, generators=comp.generators)


def _set_builder(first: ast.expr, cond: ast.expr) -> ast.expr:
    """`\\{x \\in S : P(x)\\}` or `\\{f(x) : x \\in S\\}` -> a set comprehension."""
    if _is_member(first):
        gen, elt, ifs = first, first.left, [cond]
    elif _is_member(cond):
        gen, elt, ifs = cond, first, []
    elif isinstance(cond, ast.BoolOp) and isinstance(cond.op, ast.And) and _is_member(cond.values[0]):
        gen, elt, ifs = cond.values[0], first, cond.values[1:]
    elif _index_chain(cond) is not None or isinstance(cond, ast.BoolOp) and isinstance(cond.op, ast.And) \
            and _index_chain(cond.values[0]) is not None:  # `\\{a_i - a_j : 1 \\le j < i \\le n\\}`: every pair in range
        chain = cond if _index_chain(cond) is not None else cond.values[0]
        names, lo, hi = _index_chain(chain)
        gens = [ast.comprehension(target=ast.Name(id=v, ctx=ast.Store()), iter=P.make_range(lo, hi), ifs=[],
                                  is_async=0) for v in names]
        gens[-1].ifs = [cond]
        return ast.SetComp(elt=first, generators=gens)
    elif isinstance(first, ast.Name):  # `\\{i : x_i > 0\\}`: i runs over the positions of x
        comp = ast.comprehension(target=_store(first), iter=_positions(first, cond), ifs=[cond], is_async=0)
        return ast.SetComp(elt=first, generators=[comp])
    else:
        P.fail("set-builder notation needs `x \\in S` on one side of the colon")
    comp = ast.comprehension(target=_store(gen.left), iter=gen.comparators[0], ifs=ifs, is_async=0)
    return ast.SetComp(elt=elt, generators=[comp])


def _index_chain(cond: ast.expr) -> tuple[list[str], ast.expr, ast.expr] | None:
    """`1 \\le j < i \\le n` -> (["j", "i"], 1, n): the names between two bounds and the whole range."""
    if not (isinstance(cond, ast.Compare) and len(cond.ops) >= 2
            and all(isinstance(o, (ast.Lt, ast.LtE)) for o in cond.ops)):
        return None
    inner = cond.comparators[:-1]
    if not all(isinstance(x, ast.Name) for x in inner):
        return None
    lo = cond.left if isinstance(cond.ops[0], ast.LtE) else P.add_const(cond.left, 1)
    hi = cond.comparators[-1] if isinstance(cond.ops[-1], ast.LtE) else P.add_const(cond.comparators[-1], -1)
    return [x.id for x in inner], lo, hi


def _is_member(e: ast.expr) -> bool:
    return isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], ast.In)


def _angle(p: Cursor) -> ast.expr:
    """`\\langle s \\rangle`: a sequence (a list; inside a set, a tuple, so it can be a member); between
    two vectors, their inner product (vectors.py)."""
    return P.mark(_list_literal(p, "rangle"), angle=True)


def _list_literal(p: Cursor, close: str) -> ast.expr:
    if close == "]":
        built = _list_builder(p)
        if built is not None:
            return built
    items = _items(p, close)
    if close == "]" and len(items) == 1 and isinstance(items[0], (ast.Compare, ast.BoolOp)):
        return P.call("int", items)  # Iverson's bracket: [a_i \\neq b_j] is 1 or 0
    rng = _ellipsis_range(items)
    if rng is not None:
        return P.call("list", [rng])
    return ast.List(elts=items, ctx=ast.Load())


def _bars(p: Cursor) -> ast.expr:
    inner = p.tuple_expr()
    p.expect("op", "|")
    return size_or_abs(inner, p.ctx)


_SCALAR_GREEK = {g for g in GREEK if g.islower()} | {"lam"}
_OPERATOR_KWS = {"and", "or", "not", "in", "mod", "div", "to", "downto", "down", "step", "by", "is", "are",
                 "xor", "do", "then", "if", "else", "of", "with", "for", "each", "return", "returns"}


def size_or_abs(inner: ast.expr, ctx: P.Ctx) -> ast.expr:
    """|S| is a size for collections and an absolute value for numbers."""
    if isinstance(inner, ast.Name):  # |x|, |x'|, |x_1|, |\\delta|: numbers; |S|, |path|: sizes
        root = inner.id.split("_")[0] or inner.id
        scalar = (len(root) == 1 and root.islower() or root in _SCALAR_GREEK) and inner.id not in ctx.collections
        return P.call("abs" if scalar else "len", [inner])
    if isinstance(inner, ast.Subscript):
        root = inner.value
        while isinstance(root, ast.Subscript):
            root = root.value
        depth = sum(1 for n in ast.walk(inner) if isinstance(n, ast.Subscript))
        listy = isinstance(root, ast.Name) and (len(root.id) > 1 or root.id in ctx.set_families
                                                or ctx.depths.get(root.id, 0) > depth)  # |G[i]|: a row of G
        return P.call("len" if listy else "abs", [inner])
    if isinstance(inner, (ast.Attribute, ast.Set, ast.List, ast.SetComp, ast.ListComp)) or P.is_empty_set(inner) \
            or P.meta(inner, "set_of") or P.meta(inner, "set_op"):
        return P.call("len", [inner])
    if isinstance(inner, ast.BinOp) and isinstance(inner.op, (ast.Sub, ast.BitOr, ast.BitAnd)) \
            and all(_sized(x, ctx) for x in (inner.left, inner.right)):
        return P.call("len", [inner])  # |V \\setminus T|: the difference of two collections
    return P.call("abs", [inner])


def _sized(e: ast.expr, ctx: P.Ctx) -> bool:
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Sub, ast.BitOr, ast.BitAnd)):
        return _sized(e.left, ctx) and _sized(e.right, ctx)
    if isinstance(e, (ast.Name, ast.Attribute, ast.Set, ast.List)) or P.is_empty_set(e):
        call = size_or_abs(e, ctx)
        return isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "len"
    return False


def _floor(p: Cursor) -> ast.expr:
    inner = P.binary_logs(p.tuple_expr())
    p.expect("op", "rfloor")
    if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Div) and isinstance(P.int_value(inner.right), int):
        return P.binop(inner.left, ast.FloorDiv(), inner.right)  # (lo + hi) // 2
    if _is_math_call(inner, "sqrt"):
        return P.call("math.isqrt", inner.args)
    return P.call("math.floor", [inner])


def _ceil(p: Cursor) -> ast.expr:
    inner = P.binary_logs(p.tuple_expr())
    p.expect("op", "rceil")
    if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Div):
        neg = ast.UnaryOp(op=ast.USub(), operand=inner.left)
        return ast.UnaryOp(op=ast.USub(), operand=P.binop(neg, ast.FloorDiv(), inner.right))
    return P.call("math.ceil", [inner])


def _is_math_call(node: ast.expr, fn: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "math"
            and node.func.attr == fn)


def _norm(p: Cursor) -> ast.expr:
    """`\\|x\\|`, `\\|x\\|_2`, `\\|x - y\\|_1`, `\\|x\\|_\\infty` of vectors held as lists: the norm of
    the entries (of the entrywise difference), Euclidean unless the subscript says 1 or infinity."""
    p.norms += 1
    try:
        inner = p.expr()
    finally:
        p.norms -= 1
    p.expect("op", "||")
    kind = 2
    if p.accept("op", "_"):
        sub = p.script()
        kind = P.int_value(sub) if P.int_value(sub) in (1, 2) else "inf" \
            if isinstance(sub, ast.Attribute) and sub.attr == "inf" else None
        if kind is None:
            P.fail("a norm other than the 1-, 2- or infinity-norm")
    v = ast.Name(id="_v", ctx=ast.Load())
    if isinstance(inner, ast.BinOp) and isinstance(inner.op, (ast.Sub, ast.Add)):
        pair = ast.Tuple(elts=[ast.Name(id="_v", ctx=ast.Store()), ast.Name(id="_w", ctx=ast.Store())], ctx=ast.Store())
        gen_iter, target = P.call("zip", [inner.left, inner.right]), pair
        v = P.binop(v, type(inner.op)(), ast.Name(id="_w", ctx=ast.Load()))
    else:
        gen_iter, target = inner, ast.Name(id="_v", ctx=ast.Store())
    named = _named_norm(p, inner, kind)
    if named is not None:
        return named
    if _entries_only(inner, p.ctx):  # `||x_i - x_{i-1}||` of an array of numbers: a distance, |.|
        return P.call("abs", [inner])
    term = P.binop(v, ast.Mult(), v) if kind == 2 else P.call("abs", [v])
    gen = ast.GeneratorExp(elt=term, generators=[ast.comprehension(target=target, iter=gen_iter, ifs=[], is_async=0)])
    total = P.call("max" if kind == "inf" else "sum", [gen])
    out = P.call("math.sqrt", [total]) if kind == 2 else total
    return P.mark(out, norm_of=named_norm_key(inner, kind)) if isinstance(inner, ast.Name) else out


def _entries_only(e: ast.expr, ctx: P.Ctx) -> bool:
    """Whether e is made of entries of arrays not declared to hold vectors (`x_i - x_{i-1}`)."""
    inside = {id(c) for m in ast.walk(e) if isinstance(m, ast.Subscript) for c in ast.walk(m) if c is not m}
    leaves = [n for n in ast.walk(e) if isinstance(n, (ast.Name, ast.Subscript, ast.Constant)) and id(n) not in inside]
    subs = [n for n in leaves if isinstance(n, ast.Subscript)]
    families = ctx.vector_families | ctx.matrices | ctx.vectors
    return bool(subs) and all(isinstance(n, ast.Constant) or isinstance(n, ast.Subscript) and
                              P.root_name(n) not in families and not P.meta(n, "bold") for n in leaves) \
        and isinstance(e, (ast.Subscript, ast.BinOp))


def named_norm_key(inner: ast.Name, kind: int | str) -> tuple[str, str]:
    """The key and Python name a norm of a plain variable gets when the pseudo-code assigns it
    (`\\|g\\| \\gets ...` names a variable, as `norm_g`, rather than recomputing g's norm)."""
    return f"{inner.id}/{kind}", f"norm_{inner.id}" if kind == 2 else f"norm{kind}_{inner.id}"


def _named_norm(p: Cursor, inner: ast.expr, kind: int | str) -> ast.expr | None:
    """The variable an assigned norm of a plain variable stands for (learned on the first pass)."""
    if not isinstance(inner, ast.Name):
        return None
    key, ident = named_norm_key(inner, kind)
    if p.ctx.named_norms.get(key) != ident:
        return None
    return P.name(ident)


_OP_ATOMS = {
    "(": _paren,
    "{": _group,
    "{s": _set_literal,
    "[": lambda p: _list_literal(p, "]"),
    "langle": lambda p: _angle(p),
    "|": _bars,
    "||": _norm,
    "lfloor": _floor,
    "lceil": _ceil,
}


def _command(p: Cursor, cmd: str) -> ast.expr:
    if cmd == "indicator":
        return _indicator(p)
    if cmd in ("exists", "forall"):
        return _quantifier(p, "any" if cmd == "exists" else "all")
    if cmd == "card":  # \\#\\{i : x_i > 0\\}, \\#S: the number of members
        return P.call("len", [p.power()])
    if cmd in ("frac", "dfrac", "tfrac", "cfrac"):
        num = p.script()
        return P.binop(num, ast.Div(), p.script())
    if cmd == "binom":
        n = p.script()
        return P.call("math.comb", [n, p.script()])
    if p.accept("op", "["):  # \sqrt[n]{x}
        root = p.expr()
        p.expect("op", "]")
        return P.binop(p.script(), ast.Pow(), P.binop(P.const(1), ast.Div(), root))
    return P.call("math.sqrt", [p.script()])


def _indicator(p: Cursor) -> ast.expr:
    """`\\mathbb{1}[c]`, `\\mathbb{1}(c)`, `\\mathbb{1}\\{c\\}`, `\\mathbf{1}_{c}`: 1 when c holds, else 0."""
    if p.accept("op", "_") or p.at("op", "{"):
        cond = p.script()
    else:
        for open_, close in (("[", "]"), ("(", ")"), ("{s", "}s")):
            if p.accept("op", open_):
                cond = p.expr()
                p.expect("op", close)
                break
        else:
            return P.const(1)  # a lone \\mathbf{1}
    return P.call("int", [cond])


def _quantifier(p: Cursor, fn: str) -> ast.expr:
    """`\\exists\\, i : x_i < 0`, `\\forall j \\in S : a_j \\ge 0`: any/all over the positions of the
    array the condition indexes with the variable (or over the set named)."""
    target = p.atom()
    if not isinstance(target, ast.Name):
        P.fail("a quantifier over something other than a variable")
    iterable = None
    if p.accept("op", "in"):
        iterable = P.index_set(p.term())
    if p.at("name", "such") and p.at("name", "that", 1):  # `\\exists\\, i$ such that $x_i < 0`
        p.i += 2
    elif not (p.accept("op", ":") or p.accept("op", "mid") or p.accept("op", ",") or p.accept("op", ".")):
        P.fail("a quantifier needs `:` before its condition")
    p.ctx.known.add(target.id)
    cond = p.expr()
    if iterable is None:
        iterable = _positions(target, cond)
    gen = ast.GeneratorExp(elt=cond, generators=[ast.comprehension(target=_store(target), iter=iterable, ifs=[],
                                                                   is_async=0)])
    return P.call(fn, [gen])


def _bigop(p: Cursor, op: str) -> ast.expr:
    if p.accept("op", "_"):
        target, iterable, ifs = _binder(p)
        p.ctx.known.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))  # bound here
        body = p.term()
        if iterable is None:
            iterable = _positions(target, body)
        if ifs:
            iterable = ast.GeneratorExp(elt=ast.Name(id=target.id, ctx=ast.Load()), generators=[
                ast.comprehension(target=_store(target), iter=iterable, ifs=ifs, is_async=0)])
        if op in ("argmax", "argmin"):
            if not isinstance(target, ast.Name):
                P.fail("\\argmax over tuples")
            args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=target.id)], kwonlyargs=[],
                                 kw_defaults=[], defaults=[])
            key = ast.keyword(arg="key", value=ast.Lambda(args=args, body=body))
            return P.call("max" if op == "argmax" else "min", [iterable], [key])
        gen = ast.GeneratorExp(elt=body, generators=[
            ast.comprehension(target=_store(target), iter=iterable, ifs=[], is_async=0)])
        if op in ("bigcup", "bigcap"):  # \\bigcup_{i=1}^{m} S_i: one set of all members (or the common ones)
            union = ast.Attribute(value=P.call("set", []), attr="union", ctx=ast.Load()) if op == "bigcup" else \
                ast.Attribute(value=ast.Name(id="set", ctx=ast.Load()), attr="intersection", ctx=ast.Load())
            return P.call(union, [ast.Starred(value=gen, ctx=ast.Load())])
        return P.call("math.prod" if op == "prod" else op, [gen])
    if op in ("argmax", "argmin"):
        P.fail(f"\\{op} without a range under it")
    if p.at("op", "("):
        args = p.call_args()
    elif p.accept("op", "{s"):
        group = _set_literal(p)  # \\max\\{a, b\\}, or over a set-builder \\max\\{a_i - a_j : 1 \\le j < i \\le n\\}
        if isinstance(group, ast.SetComp):  # every value, repeats included (a sum counts them all)
            args = [ast.GeneratorExp(elt=group.elt, generators=group.generators)]
        elif isinstance(group, ast.Set):
            args = list(group.elts)
        else:
            args = [group]
    elif p.accept("op", "{"):
        inner = _group(p)
        args = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    else:
        args = [p.power()]
    return P.call("math.prod" if op == "prod" else op, args)


def _binder(p: Cursor) -> tuple[ast.expr, ast.expr | None, list[ast.expr]]:
    """The range under \\sum/\\max: `i=1` with `^n`, `i \\in S`, `1 \\le i \\le n`, or `v : P(v)`
    (the positions of the array in the body, filtered): (variable, iterable or None, filters)."""
    ifs: list[ast.expr] = []
    if p.accept("op", "{"):
        e = p.expr()
        if isinstance(e, ast.Name):
            p.ctx.known.add(e.id)  # bound here: `x_i` in the filter indexes x
        if p.accept("op", ":"):  # v : \\neg inTree[v]
            ifs.append(p.expr())
        p.expect("op", "}")
    else:
        e = p.atom()
    if isinstance(e, ast.Name) and (ifs or not p.at("op", "^")):
        return e, None, ifs  # `\\max_j z_j`: j runs over the positions of z
    if isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], ast.NotEq) \
            and isinstance(e.left, ast.Name):
        return e.left, None, [e]  # `\\sum_{j \\neq i} x_j`: every position of x but i
    if isinstance(e, ast.Compare):
        ops, left, rights = e.ops, e.left, e.comparators
        if len(ops) == 1 and isinstance(ops[0], ast.Eq) and isinstance(left, ast.Name):
            p.expect("op", "^")
            return left, P.make_range(rights[0], p.script()), ifs
        if len(ops) == 1 and isinstance(ops[0], ast.In):
            return left, P.index_set(rights[0]), ifs  # \\min_{j \\in [n]}
        ascending = all(isinstance(o, (ast.Lt, ast.LtE)) for o in ops)
        if len(ops) == 2 and isinstance(rights[0], ast.Name) and ascending:
            lo = left if isinstance(ops[0], ast.LtE) else P.add_const(left, 1)
            hi = rights[1] if isinstance(ops[1], ast.LtE) else P.add_const(rights[1], -1)
            return rights[0], P.make_range(lo, hi), ifs
    P.fail("cannot read the range under this operator")


def _positions(target: ast.expr, body: ast.expr) -> ast.expr:
    """`\\arg\\min_{v : P(v)} key[v]`: v runs over the positions of key (numbered as the
    algorithm numbers them; the index-base pass fixes the start)."""
    arrays = [n.value for n in ast.walk(body) if isinstance(n, ast.Subscript) and isinstance(target, ast.Name)
              and isinstance(n.slice, ast.Name) and n.slice.id == target.id and P.root_name(n.value) is not None]
    if arrays:  # `\\arg\\min_i |x_i - q|`: i runs over the positions of x (of the row Q[s] for Q[s][a])
        size = P.call("len", [copy.deepcopy(arrays[0])])
        return P.mark(P.call("range", [size]), positions_of=P.root_name(arrays[0]))
    P.fail("cannot tell what this operator ranges over")


def _mathfn(p: Cursor, fn: str) -> ast.expr:
    base = p.script() if p.accept("op", "_") else None
    args = p.call_args() if p.at("op", "(") else [p.power()]
    if fn == "gcd":
        return P.call("math.gcd", args)
    if fn == "deg":  # \\deg(v): the length of v's adjacency list
        graph = P.graph_name(p.ctx)
        if graph is None or len(args) != 1:
            P.fail("cannot tell which graph's degree")
        return P.call("len", [P.mark(ast.Subscript(value=ast.Name(id=graph, ctx=ast.Load()), slice=args[0],
                                                   ctx=ast.Load()), index=True)])
    x = args[0]
    if fn in ("log", "lg", "ln"):
        b = P.int_value(base) if base is not None else None
        if fn == "lg" or b == 2:
            return P.call("math.log2", [x])
        if b == 10:
            return P.call("math.log10", [x])
        return P.call("math.log", [x] if base is None else [x, base])
    return P.call("math." + {"arctan": "atan"}.get(fn, fn), [x])


def _store(target: ast.expr) -> ast.expr:
    if isinstance(target, ast.Name):
        return ast.Name(id=target.id, ctx=ast.Store())
    if isinstance(target, ast.Tuple):
        return ast.Tuple(elts=[_store(e) for e in target.elts], ctx=ast.Store())
    P.fail("this cannot be a loop variable")
