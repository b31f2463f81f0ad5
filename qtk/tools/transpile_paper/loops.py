"""Loop headers: counted loops (`i \\gets 1 \\To n`, `\\textbf{downto}`, `step`, `i = 1, \\ldots, n`,
`i = n, n - 1, \\ldots, 1`, `1..n`, `i in 1..n`) and loops over collections (`each v \\in S`, `x in
words`, `character c of s`), plus index pairs (`i, j with 1 \\le i < j \\le n`) as nested loops.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.mathparse import parse_all
from qtk.tools.transpile_paper.mathtok import Tok, Untranslatable
from qtk.tools.transpile_paper.linetokens import split, top_level
from qtk.tools.transpile_paper.statements import store


def for_tokens(toks: list[Tok], ctx: P.Ctx) -> ast.For:
    """`i \\gets 1 \\To n`, `i = n \\textbf{downto} 1`, `i = 1, \\ldots, n`, `each v \\in S`."""
    while toks and toks[0].kind == "kw" and toks[0].value in ("for", "each", "every", "all"):
        toks = toks[1:]
    chain = _bounded(toks)
    if chain is not None:
        return _nested(chain, ctx)
    assign = top_level(toks, lambda t: (t.kind == "op" and t.value in ("gets", "="))
                       or (t.kind == "kw" and t.value == "from"))
    member = top_level(toks, lambda t: t.value == "in" and t.kind in ("op", "kw"))
    if not assign and not member:  # `character $c$ of $s$`
        member = top_level(toks, lambda t: t.kind == "kw" and t.value == "of")[:1]
    if assign and (not member or assign[0] < member[0]):
        target = store(parse_all(toks[: assign[0]], ctx), ctx)
        iterable = _counted(toks[assign[0] + 1 :], ctx)
    elif member:
        before = toks[: member[0]]
        first_math = next((k for k, t in enumerate(before) if t.math or t.style != "prose"), None)
        if first_math is None:
            before = before[-1:]
        else:
            before = before[first_math:]
        target = store(parse_all(before, ctx), ctx)
        after = toks[member[0] + 1 :]
        dots = top_level(after, lambda t: t.kind == "op" and t.value in ("..", "..."))
        iterable = _counted(after, ctx) if dots else parse_all(after, ctx)  # i in 1..n
        if isinstance(iterable, ast.List) and len(iterable.elts) == 1 and P.int_value(iterable.elts[0]) is None:
            iterable = P.make_range(P.const(1), iterable.elts[0])  # x \\in [n] = {1, ..., n}
    else:
        raise Untranslatable("a loop header needs `i \\gets a \\To b` or `x \\in S`")
    return ast.For(target=target, iter=iterable, body=[], orelse=[])


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


def _counted(rest: list[Tok], ctx: P.Ctx) -> ast.expr:
    """The range after `i \\gets`: `1 \\To n [step 2]`, `n downto 1`, `1, \\ldots, n`, `1..n`."""
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
    if not dots:
        raise Untranslatable("a counted loop needs `\\To`, `downto` or `\\ldots`")
    step_at = top_level(rest, lambda t: t.kind == "kw" and t.value in ("step", "by"))
    rest, step_toks = split(rest, step_at[:1]) if step_at else (rest, [])
    commas = top_level(rest, lambda t: t.kind == "op" and t.value == ",")
    pieces = [p for p in split(rest, sorted(commas + dots)) if p]
    values = [parse_all(p, ctx, tuple_ok=False) for p in pieces]
    if len(values) == 2:  # `1..n`, `n..1 step -1`, `5..1`
        step = P.int_value(parse_all(step_toks, ctx, tuple_ok=False)) if step_toks else None
        lo, hi = P.int_value(values[0]), P.int_value(values[1])
        if step is not None and step < 0 or step is None and lo is not None and hi is not None and lo > hi:
            return P.make_range(values[0], values[1], P.const(-(step or -1)), down=True)
        return P.make_range(values[0], values[1], P.const(step) if step and step != 1 else None)
    if len(values) >= 3:  # `1, 3, \\ldots, n`, `2, 3, 4, \\ldots, m`: the first two give the step
        values = [values[0], values[1], values[-1]]
        step = P.difference(values[1], values[0])
        if P.int_value(step) is not None and P.int_value(step) < 0:
            return P.make_range(values[0], values[2], P.const(-P.int_value(step)), down=True)
        return P.make_range(values[0], values[2], step)
    raise Untranslatable("cannot read this \\ldots loop")
