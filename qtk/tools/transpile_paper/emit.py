"""Emit one Python function per pseudo-code function.

Two passes over each body: the first learns the algorithm's variables (assignment targets,
loop variables, names indexed by a variable) so that the second can tell `x_1` the name from
`x_i` the element, and a word of prose from a variable. Lines that cannot be translated become
`# TODO: line N: <LaTeX>` followed by `_untranslated(N)`, which raises if reached, so a partly
translated function still parses and never silently computes something else. Arrays the body
fills without creating them become lists when a counted loop bounds every write, maps otherwise;
a block that declares an output and never returns ends by returning it (outputs.py).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from qtk.tools.transpile_paper import indexing, ir, outputs, records, statements, vectors
from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.latex_text import RESERVED, note_text, plain_text
from qtk.tools.transpile_paper.mathtok import Untranslatable
from qtk.tools.transpile_paper.params import (
    Params,
    declared_names,
    declared_order,
    header_params,
    io_params,
    sizes_from_io,
)
from qtk.tools.transpile_paper.units import Unit

UNTRANSLATED = "_untranslated"


@dataclass
class Todo:
    line: int
    latex: str
    reason: str


@dataclass
class FunctionResult:
    name: str
    title: str
    package: str
    start_line: int
    end_line: int
    index_base: int
    index_reason: str
    params: list[str]
    todos: list[Todo] = field(default_factory=list)
    unknown_calls: list[str] = field(default_factory=list)
    undefined: list[str] = field(default_factory=list)


class Comments:
    """Comment text stored beside the AST; a string-constant statement marks where it goes."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def stmt(self, text: str) -> ast.stmt:
        self.texts.append(text)
        return ast.Expr(value=ast.Constant(f"__qtk_c{len(self.texts) - 1}__"))


class FunctionBuilder:
    def __init__(self, unit: Unit, functions: dict[str, str], comments: Comments, index_option: str) -> None:
        self.unit, self.comments, self.option = unit, comments, index_option
        self.ctx = P.Ctx(functions=dict(functions))
        self.todos: list[Todo] = []
        self.recording = False
        self.loops = 0  # how many loops enclose the node being translated

    def prepare(self) -> None:
        """Translate the body and decide the index base (siblings may still change it)."""
        unit, ctx = self.unit, self.ctx
        ctx.declared = declared_names([unit.header.text] if unit.header is not None else
                                      [io.text.text for io in unit.input_io])
        ctx.collecting = True
        self.block_cache = self.block(unit.body)  # pass 1: learn the variables and which names are indexed
        ctx.depths = _index_depths(self.block_cache)
        self.params = params = self._params()
        if unit.header is None:  # `row $i$ holding $i$ numbers` in the inputs, i the body's loop variable
            loop_vars = {n.target.id for n in ast.walk(ast.Module(body=self.block_cache, type_ignores=[]))
                         if isinstance(n, ast.For) and isinstance(n.target, ast.Name)}
            params.names = [n for n in params.names if n not in loop_vars or n in params.arrays]
            # `graph with nodes $0, \\dots, n-1$` in the inputs, `n \\gets |N|` first in the body: n is computed
            params.names = [n for n in params.names if n in params.arrays or not _assigned_first(self.block_cache, n)]
        ctx.known |= params.defined()
        ctx.params = set(params.names)
        ctx.collecting, self.recording = False, True
        ctx.unknown_calls.clear()
        preludes = [ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())], value=v) for n, v in params.derived]
        body = records.attribute_arrays(records.array_fields(records.entries_renamed(preludes + self.block(unit.body))))
        body = records.function_and_sequence(body, set(params.names))
        # `A = (a_1, \\ldots, a_n)` given: a names A's entries, so a is A (its writes are A's), never a copy
        body = body[: len(preludes)] + records.value_copies(body[len(preludes) :])
        body, renamed = records.scalar_and_sequence(body, set(params.names))
        for old_name, new_name in renamed.items():  # `n_1, ..., n_K` given, `n \\gets \\sum_k n_k` computed
            params.names = [new_name if x == old_name else x for x in params.names]
            if old_name in params.arrays:
                params.arrays[new_name] = params.arrays.pop(old_name)
            params.derived = [(x, _renamed(v, old_name, new_name)) for x, v in params.derived]
        io_text = " ".join(io.text.text for io in unit.input_io) if unit.header is None else ""
        body, split_names = records.query_and_points(body, set(params.names), io_text)
        for name, points in split_names.items():  # `query $x$, points $x_1, \\ldots, x_N$`: two inputs
            k = params.names.index(name)
            params.names.insert(k + 1, points)
            if name in params.arrays:
                params.arrays[points] = params.arrays.pop(name)
        body = records.queues_from_empty_sets(records.heaps(body))
        self.body = _empty_then_filled(_set_then_append(records.sorted_values(body)))
        free = free_names(self.body, params.defined(), set(ctx.functions.values()))
        self.body, free = records.named_constants(self.body, free)
        implicit = [n for n in free if n in _subscript_roots(self.body)]
        implicit += [n for n in _filled_before_assigned(self.body) if n not in implicit and n not in params.names]
        self.body, arrays = records.scalar_labels(self.body, implicit, set(params.names))
        free = [n for n in free if n not in set(implicit) - set(arrays)]  # g_w, g_b: names now
        implicit = arrays
        if implicit:  # d[v] <- ... with d never created: CLRS-style attribute arrays
            free = [n for n in free if n not in implicit]
            made = [P.mark(ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())], value=ast.Dict(keys=[], values=[])),
                           implicit=n) for n in implicit]
            note = self.comments.stmt(f"{', '.join(implicit)}: used as arrays but never created "
                                      "in the pseudo-code")
            self.body = self.body[: len(preludes)] + [note] + made + self.body[len(preludes) :]
        if unit.latex_name is not None:  # `for i = 1 to d` over u_i, d named nowhere: d = len(u)
            sizes = records.loop_sizes(self.body, free, set(params.names))
            free = [n for n in free if n not in dict(sizes)]
            self.body = [ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())], value=v) for n, v in sizes] + self.body
        self.body = vectors.sized_constants(self.body, params.vector_dims)
        self.body = vectors.rewrite(indexing.integer_divisions(outputs.final_output(self.body)),
                                    ctx.vectors | params.vectors, params.families, params.matrices)
        self.body = records.room_for_one_more(self.body, params.derived)
        ret = outputs.declared_return(unit.output_io, self.body, params.defined(), ctx)
        if ret is not None:
            self.body.append(ret)
        self.undefined: list[str] = []
        if unit.latex_name is None:
            params.names.extend(free)
            if free and unit.header is None and io_text:  # `scores \\Match, \\Mis and \\Gap`: the text's order
                declared_order(params, io_text)
        else:
            self.undefined = free
        self.base, self.reason, self.evidence = self._index_base(self.body, params)

    def finish(self) -> tuple[ast.FunctionDef, FunctionResult]:
        unit = self.unit
        self.todos.sort(key=lambda t: t.line)
        maps: set[str] = set()
        for stmt in self.body:  # arrays never created but filled over a counted range: lists
            name = P.meta(stmt, "implicit")
            size = indexing.implicit_size(self.body, name, 0 if name in self.keyed else self.base) if name else None
            if name and size is None and name in outputs.declared_names(unit.output_io):
                size = indexing.placed_output(self.body, name, set(self.params.names), self.lengths)
                if size is not None:  # `B[C[A[j]]] \\gets A[j]`: B's positions, numbered as the block numbers
                    self.keyed.discard(name)
            grid = indexing.implicit_grid(self.body, name, self.base) if name and size is None else None
            if size is not None:
                stmt.value = P.binop(ast.List(elts=[P.const(None)], ctx=ast.Load()), ast.Mult(), size)
            elif grid is not None:  # B[i][j] over 1..n, 1..m: n rows of m entries, never shared
                stmt.value = P.repeat(P.repeat(P.const(None), grid[1]), grid[0])
            elif name:
                maps.add(name)
        self.body = _created_when_sized(self.body)
        maps |= {P.meta(n, "filled_table") for stmt in self.body for n in ast.walk(stmt)
                 if P.meta(n, "filled_table")}  # `T[i][j] \gets 0 \forall i \forall j`: keyed by (i, j)
        declared = {} if self.option in ("0", "1") else {
            a: P.int_value(lo) for a, (lo, _) in self.params.arrays.items() if P.int_value(lo) in (0, 1)}
        for table, lows in ({} if self.option in ("0", "1") else self.params.dim_lows).items():
            if table not in declared and len(set(lows.values())) > 1:  # `S[i][c]` for i = 1..n, c = 0..C-1
                declared[table] = tuple(lows.get(d) for d in range(max(lows) + 1))
        body = indexing.tuple_keys(indexing.shift(self.body, self.base, self.keyed, declared,
                                                  self.params.zero_valued), maps)
        body = indexing.appends_past_the_end(body, self.lengths)
        doc = ast.Expr(value=ast.Constant(self._docstring()))
        fn = P.function_def(unit.name, self.params.names, [doc] + ensure_body(body, self.comments),
                            self.params.defaults)
        result = FunctionResult(unit.name, unit.title, unit.package, unit.start_line, unit.end_line,
                                self.base, self.reason, list(self.params.names), self.todos,
                                sorted(self.ctx.unknown_calls), self.undefined)
        return fn, result

    def _params(self) -> Params:
        unit = self.unit
        params = Params()
        if unit.header is not None:
            header_params(unit.header.text, self.ctx, params)
            sizes_from_io(params, [io.text.text for io in unit.input_io], self.ctx)
            if unit.note_latex and "$" in unit.note_latex:  # `\Comment{$A[0..n-1]$ holds ...}`
                try:
                    sizes_from_io(params, [unit.note_latex], self.ctx)
                except Untranslatable:
                    pass  # a remark, not a declaration
        else:
            for io in unit.input_io:
                io_params(io.text.text, self.ctx, params)
            declared_order(params, " ".join(io.text.text for io in unit.input_io))
        if unit.caption_latex and "[" in unit.caption_latex:  # `\\caption{.. in $H[0..n-1]$}`: an input's bounds
            scratch = Params()
            try:
                io_params(unit.caption_latex, self.ctx, scratch)
            except Untranslatable:
                scratch = Params()
            for name, bounds in scratch.arrays.items():
                if name in params.names:
                    params.arrays.setdefault(name, bounds)
        return params

    def _index_base(self, body: list[ast.stmt], params: Params) -> tuple[int, str, bool]:
        self.keyed = indexing.keyed_arrays(body, params.defined(), self.ctx.counts_from_zero)
        lengths = {n: _length_of(v) for n, v in params.derived if _length_of(v)}
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and _length_of(node.value):
                lengths[node.targets[0].id] = _length_of(node.value)
            v = node.value if isinstance(node, ast.Assign) else None
            if isinstance(v, ast.BinOp) and isinstance(v.op, ast.Mult) and isinstance(v.left, ast.List) \
                    and isinstance(v.right, ast.Name) and isinstance(node.targets[0], ast.Name):
                lengths.setdefault(v.right.id, node.targets[0].id)  # h = [0] * B: B is h's length
        self.lengths = lengths
        if self.option in ("0", "1"):
            return int(self.option), "set by --index-base", True
        said = _stated_base(self.unit)
        if said is not None:
            return said, f"the text says it counts positions from {said}", True
        base, reason = indexing.decide(body, params.arrays, lengths, self.keyed, params.lows)
        return base, reason, reason != indexing.NO_EVIDENCE

    def _docstring(self) -> str:
        unit = self.unit
        lines = [unit.caption or unit.title] + ([unit.note] if unit.note else [])
        for io in unit.io:
            lines.append(f"{io.label.strip(': ')}: {plain_text(io.text.text)}")
        if len(lines) == 1:
            return lines[0]
        indent = "    "  # the docstring sits in a top-level function body
        return lines[0] + "\n\n" + "".join(indent + line + "\n" for line in lines[1:]) + indent

    # ---- bodies ----
    def block(self, nodes: list[ir.Node]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for node in nodes:
            out.extend(self.node(node))
        return out

    def loop_body(self, nodes: list[ir.Node]) -> list[ast.stmt]:
        self.loops += 1
        try:
            return self.block(nodes)
        finally:
            self.loops -= 1

    def node(self, node: ir.Node) -> list[ast.stmt]:
        if isinstance(node, ir.Comment):
            return [self.comments.stmt(node.text)] if node.text else []
        if isinstance(node, ir.IO):
            return [self.comments.stmt(f"{node.label}: {plain_text(node.text.text)}")]
        lead = [self.comments.stmt(node.comment)] if node.comment else []
        handler = _HANDLERS.get(type(node))
        if handler is None:
            return lead + self.todo(node.line, getattr(node, "raw", type(node).__name__), "not supported here")
        return lead + handler(self, node)

    def statement(self, node: ir.Statement) -> list[ast.stmt]:
        note = note_text(node.text.text)
        if note is not None:  # prose in italics inside the algorithm: a comment
            return [self.comments.stmt(note)] if note else []
        try:
            stmts, trailing = statements.statement(node.text.text, self.ctx)
        except Untranslatable as e:
            return self.todo(node.line, node.raw, str(e))
        if node.comment and len(stmts) == 1 and isinstance(stmts[0], ast.Assign) \
                and isinstance(stmts[0].targets[0], ast.Name) and _ZERO_RANGE.search(node.comment):
            self.ctx.counts_from_zero.add(stmts[0].targets[0].id)  # the comment gives the value's range: 0 ..
        inner = [n for s in stmts for n in ast.walk(s)]
        if not self.loops and any(isinstance(n, (ast.Break, ast.Continue)) for n in inner) \
                and not any(isinstance(n, (ast.For, ast.While)) for n in inner):
            return self.todo(node.line, node.raw, "break/continue outside a loop")
        return ([self.comments.stmt(trailing)] if trailing else []) + stmts

    def test(self, cond, line: int, raw: str) -> tuple[list[ast.stmt], ast.expr]:
        """A condition; when untranslatable, a TODO and a test that raises when evaluated."""
        if cond is None:
            return self.todo(line, raw, "empty condition", raise_here=False), _raiser(line)
        try:
            return [], statements.condition(cond.text, self.ctx)
        except Untranslatable as e:
            return self.todo(line, raw, str(e), raise_here=False), _raiser(line)

    def if_(self, node: ir.If) -> list[ast.stmt]:
        pre: list[ast.stmt] = []
        tests = []
        for br in node.branches:
            if br.cond is None:
                continue
            todo, t = self.test(br.cond, br.line, br.raw)
            pre.extend(todo)
            tests.append(t)
        orelse: list[ast.stmt] = []
        conditional = [b for b in node.branches if b.cond is not None]
        if node.branches[-1].cond is None:
            orelse = self.branch_body(node.branches[-1])
        for br, t in reversed(list(zip(conditional, tests))):
            orelse = [ast.If(test=t, body=self.branch_body(br), orelse=orelse)]
        return pre + orelse

    def branch_body(self, br: ir.Branch) -> list[ast.stmt]:
        lead = [self.comments.stmt(br.comment)] if br.comment else []
        return ensure_body(lead + self.block(br.body), self.comments)

    def for_(self, node: ir.For) -> list[ast.stmt]:
        pre: list[ast.stmt] = []
        bare = re.fullmatch(r"\s*\$\s*([A-Za-z])\s*\$\s*", node.header.text)
        if bare:  # `\\FORALL{$i$}`: i runs over the positions of the arrays the body indexes with it
            return self._over_positions(node, bare.group(1))
        try:
            loop = statements.for_header(node.header.text, self.ctx)
        except Untranslatable as e:
            pre = self.todo(node.line, node.raw, str(e), raise_here=False)
            loop = ast.For(target=ast.Name(id="_", ctx=ast.Store()), iter=_raiser(node.line), body=[], orelse=[])
        bound = [n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)]
        self.ctx.open_loops.extend(bound)
        try:
            P.meta(loop, "innermost", loop).body = ensure_body(self.loop_body(node.body), self.comments)
        finally:
            del self.ctx.open_loops[len(self.ctx.open_loops) - len(bound) :]
        return pre + [loop]

    def _over_positions(self, node: ir.For, var: str) -> list[ast.stmt]:
        target = P.store(P.name(var), self.ctx)
        body = ensure_body(self.loop_body(node.body), self.comments)
        arrays = [n.value.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Subscript)
                  and isinstance(n.value, ast.Name) and isinstance(n.slice, ast.Name) and n.slice.id == var]
        if not arrays:
            return self.todo(node.line, node.raw, f"a loop over {var} with no range and no array it indexes")
        size = P.call("len", [ast.Name(id=arrays[0], ctx=ast.Load())])
        return [ast.For(target=target, iter=P.mark(P.call("range", [size]), positions_of=arrays[0]), body=body,
                        orelse=[])]

    def while_(self, node: ir.While) -> list[ast.stmt]:
        pre, t = self.test(node.cond, node.line, node.raw)
        body = ensure_body(self.loop_body(node.body), self.comments)
        witness = _witness(t, body)
        if witness is not None:  # `while there is an i with x_i < 0: x_i <- -x_i`: each pass finds one
            var, search = witness
            find = ast.Assign(targets=[ast.Name(id=var, ctx=ast.Store())], value=search)
            done = ast.If(test=ast.Compare(left=ast.Name(id=var, ctx=ast.Load()), ops=[ast.Is()],
                                           comparators=[P.const(None)]), body=[ast.Break()], orelse=[])
            return pre + [ast.While(test=ast.Constant(True), body=[find, done] + body, orelse=[])]
        return pre + [ast.While(test=t, body=body, orelse=[])]

    def repeat(self, node: ir.Repeat) -> list[ast.stmt]:
        body = self.loop_body(node.body)
        todo, t = self.test(node.cond, node.cond_line or node.line, node.raw or "\\Until")
        if not node.until:
            t = ast.UnaryOp(op=ast.Not(), operand=t)
        exit_ = ast.If(test=t, body=[ast.Break()], orelse=[])
        return [ast.While(test=ast.Constant(True), body=body + todo + [exit_], orelse=[])]

    def loop(self, node: ir.Loop) -> list[ast.stmt]:
        body = ensure_body(self.loop_body(node.body), self.comments)
        return [ast.While(test=ast.Constant(True), body=body, orelse=[])]

    def switch(self, node: ir.Switch) -> list[ast.stmt]:
        pre, subject = self.test(node.subject, node.line, node.raw)
        chain: list[ast.stmt] = []
        cases = [c for c in node.cases if c.cond is not None]
        default = [c for c in node.cases if c.cond is None]
        if default:
            chain = self.branch_body(default[-1])
        for case in reversed(cases):
            todo, value = self.test(case.cond, case.line, case.raw)
            pre.extend(todo)
            if isinstance(value, ast.Tuple):
                t: ast.expr = ast.Compare(left=subject, ops=[ast.In()], comparators=[value])
            else:
                t = ast.Compare(left=subject, ops=[ast.Eq()], comparators=[value])
            chain = [ast.If(test=t, body=self.branch_body(case), orelse=chain)]
        return pre + chain

    def block_node(self, node: ir.Block) -> list[ast.stmt]:
        if not node.opaque:
            return self.block(node.body)
        todo = self.todo(node.line, node.raw, f"\\{node.label} is a block the paper defines", raise_here=False)
        body = ensure_body(self.block(node.body), self.comments)
        return todo + [ast.If(test=_raiser(node.line), body=body, orelse=[])]

    def todo(self, line: int, latex: str, reason: str, raise_here: bool = True) -> list[ast.stmt]:
        """The TODO comment, and for a statement the call that raises in its place (a loop
        header or condition raises through its own test instead)."""
        if self.recording:
            self.todos.append(Todo(line, latex, reason))
        comment = self.comments.stmt(f"TODO: line {line}: {latex}  [{reason}]")
        return [comment, ast.Expr(value=_raiser(line))] if raise_here else [comment]


_HANDLERS = {
    ir.Statement: FunctionBuilder.statement,
    ir.If: FunctionBuilder.if_,
    ir.For: FunctionBuilder.for_,
    ir.While: FunctionBuilder.while_,
    ir.Repeat: FunctionBuilder.repeat,
    ir.Loop: FunctionBuilder.loop,
    ir.Switch: FunctionBuilder.switch,
    ir.Block: FunctionBuilder.block_node,
}


def _witness(test: ast.expr, body: list[ast.stmt]) -> tuple[str, ast.expr] | None:
    """`\\exists i : x_i < 0` as a loop's test, with the body using that i: (i, the search for the
    first such i, or None); else None."""
    if not (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "any"
            and len(test.args) == 1 and isinstance(test.args[0], ast.GeneratorExp)):
        return None
    gen = test.args[0]
    if len(gen.generators) != 1 or not isinstance(gen.generators[0].target, ast.Name):
        return None
    var = gen.generators[0].target.id
    names = [n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and n.id == var]
    if not names or any(isinstance(n.ctx, ast.Store) for n in names):
        return None
    comp = gen.generators[0]
    first = ast.GeneratorExp(elt=ast.Name(id=var, ctx=ast.Load()), generators=[ast.comprehension(
        target=comp.target, iter=comp.iter, ifs=list(comp.ifs) + [gen.elt], is_async=0)])
    return var, P.call("next", [first, P.const(None)])


def _raiser(line: int) -> ast.expr:
    return P.call(UNTRANSLATED, [P.const(line)])


def ensure_body(body: list[ast.stmt], comments: Comments) -> list[ast.stmt]:
    """A block of only comments needs a `pass` to stay valid Python."""
    if all(_is_comment(s) for s in body):
        return body + [ast.Pass()]
    return body


def _is_comment(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str) and stmt.value.value.startswith("__qtk_c"))


def _length_of(value: ast.expr) -> str | None:
    """`len(A)` -> "A"."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "len" \
            and len(value.args) == 1 and isinstance(value.args[0], ast.Name):
        return value.args[0].id
    return None


def _subscript_roots(body: list[ast.stmt]) -> set[str]:
    """Names written element-wise (`d[v] = ...`)."""
    roots: set[str] = set()
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Assign):
            targets = node.targets
        else:
            targets = [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Subscript):
                    root = sub.value
                    while isinstance(root, ast.Subscript):
                        root = root.value
                    if isinstance(root, ast.Name):
                        roots.add(root.id)
    return roots


def free_names(body: list[ast.stmt], defined: set[str], functions: set[str]) -> list[str]:
    """Names the body reads but never binds, in order of first use (they must be inputs)."""
    stored: set[str] = set(defined)
    loaded: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            for child in node.args + [k.value for k in node.keywords]:
                visit(child)
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                stored.add(node.id)
            elif node.id not in loaded:
                loaded.append(node.id)
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in body:
        visit(stmt)
    skip = stored | functions | RESERVED | {"math", "copy", "operator", "collections", "heapq", "itertools",
                                            "statistics", vectors.SOFTMAX, UNTRANSLATED, records.FIELDS}
    return [n for n in loaded if n not in skip]


def build_all(builders: list[FunctionBuilder]) -> list[tuple[ast.FunctionDef, FunctionResult]]:
    """Finish every function; one without index evidence follows a sibling from the same
    algorithm environment (CLRS's MERGE-SORT has no subscripts, its MERGE does)."""
    for b in builders:
        b.prepare()
    for b in builders:  # `\\Call{Quicksort}{$A, 1, A.length$}`: the caller says how the callee counts
        if not b.evidence:
            base = next((v for o in builders if o is not b
                         for v in _call_site_bases(o.body, b.unit.name, o.lengths)), None)
            if base is not None:
                b.base, b.reason, b.evidence = base, f"auto: called with bounds {base}.. of an array", True
    for b in builders:
        if b.evidence:
            continue
        sibling = next((o for o in builders if o.unit.number == b.unit.number and o.evidence and o is not b), None)
        if sibling is not None:
            b.base, b.reason = sibling.base, f"auto: as {sibling.unit.name} in the same algorithm"
            continue
        caller = next((o for o in builders if o.evidence and o is not b and _calls(o.body, b.unit.name)), None)
        if caller is not None:  # \\textsc{Reverse} in a float of its own, called by a 1-based procedure
            b.base, b.reason = caller.base, f"auto: as {caller.unit.name}, which calls it"
    return [b.finish() for b in builders]


def _call_site_bases(body: list[ast.stmt], name: str, lengths: dict[str, str] | None = None):
    """1 for calls `name(A, 1, len(A))`, 0 for `name(A, 0, len(A) - 1)` (as written, before shifting);
    a name the caller set to the length (`n \\gets A.length`, then `name(A, 1, n)`) counts as it."""
    lengths = lengths or {}

    def length_of(e: ast.expr) -> str | None:
        if isinstance(e, ast.Name) and e.id in lengths:
            return lengths[e.id]
        return _length_of(e)

    for stmt in body:
        for n in ast.walk(stmt):
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name):
                continue
            arrays = [a.id for a in n.args if isinstance(a, ast.Name)]
            for k in range(len(n.args) - 1):
                lo, hi = n.args[k], n.args[k + 1]
                length = length_of(hi)
                if P.int_value(lo) == 1 and length in arrays:
                    yield 1
                if P.int_value(lo) == 0 and isinstance(hi, ast.BinOp) and isinstance(hi.op, ast.Sub) \
                        and P.int_value(hi.right) == 1 and length_of(hi.left) in arrays:
                    yield 0


def _calls(body: list[ast.stmt], name: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
               for stmt in body for n in ast.walk(stmt))


_ZERO_RANGE = re.compile(r"(?<![\w.])0\s*,\s*(?:\.\.\.|\u2026)\s*,\s*\w+\s*-\s*1\b")  # `0,..., B-1`

_STATED_BASE = re.compile(r"\b(?:(?P<w>0|zero|1|one)[- ]?(?:based|indexed)\b|indexed (?:from|starting (?:at|from)) "
                          r"\$?\s*(?P<n>0|1)\b|(?:indices|positions|entries) (?:start|starting|begin|beginning|counted)"
                          r" (?:at|from) \$?\s*(?P<m>0|1)\b)", re.IGNORECASE)


def _stated_base(unit: Unit) -> int | None:
    """`a string $s$ of length $n$, indexed from $0$`, `0-indexed`, `one-based`: the index base the
    Require/Input/Ensure text, the caption or the header's comment states (one base, said once)."""
    texts = [io.text.text for io in unit.io] + [unit.caption or "", unit.note_latex or unit.note or ""]
    said = set()
    for m in _STATED_BASE.finditer(" ".join(texts)):
        word = m.group("w") or m.group("n") or m.group("m")
        said.add(0 if word.lower() in ("0", "zero") else 1)
    return said.pop() if len(said) == 1 else None


def _set_then_append(body: list[ast.stmt]) -> list[ast.stmt]:
    """`$y_t \\gets v$` then `append $y_t$ to $y$`: the entry is named before it is added, so the pair
    is one append of v (writing y[t] first would write past the end of y)."""
    out: list[ast.stmt] = []
    for stmt in body:
        for field_name in ("body", "orelse"):
            inner = getattr(stmt, field_name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(stmt, field_name, _set_then_append(inner))
        prev = out[-1] if out else None
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(prev, ast.Assign) and len(prev.targets) == 1 and isinstance(prev.targets[0], ast.Subscript) \
                and isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "append" \
                and len(call.args) == 1 and isinstance(call.args[0], ast.Subscript) \
                and isinstance(prev.targets[0].value, ast.Name) and isinstance(call.func.value, ast.Name) \
                and prev.targets[0].value.id == call.func.value.id \
                and ast.dump(call.args[0]) == ast.dump(ast.Subscript(
                    value=prev.targets[0].value, slice=prev.targets[0].slice, ctx=ast.Load())):
            call.args = [prev.value]
            out[-1] = stmt
            continue
        out.append(stmt)
    return out


def _empty_then_filled(body: list[ast.stmt]) -> list[ast.stmt]:
    """`$R = []$` and then only `R[b] = ...` (never an append, never its length): the list is filled
    by position, so it is created like an array the pseudo-code never creates (sized by the loop
    that fills it); an empty list would refuse the first write."""
    out = list(body)
    for stmt in body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.List) and not stmt.value.elts):
            continue
        name = stmt.targets[0].id
        rest = [s for s in out if s is not stmt]
        nodes = [n for s in rest for n in ast.walk(s)]
        entries = {id(n.value) for n in nodes if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}
        written = any(isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name)
                      and n.value.id == name for n in nodes)
        whole = [n for n in nodes if isinstance(n, ast.Name) and n.id == name and id(n) not in entries]
        if written and not any(isinstance(n.ctx, ast.Store) for n in whole) and not any(
                isinstance(n, (ast.Attribute, ast.Call)) and any(isinstance(m, ast.Name) and m.id == name
                                                                 and id(m) not in entries for m in ast.walk(n))
                for n in nodes):
            out.remove(stmt)
    return out


def _created_when_sized(body: list[ast.stmt]) -> list[ast.stmt]:
    """A list the algorithm never creates, sized by a name the body assigns later (`x = [None] * n`
    before `n \\gets` the number of rows): created just before the first statement that uses it."""
    out = list(body)
    for stmt in [s for s in body if P.meta(s, "implicit") or P.meta(s, "alloc")]:
        name = P.meta(stmt, "implicit") or P.meta(stmt, "alloc")[0]
        sizes = {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
        at = out.index(stmt)

        def stores(k: int) -> bool:
            return any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in sizes
                       for n in ast.walk(out[k]))

        later = [k for k in range(at + 1, len(out)) if stores(k)]
        if not later or P.meta(stmt, "alloc") and any(stores(k) for k in range(at)):
            continue  # (`let $B[0..n-1]$ be a new array` before `n = A.length`: made once n is known)
        out.remove(stmt)
        use = next((k for k in range(later[-1], len(out)) if any(
            isinstance(n, ast.Name) and n.id == name for n in ast.walk(out[k]))), len(out))
        out.insert(use, stmt)
    return out


def _index_depths(body: list[ast.stmt]) -> dict[str, int]:
    """How many subscripts each name is read or written with at most (`G[i][j]`: 2; `for u in d[j]`
    and `t \\in d[j]` count one more: d[j] has entries of its own)."""
    depths: dict[str, int] = {}
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        inner = node.iter if isinstance(node, ast.For) else node.comparators[0] \
            if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)) \
            else None
        k, root = (1, inner) if isinstance(inner, ast.Subscript) else (0, node)  # `for u in d[j]`: d[j] has entries
        while isinstance(root, ast.Subscript):
            k, root = k + 1, root.value
        if k and isinstance(root, ast.Name):
            depths[root.id] = max(depths.get(root.id, 0), k)
    return depths


def _assigned_first(body: list[ast.stmt], name: str) -> bool:
    """Whether the first top-level statement that mentions `name` assigns it whole without reading it
    (`h \\gets` the number of rows of B): a name the inputs mention but the block computes itself."""
    for stmt in body:
        loads = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        if name in loads:
            return False
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
            return True
        if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt)):
            return False
    return False


def _filled_before_assigned(body: list[ast.stmt]) -> list[str]:
    """Names written entry by entry (`r_i \\gets 1/n` for every i) before the block ever assigns them
    whole (`r \\gets r'`): they need creating first, like arrays never assigned at all."""
    first: dict[str, str] = {}
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
                first.setdefault(node.value.id, "entry")
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                first.setdefault(node.id, "whole")
    wholes = {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return [n for n, how in first.items() if how == "entry" and n in wholes]


def _renamed(e: ast.expr, old: str, new: str) -> ast.expr:
    for n in ast.walk(e):
        if isinstance(n, ast.Name) and n.id == old:
            n.id = new
    return e
