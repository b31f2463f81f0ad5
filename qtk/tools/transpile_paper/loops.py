"""Loop headers: counted loops (`i \\gets 1 \\To n`, `\\textbf{downto}`, `step`, `i = 1, \\ldots, n`,
`i = n, n - 1, \\ldots, 1`, `1..n`, `i in 1..n`) and loops over collections (`each v \\in S`, `x in
words`, `character c of s`), plus index pairs (`i, j with 1 \\le i < j \\le n`) as nested loops.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass

from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.mathparse import parse_all
from qtk.tools.transpile_paper.mathtok import Tok, Untranslatable
from qtk.tools.transpile_paper.linetokens import split, top_level
from qtk.tools.transpile_paper.pyast import store


# `from ... to ...` in the words of lecture notes in other languages (`$i$ allant de 1 à $n$`,
# `$i$ desde 1 hasta $n$`, `$i$ von 1 bis $n$`, `$i$ de 1 até $n$`)
_FROM_WORDS = {"de", "desde", "von", "da", "dal"}
_TO_WORDS = {"à", "a", "hasta", "até", "ate", "bis", "al", "jusqu'à"}


# a step written out (`avec un pas de 2`, `with a step of 2`, `con paso 2`): the `step` keyword
_STEP_PHRASES = [("with", "a", "step", "of"), ("with", "step"), ("avec", "un", "pas", "de"), ("avec", "pas"),
                 ("par", "pas", "de"), ("con", "paso"), ("con", "un", "paso", "de"), ("com", "passo"),
                 ("con", "passo"), ("mit", "schrittweite")]


def _step_words(toks: list[Tok]) -> list[Tok]:
    words = [t.value.lower() if not t.math and t.kind in ("name", "kw") else None for t in toks]
    for k in range(len(toks)):
        for phrase in _STEP_PHRASES:
            if tuple(words[k : k + len(phrase)]) == phrase and k + len(phrase) < len(toks):
                return toks[:k] + [Tok("kw", "step", toks[k].at, False)] + toks[k + len(phrase) :]
    return toks


def _english_range(toks: list[Tok]) -> list[Tok]:
    """A counted range written with other languages' words, as `$i$ from 1 to $n$`; the words
    between the variable and `from` (`allant`, `variando`) dropped; `$i = 1$ à $n$` is `$i = 1$ to $n$`."""
    toks = _step_words(toks)
    assign = next((k for k, t in enumerate(toks) if t.math and t.kind == "op" and t.value in ("=", "gets")), None)
    if assign is not None:
        k = next((k for k in range(assign + 1, len(toks)) if not toks[k].math), None)
        if k is not None and k + 1 < len(toks) and toks[k].kind in ("name", "kw") \
                and toks[k].value.lower() in _TO_WORDS - {"a"} and (toks[k + 1].math or toks[k + 1].kind == "num"):
            return toks[:k] + [Tok("kw", "to", toks[k].at, False)] + toks[k + 1 :]
    words = [(k, t.value.lower()) for k, t in enumerate(toks) if not t.math and t.kind in ("name", "kw")]
    start = next((k for k, w in words if w in _FROM_WORDS), None)
    stop = next((k for k, w in words if start is not None and k > start + 1 and w in _TO_WORDS), None)
    first = next((k for k, t in enumerate(toks) if t.math), None)
    if start is None or stop is None or first is None or first > start \
            or not all(not t.math and t.kind == "name" for t in toks[first + 1 : start]):
        return toks
    return toks[: first + 1] + [Tok("kw", "from", toks[start].at, False)] + toks[start + 1 : stop] \
        + [Tok("kw", "to", toks[stop].at, False)] + toks[stop + 1 :]


def for_tokens(toks: list[Tok], ctx: P.Ctx) -> ast.For:
    """`i \\gets 1 \\To n`, `i = n \\textbf{downto} 1`, `i = 1, \\ldots, n`, `each v \\in S`."""
    toks = _english_range(toks)
    while toks and toks[0].kind == "kw" and toks[0].value in ("for", "each", "every", "all"):
        toks = toks[1:]
    if [t.value.lower() for t in toks[-2:] if not t.math] == ["in", "parallel"]:
        toks = toks[:-2]  # `\\textbf{in parallel}`: run one after another, the result is the same
    if len(toks) > 2 and toks[0].value == "(" and toks[-1].value == ")" and not toks[0].math \
            and len(top_level(toks[1:-1], lambda t: t.kind == "op" and t.value == ";")) == 2:
        toks = toks[1:-1]  # `($i=0$; $i \leq n$; $i$++)`: C's parentheses around the header
    semis = top_level(toks, lambda t: t.kind == "op" and t.value == ";")
    if len(semis) == 2:
        return _c_style(toks, semis, ctx)
    toks, order = _order_suffix(toks)
    maths = [t for t in toks if t.math]
    if order is not None and order[1] and len(maths) == 1 and maths[0].kind == "name" \
            and not top_level(toks, lambda t: t.value in ("in", "of") and t.kind in ("op", "kw")):
        # `item $i$ in decreasing order of $v_i / w_i$`: i over the positions the key indexes
        target = store(parse_all(maths, ctx), ctx)
        key = parse_all(order[1], ctx)
        arrays = [n.value.id for n in ast.walk(key) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
                  and isinstance(n.slice, ast.Name) and n.slice.id == target.id]
        if not arrays:
            raise Untranslatable("cannot tell what the ordered loop runs over")
        positions = P.mark(P.call("range", [P.call("len", [ast.Name(id=arrays[0], ctx=ast.Load())])]),
                           positions_of=arrays[0])
        return ast.For(target=target, iter=_ordered(positions, target, order, ctx), body=[], orelse=[])
    neighbours = _neighbour_loop(toks, ctx) or _edge_loop(toks, ctx)
    if neighbours is not None:
        return neighbours
    between = _between(toks, ctx)
    if between is not None:
        return between
    chain = _bounded(toks)
    if chain is not None:
        if order is not None:
            raise Untranslatable("an order on a range of index pairs")
        return _nested(chain, ctx)
    head, cond = _filter_suffix(toks)
    if cond is not None:  # `each $(a, b) \\in E$ with $a = u$`: only the elements where it holds
        loop = for_tokens(head, ctx)
        if order is not None:
            loop.iter = _ordered(loop.iter, loop.target, order, ctx)
        gen = ast.comprehension(target=copy.deepcopy(loop.target), iter=loop.iter,
                                ifs=[parse_all(cond, ctx, tuple_ok=False)], is_async=0)
        elt = copy.deepcopy(loop.target)
        for node in ast.walk(elt):
            if hasattr(node, "ctx"):
                node.ctx = ast.Load()
        loop.iter = ast.ListComp(elt=elt, generators=[gen])
        return loop
    assign = top_level(toks, lambda t: (t.kind == "op" and t.value in ("gets", "="))
                       or (t.kind == "kw" and t.value == "from"))
    if not assign and top_level(toks, lambda t: t.kind == "kw" and t.value in ("to", "downto")):
        assign = top_level(toks, lambda t: t.kind == "op" and t.value == ":")[:1]  # `$i:1$ to $n$`
    member = top_level(toks, lambda t: t.value == "in" and t.kind in ("op", "kw"))
    if not assign and not member:  # `character $c$ of $s$`
        member = top_level(toks, lambda t: t.kind == "kw" and t.value == "of")[:1]
    if assign and (not member or assign[0] < member[0]):
        head = toks[: assign[0]]
        named = next((k for k, t in enumerate(head) if t.math), 0)
        target = store(parse_all(head[named:], ctx), ctx)  # `each state $s$ from ...`: the words name s
        iterable = _ordered(_counted(toks[assign[0] + 1 :], ctx), target, order, ctx)
        if isinstance(target, ast.Name) and isinstance(iterable, ast.Call) and order is None:
            ctx.loop_ranges.setdefault(target.id, copy.deepcopy(iterable))
    elif member:
        before = toks[: member[0]]
        first_math = next((k for k, t in enumerate(before) if t.math or t.style != "prose"), None)
        if first_math is None:
            before = before[-1:]
        else:
            before = before[first_math:]
        target = store(_named_targets(parse_all(before, ctx), ctx), ctx)
        nouns = {t.value.lower() for t in toks[: member[0]] if not t.math}
        if isinstance(target, ast.Name) and nouns & _COLLECTION_NOUNS:
            ctx.collections.add(target.id)  # `each string $s$ in $S$`: |s| is its length
        after = toks[member[0] + 1 :]
        dots = top_level(after, lambda t: t.kind == "op" and t.value in ("..", "...")
                         or t.kind == "kw" and t.value in ("to", "downto") and not t.math)  # i in 1 to n
        iterable = _counted(after, ctx) if dots else _named_input(after, ctx) or parse_all(after, ctx)  # i in 1..n
        iterable = P.index_set(iterable)  # x \\in [n] = {1, ..., n}
        if isinstance(iterable, ast.Tuple) and any(isinstance(x, (ast.Compare, ast.BoolOp)) for x in iterable.elts):
            raise Untranslatable("a loop over a set given by a condition")  # i \\in N, i \\le n
        if P.meta(iterable, "style") == "numbers":
            raise Untranslatable("a loop over a set of numbers")
        pair_names = isinstance(target, ast.Tuple) and len(target.elts) > 1 \
            and all(isinstance(x, ast.Name) for x in target.elts)
        if pair_names and isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) \
                and iterable.func.id == "range" and order is None:  # `for $u, v \\in \\{1, \\ldots, n\\}$`: every pair, one loop each
            loops = [ast.For(target=x, iter=copy.deepcopy(iterable), body=[], orelse=[]) for x in target.elts]
            for outer, inner in zip(loops, loops[1:]):
                outer.body = [inner]
            return P.mark(loops[0], innermost=loops[-1])
        if isinstance(iterable, ast.Name):
            ctx.collections.add(iterable.id)  # iterated over: |a| is its size
        if isinstance(target, ast.Tuple) and isinstance(iterable, ast.Name) \
                and all(isinstance(x, ast.Name) for x in target.elts):  # the components of E's elements
            ctx.element_names.setdefault(iterable.id, [x.id for x in target.elts])
        if isinstance(target, ast.Name) and isinstance(iterable, ast.Name) and iterable.id in ctx.holds_collections:
            ctx.collections.add(target.id)  # `$w \\in W$` with W `a list of words`: |w| is its length
        iterable = _ordered(iterable, target, order, ctx)
    elif _vertex_loop(toks, ctx) is not None:
        target, iterable = _vertex_loop(toks, ctx)
    elif len(toks) == 1 and toks[0].math and toks[0].value in _VERTEX_LETTERS and vertex_set(ctx) is not None:
        target, iterable = store(parse_all(toks, ctx), ctx), vertex_set(ctx)  # `for all $v$` in a graph
    elif _noun_loop(toks, ctx) is not None:
        target, iterable = _noun_loop(toks, ctx)
    elif _initial_loops(toks, ctx) is not None:
        return _initial_loops(toks, ctx)
    elif len(toks) == 1 and toks[0].kind == "name" and toks[0].math \
            and variable_name(toks[0].value) in ctx.loop_ranges:
        # `$V[s] \\gets 0$ for all $s$`: s over the range the algorithm's own loop gives it
        target = store(parse_all(toks, ctx), ctx)
        iterable = copy.deepcopy(ctx.loop_ranges[target.id])
    else:
        raise Untranslatable("a loop header needs `i \\gets a \\To b` or `x \\in S`")
    return ast.For(target=target, iter=iterable, body=[], orelse=[])


_FILTER_WORDS = ("with", "where", "such", "satisfying")


def _filter_suffix(toks: list[Tok]) -> tuple[list[Tok], list[Tok] | None]:
    """`$(a, b) \\in E$ with $a = u$`, `$x \\in S$ such that $x > 0$`: the header before the words and
    the condition (maths only) after them; (toks, None) when there is none."""
    cut = top_level(toks, lambda t: not t.math and t.kind in ("kw", "name") and t.value.lower() in _FILTER_WORDS)
    if not cut:
        return toks, None
    before, after = toks[: cut[0]], toks[cut[0] + 1 :]
    if after and not after[0].math and after[0].value.lower() == "that":
        after = after[1:]
    if not after or not all(t.math for t in after) or not top_level(
            before, lambda t: t.value == "in" and t.kind in ("op", "kw")):
        return toks, None
    return before, after


def _named_input(after: list[Tok], ctx: P.Ctx) -> ast.expr | None:
    """`in the corpus`, `in the list`: the input the inputs' description named with that noun
    (`a corpus given as a list of tokens $w_1, \\ldots, w_N$`), when the words name nothing else."""
    words = [t.value.lower() for t in after]
    if not words or any(t.math or t.kind not in ("name", "kw") for t in after):
        return None
    while len(words) > 1 and words[0] in ("the", "given", "input", "whole"):
        words = words[1:]
    if len(words) != 1 or words[0] not in ctx.nouns:
        return None
    return P.name(ctx.nouns[words[0]])


_ORDER = re.compile(r"^,? ?(?:(?:taken |visited )?(?:from (?:left to right|right to left|first to last)"
                    r"|in (?:the given |reverse |(?:non-?)?(?:increasing|decreasing) |ascending |descending |sorted )?order"
                    r"(?: of \$)?|sorted by \$|one by one|backwards))$")


def _order_suffix(toks: list[Tok]) -> tuple[list[Tok], tuple[str, list[Tok]] | None]:
    """`$S$ in increasing order of $f$`, `$s$, from left to right`, `$E$ sorted by $w$`: the header
    without it, and (the words, the key's maths) of the order written after the collection."""
    for k in range(1, len(toks)):
        if toks[k].math or not toks[k - 1].math:
            continue
        key = [x for x in toks[k:] if x.math]
        words = " ".join(x.value.lower() for x in toks[k:] if not x.math).replace(" ,", ",")
        if _ORDER.match(words + (" $" if key else "")):
            return toks[:k], (words, key)
    return toks, None


def _ordered(iterable: ast.expr, target: ast.expr, order, ctx: P.Ctx) -> ast.expr:
    if order is None:
        return iterable
    words, key_toks = order
    if any(w in words for w in ("left to right", "in order", "given order", "one by one", "as listed")):
        return iterable
    if any(w in words for w in ("right to left", "reverse order", "backwards")):
        return P.call("reversed", [P.call("list", [iterable])])
    if not any(w in words for w in ("increasing", "ascending", "decreasing", "descending", "sorted",
                                    "nondecreasing", "non-decreasing", "order")):
        raise Untranslatable(f"cannot read the order `{words}`")
    keywords = []
    if any(w in words for w in ("decreasing", "descending")) and "non-decreasing" not in words:
        keywords.append(ast.keyword(arg="reverse", value=P.const(True)))
    if key_toks:
        key = _key_of(target, parse_all(key_toks, ctx))
        keywords.insert(0, ast.keyword(arg="key", value=key))
    return P.call("sorted", [iterable], keywords)


def _key_of(target: ast.expr, key: ast.expr) -> ast.expr:
    """`(s, f) in I in increasing order of f`: sort the items by their f."""
    item = ast.Name(id="_item", ctx=ast.Load())
    if isinstance(target, ast.Tuple):
        names = [x.id for x in target.elts if isinstance(x, ast.Name)]
        if not (isinstance(key, ast.Name) and key.id in names):
            raise Untranslatable("can only sort pairs by one of their parts")
        body: ast.expr = ast.Subscript(value=item, slice=P.const(names.index(key.id)), ctx=ast.Load())
    else:
        body = _rename(key, target.id, "_item")
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg="_item")], kwonlyargs=[], kw_defaults=[], defaults=[])
    return ast.Lambda(args=args, body=body)


def _rename(e: ast.expr, old: str, new: str) -> ast.expr:
    class R(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return ast.Name(id=new, ctx=node.ctx) if node.id == old else node

    return R().visit(copy.deepcopy(e))


def _c_style(toks: list[Tok], semis: list[int], ctx: P.Ctx) -> ast.For:
    """`i \\gets 0; i < n; i \\gets i + 2` (a C-style header): a counted range."""
    statement_tokens = P.PARSERS.statement_tokens

    init = statement_tokens(toks[: semis[0]], ctx)
    test = parse_all(toks[semis[0] + 1 : semis[1]], ctx, tuple_ok=False)
    step = statement_tokens(toks[semis[1] + 1 :], ctx)
    if not (len(init) == 1 and isinstance(init[0], ast.Assign) and isinstance(init[0].targets[0], ast.Name)
            and isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name)
            and test.left.id == init[0].targets[0].id and len(step) == 1):
        raise Untranslatable("a C-style loop header this reader does not follow")
    var, start, bound = init[0].targets[0], init[0].value, test.comparators[0]
    delta = _step_of(step[0], var.id)
    op = type(test.ops[0])
    if delta is None or (delta > 0) != (op in (ast.Lt, ast.LtE)) or op not in (ast.Lt, ast.LtE, ast.Gt, ast.GtE):
        raise Untranslatable("a C-style loop header this reader does not follow")
    last = bound if op in (ast.LtE, ast.GtE) else P.add_const(bound, -1 if delta > 0 else 1)
    rng = P.make_range(start, last, None if abs(delta) == 1 else P.const(abs(delta)), down=delta < 0)
    return ast.For(target=var, iter=rng, body=[], orelse=[])


def _step_of(stmt: ast.stmt, var: str) -> int | None:
    """+c for `i \\gets i + c` / `i += c`, -c for a decrement, else None."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == var:
        c = P.int_value(stmt.value)
        if c is None or not isinstance(stmt.op, (ast.Add, ast.Sub)):
            return None
        return c if isinstance(stmt.op, ast.Add) else -c
    value = stmt.value if isinstance(stmt, ast.Assign) else None
    if isinstance(value, ast.BinOp) and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == var \
            and isinstance(value.left, ast.Name) and value.left.id == var:
        c = P.int_value(stmt.value.right)
        if c is not None and isinstance(stmt.value.op, (ast.Add, ast.Sub)):
            return c if isinstance(stmt.value.op, ast.Add) else -c
    return None


_COLLECTION_NOUNS = {"string", "word", "list", "array", "set", "sequence", "path", "row", "column"}
_VERTEX_WORDS = {"vertex", "vertices", "node", "nodes"}


def _named_targets(target: ast.expr, ctx: P.Ctx) -> ast.expr:
    """`(\\delta_r, \\delta_c) \\in D`: a subscripted loop variable is one name (delta_r), never an
    array entry; the label is kept so that the body reads it the same way."""
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and isinstance(target.slice, ast.Name) \
            and target.value.id not in ctx.params:
        ctx.labels.add((target.value.id, target.slice.id))
        return ast.Name(id=variable_name(f"{target.value.id}_{target.slice.id}"), ctx=ast.Load())
    if isinstance(target, ast.Tuple):
        return ast.Tuple(elts=[_named_targets(x, ctx) for x in target.elts], ctx=ast.Load())
    return target


def _vertex_loop(toks: list[Tok], ctx: P.Ctx) -> tuple[ast.expr, ast.expr] | None:
    """`each vertex $v$` with no set named: the vertices of the graph, V when the algorithm has
    one, else 0 .. |G| - 1 for a graph G given as adjacency lists."""
    words = [t.value.lower() for t in toks if not t.math and t.style == "prose"]
    maths = [t for t in toks if t.math or t.style != "prose"]
    if not words or words[-1] not in _VERTEX_WORDS or len(maths) != 1 or maths[0].kind != "name":
        return None
    iterable = vertex_set(ctx)
    if iterable is None:
        return None
    return store(parse_all(maths, ctx), ctx), iterable


# names that stand for a vertex when a loop over them gives no range (`$d[v] \\gets \\infty$ for all $v$`)
_VERTEX_LETTERS = {"u", "v", "w"}
_NEIGHBOUR_WORDS = {"neighbor", "neighbors", "neighbour", "neighbours", "successor", "successors",
                    "out-neighbor", "out-neighbour"}


def _neighbour_loop(toks: list[Tok], ctx: P.Ctx) -> ast.For | None:
    """`each neighbor $v$ of $u$ [with $W[u][v] > 0$]`: v over u's adjacency list in the graph; when
    the condition reads a matrix entry `X[u][v]`, v over the positions of X's row u where it holds."""
    of = top_level(toks, lambda t: not t.math and t.kind == "kw" and t.value == "of")
    if not of:
        return None
    words = [t.value.lower() for t in toks[: of[0]] if not t.math]
    var = [t for t in toks[: of[0]] if t.math]
    if not words or words[-1] not in _NEIGHBOUR_WORDS or len(var) != 1 or var[0].kind != "name":
        return None
    rest = toks[of[0] + 1 :]
    head, cond = _filter_suffix([Tok("kw", "in", 0, True)] + rest)
    head = head[1:]
    if not head or not all(t.math for t in head):
        return None
    target = store(parse_all(var, ctx), ctx)
    vertex = parse_all(head, ctx)
    test = parse_all(cond, ctx, tuple_ok=False) if cond is not None else None
    rows = [n.value.value for n in ast.walk(test) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Subscript)
            and isinstance(n.slice, ast.Name) and n.slice.id == target.id
            and ast.dump(n.value.slice) == ast.dump(vertex) and isinstance(n.value.value, ast.Name)] if test else []
    if rows:  # a weight matrix: the positions of row u
        iterable: ast.expr = P.mark(P.call("range", [P.call("len", [ast.Name(id=rows[0].id, ctx=ast.Load())])]),
                                    positions_of=rows[0].id)
    elif P.graph_name(ctx) is not None:
        iterable = P.mark(ast.Subscript(value=ast.Name(id=P.graph_name(ctx), ctx=ast.Load()), slice=vertex,
                                        ctx=ast.Load()), index=True)
    else:
        return None
    if test is not None:
        elt = ast.Name(id=target.id, ctx=ast.Load())
        gen = ast.comprehension(target=ast.Name(id=target.id, ctx=ast.Store()), iter=iterable, ifs=[test], is_async=0)
        iterable = ast.ListComp(elt=elt, generators=[gen])
    return ast.For(target=target, iter=iterable, body=[], orelse=[])


_EDGE_WORDS = {"edge", "edges", "arc", "arcs", "outgoing"}


def _edge_loop(toks: list[Tok], ctx: P.Ctx) -> ast.For | None:
    """`each edge $(s, u)$` with s a known vertex: u over the edges leaving s (the pairs of E that
    start at s when the graph is given as `G = (V, E)`, else s's adjacency list)."""
    words = [t.value.lower() for t in toks if not t.math]
    maths = [t for t in toks if t.math]
    if not words or words[-1] not in _EDGE_WORDS or len(maths) != 5 or maths[0].value != "(" \
            or maths[2].value != "," or maths[4].value != ")" or toks[-5:] != maths:
        return None
    source, other = maths[1], maths[3]
    known = ctx.known | ctx.params | ctx.declared
    if source.kind != "name" or other.kind != "name" or variable_name(source.value) not in known \
            or variable_name(other.value) in ctx.params | ctx.declared or P.graph_name(ctx) is None:
        return None
    vertex = parse_all([source], ctx)
    if "E" in known:  # `G = (V, E)`: the pairs of E that start at s
        pair = ast.Tuple(elts=[ast.Name(id="_a", ctx=ast.Store()), ast.Name(id="_b", ctx=ast.Store())], ctx=ast.Store())
        iterable: ast.expr = ast.ListComp(elt=ast.Name(id="_b", ctx=ast.Load()), generators=[ast.comprehension(
            target=pair, iter=ast.Name(id="E", ctx=ast.Load()), is_async=0,
            ifs=[ast.Compare(left=ast.Name(id="_a", ctx=ast.Load()), ops=[ast.Eq()], comparators=[vertex])])])
    else:
        iterable = P.mark(ast.Subscript(value=ast.Name(id=P.graph_name(ctx), ctx=ast.Load()), slice=vertex,
                                        ctx=ast.Load()), index=True)
    return ast.For(target=store(parse_all([other], ctx), ctx), iter=iterable, body=[], orelse=[])


def _initial_loops(toks: list[Tok], ctx: P.Ctx) -> ast.For | None:
    """`for all $s, a$` with `$n_S$ states and $n_A$ actions` in the inputs: each one-letter variable
    over the things whose noun it is the initial of (s over the states, a over the actions), one
    loop each; None unless every variable has exactly one such count."""
    if not toks or not all(t.math for t in toks):
        return None
    parts = split(toks, top_level(toks, lambda t: t.kind == "op" and t.value == ","))
    if not all(len(p) == 1 and p[0].kind == "name" and len(p[0].value) == 1 for p in parts):
        return None
    names = ctx.params | ctx.declared | ctx.known
    loops = []
    for part in parts:
        counts = {n for noun, n in ctx.counted.items() if noun[0] == part[0].value.lower() and n in names}
        if len(counts) != 1 or variable_name(part[0].value) in ctx.loop_ranges:
            return None
        rng = P.make_range(P.const(0), P.add_const(P.name(counts.pop()), -1))
        loops.append(ast.For(target=store(parse_all(part, ctx), ctx), iter=rng, body=[], orelse=[]))
    for outer, inner in zip(loops, loops[1:]):
        outer.body = [inner]
    return P.mark(loops[0], innermost=loops[-1])


def _noun_loop(toks: list[Tok], ctx: P.Ctx) -> tuple[ast.expr, ast.expr] | None:
    """`each coin value $c$` with the inputs given as `coin values $c_1, \\ldots, c_k$`: the elements
    of the input that the inputs named with that noun (singular or plural)."""
    words = [t.value.lower() for t in toks if not t.math and t.style == "prose"]
    maths = [t for t in toks if t.math or t.style != "prose"]
    if words and len(maths) == 3 and maths[1].value == "_" and maths[0].kind == maths[2].kind == "name" \
            and toks[-3:] == maths and variable_name(maths[0].value) in ctx.params | ctx.declared:
        # `each sample $y_i$` with the samples given as `y_1, \ldots, y_G`: i over y's positions
        seq = variable_name(maths[0].value)
        rng = P.mark(P.call("range", [P.call("len", [P.name(seq)])]), positions_of=seq)
        return store(P.name(variable_name(maths[2].value)), ctx), rng
    if not words or len(maths) != 1 or maths[0].kind != "name" or toks[-1] is not maths[0]:
        return None
    noun = words[-1]
    forms = (noun, noun + "s", noun + "es", noun[:-1] + "ies" if noun.endswith("y") else noun)
    for form in forms:  # `for every state $s$` with `the number of states $n$`: s = 0 .. n-1
        if form in ctx.counted and ctx.counted[form] in ctx.params | ctx.declared | ctx.known:
            last = P.add_const(P.name(ctx.counted[form]), -1)
            return store(parse_all(maths, ctx), ctx), P.make_range(P.const(0), last)
    for form in forms:
        if form in ctx.nouns and form not in ctx.counted:
            return store(parse_all(maths, ctx), ctx), P.name(ctx.nouns[form])
    return None


def vertex_set(ctx: P.Ctx) -> ast.expr | None:
    """The vertices of the algorithm's graph: V when it has one, else 0 .. |G| - 1 for a graph G
    given as adjacency lists (or for the one array input: a weight matrix W)."""
    names = ctx.known | ctx.declared | ctx.params
    if "V" in names:
        return ast.Name(id="V", ctx=ast.Load())
    if ctx.vertex_count is not None and ctx.vertex_count in names:  # `$n$ vertices $0, \\ldots, n-1$`
        return P.mark(P.call("range", [ast.Name(id=ctx.vertex_count, ctx=ast.Load())]), vertices=True)
    graph = P.graph_name(ctx)
    if graph is None:
        return None
    return P.mark(P.call("range", [P.call("len", [ast.Name(id=graph, ctx=ast.Load())])]), vertices=True)


_STRICT = {"<": True, "<=": False}


@dataclass
class _Chain:
    """`1 \\le i < j \\le n`: low bound, the variables with whether `<` comes before each, and
    the high bound with whether `<` comes before it."""

    low: list[Tok]
    names: list[tuple[str, bool]]
    high: list[Tok]
    high_strict: bool
    shared: bool = False  # `1 \\le i, j \\le n`: every variable runs over the whole range


def _bounded(toks: list[Tok]) -> _Chain | None:
    """`i, j with 1 \\le i < j \\le n`, `$1 \\le i \\le n$`: a chain of < and \\le from a bound
    through one-letter variables to a bound."""
    cut = top_level(toks, lambda t: t.value in ("with", "where", "such", "that") and t.kind in ("kw", "name"))
    chain = toks[cut[-1] + 1 :] if cut else toks
    while chain and not chain[0].math:
        chain = chain[1:]
    ops = top_level(chain, lambda t: t.kind == "op" and t.value in _STRICT)
    if len(ops) < 2:
        return None
    parts = split(chain, ops)
    names = parts[1:-1]
    strict = [_STRICT[chain[k].value] for k in ops]
    if len(names) == 1 and len(names[0]) > 1:  # `1 \\le i, j \\le n`: each over the same range
        listed = split(names[0], top_level(names[0], lambda t: t.kind == "op" and t.value == ","))
        if all(len(p) == 1 and p[0].kind == "name" for p in listed):
            return _Chain(parts[0], [(p[0].value, strict[0]) for p in listed], parts[-1], strict[-1], shared=True)
    if not parts[0] or not parts[-1] or not all(len(p) == 1 and p[0].kind == "name" for p in names):
        return None
    return _Chain(parts[0], [(p[0].value, s) for p, s in zip(names, strict)], parts[-1], strict[-1])


def _nested(chain: _Chain, ctx: P.Ctx) -> ast.For:
    """One loop per variable, each starting at (or after) the one before; the innermost loop is
    marked so that the caller fills its body."""
    start = parse_all(chain.low, ctx, tuple_ok=False)
    stop = parse_all(chain.high, ctx, tuple_ok=False)
    stop = P.add_const(stop, -1) if chain.high_strict else stop
    loops: list[ast.For] = []
    for name, strict in chain.names:
        first = P.add_const(start, 1) if strict else start
        loops.append(ast.For(target=store(P.name(name), ctx), iter=P.make_range(first, stop), body=[], orelse=[]))
        start = start if chain.shared else P.name(name)
    for outer, inner in zip(loops, loops[1:]):
        outer.body = [inner]
    return P.mark(loops[0], innermost=loops[-1])


def _open_ended(head: list[Tok], cond: list[Tok], ctx: P.Ctx) -> ast.expr:
    """`0, k, 2k, \\ldots` while `i < n` (or `\\le`): range(0, n, k)."""
    commas = top_level(head, lambda t: t.kind == "op" and t.value == ",")
    pieces = split(head, commas)
    if len(pieces) < 3 or not (len(pieces[-1]) == 1 and pieces[-1][0].value in ("...", "..")):
        raise Untranslatable("an open-ended range needs `a, b, \\ldots`")
    first, second = parse_all(pieces[0], ctx, tuple_ok=False), parse_all(pieces[1], ctx, tuple_ok=False)
    test = parse_all(cond, ctx, tuple_ok=False)
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Lt, ast.LtE))):
        raise Untranslatable("an open-ended range needs `while i < n`")
    stop = test.comparators[0] if isinstance(test.ops[0], ast.Lt) else P.add_const(test.comparators[0], 1)
    return P.call("range", [first, stop, P.difference(second, first)])


# words that give a counted loop's last value (`2, 3, \\ldots, not exceeding $\\sqrt{n}$`, `1 up to $n$`)
_BOUND_WORDS = [("not", "exceeding"), ("not", "exceed"), ("up", "to"), ("at", "most"), ("no", "more", "than"),
                ("not", "more", "than"), ("no", "greater", "than"), ("no", "larger", "than"), ("not", "beyond")]


def _bound_words(rest: list[Tok]) -> tuple[int, int] | None:
    """Where the words naming the last value start, and how many they are."""
    for k, t in enumerate(rest):
        if t.math:
            continue
        words = tuple(x.value.lower() for x in rest[k : k + 3] if not x.math)
        hit = next((len(b) for b in _BOUND_WORDS if words[: len(b)] == b and k + len(b) < len(rest)), None)
        if hit is not None and k > 0:
            return k, hit
    return None


def _bounded_by_words(rest: list[Tok], bound: tuple[int, int], ctx: P.Ctx) -> ast.expr:
    """`i^2, i^2 + i, \\ldots, not exceeding $n$`: from the first value, by the step the first two
    give (1 with one), up to the bound, included (its whole part: `\\sqrt{n}`)."""
    k, n = bound
    head = rest[:k]
    while head and head[-1].kind == "op" and head[-1].value in (",", "...", ".."):
        head = head[:-1]
    commas = top_level(head, lambda t: t.kind == "op" and t.value == ",")
    values = [parse_all(p, ctx, tuple_ok=False) for p in split(head, commas) if p]
    if not values:
        raise Untranslatable("cannot read where this loop starts")
    step = P.difference(values[1], values[0]) if len(values) >= 2 else None
    if step is not None and P.int_value(step) is not None and P.int_value(step) <= 0:
        raise Untranslatable("a loop up to a bound needs a positive step")
    return P.make_range(values[0], parse_all(rest[k + n :], ctx, tuple_ok=False), step)


def _unbounded(head: list[Tok], ctx: P.Ctx) -> ast.expr:
    """`t = 0, 1, 2, \\ldots` with no last value: counting on until the body returns or breaks."""
    commas = top_level(head, lambda t: t.kind == "op" and t.value == ",")
    values = [parse_all(p, ctx, tuple_ok=False) for p in split(head, commas) if p]
    if not values:
        raise Untranslatable("cannot read where this loop starts")
    step = P.difference(values[1], values[0]) if len(values) >= 2 else P.const(1)
    if P.int_value(step) is None or P.int_value(step) <= 0:
        raise Untranslatable("an endless loop needs a positive step")
    return P.call("itertools.count", [values[0]] + ([step] if P.int_value(step) != 1 else []))


def _between(toks: list[Tok], ctx: P.Ctx) -> ast.For | None:
    """`integer $i$ between $0$ and $n - k$`: both ends included."""
    at = [k for k, t in enumerate(toks) if not t.math and t.value.lower() == "between"]
    if len(at) != 1:
        return None
    k = at[0]
    ands = [j for j, t in enumerate(toks) if j > k and not t.math and t.value == "and"]
    named = [t for t in toks[:k] if t.math]
    if len(ands) != 1 or len(named) != 1 or named[0].kind != "name" or not toks[k + 1 : ands[0]] \
            or not toks[ands[0] + 1 :]:
        return None
    target = store(parse_all(named, ctx), ctx)
    lo = parse_all(toks[k + 1 : ands[0]], ctx, tuple_ok=False)
    hi = parse_all(toks[ands[0] + 1 :], ctx, tuple_ok=False)
    return ast.For(target=target, iter=P.make_range(lo, hi, None), body=[], orelse=[])


def _counted(rest: list[Tok], ctx: P.Ctx) -> ast.expr:
    """The range after `i \\gets`: `1 \\To n [step 2]`, `n downto 1`, `1, \\ldots, n`, `1..n`, and
    `0, k, 2k, \\ldots` ended by `while $i < n$`."""
    cond = top_level(rest, lambda t: t.kind == "kw" and t.value == "while" and not t.math)
    if cond:
        return _open_ended(rest[: cond[0]], rest[cond[0] + 1 :], ctx)
    bound = _bound_words(rest)
    if bound is not None:
        return _bounded_by_words(rest, bound, ctx)
    to = top_level(rest, lambda t: t.kind == "kw" and t.value in ("to", "downto", "down", "until"))
    if to:
        k = to[0]
        down = rest[k].value in ("downto", "down")
        skip = 2 if rest[k].value == "down" and k + 1 < len(rest) and rest[k + 1].value == "to" else 1
        start = parse_all(rest[:k], ctx, tuple_ok=False)
        after = rest[k + skip :]
        step_at = top_level(after, lambda t: t.kind == "kw" and t.value in ("step", "by"))
        end_toks, step_toks = (split(after, step_at[:1]) if step_at else (after, []))
        step = parse_all(step_toks, ctx, tuple_ok=False) if step_toks else None
        if step is not None and P.int_value(step) is not None and P.int_value(step) < 0:
            down, step = True, P.const(-P.int_value(step))
        return P.make_range(start, parse_all(end_toks, ctx, tuple_ok=False), step, down)
    dots = top_level(rest, lambda t: t.kind == "op" and t.value in ("..", "..."))
    colons = top_level(rest, lambda t: t.kind == "op" and t.value == ":")
    if not dots and len(colons) in (1, 2):  # MATLAB's `1:n` and `n:-1:1`, both ends included
        parts = [parse_all(p, ctx, tuple_ok=False) for p in split(rest, colons)]
        step = P.int_value(parts[1]) if len(parts) == 3 else 1
        if step is None or step == 0:
            raise Untranslatable("cannot read the step of this range")
        return P.make_range(parts[0], parts[-1], P.const(abs(step)) if abs(step) != 1 else None, down=step < 0)
    commas = top_level(rest, lambda t: t.kind == "op" and t.value == ",")
    if not dots and len(commas) in (1, 2):  # Fortran's `i = 1, n` and `i = n, 1, -1`: both ends included
        parts = [parse_all(p, ctx, tuple_ok=False) for p in split(rest, commas)]
        step = P.int_value(parts[2]) if len(parts) == 3 else 1
        if step is None or step == 0:
            raise Untranslatable("cannot read the step of this range")
        return P.make_range(parts[0], parts[1], P.const(abs(step)) if abs(step) != 1 else None, down=step < 0)
    if not dots:
        raise Untranslatable("a counted loop needs `\\To`, `downto` or `\\ldots`")
    if dots[-1] == len(rest) - 1 and not top_level(rest, lambda t: t.kind == "kw" and t.value in ("step", "by")):
        return _unbounded(rest[: dots[-1]], ctx)
    step_at = top_level(rest, lambda t: t.kind == "kw" and t.value in ("step", "by"))
    rest, step_toks = split(rest, step_at[:1]) if step_at else (rest, [])
    commas = top_level(rest, lambda t: t.kind == "op" and t.value == ",")
    pieces = [p for p in split(rest, sorted(commas + dots)) if p]
    values = [parse_all(p, ctx, tuple_ok=False) for p in pieces]
    if len(values) == 2:  # `1..n`, `n..1 step -1`, `5..1`
        step = P.int_value(parse_all(step_toks, ctx, tuple_ok=False)) if step_toks else None
        lo, hi = P.int_value(values[0]), P.int_value(values[1])
        if step is not None and step < 0 or step is None and lo is not None and hi is not None and lo > hi \
                or step is None and lo is None and hi in (0, 1):  # `A.length .. 1`: down to the first position
            return P.make_range(values[0], values[1], P.const(-(step or -1)), down=True)
        return P.make_range(values[0], values[1], P.const(step) if step and step != 1 else None)
    if len(values) >= 3:  # `1, 3, \\ldots, n`, `2, 3, 4, \\ldots, m`: the first two give the step
        values = [values[0], values[1], values[-1]]
        step = P.difference(values[1], values[0])
        if P.int_value(step) is not None and P.int_value(step) < 0:
            return P.make_range(values[0], values[2], P.const(-P.int_value(step)), down=True)
        return P.make_range(values[0], values[2], step)
    raise Untranslatable("cannot read this \\ldots loop")
