"""Expansion of the paper's own definitions (collected by macros.py): macros are replaced by
their bodies with arguments substituted (optional first argument and its default included), and
environments defined with \\newenvironment by their begin/end code, before any parsing. Positions
are kept: generated text is attributed to the place it was used.
"""

from __future__ import annotations

import re

from qtk.tools.transpile_paper.macros import DEFINERS, PROTECTED, Definitions, Macro, parse_definition
from qtk.tools.transpile_paper.source import Document, Src, read_arg, read_command, read_delimited, read_group

_MAX_DEPTH = 40
# LaTeX's font switches, used inside a group as the \text.. commands are
_FONT_SWITCHES = {"bfseries": "textbf", "bf": "textbf", "itshape": "textit", "it": "textit", "em": "emph",
                  "scshape": "textsc", "sc": "textsc", "ttfamily": "texttt", "tt": "texttt", "rmfamily": "textrm"}
# The packages' keyword macros (\\algorithmicif prints a bold "if"), read as that bold word when the
# paper uses them in its own commands (`\\algnewcommand{\\IIf}[1]{\\State\\algorithmicif\\ #1 ...}`) and
# has not redefined them.
_PACKAGE_WORDS = {f"algorithmic{w}": w for w in ("if", "else", "end", "for", "while", "repeat", "until",
                                                 "loop", "forall", "procedure", "function")}
_ENV_RE = re.compile(r"\\(begin|end)\s*\{([^{}]*)\}|\\((?:re)?newenvironment|(?:New|Renew|Provide|Declare)"
                     r"DocumentEnvironment)\*?(?![A-Za-z])")


def expand_environments(src: Src, defs: Definitions) -> Src:
    """Replace the paper's own environments by their definitions (`\\begin{steps}` ->
    `\\begin{algorithmic}[1]`), and blank the \\newenvironment lines themselves, before the
    algorithms are looked for."""
    if not defs.environments:
        return src
    text, parts, copied = src.text, [], 0
    for m in _ENV_RE.finditer(text):
        if m.start() < copied:
            continue
        if m.group(1) is None:  # a definition: drop it
            end = parse_definition(text, m.start(), m.group(3), None)
            if end:
                parts += [src.sub(copied, m.start()), Src.const(" ", src.offset(m.start()))]
                copied = end
            continue
        env = defs.environments.get(m.group(2).strip())
        if env is None:
            continue
        n, default, begin, end_code = env
        j, args = m.end(), []
        if m.group(1) == "begin":
            j, args = _env_args(src, j, n, default)
        code = _substitute(begin if m.group(1) == "begin" else end_code, args, src.offset(m.start()))
        parts += [src.sub(copied, m.start()), code]
        copied = j
    parts.append(src.sub(copied, len(text)))
    return Src.join(parts)


def _env_args(src: Src, j: int, n: int, default: str | None) -> tuple[int, list[Src]]:
    text, args = src.text, []
    if default is not None:
        opt = read_delimited(text, j, "[", "]")
        args.append(src.sub(opt[0], opt[1]) if opt else Src.const(default, src.offset(j)))
        j = opt[2] if opt else j
        n -= 1
    for _ in range(n):
        g = read_group(text, j)
        if g is None:
            break
        args.append(src.sub(g[0], g[1]))
        j = g[2]
    return j, args


def expand(src: Src, defs: Definitions, doc: Document, depth: int = 0) -> Src:
    """Expand the paper's own macros in `src` and drop definitions; positions are kept (the
    text a macro produces is attributed to the place it was used)."""
    text = src.text
    parts: list[Src] = []
    copied = 0
    i = text.find("\\")
    while 0 <= i:
        name, j = read_command(text, i)
        if name in DEFINERS:
            end = parse_definition(text, i, name, None)
            if end:
                parts.append(src.sub(copied, i))
                copied = i = end
                i = text.find("\\", i)
                continue
        before = text[:i].rstrip()
        # `\STATE {\bfseries Input:}` is a group; `\While{\upshape $a > 0$}`, the brace right after a
        # command, is its argument (the switch is then skipped, never turned into a command of its own)
        brace = before.endswith("{") and not re.search(r"(\\[A-Za-z@]+\*?|\})\{$", before)
        if name in _FONT_SWITCHES and brace:  # `{\bfseries Input:}` is `\textbf{Input:}`
            k = text.rfind("{", 0, i)
            parts += [src.sub(copied, k), Src.const(f"\\{_FONT_SWITCHES[name]}{{", src.offset(k))]
            copied = i = j + 1 if j < len(text) and text[j] == " " else j
            i = text.find("\\", i)
            continue
        macro = defs.macros.get(name)
        if macro is None and name in _PACKAGE_WORDS:
            word = _PACKAGE_WORDS[name].replace("forall", "for all")
            parts += [src.sub(copied, i), Src.const(f"\\textbf{{{word}}} ", src.offset(i))]
            copied = i = j
            i = text.find("\\", i)
            continue
        if macro is None or name in PROTECTED:
            i = text.find("\\", j if name else i + 1)
            continue
        if depth >= _MAX_DEPTH:
            raise doc.error(src.offset(i), f"macro \\{name} expands recursively (more than {_MAX_DEPTH} levels)")
        produced, end = _invoke(src, i, j, macro)
        parts.append(src.sub(copied, i))
        parts.append(expand(produced, defs, doc, depth + 1))
        copied = end
        i = text.find("\\", end)
    parts.append(src.sub(copied, len(text)))
    return Src.join(parts)


def _invoke(src: Src, start: int, j: int, macro: Macro) -> tuple[Src, int]:
    """The text one use of `macro` produces and the index after its arguments."""
    text, at = src.text, src.offset(start)
    if macro.kind == "kwfunction":
        g = read_group(text, j)
        label = "\\textsc{%s}" % macro.body
        if g is None:
            return Src.const(label + " ", at), j
        inner = src.sub(g[0], g[1])
        return Src.join([Src.const(label + "(", at), inner, Src.const(")", at)]), g[2]
    if macro.kind == "paired":
        if j < len(text) and text[j] == "*":
            j += 1
        opt = read_delimited(text, j, "[", "]")
        j = opt[2] if opt else j
    args: list[Src] = []
    n = macro.n_args
    if macro.default is not None:
        opt = read_delimited(text, j, "[", "]")
        if opt:
            args.append(src.sub(opt[0], opt[1]))
            j = opt[2]
        else:
            args.append(Src.const(macro.default, at))
        n -= 1
    for _ in range(n):
        arg = read_arg(text, j)
        if arg is None:
            break
        args.append(src.sub(arg[0], arg[1]))
        j = arg[2]
    return _substitute(macro.body, args, at), j


def _substitute(body: str, args: list[Src], at: int) -> Src:
    parts: list[Src] = []
    last = 0
    for m in re.finditer(r"#(\d)", body):
        parts.append(Src.const(body[last : m.start()], at))
        k = int(m.group(1)) - 1
        parts.append(args[k] if k < len(args) else Src.const("", at))
        last = m.end()
    parts.append(Src.const(body[last:] + " ", at))
    return Src.join(parts)
