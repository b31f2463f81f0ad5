"""Vector arithmetic on lists, as machine-learning papers write it: `\\mathbf{w} \\gets \\mathbf{w} +
\\eta y_i \\mathbf{x}_i`, `\\boldsymbol{\\mu} / n`, `\\mathbf{w}^\\top \\mathbf{x}`, `\\langle \\mathbf{w},
\\mathbf{x} \\rangle`. Names set in bold (and names assigned from them) are vectors; an operation with
a vector operand becomes a call of the module's small helpers (`_vec` elementwise with scalars
broadcast, `_dot`), so `\\mathbf{0}` can stay the number 0 until it meets a vector. Everything else
stays plain Python arithmetic.
"""

from __future__ import annotations

import ast

from qtk.tools.transpile_paper import pyast as P

VEC, DOT, VSUM = "_vec", "_dot", "_vsum"
HELPERS = f'''def {VEC}(op, a, b):
    """Elementwise a op b for vectors held as lists; a number stands for a constant vector."""
    if isinstance(a, list) and isinstance(b, list):
        return [op(x, y) for x, y in zip(a, b)]
    if isinstance(a, list):
        return [op(x, b) for x in a]
    if isinstance(b, list):
        return [op(a, y) for y in b]
    return op(a, b)


def {DOT}(a, b):
    """The inner product of two vectors held as lists (a number stands for a constant vector)."""
    if not isinstance(a, list):
        a, b = b, a
    if not isinstance(a, list):
        return a * b
    return sum(x * y for x, y in zip(a, b if isinstance(b, list) else [b] * len(a)))


def {VSUM}(terms):
    """The sum of vectors held as lists (numbers count as constant vectors)."""
    total = 0
    for term in terms:
        total = {VEC}(operator.add, total, term)
    return total'''

SOFTMAX = "_softmax"
SOFTMAX_HELPER = f'''def {SOFTMAX}(z):
    """softmax(z) for a vector held as a list, shifted by its largest entry so that exp cannot overflow."""
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]'''

_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv"}


def rewrite(body: list[ast.stmt], declared: set[str] = frozenset(), families: set[str] = frozenset(),
            matrices: set[str] = frozenset()) -> list[ast.stmt]:
    """The body with arithmetic on vectors turned into helper calls (unchanged when it has none).
    `declared` names are vectors though not set in bold (`w \\in \\mathbb{R}^m`), the entries of
    `families` are (`x^{(i)} \\in \\mathbb{R}^m`), and `matrices` times a vector is a product."""
    used = {n.id for n in _walk(body) if isinstance(n, ast.Name)}
    names = {n.id for n in _walk(body) if isinstance(n, ast.Name) and P.meta(n, "vector")} | (set(declared) & used)
    families = set(families) & used
    matrices = set(matrices) & used
    if not names and not families and not any(P.meta(n, "vector") for n in _walk(body)):
        return body
    kinds = _Kinds(names, families, matrices)
    for _ in range(3):  # names assigned a vector expression are vectors too
        for node in _walk(body):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and _is_vector(node.value, kinds):
                names.add(node.targets[0].id)
    return [_Rewrite(kinds).visit(stmt) for stmt in body]


class _Kinds:
    """Which names hold vectors, which sequences hold vectors, which names hold matrices."""

    def __init__(self, names: set[str], families: set[str], matrices: set[str]) -> None:
        self.names, self.families, self.matrices = names, families, matrices

    def __contains__(self, name: str) -> bool:
        return name in self.names


def _walk(body: list[ast.stmt]):
    for stmt in body:
        yield from ast.walk(stmt)


def _transposed(e: ast.expr) -> ast.expr | None:
    """v for `v^\\top` / `v^T` (parsed as a power of True or of T), else None."""
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow) and (
            isinstance(e.right, ast.Constant) and e.right.value is True
            or isinstance(e.right, ast.Name) and e.right.id in ("T", "top", "intercal")):
        return e.left
    return None


def _is_vector(e: ast.expr, names: set[str]) -> bool:
    if P.meta(e, "vector"):
        return True
    if isinstance(e, ast.Name):
        return e.id in names
    if isinstance(e, ast.Subscript):  # an entry w_j of a vector w; but x^{(i)} of a family of vectors
        return isinstance(names, _Kinds) and isinstance(e.value, ast.Name) and e.value.id in names.families
    if _matrix_times(e, names):
        return True
    if _transposed(e) is not None:
        return _is_vector(_transposed(e), names)
    if isinstance(e, ast.BinOp) and type(e.op) in _OPS:
        left, right = _is_vector(e.left, names), _is_vector(e.right, names)
        if isinstance(e.op, ast.Mult) and left and right:
            return False  # w^T x: a number
        return left or right
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in (VEC, VSUM):
        return True
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "sum" and len(e.args) == 1 \
            and isinstance(e.args[0], ast.GeneratorExp):
        return _is_vector(e.args[0].elt, names)
    return False


def _matrix_times(e: ast.expr, names) -> bool:
    """A v with A a declared matrix and v a vector."""
    return isinstance(names, _Kinds) and isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult) \
        and isinstance(e.left, ast.Name) and e.left.id in names.matrices and _is_vector(e.right, names)


class _Rewrite(ast.NodeTransformer):
    def __init__(self, names: _Kinds) -> None:
        self.names = names

    def visit_List(self, node: ast.List) -> ast.AST:
        self.generic_visit(node)
        if P.meta(node, "angle") and len(node.elts) == 2 and all(_is_vector(e, self.names) for e in node.elts):
            return P.call(DOT, list(node.elts))  # \\langle u, v \\rangle of two vectors
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Name) and node.func.id == "sum" and len(node.args) == 1 \
                and isinstance(node.args[0], ast.GeneratorExp) and _is_vector(node.args[0].elt, self.names):
            self.generic_visit(node)
            node.func = ast.Name(id=VSUM, ctx=ast.Load())  # \\sum_k \\frac{n_k}{n} \\mathbf{w}_k: a vector
            return node
        self.generic_visit(node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if isinstance(node.op, ast.Mult) and isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Mult) \
                and _transposed(node.left.right) is not None and _is_vector(node.right, self.names):
            # y_i w^T x_i reads y_i (w^T x_i)
            node = ast.BinOp(left=node.left.left, op=ast.Mult(),
                             right=ast.BinOp(left=node.left.right, op=ast.Mult(), right=node.right))
        if _matrix_times(node, self.names):  # A v: the inner product of each row of A with v
            self.generic_visit(node)
            row = ast.Name(id="_row", ctx=ast.Load())
            gen = ast.comprehension(target=ast.Name(id="_row", ctx=ast.Store()), iter=node.left, ifs=[], is_async=0)
            return ast.ListComp(elt=P.call(DOT, [row, node.right]), generators=[gen])
        vl, vr = _is_vector(node.left, self.names), _is_vector(node.right, self.names)
        self.generic_visit(node)
        if not (vl or vr) or type(node.op) not in _OPS:
            return node
        left, right = node.left, node.right
        if isinstance(node.op, ast.Mult) and vl and vr:  # w^T x, w \\cdot x: the inner product
            left = _transposed(left) or left
            return P.call(DOT, [left, right])
        op = ast.Attribute(value=ast.Name(id="operator", ctx=ast.Load()), attr=_OPS[type(node.op)], ctx=ast.Load())
        return P.call(VEC, [op, left, right])


def sized_constants(body: list[ast.stmt], dims: dict[str, ast.expr]) -> list[ast.stmt]:
    """`$x \\gets \\mathbf{0}$` where x's entries are then used one by one (`x_i \\gets ..`): a list
    of zeros as long as the vectors the inputs declare (`b \\in \\mathbb{R}^n`), when they all have
    that one length; otherwise the number stays (it broadcasts when it meets a vector)."""
    sizes = {ast.dump(d): d for d in dims.values()}
    if len(sizes) != 1:
        return body
    size = next(iter(sizes.values()))
    written = {n.value.id for s in body for n in ast.walk(s) if isinstance(n, ast.Subscript)
               and P.meta(n, "index") and isinstance(n.value, ast.Name)}  # read or written entry by entry
    for node in (n for s in body for n in ast.walk(s)):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in written and isinstance(node.value, ast.Constant) \
                and P.meta(node.value, "vector") and node.value.value in (0, 1):
            node.value = P.repeat(node.value, size)
    return body
