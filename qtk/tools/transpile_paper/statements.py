"""One pseudo-code line -> Python statements, plus conditions (loop headers: loops.py).

Lines: assignments (\\gets, \\leftarrow, :=, =, chains, tuples, several in one line, `D^{0} \\gets W`
layers, `C[0..k] = 0` allocations), return, break/continue, print, one-line bold `if ... then`,
swaps (`exchange A[i] with A[j]`, `swap a and b`, `a \\leftrightarrow b`, \\textsc{Swap}(A, i, j)),
`let C[0..k] be a new array`, `let $n$ be the length of $A$`, `increment x`, `x++`, procedure
calls; anything else in words goes through the phrase table (phrases.py).
"""

from __future__ import annotations

import ast
import dataclasses
import copy
import re

from qtk.tools.transpile_paper import phrases
from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.pyast import store
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.linetokens import TRAILING, split, tokens, top_level
from qtk.tools.transpile_paper.mathparse import parse_all
from qtk.tools.transpile_paper.mathtok import Tok, Untranslatable


def statement(text: str, ctx: P.Ctx) -> tuple[list[ast.stmt], str | None]:
    """Python statements for one line, and its trailing comment."""
    toks, comment = tokens(text)
    if _descriptions(toks, ctx):  # `$T = \\textrm{training set};\\ V = \\textrm{validation set}$`: what the names mean
        note = " ".join(t.value for t in toks)
        return [], f"{note}; {comment}" if comment else note
    if _heading(toks, text):  # `write $n - 1 = 2^s d$ with $d$ odd:`: words that introduce the lines below
        note = " ".join(t.value for t in toks)
        return [], f"{note}; {comment}" if comment else note
    out: list[ast.stmt] = []
    for part in split(toks, top_level(toks, lambda t: t.kind == "op" and t.value == ";")):
        while part and (part[-1].kind, part[-1].value) in TRAILING:
            part = part[:-1]
        part = _unlabelled(part)
        part, defs = _where(part)
        for piece in defs:  # `..., where $P_0 = 1$`: what the statement uses, defined before it
            out.extend(_definition(piece, ctx))
        for piece in _assignments(part):  # `a \gets 0; b \gets 1` or `$a \gets 0$, $b \gets 1$`
            try:
                out.extend(_statement(piece, ctx))
            except Untranslatable:
                listed = _phrase_list(piece, ctx)
                if listed is not None:  # `add $g$ to $gv$, $a$ to $av$, and $b$ to $bv$`
                    out.extend(listed)
                    continue
                code, note = _prose_after(piece)
                if note is None:
                    code, note = _assignment_in_words(piece)
                if note is None:
                    raise
                out.extend(_statement(code, ctx))
                comment = f"{note}; {comment}" if comment else note
    return out, comment


def _phrase_list(toks: list[Tok], ctx: P.Ctx) -> list[ast.stmt] | None:
    """One verb for several objects (`add $g$ to $gv$, $a$ to $av$, and $b$ to $bv$`): each piece,
    with the verb of the first, a phrase of its own; None unless all of them are."""
    seps = top_level(toks, lambda t: not t.math and (t.kind == "op" and t.value == "," or t.kind == "kw"
                                                     and t.value == "and"))
    pieces = [p for p in split(toks, seps) if p]
    if len(pieces) < 2 or pieces[0][0].math or pieces[0][0].kind not in ("name", "kw"):
        return None
    verb = pieces[0][0]
    out: list[ast.stmt] = []
    for piece in pieces:
        if piece[0].math or piece[0].kind in ("num", "const", "str"):
            piece = [verb] + piece
        done = phrases.match(phrases.STATEMENTS, piece, ctx)
        if done is None:
            return None
        out.extend(done)
    return out


def _where(toks: list[Tok]) -> tuple[list[Tok], list[list[Tok]]]:
    """`$P_t = P_{t-1} v_t$, where $P_0 = 1$`, `\\Return $p$ where $p_k = e_k / Z$`: the statement,
    and the definitions (maths only, each an equation or assignment) its `where` adds."""
    at = top_level(toks, lambda t: t.kind == "kw" and t.value == "where" and not t.math)
    if len(at) != 1 or at[0] == 0:
        return toks, []
    code, rest = toks[: at[0]], toks[at[0] + 1 :]
    while code and code[-1].kind == "op" and code[-1].value == "," and not code[-1].math:
        code = code[:-1]
    pieces = _assignments(rest)
    if not code or not pieces or not all(p and all(t.math for t in p) and (_gets_count(p) == 1 or _equals_count(p) == 1)
                                         for p in pieces):
        return toks, []
    return code, pieces


def _definition(toks: list[Tok], ctx: P.Ctx) -> list[ast.stmt]:
    """One `where` definition: an assignment, or, when its left side is indexed by a name the
    algorithm has not bound (`p_k = e_k / Z`), the whole array, entry by entry over the positions
    of an array the right side reads at that index."""
    (st,) = _statement(toks, ctx)
    if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Subscript)
            and isinstance(st.targets[0].value, ast.Name) and isinstance(st.targets[0].slice, ast.Name)):
        return [st]
    var = st.targets[0].slice.id
    if var in ctx.open_loops or var in ctx.params | ctx.declared or var in ctx.known and var not in ctx.loop_ranges:
        return [st]  # bound here (a loop around it, an input, a variable): one entry
    read = [n.value.id for n in ast.walk(st.value) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
            and isinstance(n.slice, ast.Name) and n.slice.id == var]
    if not read:
        P.fail(f"cannot tell which values {var} runs over")
    rng = P.mark(P.call("range", [P.call("len", [ast.Name(id=read[0], ctx=ast.Load())])]), positions_of=read[0])
    gen = ast.comprehension(target=ast.Name(id=var, ctx=ast.Store()), iter=rng, ifs=[], is_async=0)
    name = st.targets[0].value.id
    ctx.known.add(name)
    return [ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())],
                       value=ast.ListComp(elt=st.value, generators=[gen]))]


def _descriptions(toks: list[Tok], ctx: P.Ctx) -> bool:
    """`name = words` (several, split by `;` or `,`): each name set equal to a description in words
    (never a value the phrase table knows, `$C = $ empty list`)."""
    parts = [p for p in split(toks, top_level(toks, lambda t: t.kind == "op" and t.value in (";", ","))) if p]
    if not parts or not all(len(p) >= 4 and p[0].kind == "name" and p[1].kind == "op" and p[1].value == "="
                            and all(t.kind in ("name", "kw") and not t.math for t in p[2:]) for p in parts):
        return False
    for p in parts:
        try:
            if phrases.match(phrases.VALUES, p[2:], ctx) is not None:
                return False
        except Untranslatable:
            pass
    return True


# words that make a line control flow, never a remark or a step's name (`for $i = 1$ to $n$:`, `otherwise:`)
_CONTROL_WORDS = {"for", "foreach", "while", "if", "else", "elif", "elseif", "otherwise", "when", "unless", "until",
                  "repeat", "loop", "do", "return", "each", "every", "all", "then", "break", "continue"}


def _heading(toks: list[Tok], text: str) -> bool:
    """A line of words (maths allowed inside) that starts with a word and ends with a colon."""
    return len(toks) > 1 and toks[0].kind == "name" and not toks[0].math and toks[0].style == "prose" \
        and not any(not t.math and t.value.lower() in _CONTROL_WORDS for t in toks) \
        and re.sub(r"(?:\\;|\s)+$", "", text).endswith(":") \
        and not top_level(toks, lambda t: t.kind == "op" and t.value == "gets")


def _unlabelled(toks: list[Tok]) -> list[Tok]:
    """`Compute gradient: $g \\gets 2(x - c)$`: a few words naming the step, a colon, then the statement
    (any statement after a numbered step name, `Step 2: output $s$`)."""
    colon = next((k for k, t in enumerate(toks) if t.kind == "op" and t.value == ":" and not t.math), None)
    if colon is None or not 1 <= colon <= 4:
        return toks
    if not all(not t.math and (t.kind == "kw" or t.kind == "name" and t.style == "prose" or t.kind == "num")
               and t.value.lower() not in _CONTROL_WORDS for t in toks[:colon]):
        return toks
    rest = toks[colon + 1 :]
    numbered = toks[0].kind != "num" and toks[colon - 1].kind == "num"  # `Step 2:`, `Phase 1:`: a step's number
    lead = rest[: next((k for k, t in enumerate(rest) if not t.math), len(rest))]
    if rest and (numbered or lead and top_level(lead, lambda t: t.kind == "op" and t.value in ("gets", "="))):
        return rest  # (the assignment may go on in words: `Initialization: $N(a) \\gets 0$ for all $a \\in A$`)
    return toks


# words that continue a statement rather than start a remark about it
_CONTINUING = {"for", "if", "with", "where", "when", "while", "until", "unless", "and", "or", "such", "then",
               "else", "otherwise", "to", "by", "from", "in", "of", "on", "onto", "into", "at", "as", "is", "are",
               "do", "times", "each", "every", "all", "not", "be", "twice", "thrice", "except", "without", "instead",
               "only", "never"}


def _prose_after(toks: list[Tok]) -> tuple[list[Tok], str | None]:
    """`$m = S[1]$ initialize the running maximum`, `$R[b] = S[b] / m$ i.e., store ...`: an assignment
    in maths followed by a remark in words; (the assignment, the remark), or (toks, None)."""
    k = 0
    while k < len(toks) and toks[k].math:
        k += 1
    code, rest = toks[:k], toks[k:]
    if not code or not rest or rest[0].kind not in ("name", "kw") or rest[0].value.lower() in _CONTINUING \
            or not top_level(code, lambda t: t.kind == "op" and t.value in ("gets", "=")) \
            or code[-1].kind == "op" and code[-1].value in ("gets", "="):
        return toks, None
    return code, " ".join(t.value for t in rest)


# words that change what a statement does (a loop, a condition, a negation, a count): a line
# holding one of them is never read as its maths alone
_MEANING_WORDS = _CONTROL_WORDS | {"not", "unless", "except", "without", "twice", "times", "never", "only", "either",
                                   "neither", "nor", "or", "and", "whenever", "otherwise", "instead", "unless"}


def _assignment_in_words(toks: list[Tok]) -> tuple[list[Tok], str | None]:
    """`Finally we obtain $t \\gets 2s$`, `初始化 $r \\gets a$`: the one assignment in maths that a
    line of words holds, the words a remark; (toks, None) unless the line has exactly one run of
    maths, it assigns (`\\gets`), and no word changes what it does."""
    runs, k = [], 0
    while k < len(toks):
        if toks[k].math:
            j = k
            while j < len(toks) and toks[j].math:
                j += 1
            runs.append((k, j))
            k = j
        else:
            k += 1
    if len(runs) != 1:
        return toks, None
    a, b = runs[0]
    code, words = toks[a:b], toks[:a] + toks[b:]
    if not words or len(top_level(code, lambda t: t.kind == "op" and t.value == "gets")) != 1 \
            or code[0].kind != "name" or code[-1].kind == "op" and code[-1].value == "gets" \
            or any(t.value.lower() in _MEANING_WORDS or t.kind == "const" for t in words):
        return toks, None
    return code, " ".join(t.value for t in words)


def _assignments(toks: list[Tok]) -> list[list[Tok]]:
    """Split a line at prose commas / `and` when every piece is an assignment; and a math span
    holding several (`$a \\gets 0, b \\gets 1$`) at its commas."""
    if not toks:
        return []
    seps = top_level(toks, lambda t: not t.math and ((t.kind == "op" and t.value == ",")
                                                      or (t.kind == "kw" and t.value == "and")))
    pieces = split(toks, seps)
    if len(pieces) > 1 and all(_gets_count(p) or _equals_count(p) == 1 for p in pieces):
        return pieces  # `$i \\gets 0$, $j \\gets 0$` or `$i = 1$, $j = 1$`
    if _gets_count(toks) > 1:
        pieces = split(toks, top_level(toks, lambda t: t.kind == "op" and t.value == ","))
        if all(_gets_count(p) == 1 for p in pieces):
            return pieces
    return [toks]


def _equals_count(toks: list[Tok]) -> int:
    return len(top_level(toks, lambda t: t.kind == "op" and t.value == "="))


def _gets_count(toks: list[Tok]) -> int:
    return len(top_level(toks, lambda t: t.kind == "op" and t.value == "gets"))


def _statement(toks: list[Tok], ctx: P.Ctx) -> list[ast.stmt]:
    if not toks:
        P.fail("nothing to do on this line")
    first = toks[0]
    if first.kind == "kw" and first.value == "let":  # `let $A$ be an array ... indexed by ...`
        done = phrases.match(phrases.STATEMENTS, toks, ctx)
        if done is not None:
            return done
    declared = _typed_declaration(toks, ctx)
    if declared is not None:
        return declared
    filled = _fill_for_all(toks, ctx)
    if filled is not None:
        return filled
    if first.kind == "kw":
        handler = _KEYWORD_LINES.get(first.value)
        if handler is _swap_words:
            return _swap_words(toks[1:], ctx, first)
        if handler is not None:
            return handler(toks[1:], ctx)
    if any(not t.math and t.kind in ("name", "kw") for t in toks):
        done = phrases.match(phrases.STATEMENTS, toks, ctx)
        if done is not None:
            return done
    if len(toks) >= 3 and toks[-1].value == toks[-2].value and toks[-1].value in ("+", "-") \
            and toks[-1].kind == "op":  # x++ / x--
        op = ast.Add() if toks[-1].value == "+" else ast.Sub()
        return [ast.AugAssign(target=store(parse_all(toks[:-2], ctx), ctx), op=op, value=P.const(1))]
    cond_if = top_level(toks, lambda t: t.kind == "kw" and t.value == "if" and not t.math)
    if cond_if and cond_if[0] > 0 and not top_level(toks, lambda t: t.kind == "kw" and t.value == "else"):
        k = cond_if[0]  # `$x \\gets 0$ \\textbf{if} $x < 0$`: the statement, when the condition holds
        return [ast.If(test=parse_all(toks[k + 1 :], ctx, tuple_ok=False), body=_statement(toks[:k], ctx), orelse=[])]
    swaps = top_level(toks, lambda t: t.kind == "op" and t.value == "swap")
    if len(swaps) == 1:
        a, b = split(toks, swaps)
        return [_swap(parse_all(a, ctx), parse_all(b, ctx), ctx)]
    gets = top_level(toks, lambda t: t.kind == "op" and t.value == "gets")
    if not gets:
        gets = top_level(toks, lambda t: t.kind == "op" and t.value == "=")[:1]
    if gets:
        assign = _assign(split(toks, gets), ctx)
        return _extract_min(assign, ctx) or [assign]
    aug = top_level(toks, lambda t: t.kind == "op" and t.value in ("+=", "-=", "*="))
    if len(aug) == 1:
        target, value = split(toks, aug)
        op = {"+=": ast.Add, "-=": ast.Sub, "*=": ast.Mult}[toks[aug[0]].value]()
        return [ast.AugAssign(target=store(parse_all(target, ctx), ctx), op=op, value=parse_all(value, ctx))]
    e = parse_all(toks, ctx)
    return [_call_statement(e, ctx)]


# C and Java types that open a declaration (`int[$n+1$][$m+1$] $D$`, `int $D[n][m]$`), and what a new
# array of that type holds
_TYPES = {"int": 0, "integer": 0, "long": 0, "float": 0, "double": 0, "real": 0, "bool": False, "boolean": False,
          "char": "", "string": ""}


def _typed_declaration(toks: list[Tok], ctx: P.Ctx) -> list[ast.stmt] | None:
    """A declaration written the C way: a type, sizes in brackets (after the type or after the name),
    then the name: an array of that many zeros (False, ""); a plain `int $x$` declares nothing."""
    if len(toks) < 2 or toks[0].math or toks[0].value.lower() not in _TYPES:
        return None
    rest, dims = toks[1:], []
    while rest and rest[0].value == "[" and not rest[0].math:
        close = next((k for k, t in enumerate(rest) if t.value == "]" and not t.math), None)
        if close is None or close == 1:
            return None
        dims.append(rest[1:close])
        rest = rest[close + 1 :]
    if rest and not rest[0].math and rest[0].kind == "name" and not dims:
        return _declared_in_words(toks[0].value.lower(), rest, ctx)  # `float Scores[N] = 0`
    if not rest or not all(t.math for t in rest) or rest[0].kind != "name":
        return None
    target = parse_all(rest, ctx)
    if isinstance(target, ast.Subscript) and not dims:  # `int $D[n][m]$`
        inner: list[ast.Subscript] = []
        node = target
        while isinstance(node, ast.Subscript):
            inner.insert(0, node)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        value: ast.expr = P.const(_TYPES[toks[0].value.lower()])
        for sub in reversed(inner):
            value = P.repeat(value, sub.slice)
        ctx.known.add(node.id)
        return [ast.Assign(targets=[ast.Name(id=node.id, ctx=ast.Store())], value=value)]
    if not isinstance(target, ast.Name):
        return None
    ctx.known.add(target.id)
    if not dims:
        return []  # `int $x$`: the name is declared, its value comes later
    value = P.const(_TYPES[toks[0].value.lower()])
    for dim in reversed(dims):
        value = P.repeat(value, parse_all(dim, ctx))
    return [ast.Assign(targets=[ast.Name(id=target.id, ctx=ast.Store())], value=value)]


def _declared_in_words(kind: str, rest: list[Tok], ctx: P.Ctx) -> list[ast.stmt] | None:
    """`float Scores[N] = 0`, `int Length[N]` written as text: the name, its sizes in brackets after
    it, and the value every entry starts with (the type's zero when none is given)."""
    name, k, dims = variable_name(rest[0].value), 1, []
    while k < len(rest) and rest[k].value == "[":
        close = next((j for j in range(k + 1, len(rest)) if rest[j].value == "]"), None)
        if close is None or close == k + 1:
            return None
        dims.append(parse_all([dataclasses.replace(t, math=True) for t in rest[k + 1 : close]], ctx))
        k = close + 1
    value: ast.expr = P.const(_TYPES[kind])
    if k < len(rest) and rest[k].kind == "op" and rest[k].value in ("=", "gets") and k + 1 < len(rest):
        value = parse_all([dataclasses.replace(t, math=True) for t in rest[k + 1 :]], ctx)
    elif k != len(rest):
        return None
    ctx.known.add(name)
    for dim in reversed(dims):
        value = P.repeat(value, dim)
    return [ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)]


def _call_statement(e: ast.expr, ctx: P.Ctx) -> ast.stmt:
    if P.meta(e, "reversed_of"):  # \\Call{Reverse}{$L$} on its own line: L reversed in place
        return ast.Expr(value=P.method(e.value, "reverse", []))
    if not isinstance(e, ast.Call):
        P.fail("this line is an expression, not a statement")
    fname = e.func.id if isinstance(e.func, ast.Name) else ""
    if fname.rstrip("_") in ("swap", "exchange") and fname.rstrip("_") not in ctx.functions:
        ctx.unknown_calls.discard(fname)
        if len(e.args) == 2:
            return _swap(e.args[0], e.args[1], ctx)
        if len(e.args) == 3:
            arr, i, j = e.args
            a = P.mark(ast.Subscript(value=arr, slice=i, ctx=ast.Load()), index=True)
            b = P.mark(ast.Subscript(value=copy.deepcopy(arr), slice=j, ctx=ast.Load()), index=True)
            return _swap(a, b, ctx)
    return ast.Expr(value=e)


def _return(rest: list[Tok], ctx: P.Ctx) -> list[ast.stmt]:
    gets = top_level(rest, lambda t: t.kind == "op" and t.value == "gets")
    if gets:  # `\\textbf{return} $\\mu \\gets s / n$`: assign, then return what was assigned
        assign = _assign(split(rest, gets), ctx)
        return [assign, ast.Return(value=copy.deepcopy(assign.targets[0]))]
    pair = _values_and(rest, ctx)
    if pair is not None:  # `\\KwRet{$V$ and $\\pi$}`: both results
        return [ast.Return(value=pair)]
    value = value_of(rest, ctx) if rest else None  # also `\\Return an empty list`
    return [ast.Return(value=_family(_named_result(value), ctx))]


def _values_and(rest: list[Tok], ctx: P.Ctx) -> ast.expr | None:
    """Values (never conditions) in maths of their own joined by a word `and`: a tuple of them."""
    if len(rest) > 2 and rest[0].value == "{" and rest[-1].value == "}" and not rest[0].math:
        rest = rest[1:-1]  # `\\KwRet{...}`
    ands = top_level(rest, lambda t: not t.math and t.kind == "kw" and t.value == "and")
    pieces = split(rest, ands)
    if not ands or not all(p and all(t.math for t in p) for p in pieces):
        return None
    values = [parse_all(p, ctx) for p in pieces]
    if not all(isinstance(v, (ast.Name, ast.Subscript, ast.Attribute, ast.Tuple)) for v in values):
        return None  # `$t < \\infty$ and $t \\le \\tau$`: one condition
    return ast.Tuple(elts=values, ctx=ast.Load())


def _family(value: ast.expr | None, ctx: P.Ctx) -> ast.expr | None:
    """`\\Return $\\{A_i\\}$` after the loop over i: all the entries, i.e. the array A itself."""
    if isinstance(value, ast.Set) and len(value.elts) == 1 and isinstance(value.elts[0], ast.Subscript) \
            and isinstance(value.elts[0].value, ast.Name) and isinstance(value.elts[0].slice, ast.Name) \
            and value.elts[0].slice.id not in ctx.open_loops and value.elts[0].slice.id not in ctx.params:
        return ast.Name(id=value.elts[0].value.id, ctx=ast.Load())
    return value


def _named_result(value: ast.expr | None) -> ast.expr | None:
    """`\\Return $\\mathbf{m} = (m_1, \\ldots, m_T)$`: the result named, then spelled out from its
    own entries: the right side (never a test of m against its entries)."""
    if isinstance(value, ast.Compare) and len(value.ops) == 1 and isinstance(value.ops[0], ast.Eq) \
            and isinstance(value.left, ast.Name):
        right = value.comparators[0]
        if any(isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == value.left.id
               for n in ast.walk(right)):
            return right
    return value


def _jump(kind: type) -> callable:
    def handler(rest: list[Tok], ctx: P.Ctx) -> list[ast.stmt]:
        if rest and not (len(rest) == 1 and rest[0].kind == "kw" and rest[0].value in ("loop", "end")):
            P.fail("unexpected words after break/continue")
        return [kind()]

    return handler


def _print(rest: list[Tok], ctx: P.Ctx) -> list[ast.stmt]:
    e = parse_all(rest, ctx) if rest else None
    args = [] if e is None else list(e.elts) if isinstance(e, ast.Tuple) else [e]
    return [ast.Expr(value=P.call("print", [part for a in args for part in _printed(a)]))]


def _printed(e: ast.expr) -> list[ast.expr]:
    """`print "shift" s`: a text next to a value is two things printed, never text times s."""
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
        parts = _printed(e.left) + _printed(e.right)
        if any(isinstance(x, ast.Constant) and isinstance(x.value, str) for x in parts):
            return parts
    return [e]


def _swap_words(rest: list[Tok], ctx: P.Ctx, verb: Tok | None = None) -> list[ast.stmt]:
    if verb is not None:  # `swap the $i$-th and the $j$-th entries of $A$`: a phrase
        done = phrases.match(phrases.STATEMENTS, [verb] + rest, ctx)
        if done is not None:
            return done
    if len(rest) > 2 and rest[0].value == "(" and rest[-1].value == ")" and not rest[0].math \
            and top_level(rest[1:-1], lambda t: t.kind == "op" and t.value == ","):
        return _statement([Tok("name", "swap", verb.at if verb else rest[0].at, True, "roman")]
                          + [dataclasses.replace(t, math=True) for t in rest], ctx)  # Swap($A[i]$, $A[m]$)
    sep = top_level(rest, lambda t: (t.kind == "kw" and t.value in ("with", "and"))
                    or (t.kind == "op" and t.value == ","))
    if len(sep) != 1:
        P.fail("exchange/swap needs two things to swap")
    a, b = split(rest, sep)
    return [_swap(parse_all(a, ctx), parse_all(b, ctx), ctx)]


def _swap(a: ast.expr, b: ast.expr, ctx: P.Ctx) -> ast.stmt:
    targets = ast.Tuple(elts=[store(copy.deepcopy(a), ctx), store(copy.deepcopy(b), ctx)], ctx=ast.Store())
    return ast.Assign(targets=[targets], value=ast.Tuple(elts=[b, a], ctx=ast.Load()))


def _step(rest: list[Tok], ctx: P.Ctx, op: ast.operator) -> list[ast.stmt]:
    by = top_level(rest, lambda t: t.kind == "kw" and t.value == "by")
    target, amount = (split(rest, by[:1]) if by else (rest, []))
    value = parse_all(amount, ctx) if amount else P.const(1)
    return [ast.AugAssign(target=store(parse_all(target, ctx), ctx), op=op, value=value)]


def _let(rest: list[Tok], ctx: P.Ctx) -> list[ast.stmt]:
    be = top_level(rest, lambda t: t.kind == "kw" and t.value == "be")
    if not be:
        return _statement(rest, ctx)  # let x \gets 0
    names, what = rest[: be[0]], rest[be[0] + 1 :]
    words = {t.value for t in what if t.kind == "kw"}
    bounded = any(t.kind == "op" and t.value in ("..", "...") for t in names)  # let $L[1..n][1..n]$ be a table of zeros
    if "new" not in words and "empty" not in words and not bounded:  # let $n$ be the length of $A$
        return [ast.Assign(targets=[store(parse_all(names, ctx), ctx)], value=value_of(what, ctx))]
    init = _initial_value(what, ctx)
    sizes = [t for t in what if t.math]
    if sizes and top_level(sizes, lambda t: t.kind == "op" and t.value == "*"):
        value = phrases.grid(sizes, init, ctx)  # let $D^{(k)}$ be a new $n \times n$ matrix
        return [ast.Assign(targets=[store(parse_all(names, ctx), ctx)], value=value)]
    seps = top_level(names, lambda t: (t.kind == "kw" and t.value == "and") or (t.kind == "op" and t.value == ","))
    out: list[ast.stmt] = []
    for part in [p for p in split(names, seps) if p]:  # `$a$, $b$, and $c$`
        out.append(allocate(parse_all(part, ctx), init, ctx, is_set="set" in words and "array" not in words))
    return out


def _initial_value(what: list[Tok], ctx: P.Ctx) -> ast.expr:
    kws = [t.value for t in what if t.kind == "kw"]
    if "zeros" in kws or "zero" in kws:
        return P.const(0)
    if "empty" in kws and {"list", "lists", "queue", "stack", "array", "arrays"} & set(kws):
        return ast.List(elts=[], ctx=ast.Load())  # let B[0..9] be new empty lists
    mark = top_level(what, lambda t: t.kind == "kw" and t.value in ("initialized", "filled"))
    if mark:
        rest = what[mark[0] + 1 :]
        while rest and rest[0].kind == "kw" and rest[0].value in ("to", "with"):
            rest = rest[1:]
        return parse_all(rest, ctx)
    return P.const(None)


def allocate(spec: ast.expr, init: ast.expr, ctx: P.Ctx, size: ast.expr | None = None,
             is_set: bool = False) -> ast.stmt:
    """`A[0..n]` (or A with `size` elements) filled with `init`; the declared lower bound is kept."""
    dims: list[ast.Slice] = []
    while isinstance(spec, ast.Subscript) and isinstance(spec.slice, ast.Slice):
        dims.insert(0, spec.slice)
        spec = spec.value
    if not isinstance(spec, ast.Name):
        P.fail("cannot tell which array to allocate")
    ctx.known.add(spec.id)
    if not dims and size is not None:
        value = P.repeat(init, size)
        return ast.Assign(targets=[ast.Name(id=spec.id, ctx=ast.Store())], value=value)
    if not dims:
        if is_set:
            ctx.sets.add(spec.id)
        value: ast.expr = P.empty_set() if is_set else ast.List(elts=[], ctx=ast.Load())
        return ast.Assign(targets=[ast.Name(id=spec.id, ctx=ast.Store())], value=value)
    value = init
    for dim in reversed(dims):
        value = P.repeat(value, _size(dim))
    lows = [P.int_value(d.lower) for d in dims]
    node = ast.Assign(targets=[ast.Name(id=spec.id, ctx=ast.Store())], value=value)
    if len(lows) > 1 and len(set(lows)) > 1 and all(lo is not None for lo in lows):  # `s[1..n-1, 2..n]`
        P.mark(node, alloc_dims=(spec.id, tuple(lows)))
    return P.mark(node, alloc=(spec.id, lows[0] if lows[0] is not None else 0))


def _size(dim: ast.Slice) -> ast.expr:
    lo = P.int_value(dim.lower)
    if lo is not None:
        return P.add_const(dim.upper, 1 - lo)
    return P.add_const(P.binop(dim.upper, ast.Sub(), dim.lower), 1)


def _assign(parts: list[list[Tok]], ctx: P.Ctx) -> ast.stmt:
    if any(not p for p in parts):
        P.fail("an assignment with a missing side")
    for p in parts[:-1]:  # `d(v) \\gets ...`: nothing can be assigned to a call, so d is an array
        primes = 1
        while primes < len(p) and p[primes].value == "'":  # `N'(u) := ...`
            primes += 1
        if len(p) >= 3 + primes and p[0].kind == "name" and p[primes].value == "(" and p[-1].value == ")" \
                and variable_name(p[0].value) not in ctx.functions.values():
            ctx.call_arrays.add(variable_name(p[0].value + "_prime" * (primes - 1)) if primes > 1
                                else variable_name(p[0].value))
        opening = _after_script(p, 1) if len(p) >= 6 and p[0].kind == "name" and p[1].value == "_" else None
        if opening is not None and p[opening].value == "(" and p[-1].value == ")":
            ctx.call_arrays.add(variable_name(p[0].value))  # `\\alpha_t(j) \\gets ...`: a table by t, then j
            ctx.collections.add(variable_name(p[0].value))
    right, dims = _space_annotation(parts[-1], ctx)
    value = value_of(right, ctx) if dims is None else _filled_space(right, dims, ctx)
    if dims is not None:  # `w := 0 \in \mathbb{R}^m`: a vector (or matrix) of m entries
        for p in parts[:-1]:
            if len(p) == 1 and p[0].kind == "name":
                ctx.vectors.add(variable_name(p[0].value))
    if isinstance(value, ast.Name) and value.id in ("epsilon", "varepsilon") and not ctx.collecting \
            and value.id not in ctx.params | ctx.declared | ctx.known:
        value = ast.Constant("")  # `$c \\gets \\epsilon$` with no tolerance named: the empty string
    targets = [_layer_target(parse_all(p, ctx), ctx) for p in parts[:-1]]
    if len(targets) == 1 and _new_range(targets[0], ctx):
        root = targets[0]
        while isinstance(root, ast.Subscript):
            root = root.value
        ctx.allocated.add(root.id)
        return allocate(targets[0], value, ctx)  # count[0..n] = 0 with count not yet created
    if P.meta(value, "unsized_fill"):
        P.fail("an array of no stated size")
    if P.meta(value, "set_of"):  # Q \\gets \\{0, \\ldots, n - 1\\}: a set the algorithm changes
        value = P.call("set", [value])
    if is_number(value):  # `add $x$ to $total$` will add to it
        ctx.numbers.update(t.id for t in targets if isinstance(t, ast.Name))
    if isinstance(value, (ast.List, ast.ListComp)) or isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
            and value.func.id in ("sorted", "list", "reversed"):  # `r \gets sort(m)`: r_1 is its first entry
        ctx.collections.update(t.id for t in targets if isinstance(t, ast.Name))
    if isinstance(value, ast.Constant) and isinstance(value.value, str):  # `append $c$ to $s$` will concatenate
        ctx.strings.update(t.id for t in targets if isinstance(t, ast.Name))
    if P.is_empty_set(value) or P.meta(value, "set_of") or isinstance(value, (ast.Set, ast.SetComp)) or \
            isinstance(value, ast.Call) and \
            isinstance(value.func, ast.Name) and value.func.id == "set":
        ctx.sets.update(t.id for t in targets if isinstance(t, ast.Name))
        ctx.set_families.update(P.root_name(t) for t in targets if isinstance(t, ast.Subscript) and P.root_name(t))
    node = ast.Assign(targets=[store(t, ctx) for t in targets], value=value)
    low = P.meta(value, "first_index")
    if low is not None and len(targets) == 1 and isinstance(targets[0], ast.Name):  # `an array indexed with 0, ..`
        ctx.allocated.add(targets[0].id)
        return P.mark(node, alloc=(targets[0].id, low))
    return node


def _after_script(toks: list[Tok], k: int) -> int | None:
    """The position after the script that the `_` (or `^`) at k opens: one token or a brace group."""
    if k + 1 >= len(toks):
        return None
    if toks[k + 1].value != "{":
        return k + 2 if k + 2 < len(toks) else None
    depth = 0
    for j in range(k + 1, len(toks)):
        depth += {"{": 1, "}": -1}.get(toks[j].value, 0) if toks[j].kind == "op" else 0
        if depth == 0:
            return j + 1 if j + 1 < len(toks) else None
    return None


def _space_annotation(toks: list[Tok], ctx: P.Ctx) -> tuple[list[Tok], list[Tok] | None]:
    """`0 \\in \\mathbb{R}^{m}`, `(1, \\ldots, 1)^\\top \\in \\mathbb{R}^n`: the value and the space's
    sizes (`m`, `n \\times m`); (toks, None) when the value is not said to lie in a space of numbers."""
    at = top_level(toks, lambda t: t.kind == "op" and t.value == "in")
    if len(at) != 1 or at[0] + 2 >= len(toks):
        return toks, None
    space = toks[at[0] + 1 :]
    if not (space[0].kind == "name" and space[0].style == "numbers" and space[1].value == "^"):
        return toks, None
    dims = [t for t in space[2:] if t.value not in ("{", "}")]
    return toks[: at[0]], dims or None


def _filled_space(toks: list[Tok], dims: list[Tok], ctx: P.Ctx) -> ast.expr:
    """The value of `x \\gets v \\in \\mathbb{R}^{dims}`: a number v fills the whole vector (matrix), and
    so does `(c, \\ldots, c)` (transposed or not); anything else is kept as written."""
    while len(toks) > 2 and toks[-2].value == "^" and (toks[-1].kind == "const" and toks[-1].value == "True"
                                                       or toks[-1].value in ("T", "top", "intercal")):
        toks = toks[:-2]
    if len(toks) == 3 and toks[0].value == "{s" and toks[-1].value == "}s" and toks[1].kind == "num":
        toks = toks[1:2]  # `\{0\} \in \mathbb{R}^{n \times n}`: every entry 0
    if len(toks) >= 7 and toks[0].value == "(" and toks[-1].value == ")":  # (1, \ldots, 1)
        inner = [t for t in toks[1:-1] if t.value not in (",", "...")]
        if inner and all(t.kind == "num" and t.value == inner[0].value for t in inner):
            toks = inner[:1]
    value = value_of(toks, ctx)
    if is_number(value):
        return phrases.grid(dims, value, ctx)
    return value


_EXTRACT = {"extract_min": "min", "extractmin": "min", "delete_min": "min", "remove_min": "min", "pop_min": "min",
            "extract_max": "max", "extractmax": "max", "delete_max": "max", "remove_max": "max", "pop_max": "max"}
_KEYS = ("key", "d", "dist", "distance", "cost", "priority")


def _extract_min(assign: ast.Assign, ctx: P.Ctx) -> list[ast.stmt] | None:
    """`$u \\gets \\textsc{Extract-Min}(Q)$` (CLRS): the least element of Q by the algorithm's key
    array (key, d, dist, ... when it has one; else by value), taken out of Q."""
    v = assign.value
    if not (isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in _EXTRACT
            and len(v.args) == 1 and v.func.id not in ctx.functions.values()):
        return None
    ctx.unknown_calls.discard(v.func.id)
    queue, keywords = v.args[0], []
    key = next((k for k in _KEYS if k in ctx.collections), None)  # known, or filled as d[v] <- .. only
    if key is not None:
        args = ast.arguments(posonlyargs=[], args=[ast.arg(arg="_e")], kwonlyargs=[], kw_defaults=[], defaults=[])
        entry = P.mark(ast.Subscript(value=ast.Name(id=key, ctx=ast.Load()), slice=ast.Name(id="_e", ctx=ast.Load()),
                                     ctx=ast.Load()), index=True)
        keywords = [ast.keyword(arg="key", value=ast.Lambda(args=args, body=entry))]
    assign.value = P.call(_EXTRACT[v.func.id], [queue], keywords)
    target = copy.deepcopy(assign.targets[0])
    target.ctx = ast.Load()
    return [assign, ast.Expr(value=P.method(copy.deepcopy(queue), "remove", [target]))]


def _layer_target(target: ast.expr, ctx: P.Ctx) -> ast.expr:
    """`D^{0} \\gets W`: nothing can be assigned to a power, so the superscript numbers D's layers;
    so does `\\theta^{(t+1)} \\gets ..` (read as an index until the name is seen assigned so)."""
    if isinstance(target, ast.Subscript) and P.meta(target, "superscript") and isinstance(target.value, ast.Name):
        ctx.layered.add(target.value.id)
        return P.mark(target, index=False, layer=True, superscript=False)
    if isinstance(target, ast.BinOp) and isinstance(target.op, ast.Pow) and isinstance(target.left, ast.Name):
        ctx.layered.add(target.left.id)
        ctx.collections.add(target.left.id)
        return P.mark(ast.Subscript(value=target.left, slice=target.right, ctx=ast.Load()), layer=True)
    return target


def is_number(value: ast.expr) -> bool:
    """A number literal (or -x, or infinity): the variable it is assigned to holds a number."""
    if isinstance(value, ast.UnaryOp):
        value = value.operand
    if isinstance(value, ast.Attribute):
        return value.attr == "inf"
    return isinstance(value, ast.Constant) and type(value.value) in (int, float)


def value_of(toks: list[Tok], ctx: P.Ctx) -> ast.expr:
    """The right side of an assignment: maths, one of the phrases (`an empty stack`), or a choice
    written in words (`$lo$ \\textbf{if} $x < lo$ \\textbf{else} $x$`)."""
    cond_if = top_level(toks, lambda t: t.kind == "kw" and t.value == "if" and not t.math)
    other = top_level(toks, lambda t: t.kind == "kw" and t.value in ("else", "otherwise") and not t.math)
    if cond_if and other and 0 < cond_if[0] < other[0]:
        k, e = cond_if[0], other[0]
        return ast.IfExp(test=parse_all(toks[k + 1 : e], ctx, tuple_ok=False), body=value_of(toks[:k], ctx),
                         orelse=value_of(toks[e + 1 :], ctx))
    order = _order_words(toks)
    if order is not None:  # `$\mathrm{sort}(s)$ in descending order`, `$A$ sorted in increasing order`
        head, down = order
        value = _sorted_value(value_of(head, ctx))
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "sorted":
            value.keywords = [ast.keyword(arg="reverse", value=P.const(True))] if down else []
            return value
    try:
        return _sorted_value(parse_all(toks, ctx))
    except Untranslatable:
        value = phrases.match(phrases.VALUES, toks, ctx)
        if value is None:
            raise
        return value


_ORDERS = {"increasing": False, "ascending": False, "nondecreasing": False, "non-decreasing": False,
           "decreasing": True, "descending": True, "nonincreasing": True, "non-increasing": True}


def _order_words(toks: list[Tok]) -> tuple[list[Tok], bool] | None:
    """`... in decreasing order` at the end of a value: the value, and whether largest first."""
    words = [t.value.lower() for t in toks[-3:]]
    if len(toks) < 4 or any(t.math for t in toks[-3:]) or words[0] != "in" or words[2] != "order" \
            or words[1] not in _ORDERS:
        return None
    return toks[:-3], _ORDERS[words[1]]


def _sorted_value(value: ast.expr) -> ast.expr:
    """`sort(s)` used as a value is a sorted copy (`s.sort()` would give None)."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "sort" \
            and not value.args:
        return P.call("sorted", [value.func.value], value.keywords)
    return value


def _new_range(target: ast.expr, ctx: P.Ctx) -> bool:
    """`C[0..k]` (or `C[1..n, 1..m]`) on the left with C never created: the line allocates C."""
    while isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Slice) \
            and P.meta(target.slice, "inclusive"):
        target = target.value
        if isinstance(target, ast.Name):
            return target.id not in ctx.known or target.id in ctx.allocated
    return False


def _inline_if(rest: list[Tok], ctx: P.Ctx) -> list[ast.stmt]:
    """`\\textbf{if} $c$ \\textbf{then} $x \\gets 1$ [\\textbf{else} ...]` on one line."""
    then = top_level(rest, lambda t: t.kind == "kw" and t.value == "then")
    if not then:
        P.fail("a one-line if needs `then`")
    cond, body = rest[: then[0]], rest[then[0] + 1 :]
    end = top_level(body, lambda t: t.kind == "kw" and t.value == "end")
    if end and all(t.value in ("if", "~") for t in body[end[-1] + 1 :]):
        body = body[: end[-1]]  # `... \\textbf{then break end~if}`
    other = top_level(body, lambda t: t.kind == "kw" and t.value == "else")
    body, orelse = (body[: other[0]], body[other[0] + 1 :]) if other else (body, [])
    return [ast.If(test=parse_all(cond, ctx, tuple_ok=False), body=_statement(body, ctx),
                   orelse=_statement(orelse, ctx) if orelse else [])]


_KEYWORD_LINES = {
    "if": _inline_if,
    "return": _return,
    "returns": _return,
    "break": _jump(ast.Break),
    "continue": _jump(ast.Continue),
    "print": _print,
    "output": lambda rest, ctx: [P.mark(st, output=True) for st in _print(rest, ctx)],
    "exchange": _swap_words,
    "swap": _swap_words,
    "let": _let,
    "increment": lambda rest, ctx: _step(rest, ctx, ast.Add()),
    "decrement": lambda rest, ctx: _step(rest, ctx, ast.Sub()),
}


def statement_tokens(toks: list[Tok], ctx: P.Ctx) -> list[ast.stmt]:
    """Statements for tokens already read (a phrase's body)."""
    return _statement(toks, ctx)


def condition(text: str, ctx: P.Ctx) -> ast.expr:
    toks, _ = tokens(text)
    return parse_all(toks, ctx, tuple_ok=False)


def for_header(text: str, ctx: P.Ctx) -> ast.For:
    from qtk.tools.transpile_paper.loops import for_tokens

    toks, _ = tokens(text)
    return for_tokens(toks, ctx)


phrases.PARSERS.__dict__.update(allocate=allocate, is_number=is_number, value_of=value_of,
                               statement_tokens=statement_tokens)


def _fill_for_all(toks: list[Tok], ctx: P.Ctx) -> list[ast.stmt] | None:
    """`$T[i][j] \\gets v \\hfill \\forall i \\hfill \\forall j$` (or `\\forall i, j`): every entry of T
    starts as v, over ranges the line does not give: a table that reads every key it was not given as v."""
    names: list[str] = []
    k = len(toks)
    while k >= 2 and toks[k - 1].kind == "name":
        run = k - 1
        while run >= 2 and toks[run - 1].kind == "op" and toks[run - 1].value == "," and toks[run - 2].kind == "name":
            run -= 2
        if toks[run - 1].kind != "cmd" or toks[run - 1].value != "forall":
            break
        names = [t.value for t in toks[run:k:2]] + names
        k = run - 1
    if not names or k == len(toks):
        gets = top_level(toks, lambda t: t.kind == "op" and t.value in ("gets", "="))
        quant = top_level(toks, lambda t: t.kind == "cmd" and t.value == "forall")
        if gets and quant and quant[0] > gets[0] and quant[0] + 1 < len(toks) \
                and any(t.kind == "name" and t.value == toks[quant[0] + 1].value for t in toks[: gets[0]]):
            # `T[i][j] \\gets 0 \\ \\forall i \\in [1, n]`: a fill over ranges, never a product with `all`
            raise Untranslatable("an entry set for all indices in given ranges")
        return None
    gets = top_level(toks[:k], lambda t: t.kind == "op" and t.value in ("gets", "="))
    if len(gets) != 1:
        return None
    target = parse_all(toks[: gets[0]], ctx)
    indices: list[str] = []
    while isinstance(target, ast.Subscript):
        parts = target.slice.elts if isinstance(target.slice, ast.Tuple) else [target.slice]
        if not all(isinstance(x, ast.Name) for x in parts):
            return None
        indices = [x.id for x in parts] + indices
        target = target.value
    if not isinstance(target, ast.Name) or sorted(indices) != sorted(names):
        return None
    value = parse_all(toks[gets[0] + 1 : k], ctx)
    args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
    table = P.mark(P.call("collections.defaultdict", [ast.Lambda(args=args, body=value)]), map=True)
    return [P.mark(ast.Assign(targets=[store(target, ctx)], value=table), filled_table=target.id)]
