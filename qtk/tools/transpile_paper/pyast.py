"""Small builders for the Python `ast` the translator emits, the markers it leaves on nodes for
the index-base pass, and the table of pseudo-code function names with a Python meaning
(LENGTH -> len, ENQUEUE -> .append, FLOOR -> math.floor, ...)."""

from __future__ import annotations

import ast
import copy
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from qtk.tools.transpile_paper.latex_text import function_name, variable_name
from qtk.tools.transpile_paper.mathtok import Untranslatable


@dataclass
class Ctx:
    """What the translator knows about the algorithm being translated."""

    functions: dict[str, str] = field(default_factory=dict)  # normalised LaTeX name -> def name
    known: set[str] = field(default_factory=set)  # variables: assigned, parameters, loop targets
    collections: set[str] = field(default_factory=set)  # indexed with a variable or iterated over
    collecting: bool = False  # first pass: learn names, accept anything that parses
    unknown_calls: set[str] = field(default_factory=set)
    sets: set[str] = field(default_factory=set)  # variables created as sets (add, not append)
    set_families: set[str] = field(default_factory=set)  # S with S_j \\gets \\emptyset: |S_j| is a size
    allocated: set[str] = field(default_factory=set)  # arrays created by `C[0..k] = 0`
    layered: set[str] = field(default_factory=set)  # assigned with a superscript: D^{0} <- W
    callables: set[str] = field(default_factory=set)  # inputs declared as functions (gradient g)
    applied: set[str] = field(default_factory=set)  # inputs declared applied, `$g(\\theta)$`: g_t is a value
    numbers: set[str] = field(default_factory=set)  # assigned a number (`add $x$ to $total$` adds)
    open_loops: list[str] = field(default_factory=list)  # the variables of the loops around the line
    strings: set[str] = field(default_factory=set)  # assigned a string (`append $c$ to $s$` concatenates)
    call_arrays: set[str] = field(default_factory=set)  # arrays written d(v): `d(v) \gets 0`
    params: set[str] = field(default_factory=set)  # the function's inputs, once known (pass 2)
    declared: set[str] = field(default_factory=set)  # names in the header and Require/Input text
    labels: set[tuple[str, str]] = field(default_factory=set)  # (m, i): m_i used before any i
    holds_collections: set[str] = field(default_factory=set)  # inputs described as lists of words, sets...
    element_names: dict[str, list[str]] = field(default_factory=dict)  # E -> [u, v, w] from `for (u, v, w) in E`
    nouns: dict[str, str] = field(default_factory=dict)  # `relevances` -> r, from `graded relevances $r_1, ..$`
    named_norms: dict[str, str] = field(default_factory=dict)  # `\\|g\\| \\gets ...`: the norm's text -> norm_g
    vectors: set[str] = field(default_factory=set)  # declared in a space of numbers (`w \\in \\mathbb{R}^m`)
    vector_families: set[str] = field(default_factory=set)  # sequences of such vectors (`x^{(i)} \\in \\mathbb{R}^m`)
    matrices: set[str] = field(default_factory=set)  # declared `A \\in \\mathbb{R}^{n \\times m}`
    parallel: dict[str, list[str]] = field(default_factory=dict)  # `intervals $[a_1, b_1], \\ldots$` -> [a, b]
    counts_from_zero: set[str] = field(default_factory=set)  # `$b \\gets ..$ \\Comment{bins $0, \\ldots, B-1$}`
    loop_ranges: dict[str, ast.expr] = field(default_factory=dict)  # i -> the range a counted loop gives it
    counted: dict[str, str] = field(default_factory=dict)  # `states` -> n, from `the number of states $n$`
    depths: dict[str, int] = field(default_factory=dict)  # G -> 2 when the block reads G[i][j]: |G[i]| is a size
    vertex_count: str | None = None  # `$n$ vertices`, `vertices $0, \\ldots, n - 1$`: the vertices are 0 .. n-1


def mark(node: ast.AST, **kw: Any) -> ast.AST:
    for k, v in kw.items():
        setattr(node, "_qtk_" + k, v)
    return node


def meta(node: ast.AST, key: str, default: Any = None) -> Any:
    return getattr(node, "_qtk_" + key, default)


def name(ident: str, raw: str | None = None, style: str = "math") -> ast.Name:
    return mark(ast.Name(id=ident, ctx=ast.Load()), raw=raw or ident, style=style)


def const(value: Any) -> ast.expr:
    if isinstance(value, (int, float)) and value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
    return ast.Constant(value)


def call(func: str | ast.expr, args: list[ast.expr], keywords: list[ast.keyword] | None = None) -> ast.Call:
    if isinstance(func, str):
        parts = func.split(".")
        f: ast.expr = ast.Name(id=parts[0], ctx=ast.Load())
        for attr in parts[1:]:
            f = ast.Attribute(value=f, attr=attr, ctx=ast.Load())
        func = f
    return ast.Call(func=func, args=args, keywords=keywords or [])


def method(obj: ast.expr, attr: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(func=ast.Attribute(value=obj, attr=attr, ctx=ast.Load()), args=args, keywords=[])


def binop(left: ast.expr, op: ast.operator, right: ast.expr) -> ast.expr:
    return ast.BinOp(left=left, op=op, right=right)


def int_value(node: ast.expr) -> int | None:
    """The integer a node denotes, if it is a literal (also -3)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_value(node.operand)
        return -inner if inner is not None else None
    return None


def add_const(node: ast.expr, k: int) -> ast.expr:
    """node + k, folding `n - 1 + 1` -> `n` and `3 + 1` -> `4` so ranges read naturally."""
    if k == 0:
        return node
    v = int_value(node)
    if v is not None:
        return const(v + k)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        c = int_value(node.right)
        if c is not None:
            total = (c if isinstance(node.op, ast.Add) else -c) + k
            if total == 0:
                return node.left
            return binop(node.left, ast.Add() if total > 0 else ast.Sub(), const(abs(total)))
    return binop(node, ast.Add() if k > 0 else ast.Sub(), const(abs(k)))


def index_set(e: ast.expr) -> ast.expr:
    """`[n]` as a set to run over is {1, ..., n} (a one-element list of a non-literal)."""
    if isinstance(e, ast.List) and len(e.elts) == 1 and int_value(e.elts[0]) is None:
        return make_range(const(1), e.elts[0])
    return e


def binary_logs(e: ast.expr) -> ast.expr:
    """A logarithm with no base rounded to a whole number (`\\lfloor \\log n \\rfloor`, a loop up to
    `\\log n`) counts bits or levels: base 2, as computer-science texts mean it."""
    for n in ast.walk(e):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == "math" and n.func.attr == "log" and len(n.args) == 1:
            n.func.attr = "log2"
    return e


def _whole(e: ast.expr, up: bool) -> ast.expr:
    """A loop bound that may not be an integer (`\\sqrt{n}`, `\\log_2 n`): the last whole number
    the loop reaches (floor of an upper bound, ceiling of a lower one)."""
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "sqrt" and up:
        return call("math.isqrt", e.args)
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr in ("floor", "ceil", "isqrt"):
        return e  # already whole
    if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
           and n.func.value.id == "math" and n.func.attr in ("sqrt", "log", "log2", "log10", "exp")
           for n in ast.walk(e)):
        return call("math.floor" if up else "math.ceil", [binary_logs(e)])
    return e


def make_range(start: ast.expr, stop_inclusive: ast.expr, step: ast.expr | None = None,
               down: bool = False) -> ast.Call:
    """range() for an inclusive pseudo-code loop `start to stop` (or `downto`)."""
    start, stop_inclusive = _whole(start, down), _whole(stop_inclusive, not down)
    s = int_value(step) if step is not None else 1
    if down:
        neg = const(-(s or 1)) if s is not None else ast.UnaryOp(op=ast.USub(), operand=step)
        rng = call("range", [start, add_const(stop_inclusive, -1), neg])
    elif step is not None and s != 1:
        rng = call("range", [start, add_const(stop_inclusive, 1), step])
    elif int_value(start) == 0:
        rng = call("range", [add_const(stop_inclusive, 1)])
    else:
        rng = call("range", [start, add_const(stop_inclusive, 1)])
    return mark(rng, bounds=(start, stop_inclusive, down))


def repeat(item: ast.expr, size: ast.expr) -> ast.expr:
    """`[item] * size`, or a comprehension when item is a fresh list/map/set (no shared rows)."""
    row = isinstance(item, ast.BinOp) and isinstance(item.left, ast.List)  # [0] * m
    if row or isinstance(item, (ast.List, ast.Dict, ast.Set, ast.Call, ast.ListComp)):
        gen = ast.comprehension(target=ast.Name(id="_", ctx=ast.Store()), iter=call("range", [size]),
                                ifs=[], is_async=0)
        return ast.ListComp(elt=item, generators=[gen])
    return binop(ast.List(elts=[item], ctx=ast.Load()), ast.Mult(), size)


def math_attr(attr: str) -> ast.Attribute:
    return ast.Attribute(value=ast.Name(id="math", ctx=ast.Load()), attr=attr, ctx=ast.Load())


def is_empty_set(node: ast.expr) -> bool:
    return bool(meta(node, "empty"))


def empty_set() -> ast.expr:
    return mark(call("set", []), empty=True)


# Pseudo-code procedure names (normalised) with a Python meaning, when the paper does not define
# them itself.
_STATISTICS = {"mean": "fmean", "avg": "fmean", "average": "fmean", "median": "median", "std": "pstdev",
               "stdev": "pstdev", "var": "pvariance", "variance": "pvariance"}


# lecture notes in other languages name the same few builtins in their own words
# (`\\texttt{TAMANHO}(v)`, `\\texttt{IMPRIMIR}(x)`): read as the English name
_OTHER_LANGUAGES = {"tamanho": "length", "comprimento": "length", "longitud": "length", "tamano": "length",
                    "taille": "length", "longueur": "length", "laenge": "length", "lunghezza": "length",
                    "imprimir": "print", "escrever": "print", "escribir": "print", "mostrar": "print",
                    "exibir": "print", "afficher": "print", "ecrire": "print", "ausgeben": "print", "stampa": "print"}


def builtin_call(fname: str, args: list[ast.expr]) -> ast.expr | None:
    n = len(args)
    fname = _OTHER_LANGUAGES.get(fname, fname)
    if fname in ("length", "len", "size", "card", "cardinality", "num_elements") and n == 1:
        return call("len", args)
    if fname in ("abs", "max", "min", "sum", "range", "sorted", "print", "int", "round", "any", "all",
                 "enumerate", "zip", "reversed") and n:
        return call(fname, args)
    if fname in ("sqrt", "floor", "ceil", "exp", "log", "log2", "log10", "factorial", "gcd", "prod", "tanh") and n:
        return call("math." + fname, args)
    if fname in _STATISTICS and n == 1:  # mean(x), std(x) (of the population, as NumPy's), median(x)
        return call("statistics." + _STATISTICS[fname], args)
    if fname in ("clip", "clamp") and n == 3:  # clip(x, a, b): x kept within [a, b]
        return call("min", [call("max", [args[0], args[1]]), args[2]])
    flat = fname.replace("_", "")  # ReLU, Soft_Max
    if flat == "relu" and n == 1:
        return call("max", [args[0], const(0)])
    if flat in ("sigmoid", "logistic") and n == 1:
        return binop(const(1), ast.Div(), binop(const(1), ast.Add(), call("math.exp", [ast.UnaryOp(
            op=ast.USub(), operand=args[0])])))
    if flat == "softmax" and n == 1:  # of a vector held as a list (the module's helper)
        return call("_softmax", args)
    if fname in ("output", "print_", "write") and n:
        return call("print", args)
    if fname in ("append", "push", "enqueue", "push_back", "add_last", "insert_last") and n == 2:
        return method(args[0], "append", [args[1]])
    if fname in ("dequeue", "pop_front", "remove_first", "popleft") and n == 1:
        return method(args[0], "pop", [const(0)])
    if fname in ("pop", "pop_back", "remove_last") and n == 1:
        return method(args[0], "pop", [])
    if fname in ("top", "peek", "last") and n == 1:
        return ast.Subscript(value=args[0], slice=const(-1), ctx=ast.Load())
    if fname in ("front", "head", "first") and n == 1:
        return ast.Subscript(value=args[0], slice=const(0), ctx=ast.Load())
    if flat in ("iseven", "even", "isodd", "odd") and n == 1:  # isEven(x): x mod 2 = 0
        parity = const(0 if flat.endswith("even") else 1)
        return ast.Compare(left=binop(args[0], ast.Mod(), const(2)), ops=[ast.Eq()], comparators=[parity])
    if fname in ("isempty", "is_empty", "empty") and n == 1:
        return ast.Compare(left=call("len", args), ops=[ast.Eq()], comparators=[const(0)])
    if fname == "end_of" and n == 2:  # `the last element of $B$` (linetokens.py): B[-1], never shifted
        return ast.Subscript(value=args[0], slice=args[1], ctx=ast.Load())
    if fname in ("sign", "sgn", "signum") and n == 1:  # -1, 0 or 1
        def cmp(op: ast.cmpop) -> ast.expr:  # each its own copy: the index pass shifts every subscript once
            return ast.Compare(left=copy.deepcopy(args[0]), ops=[op], comparators=[const(0)])
        return binop(cmp(ast.Gt()), ast.Sub(), cmp(ast.Lt()))
    if fname in ("sort",) and n == 1:
        return method(args[0], "sort", [])
    if fname in ("reverse", "reversed") and n == 1:  # as a value, a reversed copy (a statement reverses in place)
        return mark(ast.Subscript(value=args[0], slice=ast.Slice(step=const(-1)), ctx=ast.Load()), reversed_of=True)
    if fname in ("zeros", "ones") and n in (1, 2):  # zeros(n), zeros(n, m): MATLAB/NumPy style
        value: ast.expr = const(0 if fname == "zeros" else 1)
        for size in reversed(args):
            value = repeat(value, size)
        return value
    return None


def _item(obj: ast.expr, index: ast.expr) -> ast.expr:
    return mark(ast.Subscript(value=obj, slice=index, ctx=ast.Load()), index=True)


def _size_test(op: ast.cmpop):
    return lambda o, a: ast.Compare(left=call("len", [o]), ops=[op], comparators=[const(0)])


# Members other languages give their strings, lists and stacks (`s.charAt(i)`, `S.push(x)`,
# `Q.isEmpty()`), normalised (lower case, no `_`) -> what they are in Python.
_METHODS = {
    "length": lambda o, a: call("len", [o]), "size": lambda o, a: call("len", [o]),
    "len": lambda o, a: call("len", [o]), "count": lambda o, a: call("len", [o]) if not a else None,
    "rows": lambda o, a: call("len", [o]),  # CLRS's A.rows and A.columns
    "columns": lambda o, a: call("len", [ast.Subscript(value=o, slice=const(0), ctx=ast.Load())]),
    "charat": lambda o, a: _item(o, a[0]) if len(a) == 1 else None,
    "get": lambda o, a: _item(o, a[0]) if len(a) == 1 else None,
    "substring": lambda o, a: ast.Subscript(value=o, slice=ast.Slice(lower=a[0], upper=a[1] if len(a) > 1 else None),
                                            ctx=ast.Load()) if a else None,
    "push": lambda o, a: method(o, "append", a), "pushback": lambda o, a: method(o, "append", a),
    "add": lambda o, a: method(o, "append", a), "enqueue": lambda o, a: method(o, "append", a),
    "offer": lambda o, a: method(o, "append", a), "addlast": lambda o, a: method(o, "append", a),
    "pop": lambda o, a: method(o, "pop", a), "removelast": lambda o, a: method(o, "pop", []),
    "dequeue": lambda o, a: method(o, "pop", [const(0)]), "poll": lambda o, a: method(o, "pop", [const(0)]),
    "popleft": lambda o, a: method(o, "pop", [const(0)]), "removefirst": lambda o, a: method(o, "pop", [const(0)]),
    "top": lambda o, a: ast.Subscript(value=o, slice=const(-1), ctx=ast.Load()),
    "peek": lambda o, a: ast.Subscript(value=o, slice=const(-1), ctx=ast.Load()),
    "front": lambda o, a: ast.Subscript(value=o, slice=const(0), ctx=ast.Load()),
    "back": lambda o, a: ast.Subscript(value=o, slice=const(-1), ctx=ast.Load()),
    "isempty": _size_test(ast.Eq()), "empty": _size_test(ast.Eq()),
    "contains": lambda o, a: ast.Compare(left=a[0], ops=[ast.In()], comparators=[o]) if len(a) == 1 else None,
    **{w: (lambda o, a: _item(o, a[0]) if len(a) == 1 else None)  # G.Neighbors(u): G's list for u
       for w in ("neighbors", "neighbours", "adj", "adjacent", "successors", "outneighbors")},
    "touppercase": lambda o, a: method(o, "upper", []), "tolowercase": lambda o, a: method(o, "lower", []),
    "equals": lambda o, a: ast.Compare(left=o, ops=[ast.Eq()], comparators=a) if len(a) == 1 else None,
}


_MODULES = {"np", "numpy", "math", "torch", "jnp"}


def member(obj: ast.expr, attr: str, args: list[ast.expr] | None) -> ast.expr:
    """`A.length`, `s.length()`, `s.charAt(i)`, `S.push(x)`, `G.V`: a known member becomes its
    Python meaning; any other stays an attribute (CLRS's `v.d`) or a method call."""
    if isinstance(obj, ast.Name) and obj.id in _MODULES and args is not None:
        built = builtin_call(attr.lower(), args)  # `np.zeros(K)`, `math.sqrt(x)`: the library's function
        if built is not None:
            return built
    key = attr.lower().replace("_", "")
    build = _METHODS.get(key)
    # C++'s `Q.front` and `Q.back` need no brackets either (CLRS's `S.top` and `Q.head` are positions, kept)
    if build is not None and (args is not None or key in ("length", "size", "len", "count", "rows", "columns",
                                                          "front", "back")):
        built = build(obj, args or [])
        if built is not None:
            return built
    node = ast.Attribute(value=obj, attr=variable_name(attr), ctx=ast.Load())
    return node if args is None else call(node, args)


def graph_name(ctx: Ctx) -> str | None:
    """The algorithm's graph given as adjacency lists: G when it has one, else its one array input."""
    if "G" in ctx.known | ctx.declared | ctx.params:
        return "G"
    if len(ctx.params & ctx.collections) == 1:
        return next(iter(ctx.params & ctx.collections))
    return None


NEIGHBOURS = {"n", "gamma", "adj", "neighbors", "neighbours", "neighborhood", "neighbourhood", "nbrs"}


def resolve_call(raw: str, args: list[ast.expr], ctx: Ctx, style: str) -> ast.expr:
    """A call to a pseudo-code procedure: the paper's own, a known one, or an unknown name."""
    fname = function_name(raw)
    key = fname.rstrip("_")
    if key in ctx.functions:
        return call(ctx.functions[key], args)
    if key in NEIGHBOURS and len(args) == 1 and graph_name(ctx) is not None:  # N(u): u's adjacency list
        return mark(ast.Subscript(value=ast.Name(id=graph_name(ctx), ctx=ast.Load()), slice=args[0],
                                  ctx=ast.Load()), index=True)
    if key == "sigma" and len(args) == 1 and key not in ctx.params | ctx.known | ctx.declared:
        key = "sigmoid"  # ML papers' \\sigma(z), defined nowhere (or only in a comment): the logistic function
    built = builtin_call(key, args)
    if built is not None:
        return built
    if style in ("math", "prose") and len(raw) == 1:
        return call(variable_name(raw), args)  # f(x) with f a parameter
    ctx.unknown_calls.add(fname)
    return call(fname, args)


def fail(message: str) -> None:
    raise Untranslatable(message)


def function_def(name: str, args: list[str], body: list[ast.stmt],
                 defaults: dict[str, ast.expr] | None = None) -> ast.FunctionDef:
    """`def name(args)`; the inputs at the end that the text gives a value (`$\\epsilon = 10^{-8}$`)
    take it as their default."""
    tail: list[ast.expr] = []
    for a in reversed(args):
        if a not in (defaults or {}):
            break
        tail.insert(0, copy.deepcopy(defaults[a]))
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in args], kwonlyargs=[],
                              kw_defaults=[], defaults=tail)
    kw = {"type_params": []} if sys.version_info >= (3, 12) else {}
    return ast.FunctionDef(name=name, args=arguments, body=body, decorator_list=[], returns=None,
                           lineno=1, **kw)


def difference(b: ast.expr, a: ast.expr) -> ast.expr:
    """b - a, simplified when both are linear (`2p, 3p, ..., N` -> p; `n, n - 1, ..., 0` -> -1)."""
    la, lb = _linear(a), _linear(b)
    if la is not None and lb is not None:
        diff = {k: lb.get(k, 0) - la.get(k, 0) for k in set(la) | set(lb)}
        diff = {k: v for k, v in diff.items() if v}
        names = [k for k in diff if k != ""]
        if not names:
            return const(diff.get("", 0))
        if len(names) == 1 and "" not in diff:
            k = diff[names[0]]
            x = ast.Name(id=names[0], ctx=ast.Load())
            return x if k == 1 else binop(const(k), ast.Mult(), x)
    if isinstance(b, ast.BinOp) and isinstance(b.op, (ast.Add, ast.Sub)) and ast.dump(b.left) == ast.dump(a):
        return b.right if isinstance(b.op, ast.Add) else ast.UnaryOp(op=ast.USub(), operand=b.right)  # `i^2, i^2 + i`
    return binop(b, ast.Sub(), a)


def _linear(e: ast.expr) -> dict[str, int] | None:
    """{name: coefficient, "": constant} for sums of k*name and integers; None otherwise."""
    v = int_value(e)
    if v is not None:
        return {"": v}
    if isinstance(e, ast.Name):
        return {e.id: 1}
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult) and int_value(e.left) is not None \
            and isinstance(e.right, ast.Name):
        return {e.right.id: int_value(e.left)}
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
        left, right = _linear(e.left), _linear(e.right)
        if left is None or right is None:
            return None
        sign = 1 if isinstance(e.op, ast.Add) else -1
        out = dict(left)
        for k, c in right.items():
            out[k] = out.get(k, 0) + sign * c
        return out
    return None


def root_name(e: ast.expr) -> str | None:
    """The array a (possibly nested) subscript indexes: S for S[j], W for W[u][v]."""
    while isinstance(e, ast.Subscript):
        e = e.value
    return e.id if isinstance(e, ast.Name) else None


def store(e: ast.expr, ctx: Ctx) -> ast.expr:
    """Turn a parsed expression into an assignment target (names become known variables)."""
    if isinstance(e, ast.Name):
        ctx.known.add(e.id)
        return mark(ast.Name(id=e.id, ctx=ast.Store()), raw=meta(e, "raw", e.id))
    if isinstance(e, (ast.Subscript, ast.Attribute)):
        e.ctx = ast.Store()
        return e
    if isinstance(e, (ast.Tuple, ast.List)):
        return ast.Tuple(elts=[store(x, ctx) for x in e.elts], ctx=ast.Store())
    if meta(e, "norm_of") is not None:  # `\\|g\\| \\gets ...`: the norm is a variable of its own
        key, ident = meta(e, "norm_of")
        ctx.named_norms[key] = ident
        ctx.known.add(ident)
        return mark(ast.Name(id=ident, ctx=ast.Store()), raw=ident)
    fail(f"cannot assign to {ast.unparse(e)}")


# Parsers that statements.py registers when it loads, for the modules it uses (phrases, loops)
# whose constructs hold statements of their own: they reach them here instead of importing it.
PARSERS = SimpleNamespace()
