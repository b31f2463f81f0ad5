"""LaTeX -> plain text (for comments and docstrings) and LaTeX names -> Python identifiers."""

from __future__ import annotations

import keyword
import re

_SYMBOLS = {
    "gets": "<-", "leftarrow": "<-", "le": "<=", "leq": "<=", "ge": ">=", "geq": ">=",
    "neq": "!=", "ne": "!=", "in": "in", "notin": "not in", "ldots": "...", "dots": "...",
    "cdots": "...", "infty": "inf", "emptyset": "{}", "varnothing": "{}", "cdot": "*",
    "times": "x", "cup": "|", "cap": "&", "setminus": "-", "land": "and", "wedge": "and",
    "lor": "or", "vee": "or", "neg": "not", "lnot": "not", "to": "->", "rightarrow": "->",
    "lfloor": "floor(", "rfloor": ")", "lceil": "ceil(", "rceil": ")", "sum": "sum",
    "triangleright": "", "quad": " ", "qquad": " ", "KwTo": "to", "To": "to",
    "TRUE": "true", "FALSE": "false", "AND": "and", "OR": "or", "NOT": "not", "TO": "to",
    "_": "_", "%": "%", "&": "&", "#": "#", "{": "{", "}": "}", "$": "$", " ": " ", ",": " ",
    ";": " ", "!": "", "\\": " ",
}
_DROP_WITH_ARG = {"label", "vspace", "hspace", "ref", "cite", "eqref", "footnote"}

# Builtins and module names the generated code uses: a variable of that name is renamed.
RESERVED = {
    "len", "range", "max", "min", "sum", "abs", "print", "set", "sorted", "math", "collections", "list", "int",
    "float", "round", "any", "all", "map", "filter", "next", "iter", "type", "str", "pow",
    "divmod", "bool", "dict", "tuple", "zip", "enumerate", "reversed", "object", "id", "input",
    "True", "False", "None",
}


def plain_text(latex: str) -> str:
    """Readable text for a Python comment or docstring."""
    out: list[str] = []
    i, n = 0, len(latex)
    while i < n:
        c = latex[i]
        if c == "\\":
            j = i + 1
            if j < n and latex[j].isalpha():
                while j < n and latex[j].isalpha():
                    j += 1
                name = latex[i + 1 : j]
            else:
                name, j = latex[j : j + 1], j + 1
            if name in _DROP_WITH_ARG:
                j = _skip_group(latex, j)
                name = ""
            sym = _SYMBOLS.get(name)
            if sym is not None and name[:1].isalpha():
                out.append(f" {sym} ")
            else:
                out.append(sym if sym is not None else "" if _is_style(name) else name)
            if name and name[0].isalpha() and name not in _SYMBOLS and not _is_style(name) \
                    and j < n and latex[j].isalnum():
                out.append(" ")
            i = j
        elif c in "{}$~":
            out.append(" " if c == "~" else "")
            i += 1
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\(\s+", "(", text)
    return re.sub(r"\s+([,.;:)])", r"\1", text)


def _is_style(name: str) -> bool:
    return name.startswith(("text", "math", "mbox", "emph", "left", "right", "big", "Big",
                            "operatorname", "hfill", "noindent", "Kw", "Func", "Arg", "Data",
                            "displaystyle", "scriptstyle", "textproc", "Call"))


def _skip_group(latex: str, j: int) -> int:
    while j < len(latex) and latex[j].isspace():
        j += 1
    if j < len(latex) and latex[j] == "{":
        depth = 0
        while j < len(latex):
            if latex[j] == "{":
                depth += 1
            elif latex[j] == "}":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
    return j


def function_name(latex: str) -> str:
    """`Insertion-Sort`, `\\textsc{Merge Sort}`, `power\\_sum` -> `insertion_sort`, ..."""
    text = plain_text(latex)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)  # MergeSort -> Merge_Sort
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)  # DFSOrder -> DFS_Order
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    return safe_identifier(text or "algorithm")


def variable_name(name: str) -> str:
    """A LaTeX variable name kept as written (case matters: A and a differ); `_` alone, a part left
    unused, stays `_`."""
    if name == "_":
        return name
    text = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "x"
    return safe_identifier(text)


def safe_identifier(text: str) -> str:
    if text[0].isdigit():
        text = "_" + text
    if keyword.iskeyword(text) or text in RESERVED:
        text += "_"
    return text


def caption_name(latex: str, max_words: int = 4) -> str:
    """A function name from a caption: `Insertion sort (CLRS)` -> `insertion_sort_clrs`."""
    text = re.split(r"[,:;(]", plain_text(latex).replace("'", ""))[0]  # `Adam, our method` -> Adam
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text))
    words = re.findall(r"[0-9A-Za-z]+", text)
    return safe_identifier("_".join(words[:max_words]).lower() or "algorithm")


_NOTE = re.compile(r"^\\(?:emph|textit|textsl|itshape|em|textbf)\s*\{")


def note_text(latex: str) -> str | None:
    """A line that is only an emphasised sentence (`\\emph{We keep the cheapest price.}`,
    `\\textit{Scan $s$ once.}`) or a bold heading (`\\textbf{Compute the norm:}`) is the author's
    note, not code: its plain text."""
    from qtk.tools.transpile_paper.source import match_close

    text = latex.strip()
    m = _NOTE.match(text)
    if m is None:
        return None
    close = match_close(text, m.end() - 1)
    rest = text[close + 1 :].strip() if close > 0 else "?"
    if rest not in ("", "\\;", ";", "."):
        return None
    inner = plain_text(text[m.end() : close]).strip()
    if "textbf" in m.group(0) and not inner.endswith(":"):
        return None  # `\\textbf{break}` is a keyword; `\\textbf{Scale:}` heads the lines below
    return inner
