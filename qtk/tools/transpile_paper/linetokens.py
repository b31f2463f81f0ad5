"""The tokens of one pseudo-code line, ready for the statement and loop readers: trailing
punctuation and comments off (`// ...`, prose in parentheses after the code), braces that only
group the whole line dropped (`\\State{...}`), `\\mathrel{+}=` joined into `+=`; and the two helpers
every reader uses to cut a line at its top level (outside brackets).
"""

from __future__ import annotations

from qtk.tools.transpile_paper.latex_text import plain_text
from qtk.tools.transpile_paper.mathtok import Tok, tokenize

_OPEN = {"(", "[", "{", "{s", "lfloor", "lceil", "langle"}
_CLOSE = {")", "]", "}", "}s", "rfloor", "rceil", "rangle"}
_OPERATOR_WORDS = {"and", "or", "not", "mod", "div", "in", "to", "downto", "xor", "is", "step", "by"}
TRAILING = {("kw", "do"), ("kw", "then"), ("op", "."), ("op", ";"), ("op", ":"), ("op", ",")}


def tokens(text: str, notes: bool = False) -> tuple[list[Tok], str | None]:
    """Tokens of a line without its trailing punctuation and comments (`// ...`, and prose in
    parentheses after the code: `$t \\gets 0$ (initialize timestep)`, kept with `notes`: an Input
    line's `$t$ (length $n$)`)."""
    toks, comment = tokenize(text)
    toks = _comparison_words(_join_updates(_paren_mod(_connectives(_foreign_let(toks)))))
    if len(toks) > 2 and toks[0].value == "{" and toks[-1].value == "}" and not toks[0].math and _wraps(toks):
        toks = toks[1:-1]  # \\State{$x \\gets 0$}: the braces only group the line
    while toks and (toks[-1].kind, toks[-1].value) in TRAILING:
        toks.pop()
    k = _prose_group(toks)
    if k is not None and notes and k + 1 < len(toks) and toks[k + 1].value.lower() in _SIZE_NOTES:
        k = None  # `$t$ (length $n$)`: the size of an input, not a remark
    if k is not None:
        note = plain_text(text[toks[k].at + 1 : toks[-1].at])
        toks = toks[:k]
        comment = f"{note}; {comment}" if comment else note
    return toks, comment


# Comparisons in words (`$x$ is greater than $y$`, `is at most`), longest first -> the operator.
_COMPARISONS = [
    (("is", "greater", "than", "or", "equal", "to"), ">="), (("is", "less", "than", "or", "equal", "to"), "<="),
    (("is", "greater", "than"), ">"), (("is", "less", "than"), "<"), (("is", "at", "least"), ">="),
    (("is", "at", "most"), "<="), (("is", "equal", "to"), "="), (("is", "not", "equal", "to"), "!="),
    (("equals",), "="), (("greater", "than"), ">"), (("less", "than"), "<"),
]
_SIZE_WORDS = {"length", "size"}
_SIZE_NOTES = {"length", "size", "len", "of"}  # words that open a size in parentheses after an input
_TAKING = {"remove", "delete", "pop", "take", "extract", "dequeue", "drop"}  # `remove the first element of $L$`


def _comparison_words(toks: list[Tok]) -> list[Tok]:
    """`the length of $w$ is greater than $\\ell$` -> `len(w) > l` as tokens, so that conditions
    and values written in words parse as maths."""
    out: list[Tok] = []
    k = 0
    while k < len(toks):
        t = toks[k]
        words = [x.value.lower() for x in toks[k : k + 6]]
        hit = next(((n, op) for n, op in _COMPARISONS if tuple(words[: len(n)]) == n
                    and all(not x.math for x in toks[k : k + len(n)])), None)
        if hit is not None:
            out.append(Tok("op", hit[1], t.at, True))
            k += len(hit[0])
            continue
        end_item = _end_of(toks, k)
        # `the last element of $B$` -> B[-1] (the first: B[0]), unless a verb takes it out
        if end_item is not None and not (out and not out[-1].math and out[-1].value.lower() in _TAKING):
            end, inner, last = end_item
            index = [Tok("op", "-", t.at, True), Tok("num", "1", t.at, True)] if last else [Tok("num", "0", t.at, True)]
            out += [Tok("name", "_end_of_", t.at, True, "roman"), Tok("op", "(", t.at, True), *inner,
                    Tok("op", ",", t.at, True), *index, Tok("op", ")", t.at, True)]
            k = end
            continue
        size = _size_of(toks, k)
        if size is not None:
            end, inner = size
            out += [Tok("name", "len", t.at, True, "roman"), Tok("op", "(", t.at, True), *inner,
                    Tok("op", ")", t.at, True)]
            k = end
            continue
        out.append(t)
        k += 1
    return out


def _end_of(toks: list[Tok], k: int) -> tuple[int, list[Tok], bool] | None:
    """`the last (first) element of $X$` at k: (the index after it, X's tokens, whether last)."""
    words = [x.value.lower() if not x.math else "$" for x in toks[k : k + 4]]
    if len(words) < 4 or words[0] != "the" or words[1] not in ("last", "first") \
            or words[2] not in ("element", "item", "entry") or words[3] != "of" or k + 4 >= len(toks) \
            or not toks[k + 4].math or toks[k + 4].kind != "name":
        return None
    return k + 5, [toks[k + 4]], words[1] == "last"


def _size_of(toks: list[Tok], k: int) -> tuple[int, list[Tok]] | None:
    """`(the) length of $X$` at k: (the index after it, X's tokens)."""
    j = k + 1 if toks[k].value == "the" and not toks[k].math else k
    if j + 2 >= len(toks) or toks[j].math or toks[j].value.lower() not in _SIZE_WORDS \
            or toks[j + 1].value != "of" or not toks[j + 2].math:
        return None
    end = j + 2
    while end < len(toks) and toks[end].math and not (toks[end].kind == "op" and toks[end].value in ("gets", "=")):
        end += 1
    return end, toks[j + 2 : end]


def _wraps(toks: list[Tok]) -> bool:
    """Whether the first token's brace closes at the last token."""
    depth = 0
    for k, t in enumerate(toks):
        if t.kind == "op" and t.value == "{":
            depth += 1
        elif t.kind == "op" and t.value == "}":
            depth -= 1
            if depth == 0:
                return k == len(toks) - 1
    return False


def _join_updates(toks: list[Tok]) -> list[Tok]:
    """`x \\mathrel{+}= 1` arrives as `+` then `=`: one `+=` (and `\\mathrel{:}=` one assignment)."""
    out: list[Tok] = []
    for t in toks:
        if t.kind == "op" and t.value == "=" and out and out[-1].kind == "op" and out[-1].value == ":":
            out[-1] = Tok("op", "gets", out[-1].at, out[-1].math)
        elif t.kind == "op" and t.value == "=" and out and out[-1].kind == "op" and out[-1].value in "+-*":
            out[-1] = Tok("op", out[-1].value + "=", out[-1].at, out[-1].math)
        else:
            out.append(t)
    return out


def _prose_group(toks: list[Tok]) -> int | None:
    """Start of a final text-mode `( ... )` that holds words rather than code."""
    if len(toks) < 3 or toks[-1].math or toks[-1].value != ")":
        return None
    depth = 0
    for k in range(len(toks) - 1, 0, -1):
        t = toks[k]
        if t.kind == "op" and t.value == ")" and not t.math:
            depth += 1
        elif t.kind == "op" and t.value == "(" and not t.math:
            depth -= 1
            if depth == 0:
                if k >= 2 and toks[k - 2].kind == "op" and toks[k - 2].value == "." and not toks[k - 1].math:
                    return None  # `$R$.append($S$.pop())`: a method's arguments
                if all(t.kind == "kw" for t in toks[:k]):
                    return None  # `\\Return (low, high, A[low])`: the group is the code itself
                words = [w for j, w in enumerate(toks[k + 1 : -1], k + 1) if not w.math and len(w.value) > 2
                         and (w.kind == "name" and w.style == "prose"
                              or w.kind == "kw" and w.value not in _OPERATOR_WORDS)
                         and toks[j - 1].value != "."]
                return k if words else None
    return None


# `and` / `or` in the lecture notes of other languages (`$a = $ null e $b = $ null`), read only between
# two pieces of maths, where they cannot be a variable written in words
_CONNECTIVES = {"e": "and", "et": "and", "und": "and", "y": "and", "i": "and", "o": "or", "ou": "or",
                "oder": "or", "oppure": "or", "con": "with", "com": "with", "avec": "with", "mit": "with"}
# verbs that open a statement, in other languages (`trocar $A[i]$ e $A[j]$`)
_VERBS = {**{v: "swap" for v in ("trocar", "troca", "troque", "scambia", "scambiare", "échanger", "echanger",
                                 "échange", "intercambiar", "intercambia", "vertausche", "tausche", "zamień")},
          **{v: "return" for v in ("retourner", "retorna", "retornar", "devolver", "devuelve", "restituisci",
                                   "zwróć", "zurückgeben")}}


# `let $A$ be an array of $n$ integers` in the words of other languages (`sia $A$ un array di $n$
# interi`, `soit $A$ un tableau de $n$ entiers`, `seja $A$ um vetor de $n$ inteiros`)
_LET = {"sia", "soit", "seja", "sea", "sei"}
_ARTICLES = {"un", "una", "um", "uma", "une", "ein", "eine", "einen", "uno"}
_WORDS = {"di": "of", "de": "of", "du": "of", "mit": "of", "array": "array", "vettore": "array", "vetor": "array",
          "arreglo": "array", "tableau": "array", "feld": "array", "lista": "list", "liste": "list",
          "interi": "integers", "inteiros": "integers", "enteros": "integers", "entiers": "integers",
          "zahlen": "numbers", "numeri": "numbers", "elementi": "elements", "elementos": "elements",
          "éléments": "elements", "elemente": "elements", "nuovo": "new", "novo": "new", "nuevo": "new",
          "nouveau": "new", "neues": "new", "vuoto": "empty", "vazio": "empty", "vacío": "empty", "vide": "empty",
          "leeres": "empty"}


def _foreign_let(toks: list[Tok]) -> list[Tok]:
    """A `let` line (or a line opened by a verb of the table) in another language, as English words."""
    if len(toks) > 1 and not toks[0].math and toks[0].value.lower() in _VERBS:
        return [_english(_VERBS[toks[0].value.lower()], toks[0].at), *toks[1:]]
    if len(toks) < 4 or toks[0].math or toks[0].value.lower() not in _LET or not toks[1].math:
        return toks
    k = next((j for j, t in enumerate(toks) if j > 1 and not t.math), None)
    if k is None or toks[k].value.lower() not in _ARTICLES:
        return toks
    rest = [_english(_WORDS[t.value.lower()], t.at) if not t.math and t.value.lower() in _WORDS else t
            for t in toks[k + 1 :]]
    return [_english("let", toks[0].at), *toks[1:k], _english("be", toks[k].at), _english("a", toks[k].at), *rest]


def _english(word: str, at: int) -> Tok:
    """The token an English word of text is read as, placed where the word it translates stood."""
    tok = tokenize(word)[0][0]
    tok.at = at
    return tok


# `$e$ é par`, `$n$ est impair`, `$k$ ist gerade`: `is even` / `is odd` in other languages' words
_IS = {"é", "è", "est", "es", "ist", "jest"}
_PARITY = {**{w: "even" for w in ("par", "pari", "pair", "paire", "gerade", "parzysta", "parzyste")},
           **{w: "odd" for w in ("ímpar", "impar", "dispari", "impair", "impaire", "ungerade", "nieparzysta",
                                 "nieparzyste")}}


def _connectives(toks: list[Tok]) -> list[Tok]:
    toks = list(toks)
    for k in range(1, len(toks) - 1):
        if toks[k - 1].math and not toks[k].math and toks[k].value.lower() in _IS \
                and not toks[k + 1].math and toks[k + 1].value.lower() in _PARITY:
            toks[k], toks[k + 1] = _english("is", toks[k].at), _english(_PARITY[toks[k + 1].value.lower()],
                                                                        toks[k + 1].at)
    out = list(toks)
    for k in range(1, len(out) - 1):
        t, before, after = out[k], out[k - 1], out[k + 1]
        if not t.math and t.kind == "name" and t.value.lower() in _CONNECTIVES \
                and (before.math or before.kind == "const") and (after.math or after.kind == "const"):
            out[k] = Tok("kw", _CONNECTIVES[t.value.lower()], t.at, False)
    return out


def _paren_mod(toks: list[Tok]) -> list[Tok]:
    """`a \\equiv b\\ (\\mathrm{mod}\\ m)` written out (or a paper's own `\\imod`): the same as `\\pmod{m}`."""
    out: list[Tok] = []
    k = 0
    while k < len(toks):
        t = toks[k]
        j = k + 1
        if t.value == "(" and t.math:
            if j < len(toks) and toks[j].value == "{":
                j += 1
            if j < len(toks) and toks[j].value.lower() == "mod" and toks[j].kind in ("name", "kw", "op"):
                j += 1
                if j < len(toks) and toks[j].value == "}":
                    j += 1
                close = next((c for c in range(j, len(toks)) if toks[c].value == ")"), None)
                if close is not None and close > j:
                    out += [Tok("op", "pmod", t.at, True), Tok("op", "{", t.at, True), *toks[j:close],
                            Tok("op", "}", toks[close].at, True)]
                    k = close + 1
                    continue
        out.append(t)
        k += 1
    return out


def top_level(toks: list[Tok], pred) -> list[int]:
    """Indices of tokens matching pred outside any brackets."""
    depth, hits = 0, []
    for k, t in enumerate(toks):
        if t.kind == "op" and t.value in _OPEN:
            depth += 1
        elif t.kind == "op" and t.value in _CLOSE:
            depth -= 1
        elif depth == 0 and pred(t):
            hits.append(k)
    return hits


def split(toks: list[Tok], at: list[int]) -> list[list[Tok]]:
    parts, last = [], 0
    for k in at:
        parts.append(toks[last:k])
        last = k + 1
    parts.append(toks[last:])
    return parts
