"""Find the algorithms in a LaTeX document and decide which package's syntax each one uses.

algorithmic / algpseudocode (algorithmicx) code lives in `algorithmic` environments, usually
inside an `algorithm` float; algorithm2e code lives directly in `algorithm` (or `algorithm2e`,
`function`, `procedure`) environments. Pseudo-code packages qtk cannot read (clrscode, program,
pseudocode, ...) are rejected with the line and column of the environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qtk.errors import UsageError
from qtk.tools.transpile_paper.macros import Definitions
from qtk.tools.transpile_paper.source import Document, Src, read_delimited, read_group

FLOATS = {"algorithm", "algorithm*", "algorithm2e", "algorithm2e*", "function", "function*",
          "procedure", "procedure*"}
UNSUPPORTED = {"codebox": "clrscode", "pseudocode": "pseudocode", "program": "program",
               "pseudo": "pseudo", "algorithmic*": "unknown"}

_ENV_RE = re.compile(r"\\(begin|end)\s*\{([^{}]*)\}")
_A2E_MARKERS = re.compile(
    r"\\(?:KwIn|KwOut|KwData|KwResult|KwRet|eIf|uIf|lIf|leIf|uElseIf|lElseIf|lElse|tcc|tcp|"
    r"lFor|lForEach|lForAll|lWhile|lRepeat|SetKw\w*|DontPrintSemicolon|SetAlgo\w*|"
    r"ForEach)(?![A-Za-z])|\\;"
)
_ALGX_MARKERS = re.compile(
    r"\\(?:State|STATE|Statex|EndIf|ENDIF|EndFor|ENDFOR|EndWhile|ENDWHILE|EndProcedure|ENDPROCEDURE|"
    r"EndFunction|ENDFUNCTION|ENDLOOP|EndLoop|REQUIRE|Require|Ensure|ENSURE)(?![A-Za-z])"
)
_UPPER = re.compile(r"\\(?:STATE|IF|FOR|FORALL|WHILE|REPEAT|LOOP|REQUIRE|ENSURE|RETURN)(?![A-Za-z])")
_CAMEL = re.compile(r"\\(?:State|If|For|ForAll|While|Repeat|Loop|Require|Ensure|Procedure|Function)(?![A-Za-z])")


@dataclass
class RawAlgorithm:
    package: str  # algorithmic | algpseudocode | algorithm2e
    body: Src  # the environment's body, macros not yet expanded
    caption: Src | None
    start: int  # document offsets of \begin and \end
    end: int
    env: str
    lead: Src | None = None  # float text before \begin{algorithmic} (`\textbf{Input:} ...` lines)


def find_algorithms(src: Src, defs: Definitions, doc: Document) -> list[RawAlgorithm]:
    """Every algorithm in the comment-free document, in order."""
    if not src.text.strip():
        raise UsageError(f"{doc.name}: empty input (no LaTeX to read)")
    found: list[RawAlgorithm] = []
    text, i = src.text, 0
    while True:
        m = _ENV_RE.search(text, i)
        if m is None:
            break
        name = m.group(2).strip()
        if m.group(1) == "end" or (name not in FLOATS and name not in UNSUPPORTED and name != "algorithmic"):
            i = m.end()
            continue
        if name in UNSUPPORTED:
            raise doc.error(src.offset(m.start()), f"\\begin{{{name}}} ({UNSUPPORTED[name]} package) is "
                            "not a supported pseudo-code syntax; use algorithmic, algpseudocode or algorithm2e")
        close = _env_end(text, m.end(), name)
        start = m.end()
        placement = read_delimited(text, start, "[", "]") if name in FLOATS or name == "algorithmic" else None
        if placement and not text[start:placement[0] - 1].strip():
            start = placement[2]  # \begin{algorithm}[H], \begin{algorithmic}[1] (or a float's [ht!] by mistake)
        body = src.sub(start, close)
        if name == "algorithmic":  # on its own: a `\textsc{Name}$(A)$` line above may name it
            found.append(_algorithmic(body, _lead_header(src, m.start()), src.offset(m.start()),
                                      src.offset(close), defs, doc))
        else:
            found.extend(_float(body, name, src.offset(m.start()), src.offset(close), defs, doc))
        i = close
    if not found:
        found = _bare_snippet(src, defs, doc)
    return _join_continued(found)


_STORE_RE = re.compile(r"\\alg(store|restore)\*?\s*\{([^{}]*)\}")


def _join_continued(found: list[RawAlgorithm]) -> list[RawAlgorithm]:
    """algorithmicx's `\\algstore{name}` at the end of one algorithmic and `\\algrestore{name}` at
    the start of a later one split one algorithm over two floats: their bodies are read as one."""
    out: list[RawAlgorithm] = []
    for alg in found:
        restore = next((m for m in _STORE_RE.finditer(alg.body.text) if m.group(1) == "restore"), None)
        first = None
        if restore is not None:
            first = next((k for k in range(len(out) - 1, -1, -1) if any(
                m.group(1) == "store" and m.group(2).strip() == restore.group(2).strip()
                for m in _STORE_RE.finditer(out[k].body.text))), None)
        if first is None:
            out.append(alg)
            continue
        head = out[first]
        store = next(m for m in _STORE_RE.finditer(head.body.text)
                     if m.group(1) == "store" and m.group(2).strip() == restore.group(2).strip())
        body = Src.join([head.body.sub(0, store.start()), Src.const("\n", head.body.offset(store.start())),
                         alg.body.sub(restore.end(), len(alg.body.text))])
        out[first] = RawAlgorithm(head.package, body, head.caption, head.start, alg.end, head.env, head.lead)
    return out


def _env_end(text: str, i: int, name: str) -> int:
    depth = 1
    for m in _ENV_RE.finditer(text, i):
        if m.group(2).strip() != name:
            continue
        depth += 1 if m.group(1) == "begin" else -1
        if depth == 0:
            return m.start()
    return len(text)  # unreachable: environments were checked for balance


def _float(body: Src, env: str, start: int, end: int, defs: Definitions, doc: Document) -> list[RawAlgorithm]:
    caption = _caption(body)
    inner = list(_ENV_RE.finditer(body.text))
    algorithmic = [m for m in inner if m.group(1) == "begin" and m.group(2).strip() == "algorithmic"]
    if algorithmic:
        out = []
        lead_from = 0
        for m in algorithmic:
            close = _env_end(body.text, m.end(), "algorithmic")
            opt = read_delimited(body.text, m.end(), "[", "]")
            first = opt[2] if opt and not body.text[m.end() : opt[0] - 1].strip() else m.end()
            sub = body.sub(first, close)  # past `[1]` (line numbers) or any other option
            out.append(_algorithmic(sub, caption, body.offset(m.start()), body.offset(close), defs, doc))
            out[-1].lead = body.sub(lead_from, m.start())
            lead_from = close
        return out
    for m in inner:
        if m.group(1) == "begin" and m.group(2).strip() in UNSUPPORTED:
            name = m.group(2).strip()
            raise doc.error(body.offset(m.start()), f"\\begin{{{name}}} ({UNSUPPORTED[name]} package) is "
                            "not a supported pseudo-code syntax; use algorithmic, algpseudocode or algorithm2e")
    if _looks_algorithm2e(body, defs):
        _reject_foreign(body, _ALGX_MARKERS, "algorithmic/algpseudocode", "algorithm2e", doc,
                        allowed=set(defs.macros))
        return [RawAlgorithm("algorithm2e", body, caption, start, end, env)]
    if env.startswith(("function", "procedure")) and "algorithm2e" not in defs.packages:
        return []  # some other package's environment of that name
    raise doc.error(start, f"\\begin{{{env}}} holds no algorithmic environment and no algorithm2e "
                    "commands: unknown pseudo-code package syntax "
                    "(supported: algorithmic, algpseudocode, algorithm2e)")


def _looks_algorithm2e(body: Src, defs: Definitions) -> bool:
    if _A2E_MARKERS.search(body.text):
        return True
    if any(re.search(r"\\%s(?![A-Za-z])" % re.escape(k), body.text) for k in [*defs.io, *defs.progs]):
        return True
    if "algorithm2e" in defs.packages and re.search(r"\\(?:If|For|While|Return)\s*[({]", body.text):
        return True
    return False


def _algorithmic(body: Src, caption: Src | None, start: int, end: int, defs: Definitions,
                 doc: Document) -> RawAlgorithm:
    _reject_foreign(body, _A2E_MARKERS, "algorithm2e", "algorithmic", doc,
                    allowed=set(defs.blocks) | set(defs.macros))
    upper, camel = _UPPER.search(body.text), _CAMEL.search(body.text)
    if "algpseudocode" in defs.packages or "algorithmicx" in defs.packages:
        package = "algpseudocode"
    elif "algorithmic" in defs.packages:
        package = "algorithmic"
    else:
        package = "algorithmic" if upper and not camel else "algpseudocode"
    return RawAlgorithm(package, body, caption, start, end, "algorithmic")


def _reject_foreign(body: Src, markers: re.Pattern, foreign: str, here: str, doc: Document,
                    allowed: set[str] = frozenset()) -> None:
    for m in markers.finditer(body.text):
        if m.group(0).lstrip("\\") in allowed or _in_math(body.text, m.start()):
            continue
        if m.group(0) == "\\;" and here == "algorithmic":
            continue  # a thick space (`x\\;\\gets\\;y`), not algorithm2e's end of statement
        raise doc.error(body.offset(m.start()), f"{m.group(0)} is {foreign} syntax inside an {here} "
                        "algorithm: unknown package syntax for this environment")


def _in_math(text: str, i: int) -> bool:
    """Whether position i sits inside $...$ on its line (\\; is a space there, not a terminator)."""
    line_start = text.rfind("\n", 0, i) + 1
    before = re.sub(r"\\\$", "", text[line_start:i])
    return before.count("$") % 2 == 1


_HEADER_LINE = re.compile(r"^(?:\\[A-Za-z]+\s*\{[^{}]*\}|\$?\\?[A-Za-z][\w\\-]*)\s*\$?\s*\(.*\)\s*\$?\s*:?$")


def _lead_header(src: Src, begin: int) -> Src | None:
    """The line just above a bare algorithmic environment, when it reads `Name(args)`."""
    text = src.text
    end = text.rfind("\n", 0, begin)
    line_start = text.rfind("\n", 0, end) + 1 if end > 0 else 0
    line = src.sub(line_start, max(end, line_start)).strip()
    if not line.text or len(line.text) > 120 or not _HEADER_LINE.match(line.text):
        return None
    return line.sub(0, len(line.text.rstrip(": ")))


def _caption(body: Src) -> Src | None:
    m = re.search(r"\\caption\*?", body.text)
    if m is None:
        return None
    j = m.end()
    opt = read_delimited(body.text, j, "[", "]")
    j = opt[2] if opt else j
    g = read_group(body.text, j)
    return body.sub(g[0], g[1]) if g else None


def _bare_snippet(src: Src, defs: Definitions, doc: Document) -> list[RawAlgorithm]:
    """Input with no algorithm environment: a snippet of pseudo-code on its own (e.g. on stdin)."""
    start, end = src.offset(0), src.offset(len(src))
    body = _strip_document_shell(src)
    if _ALGX_MARKERS.search(body.text) or _CAMEL.search(body.text) or _UPPER.search(body.text):
        if not _A2E_MARKERS.search(body.text):
            return [_algorithmic(body, None, start, end, defs, doc)]
    if _looks_algorithm2e(body, defs):
        return [RawAlgorithm("algorithm2e", body, None, start, end, "snippet")]
    raise UsageError(f"{doc.name}: no algorithm found: no algorithmic, algorithm or algorithm2e "
                     "environment and no pseudo-code commands (\\State, \\If, \\; ...)")


def _strip_document_shell(src: Src) -> Src:
    m = re.search(r"\\begin\s*\{document\}", src.text)
    if m is None:
        return src
    e = src.text.rfind("\\end{document}")
    return src.sub(m.end(), e if e > m.end() else len(src))
