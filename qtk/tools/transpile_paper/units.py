"""Cut parsed algorithms into the functions the module will hold, and name them.

Each \\Function/\\Procedure (or algorithm2e \\SetKwProg function) is one function; an algorithm
without one becomes a single function named from its caption (`\\caption{\\textsc{Merge}(A, p,
q, r)}` also gives the parameters) and taking its \\Require/\\KwIn inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qtk.tools.transpile_paper import ir
from qtk.tools.transpile_paper.algorithm2e import split_header
from qtk.tools.transpile_paper.latex_text import caption_name, function_name, plain_text
from qtk.tools.transpile_paper.source import Src, match_close

_INPUT_LABELS = ir.INPUT_LABELS
_OUTPUT_LABELS = ir.OUTPUT_LABELS


@dataclass
class Unit:
    number: int  # which algorithm (1-based) it came from
    package: str
    title: str  # what the header comment calls it
    latex_name: str | None  # the function's own name, if the pseudo-code names one
    header: Src | None  # parameter list of a named function
    io: list[ir.IO]
    body: list[ir.Node]
    start_line: int
    end_line: int
    name: str = ""  # the Python name, filled by `name_units`
    caption: str | None = None
    note: str | None = None  # a \Comment on the function's own line
    note_latex: str | None = None  # the same comment as written
    caption_latex: str | None = None  # the caption as written (it may declare `$H[0..n-1]$`)

    @property
    def input_io(self) -> list[ir.IO]:
        return [io for io in self.io if io.label.lower().strip(": ：") in _INPUT_LABELS]

    @property
    def output_io(self) -> list[ir.IO]:
        return [io for io in self.io if io.label.lower().strip(": ：") in _OUTPUT_LABELS]


@dataclass
class Naming:
    functions: dict[str, str] = field(default_factory=dict)  # normalised LaTeX name -> def name


def split_units(algos: list[ir.Algorithm]) -> list[Unit]:
    units: list[Unit] = []
    for number, algo in enumerate(algos, 1):
        units.extend(_units_of(algo, number))
    return units


# (labels in any language's letters: `\\textbf{Wejście:}`, `\\textbf{输入：}`)
_BOLD_LABEL = re.compile(r"^\s*\\text(?:bf|sc|it)\s*\{\s*([^\W\d_][^\W\d_ ]*?)\s*([:：]?)\s*\}\s*([:：]?)")


def _promote_io(nodes: list[ir.Node]) -> list[ir.Node]:
    """`\\State \\textbf{Input:} ...` lines are Input/Output declarations, as \\Require is."""
    out: list[ir.Node] = []
    for node in nodes:
        if isinstance(node, ir.Statement) and _BOLD_LABEL.match(_unbraced(node.text).text):
            node = ir.Statement(node.line, _unbraced(node.text), node.raw)  # \State{\textbf{Input: } ...}
        m = _BOLD_LABEL.match(node.text.text) if isinstance(node, ir.Statement) else None
        label = m.group(1).lower() if m else ""
        if m and (m.group(2) or m.group(3)) and label in _INPUT_LABELS | _OUTPUT_LABELS:
            out.append(ir.IO(node.line, m.group(1), node.text.sub(m.end(), len(node.text)), node.raw))
        elif m and (m.group(2) or m.group(3)) and node.text.text[m.end():].strip():
            # `\textbf{Initialize:} $s \gets 0$`: a label naming the step, then the statement
            out.append(ir.Comment(node.line, m.group(1)))
            out.append(ir.Statement(node.line, node.text.sub(m.end(), len(node.text)).strip(), node.raw))
        else:
            if isinstance(node, ir.Function):
                node.body = _promote_io(node.body)
            out.append(node)
    return out


def _unbraced(text: Src) -> Src:
    """The line without a brace pair around all of it (`\\State{...}`: the braces only group)."""
    raw = text.text
    start = len(raw) - len(raw.lstrip())
    end = len(raw.rstrip())
    if start < end and raw[start] == "{" and match_close(raw, start) == end - 1:
        return text.sub(start + 1, end - 1)
    return text


def lead_io(lead: Src | None, line_of) -> list[ir.IO]:
    """`\\textbf{Input:} ... \\\\ \\textbf{Output:} ...` written in the float above the
    algorithmic environment: declarations, one per label."""
    if lead is None:
        return []
    found: list[ir.IO] = []
    text = lead.text
    starts = [m for m in re.finditer(r"\\text(?:bf|sc|it)\s*\{\s*([^\W\d_][^\W\d_ ]*?)\s*[:：]?\s*\}\s*[:：]?", text)
              if m.group(1).lower() in _INPUT_LABELS | _OUTPUT_LABELS]
    for m, nxt in zip(starts, starts[1:] + [None]):
        end = nxt.start() if nxt else len(text)
        piece = lead.sub(m.end(), end)
        cut = re.search(r"\\\\|\n\s*\n|\\(?:caption|label|par)\b", piece.text)
        piece = piece.sub(0, cut.start()) if cut else piece
        found.append(ir.IO(line_of(lead.offset(m.start())), m.group(1), piece.strip(), " ".join(text[m.start():end].split())))
    return found


def _units_of(algo: ir.Algorithm, number: int) -> list[Unit]:
    caption = plain_text(algo.caption.text) if algo.caption is not None else None
    algo.nodes = _promote_io(algo.nodes)
    funcs = [n for n in algo.nodes if isinstance(n, ir.Function)]
    if funcs:  # prose around the procedures explains them; it is no code of its own
        algo.nodes = [ir.Comment(n.line, plain_text(n.text.text)) if _prose(n) else n for n in algo.nodes]
    io = [n for n in algo.nodes if isinstance(n, ir.IO)]
    loose = [n for n in algo.nodes if not isinstance(n, (ir.Function, ir.IO))]
    units: list[Unit] = []
    loose_code = any(isinstance(n, (ir.Statement, ir.If, ir.For, ir.While, ir.Repeat, ir.Loop, ir.Switch, ir.Block))
                     for n in loose)
    for k, fn in enumerate(funcs):
        fn_io, body = _leading_io(fn.body)
        shared_io = io if k == 0 and not loose_code else []  # the Input lines belong to the main code
        end = fn.end_line or _last_line(fn.body, fn.line)
        units.append(Unit(number, algo.package, plain_text(fn.name), fn.name, fn.params,
                          shared_io + fn_io, body, fn.line, end, caption=caption, note=fn.comment,
                          note_latex=fn.note_latex,
                          caption_latex=algo.caption.text if algo.caption is not None else None))
    if funcs and not loose_code:
        return units
    latex_name, header, tail = _caption_header(algo.caption)
    lead = _header_statement(loose)
    if lead is not None:  # `\underline{function Power} $(x, k)$\;` opens the body
        loose.remove(lead[0])
        latex_name, header = lead[1], lead[2]
    title = caption or f"algorithm {number}"
    units.append(Unit(number, algo.package, title, latex_name, header, io, loose,
                      algo.start_line, algo.end_line, caption=caption, note_latex=tail if lead is None else None,
                      caption_latex=algo.caption.text if algo.caption is not None else None))
    return units


_CODE_MARK = re.compile(r"\$|\\\(|\\Call|\\gets|\\leftarrow|:=|=|\\Return|\\textsc")


def _prose(node: ir.Node) -> bool:
    return isinstance(node, ir.Statement) and not _CODE_MARK.search(node.text.text) \
        and len(node.text.text.split()) >= 3


def _leading_io(body: list[ir.Node]) -> tuple[list[ir.IO], list[ir.Node]]:
    io = [n for n in body if isinstance(n, ir.IO)]
    rest = [n for n in body if not isinstance(n, ir.IO)]
    return io, rest


def _last_line(body: list[ir.Node], default: int) -> int:
    return max([n.line for n in body] + [default])


_CAPTION_LABEL = re.compile(r"^\s*(?:\\textbf\s*\{\s*Algorithm\s*\d*\s*[:.]?\s*\}|Algorithm\s+\d+\s*[:.]?)\s*")
# `Name(D) for a digit string $D$ of length $n$`: the words after the call describe its inputs
_CAPTION_TAIL = re.compile(r"\)\s*\$?\s+(?=(?:for|of|on|over|with|where|given)\b)")


def _caption_header(caption: Src | None) -> tuple[str | None, Src | None, str | None]:
    """`\\textsc{Merge}$(A, p, q, r)$` or `Fact(n)` as a caption names a function; a leading
    `\\textbf{Algorithm 3}` is a label, and words after the call (`for a string $D$ of length $n$`)
    are returned as a note on the inputs."""
    if caption is None:
        return None, None, None
    raw, tail = caption.text, None
    label = _CAPTION_LABEL.match(raw)
    start = label.end() if label else 0
    cut = _CAPTION_TAIL.search(raw, start)
    if cut is not None and "(" in raw[start : cut.start()]:
        raw, tail = raw[: cut.start() + 1] + (" $" if raw[start : cut.start()].count("$") % 2 else ""), \
            raw[cut.end() :]
    text = raw[start:].replace("$", " ").replace("\\(", " ").replace("\\)", " ").strip()
    text = re.sub(r"\s*(?:\\to|\\rightarrow|->|→|:)\s*[\w\\{} ]*$", "", text)  # `Name(A) \\to integer`
    m = re.match(r"^(\\[A-Za-z]+\s*\{[^{}]*\}|[A-Za-z][\w\-\\]*)\s*\(.*\)\s*\.?$", text, re.S)
    if m is None:
        return None, None, None
    name, params = split_header(Src.const(text, caption.offset(start)))
    if not name or " " in plain_text(name).strip():
        return None, None, None
    return name, params, tail


_KEYWORD_HEAD = re.compile(r"(?i)^\s*(?:\\(?:underline|textbf|emph|textit)\s*\{\s*)?"
                           r"(?:\\(?:textbf|kw)\s*\{\s*)?(?:function|procedure)\b\s*\}?\s*")


def _header_statement(nodes: list[ir.Node]) -> tuple[ir.Statement, str, Src] | None:
    """The first line of a body written `\\underline{function Name} $(a, b)$` or
    `\\textbf{procedure} Name($a$, $b$)`: the function's name and parameters, as in a caption."""
    first = next((n for n in nodes if not isinstance(n, ir.Comment)), None)
    if not isinstance(first, ir.Statement):
        return None
    m = _KEYWORD_HEAD.match(first.text.text)
    if m is None:
        return None
    rest = re.sub(r"^(\\[A-Za-z]+\s*\{[^{}]*\}|[A-Za-z][\w\\-]*)\s*\}", r"\1", first.text.text[m.end():])
    name, header, _ = _caption_header(Src.const(rest, first.text.offset(m.end())))
    return (first, name, header) if name else None


def name_units(units: list[Unit]) -> Naming:
    """Give every unit a unique Python name and map the pseudo-code names onto them."""
    naming = Naming()
    used: set[str] = set()
    for unit in units:
        if unit.latex_name:
            base = function_name(unit.latex_name)
        elif unit.caption:
            base = caption_name(unit.caption)
        else:
            base = f"algorithm_{unit.number}"
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        unit.name = name
        key = base.rstrip("_")
        if unit.latex_name:
            naming.functions.setdefault(key, name)
        elif unit.caption:
            naming.functions.setdefault(key, name)
    return naming
