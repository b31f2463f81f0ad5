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
TRAILING = {("kw", "do"), ("kw", "then"), ("op", "."), ("op", ";"), ("op", ":")}


def tokens(text: str) -> tuple[list[Tok], str | None]:
    """Tokens of a line without its trailing punctuation and comments (`// ...`, and prose in
    parentheses after the code: `$t \\gets 0$ (initialize timestep)`)."""
    toks, comment = tokenize(text)
    toks = _join_updates(toks)
    if len(toks) > 2 and toks[0].value == "{" and toks[-1].value == "}" and not toks[0].math and _wraps(toks):
        toks = toks[1:-1]  # \\State{$x \\gets 0$}: the braces only group the line
    while toks and (toks[-1].kind, toks[-1].value) in TRAILING:
        toks.pop()
    k = _prose_group(toks)
    if k is not None:
        note = plain_text(text[toks[k].at + 1 : toks[-1].at])
        toks = toks[:k]
        comment = f"{note}; {comment}" if comment else note
    return toks, comment


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
    """`x \\mathrel{+}= 1` arrives as `+` then `=`: one `+=`."""
    out: list[Tok] = []
    for t in toks:
        if t.kind == "op" and t.value == "=" and out and out[-1].kind == "op" and out[-1].value in "+-*":
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
                words = [w for w in toks[k + 1 : -1] if not w.math and len(w.value) > 2
                         and (w.kind == "name" and w.style == "prose"
                              or w.kind == "kw" and w.value not in _OPERATOR_WORDS)]
                return k if words else None
    return None


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
