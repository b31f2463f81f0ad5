"""Conditions written the way pseudo-code writes them: `$x$ is even / odd / empty / (not) in $S$
/ divisible by $k$ / true / nil / $y$`, `$(a = b)$ is false`, and membership in an interval
(`x \\in [0, 10)` -> 0 <= x < 10). The comparison chain itself is in mathparse.py.
"""

from __future__ import annotations

import ast
from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.cursor import Cursor
from qtk.tools.transpile_paper.mathatoms import constant
from qtk.tools.transpile_paper.mathtok import Tok


def interval_at(toks: list[Tok], k: int) -> bool:
    """Whether toks[k:] starts with `[a, b)`-style brackets that do not match each other."""
    if k >= len(toks) or toks[k].kind != "op" or toks[k].value not in ("[", "("):
        return False
    depth, commas = 0, 0
    for j in range(k, len(toks)):
        t = toks[j]
        if t.kind == "op" and t.value in ("[", "(", "{"):
            depth += 1
        elif t.kind == "op" and t.value in ("]", ")", "}"):
            depth -= 1
            if depth == 0:
                pair = toks[k].value + t.value
                return commas == 1 and pair in ("[)", "(]", "[]", "()")
        elif t.kind == "op" and t.value == "," and depth == 1:
            commas += 1
    return False



def interval(self: Cursor, left: ast.expr, negate: bool) -> ast.expr:
    """`[a, b)`, `(a, b]`, `[a, b]` after \\in: a chained comparison."""
    opening = self.t[self.i].value
    self.i += 1
    lo = self.expr()
    self.expect("op", ",")
    hi = self.expr()
    closing = self.t[self.i].value
    self.i += 1
    test = ast.Compare(left=lo, ops=[ast.LtE() if opening == "[" else ast.Lt(), ast.LtE() if closing == "]" else ast.Lt()],
                       comparators=[left, hi])
    return ast.UnaryOp(op=ast.Not(), operand=test) if negate else test

# characters a test compares with, written bare after `is` (`$p_j$ is *`, `is ?`)
_SYMBOLS = {"*", "?", "#", "@", "+", "-", "/", "%", "&", "!", ".", ",", ";"}


def is_test(self: Cursor, left: ast.expr) -> ast.expr:
    """After `is`/`are`: even, odd, empty, nonempty, (not) in S, divisible by k, true, false, nil, or a value."""
    negate = bool(self.accept("kw", "not"))
    tok = self.peek()
    word = tok.value if tok is not None else ""
    self.i += 1
    if word in ("even", "odd"):
        test: ast.expr = ast.Compare(left=P.binop(left, ast.Mod(), P.const(2)), ops=[ast.Eq()],
                                     comparators=[P.const(0 if word == "even" else 1)])
    elif word in ("empty", "nonempty"):
        op = ast.Eq() if word == "empty" else ast.NotEq()
        test = ast.Compare(left=P.call("len", [left]), ops=[op], comparators=[P.const(0)])
    elif word in ("defined", "undefined", "computed", "known", "set") and isinstance(left, ast.Subscript):
        negate = negate != (word == "undefined")  # `$M[k]$ is defined`: k is a key of M
        test = ast.Compare(left=left.slice, ops=[ast.In()], comparators=[left.value])
    elif word in ("divisible", "multiple"):  # `$n$ is divisible by $2$`, `is a multiple of $k$`
        while self.peek() is not None and self.peek().kind in ("kw", "name") and not self.peek().math:
            self.i += 1
        test = ast.Compare(left=P.binop(left, ast.Mod(), self.setops()), ops=[ast.Eq()], comparators=[P.const(0)])
    elif word == "in" or word == "not" and self.at("kw", "in"):  # `$x$ is (not) in $S$`
        negate = negate or word == "not"
        self.accept("kw", "in")
        test = ast.Compare(left=left, ops=[ast.In()], comparators=[self.setops()])
    elif tok is not None and tok.kind == "const" and tok.value in ("True", "False"):
        test = left if tok.value == "True" else ast.UnaryOp(op=ast.Not(), operand=left)
    elif tok is not None and tok.kind == "const" and tok.value == "None":
        test = ast.Compare(left=left, ops=[ast.Is()], comparators=[constant(tok.value)])
    elif tok is not None and tok.kind == "op" and tok.value in _SYMBOLS and (
            self.peek() is None or self.peek().kind == "kw" or self.peek().value in (")", "}")):
        test = ast.Compare(left=left, ops=[ast.Eq()], comparators=[P.const(tok.value)])  # `pattern[j] is *`
    elif tok is not None and (tok.math or tok.kind in ("const", "num")):  # `$n$ is 1`: a number in the text
        self.i -= 1  # `$x$ is $y$`: equality
        test = ast.Compare(left=left, ops=[ast.Eq()], comparators=[self.setops()])
    else:
        P.fail(f"cannot read 'is {word}'")
    return ast.UnaryOp(op=ast.Not(), operand=test) if negate else test
