"""Function parameters: from a procedure header (`\\Procedure{Merge}{$A, p, q, r$}`) or, when no
function is named, from \\Require / \\KwIn lines (`array $A[1..n]$, target $x$`, `$n = |A|$`).

Array declarations `A[lo..hi]` are kept: they tell the index-base pass where A starts, and a
bound such as `n` in `A[1..n]` that is not itself a parameter becomes `n = len(A)`; sizes stated in
words are read by sizes.py. Inputs named after function words (`gradient $g$`) are callable, after
collection words (`two strings $s$ and $t$`) collections.
"""

from __future__ import annotations

import ast

from qtk.tools.transpile_paper import pyast as P
from qtk.tools.transpile_paper.mathparse import parse_all
from qtk.tools.transpile_paper.mathtok import Tok, Untranslatable
from qtk.tools.transpile_paper.sizes import (
    ELEMENT_WORDS,
    RELATIONS,
    Params,
    columns,
    counts_collection,
    element_count,
    element_form,
    grid_dims,
    ident,
    indexed_family,
    interval_power,
    single_name,
    listed,
    sequence,
    size_equation,
    space_dims,
)
from qtk.tools.transpile_paper.latex_text import variable_name
from qtk.tools.transpile_paper.linetokens import split, tokens, top_level

_EACH_SEQUENCE = {"list", "vector", "array", "sequence", "row", "tuple", "string"}  # `each a list of $C$ ...`
# words that say the name after them is a function the block calls (`gradient $g$`: g(x) is a call)
_FUNCTION_WORDS = {"function", "functions", "gradient", "oracle", "map", "mapping", "operator", "loss",
                   "objective", "policy", "model", "kernel", "metric", "predicate", "comparator",
                   "heuristic", "callback", "procedure"}
# words that say the names after them are collections (so |s| is len(s), not abs(s))
_PLURAL_COLLECTIONS = {"words", "strings", "lists", "sets", "arrays", "sequences", "vectors", "tuples", "pairs",
                       "paths", "rows", "sentences", "documents"}
_COLLECTION_WORDS = {"string", "strings", "array", "arrays", "list", "lists", "sequence", "sequences",
                     "set", "sets", "vector", "vectors", "word", "words", "text", "matrix", "queue",
                     "stack", "multiset", "tuple", "permutation"}


def header_params(text: str, ctx: P.Ctx, out: Params | None = None) -> Params:
    """`$A, p, r$`, `A[1..n], x`, `$G = (V, E)$` -> names (one per comma-separated item)."""
    out = out or Params()
    toks, _ = tokens(text)
    parts = [p for p in split(toks, top_level(toks, lambda t: t.kind == "op" and t.value == ",")) if p]
    k = 0
    while k < len(parts):
        run = _sequence_run(parts, k)
        before = len(out.names)
        if run and (sequence(parts[k : k + run], ctx, out) or len(out.names) > before):
            k += run  # `LIS($a_1, \ldots, a_n$)`: one parameter, the array a
            continue
        _item(parts[k], ctx, out, loose=False)
        k += 1
    _derive_bounds(out)
    return out


def _is_dots(part: list[Tok]) -> bool:
    return len(part) == 1 and part[0].kind == "op" and part[0].value in ("...", "..")


def _sequence_run(parts: list[list[Tok]], k: int) -> int:
    """How many comma-separated items from k spell `x_1, \\ldots, x_n` or `x_1, x_2, \\ldots, x_n`
    (0: none)."""
    for width in (3, 4):
        if k + width <= len(parts) and _is_dots(parts[k + width - 2]) \
                and not any(_is_dots(p) for p in parts[k : k + width - 2]):
            return width
    return 0


_ORDER_OPS = ("<=", "<", ">=", ">")


def _ordered_as_list(toks: list[Tok]) -> list[Tok]:
    """`sorted $x_1 \\le x_2 \\le \\cdots \\le x_n$`: an ordered sequence, read as `x_1, x_2, \\ldots,
    x_n` (the order is a promise about the input, not a test)."""
    out = list(toks)
    k = 0
    while k < len(out):
        if not out[k].math:
            k += 1
            continue
        j = k
        while j < len(out) and out[j].math and not (out[j].kind == "op" and out[j].value == ","):
            j += 1
        run = range(k, j)
        dots = [i for i in run if out[i].kind == "op" and out[i].value == "..."]
        if any(0 < i - k and i + 1 < j and out[i - 1].value in _ORDER_OPS and out[i + 1].value in _ORDER_OPS
               for i in dots):
            for i in run:
                if out[i].kind == "op" and out[i].value in _ORDER_OPS:
                    out[i] = Tok("op", ",", out[i].at, True)
        k = j + 1
    return out


def io_params(text: str, ctx: P.Ctx, out: Params) -> Params:
    """Parameters named in a \\Require / \\KwIn line: each $...$ piece, read in order."""
    toks, _ = tokens(text, notes=True)
    toks = _ordered_as_list(toks)
    segments = _math_segments(toks)
    if not segments:
        for part in split(toks, top_level(toks, lambda t: t.value in (",", "and"))):
            # in a phrase of words (`vector de datos con al menos dos elementos`) a two-letter word is
            # a word of the language, not a name; alone (`X`, `lr`) it names an input
            short = 1 if sum(t.kind in ("name", "kw") for t in part) >= 3 else 2
            names = [t for t in part if t.kind == "name" and (len(t.value) <= short or t.style != "prose")]
            if names:
                out.add(ident(names[-1]))
        return out
    last_collection: str | None = None
    pending: list[tuple[str, str | None]] = []
    typed = False  # the last words named a kind of collection (`two strings $s$ and $t$`)
    skip: set[int] = set()
    describing, described = False, 0
    segments = [(words, _unbracketed(seg)) for words, seg in segments]
    for k, (words, seg) in enumerate(segments):
        if k in skip:
            continue
        if words and seg and seg[0].kind == "name" and words[-1].kind == "name" and not words[-1].math:
            ctx.nouns.setdefault(words[-1].value.lower(), ident(seg[0]))  # `relevances $r_1, ..$`: "the relevances"
            for art, noun in zip(words, words[1:]):  # `a corpus given as a list of tokens $w_1, ..$`: "the corpus"
                if art.value.lower() in ("a", "an", "the") and noun.kind in ("name", "kw") and not noun.math \
                        and noun.value.lower() not in ("of", "and", "or", "to", "for", "new", "given"):
                    ctx.nouns.setdefault(noun.value.lower(), ident(seg[0]))
        nxt_words = [w.value.lower() for w in segments[k + 1][0]] if k + 1 < len(segments) else []
        if last_collection and [w.value.lower() for w in words][-2:] in (["indexed", "from"], ["numbered", "from"]) \
                and nxt_words in (["to"], ["through"]):
            lo, hi = parse_all(seg, ctx), parse_all(segments[k + 1][1], ctx)  # `$A$ indexed from $0$ to $n - 1$`
            out.arrays[last_collection] = (lo, hi)
            skip.add(k + 1)
            continue
        lowered = {w.value.lower() for w in words}
        _vertex_count(words, seg, segments[k + 1][0] if k + 1 < len(segments) else _words_after(toks), ctx)
        _noun_count(words, seg, segments[k + 1][0] if k + 1 < len(segments) else _words_after(toks), ctx)
        typed = bool(lowered & _COLLECTION_WORDS) or typed and lowered <= {"and", ","}
        if typed:
            ctx.collections.update(ident(t) for t in seg if t.kind == "name")
        if lowered & _FUNCTION_WORDS and single_name(seg):
            ctx.callables.add(ident(seg[0]))
        if len(seg) >= 4 and seg[0].kind == "name" and len(seg[0].value) == 1 and seg[1].value == "(" \
                and seg[-1].value == ")":  # `$g(\\theta)$: the gradient`: the input g is a function
            ctx.callables.add(ident(seg[0]))
            ctx.applied.add(ident(seg[0]))
        after = segments[k + 1][0] if k + 1 < len(segments) else _words_after(toks)
        if single_name(seg) and len(after) >= 2 and after[0].value.lower() == "of" \
                and after[1].value.lower() in _PLURAL_COLLECTIONS:
            ctx.holds_collections.add(ident(seg[0]))  # `a list $W$ of words`: each element has a length
        if counts_collection(words, after, seg, last_collection, ctx, out):
            out.derived.append((ident(seg[0]), P.call("len", [ast.Name(id=last_collection, ctx=ast.Load())])))
            continue
        said = [w.value.lower() for w in words]
        if last_collection and single_name(seg) and ident(seg[0]) not in out.defined() and "each" in said \
                and said[-1] == "of" and set(said) & _EACH_SEQUENCE:  # `$P$, each a list of $C$ numbers`
            first = ast.Subscript(value=ast.Name(id=last_collection, ctx=ast.Load()), slice=P.const(0), ctx=ast.Load())
            out.derived.append((ident(seg[0]), P.call("len", [first])))
            continue
        nxt = segments[k + 1] if k + 1 < len(segments) else None
        if grid_dims(seg, nxt, ctx, out) or element_count(seg, nxt, out):
            continue
        if last_collection and grid_dims(seg, (after, [Tok("name", last_collection, 0)]), ctx, out):
            continue  # `$M$, an $r \\times k$ matrix`: the sizes of the matrix just named
        prev = segments[k - 1][1] if k else []
        if [w.value for w in words] == ["("] and single_name(prev) \
                and grid_dims(seg, ([Tok("name", "matrix", 0)], prev), ctx, out):
            continue  # `$A$ ($n \\times m$)`: the sizes of A, in parentheses after it
        lw = [w.value.lower() for w in words]
        count = _counted_range(seg)
        if count is not None and count not in out.defined() and last_collection and k > 0 \
                and any(t.kind == "name" and ident(t) == ident(seg[0]) for t in segments[k - 1][1][1:]):
            # `intervals $[s_j, e_j]$, $j = 1, \\ldots, m$`: j numbers the collection's elements, m counts them
            out.derived.append((count, P.call("len", [ast.Name(id=last_collection, ctx=ast.Load())])))
            continue
        describing = len(lw) >= 2 and lw[-2] == "for" or describing and bool(lw) and lw[0] == "and" and len(lw) <= 2 \
            or bool(lw) and lw[-1] == "for" and _counted_range(seg) is not None \
            or bool(out.indexed) and len(lw) >= 2 and lw[-2] in ("on", "over") and _numbered_range(seg) is not None
        table = out.indexed or last_collection
        if describing and table:  # `scores $L[t][v]$ for steps $t = 1, \\ldots, T$`: T counts L's rows
            # (also `rewards $R[s][a]$ on states $0, \\ldots, S-1$ and actions $0, \\ldots, A-1$`)
            count = _counted_range(seg) or (_numbered_range(seg) if out.indexed else None)
            if count is not None and count not in out.defined():
                part: ast.expr = ast.Name(id=table, ctx=ast.Load())
                for _ in range(described):
                    part = ast.Subscript(value=part, slice=P.const(0), ctx=ast.Load())
                out.derived.append((count, P.call("len", [part])))
                first = next((t for t in seg if t.kind == "num"), None)  # `t = 1, ..`: this dimension counts from 1
                if first is not None and first.value in ("0", "1"):
                    out.dim_lows.setdefault(table, {})[described] = int(first.value)
                described += 1
        if lw[-2:] in (["for", "each"], ["for", "every"], ["for", "all"]) or lw and lw[-1] in ("each", "every") \
                or describing:
            continue  # `a score $s_c$ for each $c \\in C$`, `values $Q[s][a]$ for states $s$`: no inputs
        if element_form(words, seg):  # `edges $E$ as triples $(u, v, w)$`: the form of E's elements
            columns(seg, last_collection, out)
            continue
        counted = _numbered_range(seg)
        if counted is not None and counted not in out.defined():
            if last_collection and {"over", "on"} & set(lw) and last_collection not in ctx.element_names:
                # `adjacency lists $adj$ over vertices $0, \\ldots, n-1$`: one list per vertex
                out.derived.append((counted, P.call("len", [ast.Name(id=last_collection, ctx=ast.Load())])))
                continue
            pending.append((counted, last_collection))  # `vertices $0, \\ldots, n-1$`: n counts them
            continue
        family = indexed_family(seg, ctx, out)  # `data $\\{(x_i, y_i)\\}_{i=1}^{N}$`
        if family:
            last_collection = family
            continue
        if interval_power(seg, out):
            continue
        if len(seg) >= 3 and seg[0].kind == "name" and seg[0].style == "numbers" and seg[1].value == "^" \
                and last_collection:  # `$x$, $g$ (both in $\\mathbb{R}^d$)`: the size of what was just named
            dim = [t for t in seg[2:] if t.value not in ("{", "}")]
            if single_name(dim) and ident(dim[0]) not in out.defined():
                out.derived.append((ident(dim[0]), P.call("len", [ast.Name(id=last_collection, ctx=ast.Load())])))
            continue
        parts = [p for p in split(seg, top_level(seg, lambda t: t.kind == "op" and t.value == ",")) if p]
        chain = [p for p in split(seg, top_level(seg, lambda t: t.kind == "op" and t.value in ("<=", "<", ">=", ">")))
                 if p]
        if len(parts) == 1 and len(chain) == 3 and len(chain[1]) == 1 and chain[1][0].value in ("...", ".."):
            parts = chain  # `t_1 \\le \\cdots \\le t_m`: sorted times t, m of them
        noun = words[-1].value.lower() if words and words[-1].kind in ("name", "kw") and not words[-1].math else None
        seq = sequence(parts, ctx, out, noun)
        if seq:
            last_collection = seq
            continue
        for part in parts:
            got = _item(part, ctx, out, loose=True)
            last_collection = got or last_collection
    _leading_count(segments, toks, out)
    for name, before in pending:
        if name in out.defined():
            continue
        if any(isinstance(n, ast.Name) and n.id == name for _, hi in out.arrays.values() for n in ast.walk(hi)):
            continue  # `$\\pi_0, \\ldots, \\pi_{V-1}$ of ids $0, \\ldots, V-1$`: V, the bound of pi, is its length
        if last_collection and last_collection != before and last_collection in ctx.collections \
                and last_collection not in ctx.element_names:  # the matrix named after them: a row each
            # (never a scalar named last, `source $s$`, nor a list of edges `(u, v, w) \\in E`)
            out.derived.append((name, P.call("len", [ast.Name(id=last_collection, ctx=ast.Load())])))
        else:
            out.add(name)
    _derive_bounds(out)
    return out


_VERTEX_WORDS = {"vertices", "nodes", "vertex", "node"}


def _vertex_count(words: list[Tok], seg: list[Tok], after: list[Tok], ctx: P.Ctx) -> None:
    """`$n$ vertices`, `vertices $0, \\ldots, n - 1$`: the graph's vertices are 0 .. n-1."""
    before = [w.value.lower() for w in words if not w.math]
    if before and before[-1] in _VERTEX_WORDS:
        counted = _numbered_range(seg)
        if counted is not None and seg[0].value == "0":
            ctx.vertex_count = counted
            return
    if single_name(seg) and after and after[0].value.lower() in _VERTEX_WORDS:
        ctx.vertex_count = ident(seg[0])


_COUNT_OF = {"of", "with", "length", "size", "has", "have", "containing", "holding"}  # a count of what came before


_BRACKETS = {"{s": "}s", "langle": "rangle"}  # (round and square brackets: tuples and lists, read elsewhere)


def _unbracketed(seg: list[Tok]) -> list[Tok]:
    """`\\{y_1, \\ldots, y_G\\}`, `\\langle s_1, \\ldots, s_n \\rangle`: the sequence inside (the
    brackets only say it is one)."""
    if len(seg) < 5 or _BRACKETS.get(seg[0].value) != seg[-1].value:
        return seg
    inner = seg[1:-1]
    parts = split(inner, top_level(inner, lambda t: t.kind == "op" and t.value == ","))
    if len(parts) < 3 or not any(_is_dots(p) for p in parts) or _is_dots(parts[0]) or _is_dots(parts[-1]):
        return seg
    return inner


def _leading_count(segments: list[tuple[list[Tok], list[Tok]]], toks: list[Tok], out: Params) -> None:
    """`$n$ items with values $v_i$ and weights $w_i$`: a count that opens the inputs, then what each
    of its items has, written with an index: n is the length of the first such sequence."""
    for k, (words, seg) in enumerate(segments):
        after = segments[k + 1][0] if k + 1 < len(segments) else _words_after(toks)
        said = [w.value.lower() for w in after if not w.math]
        before = [w.value.lower() for w in words if not w.math]
        if not (single_name(seg) and ident(seg[0]) in out.names and len(said) >= 2 and said[0].endswith("s")
                and said[1] in ("with", "having", "each") and not (before and before[-1] in _COUNT_OF)):
            continue
        for _, later in segments[k + 1 :]:
            if len(later) == 3 and later[0].kind == "name" and later[1].value == "_" and later[2].kind == "name" \
                    and (ident(later[0]) in out.names or variable_name(f"{ident(later[0])}_{ident(later[2])}")
                         in out.names) and ident(later[0]) != ident(seg[0]):
                name = ident(seg[0])
                out.names.remove(name)
                out.derived.append((name, P.call("len", [ast.Name(id=ident(later[0]), ctx=ast.Load())])))
                break
        return


def _noun_count(words: list[Tok], seg: list[Tok], after: list[Tok], ctx: P.Ctx) -> None:
    """`the number of states $n$`, `$m$ actions`: n counts the states, numbered 0 .. n-1 (a loop
    `for every state $s$` runs over them)."""
    before = [w.value.lower() for w in words if not w.math]
    counting = len(before) >= 3 and before[-3:-1] == ["number", "of"]
    noun = before[-1] if counting else after[0].value.lower() if after and not after[0].math \
        and after[0].kind in ("name", "kw") and after[0].value.lower().endswith("s") \
        and after[0].value.lower() not in ("is", "as", "has", "was", "its", "this", "us") else None
    if noun is None or noun in ELEMENT_WORDS:  # `array $A$ of $n$ numbers`: n counts A's elements, no range
        return
    if single_name(seg):
        name = ident(seg[0])
    elif len(seg) == 3 and seg[0].kind == "name" and seg[1].value == "_" and seg[2].kind == "name" \
            and len(seg[2].value) == 1 and seg[2].value.isupper():  # `$n_S$ states`: one name, the count
        ctx.labels.add((ident(seg[0]), ident(seg[2])))
        name = variable_name(f"{ident(seg[0])}_{ident(seg[2])}")
    else:
        return
    ctx.counted.setdefault(noun, name)


def _counted_range(seg: list[Tok]) -> str | None:
    """`t = 1, \\ldots, T` or `v = 0, \\ldots, V - 1`: the count T (V)."""
    eq = top_level(seg, lambda t: t.kind == "op" and t.value == "=")
    return _numbered_range(seg[eq[0] + 1 :]) if len(eq) == 1 and eq[0] == 1 and seg[0].kind == "name" else None


def _numbered_range(seg: list[Tok]) -> str | None:
    """`0, \\ldots, n-1` or `1, \\ldots, n` (numbers, not an array's entries): the count n."""
    parts = split(seg, top_level(seg, lambda t: t.kind == "op" and t.value == ","))
    while len(parts) > 3 and len(parts[1]) == 1 and parts[1][0].kind == "num" and parts[0][0].kind == "num" \
            and parts[1][0].value.isdigit() and parts[0][0].value.isdigit() \
            and int(parts[1][0].value) == int(parts[0][0].value) + 1:
        parts = [parts[0]] + parts[2:]  # `1, 2, \ldots, n`: the count goes on one by one
    if len(parts) != 3 or len(parts[1]) != 1 or parts[1][0].value not in ("...", "..") \
            or len(parts[0]) != 1 or parts[0][0].kind != "num" or parts[0][0].value not in ("0", "1"):
        return None
    last = parts[2]
    if parts[0][0].value == "1" and len(last) == 1 and last[0].kind == "name":
        return ident(last[0])
    if parts[0][0].value == "0" and len(last) == 3 and last[0].kind == "name" and last[1].value == "-" \
            and last[2].value == "1":
        return ident(last[0])
    return None


def sizes_from_io(params: Params, texts: list[str], ctx: P.Ctx) -> None:
    """`CountInversions($A$)` above `\\KwIn{An array $A[1 \\dots n]$}`: the header gives the
    inputs, the Input lines still give their sizes (n = len(A)) and declared bounds."""
    scratch = Params()
    for text in texts:
        io_params(text, ctx, scratch)
    for name, value in scratch.derived:
        if name not in params.defined() and any(isinstance(n, ast.Name) and n.id in params.names
                                                for n in ast.walk(value)):
            params.derived.append((name, value))
    for name, bounds in scratch.arrays.items():
        if name in params.names:
            params.arrays.setdefault(name, bounds)


def _words_after(toks: list[Tok]) -> list[Tok]:
    """The text words after the last piece of maths."""
    last = max((k for k, t in enumerate(toks) if t.math), default=len(toks) - 1)
    return toks[last + 1 :]


def declared_names(texts: list[str]) -> set[str]:
    """Every name the header or the Require/Input lines mention (bound before the body runs)."""
    found: set[str] = set()
    for text in texts:
        toks, _ = tokens(text)
        found.update(ident(t) for t in toks if t.kind == "name" and t.math)
    return found


def declared_order(out: Params, text: str) -> None:
    """Inputs in the order the text first names them (`an interval $[a, b]$, bounds $lo < hi$`)."""
    toks, _ = tokens(text)
    first: dict[str, int] = {}
    for k, t in enumerate(toks):
        if t.kind == "name" and (t.math or t.style == "roman"):  # `\\SetKwData` names are set \\mathit in text
            first.setdefault(ident(t), k)
            sub = toks[k + 2 : k + 3] if k + 2 < len(toks) and toks[k + 1].value == "_" else []
            if sub and sub[0].value == "{" and k + 3 < len(toks):
                sub = toks[k + 3 : k + 4]
            if sub and (sub[0].kind in ("name", "num") or sub[0].kind == "kw" and not sub[0].math
                        or sub[0].kind == "bigop" and sub[0].value in ("max", "min")):  # d_{\\max}
                # x_0, c_1, \\epsilon_{\\text{tol}}: the names the parser makes
                first.setdefault(f"{ident(t)}_{sub[0].value}", k)
            sup = [x.value for x in toks[k + 1 : k + 6]]
            if sup[:3] == ["^", "{", "("] and len(sup) == 5 and sup[4] == ")":  # \theta^{(0)}: theta_0
                first.setdefault(f"{ident(t)}_{sup[3]}", k)
            sign = sup[2] if sup[:2] == ["^", "{"] and sup[3:4] == ["}"] else sup[1] if sup[:1] == ["^"] else None
            if sign in ("+", "-"):  # N^+: N_plus
                first.setdefault(f"{ident(t)}_{'plus' if sign == '+' else 'minus'}", k)
    out.names.sort(key=lambda n: first.get(n, len(toks)))


def _math_segments(toks: list[Tok]) -> list[tuple[list[Tok], list[Tok]]]:
    """(words before, math tokens) for each maximal run of math-mode tokens."""
    out: list[tuple[list[Tok], list[Tok]]] = []
    words: list[Tok] = []
    seg: list[Tok] = []
    for t in toks:
        depth = sum(1 if x.value == "{" else -1 if x.value == "}" else 0 for x in seg if x.kind == "op")
        if t.math or depth > 0:  # `$\\epsilon_{\\text{tol}}$`: text inside a math group stays in it
            seg.append(t)
            continue
        if seg:
            out.append((words, seg))
            words, seg = [], []
        words.append(t)
    if seg:
        out.append((words, seg))
    return out


def _item(part: list[Tok], ctx: P.Ctx, out: Params, loose: bool) -> str | None:
    """Record one item; return its name when it is an array or a plain name."""
    colon = top_level(part, lambda t: t.kind == "op" and t.value == ":")
    if colon and colon[0] > 0:  # `$x$: vector`, `n : integer`, `f: \mathbb{R} \to \mathbb{R}`: name, then type
        return _item(part[: colon[0]], ctx, out, loose)
    named = listed(part, ctx, out)
    if named:
        return named
    if len(part) == 5 and part[0].value in ("[", "(") and part[-1].value in ("]", ")") and part[1].kind == "name" \
            and part[2].value == "_" and part[3].kind == "name":  # `a list $[b_i]$`: the sequence b
        return _item(part[1:2], ctx, out, loose)
    if len(part) >= 3 and part[0].kind == "name" and part[1].value == "(" and part[-1].value == ")" \
            and all(t.value in ("*", ",", "cdot", "...") for t in part[2:-1]):
        ctx.callables.add(ident(part[0]))  # `oracle $g(\\cdot)$`: the function g is the input
        out.add(ident(part[0]))
        return None
    saved = ctx.collecting
    ctx.collecting = True  # a header may name variables the body has not assigned yet
    try:
        e = parse_all(part, ctx)
    except Untranslatable:
        names = [t for t in part if t.kind == "name"]
        if names and not loose:
            out.add(ident(names[-1]))
        elif loose:  # `$\beta \in [0, 1)$`: the name before the relation
            rel = top_level(part, lambda t: t.kind == "op" and t.value in RELATIONS or t.value == "in")
            if rel and rel[0] > 0:
                return _item(part[: rel[0]], ctx, out, loose)
        return None
    finally:
        ctx.collecting = saved
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and len(e.func.id) == 1:
        out.add(e.func.id)  # $f(\theta)$: the function f is the input
        return None
    if space_dims(e, out):
        return e.left.id if isinstance(e.left, ast.Name) else None
    if size_equation(e, out):
        return None
    if isinstance(e, ast.Name):
        if any(isinstance(hi, ast.Name) and hi.id == e.id for _, hi in out.arrays.values()):
            return None  # `$A[1..n]$ with $n$ even`: n is A's length, not another input
        out.add(e.id)
        return e.id
    if isinstance(e, ast.Subscript) and isinstance(e.slice, ast.Slice) and isinstance(e.value, ast.Name):
        out.add(e.value.id)
        out.arrays[e.value.id] = (e.slice.lower, e.slice.upper)
        return e.value.id
    if isinstance(e, ast.Compare) and isinstance(e.ops[0], ast.Eq) and isinstance(e.left, ast.Name) \
            and (loose or len(e.ops) == 1 and isinstance(e.comparators[0], ast.Tuple)):  # (a header's `G = (V, E)`)
        used = set(_names_in_order(e.comparators[0]))
        if used and used <= out.defined():
            out.derived.append((e.left.id, e.comparators[0]))  # $n = |A|$
            return None
        out.add(e.left.id)  # $G = (V, E)$: G is the input, V and E its parts
        parts = e.comparators[0]
        if not used and len(e.ops) == 1 and all(isinstance(n, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator,
                                                               ast.unaryop)) for n in ast.walk(parts)):
            out.defaults.setdefault(e.left.id, parts)  # `$\epsilon = 10^{-8}$`: an input with that default
        if isinstance(parts, ast.Tuple) and all(isinstance(x, ast.Name) for x in parts.elts):
            for k, x in enumerate(parts.elts):
                if x.id not in out.defined():
                    out.derived.append((x.id, ast.Subscript(value=ast.Name(id=e.left.id, ctx=ast.Load()),
                                                            slice=P.const(k), ctx=ast.Load())))
        return e.left.id
    axis = not loose or isinstance(e, ast.Subscript) and isinstance(e.slice, ast.Name) and e.slice.id in ("x", "y", "z")
    if axis and isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name) and isinstance(e.slice, ast.Name) \
            and e.slice.id not in out.defined():  # (in the Require text, `$q_x$` and `$q_y$` name coordinates)
        ctx.labels.add((e.value.id, e.slice.id))  # a header parameter `T_w`: one name, not T indexed by w
        out.add(variable_name(f"{e.value.id}_{e.slice.id}"))
        return None
    if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name) and P.int_value(e.slice) is not None \
            and e.value.id in ctx.collections and e.value.id not in out.defined():
        # `initial point $x_0$` where the body computes x_{t+1} from x_t: the input is the sequence's
        # first term, and the sequence a map from step numbers to terms that starts with it
        first = variable_name(f"{e.value.id}_{P.int_value(e.slice)}")
        out.add(first)
        seq = ast.Dict(keys=[e.slice], values=[ast.Name(id=first, ctx=ast.Load())])
        out.derived.append((e.value.id, P.mark(seq, map=True)))
        return None
    if loose and isinstance(e, ast.Subscript) and all(isinstance(n.slice, ast.Name) for n in ast.walk(e)
                                                      if isinstance(n, ast.Subscript)):
        root = e
        while isinstance(root, ast.Subscript):
            root = root.value
        if isinstance(root, ast.Name) and root.id not in out.defined():  # `scores $L[t][v]$`: the table L
            ctx.collections.add(root.id)
            out.add(root.id)
            out.indexed = root.id
            return None
    _declared_in_relation(e, out, loose)
    return None


def _declared_in_relation(e: ast.expr, out: Params, loose: bool) -> None:
    """`an interval $[a, b]$`, `bounds $a < b$`, `step size $\\alpha > 0$`, `$1 \\le k \\le n$`: the
    names declared here (in order), the lowest value of an index, and the names only constrained."""
    _record_low(e, out)
    if isinstance(e, (ast.List, ast.Tuple)) and e.elts and all(isinstance(x, ast.Name) for x in e.elts):
        for x in e.elts:  # `an interval $[a, b]$`: a and b, in this order
            out.add(x.id)
        return
    bounds = {n.id for _, hi in out.arrays.values() for n in ast.walk(hi) if isinstance(n, ast.Name)}
    if isinstance(e, ast.Compare) and loose and all(isinstance(x, ast.Name) and P.meta(x, "style") != "numbers"
                                                    for x in [e.left, *e.comparators]):
        for x in [e.left, *e.comparators]:  # `bounds $a < b$`: both declared here
            if x.id not in bounds:
                out.add(x.id)
    elif isinstance(e, ast.Compare) and isinstance(e.left, ast.Name) and loose and e.left.id not in bounds:
        out.add(e.left.id)  # `step size $\alpha > 0$`: alpha is declared here, in this order
    out.constrained.extend(_names_in_order(e))


def _record_low(e: ast.expr, out: Params) -> None:
    """`1 \\le k \\le n` / `k \\ge 1`: the lowest value k takes (a hint for the index base)."""
    if not isinstance(e, ast.Compare):
        return
    if P.int_value(e.left) in (0, 1) and isinstance(e.ops[0], ast.LtE) and isinstance(e.comparators[0], ast.Name):
        out.lows[e.comparators[0].id] = P.int_value(e.left)
    elif isinstance(e.left, ast.Name) and len(e.ops) == 1 and isinstance(e.ops[0], ast.GtE) \
            and P.int_value(e.comparators[0]) in (0, 1):
        out.lows[e.left.id] = P.int_value(e.comparators[0])


def _names_in_order(e: ast.expr) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            for a in node.args:
                visit(a)
            return
        if isinstance(node, ast.Subscript):  # `0 \\le A[i] \\le k`: i ranges, it is no input
            visit(node.value)
            return
        if isinstance(node, ast.Name) and node.id not in found and node.id != "math" \
                and P.meta(node, "style") != "numbers":
            found.append(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(e)
    bound = {n.id for c in ast.walk(e) if isinstance(c, ast.comprehension)
             for n in ast.walk(c.target) if isinstance(n, ast.Name)}  # `\\max_i x_i`: i is bound there
    return [n for n in found if n not in bound]


def _derive_bounds(out: Params) -> None:
    """`A[1..n]` with n not a parameter: n = len(A) (+ lo - 1). Then names seen only in
    conditions become parameters unless a bound defined them."""
    _lengths_from_bounds(out)
    for name in out.constrained:
        out.add(name)
    out.constrained.clear()


def _lengths_from_bounds(out: Params) -> None:
    for arr, (lo, hi) in out.arrays.items():
        lo_v = P.int_value(lo)
        if lo_v is None:
            continue
        length = P.call("len", [ast.Name(id=arr, ctx=ast.Load())])
        if isinstance(hi, ast.Name) and hi.id not in out.defined():
            out.derived.append((hi.id, P.add_const(length, lo_v - 1)))
        elif isinstance(hi, ast.BinOp) and isinstance(hi.left, ast.Name) and hi.left.id not in out.defined():
            c = P.int_value(hi.right)
            if c is not None and isinstance(hi.op, (ast.Add, ast.Sub)):
                shift = -c if isinstance(hi.op, ast.Add) else c
                out.derived.append((hi.left.id, P.add_const(length, lo_v - 1 + shift)))
