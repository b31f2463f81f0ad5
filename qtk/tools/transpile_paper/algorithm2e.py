"""Parser for algorithm2e bodies into the `ir` tree.

algorithm2e is brace-structured: statements end with `\\;`, blocks are commands with brace
arguments (`\\If{c}{..}`, `\\eIf{c}{..}{..}`, one-line `\\lIf`, `\\ForEach`, `\\Repeat{until}{..}`,
`\\Switch`/`\\Case`/`\\Other`), side comments go in parentheses (`\\If(\\tcc*{..}){c}{..}`),
functions come from \\SetKwProg commands, and keywords a paper declares with \\SetKwFor /
\\SetKwIF / ... are aliases (see macros.py). Command set: the algorithm2e manual, v5.2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qtk.tools.transpile_paper import ir
from qtk.tools.transpile_paper.latex_text import plain_text
from qtk.tools.transpile_paper.macros import Definitions
from qtk.tools.transpile_paper.source import (
    Document,
    Src,
    match_close,
    read_command,
    read_delimited,
    read_group,
)

_BLOCKS: dict[str, tuple[str, int]] = {
    **{c: ("if", 2) for c in ("If", "uIf", "lIf")},
    **{c: ("elseif", 2) for c in ("ElseIf", "uElseIf", "lElseIf", "lElseif")},
    **{c: ("else", 1) for c in ("Else", "uElse", "lElse")},
    **{c: ("eif", 3) for c in ("eIf", "leIf")},
    **{c: ("for", 2) for c in ("For", "lFor")},
    **{c: ("foreach", 2) for c in ("ForEach", "lForEach", "ForAll", "lForAll", "ForPar", "lForPar")},
    **{c: ("while", 2) for c in ("While", "lWhile")},
    **{c: ("repeat", 2) for c in ("Repeat", "lRepeat")},
    **{c: ("dowhile", 2) for c in ("RepeatWhile", "lRepeatWhile")},
    "Switch": ("switch", 2),
    **{c: ("case", 2) for c in ("Case", "uCase", "lCase")},
    **{c: ("other", 1) for c in ("Other", "uOther", "lOther")},
    "Begin": ("begin", 1),
}
_IO = {"KwIn": "Input", "KwOut": "Output", "KwData": "Data", "KwResult": "Result", "KwHData": "Data"}
_COMMENTS = {"tcc", "tcp"}
# Layout commands and their number of brace arguments: they print nothing we translate.
_IGNORED = {
    **{c: 0 for c in (
        "DontPrintSemicolon", "PrintSemicolon", "SetAlgoLined", "SetAlgoNoLine", "SetAlgoVlined",
        "LinesNumbered", "LinesNumberedHidden", "LinesNotNumbered", "SetAlgoNoEnd",
        "SetAlgoShortEnd", "SetAlgoLongEnd", "BlankLine", "Indp", "Indm", "nl", "SetSideCommentLeft",
        "SetSideCommentRight", "SetFillComment", "SetNoFillComment", "NoCaptionOfAlgo",
        "RestoreCaptionOfAlgo", "medskip", "smallskip", "bigskip", "centering", "small",
        "footnotesize", "scriptsize", "normalsize", "AlgoDisplayBlockMarkers",
        "AlgoDontDisplayBlockMarkers", "AlgoDisplayGroupMarkers", "AlgoDontDisplayGroupMarkers",
        "ShowLn", "newline", "par", "hfill", "noindent")},
    **{c: 1 for c in (
        "caption", "label", "lnl", "nllabel", "SetAlFnt", "SetAlCapFnt", "SetAlCapNameFnt",
        "SetKwSty", "SetFuncSty", "SetArgSty", "SetDataSty", "SetCommentSty", "SetFuncArgSty",
        "SetProcNameSty", "SetProcArgSty", "SetAlTitleFnt", "SetAlCapSty", "SetAlCapNameSty",
        "IncMargin", "DecMargin", "SetAlgoHangIndent", "SetVlineSkip", "SetAlgoSkip",
        "SetAlgoInsideSkip", "RestyleAlgo", "SetAlgoCaptionSeparator", "TitleOfAlgo",
        "SetAlgoRefName", "vspace", "SetAlCapSkip", "SetAlCapHSkip", "SetNlSkip",
        "SetCustomAlgoRuledWidth", "nlset", "SetAlgoNlRelativeSize", "SetAlgoCaptionLayout")},
    **{c: 2 for c in ("SetInd", "SetAlgoBlockMarkers", "SetAlgoProcName", "SetAlgoFuncName",
                      "setcounter", "addtocounter", "SetTitleSty")},
    **{c: 3 for c in ("SetNlSty", "SetStartEndCondition", "SetAlgorithmName")},
}


_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# Several words of plain text ending with a full stop, no maths: a sentence, not a step.
_PROSE = re.compile(r"^(?:[A-Za-z][\w'-]*[,;:]?\s+){4,}[A-Za-z][\w'-]*\.$")
_NAME_STYLE = re.compile(
    r"\s*\\(?:textsc|textproc|FuncSty|textrm|textbf|texttt|textit|text|mathrm|mathit|mathsf)\s*\{")


@dataclass
class _Case(ir.Node):
    """A \\Case / \\Other seen in a block; only valid directly inside \\Switch."""

    value: Src | None
    raw: str
    body: list[ir.Node]
    at: int


# a brace group at the start of a line that holds lines of its own (statements, blocks, a return)
_HOLDS_LINES = re.compile(r"\\;|\\(?:For|ForEach|ForAll|If|eIf|uIf|While|Repeat|KwRet|Return)(?![A-Za-z])")


class _Parser:
    def __init__(self, body: Src, defs: Definitions, doc: Document) -> None:
        self.src, self.defs, self.doc = body, defs, doc

    def block(self, src: Src) -> list[ir.Node]:
        nodes: list[ir.Node] = []
        text, n, i = src.text, len(src.text), 0
        pending: int | None = None  # start of the statement being read
        while i < n:
            c = text[i]
            if c == "\n" and pending is not None and _PARAGRAPH.match(text, i):
                self._flush(nodes, src, pending, i, None)  # a blank line ends a paragraph of prose
                pending = None
            if c.isspace():
                i += 1
                continue
            if c == "$" or text.startswith(("\\(", "\\["), i):
                pending = i if pending is None else pending
                i = _skip_math(text, i)
                continue
            if c == "{":
                j = match_close(text, i)
                inner = text[i + 1 : j] if j > 0 else ""
                if pending is None and j > 0 and (inner.rstrip().endswith("\\;") or _HOLDS_LINES.search(inner)):
                    # `{$c \leftarrow 0$\;}`, `{ ... \KwRet{$x$} }`: lines in a group
                    nodes.extend(self.block(src.sub(i + 1, j)))
                    i = j + 1
                    continue
                pending = i if pending is None else pending
                i = j + 1 if j > 0 else i + 1
                continue
            if c != "\\":
                pending = i if pending is None else pending
                i += 1
                continue
            name, j = read_command(text, i)
            cmd = self.defs.aliases.get(name, name)
            if name in (";", "\\") or cmd in _BLOCKS or name in self.defs.progs or cmd in _COMMENTS \
                    or cmd in _IO or name in self.defs.io or name in _IGNORED:
                if cmd in _COMMENTS and pending is not None:  # a side comment ends its line
                    comment, after = self._comment(src, j)
                    self._flush(nodes, src, pending, i, comment)
                    pending, i = None, after
                    continue
                if pending is not None:
                    self._flush(nodes, src, pending, i, None)
                    pending = None
                i = self._command(nodes, src, name, cmd, i, j)
                continue
            pending = i if pending is None else pending
            i = j
        if pending is not None:
            self._flush(nodes, src, pending, n, None)
        return nodes

    def _flush(self, nodes: list[ir.Node], src: Src, start: int, end: int, comment: str | None) -> None:
        stmt = src.sub(start, end).strip()
        if not stmt.text:
            return
        line = self.doc.line(stmt.offset(0))
        if _PROSE.match(stmt.text) and end < len(src.text) and _PARAGRAPH.match(src.text, end):
            nodes.append(ir.Comment(line, plain_text(stmt.text)))  # a paragraph of explanation
            return
        nodes.append(ir.Statement(line, stmt, self._raw(stmt.offset(0), stmt.pos[-1]), comment=comment))

    def _command(self, nodes: list[ir.Node], src: Src, name: str, cmd: str, start: int, j: int) -> int:
        text = src.text
        if name in (";", "\\"):  # `\\` ends a line too, for authors who leave out `\;`
            return j
        if name in _IGNORED:
            if j < len(text) and text[j] == "*":
                j += 1
            opt = read_delimited(text, j, "[", "]")
            j = opt[2] if opt and name == "caption" else j
            for _ in range(_IGNORED[name]):
                g = read_group(text, j)
                j = g[2] if g else j
            return j
        line = self.doc.line(src.offset(start))
        if cmd in _COMMENTS:
            comment, j = self._comment(src, j)
            nodes.append(ir.Comment(line, comment))
            return j
        if cmd in _IO or name in self.defs.io:
            g = read_group(text, j)
            arg = src.sub(g[0], g[1]) if g else src.sub(j, j)
            label = _IO.get(cmd) or self.defs.io[name]
            nodes.append(ir.IO(line, label, arg, self._raw(src.offset(start), src.offset(g[2] if g else j))))
            return g[2] if g else j
        if name in self.defs.progs:
            return self._prog(nodes, src, name, start, j, line)
        return self._block(nodes, src, name, cmd, start, j, line)

    def _args(self, src: Src, name: str, start: int, j: int, count: int) -> tuple[list[Src], str | None, int]:
        """`count` brace arguments, with algorithm2e's optional (comment) before any of them."""
        text, args, comment = src.text, [], None
        for _ in range(count):
            par = read_delimited(text, j, "(", ")")
            if par is not None:  # `(\\tcp*[h]{note})`: the note itself
                note = re.sub(r"^\s*\\(?:tcp|tcc)\*?\s*(?:\[[^\]]*\])?\s*\{(.*)\}\s*$", r"\1", text[par[0] : par[1]],
                              flags=re.S)
                comment = _join(comment, plain_text(note))
                j = par[2]
            g = read_group(text, j)
            if g is None:
                raise self.doc.error(src.offset(start), f"\\{name} expects {count} brace arguments")
            args.append(src.sub(g[0], g[1]))
            j = g[2]
        return args, comment, j

    def _block(self, nodes: list[ir.Node], src: Src, name: str, cmd: str, start: int, j: int, line: int) -> int:
        kind, count = _BLOCKS[cmd]
        args, comment, j = self._args(src, name, start, j, count)
        head_end = args[0].pos[-1] if args else src.offset(j)
        raw = self._raw(src.offset(start), head_end + 1)
        if kind in ("repeat", "dowhile"):
            par = read_delimited(src.text, j, "(", ")")  # (until comment)
            if par is not None and not src.text[j:par[0]].strip("( \t"):
                comment, j = _join(comment, plain_text(src.text[par[0] : par[1]])), par[2]
        node = self._make(nodes, kind, args, line, raw, name, src.offset(start))
        if node is not None:
            node.comment = _join(node.comment, comment) if comment else node.comment
            nodes.append(node)
        elif comment:
            nodes.append(ir.Comment(line, comment))
        return j

    def _make(self, nodes: list[ir.Node], kind: str, args: list[Src], line: int, raw: str,
              name: str, at: int) -> ir.Node | None:
        if kind == "if":
            return ir.If(line, [ir.Branch(args[0], line, raw, self.block(args[1]))])
        if kind == "eif":
            return ir.If(line, [ir.Branch(args[0], line, raw, self.block(args[1])),
                                ir.Branch(None, line, raw, self.block(args[2]))])
        if kind in ("elseif", "else"):
            target = self._open_if(nodes, name, at)
            cond = args[0] if kind == "elseif" else None
            target.branches.append(ir.Branch(cond, line, raw, self.block(args[-1])))
            return None
        if kind in ("for", "foreach"):
            return ir.For(line, args[0], raw, self.block(args[1]), each=(kind == "foreach"))
        if kind == "while":
            return ir.While(line, args[0], raw, self.block(args[1]))
        if kind in ("repeat", "dowhile"):
            return ir.Repeat(line, self.block(args[1]), args[0], line, raw, until=(kind == "repeat"))
        if kind == "switch":
            return self._switch(args, line, raw, at)
        if kind in ("case", "other"):
            value = args[0] if kind == "case" else None
            return _Case(line, value, raw, self.block(args[-1]), at)
        return ir.Block(line, self.block(args[0]), label=name)

    def _open_if(self, nodes: list[ir.Node], name: str, at: int) -> ir.If:
        for node in reversed(nodes):
            if isinstance(node, ir.Comment):
                continue
            if isinstance(node, ir.If) and node.branches[-1].cond is not None:
                return node
            break
        raise self.doc.error(at, f"\\{name} without a preceding \\If / \\uIf / \\ElseIf")

    def _switch(self, args: list[Src], line: int, raw: str, at: int) -> ir.Switch:
        cases: list[ir.Branch] = []
        for node in self.block(args[1]):
            if isinstance(node, _Case):
                cases.append(ir.Branch(node.value, node.line, node.raw, node.body, node.comment))
            elif isinstance(node, ir.Comment):
                continue
            else:
                raise self.doc.error(at, "\\Switch body may only hold \\Case and \\Other blocks")
        return ir.Switch(line, args[0], raw, cases)

    def _prog(self, nodes: list[ir.Node], src: Src, name: str, start: int, j: int, line: int) -> int:
        args, comment, j = self._args(src, name, start, j, 2)
        fname, params = split_header(args[0])
        raw = self._raw(src.offset(start), args[0].pos[-1] + 1)
        end_line = self.doc.line(src.offset(j - 1))
        body = self.block(args[1])
        if name in self.defs.prog_ends:  # \SetKwProg{Fn}{Function}{:}{\KwRet x}: printed after each body
            body += self.block(Src.const(self.defs.prog_ends[name], src.offset(j - 1)))
        node = ir.Function(line, fname, params, raw, body, end_line=end_line,
                           kind=self.defs.progs[name], comment=comment)
        nodes.append(node)
        return j

    def _comment(self, src: Src, j: int) -> tuple[str, int]:
        text = src.text
        if j < len(text) and text[j] == "*":
            j += 1
        opt = read_delimited(text, j, "[", "]")
        if opt is not None and opt[1] - opt[0] <= 2:
            j = opt[2]
        g = read_group(text, j)
        if g is None:
            return "", j
        return plain_text(text[g[0] : g[1]]), g[2]

    def _raw(self, start: int, end: int) -> str:
        return " ".join(self.doc.text[start:max(end, start)].split())


def parse(body: Src, defs: Definitions, doc: Document) -> list[ir.Node]:
    """The algorithm's top-level nodes."""
    parser = _Parser(body, defs, doc)
    nodes = parser.block(body)
    for node in nodes:
        if isinstance(node, _Case):
            raise doc.error(node.at, "\\Case / \\Other outside a \\Switch")
    return nodes


def split_header(header: Src) -> tuple[str, Src]:
    """`\\textsc{Name}($a$, $b$)` or `Name(a, b)` -> ("Name", "$a$, $b$")."""
    text = header.text.strip()
    src = header.strip()
    m = re.match(_NAME_STYLE, src.text)
    if m:
        close = match_close(src.text, m.end() - 1)
        name, rest = src.text[m.end() : close], close + 1
    else:
        k = src.text.find("(")
        k = len(src.text) if k < 0 else k
        name, rest = src.text[:k], k
    par = read_delimited(src.text, rest, "(", ")")
    params = src.sub(par[0], par[1]) if par else src.sub(len(text), len(text))
    return name.strip(), params


def _skip_math(text: str, i: int) -> int:
    if text.startswith("$$", i):
        j = text.find("$$", i + 2)
        return len(text) if j < 0 else j + 2
    if text[i] == "$":
        j = i + 1
        while j < len(text):
            if text[j] == "\\":
                j += 2
                continue
            if text[j] == "$":
                return j + 1
            j += 1
        return len(text)
    close = "\\)" if text.startswith("\\(", i) else "\\]"
    j = text.find(close, i + 2)
    return len(text) if j < 0 else j + 2


def _join(a: str | None, b: str | None) -> str | None:
    if not b:
        return a
    return f"{a}; {b}" if a else b

