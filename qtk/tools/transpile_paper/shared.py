"""Procedures that share their caller's variables: `\\Procedure{Visit}{$u$}` reading `G` and
writing `visited[u]`, both of which only `Components` defines, is a helper of Components, as in
the textbooks' DFS. Such a helper is emitted inside its caller (a closure), so it sees the
caller's variables; the names it assigns whole get a `nonlocal` line. Where the helper is
written (before its caller, as union-find's `Find`, or after) does not matter.
"""

from __future__ import annotations

import ast

from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.emit import FunctionResult

Built = list[tuple[ast.FunctionDef, FunctionResult]]


def nest_helpers(built: Built) -> Built:
    """The functions to render at module level, helpers moved into their one caller (repeated, so
    that a helper of a helper follows it: `Safe` called by `Place`, itself nested in `NQueens`
    where the array they share lives)."""
    out = list(built)
    for placeholders in (False, True):  # callers that create the shared names first, then any
        changed = True
        while changed:
            changed = False
            for fn, res in built:
                if any(f is fn for f, _ in out) and _nest(fn, res, out, placeholders):
                    out = [(f, r) for f, r in out if f is not fn]
                    changed = True
    return out


def _nest(fn: ast.FunctionDef, res: FunctionResult, out: Built, placeholders: bool) -> bool:
    """Move fn into the one module-level function that calls it (itself or through the helpers
    nested in it) and defines the variables fn shares; whether it was moved."""
    implicit = [s for s in fn.body if isinstance(s, ast.Assign) and P.meta(s, "implicit")]
    shared = set(res.undefined) | {P.meta(s, "implicit") for s in implicit} | _read_first(fn)
    if not shared:
        return False
    callers = [(f, r) for f, r in out if f is not fn and _calls(f, fn.name)]
    if len(callers) != 1 or not shared <= _defined(callers[0][0], placeholders):
        return False
    caller = callers[0][0]
    fn.body = _without(fn.body, implicit)
    _adds_to_sets(fn, _sets_created(caller) & shared)
    assigned = sorted({t.id for node in ast.walk(fn) if isinstance(node, (ast.Assign, ast.AugAssign))
                       for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                       if isinstance(t, ast.Name) and t.id in shared})
    if assigned:
        fn.body.insert(1, ast.Nonlocal(names=assigned))
    caller.body.insert(1, fn)
    res.undefined = []
    return True


def _read_first(fn: ast.FunctionDef) -> set[str]:
    """Names read before the function first assigns them (`count \\gets count + 1`)."""
    stored = {a.arg for a in fn.args.args}
    found: set[str] = set()

    class Order(ast.NodeVisitor):
        def visit_Assign(self, node: ast.Assign) -> None:
            self.visit(node.value)
            for t in node.targets:
                self.visit(t)

        def visit_AugAssign(self, node: ast.AugAssign) -> None:
            self.visit(node.value)
            if isinstance(node.target, ast.Name) and node.target.id not in stored:
                found.add(node.target.id)
            self.visit(node.target)

        def visit_Name(self, node: ast.Name) -> None:
            if isinstance(node.ctx, ast.Store):
                stored.add(node.id)
            elif node.id not in stored:
                found.add(node.id)

    for stmt in fn.body:
        if not isinstance(stmt, ast.FunctionDef):  # a helper nested earlier has its own names
            Order().visit(stmt)
    return {n for n in found if any(isinstance(x, ast.Name) and x.id == n and isinstance(x.ctx, ast.Store)
                                    for x in ast.walk(fn))}


def _calls(fn: ast.FunctionDef, name: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name for n in ast.walk(fn))


def _defined(fn: ast.FunctionDef, placeholders: bool = True) -> set[str]:
    """Names fn defines; with placeholders=False not counting the arrays it only fills (`col = {}`
    written for `col[r] \\gets c`), which usually live in the caller that creates them."""
    names = {a.arg for a in fn.args.args}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and P.meta(node, "implicit") and not placeholders:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.For)) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _without(body: list[ast.stmt], drop: list[ast.stmt]) -> list[ast.stmt]:
    """The body less the creations in `drop` and the comment note just before them."""
    keep = [s for s in body if s not in drop]
    first = body.index(drop[0]) if drop else -1
    note = body[first - 1] if first > 0 else None
    if isinstance(note, ast.Expr) and isinstance(note.value, ast.Constant) \
            and str(note.value.value).startswith("__qtk_c"):
        keep.remove(note)
    return keep


def _sets_created(fn: ast.FunctionDef) -> set[str]:
    """Names fn assigns a set to (`seen \\gets \\emptyset`, `\\{s\\}`, a set comprehension)."""
    def is_set(v: ast.expr) -> bool:
        return isinstance(v, (ast.Set, ast.SetComp)) or P.is_empty_set(v) \
            or isinstance(v, ast.Call) and getattr(v.func, "id", "") == "set"

    return {t.id for node in ast.walk(fn) if isinstance(node, ast.Assign) and is_set(node.value)
            for t in node.targets if isinstance(t, ast.Name)}


def _adds_to_sets(fn: ast.FunctionDef, sets: set[str]) -> None:
    """`add $(r, c)$ to $seen$` in a helper, seen a set of its caller: `seen.add(..)`, not append."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in sets:
            node.func.attr = "add"
