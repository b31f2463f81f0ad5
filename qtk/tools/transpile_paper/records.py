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

from qtk.tools.transpile_paper import pyast as P


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
    become the strings of their names."""
    indexed = {n.value.id for n in _walk(body) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}
    consts = {n.id for node in _walk(body) for n in [node] if isinstance(n, ast.Name) and n.id in free
              and n.id not in indexed and (_capitals(n.id) or P.meta(n, "style") == "func")}
    if not consts:
        return body, free

    class Rewrite(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in consts and isinstance(node.ctx, ast.Load):
                return ast.Constant(P.meta(node, "raw", node.id).upper())
            return node

    tr = Rewrite()
    return [tr.visit(stmt) for stmt in body], [n for n in free if n not in consts]


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


def queues_from_empty_sets(body: list[ast.stmt]) -> list[ast.stmt]:
    """`Q \\gets \\emptyset` then \\textsc{Enqueue}(Q, s): an empty collection used as a queue or a
    stack starts as an empty list."""
    ordered = {n.func.value.id for n in _walk(body) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and isinstance(n.func.value, ast.Name) and n.func.attr in ("append", "pop", "insert", "extend")}
    for node in _walk(body):
        if isinstance(node, ast.Assign) and P.is_empty_set(node.value) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id in ordered:
            node.value = ast.List(elts=[], ctx=ast.Load())
    return body
