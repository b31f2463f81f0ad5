"""Declared outputs: a block that names what it produces (\\Ensure, \\KwOut, \\KwResult, an
`Output:` line) but never returns a value ends by returning that variable.

The variable is the first name in the output text that the body assigns (`\\KwOut{$dist$, the
distances}` -> dist; `\\Ensure $C = AB$` -> C). An output naming only inputs (an array sorted in
place) or nothing the body assigns adds no return: the block does not say what to return.
"""

from __future__ import annotations

import ast

from qtk.tools.transpile_paper import ir
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.mathtok import tokenize


def declared_return(outputs: list[ir.IO], body: list[ast.stmt], params: set[str]) -> ast.Return | None:
    """`return X` for the declared output X, or None when the body returns or nothing fits."""
    if not outputs or _returns_value(body):
        return None
    assigned = _assigned(body) - params
    for io in outputs:
        toks, _ = tokenize(io.text.text)
        for k, t in enumerate(toks):
            if k + 1 < len(toks) and toks[k + 1].value == ".":
                continue  # `$v.d$`: the record's field d, not the element v
            if t.kind == "name" and t.math and variable_name(t.value) in assigned:
                return ast.Return(value=ast.Name(id=variable_name(t.value), ctx=ast.Load()))
    return None


def _returns_value(body: list[ast.stmt]) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None
               for stmt in body for n in ast.walk(stmt))


def _assigned(body: list[ast.stmt]) -> set[str]:
    return {n.id for stmt in body for n in ast.walk(stmt)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
