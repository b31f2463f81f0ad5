"""Recursive-descent parser: pseudo-code tokens -> Python `ast` expressions.

Precedence, loosest first: `,` tuple; or; and; not; comparisons (= is equality here, \\in,
`is even`, `is empty`); set ops (\\cup \\cap \\setminus); + -; * / mod div and juxtaposition
(`2n`, `a b`); unary minus; powers; postfix (x_i, A[i], A[i..j], f(x), A.length, n!).
Subscripts and brackets become indexing marked for the index-base pass; `x_1` stays a name when
x is never indexed by a variable. \\max/\\min/\\sum/\\prod/\\argmax over `i=1..n`, `1 \\le i \\le n`
or `i \\in S` become generator expressions.
"""

from __future__ import annotations

import ast
import re

from qtk.tools.transpile_paper import conditions
from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.cursor import Cursor
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.mathatoms import atom
from qtk.tools.transpile_paper.subscripts import bracket, is_layer, layer, subscript
from qtk.tools.transpile_paper.mathtok import Tok, Untranslatable

_CMP = {"=": ast.Eq, "==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt,
        ">=": ast.GtE, "in": ast.In, "notin": ast.NotIn, "<=s": ast.LtE, "<s": ast.Lt,
        ">=s": ast.GtE, ">s": ast.Gt}
_SETOPS = {"cup": ast.BitOr, "cap": ast.BitAnd, "setminus": ast.Sub, "&": ast.BitAnd, "bitor": ast.BitOr}
_SHIFTS = {"<<": ast.LShift, ">>": ast.RShift}
_MULOPS = {"*": ast.Mult, "/": ast.Div, "%": ast.Mod, "//": ast.FloorDiv, "xor": ast.BitXor}
_ATOM_START = {"num", "name", "const", "cmd", "bigop", "mathfn"}
_CALLABLE_SINGLE = {"f", "g", "h"}


class Parser(Cursor):
    """The grammar over a Cursor's tokens, loosest level first."""

    def tuple_expr(self) -> ast.expr:
        first = self.expr()
        if not self.at("op", ","):
            return first
        items = [first]
        while self.accept("op", ","):
            items.append(self.expr())
        return ast.Tuple(elts=items, ctx=ast.Load())

    def expr(self) -> ast.expr:
        return self.or_()

    def or_(self) -> ast.expr:
        values = [self.and_()]
        while self.accept("kw", "or"):
            values.append(self.and_())
        return values[0] if len(values) == 1 else ast.BoolOp(op=ast.Or(), values=values)

    def and_(self) -> ast.expr:
        values = [self.not_()]
        while self.accept("kw", "and"):
            values.append(self.not_())
        return values[0] if len(values) == 1 else ast.BoolOp(op=ast.And(), values=values)

    def not_(self) -> ast.expr:
        if self.accept("kw", "not") or self.accept("op", "!"):  # `not`, C's `!x`
            return ast.UnaryOp(op=ast.Not(), operand=self.not_())
        return self.cmp()

    def cmp(self) -> ast.expr:
        left = self.setops()
        ops: list[ast.cmpop] = []
        rights: list[ast.expr] = []
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok.value in ("in", "notin") and tok.kind in ("op", "kw") and conditions.interval_at(self.t, self.i + 1):
                self.i += 1  # x \\in [0, 10): 0 <= x < 10
                return self.interval(left, negate=tok.value == "notin")
            if tok.kind == "op" and tok.value in _CMP or tok.kind == "kw" and tok.value == "in":
                self.i += 1
                ops.append(_CMP[tok.value]())
                rights.append(self.setops())
                if self.accept("op", "pmod"):  # a \\equiv b \\pmod{m}: equal remainders (\\not\\equiv: unequal)
                    m = self.script()
                    return ast.Compare(left=P.binop(left, ast.Mod(), m), ops=[ops[-1]],
                                       comparators=[P.binop(rights[-1], ast.Mod(), m)])
            elif tok.kind == "kw" and tok.value == "not" and self.at("kw", "in", 1):
                self.i += 2
                ops.append(ast.NotIn())
                rights.append(self.setops())
            elif tok.kind == "kw" and tok.value in ("is", "are"):
                self.i += 1  # `$x = b$ is true`: the test so far is the subject
                return self.is_test(_compare(left, ops, rights) if ops else left)
            elif tok.kind == "op" and tok.value == "mid" and not ops:
                self.i += 1
                right = self.setops()
                return ast.Compare(left=P.binop(right, ast.Mod(), left), ops=[ast.Eq()], comparators=[P.const(0)])
            else:
                break
        if not ops:
            return left
        return _compare(left, ops, rights)

    def interval(self, left: ast.expr, negate: bool) -> ast.expr:
        return conditions.interval(self, left, negate)

    def is_test(self, left: ast.expr) -> ast.expr:
        return conditions.is_test(self, left)

    def setops(self) -> ast.expr:
        left = self.shifts()
        while self.peek() is not None and self.peek().kind == "op" and self.peek().value in _SETOPS:
            op = _SETOPS[self.t[self.i].value]()
            setop = self.t[self.i].value not in ("&", "bitor")
            self.i += 1
            left = P.binop(left, op, self.shifts())
            if setop:
                P.mark(left, set_op=True)  # \\cup \\cap \\setminus: |..| of it is a size
        return left

    def shifts(self) -> ast.expr:
        """`x \\gg 1`, `1 \\ll k`: bit shifts bind looser than + and -, as in Python."""
        left = self.arith()
        while self.peek() is not None and self.peek().kind == "op" and self.peek().value in _SHIFTS:
            op = _SHIFTS[self.t[self.i].value]()
            self.i += 1
            left = P.binop(left, op, self.arith())
        return left

    def arith(self) -> ast.expr:
        left = self.term()
        while True:
            if self.accept("op", "+"):
                left = P.binop(left, ast.Add(), self.term())
            elif self.accept("op", "-"):
                left = P.binop(left, ast.Sub(), self.term())
            elif self.at("op", "||") and not self.norms \
                    and sum(t.kind == "op" and t.value == "||" for t in self.t[self.i :]) % 2:
                self.i += 1  # `s \\| t` with no second bar: concatenation (of strings, as the digits of a number)
                right = self.term()
                left = ast.JoinedStr(values=[ast.FormattedValue(value=x, conversion=-1) for x in (left, right)])
            elif self.at("op", "pm"):
                P.fail("\\pm has no single value")
            else:
                return left

    def term(self) -> ast.expr:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok is None:
                return left
            if tok.kind == "op" and tok.value in _MULOPS:
                self.i += 1
                left = P.binop(left, _MULOPS[tok.value](), self.unary())
            elif tok.kind == "kw" and tok.value in ("mod", "div"):
                self.i += 1
                left = P.binop(left, ast.Mod() if tok.value == "mod" else ast.FloorDiv(), self.unary())
            elif self._juxtaposed(left, tok):
                left = P.binop(left, ast.Mult(), self.power())
            else:
                return left

    def _juxtaposed(self, left: ast.expr, tok: Tok) -> bool:
        """`2n`, `n(n+1)`, `a b`: implicit multiplication, only between math-mode factors."""
        if not tok.math or P.meta(left, "style") == "prose":
            return False
        if tok.kind == "name" and tok.style == "prose":
            return False
        if tok.kind in _ATOM_START:
            return True
        return tok.kind == "op" and tok.value in ("(", "{", "lfloor", "lceil") or tok.kind == "op" \
            and tok.value == "||" and not self.norms \
            and sum(t.kind == "op" and t.value == "||" for t in self.t[self.i :]) % 2 == 0  # `\\|u\\| \\|v\\|`

    def unary(self) -> ast.expr:
        if self.accept("op", "-"):
            operand = self.unary()
            v = P.int_value(operand)
            if v is not None:
                return P.const(-v)
            return ast.UnaryOp(op=ast.USub(), operand=operand)
        if self.accept("op", "+"):
            return self.unary()
        return self.power()

    def power(self) -> ast.expr:
        base = self.postfix()
        if self.accept("op", "**"):
            return P.binop(base, ast.Pow(), self.unary())
        if not self.at("op", "^"):
            return base
        self.i += 1
        if self.at("op", "*") or (self.at("op", "{") and self.at("op", "*", 1) and self.at("op", "}", 2)):
            self.i += 3 if self.at("op", "{") else 1
            if not isinstance(base, ast.Name):
                P.fail("^* on an expression")
            starred = P.name(base.id + "_star")
            return self.subscript(starred) if self.at("op", "_") else starred  # r^*_i: an entry of r^*
        return P.binop(base, ast.Pow(), self.script())

    def _sign_superscript(self) -> tuple[str, int] | None:
        """At `^`: `^+`, `^{-}` with nothing to raise to (N^+, the out-neighbours): the tag and how
        many tokens it takes, else None."""
        if not self.at("op", "^"):
            return None
        grouped = self.at("op", "{", 1)
        sign = self.peek(2 if grouped else 1)
        if sign is None or sign.kind != "op" or sign.value not in ("+", "-"):
            return None
        if grouped:
            return ("plus" if sign.value == "+" else "minus", 4) if self.at("op", "}", 3) else None
        after = self.peek(2)
        if after is not None and (after.kind in ("name", "num", "const", "cmd", "mathfn")
                                  or after.kind == "op" and after.value in ("(", "{")):
            return None
        return "plus" if sign.value == "+" else "minus", 2

    def script(self) -> ast.expr:
        """The argument of ^ or _: a brace group or a single token (one digit, as TeX reads it)."""
        if self.accept("op", "{"):
            inner = self.tuple_expr()
            self.expect("op", "}")
            return inner
        tok = self.peek()
        if tok is not None and tok.kind == "num" and len(tok.value) > 1 and tok.value.isdigit():
            self.t[self.i] = Tok("num", tok.value[1:], tok.at, tok.math)
            return P.const(int(tok.value[0]))
        return self.atom()

    def postfix(self) -> ast.expr:
        e = self.atom()
        while True:
            if self.at("op", "_"):
                bold = P.meta(e, "vector")
                e = self.subscript(e)
                if bold and isinstance(e, ast.Subscript):
                    P.mark(e, vector=True)  # \\mathbf{x}_i: the i-th vector of a sequence
            elif isinstance(e, ast.Name) and self._word_superscript() is not None:
                word = self._word_superscript()
                self.i += 4  # `x^{new}`, `x^{\\text{old}}`: a name of its own, x_new
                e = P.name(variable_name(f"{e.id}_{word}"))
            elif isinstance(e, ast.Name) and self._sign_superscript() is not None:
                tag, width = self._sign_superscript()
                self.i += width  # `N^+`, `\\mathcal{N}^{-}`: a name of its own, N_plus
                e = P.name(variable_name(f"{e.id}_{tag}"))
            elif _indexable(e) and is_layer(self, e):
                e = layer(self, e)
            elif self.at("op", "[") and _indexable(e):
                e = self.bracket(e)
            elif self.at("op", "(") and isinstance(e, ast.Subscript) and P.root_name(e) in self.ctx.call_arrays:
                args = self.call_args()  # `\\alpha_t(j)` of a table assigned so: alpha[t][j]
                key = args[0] if len(args) == 1 else ast.Tuple(elts=args, ctx=ast.Load())
                e = P.mark(ast.Subscript(value=e, slice=key, ctx=ast.Load()), index=True)
            elif self.at("op", "(") and self._graph_part(e):
                self.i += 3  # `V(G)`: the vertices of the graph G, 0 .. |G| - 1
                graph = ast.Name(id=P.graph_name(self.ctx), ctx=ast.Load())
                e = P.mark(P.call("range", [P.call("len", [graph])]), vertices=True)
            elif self.at("op", "(") and self._callable(e):
                e = self.call(e)
            elif self.at("op", ".") and (self.at("name", k=1) or self._word_member()) and _indexable(e):
                self.i += 1
                attr = self.t[self.i].value
                self.i += 1
                args = self.call_args() if self.at("op", "(") else None
                e = P.member(e, attr, args)  # A.length, s.charAt(i), S.push(x), Q.isEmpty()
            elif self.at("op", "!") and not self.at("op", "=", 1):
                self.i += 1
                e = P.call("math.factorial", [e])
            elif self.at("op", "'") and isinstance(e, ast.Name):
                self.i += 1
                e = P.name(e.id + "_prime")
            else:
                return e

    def _word_superscript(self) -> str | None:
        """At `^`: the word of `^{new}`, `^{\\text{best}}` (a tag naming a variant, never a power
        or a layer), else None."""
        if not (self.at("op", "^") and self.at("op", "{", 1) and self.at("op", "}", 3)):
            return None
        tok = self.peek(2)
        if tok is None or tok.kind not in ("name", "kw") or len(tok.value) < 2 \
                or tok.value in ("T", "top", "intercal", "prime", "star", "ast", "dagger", "pi", "infty"):
            return None
        if tok.kind == "name" and variable_name(tok.value) in self.ctx.known | self.ctx.params | self.ctx.declared:
            return None
        return tok.value

    def _word_member(self) -> bool:
        """`$S$.empty()`, `$R$.append(..)`: a keyword of the phrases right after a dot and before `(`
        is a method's name."""
        tok = self.peek(1)
        return tok is not None and tok.kind == "kw" and not tok.math and self.at("op", "(", 2)

    def subscript(self, base: ast.expr) -> ast.expr:
        return subscript(self, base)

    def bracket(self, base: ast.expr) -> ast.expr:
        return bracket(self, base)

    def _graph_part(self, e: ast.expr) -> bool:
        """`V(G)` with V defined nowhere and G the algorithm's graph (its adjacency lists)."""
        graph = P.graph_name(self.ctx)
        return isinstance(e, ast.Name) and P.meta(e, "raw", e.id) == "V" and graph is not None \
            and not {e.id} & (self.ctx.known | self.ctx.params | self.ctx.declared) \
            and self.at("name", k=1) and variable_name(self.t[self.i + 1].value) == graph and self.at("op", ")", 2)

    def _callable(self, e: ast.expr) -> bool:
        if isinstance(e, ast.Attribute):
            return True
        if not isinstance(e, ast.Name):
            return False
        style, raw = P.meta(e, "style"), P.meta(e, "raw", e.id)
        if style == "func" or e.id.rstrip("_") in self.ctx.functions or e.id in self.ctx.callables \
                or e.id in self.ctx.call_arrays:
            return True
        if e.id in self.ctx.params and re.sub(r"(_prime|')+$", "", raw) in _CALLABLE_SINGLE \
                and e.id not in self.ctx.collections \
                and e.id not in self.ctx.numbers:
            return True  # an input f, g or h written f(a): the function is the input
        if raw in ("N", "Gamma") and not {e.id} & (self.ctx.known | self.ctx.params | self.ctx.declared) \
                and P.graph_name(self.ctx) is not None:
            return True  # N(u), \\Gamma(u): the neighbours of u in the graph
        if e.id in self.ctx.known:
            return self._comma_inside()  # w(u, v): a call even when w is a parameter
        if style == "roman" or len(raw) > 1:
            return True
        return raw in _CALLABLE_SINGLE or self._comma_inside()  # w(u, v): never w times a pair

    def _comma_inside(self) -> bool:
        """Whether the parenthesis at the cursor holds a top-level comma."""
        depth = 0
        for tok in self.t[self.i :]:
            if tok.kind == "op" and tok.value in ("(", "[", "{", "{s"):
                depth += 1
            elif tok.kind == "op" and tok.value in (")", "]", "}", "}s"):
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and tok.kind == "op" and tok.value == ",":
                return True
        return False

    def call(self, func: ast.expr) -> ast.expr:
        args = self.call_args()
        if isinstance(func, ast.Name) and func.id in self.ctx.call_arrays:  # d(u) when d(v) was assigned
            table: ast.expr = func  # Q(s, a): Q[s][a] (a map never created is keyed by (s, a): tuple_keys)
            for key in args:
                table = P.mark(ast.Subscript(value=table, slice=key, ctx=ast.Load()), index=True)
            return table
        if isinstance(func, ast.Name):
            return P.resolve_call(P.meta(func, "raw", func.id), args, self.ctx, P.meta(func, "style"))
        return P.call(func, args)

    def call_args(self) -> list[ast.expr]:
        self.expect("op", "(")
        args: list[ast.expr] = []
        if not self.accept("op", ")"):
            args.append(self.expr())
            while self.accept("op", ","):
                args.append(self.expr())
            self.expect("op", ")")
        return args

    def atom(self) -> ast.expr:
        return atom(self)


def _compare(left: ast.expr, ops: list[ast.cmpop], rights: list[ast.expr]) -> ast.expr:
    if len(ops) == 1 and isinstance(ops[0], (ast.Eq, ast.NotEq)):
        empty_side = left if P.is_empty_set(rights[0]) else rights[0] if P.is_empty_set(left) else None
        if empty_side is not None:  # S = \emptyset: works for lists and sets alike
            return ast.Compare(left=P.call("len", [empty_side]), ops=ops, comparators=[P.const(0)])
        if isinstance(rights[0], ast.Constant) and rights[0].value is None:
            return ast.Compare(left=left, ops=[ast.Is() if isinstance(ops[0], ast.Eq) else ast.IsNot()],
                               comparators=rights)
    return ast.Compare(left=left, ops=ops, comparators=rights)


def _indexable(e: ast.expr) -> bool:
    return isinstance(e, (ast.Name, ast.Subscript, ast.Attribute, ast.Call))


def parse_all(toks: list[Tok], ctx: P.Ctx, tuple_ok: bool = True) -> ast.expr:
    """The single expression these tokens spell, or Untranslatable."""
    if not toks:
        raise Untranslatable("empty expression")
    p = Parser(toks, ctx)
    e = p.tuple_expr() if tuple_ok else p.expr()
    p.finish()
    return e
