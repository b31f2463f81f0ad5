"""Everyday pseudo-code English: a table of phrases, each a pattern and what it means in Python.

A line's tokens are read as a *signature*: text words in lower case, and each run of maths
(`$...$`, or a constant such as \\TRUE set in text) as a numbered slot `$0`, `$1`, ... A phrase
is a regular expression over that signature whose named groups catch slots; its builder parses
the caught maths and returns Python. Two tables: whole statements (`push $v$ onto $S$`,
`create an array $d$ of $n$ elements initialized to $\\infty$`, `$K[c] \\gets 0$ for $c = 0,
\\ldots, W$`) and values on the right of an assignment (`an empty stack`, `pop $S$`, `length of
$Y$`, `an $n \\times p$ matrix of zeros`). Add a phrase by adding a row (and a test).
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from typing import Callable

from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.linetokens import split, top_level
from qtk.tools.transpile_paper.mathparse import parse_all
from qtk.tools.transpile_paper.mathtok import Tok
from qtk.tools.transpile_paper.pyast import store

# Phrases turn words into statements, and some of them (`for all $i$: ...`) hold a statement of
# their own: statements.py hands its parsers to pyast.PARSERS when it loads (so that phrases,
# loops and statements do not import each other in a circle).
PARSERS = P.PARSERS


@dataclass
class Phrase:
    name: str
    patterns: list[re.Pattern]  # any of them, matched against the whole signature
    build: Callable  # (slots: dict[str, list[Tok] | None], ctx) -> list[ast.stmt] | ast.expr


def signature(toks: list[Tok]) -> tuple[str, list[list[Tok]]]:
    """`push $v$ onto $S$` -> ("push $0 onto $1", [[v], [S]])."""
    sig, slots, _ = _signature(toks)
    return sig, slots


def _signature(toks: list[Tok], variables: frozenset[str] = frozenset()) -> tuple[str, list[list[Tok]],
                                                                                  list[tuple[int, int, int, int]]]:
    """The signature, its slots, and for each word (start, end) in the text with (first, last + 1)
    token, so that a group of any words can be mapped back to tokens. A word that is one of
    `variables` (`append $c$ to cipher` after `cipher \\gets` an empty list) is a slot too."""
    words: list[str] = []
    spans: list[list[int]] = []  # first token, last token + 1, per word
    slots: list[list[Tok]] = []
    in_slot = False
    for k, t in enumerate(toks):
        if t.math or t.kind in ("const", "num", "str") \
                or t.kind == "name" and (t.style != "prose" or t.value in variables):
            if not in_slot:
                slots.append([])
                words.append(f"${len(slots) - 1}")
                spans.append([k, k + 1])
                in_slot = True
            slots[-1].append(t)
            spans[-1][1] = k + 1
            continue
        in_slot = False
        if t.kind == "op" and t.value in (",", ";", ":") and words:
            words[-1] += t.value  # punctuation sticks to the word before: `entries, all $1`
            spans[-1][1] = k + 1
        else:
            words.append(t.value.lower())
            spans.append([k, k + 1])
    places, at = [], 0
    for w, (first, last) in zip(words, spans):
        places.append((at, at + len(w), first, last))
        at += len(w) + 1
    return " ".join(words), slots, places


def match(table: list[Phrase], toks: list[Tok], ctx: P.Ctx):
    """The first phrase of `table` that matches the whole line, built; None if none does. A group
    that is one slot gets that slot's tokens; a group over several words (`(?P<rest>.+)`) gets
    all their tokens."""
    sig, slots, places = _signature(toks)
    words = {t.value for t in toks if t.kind == "name" and t.style == "prose" and not t.math}
    variables = frozenset(w for w in words & ctx.known if len(w) > 2 and w.lower() not in _NOT_VARIABLES)
    if variables:  # try the words as words first, then the variables among them as slots
        signatures = [(sig, slots, places), _signature(toks, variables)]
    else:
        signatures = [(sig, slots, places)]
    for sig, slots, places in signatures:
        built = _match_signature(table, toks, ctx, sig, slots, places)
        if built is not None:
            return built
    return None


# words of the phrases themselves, never read as a variable of the same name
_NOT_VARIABLES = {"the", "and", "all", "each", "every", "from", "onto", "into", "with", "end", "back", "front", "top",
                  "list", "stack", "queue", "set", "array", "empty", "new", "first", "last", "element", "elements"}


def _match_signature(table, toks, ctx, sig, slots, places):
    for phrase in table:
        m = next((m for p in phrase.patterns if (m := p.fullmatch(sig))), None)
        if m is None:
            continue
        caught = {}
        for k, v in m.groupdict().items():
            if v and re.fullmatch(r"\$\d+", v):
                caught[k] = slots[int(v[1:])]
            elif v and (k.startswith("rest") or k in _SPANS):
                inside = [(f, l) for a, b, f, l in places if a < m.end(k) and b > m.start(k)]  # `even,`: the word
                span = toks[inside[0][0] : inside[-1][1]] if inside else []
                while span and span[-1].kind == "op" and span[-1].value in (",", ";", ":") and not span[-1].math:
                    span = span[:-1]  # its comma stays outside the group
                caught[k] = span or None
            else:
                caught[k] = v
        return phrase.build(caught, ctx)
    return None


# groups that may span several words (a condition: `$x$ is even`, `$v$ is not in $S$`)
_SPANS = {"cond"}


def _re(text: str) -> list[re.Pattern]:
    """Pattern shorthand: `{x}` is a slot named x (`{cond}` a slot and any words after it); `ART `
    is an optional article (a, an, the, new); ` || ` separates alternatives (each may name the same
    slots)."""
    text = text.replace("{cond}", r"(?P<cond>\$\d+.*?)")  # a condition may go on in words: `$A[i]$ is true`
    text = re.sub(r"\{(\w+)\}", r"(?P<\1>\\$\\d+)", text)
    text = text.replace("ART ", "(?:(?:a|an|the) )?(?:new )?")
    return [re.compile(alt) for alt in text.split(" || ")]


def _expr(toks: list[Tok] | None, ctx: P.Ctx) -> ast.expr:
    return parse_all(toks, ctx) if toks else P.const(None)


# ---- statements -------------------------------------------------------------------------

_SEQ = r"(?:array|list|vector|table|sequence|matrix)"
_FILL = r"(?:,? (?:all )?(?:initiali[sz]ed |filled |set )?(?:to|with) {v})?"


def _allocate(s, ctx) -> list[ast.stmt]:
    allocate = PARSERS.allocate

    zeros = s.get("zeros") is not None or s.get("zeros2") is not None
    init = P.const(0) if zeros else _expr(s.get("v"), ctx)
    names = [_named(s[k], ctx) for k in ("x", "y") if s.get(k)]
    if s.get("dims"):  # `create an $n \\times n$ matrix $C$`, `let $L$ and $M$ be new $n \\times n$ matrices`
        return [ast.Assign(targets=[store_name(t, ctx)], value=grid(s["dims"], init, ctx)) for t in names]
    target = names[0]
    if s.get("n") and top_level(s["n"], lambda t: t.kind == "op" and t.value == "*"):  # `of size $T \\times L$`
        return [ast.Assign(targets=[store_name(target, ctx)], value=grid(s["n"], init, ctx))]
    size = parse_all(s["n"], ctx) if s.get("n") else None
    return [allocate(target, init, ctx, size)]


def _named(toks: list[Tok], ctx: P.Ctx) -> ast.expr:
    """`$M = (m_{ij})$` (CLRS names a matrix and its entries): the matrix, M."""
    eq = top_level(toks, lambda t: t.kind == "op" and t.value == "=")
    return parse_all(toks[: eq[0]] if eq else toks, ctx)


def store_name(target: ast.expr, ctx: P.Ctx) -> ast.expr:

    return store(target, ctx)


def _allocate_range(s, ctx) -> list[ast.stmt]:
    """`Let $A$ be an array ... indexed by integers $0$ to $n$, initially all set to true`."""
    allocate = PARSERS.allocate

    bounds = P.mark(ast.Slice(lower=parse_all(s["lo"], ctx), upper=parse_all(s["hi"], ctx)), inclusive=True)
    spec = ast.Subscript(value=parse_all(s["x"], ctx), slice=bounds, ctx=ast.Load())
    return [allocate(spec, _expr(s.get("v"), ctx), ctx)]


def _append(s, ctx) -> list[ast.stmt]:
    items = s.get("item") or s["rest_item"]
    ands = top_level(items, lambda t: not t.math and t.kind == "kw" and t.value == "and")
    if ands:  # `append $L[i..|L|]$ and $R[j..|R|]$ to $S$`: one after the other
        return [st for part in split(items, ands) for st in _append({"coll": s["coll"], "item": part}, ctx)]
    coll, item = _expr(s["coll"], ctx), _expr(items, ctx)
    if isinstance(item, ast.Subscript) and isinstance(item.slice, ast.Slice) and not \
            (isinstance(coll, ast.Name) and coll.id in ctx.sets):
        call = P.method(coll, "extend", [item])  # a run of entries: each of them
        if P.meta(item.slice, "colon") and P.root_name(item):  # Python's x[i:j]: maybe one piece (indexing.py)
            P.mark(call, chunk=P.root_name(item))
        return [ast.Expr(value=call)]
    if isinstance(coll, ast.Name) and (coll.id in ctx.numbers or coll.id in ctx.strings):  # `add $x$ to $total$`
        return _update(ast.Add())({"x": s["coll"], "v": items}, ctx)
    verb = "add" if isinstance(coll, ast.Name) and coll.id in ctx.sets else "append"
    return [ast.Expr(value=P.method(coll, verb, [item]))]


def _update(op: ast.operator):
    """`increase $x$ by $d$`, `subtract $d$ from $x$`, `multiply $x$ by $2$`: x op= d."""
    def build(s, ctx) -> list[ast.stmt]:

        target = store(parse_all(s["x"], ctx), ctx)
        return [ast.AugAssign(target=target, op=op, value=_expr(s["v"], ctx) if s.get("v") else P.const(1))]

    return build


def _verb_then_code(s, ctx) -> list[ast.stmt]:
    """`compute $s = \\sum_i x_i$`, `update $w \\gets w - g$`: the maths is the statement."""
    statement_tokens = PARSERS.statement_tokens

    return statement_tokens(s["code"], ctx)


def _remove(s, ctx) -> list[ast.stmt]:
    coll, item = _expr(s["coll"], ctx), _expr(s["item"], ctx)
    verb = "discard" if isinstance(coll, ast.Name) and coll.id in ctx.sets else "remove"
    return [ast.Expr(value=P.method(coll, verb, [item]))]


def _pop_into(front: bool):
    def build(s, ctx) -> list[ast.stmt]:

        value = P.method(_expr(s["coll"], ctx), "pop", [P.const(0)] if front else [])
        if s.get("item") is None:
            return [ast.Expr(value=value)]
        return [ast.Assign(targets=[store(parse_all(s["item"], ctx), ctx)], value=value)]

    return build


def _method(verb: str):
    def build(s, ctx) -> list[ast.stmt]:
        return [ast.Expr(value=P.method(_expr(s["coll"], ctx), verb, []))]

    return build


def _reverse(s, ctx) -> list[ast.stmt]:
    """`reverse $A$`; `reverse $A[i + 1..n]$` reverses that part of A in place (not a copy of it)."""
    coll = _expr(s["coll"], ctx)
    if isinstance(coll, ast.Subscript) and isinstance(coll.slice, ast.Slice):
        target = copy.deepcopy(coll)
        target.ctx = ast.Store()
        backwards = ast.Subscript(value=coll, slice=ast.Slice(lower=None, upper=None, step=P.const(-1)),
                                  ctx=ast.Load())
        return [ast.Assign(targets=[target], value=backwards)]
    return [ast.Expr(value=P.method(coll, "reverse", []))]


def _descending(order: str | None) -> bool:
    """`decreasing`, `descending`, `non-increasing` (`nonincreasing`): largest first."""
    order = (order or "").replace("-", "")
    return order in ("decreasing", "descending", "nonincreasing")


def _sort(s, ctx) -> list[ast.stmt]:
    down = _descending(s.get("order")) or _descending(s.get("byorder"))
    keywords = [ast.keyword(arg="reverse", value=P.const(True))] if down else []
    coll = _expr(s["coll"], ctx)
    key = (s.get("key") or "").rstrip("s")
    parts = ctx.element_names.get(coll.id, []) if isinstance(coll, ast.Name) else []
    named = s.get("keyname")  # `sort $E$ by increasing weight $w$`: the part of each element named w
    keyname = named[0].value if named and len(named) == 1 and named[0].kind == "name" else None
    pick = next((k for k, name in enumerate(parts) if keyname and name == keyname), None)
    if pick is None:
        pick = next((k for k, name in enumerate(parts) if key and (name == key or name == key[0])), None)
    if pick is not None:  # `sort $E$ by weight` with `for each $(u, v, w) \\in E$`: by the w of each edge
        args = ast.arguments(posonlyargs=[], args=[ast.arg(arg="_e")], kwonlyargs=[], kw_defaults=[], defaults=[])
        keywords.append(ast.keyword(arg="key", value=ast.Lambda(args=args, body=ast.Subscript(
            value=ast.Name(id="_e", ctx=ast.Load()), slice=P.const(pick), ctx=ast.Load()))))
    elif key and key not in ("start", "first", "left", "beginning", "value"):
        P.fail(f"cannot tell which part of each element is its {key}")
    call = P.method(coll, "sort", [])
    call.keywords = keywords
    return [ast.Expr(value=call)]


_FIRST_PART = ("left", "start", "first", "lower", "beginning", "starting", "begin")
_LAST_PART = ("right", "end", "finish", "last", "upper", "ending", "finishing")


def _sort_named(s, ctx) -> list[ast.stmt]:
    """`sort the intervals by their left ends` with the intervals given as `[a_1, b_1], \\ldots, [a_n,
    b_n]`: the parallel arrays a and b reordered together by a (by b for the right ends)."""
    names = ctx.parallel.get(s["noun"])
    if names is None:
        P.fail(f"cannot tell which lists `the {s['noun']}` are")
    key = s["key"]
    if key in _FIRST_PART:
        by = names[0]
    elif key in _LAST_PART:
        by = names[-1]
    elif key in names:
        by = key
    else:
        P.fail(f"cannot tell which part of the {s['noun']} is their {key}")
    k = ast.Name(id="_k", ctx=ast.Load())
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg="_k")], kwonlyargs=[], kw_defaults=[], defaults=[])
    keywords = [ast.keyword(arg="key", value=ast.Lambda(args=args, body=ast.Subscript(
        value=ast.Name(id=by, ctx=ast.Load()), slice=k, ctx=ast.Load())))]
    if _descending(s.get("order")):
        keywords.append(ast.keyword(arg="reverse", value=P.const(True)))
    order = ast.Assign(targets=[ast.Name(id="_order", ctx=ast.Store())], value=P.call(
        "sorted", [P.call("range", [P.call("len", [ast.Name(id=by, ctx=ast.Load())])])], keywords))
    gen = [ast.comprehension(target=ast.Name(id="_k", ctx=ast.Store()), iter=ast.Name(id="_order", ctx=ast.Load()),
                             ifs=[], is_async=0)]
    moved = ast.Assign(targets=[ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Store()) for n in names], ctx=ast.Store())],
                       value=ast.Tuple(elts=[ast.ListComp(elt=ast.Subscript(value=ast.Name(id=n, ctx=ast.Load()),
                                                                            slice=copy.deepcopy(k), ctx=ast.Load()),
                                                          generators=copy.deepcopy(gen)) for n in names],
                                       ctx=ast.Load()))
    return [order, moved]


def _set_to(s, ctx) -> list[ast.stmt]:
    is_number, value_of = PARSERS.is_number, PARSERS.value_of

    target, value = store(parse_all(s["x"], ctx), ctx), value_of(s["rest"], ctx)
    if is_number(value) and isinstance(target, ast.Name):
        ctx.numbers.add(target.id)
    return [ast.Assign(targets=[target], value=value)]


def _choose(s, ctx) -> list[ast.stmt]:
    """`choose an element $u$ of $F$` (any one: the first); `pick and remove ...` also takes one out."""
    if s.get("remove") or s.get("remove2"):  # any element will do: the last of a list, any of a set
        value = P.method(_expr(s["coll"], ctx), "pop", [])
    else:
        value = _any_element(s, ctx)
    return [ast.Assign(targets=[store(parse_all(s["x"], ctx), ctx)], value=value)]


def _any_element(s, ctx) -> ast.expr:
    return P.call("next", [P.call("iter", [_expr(s["coll"], ctx)])])


def _entry(coll: list[Tok], k: list[Tok], ctx: P.Ctx) -> ast.expr:
    """The k-th entry of a collection (`the $i$-th element of $A$`), numbered as the algorithm numbers."""
    return P.mark(ast.Subscript(value=parse_all(coll, ctx), slice=parse_all(k, ctx), ctx=ast.Load()), index=True)


def _swap_entries(s, ctx) -> list[ast.stmt]:
    """`swap the $i$-th and the $j$-th entries of $A$`."""
    a, b = _entry(s["coll"], s["i"], ctx), _entry(s["coll"], s["j"], ctx)
    targets = ast.Tuple(elts=[store(copy.deepcopy(a), ctx), store(copy.deepcopy(b), ctx)], ctx=ast.Store())
    return [ast.Assign(targets=[targets], value=ast.Tuple(elts=[b, a], ctx=ast.Load()))]


def _remove_end(s, ctx) -> list[ast.stmt]:
    """`remove the first element $x$ from $L$`: x is L's first (or last, top) entry, taken out."""
    front = (s.get("end") or s.get("end2")) in ("first", "front", "head")
    value = P.method(_expr(s["coll"], ctx), "pop", [P.const(0)] if front else [])
    if s.get("x") is None:
        return [ast.Expr(value=value)]
    return [ast.Assign(targets=[store(parse_all(s["x"], ctx), ctx)], value=value)]


def _postfix_loop(s, ctx) -> list[ast.stmt]:
    """`$K[c] \\gets 0$ for $c = 0, \\ldots, W$`: the loop comes after its body."""
    from qtk.tools.transpile_paper.loops import for_tokens
    statement_tokens = PARSERS.statement_tokens

    noun = [Tok("name", s["noun"].strip(), 0, False, "prose")] if s.get("noun") else []
    loop = for_tokens(noun + s["loop"], ctx)
    P.meta(loop, "innermost", loop).body = statement_tokens(s["body"], ctx)
    return [loop]


def _new_set(s, ctx) -> list[ast.stmt]:
    """`create vertex set $Q$`, `initialize an empty set $S$`: S is a new, empty set."""
    target = store(parse_all(s["x"], ctx), ctx)
    if isinstance(target, ast.Name):
        ctx.sets.add(target.id)
    return [ast.Assign(targets=[target], value=P.empty_set())]


def _binary_digits(s, ctx) -> list[ast.stmt]:
    """`let the binary representation of $n$ be $(x_k \\cdots x_0)$`: x_i is bit i of n."""
    n = parse_all(s["n"], ctx)
    names = [t for k, t in enumerate(s["x"][:-1]) if t.kind == "name" and s["x"][k + 1].value == "_"]
    if not names:
        P.fail("cannot tell which name the digits have")
    x = variable_name(names[0].value)
    same = isinstance(n, ast.Name) and n.id == x  # `let <b_k, .., b_0> be the binary representation of b`
    if same:
        x = x + "_bits"
    ctx.known.add(x)
    ctx.collections.add(x)
    ctx.counts_from_zero.add(x)
    i = ast.Name(id="_i", ctx=ast.Load())
    bit = P.binop(P.binop(copy.deepcopy(n), ast.RShift(), i), ast.BitAnd(), P.const(1))
    gen = ast.comprehension(target=ast.Name(id="_i", ctx=ast.Store()), is_async=0, ifs=[],
                            iter=P.call("range", [P.method(n, "bit_length", [])]))
    node = ast.Assign(targets=[ast.Name(id=x, ctx=ast.Store())], value=ast.ListComp(elt=bit, generators=[gen]))
    out = [P.mark(node, entries_of=n.id) if same else node]  # b_i reads the bits, b stays the number
    first = s["x"].index(names[0])
    top = s["x"][first + 2] if first + 2 < len(s["x"]) else None
    if top is not None and top.kind == "name" and variable_name(top.value) not in ctx.params | ctx.declared:
        k = variable_name(top.value)  # `<b_k, .., b_0>`: k is the highest bit's position
        ctx.known.add(k)
        out.append(ast.Assign(targets=[ast.Name(id=k, ctx=ast.Store())],
                              value=P.add_const(P.call("len", [ast.Name(id=x, ctx=ast.Load())]), -1)))
    return out


STATEMENTS: list[Phrase] = [
    Phrase("new set", _re(r"(?:create|make|initiali[sz]e|declare) ART (?:empty )?(?:(?:vertex|node|edge|element) )?set"
                          r" {x}(?: (?:to be )?empty)?"), _new_set),
    Phrase("allocate", _re(r"(?:create|initiali[sz]e|allocate|make|declare|let) ART (?:{dims} )?" + _SEQ + r" {x}"
                           r"(?: of (?:size |length )?{n}(?: (?:elements|entries|items|cells)|(?P<zeros> zeros))?)?"
                           r"(?: with (?P<zeros2>zeros))?" + _FILL), _allocate),
    Phrase("indexed allocate", _re(r"(?:let|make|create|declare) {x} be ART " + _SEQ + r"(?: of [\w-]+ values)?,? indexed by"
                                   r" (?:the )?(?:integers )?(?:from )?{lo} (?:to|through|\.\.) {hi}"
                                   r"(?:,? (?:initially )?(?:all )?(?:set to|equal to|initiali[sz]ed to) {v})?\.?"),
           _allocate_range),
    Phrase("allocate named first", _re(r"(?:create|initiali[sz]e|allocate|make|declare|let) {x} (?:as|to be|be) ART "
                                       + _SEQ + r" of (?:size |length )?{n}(?: (?:elements|entries|items|cells))?"
                                       + _FILL + r" || (?:create|initiali[sz]e|allocate|make|declare|let)"
                                       r" {x}(?: and {y})?"
                                       r" (?:as|to be|be) ART {dims} (?:" + _SEQ + r"|matrices|arrays|tables|vectors)"
                                       + _FILL + r" || (?:let|make|declare) {x} be ART " + _SEQ
                                       + r"(?: of [\w-]+ values)?" + _FILL), _allocate),
    Phrase("push", _re(r"(?:push|append|add|insert|enqueue|put) (?P<rest_item>\$\d+(?: and \$\d+)*)"
                       r" (?:onto|on|to|into|in|(?:at|to|onto|on) the (?:end|back|tail|rear) of)"
                       r" (?:(?:the )?(?:list|stack|queue|set) )?{coll}"),
           _append),
    Phrase("push front", _re(r"(?:insert|put|add|push|prepend) {item} (?:at|to|onto) the (?:front|beginning|start|head)"
                             r" of {coll} || prepend {item} to {coll}"),
           lambda s, ctx: [ast.Expr(value=P.method(_expr(s["coll"], ctx), "insert",
                                                   [P.const(0), _expr(s["item"], ctx)]))]),
    Phrase("remove", _re(r"(?:remove|delete) {item} from {coll}"), _remove),
    Phrase("move", _re(r"move {item} from {src} (?:to|into|onto) {coll}"),
           lambda s, ctx: _remove({"item": s["item"], "coll": s["src"]}, ctx) + _append({"item": s["item"],
                                                                                          "coll": s["coll"]}, ctx)),
    Phrase("pop", _re(r"(?:pop|pop the top(?: element)?) (?:{item} )?(?:from|off|of) {coll} || pop {coll}"),
           _pop_into(False)),
    Phrase("dequeue", _re(r"dequeue (?:{item} )?from {coll} || dequeue {coll}"), _pop_into(True)),
    Phrase("make empty", _re(r"(?:make|set|initiali[sz]e) {x} (?:to )?(?:be )?ART empty (?P<kind>list|set|queue|stack"
                             r"|map|dictionary)"),
           lambda s, ctx: [ast.Assign(targets=[store(parse_all(s["x"], ctx), ctx)],
                                      value=_empty("set" if s["kind"] == "set" else "map" if s["kind"] in (
                                          "map", "dictionary") else "list")(s, ctx))]),
    Phrase("concatenate", _re(r"concatenate (?:the )?(?:lists |sequences |strings )?(?P<rest>.+?)"
                              r"(?: together)?(?: in order)?"),
           lambda s, ctx: [P.mark(ast.Expr(value=P.call("print", [_concatenate_all(s, ctx)])), output=True)]),
    Phrase("sort", _re(r"sort (?:(?:the )?(?:list|array|sequence|edges|elements|items|points) )?{coll}(?: in (?P<order>"
                       r"increasing|ascending|non-?decreasing|decreasing|descending|non-?increasing) order"
                       r"| lexicographically| in lexicographic(?:al)? order)?"
                       r"(?: by (?:their |its |the )?(?:(?P<byorder>non-?decreasing|increasing|decreasing|non-?increasing) )?"
                       r"(?P<key>[a-z]+)(?: (?:point|endpoint|time|coordinate|element))?(?: {keyname})?)?"
                       r"(?: (?:with|using|by) (?:an? )?[a-z-]+ sort)?"), _sort),
    Phrase("sort named", _re(r"sort (?:the |all )?(?P<noun>[a-z]+) (?:in (?P<order>increasing|ascending|non-?decreasing"
                             r"|decreasing|descending|non-?increasing) order )?by (?:their |its |the )?"
                             r"(?P<key>[a-z]+)(?: (?:ends?|endpoints?|points?|coordinates?|values?|elements?))?"),
           _sort_named),
    Phrase("reverse", _re(r"reverse {coll}"), _reverse),
    Phrase("binary digits", _re(r"(?:let|write) (?:the )?binary (?:representation|expansion|digits) of {n} (?:be|as|is)"
                                r" {x}\.? || write {n} in binary as {x}\.? || let {x} be the binary"
                                r" (?:representation|expansion|digits) of {n}\.?"), _binary_digits),
    Phrase("set", _re(r"(?:set|assign|initiali[sz]e|init|reset) (?:the )?(?:[a-z-]+ ){0,2}{x}"
                      r" (?:to|:=|as|with|equal to) (?P<rest>.+)"), _set_to),
    Phrase("remove end", _re(r"(?:remove|take|pop|delete|extract) the (?P<end>first|last|front|top)"
                             r" (?:element|item|entry)(?: {x})? (?:from|of|off) {coll}"
                             r" || (?:pop|remove|delete|drop|discard) the (?P<end2>back|front|head|tail|rear|end)"
                             r"(?: (?:element|item|entry))? (?:of|from|off) (?:the (?:queue|deque|list) )?{coll}"),
           _remove_end),
    Phrase("choose", _re(r"(?:pick|choose|select|take|extract|get)(?P<remove> and remove)?"
                         r" (?:(?:any|a|an|some|one|an arbitrary) )?(?:(?:element|item|member|vertex|node|entry) )?"
                         r"{x} (?:from|of|in) {coll}"
                         r" || (?P<remove2>remove|delete|take out) (?:any|a|an|some|one|an arbitrary)"
                         r" (?:(?:element|item|member|vertex|node|entry) )?{x} from {coll}"), _choose),
    Phrase("swap entries", _re(r"(?:swap|exchange|interchange) the {i} - ?th (?:(?:entry|element|item) )?(?:and|with)"
                               r" the {j} - ?th (?:entries|elements|items|entry|element|item) (?:of|in) {coll}"),
           _swap_entries),
    Phrase("increase", _re(r"(?:increase|raise|increment) {x} by {v}"), _update(ast.Add())),
    Phrase("decrease", _re(r"(?:decrease|lower|reduce) {x} by {v} || subtract {v} from {x}"), _update(ast.Sub())),
    Phrase("scale", _re(r"multiply {x} by {v}"), _update(ast.Mult())),
    Phrase("divide", _re(r"divide {x} by {v}"), _update(ast.Div())),
    Phrase("compute", _re(r"(?:compute|calculate|evaluate|update|let|set|obtain|assign|store|initiali[sz]e|init)"
                          r" (?:the )?(?:[a-z-]+ ){0,3}{code}"),
           _verb_then_code),
    Phrase("postfix loop", _re(r"(?:(?:initiali[sz]e|set|let) )?{body},? for (?:all |each |every )?"
                               r"(?P<noun>[a-z]+ )?{loop}"),
           _postfix_loop),
    Phrase("prefix loop", _re(r"for (?:all |each |every )?(?:\w+ )?{loop}(?::|,) {body}"), _postfix_loop),
]


# ---- values (the right side of an assignment) -------------------------------------------

def _empty(kind: str):
    def build(s, ctx) -> ast.expr:
        if kind == "set":
            return P.empty_set()
        if kind == "map":
            return P.mark(ast.Dict(keys=[], values=[]), map=True)
        if kind == "string":
            return ast.Constant("")
        return ast.List(elts=[], ctx=ast.Load())

    return build


def _default_map(s, ctx) -> ast.expr:
    """`an empty map with default value $0$`: a map that reads missing keys as 0."""
    args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
    return P.mark(P.call("collections.defaultdict", [ast.Lambda(args=args, body=_expr(s["v"], ctx))]), map=True)


def _map_each(s, ctx) -> ast.expr:
    """`a mapping of each letter in $s$ onto $0$`: a map with one key per element, all set to v."""
    key = "_key"
    gen = ast.comprehension(target=ast.Name(id=key, ctx=ast.Store()), iter=_expr(s["coll"], ctx), ifs=[], is_async=0)
    return P.mark(ast.DictComp(key=ast.Name(id=key, ctx=ast.Load()), value=_expr(s["v"], ctx), generators=[gen]),
                  map=True)


def _containing(s, ctx) -> ast.expr:
    """`a queue containing $s$`, `a set containing $u$ and $v$`: a new collection holding them."""
    toks = s["rest"]
    seps = top_level(toks, lambda t: not t.math and (t.value == "," or t.kind == "kw" and t.value == "and"))
    elts = []
    for part in split(toks, seps):
        if part:
            item = parse_all(part, ctx)
            elts.extend(item.elts if isinstance(item, ast.Tuple) and len(part) > 1 and part[0].value != "(" else [item])
    if s["kind"] == "set":
        return ast.Set(elts=elts)
    return ast.List(elts=elts, ctx=ast.Load())


def _best_element(s, ctx) -> ast.expr:
    """`the unvisited vertex with the smallest $d[u]$`, `the vertex $u$ in $Q$ with minimum $d[u]$`:
    min/max over the candidates (the set named, else the key array's positions), skipping those an
    `un-` word rules out when the algorithm has that array (`visited`) or a trailing condition
    (`with $M_i = 0$`) rules out."""
    # `the index of the largest $s_i$`: i is bound by the phrase, so s_i is an entry of s, not a label
    bound = {t.value for k, t in enumerate(s["key"][2:], 2) if t.kind == "name" and len(t.value) == 1
             and s["key"][k - 1].value == "_" and s["key"][k - 2].kind == "name"} - ctx.known
    ctx.known |= bound
    try:
        key = parse_all(s["key"], ctx)
        cond = parse_all(s["cond"], ctx) if s.get("cond") else None
    finally:
        ctx.known -= bound
    var = next((n.slice.id for n in ast.walk(key) if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Name)),
               None)
    if var is None:
        P.fail("cannot tell which element the key ranges over")
    if s.get("coll"):
        candidates: ast.expr = _expr(s["coll"], ctx)
    else:
        arr = next(n.value for n in ast.walk(key) if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Name))
        root = arr
        while isinstance(root, ast.Subscript):
            root = root.value
        candidates = P.mark(P.call("range", [P.call("len", [copy.deepcopy(arr)])]),
                            positions_of=root.id if isinstance(root, ast.Name) else None)
    adj = (s.get("adj") or "").strip()
    ifs = [cond] if cond is not None else []  # `the index of the largest $s_i$ with $M_i = 0$`
    if adj.startswith("un") and adj[2:] in ctx.known | ctx.collections:  # unvisited -> not visited[u]
        flag = P.mark(ast.Subscript(value=ast.Name(id=adj[2:], ctx=ast.Load()), slice=ast.Name(id=var, ctx=ast.Load()),
                                    ctx=ast.Load()), index=True)
        ifs.append(ast.UnaryOp(op=ast.Not(), operand=flag))
    if s.get("notin"):  # `the vertex not in the tree with ...`: not inTree[u] (the flag array naming it)
        flag_name = _flag_array(s["notin"], ctx)
        flag = P.mark(ast.Subscript(value=ast.Name(id=flag_name, ctx=ast.Load()), slice=ast.Name(id=var, ctx=ast.Load()),
                                    ctx=ast.Load()), index=True)
        ifs.append(ast.UnaryOp(op=ast.Not(), operand=flag))
    gen = ast.GeneratorExp(elt=ast.Name(id=var, ctx=ast.Load()), generators=[ast.comprehension(
        target=ast.Name(id=var, ctx=ast.Store()), iter=candidates, ifs=ifs, is_async=0)])
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=var)], kwonlyargs=[], kw_defaults=[], defaults=[])
    fn = "min" if s["which"] in ("smallest", "minimum", "least", "lowest", "minimal", "min") else "max"
    return P.call(fn, [gen], [ast.keyword(arg="key", value=ast.Lambda(args=args, body=key))])


def _flag_array(noun: str, ctx: P.Ctx) -> str:
    """The array of flags a noun names (`tree` -> inTree, in_tree, intree; `mst` -> inMST): the one
    the algorithm knows whose name, without an `in`/`is` prefix, is the noun."""
    want = noun.replace("-", "").lower()
    for name in sorted(ctx.known | ctx.collections):
        bare = name.replace("_", "").lower()
        if bare in ("in" + want, "is" + want, "on" + want):
            return name
    P.fail(f"cannot tell which array says what is in the {noun}")


def _all_vertices(s, ctx) -> ast.expr:
    """`the set of all vertices`: the graph's vertex set (a fresh set the algorithm may shrink)."""
    from qtk.tools.transpile_paper.loops import vertex_set

    vertices = vertex_set(ctx)
    if vertices is None:
        P.fail("cannot tell which graph's vertices")
    return P.call("set", [vertices])


def _all_with(s, ctx) -> ast.expr:
    """`the list (set) of all $v$ with $indeg[v] = 0$[, in increasing order]`: v over the positions of
    the array the condition indexes with it, in order."""
    var = parse_all(s["x"], ctx)
    if not isinstance(var, ast.Name):
        P.fail("`all ... with` over something other than a variable")
    ctx.known.add(var.id)
    cond = parse_all(s["cond"], ctx, tuple_ok=False)
    arrays = [n.value for n in ast.walk(cond) if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Name)
              and n.slice.id == var.id and isinstance(n.value, ast.Name)]
    if not arrays:
        P.fail("cannot tell what the variable ranges over")
    rng = P.mark(P.call("range", [P.call("len", [ast.Name(id=arrays[0].id, ctx=ast.Load())])]),
                 positions_of=arrays[0].id)
    gen = [ast.comprehension(target=ast.Name(id=var.id, ctx=ast.Store()), iter=rng, ifs=[cond], is_async=0)]
    if s["kind"] == "set":
        return ast.SetComp(elt=ast.Name(id=var.id, ctx=ast.Load()), generators=gen)
    return ast.ListComp(elt=ast.Name(id=var.id, ctx=ast.Load()), generators=gen)


def _concatenate_all(s, ctx) -> ast.expr:
    """`the concatenation of the lists $B[0], B[1], \\ldots, B[n-1]$`: their entries, in order."""
    toks = [t for t in s["rest"] if t.math or t.value == ","]
    parts = parse_all([Tok("op", "[", toks[0].at)] + toks + [Tok("op", "]", toks[-1].at)], ctx)
    if isinstance(parts, ast.Call) and getattr(parts.func, "id", "") == "list":
        parts = parts.args[0]
    gen = [ast.comprehension(target=ast.Name(id="_part", ctx=ast.Store()), iter=parts, ifs=[], is_async=0),
           ast.comprehension(target=ast.Name(id="_x", ctx=ast.Store()), iter=ast.Name(id="_part", ctx=ast.Load()),
                             ifs=[], is_async=0)]
    return ast.ListComp(elt=ast.Name(id="_x", ctx=ast.Load()), generators=gen)


def _sorted_copy(s, ctx) -> ast.expr:
    """`$x$ sorted in decreasing order`, `the relevances sorted ..` (an input the inputs named so)."""
    if s.get("coll"):
        coll = _expr(s["coll"], ctx)
    elif s.get("noun") in ctx.nouns:
        coll = ast.Name(id=ctx.nouns[s["noun"]], ctx=ast.Load())
    else:
        P.fail(f"cannot tell which collection `the {s.get('noun')}` is")
    order = s.get("order") or s.get("order2") or ""
    down = _descending(order)
    return P.call("sorted", [coll], [ast.keyword(arg="reverse", value=P.const(True))] if down else [])


def _positions_sorted(s, ctx) -> ast.expr:
    """`token ids sorted by decreasing $\\pi$`: the positions of the array $\\pi$ ordered by its values."""
    key = _expr(s["key"], ctx)
    if not isinstance(key, ast.Name):
        P.fail("the positions of what, sorted?")
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg="_i")], kwonlyargs=[], kw_defaults=[], defaults=[])
    by = ast.Lambda(args=args, body=ast.Subscript(value=ast.Name(id=key.id, ctx=ast.Load()),
                                                 slice=ast.Name(id="_i", ctx=ast.Load()), ctx=ast.Load()))
    keywords = [ast.keyword(arg="key", value=by)]
    if _descending(s.get("order") or s.get("order2") or ""):
        keywords.append(ast.keyword(arg="reverse", value=P.const(True)))
    return P.call("sorted", [P.call("range", [P.call("len", [ast.Name(id=key.id, ctx=ast.Load())])])], keywords)


def _queue_of(s, ctx) -> ast.expr:
    """`a min-priority queue holding $f_1, \\ldots, f_n$`: a list of those items (Extract-Min takes
    the least)."""
    toks = s["items"]
    items = parse_all([Tok("op", "[", toks[0].at)] + toks + [Tok("op", "]", toks[-1].at)], ctx)
    listed = isinstance(items, ast.List) or isinstance(items, ast.Call) and getattr(items.func, "id", "") == "list"
    return items if listed else P.call("list", [items])


def _zeros(s, ctx) -> ast.expr:
    """`an $(m + 1) \\times (n + 1)$ matrix of zeros`, `an array of $k + 1$ zeros`."""
    return _sized(s, P.const(0), ctx)


def _filled(s, ctx) -> ast.expr:
    """`an $n \\times m$ matrix filled with $\\infty$`, `an array of $|G|$ entries, all $-1$`."""
    return _sized(s, _expr(s.get("v"), ctx), ctx)


def _empty_lists(s, ctx) -> ast.expr:
    """`10 empty lists`: a list of that many fresh empty lists (sets)."""
    item = P.empty_set() if s["kind"] == "sets" else ast.List(elts=[], ctx=ast.Load())
    return P.repeat(item, parse_all(s["n"], ctx))


def _sized(s, init: ast.expr, ctx: P.Ctx) -> ast.expr:
    """`init` repeated to the sizes the phrase gives; with none (`$W[0..V] \\gets$ array of zeros`)
    the fill value alone, marked so that only an assignment to a declared range may take it."""
    size = s.get("dims") or s.get("n") or s.get("n2")
    if size is None:
        return P.mark(init, unsized_fill=True)
    return grid(size, init, ctx)


def grid(toks: list[Tok], init: ast.expr, ctx: P.Ctx) -> ast.expr:
    """Nested lists of `init` with the sizes `n \\times m` (or one size) the tokens give."""
    stars = top_level(toks, lambda t: t.kind == "op" and t.value == "*")
    dims = [parse_all(part, ctx) for part in split(toks, stars)]
    value = init
    for dim in reversed(dims):
        value = P.repeat(value, dim)
    return value


def _indexed_array(s, ctx) -> ast.expr:
    """`an array indexed with $0, \\dots, \\lfloor \\log n \\rfloor$` (or `from $1$ to $n$`): room for
    each index from the first to the last (the assignment keeps the first index, statements.py)."""
    if s.get("range"):
        toks = s["range"]
        cuts = top_level(toks, lambda t: t.kind == "op" and t.value in (",", "..", "..."))
        ends = [p for p in split(toks, cuts) if p]
        if len(ends) < 2:
            P.fail("an indexed array needs its first and last index")
        lo, hi = parse_all(ends[0], ctx), parse_all(ends[-1], ctx)
    else:
        lo, hi = parse_all(s["lo"], ctx), parse_all(s["hi"], ctx)
    low = P.int_value(lo)
    if low is None:
        P.fail("an array whose first index is not a number")
    return P.mark(P.repeat(P.const(None), P.add_const(hi, 1 - low)), first_index=low)


def _call_on(fname: str):
    def build(s, ctx) -> ast.expr:
        return P.builtin_call(fname, [_expr(s["coll"], ctx)])

    return build


VALUES: list[Phrase] = [
    Phrase("empty set", _re(r"ART empty set || ART set || empty"), _empty("set")),
    Phrase("map with default", _re(r"ART empty (?:map|dictionary|dict|hash table|hash map|mapping) with (?:a )?default"
                                   r" (?:value )?(?:of )?{v}"), _default_map),
    Phrase("map of each", _re(r"ART (?:map|mapping|dictionary|dict|hash table|hash map|table)"
                              r"(?: that maps| mapping| from)? (?:of )?(?:each|every|all|all the) (?:[\w-]+ )?"
                              r"(?:in|of|from) {coll} (?:onto|to) {v}"),
           _map_each),
    Phrase("empty map", _re(r"ART empty (?:map|dictionary|dict|hash table|hash map|mapping)"), _empty("map")),
    Phrase("all vertices", _re(r"(?:the )?set of all (?:the )?(?:vertices|nodes) || all (?:the )?(?:vertices|nodes)"),
           _all_vertices),
    Phrase("all with", _re(r"(?:the (?P<kind>list|set|queue|sequence) of )?all (?:(?:vertices|nodes|indices|elements) )?{x}"
                           r" (?:with|such that|for which|where) {cond}(?:,? in (?:increasing|ascending) order)?"),
           _all_with),
    Phrase("sorted copy", _re(r"{coll} sorted(?: in (?P<order>increasing|ascending|non-?decreasing|decreasing|descending"
                              r"|non-?increasing) order)? || the (?P<noun>[a-z]+) sorted(?: in (?P<order2>increasing|"
                              r"ascending|non-?decreasing|decreasing|descending|non-?increasing) order)?"), _sorted_copy),
    Phrase("best element", _re(r"(?:the )?(?:(?P<adj>[a-z-]+) )?(?:vertex|node|element|item|index|position|point)"
                               r"(?: {x})?(?: not (?:yet )?(?:in|part of) (?:the )?(?P<notin>[a-z-]+))?"
                               r"(?: (?:in|of|from) {coll})? (?:with|having|of) (?:the )?"
                               r"(?P<which>smallest|minimum|minimal|min|least|lowest|largest|maximum|max|highest|greatest)"
                               r"(?: value of| value)? {key}(?:,? (?:with|where|such that|for which) {cond})?"),
           _best_element),
    Phrase("collection containing", _re(r"ART (?P<kind>queue|stack|list|set|array|sequence) (?:containing|holding|with)"
                                        r"(?: only)? (?P<rest>\$\d+(?:,? (?:and )?\$\d+)*)"), _containing),
    Phrase("priority queue of", _re(r"ART (?:min-priority|min priority|priority|min-heap|min heap|heap) queue"
                                    r" (?:holding|containing|with|of|over|on) {items}"
                                    r" || ART (?:min-heap|min heap|heap) (?:holding|containing|with|of|over|on)"
                                    r" {items}"),
           _queue_of),
    Phrase("empty string", _re(r"ART empty (?:string|word|text) || ART string of length 0"), _empty("string")),
    Phrase("empty heap", _re(r"ART empty (?:binary )?(?:min-|min |max-|max )?(?:heap|priority queue)"),
           lambda s, ctx: P.mark(ast.List(elts=[], ctx=ast.Load()), heap=True)),
    Phrase("empty list", _re(r"ART empty (?:list|stack|queue|deque|double-ended queue|array|sequence|vector)"),
           _empty("list")),
    Phrase("zeros", _re(r"ART (?:{dims} )?" + _SEQ + r" of (?:{n} )?zeros(?: of (?:size|length) {n2})? || ART {dims} zero "
                        + _SEQ + r" || ART zero " + _SEQ + r" of (?:size|shape|length) {dims}"), _zeros),
    Phrase("empty lists", _re(r"{n} (?:new )?empty (?P<kind>lists|queues|stacks|sequences|arrays|sets)"), _empty_lists),
    Phrase("ones", _re(r"ART (?:{dims} )?" + _SEQ + r" of (?:{n} )?ones || ART {dims} " + _SEQ + r" of ones"),
           lambda s, ctx: _sized(s, P.const(1), ctx)),
    Phrase("sized", _re(r"ART {dims} " + _SEQ + r" || ART " + _SEQ + r" of (?:size|length) {dims}"), _filled),
    Phrase("filled", _re(r"ART {dims} " + _SEQ + r" (?:filled with|of|initiali[sz]ed to|all) {v}"
                         r" || ART " + _SEQ + r" of {n} (?:elements|entries|items|cells|values|integers|numbers)"
                         r"(?:,? (?:all|each|every one|initiali[sz]ed to|set to|equal to|filled with) {v})?"), _filled),
    Phrase("pop", _re(r"(?:pop|pop the top of|pop from) {coll}"), _call_on("pop")),
    Phrase("top", _re(r"(?:the )?top (?:element )?of {coll}"), _call_on("top")),
    Phrase("dequeue", _re(r"(?:dequeue|dequeue from|the front of|front of|(?:pop|remove|take) the (?:front|first"
                          r" element|head) (?:of|from)(?: the (?:queue|list))?) {coll}"), _call_on("dequeue")),
    Phrase("any element", _re(r"(?:any|an|some|one|an arbitrary|arbitrary|the first)"
                              r" (?:element|item|member|vertex|node|entry) (?:of|from|in) {coll}"), _any_element),
    Phrase("copy", _re(r"ART (?:copy|duplicate|clone) of {coll}"), lambda s, ctx: P.call("list", [_expr(s["coll"], ctx)])),
    Phrase("concatenation", _re(r"{a} (?:concatenated|joined) with {b} || ART concatenation of {a} and {b}"),
           lambda s, ctx: P.binop(_expr(s["a"], ctx), ast.Add(), _expr(s["b"], ctx))),
    Phrase("concatenation of all", _re(r"ART concatenation of (?:the )?(?:lists |sequences |strings )?(?P<rest>.+)"),
           _concatenate_all),
    Phrase("kth entry", _re(r"the {k} - ?th (?:entry|element|item|member) (?:of|in) {coll}"),
           lambda s, ctx: _entry(s["coll"], s["k"], ctx)),
    Phrase("rows", _re(r"(?:the )?number of (?P<what>rows|columns) (?:of|in) {coll}"),
           lambda s, ctx: P.call("len", [_expr(s["coll"], ctx) if s["what"] == "rows" else ast.Subscript(
               value=_expr(s["coll"], ctx), slice=P.const(0), ctx=ast.Load())])),
    Phrase("set of elements", _re(r"(?:the |a )?set of (?:the )?(?:distinct |different )?"
                                  r"(?:elements|entries|items|values|members) (?:of|in) {coll}"),
           lambda s, ctx: P.call("set", [_expr(s["coll"], ctx)])),
    Phrase("positions sorted by", _re(r"(?:the )?(?:[a-z-]+ ){0,2}(?:ids|indices|indexes|positions|numbers|labels)"
                                      r" sorted by (?:(?P<order>increasing|ascending|non-?decreasing|decreasing"
                                      r"|descending|non-?increasing) )?{key}"
                                      r"(?: in (?P<order2>increasing|ascending|non-?decreasing"
                                      r"|decreasing|descending|non-?increasing) order)?"), _positions_sorted),
    Phrase("indexed array", _re(r"ART (?:array|list|table|vector) (?:indexed|numbered) (?:with|by|over) (?:the )?"
                                r"(?:integers |indices )?{range} || ART (?:array|list|table|vector)"
                                r" (?:indexed|numbered) (?:from|by the integers from) {lo} (?:to|through) {hi}"),
           _indexed_array),
    Phrase("length", _re(r"(?:the )?(?:length|size|number of elements|number of entries) (?:of|in) {coll}"),
           _call_on("length")),
]

