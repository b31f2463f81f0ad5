"""The token cursor the maths parser shares with its helpers (atoms, subscripts, conditions): the
position in a line's tokens, look-ahead, and the grammar's entry points that the helpers call back
into. The grammar itself is mathparse.Parser; the helpers are written against a Cursor, so none of
them imports the parser (and the parser imports them at the top, with no circle).
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod

from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.mathtok import Tok


class Cursor(ABC):
    def __init__(self, toks: list[Tok], ctx: P.Ctx) -> None:
        self.t, self.i, self.ctx = toks, 0, ctx
        self.norms = 0  # how many \\|..\\| the cursor is inside (their closing bar is no concatenation)

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def at(self, kind: str, value: str | None = None, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.kind == kind and (value is None or tok.value == value)

    def accept(self, kind: str, value: str | None = None) -> Tok | None:
        if self.at(kind, value):
            self.i += 1
            return self.t[self.i - 1]
        return None

    def expect(self, kind: str, value: str | None = None) -> Tok:
        tok = self.accept(kind, value)
        if tok is None:
            got = self.peek()
            P.fail(f"expected {value or kind}, got {got.value if got else 'end of line'}")
        return tok

    def done(self) -> bool:
        return self.i >= len(self.t)

    def finish(self, what: str = "expression") -> None:
        if not self.done():
            tok = self.t[self.i]
            P.fail(f"could not read {what} from {tok.value!r} on")

    # ---- the grammar's levels the helpers read sub-expressions with (mathparse.Parser) ----
    @abstractmethod
    def tuple_expr(self) -> ast.expr: ...

    @abstractmethod
    def expr(self) -> ast.expr: ...

    @abstractmethod
    def setops(self) -> ast.expr: ...

    @abstractmethod
    def term(self) -> ast.expr: ...

    @abstractmethod
    def power(self) -> ast.expr: ...

    @abstractmethod
    def script(self) -> ast.expr: ...

    @abstractmethod
    def atom(self) -> ast.expr: ...

    @abstractmethod
    def call_args(self) -> list[ast.expr]: ...
