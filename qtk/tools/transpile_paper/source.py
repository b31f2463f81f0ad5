"""LaTeX source text for transpile-paper: position tracking, comment stripping, brace and
environment checks, and the small readers (groups, optional arguments, command names) that every
later stage uses.

Every piece of text handled downstream is a `Src`: a string plus, for each character, its offset
in the original file, so that errors and TODO lines still name the right line after comments are
removed and user macros are expanded.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from qtk.errors import UsageError

# Environments whose body is not LaTeX; their braces and \begin/\end are not checked.
VERBATIM_ENVS = {"verbatim", "verbatim*", "lstlisting", "minted", "comment", "Verbatim"}


class Document:
    """The original text of one input, for offset -> line/column lookups."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, offset) - 1
        return i + 1, offset - self._starts[i] + 1

    def line(self, offset: int) -> int:
        return self.line_col(offset)[0]

    def where(self, offset: int) -> str:
        line, col = self.line_col(offset)
        return f"{self.name}:{line}:{col}"

    def error(self, offset: int, message: str) -> UsageError:
        return UsageError(f"{self.where(offset)}: {message}")


@dataclass
class Src:
    """Text with the document offset of each character (`pos` has one extra end entry)."""

    text: str
    pos: list[int]

    @classmethod
    def whole(cls, text: str) -> "Src":
        return cls(text, list(range(len(text) + 1)))

    def __len__(self) -> int:
        return len(self.text)

    def sub(self, i: int, j: int) -> "Src":
        return Src(self.text[i:j], self.pos[i : j + 1] if j < len(self.pos) else self.pos[i:])

    def strip(self) -> "Src":
        i, j = 0, len(self.text)
        while i < j and self.text[i].isspace():
            i += 1
        while j > i and self.text[j - 1].isspace():
            j -= 1
        return self.sub(i, j)

    def offset(self, i: int = 0) -> int:
        return self.pos[min(i, len(self.pos) - 1)]

    @staticmethod
    def join(parts: list["Src"]) -> "Src":
        text = "".join(p.text for p in parts)
        pos: list[int] = []
        for p in parts:
            pos.extend(p.pos[: len(p.text)])
        pos.append(parts[-1].pos[-1] if parts else 0)
        return Src(text, pos)

    @staticmethod
    def const(text: str, at: int) -> "Src":
        """Generated text (a macro body) attributed to one document offset."""
        return Src(text, [at] * (len(text) + 1))


def strip_comments(src: Src) -> Src:
    """Drop `% ...` comments (keeping the newline); `\\%` is a literal percent sign."""
    keep_text: list[str] = []
    keep_pos: list[int] = []
    text, i, n = src.text, 0, len(src.text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            keep_text.append(text[i : i + 2])
            keep_pos.extend(src.pos[i : i + 2])
            i += 2
            continue
        if c == "%":
            while i < n and text[i] != "\n":
                i += 1
            continue
        keep_text.append(c)
        keep_pos.append(src.pos[i])
        i += 1
    keep_pos.append(src.pos[n])
    return Src("".join(keep_text), keep_pos)


_ENV_RE = re.compile(r"\\(begin|end)\s*\{([^{}]*)\}")


def check_balanced(src: Src, doc: Document) -> None:
    """Raise a UsageError naming line/column of the first unbalanced brace or environment."""
    text = src.text
    skip = _verbatim_spans(src, doc)
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        if skip and i in skip:
            i = skip[i]
            continue
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}":
            if not stack:
                raise doc.error(src.offset(i), "unbalanced braces: '}' has no matching '{'")
            stack.pop()
        i += 1
    if stack:
        raise doc.error(src.offset(stack[-1]), "unbalanced braces: '{' is never closed")
    _check_environments(src, doc, skip)


def _verbatim_spans(src: Src, doc: Document) -> dict[int, int]:
    spans: dict[int, int] = {}
    for m in _ENV_RE.finditer(src.text):
        if m.group(1) == "begin" and m.group(2) in VERBATIM_ENVS:
            end = src.text.find("\\end{" + m.group(2) + "}", m.end())
            if end < 0:
                raise doc.error(src.offset(m.start()), f"\\begin{{{m.group(2)}}} is never closed")
            spans[m.start()] = end
    return spans


def _check_environments(src: Src, doc: Document, skip: dict[int, int]) -> None:
    stack: list[tuple[str, int]] = []
    resume = 0
    for m in _ENV_RE.finditer(src.text):
        if m.start() < resume:
            continue
        kind, name = m.group(1), m.group(2).strip()
        if kind == "begin" and m.start() in skip:
            resume = skip[m.start()] + len("\\end{}") + len(name)
            continue
        if kind == "begin":
            stack.append((name, m.start()))
            continue
        if not stack:
            raise doc.error(src.offset(m.start()), f"\\end{{{name}}} has no matching \\begin{{{name}}}")
        open_name, open_at = stack.pop()
        if open_name != name:
            line, col = doc.line_col(src.offset(open_at))
            raise doc.error(
                src.offset(m.start()),
                f"\\end{{{name}}} does not match \\begin{{{open_name}}} opened at line {line}, column {col}",
            )
    if stack:
        name, at = stack[-1]
        raise doc.error(src.offset(at), f"\\begin{{{name}}} is never closed")


# ---- readers over plain strings (index-based, shared by all parsers) ----


def skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def match_close(text: str, i: int, open_c: str = "{", close_c: str = "}") -> int:
    """Index of the bracket closing the one at `i` (braces inside always nest); -1 if none."""
    depth = 0
    brace = 0
    j = i
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if open_c != "{" and c == "{":
            brace += 1
        elif open_c != "{" and c == "}":
            brace -= 1
        elif brace == 0 and c == open_c:
            depth += 1
        elif brace == 0 and c == close_c:
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


def read_group(text: str, i: int) -> tuple[int, int, int] | None:
    """`{...}` at i (after spaces): (inner start, inner end, index after the group)."""
    i = skip_ws(text, i)
    if i >= len(text) or text[i] != "{":
        return None
    j = match_close(text, i)
    if j < 0:
        return None
    return i + 1, j, j + 1


def read_delimited(text: str, i: int, open_c: str, close_c: str) -> tuple[int, int, int] | None:
    """`[...]` or `(...)` at i (after spaces), nesting-aware."""
    i = skip_ws(text, i)
    if i >= len(text) or text[i] != open_c:
        return None
    j = match_close(text, i, open_c, close_c)
    if j < 0:
        return None
    return i + 1, j, j + 1


def read_command(text: str, i: int) -> tuple[str, int]:
    """Name of the control sequence starting at text[i] == '\\' and the index after it."""
    j = i + 1
    if j < len(text) and text[j].isalpha():
        while j < len(text) and text[j].isalpha():
            j += 1
        return text[i + 1 : j], j
    return text[i + 1 : j + 1], j + 1


def read_arg(text: str, i: int) -> tuple[int, int, int] | None:
    """One undelimited TeX argument: a group, a control sequence or a single character."""
    i = skip_ws(text, i)
    if i >= len(text):
        return None
    if text[i] == "{":
        return read_group(text, i)
    if text[i] == "\\":
        _, j = read_command(text, i)
        return i, j, j
    if text[i] == "}":
        return None
    return i, i + 1, i + 1
