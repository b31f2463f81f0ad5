"""Tokenizer for the text of one pseudo-code line: math mode ($...$, \\(...\\)) and the prose
around it, turned into one token stream.

Conventions of pseudo-code rather than of typeset maths: a run of letters is one name (`key`,
`low`), `\\textsc{Merge-Sort}` / `\\Call{..}{..}` are function names, and English words such as
*to*, *downto*, *and*, *each*, *exchange* are keywords wherever they appear (`\\To`,
`\\textbf{to}`, plain `to`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from qtk.tools.transpile_paper.source import match_close, read_command, read_group

KEYWORDS = {
    "and", "or", "not", "to", "downto", "down", "step", "by", "do", "then", "in", "each",
    "every", "all", "for", "from", "if", "else", "return", "returns", "mod", "div", "true",
    "false", "nil", "null", "none", "is", "are", "even", "odd", "empty", "nonempty", "of",
    "let", "be", "new", "array", "arrays", "list", "lists", "set", "queue", "stack", "exchange",
    "swap", "with", "break", "continue", "print", "output", "increment", "decrement", "the",
    "end", "until", "while", "xor", "zeros", "zero", "infinity", "equal", "equals", "where",
    "initialized", "filled", "times", "than", "greater", "less", "at", "most", "least",
}
# The keywords a \\mathrm{..}/\\textit{..} word may be (others there are names: \\mathit{list}).
_OPERATOR_WORDS = {"and", "or", "not", "mod", "div", "to", "downto", "step", "by", "do", "then",
                   "in", "xor", "is", "if", "else", "for", "each", "return", "break", "continue"}
_CONST_WORDS = {"true": "True", "false": "False", "nil": "None", "null": "None", "none": "None"}

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "varrho",
    "sigma", "varsigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma",
    "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega", "ell",
}

_OPS = {  # command -> (kind, value)
    **{c: ("op", "gets") for c in ("gets", "leftarrow", "Leftarrow", "longleftarrow",
                                   "coloneqq", "coloneq", "colonequals")},
    **{c: ("op", "<=") for c in ("le", "leq", "leqslant", "leqq")},
    **{c: ("op", ">=") for c in ("ge", "geq", "geqslant", "geqq")},
    **{c: ("op", "!=") for c in ("neq", "ne")},
    "lt": ("op", "<"), "gt": ("op", ">"), "equiv": ("op", "=="),
    "gg": ("op", ">>"), "ll": ("op", "<<"), "pmod": ("op", "pmod"), "imod": ("op", "pmod"),
    "in": ("op", "in"), "notin": ("op", "notin"), "mid": ("op", "mid"),
    "subseteq": ("op", "<=s"), "subset": ("op", "<s"), "supseteq": ("op", ">=s"),
    "supset": ("op", ">s"), "subsetneq": ("op", "<s"),
    **{c: ("kw", "and") for c in ("land", "wedge", "AND", "And", "&", "KwAnd")},
    **{c: ("kw", "or") for c in ("lor", "vee", "OR", "Or", "KwOr")},
    **{c: ("kw", "not") for c in ("neg", "lnot", "NOT", "Not", "KwNot")},
    **{c: ("op", "xor") for c in ("XOR", "oplus", "Xor")},
    **{c: ("op", "*") for c in ("cdot", "times", "ast", "cdotp")},
    "div": ("op", "/"), "bmod": ("kw", "mod"), "mod": ("kw", "mod"), "%": ("op", "%"),
    "pm": ("op", "pm"),
    "cup": ("op", "cup"), "cap": ("op", "cap"), "setminus": ("op", "setminus"),
    "backslash": ("op", "setminus"),
    **{c: ("const", "emptyset") for c in ("emptyset", "varnothing")},
    "infty": ("const", "inf"),
    **{c: ("const", "True") for c in ("TRUE", "True", "KwTrue", "top")},
    "bot": ("const", "False"),
    **{c: ("const", "False") for c in ("FALSE", "False", "KwFalse")},
    **{c: ("const", "None") for c in ("NIL", "Nil", "Null", "NULL", "KwNil", "None", "KwNull")},
    **{c: ("kw", "to") for c in ("To", "TO", "KwTo", "algorithmicto")},
    **{c: ("kw", "downto") for c in ("DownTo", "Downto", "downto", "KwDownto", "KwDownTo", "DOWNTO")},
    **{c: ("kw", "step") for c in ("Step", "KwStep", "STEP", "By", "KwBy")},
    **{c: ("kw", "return") for c in ("Return", "RETURN", "KwRet", "algorithmicreturn")},
    **{c: ("kw", "break") for c in ("Break", "BREAK", "KwBreak")},
    **{c: ("kw", "continue") for c in ("Continue", "CONTINUE", "KwContinue")},
    **{c: ("kw", "print") for c in ("Print", "PRINT", "KwPrint")},
    **{c: ("kw", "do") for c in ("Do", "DO", "algorithmicdo")},
    **{c: ("kw", "then") for c in ("Then", "algorithmicthen")},
    **{c: ("kw", "each") for c in ("Each", "KwEach")},
    **{c: ("op", "...") for c in ("ldots", "dots", "cdots", "dotsc", "dotsb", "dotsm", "hdots")},
    "lbrack": ("op", "["), "rbrack": ("op", "]"),  # `S \lbrack i \rbrack`: the brackets spelled out
    "lfloor": ("op", "lfloor"), "rfloor": ("op", "rfloor"), "lceil": ("op", "lceil"),
    "rceil": ("op", "rceil"),
    **{c: ("op", "|") for c in ("lvert", "rvert", "vert", "mid|")},
    **{c: ("op", "||") for c in ("|", "Vert", "lVert", "rVert")},
    "langle": ("op", "langle"), "rangle": ("op", "rangle"),
    **{c: ("op", "{s") for c in ("{", "lbrace")},
    **{c: ("op", "}s") for c in ("}", "rbrace")},
    **{c: ("op", "swap") for c in ("leftrightarrow", "leftrightarrows", "rightleftarrows",
                                   "longleftrightarrow", "swap")},
    **{c: ("op", "->") for c in ("to>", "rightarrow", "mapsto")},
    **{c: ("cmd", c) for c in ("frac", "dfrac", "tfrac", "cfrac", "sqrt", "binom")},
    **{c: ("bigop", c) for c in ("max", "min", "sum", "prod", "argmax", "argmin", "bigcup", "bigcap")},
    "circ": ("op", "+"),  # s \\circ c: concatenation of strings or lists
    "inf": ("bigop", "min"), "sup": ("bigop", "max"),  # over a finite set, as pseudo-code means them
    **{c: ("mathfn", c) for c in ("log", "ln", "lg", "exp", "sin", "cos", "tan", "gcd", "tanh", "sinh", "cosh", "arctan", "deg")},
    "triangleright": ("comment", ""),
    "exists": ("cmd", "exists"), "forall": ("cmd", "forall"), "#": ("cmd", "card"),
}
_SKIP = {",", ";", "!", " ", ":", ">", "quad", "qquad", "left", "right", "big", "Big", "bigg",
         "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "middle",
         "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "hfill", "nobreak",
         "allowbreak", "relax", "xspace", "normalfont", "rm", "it", "bf", "tt", "sf", "small",
         "footnotesize", "noindent", "/", "\\", "newline", "enspace", "thinspace", "negthinspace",
         "medspace", "thickspace", "nl", "unskip", "BlankLine", "cr", "strut", "item",
         # font switches without an argument (`\\upshape $a > 0$`), and `\\-` (a place where a word may break)
         "upshape", "itshape", "slshape", "scshape", "bfseries", "mdseries", "rmfamily", "sffamily", "ttfamily",
         "em", "-"}
_SIZED = {"left": "[", "bigl": "[", "Bigl": "[", "biggl": "[", "Biggl": "[",
          "right": "]", "bigr": "]", "Bigr": "]", "biggr": "]", "Biggr": "]"}
_SKIP_ARG = {"label", "hspace", "vspace", "phantom", "hphantom", "vphantom", "footnote", "cite",
             "ref", "eqref", "mathopen", "mathclose", "color", "index", "tag"}
_INLINE_ARG = {"mathbin", "mathrel", "mathop", "mathord", "ensuremath", "mathpunct", "mathinner", "underbrace",
               "overbrace", "textcolor", "hbox", "smash", "boxed", "fbox", "mathclap", "mathllap", "mathrlap"}
_FUNC_STYLE = {"textsc", "textproc", "FuncSty", "ProcNameSty", "ProgSty", "Call", "CALL"}
_TEXT_STYLE = {"text", "textrm", "textit", "textbf", "textsf", "texttt", "textup", "textnormal",
               "emph", "mbox", "textmd", "KwSty", "ArgSty", "DataSty", "ProcArgSty", "FuncArgSty",
               "textsl", "underline"}
_ROMAN_STYLE = {"mathrm", "mathit", "mathsf", "mathtt", "mathbf", "mathnormal", "operatorname",
                "boldsymbol", "bm", "mathcal", "mathbb", "mathscr", "mathfrak", "pmb", "mathbold"}
_BOLD_STYLES = {"mathbf", "boldsymbol", "bm", "pmb", "mathbold"}
_INDICATOR_STYLES = {"mathbb", "mathbf", "mathds", "mathbbm", "bm", "boldsymbol", "mathbb1"}
_ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
            "widetilde": "tilde", "vec": "vec", "dot": "dot", "ddot": "ddot"}
_MATH_OPS = ["**", "//", "==", "!=", "<=", ">=", ":=", "+=", "-=", "*=", "...", "..", "&&", "||"]
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\\_[A-Za-z0-9]+)*")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:(?:-|\\_|_)[A-Za-z0-9]+)*")
# explicit space commands on both sides of a `|` in maths (an absolute value hugs its operand)
_SPACES = r"\\(?:enspace|quad|qquad|;|:|medspace|thickspace|[ ])"
_SPACED_BAR = re.compile(_SPACES + r"\s*$")
_SPACED_AFTER = re.compile(r"\s*" + _SPACES)
_NUM_RE = re.compile(r"0[xX][0-9a-fA-F]+\b|0[bB][01]+\b|\d+(?:\.\d+)?")  # 0x80, 0b101: C literals
_PLAIN_RE = re.compile(r"(?P<w>%s)|\d+|[<>=+\-*/(),.:]" % _WORD_RE.pattern)


@dataclass
class Tok:
    kind: str  # name num str kw op const cmd bigop mathfn unknown
    value: str
    at: int  # index in the tokenized text, for messages
    math: bool = True
    style: str = "math"  # for names: math | prose | roman | func | numbers
    bold: bool = False  # set in bold maths (\\mathbf{w}, \\boldsymbol{\\mu}): papers' vectors


def _string_literal(style: str, content: str) -> str | None:
    """The string a typewriter-set symbol or a quoted text stands for, if it is one."""
    text = content.strip().replace("\\_", "_").replace("\\{", "{").replace("\\}", "}")
    text = text.replace("\\textasciitilde{}", "~").replace("\\%", "%").replace("\\#", "#")
    for open_q, close_q in (('"', '"'), ("'", "'"), ("``", "''"), ("`", "'")):
        if len(text) >= len(open_q) + len(close_q) and text.startswith(open_q) and text.endswith(close_q):
            return text[len(open_q) : len(text) - len(close_q)]
    if style in ("texttt", "mathtt") and len(text) == 1 and not text.isalnum():
        return text
    return None


class Untranslatable(Exception):
    """This piece of LaTeX has no Python translation; the caller writes a TODO."""


def tokenize(text: str, math: bool = False) -> tuple[list[Tok], str | None]:
    """Tokens of one line of pseudo-code and its trailing comment (`// ...`, \\triangleright)."""
    toks: list[Tok] = []
    comment = _Tokenizer(text, toks).run(0, len(text), math)
    return toks, comment


# text accents (`\\'e`, `\\`a`, `\\^o`, `\\"u`, `\\~n`): the combining mark each adds to its letter
_TEXT_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "c": "\u0327"}


def _after_label(text: str, k: int, end: int) -> int:
    """The index after the `^{..}` / `_\\text{..}` label of an over- or underbrace at k (k if none)."""
    j = k
    while j < end and text[j].isspace():
        j += 1
    if j >= end or text[j] not in "^_":
        return k
    j += 1
    while j < end and text[j].isspace():
        j += 1
    if j < end and text[j] == "\\":
        _, j = read_command(text, j)
    g = read_group(text, j)
    return g[2] if g is not None else min(j + 1, end)


class _Tokenizer:
    def __init__(self, text: str, out: list[Tok]) -> None:
        self.text, self.out = text, out
        self.norms_open = False
        self.note = ""  # `// ...` remarks on lines of their own before the statement

    def _after_operand(self) -> bool:
        """Whether the last token ends an operand (a name, a number, a closing bracket)."""
        last = self.out[-1] if self.out else None
        return last is not None and (last.kind in ("name", "num", "const", "str")
                                     or last.kind == "op" and last.value in (")", "]", "}"))

    def run(self, i: int, end: int, math: bool) -> str | None:
        text = self.text
        while i < end:
            c = text[i]
            if c.isspace() or c == "~" or c == "&" and math:
                i += 1
            elif c == "$":
                i += 2 if text.startswith("$$", i) else 1
                math = not math
            elif c == "\\":
                i, math, comment = self._command(i, end, math)
                if comment is not None:
                    return comment
            elif c == "{":
                j = match_close(text, i)
                j = end - 1 if j < 0 or j >= end else j
                self.add("op", "{", i, math)
                self.run(i + 1, j, math)
                self.add("op", "}", j, math)
                i = j + 1
            elif c == "}":
                i += 1
            elif not math and text.startswith("``", i) and 0 < text.find("''", i + 2) < end:
                close = text.find("''", i + 2)  # ``Fizz'': a string constant in text
                self.add("str", text[i + 2 : close], i, True)
                i = close + 2
            elif c == '"' and 0 < text.find('"', i + 1) < end:  # "abc": a string constant
                close = text.find('"', i + 1)
                self.add("str", text[i + 1 : close], i, True)
                i = close + 1
            elif not math and text.startswith("//", i):
                nl = text.find("\n", i, end)
                if nl < 0 or not text[nl:end].strip():
                    return " ".join(x for x in (self.note, text[i + 2 : end].strip()) if x) or None
                self.note = " ".join(x for x in (self.note, text[i + 2 : nl].strip()) if x)
                i = nl + 1  # `// a remark` ends with its line; the statement goes on below it
            elif c.isdigit():
                m = _NUM_RE.match(text, i)
                self.add("num", m.group(0), i, math)
                i = m.end()
            elif c.isalpha():
                i = self._word(i, math)
            else:
                i = self._punct(i, math)
        return self.note or None

    def add(self, kind: str, value: str, at: int, math: bool, style: str = "math") -> None:
        self.out.append(Tok(kind, value, at, math, style))

    def _word(self, i: int, math: bool) -> int:
        m = (_NAME_RE if math else _WORD_RE).match(self.text, i)
        word = m.group(0) if m else self.text[i]
        end = m.end() if m else i + 1
        parts = word.split("-")
        if not math and len(parts) > 1 and (any(x.isdigit() for x in parts[1:]) or all(len(x) == 1 for x in parts)):
            word, end = parts[0], i + len(parts[0])  # `(A,p,r-1)`, `n-k` written in text: a difference, not one word
        if math and word.lower() in _CONST_WORDS and word in (word.lower(), word.capitalize(), word.upper()):
            self.add("const", _CONST_WORDS[word.lower()], i, True)  # $x \gets True$, $found \gets false$
        elif math:
            self.add("name", word.replace("\\_", "_"), i, True, "math")
        else:
            self.word(word.replace("\\_", "_"), i, "prose", False)
        return end

    def word(self, word: str, at: int, style: str, math: bool) -> None:
        """A word of text: keyword, constant, big operator or name (`style` says how it was set)."""
        low = word.lower().replace("-", "")
        if low in _CONST_WORDS:
            self.add("const", _CONST_WORDS[low], at, math)
        elif style == "prose" and low == "divides":  # `$d$ divides $n$`: d \mid n
            self.add("op", "mid", at, False)
        elif (style == "prose" and low in KEYWORDS) or (style == "roman" and low in _OPERATOR_WORDS):
            self.add("kw", low, at, False)
        elif low in ("argmax", "argmin", "max", "min") and style in ("roman", "func"):
            self.add("bigop", low, at, math)
        elif word.isdigit():
            self.add("num", word, at, math)
        else:
            self.add("name", word, at, math, style)

    def _punct(self, i: int, math: bool) -> int:
        text = self.text
        for op in _MATH_OPS:
            if text.startswith(op, i):
                if op == ":=":
                    self.add("op", "gets", i, math)
                elif op == "&&":
                    self.add("kw", "and", i, math)
                elif op == "||" and math and (self.norms_open or not self._after_operand()):
                    self.norms_open = not self.norms_open  # `||x_i - x_j||`: a norm, opened then closed
                    self.add("op", "||", i, math)
                elif op == "||":
                    self.add("kw", "or", i, math)
                else:
                    self.add("op", op, i, math)
                return i + len(op)
        c = text[i]
        if c == "|" and math and _SPACED_BAR.search(text[:i]) and _SPACED_AFTER.match(text, i + 1):
            self.add("op", "bitor", i, math)  # `a \enspace | \enspace b`: a bar set apart by spaces is an or
            return i + 1
        if c == "<" and text.startswith("<-", i) and not math:
            self.add("op", "gets", i, math)
            return i + 2
        self.add("op", c, i, math)
        return i + 1

    def _accented(self, accent: str, j: int, end: int, at: int) -> int:
        """`d\\'efinir`, `\\`a`, `\\^{o}`: the accented letter, joined to the letters around it into one word."""
        text = self.text
        if j < end and text[j] == "{" and j + 2 < end and text[j + 2] == "}":
            letter, k = text[j + 1], j + 3
        elif j < end and text[j].isalpha():
            letter, k = text[j], j + 1
        else:
            return j
        char = unicodedata.normalize("NFC", letter + _TEXT_ACCENTS[accent])
        m = _WORD_RE.match(text, k) if k < end and text[k].isalpha() else None
        word, k = (char + m.group(0), m.end()) if m else (char, k)
        prev = self.out[-1] if self.out else None
        if prev is not None and not prev.math and prev.kind == "name" and prev.at + len(prev.value) == at:
            self.out.pop()  # `d\\'e...`: the letters before belong to the same word
            word, at = prev.value + word, prev.at
        self.word(word, at, "prose", False)
        return k

    def _command(self, i: int, end: int, math: bool) -> tuple[int, bool, str | None]:
        text = self.text
        name, j = read_command(text, i)
        if name in ("(", "["):
            return j, True, None
        if name in (")", "]"):
            return j, False, None
        if name == "not":  # \not= , \not\in
            k = j
            while k < end and text[k].isspace():
                k += 1
            if text.startswith("=", k):
                self.add("op", "!=", i, math)
                return k + 1, math, None
            if text.startswith("\\in", k):
                self.add("op", "notin", i, math)
                return k + 3, math, None
            if text.startswith("\\equiv", k):  # `a \\not\\equiv b \\pmod{m}`
                self.add("op", "!=", i, math)
                return k + 6, math, None
        if name == "_":
            after = text[j:end].lstrip().lstrip("\\ ").lstrip()
            prev = self.out[-1].value if self.out else ""
            if math and prev in ("(", ",") and after[:1] in (",", ")"):
                self.add("name", "_", i, True)  # `(cost, \\_, u) \\gets ..`: a part left unused
            else:
                self.add("op", "_", i, math)  # a literal underscore outside a name
            return j, math, None
        if name in _TEXT_ACCENTS and not math:
            return self._accented(name, j, end, i), math, None
        k = j
        while k < end and text[k] == " ":
            k += 1
        if name in _SIZED and k < end and text[k] == ".":  # `\\left.`, `\\right.`: no delimiter at all
            return k + 1, math, None
        if name in _SIZED and k < end and text[k] == _SIZED[name]:  # `\\alpha \\left[ r - q \\right]`: a
            self.add("op", "(" if text[k] == "[" else ")", i, math)  # group in brackets, never an index
            return k + 1, math, None
        if name in _SKIP:
            return j, math, None
        special = self._special(name, i, j, end, math)
        if special is not None:
            return special, math, None
        if name in _SKIP_ARG:
            g = read_group(text, j)
            return (g[2] if g else j), math, None
        if name in _INLINE_ARG:
            g = read_group(text, j)
            if g is None:
                return j, math, None
            if name == "textcolor":  # \textcolor{red}{x}: keep x
                g = read_group(text, g[2]) or g
            self.run(g[0], g[1], math)
            if name in ("underbrace", "overbrace"):  # `\overbrace{x < d}^\text{condition 1}`: the label is a remark
                return _after_label(text, g[2], end), math, None
            return g[2], math, None
        if name in _OPS:
            kind, value = _OPS[name]
            if kind == "comment":
                return end, math, _rest_as_comment(text[j:end])
            self.add(kind, value, i, math)
            return j, math, None
        m = re.match(r"\s*\\(max|min)(?![A-Za-z])", text[j:end]) if name == "arg" else None
        if m:
            self.add("bigop", "arg" + m.group(1), i, math)
            return j + m.end(), math, None
        if name in GREEK:
            self.add("name", {"lambda": "lam", "ell": "l"}.get(name, name), i, math, "math")
            return j, math, None
        if name in _ACCENTS:
            return self._accent(i, j, _ACCENTS[name], math), math, None
        if name in _FUNC_STYLE or name in _TEXT_STYLE or name in _ROMAN_STYLE:
            return self._styled(name, i, j, math), math, None
        self.add("unknown", name, i, math)
        return j, math, None

    def _special(self, name: str, i: int, j: int, end: int, math: bool) -> int | None:
        """Commands whose meaning depends on where they stand; the index after them, or None."""
        if name in ("hskip", "vskip", "kern", "hspace*", "mkern", "mskip", "mspace"):  # `\\kern 2pt`, `\\mkern10mu`
            m = re.match(r"\s*(?:\\[A-Za-z@]+|-?[\d.]+\s*(?:pt|em|ex|mm|cm|in|mu)?)", self.text[j:end])
            return j + (m.end() if m else 0)
        if name == "operator" and self.text.startswith("@font", j):  # `{\\operator@font mod}`: the word as set
            return j + len("@font")
        if name == "&" and math:  # `x \\& 1`: bitwise and in maths, `and` in prose
            m = re.match(r"\s*\\&", self.text[j:end])
            if m:  # `a > 0 \\&\\& b > 0`: C's logical and
                self.add("kw", "and", i, math)
                return j + m.end()
            self.add("op", "&", i, math)
            return j
        if name == "nabla":  # \\nabla f, \\nabla_\\theta L: the gradient, one function named grad_f
            m = re.match(r"\s*(?:_\s*(?:\{[^{}]*\}|\\?[A-Za-z]+)\s*)?\\?([A-Za-z]+)", self.text[j:end])
            if m:
                letter = {"lambda": "lam", "ell": "l"}.get(m.group(1), m.group(1))
                self.add("name", f"grad_{letter}", i, math, "math")
                return j + m.end()
        if name == "underset":  # \\underset{a \\in A}{\\arg\\max}: the operator with the range under it
            below, above = read_group(self.text, j), None
            above = read_group(self.text, below[2]) if below else None
            if below and above:
                self.run(above[0], above[1], math)
                self.add("op", "_", i, math)
                self.add("op", "{", i, math)
                self.run(below[0], below[1], math)
                self.add("op", "}", i, math)
                return above[2]
        if name == "ldotp":  # clrscode's `\\twodots` is `\\ldotp\\ldotp`: the range dots `..`
            if self.out and self.out[-1].kind == "op" and self.out[-1].value == ".":
                self.out[-1].value = ".."
            else:
                self.add("op", ".", i, math)
            return j
        if name in ("star", "ast") and self.out and self.out[-1].value == "^":
            self.add("op", "*", i, math)  # x^\\star: the optimum x_star
            return j
        return None

    def _styled(self, name: str, i: int, j: int, math: bool) -> int:
        first = len(self.out)
        end = self._styled_tokens(name, i, j, math)
        if name in _BOLD_STYLES and math:
            for tok in self.out[first:]:
                tok.bold = tok.kind == "name" or tok.kind == "num" and tok.value == "0"
        return end

    def _styled_tokens(self, name: str, i: int, j: int, math: bool) -> int:
        text = self.text
        if j < len(text) and text[j] == "*":
            j += 1
        g = read_group(text, j)
        if g is None:
            return j
        if name in ("Call", "CALL"):
            self._function_word(text[g[0] : g[1]], i, math)
            args = read_group(text, g[2])
            if args is None:
                return g[2]
            self.add("op", "(", args[0], True)  # algpseudocode typesets the arguments as text, but
            self.run(args[0], args[1], "$" not in text[args[0] : args[1]])  # `\\Call{Fact}{n-1}` means maths
            self.add("op", ")", args[1], True)
            return args[2]
        content = text[g[0] : g[1]]
        prev = self.out[-1] if self.out else None
        if content == "-" and math and prev is not None and prev.kind == "name" and prev.math \
                and g[2] < len(text) and text[g[2]].isalpha():  # `left\\text{-}sum`: one hyphenated name
            m = _NAME_RE.match(text, g[2])
            prev.value = f"{prev.value}-{m.group(0)}"
            return m.end()
        if name in _INDICATOR_STYLES and content.strip() in ("1", "I"):
            self.add("cmd", "indicator", i, math)  # \\mathbb{1}[y_i = t]: 1 when the condition holds
            return g[2]
        literal = _string_literal(name, content)
        if literal is not None:  # \\texttt{(}, \\texttt{"ab"}: a character or string constant
            self.add("str", literal, i, True)
            return g[2]
        if name in _FUNC_STYLE:
            self._function_word(content, i, math)
        elif re.search(r"[$\\^_{}]", content.replace("\\_", "").replace("\\,", "").replace("\\ ", "")):
            self.run(g[0], g[1], math=name in _ROMAN_STYLE)
        else:
            style = "roman" if name in _ROMAN_STYLE or name in ("textit", "emph", "texttt") else "prose"
            if name == "mathit" and content.strip() in ("max", "min"):
                style = "math"  # \\mathit{max}: a variable named max, not the operator
            if name == "mathbb":
                style = "numbers"  # \mathbb{R}: a set of numbers, never an input
            clean = content.replace("\\_", "_").replace("\\,", "").replace("\\ ", " ")
            if name == "operatorname":
                clean = clean.replace(" ", "")
            if re.fullmatch(r"\s*0[xX][0-9a-fA-F]+\s*|\s*0[bB][01]+\s*", clean):  # \mathtt{0x80}
                self.add("num", clean.strip(), i, math)
                return g[2]
            for m in _PLAIN_RE.finditer(clean):
                if m.group("w"):
                    self.word(m.group("w"), i, style, math and style != "prose")
                else:
                    self.add("num" if m.group(0).isdigit() else "op", m.group(0), i, math)
        return g[2]

    def _function_word(self, content: str, at: int, math: bool) -> None:
        words = re.sub(r"\\[,; ]|~", " ", content).replace("\\_", "_").strip()
        words = re.sub(r"\\[A-Za-z]+\s*", "", words).strip("{} ")
        if words.lower() in _CONST_WORDS:
            self.add("const", _CONST_WORDS[words.lower()], at, math)
        elif words.lower().replace(" ", "") in ("argmax", "argmin"):
            self.add("bigop", words.lower().replace(" ", ""), at, math)
        else:
            self.add("name", words or "f", at, math, "func")

    def _accent(self, i: int, j: int, suffix: str, math: bool) -> int:
        arg = read_group(self.text, j)
        if arg is None:  # `\hat x`, `\hat\nu`
            m = re.match(r"\s*(?:\\(%s)(?![A-Za-z])|([A-Za-z]))" % "|".join(sorted(GREEK)), self.text[j:])
            if m is None:
                self.add("unknown", suffix, i, math)
                return j
            letter = {"lambda": "lam", "ell": "l"}.get(m.group(1), m.group(1)) or m.group(2)
            self.add("name", f"{letter}_{suffix}", i, math, "math")
            return j + m.end()
        inner = self.text[arg[0] : arg[1]].strip()
        inner = re.sub(r"\\(?:mathbf|boldsymbol|bm|mathrm)\s*\{([^}]*)\}", r"\1", inner).lstrip("\\")
        if not re.fullmatch(r"[A-Za-z]+", inner):
            self.add("unknown", suffix, i, math)
            return arg[2]
        self.add("name", f"{inner}_{suffix}", i, math, "math")
        return arg[2]


def _rest_as_comment(text: str) -> str:
    from qtk.tools.transpile_paper.latex_text import plain_text

    return plain_text(text)

