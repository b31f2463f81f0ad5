"""Declared outputs: a block that names what it produces (\\Ensure, \\KwOut, \\KwResult, an
`Output:` line) but never returns a value ends by returning that variable.

When the text names several assigned variables each on its own (`the sum $s$ and the product
$p$`), all of them are returned, in that order. Otherwise the variable is the first name in the
output text that the body assigns (`\\KwOut{$dist$, the
distances}` -> dist; `\\Ensure $C = AB$` -> C; `\\KwOut{the best cost $OPT[n]$}` -> OPT[n]). An output naming only inputs (an array sorted in
place) or nothing the body assigns adds no return: the block does not say what to return.
"""

from __future__ import annotations

import ast

from qtk.tools.transpile_paper import ir
from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.mathparse import parse_all
from qtk.tools.transpile_paper.mathtok import Tok, Untranslatable, tokenize


def final_output(body: list[ast.stmt]) -> list[ast.stmt]:
    """`\\textbf{output} $x$` as the last step of a block that returns nothing: the result, returned."""
    last = body[-1] if body else None
    if isinstance(last, ast.Expr) and P.meta(last, "output") and not _returns_value(body) \
            and len(last.value.args) >= 1:
        args = last.value.args
        value = args[0] if len(args) == 1 else ast.Tuple(elts=args, ctx=ast.Load())
        return body[:-1] + [ast.Return(value=value)]
    return body


def declared_return(outputs: list[ir.IO], body: list[ast.stmt], params: set[str],
                    ctx: P.Ctx | None = None) -> ast.Return | None:
    """`return X` (or `return X[n]` for an output written `$X[n]$`) for the declared output X, or
    None when the body returns or nothing fits."""
    if not outputs or _returns_value(body):
        return None
    assigned = _assigned(body)
    # the block's own variables first; inputs it assigns anew (`updated $w$ and $b$`) when none fits
    # an input filled in place (`y_i \\gets ..`) when the output is that name alone (`\\KwOut{$y$}`;
    # `$A$ sorted` describes the input's new state and returns nothing)
    alone = {io.text.text.strip().strip("$").strip() for io in outputs}
    filled = {n.value.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Subscript)
              and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name) and n.value.id in alone}
    return _output_of(outputs, body, assigned - params, ctx) or _output_of(outputs, body, assigned | filled, ctx)


def _output_of(outputs: list[ir.IO], body: list[ast.stmt], assigned: set[str],
               ctx: P.Ctx | None) -> ast.Return | None:
    loops = {n.id for stmt in body for f in ast.walk(stmt) if isinstance(f, (ast.For, ast.comprehension))
             for n in ast.walk(f.target) if isinstance(n, ast.Name)}
    several = [n for io in outputs for n in _named_alone(io.text.text, assigned - loops)]
    if len(set(several)) >= 2:  # `the sum $s$ and the product $p$`: both, in that order
        names = list(dict.fromkeys(several))
        return ast.Return(value=ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Load()) for n in names], ctx=ast.Load()))
    for io in outputs:
        toks, _ = tokenize(io.text.text)
        for k, t in enumerate(toks):
            if k + 1 < len(toks) and toks[k + 1].value == ".":
                continue  # `$v.d$`: the record's field d, not the element v
            if t.kind == "name" and t.math and k + 2 < len(toks) and toks[k + 1].value == "_" \
                    and variable_name(f"{t.value}_{toks[k + 2].value}") in assigned:  # `$x_{best}$`: one name
                return ast.Return(value=ast.Name(id=variable_name(f"{t.value}_{toks[k + 2].value}"), ctx=ast.Load()))
            if t.kind == "name" and t.math and variable_name(t.value) in assigned:
                element = _element(toks, k, ctx)
                return ast.Return(value=element or ast.Name(id=variable_name(t.value), ctx=ast.Load()))
    return None


def declared_names(outputs: list[ir.IO]) -> set[str]:
    """The names (in maths) the output lines mention."""
    return {variable_name(t.value) for io in outputs for t in tokenize(io.text.text)[0] if t.kind == "name" and t.math}


def _named_alone(text: str, assigned: set[str]) -> list[str]:
    """Assigned names that make up a whole piece of maths of their own (`$s$`)."""
    toks, _ = tokenize(text)
    pieces: list[list[Tok]] = [[]]
    for t in toks:
        if t.math:
            pieces[-1].append(t)
        elif pieces[-1]:
            pieces.append([])
    found: list[str] = []
    for p in pieces:
        bare = [t for t in p if t.value not in ("{", "}")]
        if len(bare) == 3 and bare[0].kind == "name" and bare[1].value == "_" and bare[2].kind in ("name", "num") \
                and variable_name(f"{bare[0].value}_{bare[2].value}") in assigned:
            found.append(variable_name(f"{bare[0].value}_{bare[2].value}"))  # `$m_1$`: one name
        elif len(p) == 1 and p[0].kind == "name" and variable_name(p[0].value) in assigned:
            found.append(variable_name(p[0].value))
        elif len(p) >= 5 and p[0].value == "(" and p[-1].value == ")" \
                and all(t.kind == "name" or t.value == "," for t in p[1:-1]) \
                and all(variable_name(t.value) in assigned for t in p[1:-1] if t.kind == "name"):
            found.extend(variable_name(t.value) for t in p[1:-1] if t.kind == "name")  # `$(r, c)$`
    return found


def _element(toks: list[Tok], k: int, ctx: P.Ctx | None) -> ast.expr | None:
    """`OPT[n]` when the output names one entry of the array it fills."""
    if ctx is None or k + 1 >= len(toks) or toks[k + 1].value != "[":
        return None
    depth = 0
    for j in range(k + 1, len(toks)):
        depth += {"[": 1, "]": -1}.get(toks[j].value, 0) if toks[j].kind == "op" else 0
        if depth == 0:
            try:
                return parse_all(toks[k : j + 1], ctx)
            except Untranslatable:
                return None
    return None


def _returns_value(body: list[ast.stmt]) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None
               for stmt in body for n in ast.walk(stmt))


def _assigned(body: list[ast.stmt]) -> set[str]:
    return {n.id for stmt in body for n in ast.walk(stmt)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
