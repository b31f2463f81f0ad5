"""Assemble the generated functions into one Python module: header docstring, imports, the
`_untranslated` helper when a TODO needs it, and per-function header comments saying where
each came from and which index base it assumes."""

from __future__ import annotations

import ast
import re

from qtk.errors import QtkError
from qtk.tools.transpile_paper import records, vectors
from qtk.tools.transpile_paper.emit import UNTRANSLATED, Comments, FunctionResult

_SENTINEL = re.compile(r"^(\s*)(?:'|\"\"\")__qtk_c(\d+)__(?:'|\"\"\")$", re.M)
_HELPER = f'''def {UNTRANSLATED}(line):
    """Stands in for a pseudo-code line that has no Python translation (see its TODO)."""
    raise NotImplementedError(f"pseudo-code line {{line}} was not translated; see the TODO above it")'''


def render(functions: list[tuple[ast.FunctionDef, FunctionResult]], comments: Comments,
           source: str, option: str) -> str:
    names = ", ".join(r.name for _, r in functions)
    header = (f'"""Python transpiled by `qtk transpile-paper` from {source}: {names}.\n\n'
              "Each function's header comment gives its source lines and the index base it assumes.\n"
              "Pseudo-code lines that could not be translated are kept as `# TODO:` comments quoting\n"
              f"the LaTeX, followed by a call to `{UNTRANSLATED}` that raises if reached.\n"
              f'"""\n')
    parts = [header]
    bodies = [_function_text(fn, res, comments, source, option) for fn, res in functions]
    needs_helper = any(_uses(fn, UNTRANSLATED) for fn, _ in functions)
    softmax = any(_uses(fn, vectors.SOFTMAX) for fn, _ in functions)
    imports = [m for m in ("collections", "copy", "heapq", "itertools", "math", "operator", "statistics")
               if any(_uses(fn, m) for fn, _ in functions) or m == "math" and softmax]
    if imports:
        parts.append("".join(f"import {m}\n" for m in imports))
    if needs_helper:
        parts.append("\n" + _HELPER + "\n")
    if any(_uses(fn, records.FIELDS) for fn, _ in functions):  # CLRS's A.heap-size, shared by the procedures
        parts.append(f"\n{records.FIELDS} = {{}}  # fields of arrays (`A.heap-size`), by (id(A), field)\n")
    if any(_uses(fn, vectors.VEC) or _uses(fn, vectors.DOT) or _uses(fn, vectors.VSUM) for fn, _ in functions):
        parts.append("\n" + vectors.HELPERS + "\n")
    if softmax:
        parts.append("\n" + vectors.SOFTMAX_HELPER + "\n")
    text = "\n".join(parts) + "\n\n" + "\n\n\n".join(bodies) + "\n"
    try:
        ast.parse(text)
    except SyntaxError as e:  # a bug in qtk, never the paper's fault
        raise QtkError(f"internal error: generated Python does not parse ({e.msg}, line {e.lineno})") from e
    return text


def _function_text(fn: ast.FunctionDef, res: FunctionResult, comments: Comments, source: str, option: str) -> str:
    title = res.title.rstrip(" .")
    lines = [f"# {title} ({source} lines {res.start_line}-{res.end_line}, {res.package})."]
    if res.index_base == 1:
        lines.append(f"# Index base 1 ({res.index_reason}).")
        lines.append("# Pseudo-code A[i] is A[i - 1] here; index values (loop counters, returned positions)")
        lines.append("# keep the pseudo-code's 1-based numbering.")
    else:
        lines.append(f"# Index base 0 ({res.index_reason}).")
    if res.undefined:
        lines.append(f"# Reads names the pseudo-code never defines: {', '.join(res.undefined)}.")
    if res.unknown_calls:
        lines.append(f"# Calls procedures not defined in the paper: {', '.join(res.unknown_calls)}.")
    if res.todos:
        lines.append(f"# {len(res.todos)} line(s) not translated, marked TODO below.")
    code = ast.unparse(ast.fix_missing_locations(fn))
    code = _SENTINEL.sub(lambda m: _comment_lines(m.group(1), comments.texts[int(m.group(2))]), code)
    return "\n".join(lines) + "\n" + code


def _comment_lines(indent: str, text: str) -> str:
    return "\n".join(f"{indent}# {line}".rstrip() for line in text.splitlines() or [""])


def _uses(fn: ast.FunctionDef, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(fn))

