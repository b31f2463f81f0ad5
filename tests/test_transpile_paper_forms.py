"""qtk transpile-paper: general rules added after scoring fresh batches of real-style blocks on first
contact (batches 20 and up of tests/data/transpile_real, see bench/RESULTS.md). One behaviour per
test; each runs the generated Python."""

from __future__ import annotations

import textwrap

from qtk.tools.transpile_paper import transpile

A2E = "\\usepackage[ruled,vlined]{algorithm2e}"


def _doc(body: str, preamble: str = "\\usepackage{algpseudocode}") -> str:
    return f"\\documentclass{{article}}\n{preamble}\n\\begin{{document}}\n{body}\n\\end{{document}}\n"


def _algo(body: str, preamble: str = "\\usepackage{algpseudocode}") -> str:
    return _doc("\\begin{algorithm}\\caption{Test}\n\\begin{algorithmic}\n"
                f"{textwrap.dedent(body)}\n\\end{{algorithmic}}\\end{{algorithm}}", preamble)


def _a2e(body: str, caption: str = "Test") -> str:
    return _doc(f"\\begin{{algorithm}}\n{textwrap.dedent(body)}\n\\caption{{{caption}}}\n\\end{{algorithm}}", A2E)


def _fn(text: str, name: str | None = None):
    result = transpile(text, "t.tex")
    assert result.todo_count == 0, result.python
    ns: dict = {}
    exec(compile(result.python, "t.py", "exec"), ns)
    return ns[name or result.functions[0].name], result


def test_boolean_and_nil_words_in_math_are_constants_in_any_case():
    f, _ = _fn(_algo(r"""
        \Function{F}{$n$}
        \State $a \gets true$; $b \gets True$; $c \gets FALSE$; $d \gets nil$
        \State \Return $(a, b, c, d)$
        \EndFunction"""))
    assert f(0) == (True, True, False, None)


def test_half_open_search_range_with_low_zero_is_zero_based():
    f, result = _fn(_algo(r"""
        \Function{LowerBound}{$A, x$}
        \State $n \gets \text{length}(A)$
        \State $lo \gets 0$; $hi \gets n$
        \While{$lo < hi$}
          \State $mid \gets \lfloor (lo + hi) / 2 \rfloor$
          \If{$A[mid] < x$} \State $lo \gets mid + 1$ \Else \State $hi \gets mid$ \EndIf
        \EndWhile
        \State \Return $lo$
        \EndFunction"""))
    assert "Index base 0" in result.python
    assert [f([1, 3, 5, 7], x) for x in (0, 5, 6, 8)] == [0, 2, 3, 4]


def test_one_based_inclusive_search_range_stays_one_based():
    f, result = _fn(_algo(r"""
        \Function{Find}{$A, x$}
        \State $lo \gets 1$; $hi \gets |A|$
        \While{$lo \le hi$}
          \State $mid \gets \lfloor (lo + hi) / 2 \rfloor$
          \If{$A[mid] = x$} \State \Return $mid$
          \ElsIf{$A[mid] < x$} \State $lo \gets mid + 1$ \Else \State $hi \gets mid - 1$ \EndIf
        \EndWhile
        \State \Return $0$
        \EndFunction"""))
    assert "Index base 1" in result.python
    assert [f([1, 3, 5, 7], x) for x in (1, 7, 4)] == [1, 4, 0]


def test_algorithm2e_statements_wrapped_in_braces():
    f, _ = _fn(_a2e(r"""
        \KwIn{a list $L$}
        {$c \leftarrow 0$\;}
        \ForEach{$x \in L$}{
          \If{$x > 0$}{ {$c \leftarrow c + 1$\;} }
        }
        \Return $c$\;"""))
    assert f([1, -2, 3]) == 2


def test_underlined_function_line_names_the_function_and_its_parameters():
    f, result = _fn(_a2e(r"""
        \underline{function Scale} $(x, k)$\;
        return $k \cdot x$\;""", caption="Scaling"))
    assert result.functions[0].name == "scale" and f(3, 2) == 6


def test_bold_procedure_line_with_texttt_name():
    f, result = _fn(_a2e(r"""
        \underline{Function \texttt{twice}} ($a$)\;
        return $2 a$\;""", caption="Doubling"))
    assert result.functions[0].name == "twice" and f(4) == 8
