"""qtk transpile-paper: general rules added after scoring fresh batches of real-style blocks on first
contact (batches 20 and up of tests/data/transpile_real, see bench/RESULTS.md). One behaviour per
test; each runs the generated Python."""

from __future__ import annotations

import math

import pytest

from transpile_blocks import A2E
from transpile_blocks import a2e as _a2e
from transpile_blocks import algo as _algo
from transpile_blocks import doc as _doc
from transpile_blocks import fn as _fn

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


def test_a_sort_whose_result_is_used_is_sorted_and_a_sort_line_sorts_in_place():
    f, _ = _fn(_a2e(r"""
        \SetKwFunction{Sort}{Sort}
        \KwIn{a list $A$}
        $B \gets \Sort{$A$}$\;
        \Return{$(A, B)$}\;"""))
    assert f([3, 1, 2]) == ([3, 1, 2], [1, 2, 3])
    g, _ = _fn(_algo(r"""
        \Require a list $A$
        \State \Call{Sort}{$A$}
        \State \Return $A$"""))
    assert g([3, 1, 2]) == [1, 2, 3]


def test_family_of_names_subscripted_by_scalars_is_not_an_array():
    f, result = _fn(_algo(r"""
        \Require $x, T$
        \State $w \gets 1$; $b \gets 2$
        \For{$t \gets 1$ \To $T$}
          \State $g_w \gets 2 w x$
          \State $g_b \gets b$
          \State $w \gets w - g_w$; $b \gets b - g_b$
        \EndFor
        \State \Return $(w, b)$"""))
    assert "g_w" in result.python and f(1, 1) == (-1, 0)


def test_filling_an_array_over_a_counter_stays_an_array():
    f, _ = _fn(_algo(r"""
        \Require $n$
        \State $i \gets 0$
        \While{$i < n$}
          \State $s_i \gets i \cdot i$
          \State $i \gets i + 1$
        \EndWhile
        \State \Return $s$"""))
    assert list(f(3)) == [0, 1, 4] or f(3) == {0: 0, 1: 1, 2: 4}


def test_parallel_sequences_of_pairs_are_arrays_with_a_shared_length():
    f, result = _fn(_a2e(r"""
        \KwData{points $(x_1, y_1), \ldots, (x_n, y_n)$}
        $s \gets 0$\;
        \For{$i \gets 1$ \KwTo $n$}{$s \gets s + x_i y_i$\;}
        \Return{$s$}\;"""))
    assert result.functions[0].params == ["x", "y"] and f([1, 2], [3, 4]) == 11


def test_sizes_in_the_input_line_when_a_caption_names_the_parameters():
    f, _ = _fn(_a2e(r"""
        \KwIn{An array $A[1 \dots n]$}
        $s \gets 0$\;
        \For{$i \gets 1$ \KwTo $n$}{$s \gets s + A[i]$\;}
        \Return $s$\;""", caption="Total($A$)"))
    assert f([1, 2, 3]) == 6


def test_font_switches_in_a_group_are_text_commands():
    f, _ = _fn(_algo(r"""
        \STATE {\bfseries Input:} a number $n$
        \STATE $s \gets 0$
        \FOR{$i=1$ {\bfseries to} $n$}
        \STATE $s \gets s + i$
        \ENDFOR
        \STATE {\bfseries return} $s$""", "\\usepackage{algorithmic}"))
    assert f(4) == 10


def test_initialize_phrases():
    f, _ = _fn(_algo(r"""
        \Require $n$
        \State Initialize $w = 0$, $b = 1$
        \State Initialize $P$ as an array of length $n$
        \For{$i \gets 1$ \To $n$} \State $P_i \gets i + w + b$ \EndFor
        \State \Return $P$"""))
    assert f(3) == [2, 3, 4]


def test_each_vertex_ranges_over_the_graph():
    f, result = _fn(_algo(r"""
        \Require a graph $G$ with $n$ vertices, as adjacency lists
        \State $deg[v] \gets 0$ for every vertex $v$
        \For{each vertex $u$}
          \State $deg[u] \gets deg[u] + 1$
        \EndFor
        \State \Return $deg$"""))
    assert result.functions[0].params == ["G"]
    assert [f([[1], [0, 2], [1]])[v] for v in range(3)] == [1, 1, 1]


def test_a_helper_reading_its_callers_variables_is_nested_in_it():
    f, result = _fn(_algo(r"""
        \Function{Reach}{$G, s$}
          \State $seen[v] \gets$ \textbf{false} for every vertex $v$
          \State $count \gets 0$
          \State \Call{Visit}{$s$}
          \State \Return $count$
        \EndFunction
        \Procedure{Visit}{$u$}
          \State $seen[u] \gets$ \textbf{true}
          \State $count \gets count + 1$
          \ForAll{$v \in G[u]$}
            \If{\textbf{not} $seen[v]$} \State \Call{Visit}{$v$} \EndIf
          \EndFor
        \EndProcedure"""))
    assert "nonlocal count" in result.python
    assert f([[1], [0, 2], [1], []], 0) == 3


def test_floor_of_a_division_by_a_variable_is_an_integer():
    f, result = _fn(_algo(r"""
        \Require $x, w, n$
        \State $b \gets \lfloor x / w \rfloor$; $m \gets \lfloor n / 2 \rfloor$
        \State \Return $(b, m)$"""))
    assert "n // 2" in result.python and f(2.5, 1.0, 7) == (2, 3) and isinstance(f(2.5, 1.0, 7)[0], int)


def test_return_of_a_value_phrase():
    f, _ = _fn(_algo(r"""
        \Function{Empty}{$n$}
          \State \Return an empty list
        \EndFunction"""))
    assert f(3) == []


def test_big_operator_over_a_bare_index_runs_over_the_array():
    f, _ = _fn(_algo(r"""
        \Require values $z_1, \ldots, z_K$
        \State $m \gets \max_j z_j$
        \State $s \gets \sum_i z_i$
        \State \Return $(m, s)$"""))
    assert f([3, 9, 1]) == (9, 13)


def test_elements_described_after_a_plural_noun_are_not_inputs():
    f, result = _fn(_algo(r"""
        \Require a set $I$ of intervals $(s, f)$
        \State $t \gets 0$
        \ForAll{$(s, f) \in I$}
          \State $t \gets t + f - s$
        \EndFor
        \State \Return $t$"""))
    assert result.functions[0].params == ["I"] and f([(1, 3), (2, 7)]) == 7


def test_a_sum_from_one_to_the_size_is_one_based_evidence():
    f, result = _fn(_algo(r"""
        \Require $M \in \mathbb{R}^{n \times n}$
        \State \Return $\sum_{i=1}^{n} M_{ii}$"""))
    assert "Index base 1" in result.python and f([[1, 2], [3, 4]]) == 5


def test_an_index_bound_under_an_operator_in_the_input_line_is_not_an_input():
    f, result = _fn(_algo(r"""
        \Require values $x_1, \ldots, x_n$ with $\max_i x_i > 0$
        \State \Return $\max(x)$"""))
    assert result.functions[0].params == ["x"] and f([1, 5]) == 5


def test_a_function_input_written_with_placeholder_arguments():
    f, result = _fn(_algo(r"""
        \Require a point $x$, a gradient oracle $g(\cdot)$
        \State \Return $x - g(x)$"""))
    assert result.functions[0].params == ["x", "g"] and f(5, lambda v: 2 * v) == -5


def test_matrix_sizes_in_parentheses_after_each_matrix():
    f, result = _fn(_a2e(r"""
        \KwIn{$A$ ($n \times m$), $B$ ($m \times p$)}
        \Return{$(n, m, p)$}\;"""))
    assert result.functions[0].params == ["A", "B"] and f([[1, 2, 3]], [[1], [2], [3]]) == (1, 3, 1)


def test_arrays_and_zero_matrices_of_a_given_size():
    f, _ = _fn(_algo(r"""
        \Require $n, p$
        \State $C \gets$ zero matrix of size $n \times p$
        \State $B \gets$ a new array of size $n$
        \State \Return $(C, B)$"""))
    assert f(2, 1) == ([[0], [0]], [None, None])


def test_keywords_in_bold_on_lines_of_their_own_open_and_close_blocks():
    f, _ = _fn(_algo(r"""
        \Require integers $a_1, \dots, a_n$
        \State $s \gets 0$
        \State \textbf{for} $i = 1$ \textbf{to} $n$ \textbf{do}
          \State \textbf{if} $a_i > 0$ \textbf{then}
            \State $s \gets s + a_i$
          \State \textbf{else}
            \State $s \gets s - 1$
          \State \textbf{end if}
        \State \textbf{end for}
        \State \Return $s$"""))
    assert f([3, -2, 4]) == 6


def test_one_line_bold_if_with_end_if_and_trailing_hash_comment():
    f, result = _fn(_algo(r"""
        \REQUIRE costs $c_1, \dots, c_n$, budget $B$
        \STATE $s \gets 0$, $k \gets 0$
        \FOR{$i = 1$ \TO $n$}
          \STATE $s \gets s + c_i$
          \STATE \textbf{if} $s > B$ \textbf{then break end~if} \textit{\# leave the loop}
          \STATE $k \gets i$
        \ENDFOR
        \RETURN $k$""", "\\usepackage{algorithmic}"))
    assert "# leave the loop" in result.python and f([1, 2, 3], 3) == 2


def test_comment_without_braces_takes_the_rest_of_its_line():
    f, result = _fn(_algo(r"""
        \Procedure{Dot}{$u, v$}
        \Comment $u$ and $v$ have the same length $d$
        \Statex
        \State $s \gets 0$
        \For{$i \gets 1$ \To $d$} \State $s \gets s + u_i v_i$ \EndFor
        \State \Return $s$
        \EndProcedure"""))
    assert "u and v have the same length d" in result.python and f([1, 2], [3, 4]) == 11


def test_the_last_entry_written_a_of_length_a_means_one_based():
    f, result = _fn(_algo(r"""
        \Require a list $M$
        \State \Return $M[|M|]$"""))
    assert "Index base 1" in result.python and f([4, 5, 6]) == 6


def test_argmin_over_a_bare_index_of_an_expression():
    f, _ = _fn(_a2e(r"""
        \KwIn{points $x_1, \dots, x_n$ with labels $y_1, \dots, y_n$; a query $q$}
        $j \gets \arg\min_{i} |x_i - q|$\;
        \Return{$y_j$}\;"""))
    assert f([1, 5, 9], ["a", "b", "c"], 6) == "b"


def test_size_of_a_set_difference_and_absolute_value_of_a_number_difference():
    f, _ = _fn(_algo(r"""
        \Require a set $V$, a subset $S$, numbers $a, b$
        \State \Return $(|V \setminus S|, |a - b|)$"""))
    assert f({1, 2, 3}, {2}, 2, 5) == (2, 3)


def test_text_subscripts_name_variables_even_keywords_and_keep_the_input_order():
    f, result = _fn(_algo(r"""
        \Require start $x_0$, tolerance $\epsilon_{\text{tol}}$, budget $n_{\text{iter}}$
        \State $x_{\text{new}} \gets x_0$
        \For{$k = 1$ \textbf{to} $n_{\text{iter}}$} \State $x_{\text{new}} \gets x_{\text{new}} / 2$ \EndFor
        \State \Return $x_{\text{new}} < \epsilon_{\text{tol}}$"""))
    assert result.functions[0].params == ["x_0", "epsilon_tol", "n_iter"] and f(8, 1.5, 3) is True


def test_a_bold_step_label_before_a_statement_is_a_comment():
    f, result = _fn(_algo(r"""
        \Require $n$
        \State \textbf{Initialize:} $s \gets n$
        \State \Return $s$"""))
    assert "# Initialize" in result.python and f(3) == 3


def test_c_style_for_headers():
    f, _ = _fn(_algo(r"""
        \Require $n$
        \State $s \gets 0$
        \For{$i \gets 0$; $i < n$; $i \gets i + 2$} \State $s \gets s + i$ \EndFor
        \For{$j \gets n$; $j \ge 1$; $j \gets j - 1$} \State $s \gets s + 10 j$ \EndFor
        \State \Return $s$"""))
    assert f(4) == 2 + 100


def test_map_with_a_default_value_and_maps_say_nothing_about_the_base():
    f, result = _fn(_algo(r"""
        \Require a list of words $W$
        \State $f \gets$ an empty map with default value $0$
        \State $best \gets W[1]$
        \ForAll{$w \in W$}
          \State $f[w] \gets f[w] + 1$
          \If{$f[w] > f[best]$} \State $best \gets w$ \EndIf
        \EndFor
        \State \Return $best$"""))
    assert "import collections" in result.python and "Index base 1" in result.python
    assert f(["a", "b", "b"]) == "b"


def test_an_output_naming_several_variables_returns_them_all():
    f, _ = _fn(_algo(r"""
        \Require numbers $a_1, \ldots, a_n$
        \Ensure the sum $s$ and the product $p$ of the numbers
        \State $s \gets 0$; $p \gets 1$
        \For{$i \gets 1$ \To $n$} \State $s \gets s + a_i$; $p \gets p \cdot a_i$ \EndFor"""))
    assert f([2, 3]) == (5, 6)


def test_a_loop_variable_named_as_a_string_has_a_length():
    f, _ = _fn(_a2e(r"""
        \KwIn{a collection of strings $S$}
        $L \gets 0$\;
        \ForEach{string $s$ in $S$}{$L \gets L + |s|$\;}
        \Return{$L$}\;"""))
    assert f(["ab", "c"]) == 3


# ---- batch 31 (round 1 of the third pass) ------------------------------------------------------

def test_package_keyword_macros_inside_a_paper_command_read_as_bold_words():
    pre = ("\\usepackage{algpseudocode}\n"
           "\\algnewcommand{\\IIf}[1]{\\State\\algorithmicif\\ #1\\ \\algorithmicthen}\n"
           "\\algnewcommand{\\EndIIf}{\\unskip\\ \\algorithmicend\\ \\algorithmicif}")
    f, _ = _fn(_algo(r"""
        \Require $x_1, \ldots, x_n$
        \State $c \gets 0$
        \For{$i \gets 1$ \textbf{to} $n$}
          \IIf{$x_i < 0$} $c \gets c + 1$ \EndIIf
        \EndFor
        \State \Return $c$""", pre))
    assert f([2, -3, 0, -4]) == 2


def test_mathit_max_is_a_variable_and_a_loop_from_two_bound_by_n_is_the_length():
    f, _ = _fn(_algo(r"""
        \Procedure{Largest}{A}
          \State $\mathit{max} \coloneqq A_1$
          \For{$i \coloneqq 2$ \textbf{to} $n$}
            \If{$\mathit{max} < A_i$} $\mathit{max} \coloneqq A_i$ \EndIf
          \EndFor
          \State \Return $\mathit{max}$
        \EndProcedure"""))
    assert [f(a) for a in ([4], [1, 9, 3], [-5, -2, -7])] == [4, 9, -2]


def test_return_with_an_assignment_assigns_then_returns():
    f, _ = _fn(_algo(r"""
        \Require $y_1, \dots, y_n$
        \State $s \gets 0$
        \For{$i = 1$ \To $n$} \State $s \gets s + y_i$ \EndFor
        \State \textbf{return} $\mu \leftarrow s / n$""", "\\usepackage{algpseudocode}"))
    assert f([3.0, 5.0, 10.0]) == 6.0


def test_accent_on_a_greek_letter_without_braces_and_inf_over_index_set():
    f, _ = _fn(_algo(r"""
        \Require points $X_1, \cdots, X_m$, centres $S_1, \cdots, S_n$
        \State Initialize $\hat\nu \leftarrow 0$
        \For{$i=1$ {\bfseries to} $m$}
          \State $\hat\nu \leftarrow \hat\nu + \inf_{j \in [n]} |X_i - S_j|$
        \EndFor
        \State \textbf{return} $\hat\nu$"""))
    assert f([1, 5, 9], [2, 8]) == 1 + 3 + 1


def test_loop_to_length_minus_one_reading_the_next_entry_is_one_based():
    f, result = _fn(_a2e(r"""
        \KwIn{an array $A$ of $n$ numbers}
        $c \leftarrow 0$\;
        \For{$i = 1$ to $n-1$}{
          \lIf{$A[i] > A[i+1]$}{$c \leftarrow c + 1$}
        }
        \Return{$c$}"""))
    assert "Index base 1" in result.python
    assert [f(a) for a in ([], [1], [3, 1, 2], [5, 4, 3])] == [0, 0, 1, 2]


def test_sequence_whose_last_subscript_is_a_text_named_size():
    f, _ = _fn(_algo(r"""
        \Require scores $v_1, \ldots, v_{n_{\text{items}}}$
        \State $t \leftarrow 0$
        \For{$i$ in $1\ldots n_{\text{items}}$} \State $t \leftarrow t + i \cdot v_i$ \EndFor
        \State \textbf{return} $t$"""))
    assert f([5, 1, 2]) == 5 + 2 + 6


def test_max_over_the_keys_of_a_map():
    f, _ = _fn(_a2e(r"""
        \KwIn{a non-empty string $s$}
        \KwOut{$m$}
        $c \longleftarrow$ a mapping of each letter in $s$ onto 0\;
        \ForEach{letter $\ell$ of $s$}{$c[\ell] \longleftarrow c[\ell] + 1$\;}
        $m \longleftarrow \max_{\ell} c[\ell]$\;"""))
    assert [f(s) for s in ("a", "abca", "mississippi")] == [1, 2, 4]


def test_ceiling_of_half_the_length_as_an_index_is_one_based():
    f, result = _fn(_algo(r"""
        \Function{Median}{$A$}
          \State $n \gets |A|$
          \State $A \gets \text{sort}(A)$
          \State \Return $A[\lceil n/2 \rceil]$
        \EndFunction"""))
    assert "Index base 1" in result.python
    assert [f(a) for a in ([3], [3, 1, 2], [4, 1, 3, 2])] == [3, 2, 2]


# ---- batch 32 (round 2) -------------------------------------------------------------------------

def test_kwprog_end_text_that_returns_ends_every_function_it_defines():
    text = _doc(r"""
\begin{algorithm}
\SetKwFunction{PathLength}{PathLength}
\SetKwProg{Fn}{Function}{:}{\KwRet total}
\Fn{\PathLength{points}}{
    total \(\leftarrow 0\)\;
    \For{\(i \gets 1\) \textbf{to} length(\(points\)) \(- 1\)}{
        total \(\leftarrow\) total \(+ |points[i] - points[i-1]|\)\;
    }
}
\end{algorithm}""", A2E)
    f, _ = _fn(text)
    assert [f(p) for p in ([], [5], [0, 3, 1])] == [0, 0, 5]


def test_single_letter_function_input_written_f_of_a_is_called():
    f, _ = _fn(_algo(r"""
        \Function{Bisect}{$f, a, b, \epsilon$}
          \While{$b - a > \epsilon$}
            \State $m \gets (a + b)/2$
            \If{$f(a) \cdot f(m) \le 0$} \State $b \gets m$ \Else \State $a \gets m$ \EndIf
          \EndWhile
          \State \Return $(a + b)/2$
        \EndFunction"""))
    assert abs(f(lambda x: x * x - 2, 0.0, 2.0, 1e-9) - 2 ** 0.5) < 1e-8


def test_statex_lines_after_an_empty_require_describe_the_inputs():
    f, result = _fn(_algo(r"""
        \Require
        \Statex $A$ -- an array of $n$ integers, indexed from 0
        \Statex $k$ -- the window size
        \State $s \gets 0$
        \For{$i \gets 0$ \To $k - 1$} \State $s \gets s + A[i]$ \EndFor
        \State \Return $s$"""))
    assert result.functions[0].params == ["A", "k"]
    assert f([4, 5, 6], 2) == 9


# ---- batch 33 (round 3) -------------------------------------------------------------------------

def test_header_parameters_with_types_after_a_colon():
    f, result = _fn(_algo(r"""
        \Function{Dot}{$x$: vector, $y$: vector}
          \State $s \gets 0$
          \For{$i \gets 1$ \To $\text{len}(x)$} \State $s \gets s + x_i \cdot y_i$ \EndFor
          \State \Return $s$
        \EndFunction"""))
    assert result.functions[0].params == ["x", "y"]
    assert f([1, 2, 3], [4, -5, 6]) == 12


def test_output_as_the_last_step_is_the_result():
    f, _ = _fn(_algo(r"""
        \Require numbers $a_1, \ldots, a_n$
        \State $best \gets -\infty$
        \For{$i = 1$ \To $n$} \State $best \gets \max(best, a_i)$ \EndFor
        \State \textbf{output} $best$"""))
    assert f([2, 9, 4]) == 9


def test_quotient_used_as_a_position_or_gcd_argument_is_integer_division():
    f, result = _fn(_algo(r"""
        \Function{Search}{$A, x$}
          \State $lo \gets 1$, $hi \gets |A|$
          \While{$lo \le hi$}
            \State $mid \gets (lo + hi)/2$
            \If{$A[mid] = x$} \State \Return $mid$ \EndIf
            \If{$A[mid] < x$} \State $lo \gets mid + 1$ \Else \State $hi \gets mid - 1$ \EndIf
          \EndWhile
          \State \Return $0$
        \EndFunction"""))
    assert "(lo + hi) // 2" in result.python
    assert [f([1, 3, 5, 7, 9], x) for x in (1, 7, 9, 4)] == [1, 4, 5, 0]
    g, _ = _fn(_algo(r"""
        \Require positive integers $a_1, \ldots, a_n$
        \State $l \gets 1$
        \For{$i \gets 1$ \To $n$} \State $l \gets l \cdot a_i / \gcd(l, a_i)$ \EndFor
        \State \Return $l$"""))
    assert g([4, 6, 5]) == 60


def test_acronym_in_a_camel_case_name_is_its_own_word():
    _, result = _fn(_algo(r"""
        \Procedure{DFSOrder}{$G$}
          \State \Return $G$
        \EndProcedure"""))
    assert result.functions[0].name == "dfs_order"


# ---- batch 34 (round 4) -------------------------------------------------------------------------

def test_primed_function_input_is_called():
    f, _ = _fn(_algo(r"""
        \Function{GD}{$f', x_0, \eta, T$}
          \State $x \gets x_0$
          \For{$t \gets 1$ \To $T$} \State $x \gets x - \eta f'(x)$ \EndFor
          \State \Return $x$
        \EndFunction"""))
    assert f(lambda x: 2 * (x - 3), 5.0, 0.25, 1) == 4.0


def test_array_filled_under_a_loop_bounded_by_an_outer_counter_is_a_list():
    f, _ = _fn(_algo(r"""
        \Function{PascalRow}{$n$}
          \State $R[0] \gets 1$
          \For{$i \gets 1$ \To $n$}
            \State $R[i] \gets 0$
            \For{$j \gets i$ \textbf{downto} $1$} \State $R[j] \gets R[j] + R[j-1]$ \EndFor
          \EndFor
          \State \Return $R$
        \EndFunction"""))
    assert [f(0), f(4)] == [[1], [1, 4, 6, 4, 1]]


def test_set_literal_is_a_set_and_trailing_commas_and_in_parallel_are_dropped():
    f, _ = _fn(_algo(r"""
        \Require $x_1, \ldots, x_n$
        \State $S \gets \{0\}$,
        \ForAll{$i \in \{1, \ldots, n\}$ \textbf{in parallel}}
          \State add $x_i$ to $S$,
        \EndFor
        \State \Return $|S|$"""))
    assert f([1, 1, 0, 5]) == 3


def test_filtered_sum_and_set_builder_over_positions():
    f, _ = _fn(_algo(r"""
        \Require $x_1, \ldots, x_n$
        \State $s \gets \sum_{i : x_i > 0} x_i$
        \State $c \gets |\{i : x_i > 0\}|$
        \State \Return $(s, c)$"""))
    assert f([1, -2, 3]) == (4, 2)


def test_clrs_new_matrix_named_with_its_entries_and_rows():
    f, _ = _fn(_algo(r"""
        \Function{Square}{$A$}
          \State $n = A.rows$
          \State let $M = (m_{ij})$ be a new $n \times n$ matrix
          \For{$i = 1$ \To $n$} \For{$j = 1$ \To $n$} \State $m_{ij} = a_{ij}^2$ \EndFor \EndFor
          \State \Return $M$
        \EndFunction"""))
    assert f([[1, 2], [3, 4]]) == [[1, 4], [9, 16]]


def test_initial_term_of_an_iterated_sequence_is_the_input():
    f, result = _fn(_algo(r"""
        \Require initial point $x_0$, step size $\eta$, iterations $T$
        \For{$t = 0$ to $T-1$}
            \State $x_{t+1} \gets x_t - \eta x_t$
        \EndFor
        \State \Return $x_T$"""))
    assert result.functions[0].params == ["x_0", "eta", "T"]
    assert f(8.0, 0.5, 3) == 1.0


# ---- batch 35 (round 5) -------------------------------------------------------------------------

def test_helper_of_a_helper_is_nested_where_the_shared_array_is_created():
    f, _ = _fn(_algo(r"""
        \Function{Count}{$n$}
          \State $col \gets$ an array of $n$ zeros
          \State \Return \Call{Place}{$1$}
        \EndFunction
        \Function{Free}{$r, c$}
          \For{$k \gets 1$ \To $r - 1$}
            \If{$col[k] = c$} \State \Return \False \EndIf
          \EndFor
          \State \Return \True
        \EndFunction
        \Function{Place}{$r$}
          \If{$r > n$} \State \Return $1$ \EndIf
          \State $t \gets 0$
          \For{$c \gets 1$ \To $n$}
            \If{\Call{Free}{$r, c$}} \State $col[r] \gets c$ \State $t \gets t + \Call{Place}{r + 1}$ \EndIf
          \EndFor
          \State \Return $t$
        \EndFunction"""), "count")
    assert [f(1), f(3)] == [1, 6]  # permutations: one queen per row and column


def test_vector_norms_of_lists():
    f, _ = _fn(_algo(r"""
        \Require vectors $x$ and $y$
        \State \Return $(\|x\|, \|x - y\|_1, \|y\|_\infty)$"""))
    assert f([3.0, 4.0], [1.0, -6.0]) == (5.0, 12.0, 6.0)


def test_choice_in_words_and_a_statement_with_a_trailing_condition():
    f, _ = _fn(_algo(r"""
        \Require $x$, $lo$
        \State $v \gets lo$ \textbf{if} $x < lo$ \textbf{else} $x$
        \State $v \gets 0$ \textbf{if} $v > 100$
        \State \Return $v$"""))
    assert [f(-5, 1), f(7, 1), f(500, 1)] == [1, 7, 0]


def test_python_builtins_and_numpy_calls_in_pseudo_code():
    f, result = _fn(_algo(r"""
        \Require labels $y_1, \ldots, y_N \in \{0, \ldots, K-1\}$
        \State $h \gets \texttt{np.zeros}(K)$
        \For{$i, c$ \textbf{in} enumerate($y$)} \State $h[c] \gets h[c] + i$ \EndFor
        \State \Return $h$"""))
    assert result.functions[0].params == ["y", "K"]
    assert f([1, 0, 1], 2) == [1, 2]


def test_two_sequences_of_equal_length_n():
    f, result = _fn(_algo(r"""
        \Require two sequences $a$ and $b$ of equal length $n$
        \State $d \gets 0$
        \For{$i \gets 1$ \To $n$} \State $d \gets d + |a_i - b_i|$ \EndFor
        \State \Return $d$"""))
    assert result.functions[0].params == ["a", "b"]
    assert f([1, 2, 3], [3, 2, 1]) == 4


# ---- batch 36 (round 6) -------------------------------------------------------------------------

def test_table_allocated_from_zero_says_nothing_about_the_inputs_base():
    f, _ = _fn(_algo(r"""
        \Function{CutRod}{$p, n$}
          \State let $r[0..n]$ be a new array
          \State $r[0] \gets 0$
          \For{$j \gets 1$ \To $n$}
            \State $q \gets -\infty$
            \For{$i \gets 1$ \To $j$} \State $q \gets \max(q, p[i] + r[j - i])$ \EndFor
            \State $r[j] \gets q$
          \EndFor
          \State \Return $r[n]$
        \EndFunction"""))
    assert f([1, 5, 8, 9], 4) == 10


def test_gradient_names_beside_updated_inputs_and_data_given_as_an_indexed_family():
    f, result = _fn(_algo(r"""
        \Require parameters $w, b$; data $\{(x_i, y_i)\}_{i=1}^{N}$; learning rate $\eta$
        \Ensure updated $w$ and $b$
        \State $g_w \gets 0$, $g_b \gets 0$
        \For{$i = 1$ \textbf{to} $N$}
          \State $g_w \gets g_w + (w x_i + b - y_i) x_i$
          \State $g_b \gets g_b + (w x_i + b - y_i)$
        \EndFor
        \State $w \gets w - \eta g_w / N$
        \State $b \gets b - \eta g_b / N$"""))
    assert result.functions[0].params == ["w", "b", "x", "y", "eta"]
    assert f(0.0, 0.0, [1.0], [2.0], 0.5) == (1.0, 1.0)


def test_extract_min_by_the_key_array_over_vertices_numbered_by_the_matrix():
    f, result = _fn(_algo(r"""
        \Require a graph on vertices $0, \ldots, n-1$ given by its weight matrix $W$
        \For{each vertex $v$} \State $key[v] \gets \infty$ \EndFor
        \State $key[0] \gets 0$
        \State $Q \gets \{0, \ldots, n - 1\}$
        \State $total \gets 0$
        \While{$Q \neq \emptyset$}
          \State $u \gets \textsc{Extract-Min}(Q)$
          \State $total \gets total + key[u]$
          \For{$v \gets 0$ \To $n - 1$}
            \If{$v \in Q$ \textbf{and} $W[u][v] < key[v]$} \State $key[v] \gets W[u][v]$ \EndIf
          \EndFor
        \EndWhile
        \State \Return $total$"""))
    assert result.functions[0].params == ["W"]
    assert f([[0, 1, 4], [1, 0, 2], [4, 2, 0]]) == 3


def test_elements_of_a_list_of_words_have_a_length():
    f, _ = _fn(_algo(r"""
        \Require a list $W$ of words
        \State $t \gets 0$
        \For{$w \in W$} \State $t \gets t + |w|$ \EndFor
        \State \Return $t$"""))
    assert f(["ab", "cde"]) == 5


def test_algdef_do_while_block():
    pre = ("\\usepackage{algpseudocode}\n"
           "\\algdef{SE}[DOWHILE]{Do}{doWhile}{\\algorithmicdo}[1]{\\algorithmicwhile\\ #1}")
    f, _ = _fn(_algo(r"""
        \Require $n \ge 0$
        \State $s \gets 0$
        \Do
          \State $s \gets s + (n \bmod 10)$
          \State $n \gets \lfloor n / 10 \rfloor$
        \doWhile{$n > 0$}
        \State \Return $s$""", pre))
    assert [f(0), f(909)] == [0, 18]


def test_max_over_a_set_builder_with_an_index_chain():
    f, _ = _fn(_algo(r"""
        \Require $a_1, \ldots, a_n$
        \State \Return $\max\{a_i - a_j : 1 \le j < i \le n\}$"""))
    assert f([3, 1, 4, 1, 5]) == 4


def test_set_and_compute_phrases_with_descriptive_words():
    f, _ = _fn(_algo(r"""
        \Require real numbers $x_1, \ldots, x_n$
        \State Set the accumulator $s$ to $0$.
        \For{every $i$ from $1$ to $n$}
          \State Compute the fractional part $r = x_i - \lfloor x_i \rfloor$.
          \State Add $r$ to $s$.
        \EndFor
        \State \Return $s$"""))
    assert f([1.5, 2.25]) == 0.75


# ---- batch 37 (round 7) -------------------------------------------------------------------------

def test_two_letter_subscript_over_arrays_is_a_name():
    f, _ = _fn(_a2e(r"""
        \KwIn{points $(x_1, y_1), \ldots, (x_n, y_n)$}
        $s_{xy} \leftarrow 0$\;
        \For{$i \leftarrow 1$ \KwTo $n$}{$s_{xy} \leftarrow s_{xy} + x_i y_i$\;}
        \Return{$s_{xy}$}\;"""))
    assert f([1, 2], [3, 4]) == 11


def test_indicator_quantifiers_and_sign():
    f, _ = _fn(_algo(r"""
        \Require labels $y_1, \ldots, y_n$ and predictions $\hat{y}_1, \ldots, \hat{y}_n$
        \State $c \gets \sum_{i=1}^{n} \mathbb{1}[y_i = \hat{y}_i]$
        \If{$\exists\, i : y_i < 0$} \State \Return $-c$ \EndIf
        \If{$\forall i \in \{1, \ldots, n\} : y_i > 0$} \State \Return $\operatorname{sign}(c - 1)$ \EndIf
        \State \Return $c$"""))
    assert [f([1, -1], [1, -1]), f([1, 2], [1, 3]), f([0, 2], [0, 2])] == [-2, 0, 2]


# ---- batch 38 (round 8) -------------------------------------------------------------------------

def test_vectors_in_a_power_of_an_interval_and_arrays_indexed_from_zero():
    f, result = _fn(_algo(r"""
        \Require target $y \in [0,1]^K$
        \State $s \gets 0$
        \For{$k \gets 1$ \To $K$} \State $s \gets s + k y_k$ \EndFor
        \State \Return $s$"""))
    assert result.functions[0].params == ["y"]
    assert f([0.25, 0.5]) == 1.25
    g, result = _fn(_algo(r"""
        \Require an array $A$ indexed from $0$ to $n - 1$
        \State $s \gets 0$
        \For{$i \gets 1$ \To $n - 1$} \State $s \gets s + i A[i]$ \EndFor
        \State \Return $s$"""))
    assert result.functions[0].params == ["A"]
    assert g([5, 1, 2]) == 5


def test_subscripted_header_parameter_is_a_name_and_pi_is_the_constant():
    f, result = _fn(_algo(r"""
        \Function{Rate}{$t, T, T_w$}
          \If{$t < T_w$} \State \Return $t / T_w$ \EndIf
          \State \Return $\frac{1}{2}(1 + \cos(\pi \frac{t - T_w}{T - T_w}))$
        \EndFunction"""))
    assert result.functions[0].params == ["t", "T", "T_w"]
    assert [f(5, 100, 10), f(10, 100, 10), f(100, 100, 10)] == [0.5, 1.0, 0.0]


def test_input_function_and_the_sequence_of_its_values_share_a_letter():
    f, _ = _fn(_algo(r"""
        \Require gradient $g(\cdot)$, initial point $\theta_0$, steps $T$
        \For{$t = 1$ to $T$}
          \State $g_t \gets g(\theta_{t-1})$
          \State $\theta_t \gets \theta_{t-1} - g_t / 2$
        \EndFor
        \State \Return $\theta_T$"""))
    assert f(lambda x: 2 * (x - 3), 0.0, 2) == 3.0


def test_single_double_bar_between_operands_concatenates():
    f, _ = _fn(_algo(r"""
        \Function{ToBinary}{$n$}
          \State $s \gets$ ``''
          \While{$n > 0$}
            \State $s \gets (n \bmod 2) \,\|\, s$
            \State $n \gets \lfloor n/2 \rfloor$
          \EndWhile
          \State \Return $s$
        \EndFunction"""))
    assert f(6) == "110"


# ---- batch 39 (round 9) -------------------------------------------------------------------------

def test_bold_vectors_are_lists_updated_elementwise():
    f, result = _fn(_algo(r"""
        \Require samples $\mathbf{x}_1, \ldots, \mathbf{x}_n \in \mathbb{R}^d$, labels $y_1, \ldots, y_n$
        \State $\mathbf{w} \gets \mathbf{0}$
        \For{$i = 1$ \textbf{to} $n$}
          \If{$y_i \, \mathbf{w}^\top \mathbf{x}_i \le 0$}
            \State $\mathbf{w} \gets \mathbf{w} + y_i \mathbf{x}_i$
          \EndIf
        \EndFor
        \State \Return $(\mathbf{w}, \langle \mathbf{w}, \mathbf{x}_1 \rangle, \mathbf{w} / 2)$"""))
    assert result.functions[0].params == ["x", "y"]
    assert f([[1.0, 1.0], [-1.0, -2.0], [2.0, -1.0]], [1, -1, 1]) == ([1.0, 1.0], 2.0, [0.5, 0.5])


def test_element_dimension_euler_constant_and_in_place_output_named_alone():
    f, result = _fn(_a2e(r"""
        \KwIn{a matrix $A$, vectors $x$ and $y$}
        \KwOut{$y$}
        \For{$i \leftarrow 1$ \KwTo $|A|$}{
          \For{$j \leftarrow 1$ \KwTo $|x|$}{$y_i \leftarrow y_i + A_{ij} x_j \cdot e^{0}$\;}
        }"""))
    assert f([[1, 2], [3, 4]], [1, 1], [0, 10]) == [3, 17]
    g, result = _fn(_algo(r"""
        \Require data $\{(\mathbf{x}_i, y_i)\}_{i=1}^{n}$ with $\mathbf{x}_i \in \mathbb{R}^d$
        \State \Return $d \cdot n$"""))
    assert result.functions[0].params == ["x", "y"] and g([[1, 2, 3]], [0]) == 3


def test_list_never_created_is_made_once_its_size_is_known():
    f, _ = _fn(_algo(r"""
        \Function{Back}{$A, b$}
          \State $n \gets$ the number of rows of $A$
          \For{$i \gets n$ \textbf{downto} $1$}
            \State $x[i] \gets (b[i] - \sum_{j=i+1}^{n} A[i][j] \cdot x[j]) / A[i][i]$
          \EndFor
          \State \Return $x$
        \EndFunction"""))
    assert f([[2.0, 1.0], [0.0, 4.0]], [4.0, 8.0]) == [1.0, 2.0]


# ---- batch 40 (round 10) ------------------------------------------------------------------------

def test_last_element_in_a_condition_and_sizes_of_set_differences():
    f, _ = _fn(_a2e(r"""
        \KwData{a sorted list $A$}
        $B \leftarrow$ an empty list\;
        \ForEach{$a \in A$}{
          \If{$B$ is empty \textbf{or} the last element of $B$ $\neq a$}{append $a$ to $B$\;}
        }
        \Return{$B$}\;"""))
    assert f([1, 1, 2, 3, 3]) == [1, 2, 3]
    g, _ = _fn(_algo(r"""
        \Require sets $S$ and $C$
        \State \Return $|S \setminus C|$"""))
    assert g({1, 2, 3}, {2}) == 2


def test_equal_sizes_chain_and_bracketed_element_form_and_sort_by_start():
    f, result = _fn(_algo(r"""
        \Require strings $a$, $b$ with $|a| = |b| = n$
        \State \Return $\sum_{i=1}^{n} \mathbb{1}\{a_i \neq b_i\}$"""))
    assert result.functions[0].params == ["a", "b"] and f("karolin", "kathrin") == 3
    g, result = _fn(_algo(r"""
        \Require a list $I$ of intervals $[s, e]$
        \State sort $I$ by start
        \State $k \gets 0$; $end \gets -\infty$
        \For{each $[s, e]$ in $I$}
          \If{$s > end$} \State $k \gets k + 1$ \EndIf
          \State $end \gets \max(end, e)$
        \EndFor
        \State \Return $k$"""))
    assert result.functions[0].params == ["I"] and g([[5, 6], [1, 2], [2, 4]]) == 2


def test_subscripted_loop_targets_are_names_and_a_bare_forall_runs_over_positions():
    f, _ = _fn(_algo(r"""
        \Require $x_1, \ldots, x_n$
        \State $s \gets 0$
        \ForAll{$i$} \State $s \gets s + x_i$ \EndFor
        \ForAll{$(\delta_r, \delta_c) \in \{(1, 0), (0, 2)\}$} \State $s \gets s + \delta_r \cdot \delta_c + \delta_c$ \EndFor
        \State \Return $s$"""))
    assert f([1, 2, 3]) == 8


def test_sentinel_past_the_end_appends_and_tables_never_created_are_nested_lists():
    f, _ = _fn(_algo(r"""
        \Require an array $A[1..n]$ and a key $x$
        \State $A[n+1] \gets x$
        \State $i \gets 1$
        \While{$A[i] \neq x$} \State $i \gets i + 1$ \EndWhile
        \State \Return $i$"""))
    assert [f([5, 3], 3), f([1, 2], 9)] == [2, 3]
    g, _ = _fn(_a2e(r"""
        \KwIn{an $n \times n$ matrix $A$}
        \For{$i \leftarrow 1$ \KwTo $n$}{\For{$j \leftarrow 1$ \KwTo $n$}{$B[i][j] \leftarrow A[j][i]$\;}}
        \Return{$B$}\;"""))
    assert g([[1, 2], [3, 4]]) == [[1, 3], [2, 4]]


# ---- batch 41 (round 11) ------------------------------------------------------------------------

def test_underset_argmax_over_a_row_and_descriptive_index_names_in_the_inputs():
    f, result = _fn(_algo(r"""
        \Require action values $Q[s][a]$ for states $s$ and actions $a$, a state $s$
        \State \Return $\underset{a}{\arg\max}\; Q[s][a]$"""))
    assert result.functions[0].params == ["Q", "s"]
    assert f([[0.0, 1.0, 0.5], [2.0, 0.0, 9.0]], 1) == 2


def test_bigcup_prod_sum_except_self_and_iverson_bracket():
    f, _ = _fn(_algo(r"""
        \Require sets $S_1, \ldots, S_m$ and numbers $x_1, \ldots, x_m$
        \State $U \gets \bigcup_{i=1}^{m} S_i$
        \State $p \gets \prod_{i=1}^{m} x_i$
        \State $t \gets \sum_{j \neq 1} x_j + [x_1 > 0]$
        \State \Return $(|U|, p, t)$"""))
    assert f([{1, 2}, {2, 3}], [2, 5]) == (3, 10, 6)


def test_defined_keys_empty_string_concatenation_and_tuple_outputs():
    f, _ = _fn(_algo(r"""
        \Require a word $w$ and a map $M$
        \State $c \gets \epsilon$
        \For{each character $x$ of $w$}
          \If{$M[x]$ is defined} \State $c \gets c \circ M[x]$ \EndIf
        \EndFor
        \State \Return $c$"""))
    assert f("abc", {"a": "1", "c": "3"}) == "13"
    g, _ = _fn(_a2e(r"""
        \KwIn{an $n \times m$ matrix $A$}
        \KwOut{its position $(r, c)$, or $(0, 0)$}
        $(r, c) \leftarrow (0, 0)$\;
        \For{$i \leftarrow 1$ \KwTo $n$}{\For{$j \leftarrow 1$ \KwTo $m$}{\lIf{$A[i][j] < 0$}{$(r, c) \leftarrow (i, j)$}}}"""))
    assert [g([[1]]), g([[1, 2], [3, -4]])] == [(0, 0), (2, 2)]


def test_quotient_inside_a_ceiling_stays_exact_and_helpers_follow_their_caller_base():
    f, _ = _fn(_algo(r"""
        \Require a sample $x_1, \ldots, x_n$, a percentile $q$
        \State $y \gets \mathrm{sort}(x)$
        \State $k \gets \lceil \frac{q}{100} n \rceil$
        \State \Return $y_k$"""))
    assert f([15, 20, 35, 40, 50], 30) == 20
    text = _doc(r"""
\begin{algorithm}\caption{Rotate}
\begin{algorithmic}
\REQUIRE an array $A[1..n]$, $0 \le k \le n$
\STATE \CALL{Reverse}{$A, 1, k$}
\STATE \CALL{Reverse}{$A, k + 1, n$}
\STATE \CALL{Reverse}{$A, 1, n$}
\RETURN $A$
\end{algorithmic}\end{algorithm}
\begin{algorithm}\caption{\textsc{Reverse}$(A, i, j)$}
\begin{algorithmic}
\WHILE{$i < j$}
  \STATE exchange $A[i]$ with $A[j]$
  \STATE $i \leftarrow i + 1$; $j \leftarrow j - 1$
\ENDWHILE
\end{algorithmic}\end{algorithm}""", "\\usepackage{algorithmic}")
    g, _ = _fn(text)
    assert g([1, 2, 3, 4, 5], 2) == [3, 4, 5, 1, 2]


# ---- batch 42 (round 12: classics in fresh wording) ---------------------------------------------

def test_append_two_runs_and_an_array_filled_whole_before_other_writes_is_a_list():
    f, _ = _fn(_algo(r"""
        \Function{Tail}{$L, R, i, j$}
          \State $S \gets$ an empty list
          \State append $L[i..|L|]$ and $R[j..|R|]$ to $S$
          \State \Return $S$
        \EndFunction"""))
    assert f([1, 2, 3], [4, 5], 2, 1) == [2, 3, 4, 5]
    g, _ = _fn(_algo(r"""
        \Require adjacency lists $Adj[0..n-1]$, a source $s$
        \For{$v = 0$ \To $n-1$} \State $dist[v] \gets \infty$ \EndFor
        \State $dist[s] \gets 0$
        \State \Return $dist$""", "\\usepackage{algpseudocode}"))
    assert g([[1], []], 1) == [math.inf, 0]


def test_word_written_letter_by_letter_gradient_operator_and_shared_space():
    f, result = _fn(_a2e(r"""
        \KwIn{sequences $X = x_1 \cdots x_m$ and $Y = y_1 \cdots y_n$}
        \Return{$m \cdot n + [x_1 = y_1]$}\;"""))
    assert result.functions[0].params == ["X", "Y"] and f("ab", "abc") == 7
    g, result = _fn(_a2e(r"""
        \KwIn{a gradient function $\nabla f$, a start $x_0$, a step $\eta$, iterations $T$}
        $x \leftarrow x_0$\;
        \For{$t \leftarrow 1$ \KwTo $T$}{$x \leftarrow x - \eta \nabla f(x)$\;}
        \Return{$x$}\;"""))
    assert g(lambda x: 2 * (x - 3), 0.0, 0.5, 1) == 3.0
    h, result = _fn(_algo(r"""
        \Require iterate $x$, gradient $g$ (both in $\mathbb{R}^d$), step $\eta$
        \For{$j = 1$ \textbf{to} $d$} \State $y_j \gets x_j - \eta g_j$ \EndFor
        \State \Return $y$"""))
    assert result.functions[0].params == ["x", "g", "eta"] and h([1.0, 2.0], [2.0, 2.0], 0.5) == [0.0, 1.0]


# ---- batch 43 (round 13: more classics) --------------------------------------------------------

def test_call_with_one_and_the_length_fixes_the_callees_base():
    f, result = _fn(_algo(r"""
        \Procedure{Sort}{$A$}
          \State \Call{Quicksort}{$A, 1, A.length$}
        \EndProcedure
        \Procedure{Quicksort}{$A, p, r$}
          \If{$p < r$}
            \State $q \gets \Call{Partition}{A, p, r}$
            \State \Call{Quicksort}{$A, p, q - 1$}
            \State \Call{Quicksort}{$A, q + 1, r$}
          \EndIf
        \EndProcedure
        \Function{Partition}{$A, p, r$}
          \State $x \gets A[r]$; $i \gets p - 1$
          \For{$j \gets p$ \To $r - 1$}
            \If{$A[j] \le x$} \State $i \gets i + 1$ \State exchange $A[i]$ with $A[j]$ \EndIf
          \EndFor
          \State exchange $A[i + 1]$ with $A[r]$
          \State \Return $i + 1$
        \EndFunction"""), "sort")
    work = [2, 8, 7, 1, 3, 5, 6, 4]
    f(work)
    assert work == [1, 2, 3, 4, 5, 6, 7, 8]


def test_let_a_bounded_array_be_an_array_of_booleans():
    f, _ = _fn(_algo(r"""
        \Require $n \ge 2$
        \State let $A[2..n]$ be an array of Boolean values, all set to \textbf{true}
        \State $A[4] \gets$ \textbf{false}
        \State \Return $A[4] \vee A[n]$"""))
    assert [f(4), f(5)] == [False, True]


# ---- batch 44 (round 14) ------------------------------------------------------------------------

def test_argmax_over_a_map_breaks_ties_by_the_smallest_key_and_norms_multiply():
    f, _ = _fn(_algo(r"""
        \Require votes $v_1, \dots, v_n$
        \State $cnt \gets$ an empty map with default value $0$
        \For{$i \gets 1$ \textbf{to} $n$} \State $cnt[v_i] \gets cnt[v_i] + 1$ \EndFor
        \State \Return $\arg\max_{c} cnt[c]$"""))
    assert f([2, 2, 0, 0]) == 0
    g, _ = _fn(_algo(r"""
        \Require non-zero vectors $\mathbf{u}, \mathbf{v} \in \mathbb{R}^d$
        \State \Return $\dfrac{\mathbf{u}^\top \mathbf{v}}{\|\mathbf{u}\|_2 \, \|\mathbf{v}\|_2}$"""))
    assert g([3.0, 4.0], [4.0, 3.0]) == 0.96


def test_remove_the_first_element_as_a_statement():
    f, _ = _fn(_algo(r"""
        \Require a list $L$
        \State remove the first element of $L$
        \State \Return $L$"""))
    assert f([1, 2, 3]) == [2, 3]


# ---- batch 45 (round 15) ------------------------------------------------------------------------

def test_cardinality_hash_and_identity_matrix():
    f, _ = _fn(_algo(r"""
        \Require $x_1, \ldots, x_n$
        \State \Return $\#\{i : x_i > 0\}$"""))
    assert f([1, -1, 2, 0]) == 2
    g, _ = _fn(_algo(r"""
        \Require a size $n$
        \State $P \gets I_n$
        \State \Return $P$"""))
    assert g(2) == [[1, 0], [0, 1]]


def test_helper_adds_to_the_set_its_caller_created():
    f, _ = _fn(_algo(r"""
        \Function{Reach}{$G, s$}
          \State $seen \gets \emptyset$
          \State \Call{Visit}{$s$}
          \State \Return $|seen|$
        \EndFunction
        \Procedure{Visit}{$u$}
          \If{$u \in seen$} \State \Return \EndIf
          \State add $u$ to $seen$
          \For{each $v \in G[u]$} \State \Call{Visit}{$v$} \EndFor
        \EndProcedure"""), "reach")
    assert f([[1], [0, 2], [], [0]], 0) == 3


# ---- batch 46 (round 16) ------------------------------------------------------------------------

def test_pseudocodejs_input_output_sign_of_an_entry_and_pairs_in_a_set():
    f, result = _fn(_algo(r"""
        \INPUT numbers $x_1, \ldots, x_n$, a threshold $\lambda$
        \OUTPUT $z$
        \FOR{$i = 1$ \TO $n$}
          \STATE $z_i \leftarrow \mathrm{sign}(x_i) \cdot \max(|x_i| - \lambda, 0)$
        \ENDFOR""", "\\usepackage{algorithmic}"))
    assert result.functions[0].params == ["x", "lam"] and f([3.0, -2.0, 0.5], 1.0) == [2.0, -1.0, 0.0]
    g, _ = _fn(_algo(r"""
        \Require a list $E$ of edges $(u, v)$
        \State $R \gets \emptyset$
        \For{each $(u, v) \in E$} \State $R \gets R \cup \{\langle \min(u, v), \max(u, v) \rangle\}$ \EndFor
        \State \Return $|R|$"""))
    assert g([[1, 2], [2, 1], [2, 3]]) == 2


def test_open_ended_stepped_range_with_a_while_bound():
    f, _ = _fn(_algo(r"""
        \Require $n$, a step $k \ge 1$
        \State $s \gets 0$
        \For{$i = 0, k, 2k, \ldots$ while $i < n$} \State $s \gets s + i$ \EndFor
        \State \Return $s$"""))
    assert f(7, 3) == 0 + 3 + 6


# ---- batch 47 (round 17: classics written to the manuals) --------------------------------------

def test_empty_set_used_as_a_queue_enqueues_by_appending_and_let_a_bounded_table_be_zeros():
    f, _ = _fn(_a2e(r"""
        \KwIn{adjacency lists $G$, a source $s$}
        $seen \leftarrow \{s\}$; $Q \leftarrow \emptyset$\;
        enqueue $s$ into $Q$\;
        $order \leftarrow$ an empty list\;
        \While{$Q \neq \emptyset$}{
          $u \leftarrow$ dequeue $Q$\;
          append $u$ to $order$\;
          \ForEach{$v \in G[u]$}{\If{$v \notin seen$}{add $v$ to $seen$\; enqueue $v$ into $Q$\;}}
        }
        \Return{$order$}\;"""))
    assert f([[1, 2], [3], [3], []], 0) == [0, 1, 2, 3]
    g, _ = _fn(_algo(r"""
        \Require $n \ge 1$
        \State let $L[1..n][1..n]$ be a table of zeros
        \State $L[n][n] \gets 5$
        \State \Return $L$"""))
    assert g(2) == [[0, 0], [0, 5]]


# ---- batch 48 (round 18: classics) -------------------------------------------------------------

def test_sort_edges_by_the_component_named_like_the_key():
    f, _ = _fn(_algo(r"""
        \Require a list $E$ of edges
        \State sort $E$ by weight
        \State $out \gets$ an empty list
        \For{each $(u, v, w) \in E$} \State append $u$ to $out$ \EndFor
        \State \Return $out$"""))
    assert f([[1, 2, 9], [3, 4, 1], [5, 6, 4]]) == [3, 5, 1]


def test_bounds_in_the_caption_and_a_heap_with_n_elements():
    text = _doc(r"""
\begin{algorithm}
\caption{Insertion into a max-heap stored in $H[0..n-1]$}
\KwIn{a max-heap $H$ with $n$ elements and a key $x$}
append $x$ to $H$\;
$i \leftarrow n$\;
\While{$i > 0$ \KwAnd $H[\lfloor (i - 1)/2 \rfloor] < H[i]$}{
  $p \leftarrow \lfloor (i - 1)/2 \rfloor$\;
  swap $H[i]$ and $H[p]$\;
  $i \leftarrow p$\;
}
\end{algorithm}""", A2E)
    f, result = _fn(text)
    assert result.functions[0].params == ["H", "x"]
    heap = [9, 5, 8]
    f(heap, 7)
    assert heap == [9, 7, 8, 5]


# ---- batch 49 (round 19: systems and ML paper blocks) ------------------------------------------

def test_sorted_times_chain_label_order_and_product_of_two_letters():
    f, result = _fn(_algo(r"""
        \Require arrival times $t_1 \le \cdots \le t_m$, a cap $d_{\max}$, a batch size $B$
        \State $b \gets 1$
        \State \Return $(m, \min(bB, d_{\max}))$"""))
    assert result.functions[0].params == ["t", "d_max", "B"] and f([1, 2, 3], 2, 5) == (3, 2)


def test_assigned_arrays_are_copied_and_created_when_filled_before():
    f, _ = _fn(_algo(r"""
        \Require $n$, rounds $T$
        \State $r_i \gets 1$ for $i = 1, \ldots, n$
        \For{$t = 1$ \textbf{to} $T$}
          \For{$i = 1$ \textbf{to} $n$}
            \State $r'_i \gets r_1 + r_i$
          \EndFor
          \State $r \gets r'$
        \EndFor
        \State \Return $r$"""))
    assert f(2, 2) == [4, 4]  # every r'_i reads the old r, never the half-updated one


def test_vector_sum_and_a_letter_for_both_a_sequence_and_its_total():
    f, result = _fn(_algo(r"""
        \Require client models $\mathbf{w}_1, \ldots, \mathbf{w}_K$, client sizes $n_1, \ldots, n_K$
        \State $n \gets \sum_{k=1}^{K} n_k$
        \State \Return $\sum_{k=1}^{K} \frac{n_k}{n} \mathbf{w}_k$"""))
    assert result.functions[0].params == ["w", "n_values"]
    assert f([[1.0, 0.0], [3.0, 4.0]], [1, 3]) == [2.5, 3.0]


# ---- batch 50 (round 20) ------------------------------------------------------------------------

def test_a_header_input_iterated_over_has_a_size():
    f, _ = _fn(_algo(r"""
        \Function{SameLength}{$a, b$}
          \If{$|a| \neq |b|$} \State \Return \textbf{false} \EndIf
          \For{each character $x$ of $a$} \State \textbf{continue} \EndFor
          \For{each character $x$ of $b$} \State \textbf{continue} \EndFor
          \State \Return \textbf{true}
        \EndFunction"""))
    assert [f("ab", "cd"), f("ab", "c")] == [True, False]


# ---- batch 51 (round 21: classics) -------------------------------------------------------------

def test_loop_up_to_a_square_root_stops_at_its_floor():
    f, _ = _fn(_algo(r"""
        \Require an integer $n \ge 2$
        \State $c \gets 0$
        \For{$i = 2$ \To $\sqrt{n}$} \If{$n \bmod i = 0$} \State $c \gets c + 1$ \EndIf \EndFor
        \For{$j = 1$ \To $\log_2 n$} \State $c \gets c + 10$ \EndFor
        \State \Return $c$"""))
    assert [f(36), f(17)] == [4 + 50, 0 + 40]


# ---- batch 52 (round 22) ------------------------------------------------------------------------

def test_interval_bounds_of_a_sequence_are_inputs_and_a_tuple_of_its_entries():
    f, result = _fn(_algo(r"""
        \Require samples $x_1, \ldots, x_n \in [lo, hi]$
        \For{$t = 1$ \To $n$} \State $m_t \gets (x_t - lo) / (hi - lo)$ \EndFor
        \State \Return $(m_1, \ldots, m_n)$"""))
    assert result.functions[0].params == ["x", "lo", "hi"]
    assert f([1.0, 3.0], 1.0, 5.0) == [0.0, 0.5]


def test_loop_over_items_in_the_order_of_a_key():
    f, _ = _fn(_a2e(r"""
        \KwIn{weights $w_1, \ldots, w_n > 0$, values $v_1, \ldots, v_n$}
        $L \leftarrow$ an empty list\;
        \ForEach{item $i$ in decreasing order of $v_i / w_i$}{append $i$ to $L$\;}
        \Return{$L$}\;"""))
    assert f([10, 20, 30], [60, 100, 120]) == [1, 2, 3]
    assert f([1, 1], [1, 5]) == [2, 1]


# ---- batch 53 (round 23) ------------------------------------------------------------------------

def test_reverse_a_run_in_place_and_counts_named_by_a_tables_indices():
    f, _ = _fn(_algo(r"""
        \Require an array $A[1..n]$, a position $i$
        \State reverse $A[i + 1..n]$
        \State \Return $A$"""))
    assert f([1, 2, 3, 4], 1) == [1, 4, 3, 2]
    g, result = _fn(_algo(r"""
        \Require scores $L[t][v]$ for steps $t = 1, \ldots, T$ and tokens $v = 0, \ldots, V - 1$
        \State \Return $(T, V)$"""))
    assert result.functions[0].params == ["L"] and g([[0, 1, 2], [3, 4, 5]]) == (2, 3)


# ---- batch 54 (round 24) ------------------------------------------------------------------------

def test_arrays_filled_over_the_vertices_and_extract_min_by_them():
    f, _ = _fn(_algo(r"""
        \Require adjacency lists $G$ with pairs $(v, w)$, a source $s$
        \ForAll{vertices $v$} \State $d[v] \gets \infty$ \EndFor
        \State $d[s] \gets 0$
        \State $Q \gets$ the set of all vertices
        \While{$Q \neq \emptyset$}
            \State $u \gets \textsc{Extract-Min}(Q)$
            \ForAll{$(v, w) \in G[u]$}
                \If{$d[u] + w < d[v]$} \State $d[v] \gets d[u] + w$ \EndIf
            \EndFor
        \EndWhile
        \State \Return $d$"""))
    assert f([[(1, 4), (2, 1)], [], [(1, 2)]], 0) == [0, 3, 1]
    assert f([[]], 0) == [0]


# ---- batch 55 (round 25) ------------------------------------------------------------------------

def test_plus_and_minus_subscripts_are_labels():
    f, _ = _fn(_a2e(r"""
        \KwIn{a multiset $S$ of reals}
        $n_- \gets 0$; $n_{+} \gets 0$\;
        \ForEach{$x \in S$}{
          \uIf{$x < 0$}{$n_- \gets n_- + 1$\;}
          \Else{$n_{+} \gets n_{+} + 1$\;}
        }
        \Return $(n_-, n_{+})$\;"""))
    assert f([-1, 2, 3]) == (1, 2) and f([]) == (0, 0)


def test_sort_in_non_increasing_order():
    for order in ("non-increasing", "nonincreasing", "decreasing"):
        f, _ = _fn(_algo(rf"""
            \Require $A[1..n]$
            \State sort $A$ in {order} order
            \State \Return $A$"""))
        assert f([2, 3, 1]) == [3, 2, 1], order
    g, _ = _fn(_algo(r"""
        \Require $A[1..n]$
        \State sort $A$ in nondecreasing order
        \State \Return $A$"""))
    assert g([2, 3, 1]) == [1, 2, 3]


def test_return_a_result_named_then_spelled_out_from_its_entries():
    f, _ = _fn(_algo(r"""
        \Require series $x_1, \ldots, x_T$, decay $\beta$
        \State $m_0 \gets 0$
        \For{$t = 1, \ldots, T$} \State $m_t \gets \beta m_{t-1} + (1 - \beta) x_t$ \EndFor
        \State \Return $\mathbf{m} = (m_1, \ldots, m_T)$"""))
    assert f([1.0, 1.0], 0.5) == [0.5, 0.75]
    g, _ = _fn(_algo(r"""
        \Require $a, b$
        \State \Return $a = b$"""))
    assert g(1, 1) is True and g(1, 2) is False


# ---- batch 56 (round 26) ------------------------------------------------------------------------

def test_bold_blocks_with_layout_step_numbers_and_control_spaces():
    f, _ = _fn(_algo(r"""
        \STATE \textbf{Input:} scores $s_1, \dots, s_n$; threshold $\tau$
        \STATE $c \leftarrow 0$
        \STATE 1. \textbf{for each}\ $i \in \{1, \dots, n\}$\ \textbf{do}
        \STATE \quad 2. \textbf{if} $s_i > \tau$ \textbf{then}
        \STATE \quad \quad 3. $c \leftarrow c + 1$ \quad \text{(above)}
        \STATE \hspace{\algorithmicindent} \textbf{end if}
        \STATE \textbf{end for}
        \RETURN $c$""", "\\usepackage{algorithmic}"))
    assert f([0.2, 0.9, 0.7], 0.5) == 2


def test_entries_named_by_a_given_sequence_are_its_entries():
    f, _ = _fn(_a2e(r"""
        \KwIn{$A = (a_1, \ldots, a_n)$}
        \For{$i = 1, \ldots, n$}{$a_i \gets 2 a_i$\;}
        \Return $A$\;"""))
    assert f([1, 2]) == [2, 4]


def test_common_functions_of_machine_learning_papers():
    f, result = _fn(_algo(r"""
        \Require logits $\mathbf{z}$, $x$, $c$
        \State $\mathbf{p} \gets \mathrm{softmax}(\mathbf{z})$
        \State \Return $(\mathbf{p}, \mathrm{clip}(x, -c, c), \mathrm{ReLU}(x), \mathrm{sigmoid}(0), \tanh(0))$"""))
    p, clipped, relu, sig, th = f([0.0, math.log(3.0)], -5.0, 2.0)
    assert p == pytest.approx([0.25, 0.75]) and clipped == -2.0 and relu == 0 and sig == 0.5 and th == 0.0
    assert not result.functions[0].unknown_calls


# ---- batch 57 (round 27) ------------------------------------------------------------------------

def test_a_counted_loop_with_no_last_value_runs_until_it_returns():
    f, _ = _fn(_algo(r"""
        \REQUIRE $x_0$, $\varepsilon$
        \FOR{$t = 0, 1, 2, \ldots$}
          \STATE $x_{t+1} \leftarrow \cos(x_t)$
          \IF{$|x_{t+1} - x_t| < \varepsilon$} \RETURN $x_{t+1}$ \ENDIF
        \ENDFOR""", "\\usepackage{algorithmic}"))
    assert f(1.0, 1e-12) == pytest.approx(0.7390851332, abs=1e-9)
    g, _ = _fn(_algo(r"""
        \Require $n$
        \For{$k = 2, 4, \ldots$} \If{$k \geq n$} \State \Return $k$ \EndIf \EndFor"""))
    assert g(7) == 8 and g(1) == 2


def test_scoring_reads_an_output_argument_and_tuples(tmp_path):
    import json

    (tmp_path / "b.tex").write_text(_algo(r"""
        \Procedure{Fill}{$A, B$}
          \For{$i \gets 1$ \To $|A|$} \State $B[i] \gets 2 A[i]$ \EndFor
        \EndProcedure"""))
    (tmp_path / "m.tex").write_text(_algo(r"""
        \Require $a, b$
        \State \Return $a, b$"""))
    cases = [{"file": "b", "class": "indexing", "result": "arg1", "runs": [[[[1, 2], [0, 0]], [2, 4]]]},
             {"file": "m", "class": "indexing", "approx": True, "runs": [[[1.0, 2.0], {"tuple": [1.0, 2.0]}]]}]
    (tmp_path / "cases.json").write_text(json.dumps({"cases": cases}))
    from qtk.tools.transpile_paper.scoring import score

    report = score(tmp_path)
    assert [o.status for o in report.outcomes] == ["ok", "ok"], [o.detail for o in report.outcomes]


# ---- batch 58 (round 28) ------------------------------------------------------------------------

def test_parenthesised_superscripts_number_samples_and_iterates():
    f, result = _fn(_algo(r"""
        \Require training set $\{(x^{(i)}, y^{(i)})\}_{i=1}^{m}$, parameter $\theta$
        \State \Return $\sum_{i=1}^{m} (\theta x^{(i)} - y^{(i)})^2$"""))
    assert result.functions[0].params == ["x", "y", "theta"]
    assert f([1.0, 2.0], [2.0, 5.0], 2.0) == pytest.approx(1.0)
    g, _ = _fn(_algo(r"""
        \Require $\theta^{(0)}$, steps $T$
        \For{$t = 0$ \To $T - 1$} \State $\theta^{(t+1)} \gets \theta^{(t)} / 2$ \EndFor
        \State \Return $\theta^{(T)}$"""))
    assert g(8.0, 3) == 1.0  # in the order declared: theta^{(0)} first


def test_divides_in_words_and_an_ordered_input_sequence():
    f, _ = _fn(_algo(r"""
        \Require $d$, $n$
        \If{$d$ divides $n$} \State \Return $1$ \EndIf
        \State \Return $0$"""))
    assert f(3, 9) == 1 and f(2, 9) == 0
    g, result = _fn(_a2e(r"""
        \KwIn{sorted $x_1 \le x_2 \le \cdots \le x_n$, $n \ge 2$}
        \Return $x_n - x_1$\;"""))
    assert result.functions[0].params == ["x"] and g([1, 4, 9]) == 8


def test_while_there_exists_a_witness_the_body_uses():
    f, _ = _fn(_algo(r"""
        \Require $x_1, \ldots, x_n$
        \While{$\exists\, i$ such that $x_i < 0$} \State $x_i \gets -x_i$ \EndWhile
        \State \Return $x$"""))
    assert f([1, -2, -3]) == [1, 2, 3] and f([]) == []


# ---- batch 59 (round 29) ------------------------------------------------------------------------

def test_a_vertex_count_is_an_input_unless_a_matrix_follows():
    f, result = _fn(_algo(r"""
        \Require vertices $0, \ldots, n-1$, edge list $E$ of triples $(u, v, w)$, source $s$
        \For{$v = 0, \ldots, n - 1$} \State $d[v] \gets \infty$ \EndFor
        \State $d[s] \gets 0$
        \For{$k = 1, \ldots, n - 1$}
          \ForAll{$(u, v, w) \in E$}
            \If{$d[u] + w < d[v]$} \State $d[v] \gets d[u] + w$ \EndIf
          \EndFor
        \EndFor
        \State \Return $d$"""))
    assert result.functions[0].params == ["n", "E", "s"]
    assert f(3, [(0, 1, 4), (0, 2, 1), (2, 1, 2)], 0) == [0, 3, 1]


def test_methods_named_like_keywords_and_neighbourhoods():
    f, _ = _fn(_algo(r"""
        \Require sequence $x_1, \ldots, x_n$
        \State $S \gets$ empty stack; $R \gets [\,]$
        \For{$i \gets 1$ \To $n$} \State $S$.push($x_i$) \EndFor
        \While{\textbf{not} $S$.empty()} \State $R$.append($S$.pop()) \EndWhile
        \State \Return $R$"""))
    assert f([1, 2, 3]) == [3, 2, 1]
    g, _ = _fn(_algo(r"""
        \Require graph $G$ given by adjacency lists, vertex $u$
        \State $s \gets 0$
        \For{each $v \in N(u)$} \State $s \gets s + \deg(v)$ \EndFor
        \State \Return $s$"""))
    assert g([[1, 2], [0], [0]], 0) == 2 and g([[1], [0, 2], [1]], 1) == 2 and g([[1], [0, 2], [1]], 0) == 2


# ---- batch 60 (round 30) ------------------------------------------------------------------------

def test_algdef_start_only_block_ends_as_the_block_it_names():
    pre = ("\\usepackage[noend]{algpseudocode}\n\\algnewcommand\\algorithmicforeach{\\textbf{for each}}\n"
           "\\algdef{S}[FOR]{ForEach}[1]{\\algorithmicforeach\\ #1\\ \\algorithmicdo}")
    f, _ = _fn(_algo(r"""
        \Require a multiset $S$ of reals
        \State $e \gets 0$
        \ForEach{$s \in S$} \State $e \gets e + s^2$ \EndFor
        \State \Return $e$""", pre))
    assert f([1, 2]) == 5 and f([]) == 0


# ---- batch 61 (round 31) ------------------------------------------------------------------------

def test_one_letter_for_a_query_and_for_the_training_points():
    f, result = _fn(_algo(r"""
        \Require query $x$, training points $x_1, \ldots, x_N$ with labels $y_1, \ldots, y_N$
        \State $j^* \gets \arg\min_{j} |x - x_j|$
        \State \Return $y_{j^*}$"""))
    assert result.functions[0].params == ["x", "x_points", "y"]
    assert f(0.9, [0.0, 1.0, 5.0], ["a", "b", "c"]) == "b"


# ---- batch 62 (round 32) ------------------------------------------------------------------------

def test_statistics_functions_and_lists_over_the_vertices():
    f, _ = _fn(_algo(r"""
        \Require samples $x_1, \ldots, x_n$
        \State $\mu \gets \text{mean}(x)$, $\sigma \gets \text{std}(x)$
        \State \Return $(\mu, \sigma, \text{median}(x))$"""))
    assert f([1.0, 3.0, 8.0]) == pytest.approx((4.0, math.sqrt(26 / 3), 3.0))
    g, result = _fn(_algo(r"""
        \Require adjacency lists $adj$ over vertices $0, \dots, n-1$, start $s$
        \State \Return $n + s$"""))
    assert result.functions[0].params == ["adj", "s"] and g([[1], [0], []], 1) == 4


def test_shifting_right_from_the_last_entry_grows_the_list_by_one():
    f, _ = _fn(_algo(r"""
        \Procedure{Insert}{$A[1..n], x$}
          \State $i \gets n$
          \While{$i \geq 1$ \textbf{and} $A[i] > x$}
            \State $A[i + 1] \gets A[i]$
            \State $i \gets i - 1$
          \EndWhile
          \State $A[i + 1] \gets x$
          \State \Return $A$
        \EndProcedure"""))
    assert f([1, 3, 5], 4) == [1, 3, 4, 5] and f([], 2) == [2] and f([1, 2], 9) == [1, 2, 9]


@pytest.mark.parametrize("params", [r"$a_1, \dots, a_n$", r"$a_1, a_2, \ldots, a_n$, $k$"])
def test_header_parameter_written_as_a_sequence_is_one_array(params):
    f, _ = _fn(_algo(rf"""
        \Function{{Longest}}{{{params}}}
        \For{{$i \gets 1$ to $n$}}
          \State $L[i] \gets 1$
          \For{{$j \gets 1$ to $i-1$}}
            \If{{$a_j < a_i$ and $L[j] + 1 > L[i]$}} \State $L[i] \gets L[j] + 1$ \EndIf
          \EndFor
        \EndFor
        \State \Return $\max_i L[i]$
        \EndFunction"""))
    args = ([10, 9, 2, 5, 3, 7, 101, 18],) + ((0,) if "k" in params else ())
    assert f(*args) == 4


def test_an_assigned_norm_is_a_variable_and_an_unassigned_one_is_computed():
    f, result = _fn(_algo(r"""
        \Function{Shrink}{$v, r$}
        \State $\lVert v \rVert \gets \sqrt{\sum_{k} v_k^2}$
        \For{$k = 1$ \textbf{to} $n$}
          \State $v_k \gets v_k \cdot r / \lVert v \rVert$
        \EndFor
        \State \Return $v$
        \EndFunction"""))
    assert "norm_v" in result.python
    # the norm is taken once, before the entries change: every entry is scaled by the same factor
    assert f([3.0, 4.0], 10.0) == pytest.approx([6.0, 8.0])
    g, _ = _fn(_algo(r"""
        \Function{Length}{$u$}
        \State \Return $\|u\|$
        \EndFunction"""))
    assert g([6.0, 8.0]) == pytest.approx(10.0)


def test_a_loop_over_an_input_named_in_words_and_a_declared_map_output():
    f, _ = _fn(_algo(r"""
        \Require a sample given as a list of readings $r_1, \ldots, r_m$
        \Ensure $T$, a map from each reading to how often it occurs
        \State $T \gets$ empty dictionary
        \ForAll{readings $x$ in the sample}
          \If{$x \in T$} \State $T[x] \gets T[x] + 1$ \Else \State $T[x] \gets 1$ \EndIf
        \EndFor""", "\\usepackage{algpseudocode}"))
    assert f([5, 2, 5, 5]) == {5: 3, 2: 1}
    g, _ = _fn(_algo(r"""
        \Require a list of numbers $a_1, \ldots, a_n$
        \Ensure $s$, the total
        \State $s \gets 0$
        \For{each item $y$ in the list}
          \State $s \gets s + y$
        \EndFor"""))
    assert g([1, 2, 4]) == 7


def test_an_array_never_created_is_shared_by_the_procedures_written_before_their_caller():
    f, result = _fn(_algo(r"""
        \Function{Root}{$a$}
          \While{$link[a] \neq a$} \State $a \gets link[a]$ \EndWhile
          \State \Return $a$
        \EndFunction
        \Procedure{Merge}{$a, b$}
          \State $link[\Call{Root}{a}] \gets \Call{Root}{b}$
        \EndProcedure
        \Function{Groups}{$m$, $P$}
          \For{$q \gets 0$ \textbf{to} $m - 1$} \State $link[q] \gets q$ \EndFor
          \ForAll{$(a, b) \in P$} \State \Call{Merge}{$a, b$} \EndFor
          \State \Return $|\{\Call{Root}{q} : q \in \{0, \ldots, m - 1\}\}|$
        \EndFunction"""), "groups")
    assert f(5, [(0, 1), (3, 4), (1, 0)]) == 3
    assert f(4, []) == 4


def test_a_family_of_sets_indexed_by_a_loop_variable_has_sizes():
    f, _ = _fn(_algo(r"""
        \Require values $v_1, \dots, v_m$; number of buckets $b$
        \For{$q = 1, \dots, b$} \State $B_q \gets \emptyset$ \EndFor
        \For{$i = 1, \dots, m$}
          \State $B_{v_i \bmod b + 1} \gets B_{v_i \bmod b + 1} \cup \{v_i\}$
        \EndFor
        \State $z \gets 0$
        \For{$q = 1, \dots, b$}
          \If{$|B_q| > z$} \State $z \gets |B_q|$ \EndIf
        \EndFor
        \State \Return $z$"""))
    assert f([1, 4, 7, 2, 10, 3], 3) == 4  # 1, 4, 7, 10 leave remainder 1


def test_best_index_restricted_by_a_trailing_condition():
    f, _ = _fn(_algo(r"""
        \Function{Cheapest}{$c, m$}
        \State $T \gets$ an array of $|c|$ zeros
        \For{$q \gets 1$ \textbf{to} $m$}
          \State $t \gets$ the index of the smallest $c_v$ with $T_v = 0$
          \State $T_t \gets q$
        \EndFor
        \State \Return $T$
        \EndFunction"""))
    # each round marks the cheapest entry not yet marked, with the round's number
    assert f([5, 1, 4, 2], 3) == [0, 1, 3, 2]


# ---- rules added after a second held-out batch (bench/RESULTS.md, "first contact") ----------------

def test_clrscode_twodots_macro_is_a_range_and_its_bound_a_length():
    f, result = _fn(_doc(r"""
        \newcommand{\twodots}{\mathinner{\ldotp\ldotp}}
        \begin{algorithmic}
        \REQUIRE a list $B[1 \twodots m]$ of integers
        \STATE $t \gets 0$
        \FOR{$i \gets 1$ \TO $m$} \STATE $t \gets t + B[i] \cdot i$ \ENDFOR
        \RETURN $t$
        \end{algorithmic}""", "\\usepackage{algorithmic}"))
    assert result.functions[0].params == ["B"]
    assert f([3, 1, 2]) == 3 + 2 + 6


def test_three_plain_dots_in_a_loop_range_are_an_ellipsis():
    f, _ = _fn(_algo(r"""
        \Require numbers $q$ with $|q| \ge 1$
        \State $best \gets q[1]$
        \For {$k = 2,3,...,|q|$}
          \If{$q[k] < best$} \State $best \gets q[k]$ \EndIf
        \EndFor
        \State \Return $best$"""))
    assert f([4, 9, 2, 7]) == 2


def test_push_to_the_back_and_sort_by_a_named_part_of_each_element():
    f, _ = _fn(_algo(r"""
        \Function{Heaviest}{$P$} \Comment{$P$ holds pairs $(name, kg)$}
        \State $S \gets$ an empty list
        \For{$(name, kg) \in P$} \State push $kg$ to the back of $S$ \EndFor
        \State sort $P$ by decreasing mass $kg$
        \State \Return $(P[0][0], S)$
        \EndFunction"""))
    pairs = [("ann", 52), ("bo", 80), ("cy", 61)]
    assert f(pairs) == ("bo", [52, 80, 61])


def test_vertices_counted_in_the_inputs_and_all_vertices_with_a_property():
    f, _ = _fn(_a2e(r"""
        \KwIn{$m$ vertices $0, \ldots, m-1$ and a list $A$ of arcs $(x, y)$}
        $out[v] \leftarrow 0$ for every vertex $v$\;
        \ForEach{$(x, y) \in A$}{ $out[x] \leftarrow out[x] + 1$\; }
        $Z \leftarrow$ all vertices $v$ with $out[v] = 0$, in increasing order\;
        \Return{$Z$}\;"""))
    assert f(4, [(0, 1), (2, 1), (0, 3)]) == [1, 3]
    assert f(2, []) == [0, 1]


def test_loop_over_a_collection_filtered_by_a_trailing_condition():
    f, _ = _fn(_a2e(r"""
        \KwIn{a list $R$ of roads $(p, q, len)$ and a town $h$}
        $t \leftarrow 0$\;
        \ForEach{$(p, q, len) \in R$ with $p = h$}{ $t \leftarrow t + len$\; }
        \Return{$t$}\;"""))
    assert f([(1, 2, 5), (2, 3, 7), (1, 3, 4)], 1) == 9
    g, _ = _fn(_algo(r"""
        \Require a list $L$ of integers
        \State $c \gets 0$
        \ForAll{$x \in L$ such that $x \bmod 3 = 0$} \State $c \gets c + 1$ \EndFor
        \State \Return $c$"""))
    assert g([3, 4, 6, 9, 10]) == 3


def test_best_vertex_not_in_a_named_part_uses_the_flag_array():
    f, _ = _fn(_algo(r"""
        \Function{Order}{$d$}
        \State $n \gets |d|$
        \For{$v \gets 1$ \textbf{to} $n$} \State $inSeen[v] \gets$ \textbf{false} \EndFor
        \State $R \gets$ an empty list
        \For{$r \gets 1$ \textbf{to} $n$}
          \State $u \gets$ the vertex not in the seen with the largest $d[u]$
          \State $inSeen[u] \gets$ \textbf{true}
          \State append $u$ to $R$
        \EndFor
        \State \Return $R$
        \EndFunction"""))
    assert f([5, 9, 1]) == [2, 1, 3]


def test_words_after_a_complete_assignment_are_a_remark():
    f, result = _fn(_algo(r"""
        \Require a list $w$ of weights
        \State $s = 0$ start the running total at zero
        \For{$j = 1$ to $|w|$}
          \State $s = s + w[j]$ i.e., add the weight of item $j$
        \EndFor
        \State \Return $s$"""))
    assert "start the running total at zero" in result.python
    assert f([2, 3, 5]) == 10


def test_bold_input_and_return_lines_inside_braces_after_state():
    f, result = _fn(_algo(r"""
        \State{\textbf{Input: } a list of prices $p$}
        \State $lo = p[1]$
        \For{$i = 2$ to $|p|$}
          \If{$p[i] < lo$} \State $lo = p[i]$ \EndIf
        \EndFor
        \State{\textbf{Return: } the lowest price $lo$}"""))
    assert result.functions[0].params == ["p"]
    assert f([7, 3, 8]) == 3


def test_an_empty_list_filled_by_position_is_created_with_room():
    f, _ = _fn(_algo(r"""
        \Require a list $a$ of numbers
        \State $D \gets [\,]$
        \For{$i = 1$ to $|a|$} \State $D[i] \gets 2 a[i]$ \EndFor
        \State \Return $D$"""))
    assert f([1, 4]) == [2, 8]


def test_input_lines_belong_to_the_main_code_when_helpers_follow_it():
    f, result = _fn(_a2e(r"""
        \SetKwFunction{Twice}{Twice}
        \KwIn{a list $V$ of numbers}
        $z \leftarrow 0$\;
        \ForEach{$x \in V$}{ $z \leftarrow z +$ \Twice{$x$}\; }
        \Return{$z$}\;
        \SetKwProg{Fn}{Function}{:}{}
        \Fn{\Twice{$y$}}{ \Return{$2y$}\; }"""))
    main = next(r for r in result.functions if r.name != "twice")
    assert main.params == ["V"]


def test_a_base_stated_in_the_inputs_wins_over_a_loop_from_one():
    f, result = _fn(_algo(r"""
        \Require an array $c$ of length $n$, zero-based
        \State $d \gets$ an array of $n$ zeros
        \For{$i = 1$ to $n - 1$} \State $d[i] \gets c[i] - c[i - 1]$ \EndFor
        \State \Return $d$"""))
    assert "Index base 0" in result.python
    assert f([1, 4, 9]) == [0, 3, 5]
    g, result = _fn(_algo(r"""
        \Require a list $c$, indexed from 1
        \State \Return $c[1] + c[2]$"""))
    assert "Index base 1" in result.python and g([5, 6, 7]) == 11


def test_a_comment_on_the_header_line_declares_bounds():
    f, result = _fn(_algo(r"""
        \Procedure{Rotate}{$B$} \Comment{$B[0..m-1]$, moved one place to the left}
          \State $t \gets B[0]$
          \For{$i \gets 1$ \To $m - 1$} \State $B[i - 1] \gets B[i]$ \EndFor
          \State $B[m - 1] \gets t$
          \State \Return $B$
        \EndProcedure"""))
    assert result.functions[0].params == ["B"]
    assert f([1, 2, 3]) == [2, 3, 1]


def test_a_paper_defined_item_label_names_a_step_and_keeps_its_statement():
    f, result = _fn(_algo(r"""
        \Require a list $v$
        \Setup $acc \gets 1$
        \For{$x \in v$} \State $acc \gets acc \cdot x$ \EndFor
        \State \Return $acc$""", "\\usepackage{algpseudocode}\n\\algnewcommand\\Setup{\\item[\\textbf{Setup:}]}"))
    assert result.functions[0].params == ["v"]
    assert f([2, 3, 4]) == 24


def test_a_list_written_one_past_a_downward_loop_is_sized_to_hold_it():
    f, _ = _fn(_algo(r"""
        \Require numbers $a_0, \ldots, a_{m-1}$
        \State $S_m \gets 0$
        \For{$k = m - 1, m - 2, \ldots, 0$} \State $S_k \gets a_k + S_{k+1}$ \EndFor
        \State \Return $(S_0, \ldots, S_{m-1})$"""))
    assert f([1, 2, 3]) == [6, 5, 3]


def test_scoring_calls_the_first_function_a_caller_can_reach(tmp_path):
    import json

    (tmp_path / "h.tex").write_text(_a2e(r"""
        \SetKwFunction{Sq}{Sq}
        \KwIn{$k$}
        \Return{\Sq{$k$} + 1}\;
        \SetKwProg{Fn}{Function}{:}{}
        \Fn{\Sq{$y$}}{ \Return{$y \cdot y$}\; }"""))
    (tmp_path / "cases.json").write_text(json.dumps({"cases": [
        {"file": "h", "class": "headers", "runs": [[[3], 10]]}]}))
    from qtk.tools.transpile_paper.scoring import score

    report = score(tmp_path)
    assert [o.status for o in report.outcomes] == ["ok"], [o.detail for o in report.outcomes]


def test_two_letter_words_of_a_prose_input_line_are_not_inputs():
    f, result = _fn(_a2e(r"""
        \SetKwInOut{Input}{Input}
        \Input{V, liste des valeurs et au moins un element}
        $m \leftarrow 0$\;
        \For{$i \leftarrow 1$ \KwTo $|V|$}{ $m \leftarrow m + V_i$\; }
        \Return $m$\;"""))
    assert result.functions[0].params == ["V"]
    assert f([1, 2, 3]) == 6


def test_loop_written_in_words_from_one_to_a_length():
    f, _ = _fn(_algo(r"""
        \Require a word $w$
        \State $c \gets 0$
        \For{\texttt{$k$ in 1 to length of $w$}}
          \If{$w_k = w_1$} \State $c \gets c + 1$ \EndIf
        \EndFor
        \State \Return $c$"""))
    assert f("abcab") == 2


def test_a_statement_for_every_pair_of_a_range_runs_over_both():
    f, _ = _fn(_algo(r"""
        \Require a size $k$
        \State Let $T[a, b] \gets a \cdot b$ for $a, b \in \{1, \ldots, k\}$
        \State \Return $T[k, k] + T[1, k]$"""))
    assert f(3) == 9 + 3


def test_a_list_given_by_a_range_and_a_condition():
    f, _ = _fn(_algo(r"""
        \Require a bound $m$
        \State \Return $[\, j : 1 \le j \le m,\ j \bmod 4 = 1 \,]$"""))
    assert f(10) == [1, 5, 9]
    g, _ = _fn(_algo(r"""
        \Require a list $a$
        \State $E \gets [\, x : x \in a, x > 0 \,]$
        \State \Return $E$"""))
    assert g([3, -1, 2]) == [3, 2]


def test_a_count_named_by_the_range_that_numbers_a_lists_elements_is_its_length():
    f, result = _fn(_algo(r"""
        \Require a list $P$ of points $(x_j, y_j)$, $j = 1, \ldots, q$
        \State $s \gets 0$
        \For{$j = 1$ to $q$} \State $s \gets s + x_j y_j$ \EndFor
        \State \Return $s$"""))
    assert result.functions[0].params == ["P"]
    assert f([(1, 2), (3, 4)]) == 14


def test_a_caller_passing_one_and_a_length_it_stored_makes_the_callee_one_based():
    f, result = _fn(_algo(r"""
        \Function{Smallest}{$A, lo, hi$}
          \State $m \gets A[lo]$
          \For{$i \gets lo + 1$ \To $hi$} \If{$A[i] < m$} \State $m \gets A[i]$ \EndIf \EndFor
          \State \Return $m$
        \EndFunction
        \Function{Least}{$A$}
          \State $r \gets A.length$
          \State \Return \Call{Smallest}{$A, 1, r$}
        \EndFunction"""), "least")
    assert f([6, 2, 8]) == 2 and f([4]) == 4


def test_a_value_placed_in_a_space_of_numbers_fills_a_vector_of_that_size():
    f, result = _fn(_algo(r"""
        \Require samples $z^{(1)}, \ldots, z^{(N)} \in \mathbb{R}^{d}$
        \State $c \gets 0 \in \mathbb{R}^{d}$
        \For{$i = 1$ to $N$} \State $c \gets c + z^{(i)} / N$ \EndFor
        \State \Return $c$"""))
    assert result.functions[0].params == ["z"]  # d is the length of each sample, no input
    assert f([[1.0, 2.0], [3.0, 6.0]]) == pytest.approx([2.0, 4.0])


def test_a_declared_matrix_times_a_vector_is_a_product_and_a_vector_of_ones():
    f, result = _fn(_algo(r"""
        \Require $M \in \mathbb{R}^{k \times k}$
        \State $u \gets (1, \ldots, 1)^\top \in \mathbb{R}^{k}$
        \State $u \gets M u$
        \State \Return $u$"""))
    assert result.functions[0].params == ["M"]
    assert f([[1, 2], [3, 4]]) == [3, 7]


def test_vectors_declared_in_a_space_need_no_bold_for_inner_products():
    f, _ = _fn(_algo(r"""
        \Require $a \in \mathbb{R}^n$, $b \in \mathbb{R}^n$
        \State $s \gets a^\top b$
        \State \Return $s$"""))
    assert f([1, 2, 3], [4, 5, 6]) == 32


def test_a_colon_slice_is_half_open_in_a_zero_based_block_and_inclusive_in_a_one_based_one():
    f, _ = _fn(_algo(r"""
        \Require a list $x$ of length $n$, a width $w$
        \State $P \gets$ an empty list
        \For{$i = 0$ \textbf{to} $n - w$}
          \State append $x[i : i + w]$ to $P$
        \EndFor
        \State \Return $P$"""))
    assert f([1, 2, 3], 2) == [[1, 2], [2, 3]]  # Python's slices: each window one piece
    g, result = _fn(_algo(r"""
        \Function{Total}{$A, p, r$}
          \State $B \gets A[p:r]$
          \State \Return $\sum_{b \in B} b$
        \EndFunction
        \Function{All}{$A$} \State \Return \Call{Total}{$A, 1, A.length$} \EndFunction"""), "all_")
    assert g([4, 5, 6]) == 15  # CLRS 4th edition: A[p:r] holds A[r]


def test_a_statement_for_all_of_a_bare_variable_uses_the_range_its_loop_gives_it():
    f, result = _fn(_algo(r"""
        \Require costs $C[u][v]$ on rows $0, \ldots, m-1$ and columns $0, \ldots, q-1$
        \State $best[u] \gets \infty$ for all $u$
        \For{$u = 0$ \textbf{to} $m - 1$}
          \For{$v = 0$ \textbf{to} $q - 1$}
            \If{$C[u][v] < best[u]$} \State $best[u] \gets C[u][v]$ \EndIf
          \EndFor
        \EndFor
        \State \Return $best$"""))
    assert result.functions[0].params == ["C"]  # m and q count C's rows and columns
    assert f([[3, 1], [2, 5], [4, 4]]) == [1, 2, 4]


def test_a_table_whose_dimensions_count_from_different_bases_shifts_each_by_its_own():
    f, result = _fn(_algo(r"""
        \Require votes $W[j][o]$ for voters $j = 1, \ldots, m$ and options $o = 0, \ldots, K-1$; favourites $f_1, \ldots, f_m$
        \State $t \gets 0$
        \For{$j = 1$ \textbf{to} $m$}
          \State $t \gets t + W[j][f_j]$
        \EndFor
        \State \Return $t$"""))
    assert result.functions[0].params == ["W", "f"]
    # f holds options (counted from 0), W's rows are voters (from 1): W[j - 1][f[j - 1]]
    assert f([[5, 6, 7], [1, 2, 3]], [2, 0]) == 7 + 1


def test_an_entry_named_then_appended_is_one_append():
    f, _ = _fn(_algo(r"""
        \Require rows $M[t][v]$ for $t = 1, \ldots, T$
        \State $z \gets [\,]$
        \For{$t = 1$ \textbf{to} $T$}
          \State $z_t \gets \max_{v} M[t][v]$
          \State append $z_t$ to $z$
        \EndFor
        \State \Return $z$"""))
    assert f([[1, 4], [3, 2]]) == [4, 3]


def test_a_comment_giving_a_values_range_from_zero_keeps_the_array_it_indexes_unshifted():
    f, _ = _fn(_algo(r"""
        \Require readings $r_1, \ldots, r_n$, a number of slots $q$
        \State $c \gets$ an array of $q$ zeros
        \For{$i = 1$ \textbf{to} $n$}
          \State $s \gets r_i \bmod q$ \Comment{slots $0, \ldots, q-1$}
          \State $c[s] \gets c[s] + 1$
        \EndFor
        \State \Return $c$"""))
    assert f([3, 4, 6], 3) == [2, 1, 0]


def test_length_and_print_named_in_another_language_are_the_builtins():
    f, _ = _fn(_a2e(r"""
        \SetKwInOut{Input}{Input}
        \Input{array $v$}
        $t \gets 0$\;
        \For{$i \gets 0 \textbf{ to } \texttt{TAMANHO}(v) - 1$}{ $t \gets t + v[i]$\; }
        $\texttt{IMPRIMIR}("total = ", t)$\;
        \Return{t}\;"""))
    assert f([2, 5]) == 7


# ---- third held-out batch (tp4): rules found on first contact ---------------------------------

def test_an_unsized_fill_takes_the_range_declared_on_the_left():
    f, _ = _fn(_a2e(r"""
        \KwIn{a bound $m$ and a list $L$ of numbers in $0..m$}
        $H[0..m] \gets$ array of zeros\;
        \ForEach{$x \in L$}{ $H[x] \gets H[x] + 1$\; }
        \Return{$H$}\;"""))
    assert f(2, [0, 2, 2]) == [1, 0, 2]


def test_an_unsized_fill_without_a_declared_range_stays_todo():
    from qtk.tools.transpile_paper import transpile

    result = transpile(_algo(r"""
        \Require $n$
        \State $z \gets$ array of zeros
        \State \Return $z$"""), "t.tex")
    assert result.todo_count == 1


def test_each_noun_loop_runs_over_the_input_named_by_that_noun():
    f, _ = _fn(_a2e(r"""
        \KwIn{item weights $w_1, \ldots, w_k$}
        $t \gets 0$\;
        \ForEach{item weight $u$}{ $t \gets t + u$\; }
        \Return{$t$}\;"""))
    assert f([4, 5, 6]) == 15


def test_words_before_a_counted_loop_variable_name_it():
    f, _ = _fn(_algo(r"""
        \Require a list $A$ of length $n$
        \State $s \gets 0$
        \For{each position $p$ from $1$ to $n - 1$}
          \State $s \gets s + A[p]$
        \EndFor
        \State \Return $s$"""))
    assert f([9, 1, 2]) == 3


def test_an_array_of_size_rows_times_columns_is_a_table():
    f, _ = _fn(_algo(r"""
        \Require $r$ and $c$
        \State create a matrix $M$ of size $r \times c$ filled with $1$
        \State $M[0][1] \gets 5$
        \State \Return $M$"""))
    assert f(2, 2) == [[1, 5], [1, 1]]


def test_neighbours_of_a_vertex_filtered_by_a_matrix_entry_run_over_that_row():
    f, _ = _fn(_algo(r"""
        \Function{Degree}{$M, u$}
        \State $d \gets 0$
        \For{each neighbor $v$ of $u$ with $M[u][v] \neq 0$}
          \State $d \gets d + v$
        \EndFor
        \State \Return $d$
        \EndFunction"""))
    assert f([[0, 3, 0, 1], [3, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]], 0) == 1 + 3


def test_neighbours_of_a_vertex_in_adjacency_lists():
    f, _ = _fn(_algo(r"""
        \Function{Sum}{$G, u$}
        \State $t \gets 0$
        \For{each neighbour $v$ of $u$}
          \State $t \gets t + v$
        \EndFor
        \State \Return $t$
        \EndFunction"""))
    assert f([[1, 2], [0], [0]], 0) == 3


def test_the_element_of_a_set_with_min_key_written_without_article():
    f, _ = _fn(_algo(r"""
        \Require keys $k[0..n-1]$ and a set $Q$
        \State $u \gets$ vertex in $Q$ with min $k[u]$
        \State \Return $u$"""))
    assert f([5, 2, 1], {0, 1}) == 1


def test_zeros_with_the_length_written_after_them():
    f, _ = _fn(_algo(r"""
        \Require $n$
        \State $a \gets$ array of zeros of length $n + 1$
        \State $b \gets$ zero vector of length $n$
        \State \Return $(a, b)$"""))
    assert f(2) == ([0, 0, 0], [0, 0])


def test_popping_the_front_of_a_queue():
    f, _ = _fn(_algo(r"""
        \Require a list $L$
        \State $Q \gets$ a copy of $L$
        \State $x \gets$ pop the front of $Q$
        \State \Return $(x, Q)$"""))
    assert f([7, 8, 9]) == (7, [8, 9])


def test_sigma_of_one_argument_defined_nowhere_is_the_logistic_function():
    f, _ = _fn(_algo(r"""
        \Require a score $z$
        \State $p \gets \sigma(2 z)$ \Comment{$\sigma(t) = 1/(1+e^{-t})$}
        \State \Return $p$"""))
    assert f(0.0) == 0.5 and abs(f(1.0) - 1 / (1 + math.exp(-2.0))) < 1e-12


def test_an_input_declared_applied_is_a_function_and_its_subscripted_name_a_value():
    f, _ = _fn(_algo(r"""
        \Require rate $\eta$, $h(x)$: the slope of the loss, start $x_0$, steps $K$
        \State $x \gets x_0$
        \For{$k = 1$ \textbf{to} $K$}
          \State $h_k \gets h(x)$
          \State $x \gets x - \eta h_k$
        \EndFor
        \State \Return $x$"""))
    assert f(0.5, lambda x: 2 * x, 4.0, 2) == 0.0


def test_a_loop_over_every_noun_counted_in_the_inputs():
    f, _ = _fn(_a2e(r"""
        \KwData{the number of cells $m$, a list $H$ of visited cells (indexed from 0)}
        initialize $c(j) = 0$ for every cell $j$\;
        \ForEach{$h \in H$}{ $c(h) \gets c(h) + 1$\; }
        \KwRet{$c$}\;"""))
    assert f(3, [2, 0, 2]) == [1, 0, 2]


def test_a_count_written_before_its_noun_numbers_a_loop():
    f, _ = _fn(_algo(r"""
        \Require $k$ buckets, a list $A$
        \State $t \gets 0$
        \For{each bucket $b$}
          \State $t \gets t + b$
        \EndFor
        \State \Return $t$"""))
    assert f(4, [9]) == 0 + 1 + 2 + 3


def test_a_word_superscript_names_a_variant_of_the_variable():
    f, result = _fn(_algo(r"""
        \Require a list $v$ of length $n$
        \For{$i = 1$ \textbf{to} $n$}
          \State $v^{old}_i \gets v_i$
          \State $v_i \gets 2 v^{old}_i$
        \EndFor
        \State \Return $(v, v^{old})$"""))
    assert result.functions[0].params == ["v"]
    assert f([1, 3]) == ([2, 6], [1, 3])


def test_a_bold_zero_used_entry_by_entry_is_a_vector_as_long_as_the_declared_ones():
    f, _ = _fn(_algo(r"""
        \Require $u \in \mathbb{R}^d$
        \State $s \gets \mathbf{0}$
        \For{$i = 1$ \textbf{to} $d$}
          \State $s_i \gets u_i \cdot u_i$
        \EndFor
        \State \Return $s$"""))
    assert f([1, -2, 3]) == [1, 4, 9]


def test_a_list_grown_by_appends_and_searched_from_zero_keeps_its_positions_in_a_one_based_block():
    f, result = _fn(_algo(r"""
        \Require numbers $x_1, \ldots, x_n$ and a bound $c$
        \State $kept \gets [\,]$; $m \gets 0$
        \For{$i = 1$ to $n$}
          \If{$x_i > c$} \State append $x_i$ to $kept$; $m \gets m + 1$ \EndIf
        \EndFor
        \State $lo \gets 0$
        \While{$lo < m$ \textbf{and} $kept[lo] < 2c$}
          \State $lo \gets lo + 2$
        \EndWhile
        \State \Return $lo$"""))
    assert "Index base 1" in result.python
    assert f([5, 1, 7, 9], 4) == 2 and f([9], 4) == 0 and f([], 4) == 0


def test_a_size_each_element_has_is_the_length_of_the_first_and_no_input():
    f, result = _fn(_algo(r"""
        \Require rows $R = (r^{(1)}, \ldots, r^{(N)})$, each a vector of $d$ numbers
        \State $t \gets 0$
        \For{$i = 1$ \TO $N$}
          \For{$j = 1$ \TO $d$} \State $t \gets t + r^{(i)}_j$ \EndFor
        \EndFor
        \State \Return $t$"""))
    assert result.functions[0].params == ["R"]
    assert f([[1, 2], [3, 4]]) == 10


def test_entries_of_an_input_valued_from_zero_index_without_a_shift():
    f, _ = _fn(_algo(r"""
        \Require scores $s^{(1)}, \ldots, s^{(N)}$ (lists), choices $c^{(1)}, \ldots, c^{(N)} \in \{0, \ldots, K-1\}$
        \State $t \gets 0$
        \For{$i = 1$ \TO $N$}
          \State $t \gets t + s^{(i)}_{c^{(i)}}$
        \EndFor
        \State \Return $t$"""))
    assert f([[5, 6, 7], [8, 9, 10]], [0, 2]) == 5 + 10


def test_a_table_written_with_a_subscript_and_an_argument_indexes_by_both():
    f, _ = _fn(_algo(r"""
        \Require weights $w_1, \ldots, w_n$
        \For{$j = 1$ to $n$} \State $c_1(j) \gets w_j$ \EndFor
        \For{$t = 2$ to $3$}
          \For{$j = 1$ to $n$} \State $c_t(j) \gets 2 c_{t-1}(j)$ \EndFor
        \EndFor
        \State \Return $\sum_{j=1}^{n} c_3(j)$"""))
    assert f([1, 2]) == 4 * 3


def test_sized_square_brackets_group_and_never_index():
    f, _ = _fn(_algo(r"""
        \Require a rate $\beta$ and numbers $u, v$
        \State \Return $\beta \left[ u - v \right] + \beta \bigl[ v \bigr]$"""))
    assert f(2, 5, 3) == 2 * (5 - 3) + 2 * 3


def test_a_tuple_form_with_primed_names_describes_elements_not_inputs():
    f, result = _fn(_algo(r"""
        \Require a log $L$ of moves $(p, p')$
        \State $t \gets 0$
        \ForAll{$(p, p') \in L$} \State $t \gets t + p' - p$ \EndFor
        \State \Return $t$"""))
    assert result.functions[0].params == ["L"]
    assert f([(1, 4), (2, 3)]) == 4


def test_variables_named_by_the_initials_of_counted_nouns_run_over_their_counts():
    f, result = _fn(_algo(r"""
        \Require $n_R$ rows and $n_C$ columns
        \State $M(r, c) \gets r + c$ for all $r, c$
        \State \Return $M$"""))
    assert result.functions[0].params == ["n_R", "n_C"]
    assert f(2, 3) == [[0, 1, 2], [1, 2, 3]]


def test_a_count_of_a_collections_elements_gives_no_range_to_a_noun_loop():
    from qtk.tools.transpile_paper import transpile

    result = transpile(_algo(r"""
        \Require an array $A$ of $n$ numbers
        \State $t \gets 0$
        \ForAll{number $x$} \State $t \gets t + x$ \EndFor
        \State \Return $t$"""), "t.tex")
    assert result.todo_count == 1  # never x over 0 .. n-1


# Rules from the fourth held-out batch (bench/RESULTS.md, "A fourth held-out batch, first contact").

def test_a_size_the_inputs_mention_but_the_body_computes_first_is_no_input():
    f, result = _fn(_algo(r"""
        \State \textbf{Input:} a table $G$ with $r$ rows and $c$ columns, a bonus $b$
        \State $r \gets$ number of rows of $G$
        \State $c \gets |G[0]|$ \Comment{the length of a row}
        \State $s \gets b$
        \For{$i \gets 0$ to $r - 1$} \For{$j \gets 0$ to $c - 1$} \State $s \gets s + G[i][j]$ \EndFor \EndFor
        \State \Return $s$"""))
    assert result.functions[0].params == ["G", "b"]
    assert f([[1, 2, 3], [4, 5, 6]], 10) == 31


def test_a_counted_loop_between_two_bounds_includes_both():
    f, _ = _fn(_algo(r"""
        \Require a list $L$ and a gap $g$
        \State $s \gets 0$
        \For{each index $j$ between $g$ and $|L| - 1$}
          \State $s \gets s + L[j] - L[j - g]$
        \EndFor
        \State \Return $s$"""))
    assert f([1, 4, 9, 16], 2) == (9 - 1) + (16 - 4)


def test_fortran_style_comma_ranges_include_both_ends():
    f, _ = _fn(_algo(r"""
        \Function{Sums}{$n$}
          \State $up \gets 0$; $down \gets 0$
          \For{$k \gets 1, n$} \State $up \gets up \cdot 10 + k$ \EndFor
          \For{$k \gets n, 1, -1$} \State $down \gets down \cdot 10 + k$ \EndFor
          \State \Return $(up, down)$
        \EndFunction"""))
    assert f(3) == (123, 321)


def test_hexadecimal_and_binary_literals_in_typewriter_or_plain_math():
    f, _ = _fn(_algo(r"""
        \Function{Low}{$x$}
          \State \Return $(x \mathbin{\&} \mathtt{0xF0}) + (x \mathbin{\&} 0b11)$
        \EndFunction"""))
    assert f(0x5B) == 0x50 + 0b11


def test_a_comment_wrapped_in_braces_after_a_braced_statement():
    f, result = _fn(_algo(r"""
        \Function{Twice}{$a$}
          \State {$b \leftarrow 2 a$} {\Comment{double it}}
          \State \Return {$b$}
        \EndFunction"""))
    assert f(4) == 8 and "# double it" in result.python


def test_a_caption_labelled_algorithm_n_with_a_call_and_words_on_its_inputs():
    f, result = _fn(_algo(r"""
        \State $t \gets 0$
        \For{$i \gets 0$ \textbf{to} $m - 1$} \State $t \gets t + W[i] \cdot (m - i)$ \EndFor
        \State \Return $t$""",
        caption=r"\textbf{Algorithm 2} $\operatorname{Weighted}(W)$ for a list $W$ of length $m$"))
    assert result.functions[0].name == "weighted" and result.functions[0].params == ["W"]
    assert f([1, 2, 3]) == 3 + 4 + 3


def test_a_table_one_longer_than_the_inputs_keeps_its_row_zero_while_inputs_shift():
    f, result = _fn(_algo(r"""
        \Function{Common}{$a, b$}
          \State $n \gets \textrm{length}(a)$; $m \gets \textrm{length}(b)$
          \State $T \gets$ an $(n+1) \times (m+1)$ matrix of zeros
          \For{$i \gets 1$ to $n$}
            \For{$j \gets 1$ to $m$}
              \If{$a_i = b_j$} \State $T_{i,j} \gets T_{i-1,j-1} + 1$
              \Else \State $T_{i,j} \gets \max(T_{i-1,j}, T_{i,j-1})$ \EndIf
            \EndFor
          \EndFor
          \State \Return $T_{n,m}$
        \EndFunction"""))
    assert "Index base 1" in result.python
    assert f("ABCBDAB", "BDCABA") == 4 and f("", "A") == 0


def test_inputs_named_by_setkwdata_macros_keep_the_order_the_text_gives():
    f, result = _fn(_a2e(r"""
        \SetKwData{Hi}{high}\SetKwData{Lo}{low}\SetKwData{Mid}{middle}
        \KwIn{a value $v$; thresholds \Lo, \Mid and \Hi}
        \KwOut{a grade}
        \lIf{$v \ge \Hi$}{\Return{$3$}}
        \lIf{$v \ge \Mid$}{\Return{$2$}}
        \lIf{$v \ge \Lo$}{\Return{$1$}}
        \Return{$0$}"""))
    assert result.functions[0].params == ["v", "low", "middle", "high"]
    assert [f(x, 10, 20, 30) for x in (5, 15, 25, 35)] == [0, 1, 2, 3]


def test_a_guard_that_lets_position_zero_be_read_makes_the_block_zero_based():
    f, result = _fn(_algo(r"""
        \Procedure{GapPass}{$L, g, n$}
          \For{$k \gets g$ \textbf{to} $n - 1$}
            \State $v \gets L[k]$; $p \gets k$
            \While{$p \ge g$ \textbf{and} $L[p - g] > v$}
              \State $L[p] \gets L[p - g]$; $p \gets p - g$
            \EndWhile
            \State $L[p] \gets v$
          \EndFor
          \State \Return $L$
        \EndProcedure"""))
    assert "Index base 0" in result.python
    assert f([5, 1, 4, 2, 3], 1, 5) == [1, 2, 3, 4, 5]
    assert f([9, 8, 7, 6], 2, 4) == [7, 6, 9, 8]


def test_a_line_of_words_ending_in_a_colon_introduces_the_lines_below():
    f, result = _fn(_algo(r"""
        \Function{Halves}{$m$}
          \State split $m$ into its odd part $q$ and a power of two $2^e$:
          \State $q \gets m$; $e \gets 0$
          \While{$q \bmod 2 = 0$} \State $q \gets q / 2$; $e \gets e + 1$ \EndWhile
          \State \Return $(q, e)$
        \EndFunction"""))
    assert "# split m into its odd part" in result.python
    assert f(48) == (3, 4) and f(7) == (7, 0)
    assert isinstance(f(2 ** 70)[0], int)  # an exact halving stays an integer


def test_a_step_named_by_a_few_words_and_a_colon_before_its_assignment():
    f, _ = _fn(_algo(r"""
        \Require step size $\eta$, start $y$, steps $K$
        \For{$k = 1$ to $K$}
          \State Evaluate slope: $s \gets 2 y$
          \State Take a step: $y \gets y - \eta s$
        \EndFor
        \State \Return $y$"""))
    assert f(0.25, 8.0, 3) == 1.0


def test_a_range_of_positions_bounded_like_a_declared_sequence_counts_its_entries():
    f, result = _fn(_algo(r"""
        \Require weights $w_0, \ldots, w_{K-1}$ of classes $0, \ldots, K-1$; a class $c$
        \State \Return $w_c \cdot K$"""))
    assert result.functions[0].params == ["w", "c"]
    assert f([0.5, 2.0, 1.0], 1) == 6.0


def test_an_inverse_modulo_m_is_pow_with_minus_one():
    f, _ = _fn(_algo(r"""
        \Function{Divide}{$a, b, p$} \Comment{$a / b$ in the field of $p$ elements}
          \State \Return $a \cdot b^{-1} \bmod p$
        \EndFunction"""))
    assert [f(3, 4, 7), f(1, 3, 11)] == [(3 * pow(4, -1, 7)) % 7, pow(3, -1, 11)]


def test_a_number_and_entries_written_under_the_same_letter_are_two_variables():
    f, _ = _fn(_algo(r"""
        \Require moduli $m_1, \ldots, m_k$ and residues $r_1, \ldots, r_k$
        \State $M \gets \prod_{i=1}^{k} m_i$
        \State $x \gets 0$
        \For{$i = 1$ to $k$}
          \State $M_i \gets M / m_i$
          \State $x \gets x + r_i M_i (M_i^{-1} \bmod m_i)$
        \EndFor
        \State \Return $x \bmod M$"""))
    assert f([4, 9], [3, 4]) == 31  # x = 3 mod 4, x = 4 mod 9
    assert f([5, 7, 11], [1, 2, 3]) == 366


def test_a_subscript_naming_an_input_list_labels_a_variable():
    f, _ = _fn(_algo(r"""
        \Require lists $P$ and $Q$ of words
        \State $C_P \gets$ set of elements of $P$
        \State $C_Q \gets$ set of elements of $Q$
        \State \Return $|C_P \setminus C_Q|$"""))
    assert f(["a", "b", "b", "c"], ["b"]) == 2


def test_x_and_y_subscripts_of_a_point_are_its_coordinates():
    f, _ = _fn(_algo(r"""
        \Function{Dist2}{$p, q$} \Comment{points $(x, y)$}
          \State $d_x \gets p_x - q_x$; $d_y \gets p_y - q_y$
          \State \Return $d_x^2 + d_y^2$
        \EndFunction"""))
    assert f((1, 2), (4, 6)) == 25


def test_coordinates_named_as_inputs_stay_inputs():
    f, result = _fn(_algo(r"""
        \Function{Inside}{$q_x, q_y, r$}
          \State \Return $q_x^2 + q_y^2 \le r^2$
        \EndFunction"""))
    assert result.functions[0].params == ["q_x", "q_y", "r"]
    assert f(3, 4, 5) is True and f(3, 4, 4.9) is False


def test_a_function_named_in_an_old_style_bold_group_and_a_line_describing_its_inputs():
    f, result = _fn(_algo(r"""
        \Function {\bf Clamp}{$v, lo, hi$}:
        \Statex {$v = \textrm{a reading};\ lo = \textrm{lower limit};\ hi = \textrm{upper limit}$}
          \State \Return $\min(\max(v, lo), hi)$
        \EndFunction"""))
    assert result.functions[0].name == "clamp"
    assert "# v = a reading" in result.python
    assert [f(x, 0, 10) for x in (-3, 4, 12)] == [0, 4, 10]


def test_a_plus_or_minus_superscript_tags_a_name_and_keeps_its_place_among_the_inputs():
    f, result = _fn(_algo(r"""
        \Require $\mathcal{N}^{-}$, the in-neighbour lists, and a weight $c$
        \State $s \gets 0$
        \For{$v = 0, \ldots, |\mathcal{N}^{-}| - 1$}
          \State $s \gets s + c \cdot |\mathcal{N}^{-}[v]|$
        \EndFor
        \State \Return $s + 2^{-1}$"""))
    assert result.functions[0].params == ["N_minus", "c"]
    assert f([[1], [0, 2], []], 2) == 6.5


def test_an_array_refilled_first_thing_in_each_round_is_a_list_even_when_later_keyed_by_values():
    f, _ = _fn(_algo(r"""
        \Require adjacency lists $A$ of $n$ nodes, rounds $T$
        \State $n \gets |A|$
        \For{$t = 1$ to $T$}
          \For{$v = 0$ to $n - 1$} \State $h_v \gets 0$ \EndFor
          \For{$u = 0$ to $n - 1$}
            \ForAll{$v \in A[u]$} \State $h_v \gets h_v + 1$ \EndFor
          \EndFor
        \EndFor
        \State \Return $h$"""))
    assert f([[1, 2], [2], [0]], 2) == [1, 1, 2]


def test_bars_around_an_entry_that_the_block_iterates_over_are_its_size():
    f, _ = _fn(_algo(r"""
        \Require groups $g_1, \ldots, g_m$ (lists of numbers)
        \State $best \gets 0$
        \For{$k = 1$ to $m$}
          \State $s \gets 0$
          \ForAll{$x \in g_k$} \State $s \gets s + x$ \EndFor
          \State $best \gets \max(best, s / |g_k|)$
        \EndFor
        \State \Return $best$"""))
    assert f([[1, 3], [-4, -2], [5]]) == 5.0


def test_control_words_before_a_colon_are_never_dropped_as_a_label_or_a_remark():
    from qtk.tools.transpile_paper import transpile

    result = transpile(_algo(r"""
        \Require a list $L$
        \State $s \gets 0$
        \State for each $x$ in $L$:
        \State otherwise: $s \gets 1$
        \State \Return $s$"""), "t.tex")
    assert result.todo_count == 2


def test_coordinates_named_in_the_input_text_are_inputs_of_their_own():
    f, result = _fn(_algo(r"""
        \Require coordinates $q_x$ and $q_y$ of a query point, a radius $r$
        \State \Return $q_x^2 + q_y^2 \le r^2$"""))
    assert result.functions[0].params == ["q_x", "q_y", "r"]
    assert f(3, 4, 5) is True and f(3, 4, 4.9) is False
