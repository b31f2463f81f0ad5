"""Small LaTeX documents around a pseudo-code body, and running what transpile-paper makes of
them: shared by the transpile-paper tests."""

from __future__ import annotations

import textwrap

from qtk.tools.transpile_paper import transpile

A2E = "\\usepackage[ruled,vlined]{algorithm2e}"


def doc(body: str, preamble: str = "\\usepackage{algpseudocode}") -> str:
    return f"\\documentclass{{article}}\n{preamble}\n\\begin{{document}}\n{body}\n\\end{{document}}\n"


def algo(body: str, preamble: str = "\\usepackage{algpseudocode}", caption: str = "Test") -> str:
    inner = f"\\begin{{algorithm}}\\caption{{{caption}}}\n\\begin{{algorithmic}}\n{textwrap.dedent(body)}\n" \
            "\\end{algorithmic}\\end{algorithm}"
    return doc(inner, preamble)


def a2e(body: str, caption: str = "Test") -> str:
    return doc(f"\\begin{{algorithm}}\n{textwrap.dedent(body)}\n\\caption{{{caption}}}\n\\end{{algorithm}}", A2E)


def fn(text: str, name: str | None = None):
    """Transpile, check that nothing was left as TODO, exec, and return the function."""
    result = transpile(text, "t.tex")
    assert result.todo_count == 0, result.python
    ns: dict = {}
    exec(compile(result.python, "t.py", "exec"), ns)
    return ns[name or result.functions[0].name], result
