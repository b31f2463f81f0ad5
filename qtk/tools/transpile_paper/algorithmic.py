"""Parser for `algorithmic` (\\STATE, \\IF ... \\ENDIF) and algpseudocode / algorithmicx
(\\State, \\If ... \\EndIf, \\Procedure ... \\EndProcedure) bodies into the `ir` tree.

Both packages are line-structured: a command starts a line and its text runs to the next
command, so the body is first cut into items, then the items are nested with a stack. Blocks a
paper declares with \\algblock / \\algdef are nested like the built-in ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qtk.tools.transpile_paper import ir
from qtk.tools.transpile_paper.latex_text import plain_text
from qtk.tools.transpile_paper.macros import Definitions
from qtk.tools.transpile_paper.source import (Document, Src, match_close, read_command, read_delimited, read_group,
                                              skip_ws)

# command -> (kind, number of brace arguments)
_CMDS: dict[str, tuple[str, int]] = {
    **{c: ("state", 0) for c in ("State", "STATE")},
    **{c: ("statex", 0) for c in ("Statex", "STATEx")},
    **{c: ("if", 1) for c in ("If", "IF")},
    **{c: ("elsif", 1) for c in ("ElsIf", "ELSIF", "ElseIf")},
    **{c: ("else", 0) for c in ("Else", "ELSE")},
    **{c: ("endif", 0) for c in ("EndIf", "ENDIF")},
    **{c: ("for", 1) for c in ("For", "FOR")},
    **{c: ("forall", 1) for c in ("ForAll", "FORALL", "ForEach", "FOREACH")},
    **{c: ("endfor", 0) for c in ("EndFor", "ENDFOR")},
    **{c: ("while", 1) for c in ("While", "WHILE")},
    **{c: ("endwhile", 0) for c in ("EndWhile", "ENDWHILE")},
    **{c: ("repeat", 0) for c in ("Repeat", "REPEAT")},
    **{c: ("until", 1) for c in ("Until", "UNTIL")},
    **{c: ("loop", 0) for c in ("Loop", "LOOP")},
    **{c: ("endloop", 0) for c in ("EndLoop", "ENDLOOP")},
    **{c: ("function", 2) for c in ("Function", "Procedure", "FUNCTION", "PROCEDURE")},
    **{c: ("endfunction", 0) for c in ("EndFunction", "EndProcedure", "ENDFUNCTION", "ENDPROCEDURE")},
    **{c: ("io:Require", 0) for c in ("Require", "REQUIRE")},
    **{c: ("io:Ensure", 0) for c in ("Ensure", "ENSURE")},
    **{c: ("io:Input", 0) for c in ("Input", "INPUT")},  # pseudocode.js spells them \\INPUT, \\OUTPUT
    **{c: ("io:Output", 0) for c in ("Output", "OUTPUT")},
    "GLOBALS": ("io:Globals", 0),
    "item": ("item", 0),
    **{c: ("return", 0) for c in ("Return", "RETURN")},
    **{c: ("print", 0) for c in ("Print", "PRINT")},
    **{c: ("comment", 1) for c in ("Comment", "COMMENT")},
}
_CLOSES = {"endif": ("if",), "endfor": ("for", "forall"), "endwhile": ("while",),
           "endloop": ("loop",), "until": ("repeat",), "endfunction": ("function",)}
_OPENS = {"if": "\\EndIf", "for": "\\EndFor", "forall": "\\EndFor", "while": "\\EndWhile",
          "loop": "\\EndLoop", "repeat": "\\Until", "function": "\\EndFunction"}
_COMMENT_LEAD = re.compile(
    r"^\s*(?:\$\\triangleright\$|\\\(\\triangleright\\\)|\\triangleright|//|\\#|\\texttt\{//\})")


@dataclass
class _Item:
    kind: str
    name: str
    args: list[Src]
    start: int  # index in the body text of the command
    text: Src  # the text after the command up to the next command
    option: Src | None = None


class _Frame:
    def __init__(self, kind: str, node: ir.Node | None, body: list[ir.Node], item: _Item | None) -> None:
        self.kind, self.node, self.body, self.item = kind, node, body, item


def parse(body: Src, defs: Definitions, doc: Document) -> list[ir.Node]:
    """The algorithm's top-level nodes."""
    items = _scan(body, defs)
    root = _Frame("root", None, [], None)
    stack = [root]
    block_ends = {end: start for start, (end, _, _) in defs.blocks.items()}
    for prev, it in zip([None] + items, items):
        if it.kind == "comment" and prev is not None and prev.kind in ("state", "statex") \
                and not prev.text.text.strip():
            it.kind = "comment-line"  # `\State \Comment{..}`: a comment on its own line
        _place(it, stack, body, defs, block_ends, doc)
    while stack[-1].kind == "bold":
        stack.pop()
    if len(stack) > 1:
        top = stack[-1]
        closer = _OPENS.get(top.kind) or "\\" + defs.blocks.get(top.kind, ("End",))[0]
        raise doc.error(body.offset(top.item.start), f"\\{top.item.name} is never closed (no {closer})")
    return root.body


def _scan(body: Src, defs: Definitions) -> list[_Item]:
    text, n = body.text, len(body.text)
    structural = set(_CMDS) | set(defs.blocks) | {e for e, _, _ in defs.blocks.values()}
    items: list[_Item] = []
    lead = _Item("lead", "", [], 0, body.sub(0, 0))
    items.append(lead)
    text_from, math, i = 0, False, 0
    while i < n:
        c = text[i]
        if c == "$":
            math = not math
            i += 1
        elif c == "{":
            j = match_close(text, i)
            wrapped = _wrapped_comment(body, i, j) if not math and j > 0 else None
            if wrapped is not None:  # `\\State {$x \\gets 0$} {\\Comment{..}}`: the braces only group it
                items[-1].text = body.sub(text_from, i)
                items.append(wrapped)
                text_from = j + 1
            i = j + 1 if j > 0 else i + 1
        elif c == "\\":
            name, j = read_command(text, i)
            if name not in structural and name not in defs.macros and name.lower() in _LOWER_CMDS:
                name = _LOWER_CMDS[name.lower()]  # `\\Endif`, `\\Endfor`: the package's command, spelled loosely
            if name in ("(", "["):
                math = True
            elif name in (")", "]"):
                math = False
            if not math and name not in structural and name not in defs.macros and _COMMENTISH.fullmatch(name):
                g = read_group(text, j)  # `\\LineComment{..}`, `\\LeftComment{..}` defined nowhere: a comment line
                end = g[2] if g is not None else j
                items[-1].text = body.sub(text_from, i)
                items.append(_Item("comment-line", name, [body.sub(g[0], g[1])] if g else [], i, body.sub(end, end)))
                text_from = i = end
                continue
            if math or name not in structural:
                i = j
                continue
            items[-1].text = body.sub(text_from, i)
            item, i = _read_item(body, name, i, j, defs)
            items.append(item)
            text_from = i
        else:
            i += 1
    items[-1].text = body.sub(text_from, n)
    return items


def _wrapped_comment(body: Src, i: int, j: int) -> _Item | None:
    """The comment item of a brace group holding nothing but `\\Comment{..}`, else None."""
    text = body.text
    k = skip_ws(text, i + 1)
    if not text.startswith("\\", k):
        return None
    name, after = read_command(text, k)
    if _CMDS.get(name, ("",))[0] != "comment":
        return None
    g = read_group(text, after)
    if g is None or text[g[2] : j].strip():
        return None
    return _Item("comment", name, [body.sub(g[0], g[1])], i, body.sub(j + 1, j + 1))


_LOWER_CMDS = {c.lower(): c for c in _CMDS if not c.isupper()}
# a command the paper uses for remarks without defining it here (its preamble is elsewhere)
_COMMENTISH = re.compile(r"[A-Za-z]*(?:Comment|COMMENT|comment|Remark|remark)")


def _read_item(body: Src, name: str, start: int, j: int, defs: Definitions) -> tuple[_Item, int]:
    text = body.text
    if name in defs.blocks:  # \algblock{ParFor}{..} blocks are often used as \ParFor{header}
        kind, n_args = "block:" + name, max(defs.blocks[name][2], 1 if read_group(text, j) else 0)
    elif name not in _CMDS:
        tail = [k for _, (e, k, _) in defs.blocks.items() if e == name and k in ("DoWhile", "Until")]
        kind, n_args = "blockend:" + name, 1 if tail else 0  # `\\doWhile{$n > 0$}` carries the condition
    else:
        kind, n_args = _CMDS[name]
    option = None
    if name.isupper() or kind == "item":
        opt = read_delimited(text, j, "[", "]")
        if opt and not text[j:opt[0]].strip("[ \t"):
            option, j = body.sub(opt[0], opt[1]), opt[2]
    args = []
    for _ in range(n_args):
        g = read_group(text, j)
        if g is None:
            styled = _STYLED_ARG.match(text, j)  # `\\Function {\\bf Name}{..}`, read as `\\textbf{Name}`
            g = read_group(text, styled.end() - 1) if styled else None
            if g is None:
                break
            args.append(body.sub(skip_ws(text, j), g[2]))
            j = g[2]
            continue
        args.append(body.sub(g[0], g[1]))
        j = g[2]
    return _Item(kind, name, args, start, body.sub(j, j), option), j


_STYLED_ARG = re.compile(r"\s*\\(?:textbf|textsc|textit|textrm|texttt|textsf|emph|mathbf|mathrm|mathsf)\s*\{")


def _place(it: _Item, stack: list[_Frame], body: Src, defs: Definitions,
           block_ends: dict[str, str], doc: Document) -> None:
    frame = stack[-1]
    line = doc.line(body.offset(it.start))
    text = it.text.strip()
    raw = _raw(doc, body, it)
    k = it.kind
    if k in ("state", "statex"):
        text = _strip_layout(text)
    if k in ("state", "statex") and _bold_block(it, stack, text, line, raw):
        return
    if k == "statex" and frame.body and isinstance(frame.body[-1], ir.IO) and text.text.strip():
        io = frame.body[-1]  # `\\Require` then `\\Statex $A$ -- an array ...` lines: they describe the inputs
        io.text = Src.join([io.text, Src.const(", ", text.offset()), text]) if io.text.text.strip() else text
        return
    if k in ("lead", "state", "statex"):
        if k == "lead":
            text = Src(re.sub(r"^\s*\[\d*\]", lambda m: " " * len(m.group(0)), text.text), text.pos).strip()
        _statement(frame, text, line, raw, prose_is_comment=(k == "statex"))
    elif k in ("return", "print"):
        src = Src.join([Src.const("\\Return " if k == "return" else "\\Print ", body.offset(it.start)), text])
        frame.body.append(ir.Statement(line, src, raw))
    elif k in ("comment", "comment-line"):
        note = plain_text(it.args[0].text) if it.args else ""
        if not it.args:  # `\Comment $P$ is the prior` without braces: the rest of its line
            cut = text.text.find("\n")
            cut = len(text.text) if cut < 0 else cut
            note, text = plain_text(text.text[:cut]).strip(), text.sub(cut, len(text.text)).strip()
        if k == "comment":
            target = frame.body[-1] if frame.body else frame.node
            if isinstance(target, ir.Function) and it.args:  # on the header line: it may declare the inputs
                target.note_latex = " ".join(x for x in (target.note_latex, it.args[0].text) if x)
            _attach_comment(frame, note)
        else:
            frame.body.append(ir.Comment(line, note))
        _statement(frame, text, line, raw)
    elif k == "item":
        label = plain_text(it.option.text).strip(" :") if it.option else ""
        if label and label.lower() not in ir.INPUT_LABELS | ir.OUTPUT_LABELS:
            # `\algnewcommand\Initialize{\item[\textbf{Initialize:}]}`: a step's name, then its statement
            frame.body.append(ir.Comment(line, label))
            _statement(frame, text, line, raw)
        else:
            frame.body.append(ir.IO(line, label or "Input", text, raw))
    elif k.startswith("io:"):
        frame.body.append(ir.IO(line, k[3:], text, raw))
    elif k in ("if", "for", "forall", "while", "repeat", "loop", "function") or k.startswith("block:"):
        _open(it, stack, line, raw, defs, doc, body)
        _statement(stack[-1], text, line, raw)
    elif k in ("elsif", "else"):
        if frame.kind != "if":
            raise doc.error(body.offset(it.start), f"\\{it.name} without an open \\If")
        cond = it.args[0] if k == "elsif" and it.args else None
        frame.node.branches.append(ir.Branch(cond, line, raw, []))
        frame.body = frame.node.branches[-1].body
        if it.option is not None:
            frame.node.branches[-1].comment = plain_text(it.option.text)
        _statement(frame, text, line, raw)
    else:
        _close(it, stack, body, block_ends, doc, line, raw)
        _statement(stack[-1], text, line, raw)


def _open(it: _Item, stack: list[_Frame], line: int, raw: str, defs: Definitions,
          doc: Document, body: Src) -> None:
    k = it.kind
    arg = it.args[0] if it.args else Src.const("", body.offset(it.start))
    if k == "if":
        node: ir.Node = ir.If(line, [ir.Branch(arg, line, raw, [])])
        inner = node.branches[0].body
    elif k in ("for", "forall"):
        node = ir.For(line, arg, raw, [], each=(k == "forall"))
        inner = node.body
    elif k == "while":
        node = ir.While(line, arg, raw, [])
        inner = node.body
    elif k == "repeat":
        node = ir.Repeat(line, [], None)
        inner = node.body
    elif k == "loop":
        node = ir.Loop(line, [])
        inner = node.body
    elif k == "function":
        params = it.args[1] if len(it.args) > 1 else Src.const("", body.offset(it.start))
        node = ir.Function(line, arg.text, params, raw, [], kind=it.name)
        inner = node.body
    else:
        node, inner = _user_block(it, defs, line, raw, arg)
        k = it.name
    if it.option is not None:
        node.comment = plain_text(it.option.text)
    stack[-1].body.append(node)
    stack.append(_Frame(k, node, inner, it))


# Hand layout before a line's text (`\\quad`, `\\hspace{\\algorithmicindent}`, a control space) and a
# step number written into it (`\\STATE 3. $x \\gets 0$`): neither is part of the statement.
_LAYOUT = re.compile(r"^(?:(?:\\q?quad\b|\\hspace\*?\s*\{(?:[^{}]|\{[^{}]*\})*\}|\\hskip\s*\\algorithmicindent|"
                     r"\\indent\b|\\ |~)\s*)*(?:\d{1,2}[.)]\s+(?=[\\$A-Za-z]))?")


def _strip_layout(text: Src) -> Src:
    m = _LAYOUT.match(text.text)
    return text.sub(m.end(), len(text.text)).strip() if m and m.end() else text


_BOLD = r"\\textbf\s*\{\s*%s\s*\}"
_BOLD_OPEN = re.compile(r"^(?:\\quad\s*)*" + _BOLD % r"(for(?:\s+(?:all|each))?|while|if)" + r"(.*?)(?:\\\s|~|\s)*"
                        + _BOLD % r"(do|then)" + r"\s*$", re.S)
_BOLD_ELSE = re.compile(r"^(?:\\quad\s*)*" + _BOLD % "else" + r"\s*$")
_BOLD_END = re.compile(r"^(?:\\quad\s*)*" + _BOLD % r"end(?:\s*~?\s*(?:for|while|if|loop))?" + r"\s*$")


def _bold_block(it: _Item, stack: list[_Frame], text: Src, line: int, raw: str) -> bool:
    """`\\State \\textbf{for} $i = 1$ \\textbf{to} $n$ \\textbf{do}` ... `\\State \\textbf{end for}`:
    keywords set in bold on lines of their own open and close blocks as the commands do."""
    m = _BOLD_OPEN.match(text.text)
    if m and (m.group(1) == "if") == (m.group(3) == "then"):
        header = text.sub(m.start(2), m.end(2)).strip()
        if m.group(1) == "if":
            node: ir.Node = ir.If(line, [ir.Branch(header, line, raw, [])])
            inner = node.branches[0].body
        elif m.group(1) == "while":
            node = ir.While(line, header, raw, [])
            inner = node.body
        else:
            node = ir.For(line, header, raw, [], each=m.group(1) != "for")
            inner = node.body
        stack[-1].body.append(node)
        stack.append(_Frame("bold", node, inner, it))
        return True
    top = stack[-1]
    if _BOLD_ELSE.match(text.text) and top.kind == "bold" and isinstance(top.node, ir.If):
        top.node.branches.append(ir.Branch(None, line, raw, []))
        top.body = top.node.branches[-1].body
        return True
    if _BOLD_END.match(text.text) and top.kind == "bold":
        stack.pop()
        return True
    return False


def _user_block(it: _Item, defs: Definitions, line: int, raw: str, arg: Src) -> tuple[ir.Node, list]:
    kind = defs.blocks[it.name][1]
    if kind == "For" and it.args:
        node: ir.Node = ir.For(line, arg, raw, [])
    elif kind == "While" and it.args:
        node = ir.While(line, arg, raw, [])
    elif kind in ("DoWhile", "Until"):
        node = ir.Repeat(line, [], None, until=(kind == "Until"))
    else:
        node = ir.Block(line, [], label=it.name, raw=raw, opaque=True)
    return node, node.body


def _close(it: _Item, stack: list[_Frame], body: Src, block_ends: dict[str, str],
           doc: Document, line: int, raw: str) -> None:
    while stack[-1].kind == "bold":  # a bold `for ... do` never closed ends with its parent
        stack.pop()
    frame = stack[-1]
    if it.kind.startswith("blockend:"):
        wanted: tuple[str, ...] = (block_ends.get(it.name, ""),)
    else:
        wanted = _CLOSES[it.kind]
        if block_ends.get(it.name) == frame.kind:  # `\\algdef{S}[FOR]{ForEach}..` ends with \\EndFor
            wanted = (frame.kind,)
    if frame.kind not in wanted:
        at = body.offset(it.start)
        if frame.item is None:
            raise doc.error(at, f"\\{it.name} has no matching opening command")
        open_line, open_col = doc.line_col(body.offset(frame.item.start))
        raise doc.error(at, f"\\{it.name} closes \\{frame.item.name} opened at line {open_line}, "
                        f"column {open_col}")
    if it.kind == "until" or it.kind.startswith("blockend:") and isinstance(frame.node, ir.Repeat):
        frame.node.cond = it.args[0] if it.args else Src.const("", body.offset(it.start))
        frame.node.cond_line, frame.node.raw = line, raw
    if isinstance(frame.node, ir.Function):
        frame.node.end_line = line
    stack.pop()


_SIDE_COMMENT = re.compile(r"\s*(?:\\text(?:it|rm|tt|sf)\s*\{\s*\\#([^{}]*)\}|\$\\triangleright\$([^$]*)"
                           r"|\\\(\\triangleright\\\)([^$]*)"
                           r"|(?:\\q?quad|\\hfill)\s*\\text(?:it|rm)?\s*\{\s*\(([^{}]*)\)\s*\})\s*$")


def _statement(frame: _Frame, text: Src, line: int, raw: str, prose_is_comment: bool = False) -> None:
    if not text.text.strip():
        return
    side = _SIDE_COMMENT.search(text.text)
    if side and side.start() > 0 and text.text[: side.start()].strip():  # `$x \gets 0$ \textit{\# why}`
        _statement(frame, text.sub(0, side.start()), line, raw, prose_is_comment)
        _attach_comment(frame, plain_text(next(g for g in side.groups() if g is not None)).strip())
        return
    if _COMMENT_LEAD.match(text.text):
        frame.body.append(ir.Comment(line, plain_text(_COMMENT_LEAD.sub("", text.text))))
    elif prose_is_comment and not re.search(r"\$|\\\(|\\Call|\\gets|\\leftarrow|\\Return", text.text):
        frame.body.append(ir.Comment(line, plain_text(text.text)))
    else:
        frame.body.append(ir.Statement(line, text, raw))


def _attach_comment(frame: _Frame, comment: str) -> None:
    target: ir.Node | None = frame.body[-1] if frame.body else frame.node
    if isinstance(target, ir.If) and frame.body is target.branches[-1].body and not frame.body:
        target.branches[-1].comment = _join(target.branches[-1].comment, comment)
    elif target is not None and not isinstance(target, ir.Comment):
        target.comment = _join(target.comment, comment)
    else:
        frame.body.append(ir.Comment(0, comment))


def _join(a: str | None, b: str) -> str:
    return f"{a}; {b}" if a else b


def _raw(doc: Document, body: Src, it: _Item) -> str:
    """The line as written in the paper (from the command to the end of its text)."""
    start = body.offset(it.start)
    end = it.text.pos[-1] if it.text.pos else start
    if end <= start:
        end = start + len(it.name) + 1
    return " ".join(doc.text[start:end].split())
