"""Declared outputs: a block that names what it produces (\\Ensure, \\KwOut, \\KwResult, an
`Output:` line) but never returns a value ends by returning that variable.

The variable is the first name in the output text that the body assigns (`\\KwOut{$dist$, the
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


def declared_return(outputs: list[ir.IO], body: list[ast.stmt], params: set[str],
                    ctx: P.Ctx | None = None) -> ast.Return | None:
    """`return X` (or `return X[n]` for an output written `$X[n]$`) for the declared output X, or
    None when the body returns or nothing fits."""
    if not outputs or _returns_value(body):
        return None
    assigned = _assigned(body) - params
    for io in outputs:
        toks, _ = tokenize(io.text.text)
        for k, t in enumerate(toks):
            if k + 1 < len(toks) and toks[k + 1].value == ".":
                continue  # `$v.d$`: the record's field d, not the element v
            if t.kind == "name" and t.math and variable_name(t.value) in assigned:
                element = _element(toks, k, ctx)
                return ast.Return(value=element or ast.Name(id=variable_name(t.value), ctx=ast.Load()))
    return None


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
