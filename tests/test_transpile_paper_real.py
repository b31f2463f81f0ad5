"""qtk transpile-paper on pseudo-code as papers, theses and lecture notes write it: the real-style
corpus (tests/data/transpile_real: blocks in the styles of public repositories, our own text, with
expected answers) is scored by failure class; then one behaviour test per general
mechanism (document macros, everyday English, loop forms, headers and declared outputs, index
inference); the phrase table has its own tests (test_transpile_paper_phrases.py). Every test runs
the generated Python and checks what it returns."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from qtk.errors import UsageError
from qtk.tools.transpile_paper import transpile
from qtk.tools.transpile_paper.scoring import CLASSES, load_cases, score
from transpile_blocks import algo as _algo
from transpile_blocks import doc as _doc
from transpile_blocks import fn as _fn

CORPUS = Path(__file__).parent / "data" / "transpile_real"


# ---- the corpus -----------------------------------------------------------------------------

def test_real_corpus_covers_every_class_and_package():
    cases = load_cases(CORPUS)
    assert {c.file for c in cases} == {p.stem for p in CORPUS.glob("*.tex")}
    assert {c.klass for c in cases} == set(CLASSES)
    texts = [(CORPUS / f"{c.file}.tex").read_text() for c in cases]
    for package in ("{algorithmic}", "{algpseudocode}", "algorithm2e}"):
        assert sum(package in t for t in texts) >= 10, package


def test_real_corpus_runs_correctly_rate():
    report = score(CORPUS)
    failing = {o.case.file: f"{o.status}: {o.detail[:200]}" for o in report.outcomes if o.status != "ok"}
    assert report.rate >= 0.90, f"{report.correct}/{len(report.outcomes)}\n{report.markdown()}\n{failing}"


@pytest.mark.parametrize("case", load_cases(CORPUS), ids=lambda c: c.file)
def test_real_corpus_output_parses(case):
    result = transpile((CORPUS / f"{case.file}.tex").read_text(), f"{case.file}.tex")
    ast.parse(result.python)


# ---- document macros --------------------------------------------------------------------------

def test_newenvironment_wrapper_around_algorithmic():
    text = _doc(r"""
\begin{algorithm}\caption{Sum}
\begin{steps}
\Require values $x_1, \ldots, x_n$
\State $s \gets 0$
\For{$i \gets 1$ \To $n$} \State $s \gets s + x_i$ \EndFor
\State \Return $s$
\end{steps}
\end{algorithm}""", "\\usepackage{algpseudocode}\n\\newenvironment{steps}{\\begin{algorithmic}[1]}{\\end{algorithmic}}")
    f, _ = _fn(text)
    assert f([1, 2, 3]) == 6


def test_def_let_providecommand_and_operators_are_expanded():
    preamble = "\n".join([
        r"\usepackage{algorithmic}",
        r"\def\Assign{\leftarrow}",
        r"\let\To\undefined",
        r"\let\Gets\Assign",
        r"\providecommand{\Inc}[2][1]{#2 \Gets #2 + #1}",
        r"\DeclareMathOperator*{\argmin}{arg\,min}",
        r"\def\Len#1{|#1|}",
    ])
    f, _ = _fn(_algo(r"""
        \REQUIRE numbers $a_1, \ldots, a_n$
        \STATE $c \Assign 0$
        \FOR{$i = 1$ \TO $\Len{a}$}
          \STATE $\Inc[2]{c}$
        \ENDFOR
        \STATE $j \Gets \argmin_{1 \le i \le n} a_i$
        \RETURN $(c, j)$""", preamble))
    assert f([4, 2, 9]) == (6, 2)


def test_algnewcommand_keywords_and_algdef_blocks():
    preamble = "\n".join([
        r"\usepackage{algpseudocode}",
        r"\algnewcommand\Input{\item[\textbf{Input:}]}",
        r"\algnewcommand\AND{\textbf{and}}",
        r"\algdef{SE}[PFOR]{ParFor}{EndParFor}[1]{\textbf{for} #1 \textbf{in parallel}}{\algorithmicend}",
    ])
    f, _ = _fn(_algo(r"""
        \Input a list $x$, bounds $lo$ and $hi$
        \ParFor{$i \gets 0$ \To $|x| - 1$}
          \If{$x_i < lo$ \AND $lo < hi$} \State $x_i \gets lo$ \EndIf
        \EndParFor
        \State \Return $x$""", preamble))
    assert f([1, 5, -3], 0, 9) == [1, 5, 0]


def test_spacing_macros_inside_algorithmic_are_not_another_packages_syntax():
    f, _ = _fn(_algo(r"""
        \Require $n$
        \State \(lo \;\gets\; 0\);\; $hi \gets n$
        \State \Return $hi - lo$""", r"\usepackage{algpseudocode}"))
    assert f(5) == 5


# ---- everyday English inside statements and conditions ----------------------------------------

def test_bold_keywords_lowercase_booleans_and_several_assignments_in_one_span():
    f, _ = _fn(_algo(r"""
        \Require a list $X$, a bound $b$
        \State $c \gets 0,\ found \gets \textbf{false}$
        \For{each $x$ in $X$}
          \State \textbf{if} $x > b$ \textbf{then} $c \gets c + 1$
          \If{$x = b$ is true} \State $found \gets$ \textbf{true} \EndIf
        \EndFor
        \State \Return $(c, found)$"""))
    assert f([1, 5, 3, 7], 3) == (2, True)


def test_let_be_is_not_in_compound_update_and_weight_function_calls():
    f, _ = _fn(_algo(r"""
        \Require a list $A$, a set $S$, a weight function $w$
        \State let $n$ be the length of $A$
        \State $t \gets 0$
        \For{$i \gets 0$ \To $n - 2$}
          \If{$A[i]$ is not in $S$} \State $t \mathrel{+}= w(A[i], A[i + 1])$ \EndIf
        \EndFor
        \State \Return $t$"""))
    assert f([1, 2, 3, 4], {2}, lambda a, b: a * b) == 1 * 2 + 3 * 4


@pytest.mark.parametrize("cond, n, want", [
    (r"$n \equiv 1 \pmod{3}$", 7, True),
    (r"$n$ is divisible by $3$", 7, False),
    (r"$n \in [0, 7)$", 7, False),
    (r"$n \in (0, 7]$", 7, True),
    (r"$n \notin [1, 10]$", 7, False),
])
def test_congruences_divisibility_and_intervals(cond, n, want):
    f, _ = _fn(_algo(rf"""
        \Require $n$
        \If{{{cond}}} \State \Return \True \EndIf
        \State \Return \False"""))
    assert f(n) is want


def test_braced_state_and_until_bound():
    f, _ = _fn(_algo(r"""
        \Require $n$
        \State{$s \gets 0$}
        \For{$i \gets 1$ \textbf{until} $n$} \State{$s \gets s + i$} \EndFor
        \State \Return $s$"""))
    assert f(4) == 10


@pytest.mark.parametrize("cond, want", [
    (r"the length of $w$ is greater than $k$", ["abc", "abcd"]),
    (r"the size of $w$ is at most $k$", ["a", "ab"]),
    (r"length of $w$ is equal to $k$", ["ab"]),
])
def test_comparisons_and_sizes_in_words(cond, want):
    f, _ = _fn(_algo(rf"""
        \Require a list of words $W$, a number $k$
        \State $R \gets$ an empty list
        \ForAll{{$w \in W$}} \If{{{cond}}} \State append $w$ to $R$ \EndIf \EndFor
        \State \Return $R$"""))
    assert f(["a", "ab", "abc", "abcd"], 2) == want


def test_an_output_naming_one_entry_returns_that_entry():
    f, _ = _fn(_doc(r"""
\begin{algorithm}
\KwIn{costs $c_1, \ldots, c_n$}
\KwOut{the best total $T[n]$}
$T[0] \gets 0$\;
\For{$i \gets 1$ \KwTo $n$}{$T[i] \gets T[i - 1] + c_i$\;}
\caption{Totals}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    assert f([3, 4, 5]) == 12


def test_string_constants_and_increment():
    f, _ = _fn(_algo(r"""
        \Require a string $s$
        \State $k \gets 0$
        \ForAll{characters $c$ in $s$}
          \If{$c = \texttt{(}$ \textbf{or} $c = \text{"["}$} \State $k ++$ \EndIf
        \EndFor
        \State \Return $k$"""))
    assert f("(a[b(") == 3


def test_italic_prose_line_is_a_comment():
    f, result = _fn(_doc(r"""
\begin{algorithm}
\KwIn{a list $P$}
\emph{We keep the smallest value seen so far.}\;
$low \gets \infty$\;
\ForEach{$p \in P$}{$low \gets \min(low, p)$\;}
\KwRet{$low$}
\caption{Minimum}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    assert f([3, 1, 2]) == 1 and "# We keep the smallest value seen so far." in result.python


def test_algorithm2e_lines_ended_by_a_line_break_and_bold_headings():
    f, result = _fn(_doc(r"""
\begin{algorithm}
\KwIn{a list $A$}
\textbf{Initialise:}\;
$s \leftarrow 0$ \\
$m \leftarrow 1$ \\
\ForEach{$x \in A$}{
  \hskip\algorithmicindent $s \leftarrow s + x$ \\
  $m \leftarrow m \cdot x$ \\
}
\Return{$(s, m)$}
\caption{Sum and product}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    assert f([2, 3, 4]) == (9, 24) and "# Initialise:" in result.python


def test_equals_assignments_separated_by_commas_and_one_based_hints():
    f, result = _fn(_algo(r"""
        \STATE $best = R[1]$, $k = 1$
        \FOR{$i = 1$ \TO $N$}
          \FOR{$j = i$ \TO $N$}
            \IF{$R[j] > best$} \STATE $best = R[j]$, $k = j$ \ENDIF
          \ENDFOR
        \ENDFOR
        \RETURN $(best, k)$""", r"\usepackage{algorithmic}"))
    assert result.functions[0].index_base == 1 and f([4, 9, 2], 3) == (9, 2)


def test_prose_paragraphs_are_comments_not_code_or_a_second_function():
    f, result = _fn(_doc(r"""
\begin{algorithm}
\KwIn{a list $A$}
This procedure adds up the entries of the list in one pass.

$s \gets 0$\;
\ForEach{$x \in A$}{$s \gets s + x$\;}
\Return{$s$}\;
\caption{Sum}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    assert f([1, 2]) == 3 and "# This procedure adds up" in result.python
    result = transpile(_algo(r"""
        \Function{Sq}{$x$} \State \Return $x \cdot x$ \EndFunction
        \State Call the function above on every input value"""), "t.tex")
    assert [fn.name for fn in result.functions] == ["sq"] and result.todo_count == 0


# ---- loop forms -------------------------------------------------------------------------------

@pytest.mark.parametrize("header, want", [
    (r"$i, j$ with $1 \le i < j \le n$", [(1, 2), (1, 3), (2, 3)]),
    (r"$1 \le i \le j \le n$", [(1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3)]),
])
def test_loops_over_index_chains_are_nested(header, want):
    f, _ = _fn(_algo(rf"""
        \Require $n$
        \State $P \gets$ an empty list
        \ForAll{{{header}}}
          \State append $(i, j)$ to $P$
        \EndFor
        \State \Return $P$"""))
    assert f(3) == want


@pytest.mark.parametrize("header", [
    r"$i = n, n - 1, \ldots, 1$",
    r"$i \gets n$ \textbf{downto} $1$",
    r"$i$ in $n..1$ \textbf{step} $-1$",
    r"$i \gets n$ \textbf{down to} $1$",
])
def test_descending_loop_forms(header):
    f, _ = _fn(_algo(rf"""
        \Require $n$
        \State $L \gets$ an empty list
        \For{{{header}}} \State append $i$ to $L$ \EndFor
        \State \Return $L$"""))
    assert f(3) == [3, 2, 1]


@pytest.mark.parametrize("header, want", [
    (r"$i = 1:n$", [1, 2, 3]),
    (r"$i = n:-1:1$", [3, 2, 1]),
    (r"$i \in [n]$", [1, 2, 3]),
    (r"$i$ in range($n$)", [0, 1, 2]),
])
def test_matlab_bracket_and_python_ranges(header, want):
    f, _ = _fn(_algo(rf"""
        \Require $n$
        \State $L \gets$ an empty list
        \For{{{header}}} \State append $i$ to $L$ \EndFor
        \State \Return $L$"""))
    assert f(3) == want


def test_columns_of_pairs_and_sizes_after_the_name():
    f, result = _fn(_algo(r"""
        \Require intervals $I_1, \ldots, I_m$ given as pairs $(a_j, b_j)$; $M$, an $r \times k$ matrix
        \State $t \gets 0$
        \For{$j \in [m]$} \State $t \gets t + b_j - a_j + |x'|$ \EndFor
        \State \Return $t + r \cdot k$"""))
    assert result.functions[0].params[:2] == ["I", "M"]
    assert f([(1, 4), (2, 3)], [[0, 0, 0]], -2) == 3 + 1 + 4 + 3


@pytest.mark.parametrize("header, want", [
    (r"$x$ in $L$, from left to right", [3, 1, 2]),
    (r"$x \in L$ in reverse order", [2, 1, 3]),
    (r"$x \in L$ in increasing order", [1, 2, 3]),
    (r"$x \in L$ in decreasing order of $x$", [3, 2, 1]),
    (r"$i \gets 1$ \To $3$ in reverse order", [3, 2, 1]),
])
def test_orders_written_after_the_collection(header, want):
    f, _ = _fn(_algo(rf"""
        \Require a list $L$
        \State $out \gets$ an empty list
        \ForAll{{{header}}} \State append ${'x' if 'x' in header else 'i'}$ to $out$ \EndFor
        \State \Return $out$"""))
    assert f([3, 1, 2]) == want


def test_pairs_sorted_by_one_part():
    f, _ = _fn(_algo(r"""
        \Require a list $I$ of pairs $(s, f)$
        \State $out \gets$ an empty list
        \ForAll{$(s, f) \in I$ in increasing order of $f$} \State append $s$ to $out$ \EndFor
        \State \Return $out$"""))
    assert f([(1, 9), (2, 3), (3, 5)]) == [2, 3, 1]


@pytest.mark.parametrize("header", [r"$i \in \mathbb{N}, i \le n$", r"$i \in \mathbb{N}$", r"each vertex $v$"])
def test_loops_the_block_does_not_bound_stay_todo(header):
    result = transpile(_algo(rf"""
        \Require $n$
        \For{{{header}}} \State $s \gets 1$ \EndFor"""), "t.tex")
    assert result.todo_count == 1


def test_loop_over_the_characters_of_a_string():
    f, _ = _fn(_doc(r"""
\begin{algorithm}
\KwIn{a string $s$}
$v \gets 0$\;
\ForEach{character $c$ of $s$}{\lIf{$c = \text{'a'}$}{$v \gets v + 1$}}
\Return{$v$}\;
\caption{Count}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    assert f("banana") == 3


# ---- headers and declared outputs -------------------------------------------------------------

def test_bold_input_output_state_lines_declare_parameters_and_sizes():
    f, result = _fn(_algo(r"""
        \STATE \textbf{Input:} array $a$ of $n$ numbers, window size $k$
        \STATE \textbf{Output:} $best$
        \STATE $best \gets -\infty$
        \FOR{$i \gets 0$ to $n - k$}
          \STATE $best \gets \max(best, \sum_{j=i}^{i+k-1} a[j])$
        \ENDFOR""", r"\usepackage{algorithmic}"))
    assert result.functions[0].params == ["a", "k"]
    assert f([1, -2, 3, 4], 2) == 7


def test_input_lines_above_the_algorithmic_environment():
    f, result = _fn(_doc(r"""
\begin{algorithm}\caption{Scale}
\textbf{Input:} a list $x$, a factor $c$ \\
\textbf{Output:} $y$
\begin{algorithmic}
\State $y \gets$ an empty list
\ForAll{$v \in x$} \State append $c \cdot v$ to $y$ \EndFor
\end{algorithmic}
\end{algorithm}"""))
    assert result.functions[0].params == ["x", "c"] and f([1, 2], 3) == [3, 6]


def test_name_line_above_a_bare_algorithmic_names_the_function():
    f, result = _fn(_doc(r"""
\textsc{Double}$(A)$
\begin{algorithmic}
\For{$i \gets 1$ \To $|A|$} \State $A[i] \gets 2 A[i]$ \EndFor
\State \Return $A$
\end{algorithmic}"""))
    assert result.functions[0].name == "double" and f([1, 2]) == [2, 4]


def test_declared_output_is_returned_and_only_when_the_block_names_it():
    f, _ = _fn(_doc(r"""
\begin{algorithm}\caption{Squares}
\KwIn{$n$}\KwOut{$S$, the squares}
\For{$i \gets 1$ \KwTo $n$}{$S[i] \gets i \cdot i$\;}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    assert f(3) == [1, 4, 9]  # S is filled over 1..n without being created: a list
    g, _ = _fn(_doc(r"""
\begin{algorithm}\caption{Sort in place}
\KwIn{an array $A$}\KwOut{$A$ sorted}
\lIf{$|A| > 1$ \textbf{and} $A[0] > A[1]$}{swap $A[0]$ and $A[1]$}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    work = [2, 1]
    assert g(work) is None and work == [1, 2]  # the output names only an input: no return invented


def test_caption_with_a_return_type_names_the_function():
    f, result = _fn(_algo(r"""
        \State \Return $a \cdot b$""", caption=r"Mul($a$, $b$) $\to$ integer"))
    assert result.functions[0].name == "mul" and result.functions[0].params == ["a", "b"] and f(3, 4) == 12


@pytest.mark.parametrize("require", [
    r"$A[1, \ldots, n]$",
    r"$A \in \mathbb{R}^n$",
    r"an $n$-element array $A$",
    r"$A = [a_1, \ldots, a_n]$",
    r"$A = \{a_1, \ldots, a_n\}$",
    r"an array $A[1..n]$ with $n$ even",
    r"$A$ with $|A| = n$",
    r"array $A$ of size $n$",
])
def test_sizes_declared_every_way_become_lengths(require):
    f, result = _fn(_algo(rf"""
        \Require {require}
        \State $s \gets 0$
        \For{{$i \gets 1$ \To $n$}} \State $s \gets s + i \cdot A[i]$ \EndFor
        \State \Return $s$"""))
    assert result.functions[0].params == ["A"] and f([5, 6, 7]) == 5 + 12 + 21


@pytest.mark.parametrize("line", [
    r"\State Create an $n \times n$ matrix $C$",
    r"\State Initialize an $n \times n$ matrix $C$ with zeros",
    r"\State $C \gets 0_{n \times n}$",
    r"\State $C \gets \text{zeros}(n, n)$",
    r"\State $C[1..n, 1..n] \gets 0$",
])
def test_matrices_created_every_way(line):
    body = "\\Require $n$\n" + line + "\n" + r"""
        \For{$i \gets 1$ \To $n$} \For{$j \gets 1$ \To $n$} \State $C[i][j] \gets i + j$ \EndFor \EndFor
        \State \Return $C$"""
    f, _ = _fn(_algo(body))
    assert f(2) == [[2, 3], [3, 4]]


def test_matrix_sizes_named_in_prose_come_from_the_matrix():
    f, result = _fn(_algo(r"""
        \Require an $n \times m$ matrix $A$
        \Ensure $T$
        \State $T \gets$ an $m \times n$ matrix of zeros
        \For{$i \gets 1$ \To $n$} \For{$j \gets 1$ \To $m$} \State $T_{ji} \gets A_{ij}$ \EndFor \EndFor"""))
    assert result.functions[0].params == ["A"] and f([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]


# ---- index inference and maths ----------------------------------------------------------------

def test_maps_keyed_by_characters_are_not_shifted_in_a_one_based_algorithm():
    f, result = _fn(_algo(r"""
        \Require a string $S[1..n]$
        \State $freq \gets$ an empty map
        \For{$i \gets 1$ \To $n$}
          \If{$S[i] \notin freq$} \State $freq[S[i]] \gets 0$ \EndIf
          \State $freq[S[i]] \gets freq[S[i]] + 1$
        \EndFor
        \State \Return $freq[S[n]]$"""))
    assert result.functions[0].index_base == 1 and f("abca") == 2


def test_counting_array_keyed_by_value_keeps_its_keys():
    f, _ = _fn(_doc(r"""
\begin{algorithm}\caption{Histogram}
\KwIn{array $A[1..n]$ with $0 \le A[i] \le k$}\KwOut{$C$}
$C \gets$ an array of $k + 1$ zeros\;
\For{$i \gets 1$ \KwTo $n$}{$C[A[i]] \gets C[A[i]] + 1$\;}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    assert f([2, 0, 2], 2) == [1, 0, 2]


def test_layered_matrices_and_lowercase_entries():
    f, _ = _fn(_algo(r"""
        \Require the $n \times n$ matrix $W$
        \State $D^{(0)} \gets W$
        \For{$k \gets 1$ \To $n$}
          \State let $D^{(k)}$ be a new $n \times n$ matrix
          \For{$i \gets 1$ \To $n$} \For{$j \gets 1$ \To $n$}
            \State $d^{(k)}_{ij} \gets \min(d^{(k-1)}_{ij}, d^{(k-1)}_{ik} + d^{(k-1)}_{kj})$
          \EndFor \EndFor
        \EndFor
        \State \Return $D^{(n)}$"""))
    inf = math.inf
    assert f([[0, 4, inf], [inf, 0, 1], [1, inf, 0]]) == [[0, 4, 5], [2, 0, 1], [1, 5, 0]]


def test_function_inputs_are_called_and_declared_order_is_kept():
    f, result = _fn(_algo(r"""
        \REQUIRE gradient $g$ of the objective, a start $x_0$, step size $\alpha > 0$, steps $K$
        \STATE $x \gets x_0$
        \FOR{$k = 1$ \TO $K$} \STATE $x \gets x - \alpha g(x)$ \ENDFOR
        \RETURN $x$""", r"\usepackage{algorithmic}"))
    assert result.functions[0].params == ["g", "x_0", "alpha", "K"]
    assert f(lambda x: 2 * (x - 3), 0.0, 0.5, 1) == 3.0


def test_inputs_declared_as_an_interval_or_an_ordering_keep_their_order():
    f, result = _fn(_algo(r"""
        \Require a function $f$, an interval $[a, b]$, bounds $lo < hi$, $n \in \mathbb{N}$
        \State \Return $f(a) + b - lo \cdot hi + n$"""))
    assert result.functions[0].params == ["f", "a", "b", "lo", "hi", "n"]
    assert f(lambda x: 10 * x, 1, 2, 3, 4, 5) == 10 + 2 - 12 + 5


def test_arrays_written_with_parentheses_and_sequences_with_several_terms():
    f, _ = _fn(_algo(r"""
        \REQUIRE vertices $V$, a source $s \in V$
        \FORALL{$v \in V$} \STATE $d(v) \gets 0$ \ENDFOR
        \FOR{$i = 2, 3, 4, \ldots, 5$} \STATE $d(s) \gets d(s) + i$ \ENDFOR
        \RETURN $d(s)$""", r"\usepackage{algorithmic}"))
    assert f(["a", "b"], "b") == 14


def test_a_set_of_a_range_assigned_is_a_set_and_kwand():
    f, _ = _fn(_doc(r"""
\begin{algorithm}
\KwIn{$n$, a list $D$}
$Q \gets \{0, \ldots, n - 1\}$\;
\ForEach{$x \in D$}{\lIf{$x \in Q$ \KwAnd $x \ge 0$}{remove $x$ from $Q$}}
\Return{$|Q|$}\;
\caption{Missing}
\end{algorithm}""", r"\usepackage{algorithm2e}"))
    assert f(5, [0, 3, 3]) == 3


def test_a_table_filled_without_being_created_is_keyed_by_index_pairs():
    f, result = _fn(_algo(r"""
        \Require $n$
        \For{$i \gets 1$ \To $n$} \State $C[i, 0] \gets 1$ \State $C[i, i] \gets 1$ \EndFor
        \For{$i \gets 2$ \To $n$} \For{$j \gets 1$ \To $i - 1$}
          \State $C[i, j] \gets C[i - 1, j - 1] + C[i - 1, j]$
        \EndFor \EndFor
        \State \Return $C[n, \lfloor n / 2 \rfloor]$"""))
    assert "C[i, j]" in result.python and f(6) == math.comb(6, 3)


def test_heap_children_two_i_mean_one_based():
    f, result = _fn(_algo(r"""
        \Procedure{Sift}{$A, i, n$}
          \While{$2i \le n$}
            \State $j \gets 2i$
            \If{$j + 1 \le n$ \textbf{and} $A[j] < A[j + 1]$} \State $j \gets j + 1$ \EndIf
            \If{$A[j] \le A[i]$} \State \textbf{break} \EndIf
            \State exchange $A[i]$ with $A[j]$
            \State $i \gets j$
          \EndWhile
        \EndProcedure"""))
    a = [1, 9, 5, 3]
    f(a, 1, 4)
    assert result.functions[0].index_base == 1 and a == [9, 3, 5, 1]


def test_new_empty_lists_are_distinct_and_argmin_over_filtered_positions():
    f, _ = _fn(_algo(r"""
        \Require a list $A$, a list $done$ of booleans
        \State let $B[0..2]$ be new empty lists
        \ForAll{$x \in A$} \State append $x$ to $B[x \bmod 3]$ \EndFor
        \State $u \gets \arg\min_{v : \neg done[v]} A[v]$
        \State \Return $(B, u)$"""))
    assert f([4, 3, 8, 1], [False, True, False, True]) == ([[3], [4, 1], [8]], 0)


def test_constant_subscripts_of_an_input_index_it():
    f, _ = _fn(_algo(r"""
        \Function{Dist}{$p, q$} \State \Return $|p_1 - q_1| + |p_2 - q_2|$ \EndFunction"""))
    assert f((1, 5), (4, 1)) == 7


def test_counters_started_at_zero_do_not_outweigh_a_declared_one_based_array():
    f, result = _fn(_algo(r"""
        \Require losses $L_1, \ldots, L_T$
        \State $t \gets 0$; $s \gets 0$
        \Repeat \State $t \gets t + 1$ \State $s \gets s + t \cdot L_t$ \Until{$t = T$}
        \State \Return $s$"""))
    assert result.functions[0].index_base == 1 and f([5, 6]) == 5 + 12


def test_names_bound_by_for_each_in_the_inputs_are_not_inputs():
    f, result = _fn(_algo(r"""
        \Require classes $C$, a score $s_c$ for each $c \in C$
        \State \Return $\arg\max_{c \in C} s_c$"""))
    assert result.functions[0].params == ["C", "s"] and f(["a", "b"], {"a": 1, "b": 2}) == "b"


def test_a_subscript_used_before_its_index_exists_is_a_name():
    f, result = _fn(_algo(r"""
        \STATE $best = R[1]$; $m_i = 0$
        \FOR{$i = 1$ \TO $N$} \IF{$R[i] > best$} \STATE $best = R[i]$; $m_i = i$ \ENDIF \ENDFOR
        \RETURN $(best, m_i)$""", r"\usepackage{algorithmic}"))
    assert "m_i = i" in result.python and f([3, 8, 5], 3) == (8, 2)


def test_clrs_records_constants_and_empty_set_queues():
    from types import SimpleNamespace

    f, result = _fn(_algo(r"""
        \Procedure{Mark}{$G, s$}
        \ForAll{$u \in G.V$} \State $u.color \gets \textsc{White}$ \State $u.d \gets \infty$ \EndFor
        \State $s.d \gets 0$; $s.color \gets$ GRAY
        \State $Q \gets \emptyset$
        \State \Call{Enqueue}{$Q, s$}
        \While{$Q \neq \emptyset$}
          \State $u \gets$ \Call{Dequeue}{$Q$}
          \ForAll{$v \in G.Adj[u]$}
            \If{$v.color = \textsc{White}$} \State $v.color \gets$ GRAY \State $v.d \gets u.d + 1$
              \State \Call{Enqueue}{$Q, v$} \EndIf
          \EndFor
        \EndWhile
        \State \Return $(d, color)$
        \EndProcedure"""))
    d, color = f(SimpleNamespace(V=[0, 1, 2], Adj=[[1], [], []]), 0)
    assert result.functions[0].params == ["G", "s"]
    assert d == {0: 0, 1: 1, 2: math.inf} and color == {0: "GRAY", 1: "GRAY", 2: "WHITE"}


def test_bit_operators():
    f, _ = _fn(_algo(r"""
        \REQUIRE integers $x, y$
        \RETURN $((x \oplus y) \ll 1) + (x \mathbin{\&} y) + (x \gg 2)$""", r"\usepackage{algorithmic}"))
    assert f(6, 3) == ((6 ^ 3) << 1) + (6 & 3) + (6 >> 2)


def test_untranslatable_line_still_fails_strict(cli):
    text = _algo(r"""
        \State $x \gets 1$
        \State shuffle the deck thoroughly""")
    result = cli("transpile-paper", "-", "--strict", input=text)
    assert result.exit_code == 1 and "not translated" in result.stderr


def test_declared_lowest_value_of_an_index_input_sets_the_base():
    f, result = _fn(_algo(r"""
        \Statex \textbf{Input:} scores $A$, an integer $k$ with $1 \le k \le |A|$
        \State $B \gets$ a copy of $A$
        \State sort $B$ in decreasing order
        \State \Return $B[k]$"""))
    assert result.functions[0].index_base == 1 and f([3, 1, 2], 1) == 3


def test_graph_given_as_a_pair_and_element_forms_are_not_inputs():
    f, result = _fn(_algo(r"""
        \Require a graph $G = (V, E)$ with edges as pairs $(u, v)$, a vertex $s \in V$
        \State $c \gets 0$
        \ForAll{$(u, v) \in E$} \If{$u = s$} \State $c \gets c + 1$ \EndIf \EndFor
        \State \Return $c$"""))
    assert result.functions[0].params == ["G", "s"] and f(([0, 1], [(0, 1), (1, 0), (0, 0)]), 0) == 2


def test_quoted_strings_in_text_and_uppercase_procedures():
    f, _ = _fn(_algo(r"""
        \PROCEDURE{LABEL}{$x$}
          \IF{$x > 0$} \RETURN ``positive'' \ELSE \RETURN ``other'' \ENDIF
        \ENDPROCEDURE""", "\\usepackage[compatible]{algpseudocode}"))
    assert f(2) == "positive" and f(0) == "other"


def test_break_outside_a_loop_is_a_todo_and_the_module_compiles():
    result = transpile(_algo(r"""
        \State $x \gets 1$
        \State \textbf{break}"""), "t.tex")
    compile(result.python, "t.py", "exec")
    assert result.todo_count == 1


def test_bad_input_still_refused():
    with pytest.raises(UsageError):
        transpile(_algo(r"\If{$x$}{\KwRet{1}}"), "t.tex")


def test_superscript_layers_without_parentheses():
    f, _ = _fn(_doc(open(Path(__file__).parent / "data" / "transpile_real" / "t_floyd_warshall.tex").read()
                    .split("\\begin{document}")[1].split("\\end{document}")[0]
                    .replace("^{(", "^{").replace(")}", "}"), "\\usepackage{algpseudocode}"))
    inf = math.inf
    assert f([[0, 4, inf], [inf, 0, 1], [1, inf, 0]]) == [[0, 4, 5], [2, 0, 1], [1, 5, 0]]


@pytest.mark.parametrize("line, args, want", [
    (r"\State \Return $s.length()$", ("abc",), 3),
    (r"\State \Return $s.charAt(i)$", ("abc", 1), "b"),
    (r"\State \Return $s.substring(i, j)$", ("abcdef", 1, 3), "bc"),
    (r"\State $S.push(x)$ \State \Return $S$", ([1], 2), [1, 2]),
    (r"\State \Return $S.isEmpty()$", ([],), True),
    (r"\State \Return $S.contains(x)$", ([1, 2], 2), True),
])
def test_members_from_other_languages(line, args, want):
    names = ["s", "i", "j"] if line.count("s.") else ["S", "x"]
    require = "\\Require $" + ", ".join(names[: len(args)]) + "$"
    f, _ = _fn(_algo(require + "\n" + line))
    assert f(*args) == want


def test_counted_loop_bounded_in_words():
    f, _ = _fn(_algo(r"""
        \Require an integer $m \ge 2$
        \State $c \gets 0$
        \For{$a = 3, 5, 7, \ldots$, not exceeding $\sqrt{m}$}
          \For{$b = a^2, a^2 + 2a, \ldots$ up to $m$}
            \State $c \gets c + 1$
          \EndFor
        \EndFor
        \State \Return $c$"""))
    # a = 3, 5 (sqrt 30 = 5.4); b over 9, 15, 21, 27 and 25: five
    assert f(30) == 5 and f(8) == 0


def test_swap_written_as_a_call_in_words():
    f, _ = _fn(_algo(r"""
        \Require an array $X$ of $n$ numbers
        \For{$i \gets 1$ \textbf{to} $n - 1$}
          \If{$X[i] > X[i+1]$} \State Swap($X[i]$, $X[i+1]$) \EndIf
        \EndFor
        \State \Return $X$"""))
    assert f([3, 1, 2]) == [1, 2, 3]


def test_a_written_out_set_used_as_a_queue_is_a_list():
    f, _ = _fn(_algo(r"""
        \Require adjacency lists $N$, start $r$
        \State $seen \gets \{r\}$; $F \gets \{r\}$; $order \gets$ an empty list
        \While{$F \neq \emptyset$}
          \State $x \gets$ \textsc{Dequeue}($F$)
          \State append $x$ to $order$
          \ForAll{$y \in N[x]$}
            \If{$y \notin seen$} \State add $y$ to $seen$; \textsc{Enqueue}($F$, $y$) \EndIf
          \EndFor
        \EndWhile
        \State \Return $order$"""))
    assert f([[1, 2], [3], [3], []], 0) == [0, 1, 2, 3]


def test_a_bracketed_sequence_and_its_numbering_range():
    f, _ = _fn(_algo(r"""
        \Require weights $[w_j]$, $j = 1, 2, \ldots, m$
        \State $t \gets 0$
        \For{$j = 1$ \textbf{to} $m$}
          \If{\textsc{IsOdd}($w_j$)} \State $t \gets t + w_j$ \EndIf
        \EndFor
        \State \Return $t$"""))
    assert f([1, 2, 3, 5]) == 9


def test_where_clauses_define_before_the_statement():
    f, _ = _fn(_algo(r"""
        \Require $x = (x_1, \dots, x_n)$
        \For{$t = 1$ \textbf{to} $n$}
          \State $S_t = S_{t-1} + x_t$, where $S_0 = 0$
        \EndFor
        \State \Return $S_n$"""))
    assert f([1, 2, 3]) == 6
    g, _ = _fn(_algo(r"""
        \Require scores $s_1, \ldots, s_K$
        \For{$k = 1$ to $K$}
          \State $u_k \gets 2 s_k$
        \EndFor
        \State $T \gets \sum_{k=1}^{K} u_k$
        \State \Return $q$ where $q_k = u_k / T$"""))
    assert g([1, 3]) == [0.25, 0.75]


def test_an_input_given_a_value_is_a_default():
    f, _ = _fn(_algo(r"""
        \Require step size $\eta$, starting point $w$, smoothing $\delta = 10^{-3}$
        \State \Return $w - \eta / (1 + \delta)$"""))
    assert abs(f(1.0, 2.0) - (2.0 - 1.0 / 1.001)) < 1e-12
    assert f(1.0, 2.0, 0.0) == 1.0


def test_sort_as_a_value_and_an_order_after_it():
    f, _ = _fn(_algo(r"""
        \Require marks $m \in \mathbb{R}^n$
        \State $r \gets \mathrm{sort}(m)$ in non-increasing order
        \State $q \gets \mathrm{sort}(m)$
        \State \Return $(r_1, q_1)$"""))
    assert f([2.0, 7.0, 1.0]) == (7.0, 1.0)


def test_call_arguments_inside_maths_are_maths():
    f, _ = _fn(r"""\begin{algorithm}\caption{Sum down}\begin{algorithmic}[1]
\Function{SumDown}{$k$}
  \If{$k = 0$} \State \Return{0} \EndIf
  \State \Return{$k + \Call{SumDown}{k-1}$}
\EndFunction
\end{algorithmic}\end{algorithm}""")
    assert f(4) == 10


def test_a_size_in_parentheses_after_an_input():
    f, _ = _fn(_algo(r"""
        \Require sequences $a$ (length $p$) and $b$ (length $q$)
        \State $c \gets 0$
        \For{$j = 1..q$}
          \If{$b[j] = a[p]$} \State $c \gets c + 1$ \EndIf
        \EndFor
        \State \Return $c$"""))
    assert f([5, 2], [2, 1, 2]) == 2


def test_a_count_that_opens_the_inputs_is_the_length_of_what_its_items_have():
    f, _ = _fn(_algo(r"""
        \Require $m$ jobs with durations $d_j$ and deadlines $e_j$
        \State $late \gets 0$; $t \gets 0$
        \For{$j = 1$ \textbf{to} $m$}
          \State $t \gets t + d_j$
          \If{$t > e_j$} \State $late \gets late + 1$ \EndIf
        \EndFor
        \State \Return $late$"""))
    assert f([2, 2, 2], [3, 3, 9]) == 1


def test_declared_outputs_written_with_subscripts_are_returned():
    f, _ = _fn(_algo(r"""
        \Require a list $L$
        \Ensure the smallest $s_1$ and the largest $s_2$
        \State $s_1 \gets L[1]$; $s_2 \gets L[1]$
        \ForAll{$x \in L$}
          \State $s_1 \gets \min(s_1, x)$; $s_2 \gets \max(s_2, x)$
        \EndFor"""))
    assert f([4, 1, 7]) == (1, 7)
    g, _ = _fn(_algo(r"""
        \Require a list $L$
        \Ensure the total $t_0$
        \State $t_0 \gets 0$
        \ForAll{$x \in L$} \State $t_0 \gets t_0 + x$ \EndFor"""))
    assert g([4, 1, 7]) == 12


def test_numbered_step_names_before_any_statement():
    f, _ = _fn(_algo(r"""
        \Require a list $W$ of $m$ numbers
        \State \textbf{Step 1:} $z \gets 1$
        \For{$i = 1$ \textbf{to} $m$}
          \State \textbf{Phase 2:} Set $z \gets z \cdot W[i]$.
        \EndFor
        \State \textbf{Step 3:} Output $z$."""))
    assert f([2, 5]) == 10


def test_c_style_headers_in_parentheses_and_typed_declarations():
    f, _ = _fn(_algo(r"""
        \Require words $u$ and $v$
        \State int[$|u|+1$][$|v|+1$] $T$
        \For{($i=0$; $\;i \leq |u|$; $\;i$++)}
          \For{($j=0$; $\;j \leq |v|$; $\;j$++)}
            \State $T[i][j] \gets i + j$
          \EndFor
        \EndFor
        \State \Return $T[|u|][|v|]$"""))
    assert f(["a", "b"], ["c"]) == 3


def test_xparse_environment_wrapping_algorithm2e():
    f, _ = _fn(r"""\usepackage[algo2e]{algorithm2e}
\NewDocumentEnvironment{Proc}{s}{\begin{algorithm2e}[H]}{\end{algorithm2e}}
\NewDocumentCommand{\half}{m}{\lfloor #1 / 2 \rfloor}
\begin{document}
\begin{Proc}
\SetKwProg{Fn}{function}{:}{}
\Fn{$\text{Halves}(k)$}{
  $c \gets 0$\;
  \While{$k > 0$}{$k \gets \half{k}$\; $c \gets c + 1$\;}
  \Return{$c$}\;
}
\end{Proc}
\end{document}""")
    assert f(8) == 4


def test_a_rounded_logarithm_without_base_counts_bits():
    f, _ = _fn(_algo(r"""
        \Require $n \ge 1$
        \State \Return $\lfloor \log n \rfloor + \lceil \log n \rceil$"""))
    assert f(8) == 6 and f(5) == 5


def test_is_followed_by_a_number_in_the_text():
    f, _ = _fn(_algo(r"""
        \Require $n$
        \If{$n$ is 1} \State \Return $0$ \EndIf
        \State \Return $n$"""))
    assert f(1) == 0 and f(4) == 4


def test_loops_in_the_words_of_other_languages_and_text_accents():
    for header in (r"$k$ allant de 2 \`a $m$", r"$k$ desde 2 hasta $m$", r"$k$ von 2 bis $m$"):
        f, _ = _fn(_algo(r"""
            \Require $m$
            \State $t \gets 0$
            \For{""" + header + r"""}
              \State $t \gets t + k$
            \EndFor
            \State \Return $t$"""))
        assert f(4) == 9, header


def test_each_named_element_of_a_braced_sequence_and_the_family_returned():
    f, _ = _fn(_algo(r"""
        \Require scores $\{s_1, \ldots, s_N\}$, offset $c$
        \For{each score $s_j$}
          \State $B_j \gets s_j - c$
        \EndFor
        \State \Return $\{B_j\}$"""))
    assert f([3, 5], 1) == [2, 4]


def test_n_named_nowhere_is_the_length_of_the_one_array_input():
    f, _ = _fn(r"""\begin{algorithm}\caption{Last}\begin{algorithmic}[1]
\Function{Last}{$x, T$}
  \State $k \gets n - 1$
  \While{$k \ge 0$ \textbf{and} $T[k] \neq x$} \State $k \gets k - 1$ \EndWhile
  \State \Return $k$
\EndFunction
\end{algorithmic}\end{algorithm}""")
    assert f(4, [4, 2, 4, 1]) == 2 and f(9, [1]) == -1


def test_hyphenated_names_in_maths_and_a_returned_group_in_words():
    f, _ = _fn(_algo(r"""
        \Require $lo$, $hi$
        \State $best\text{-}so\text{-}far \gets hi - lo$, \quad $half\text{-}way \gets (lo + hi) / 2$
        \State \Return (best-so-far, half-way)"""))
    assert f(2, 6) == (4, 4)


def test_a_dotted_range_down_to_the_first_position():
    f, _ = _fn(_algo(r"""
        \Require a list $A$
        \State $R \gets$ an empty list
        \For{$j \gets A.length .. 1$} \State append $A[j]$ to $R$ \EndFor
        \State \Return $R$"""))
    assert f([1, 2, 3]) == [3, 2, 1]


def test_an_output_placed_entry_by_entry_is_a_list_as_long_as_the_input():
    f, _ = _fn(r"""\begin{algorithm}
\KwData{a list $X$ of distinct numbers $1, \ldots, m$ and its length $m$}
\KwResult{the list $Y$ with $Y[X[i]] = i$}
\For{$i \gets 1 .. m$}{
  $Y[X[i]] \gets i$\;
}
\caption{Inverse permutation}
\end{algorithm}""")
    assert f([2, 3, 1]) == [3, 1, 2]


def test_braket_set_of_zero_in_a_space_of_matrices():
    f, _ = _fn(r"""\usepackage{braket}
\begin{document}
\begin{algorithm}\caption{Lower}\begin{algorithmic}
\Function{Lower}{$A \in \mathbb{R}^{n \times n}$}
  \State $L = \Set{0} \in \mathbb{R}^{n \times n}$
  \For{($i=1$; $\;i \leq n$; $\;i$++)}
    \For{($j=1$; $\;j \leq i$; $\;j$++)} \State $L_{i,j} = A_{i,j}$ \EndFor
  \EndFor
  \State \Return $L$
\EndFunction
\end{algorithmic}\end{algorithm}
\end{document}""")
    assert f([[1, 2], [3, 4]]) == [[1, 0], [3, 4]]


def test_maps_from_empty_braces_unused_parts_and_graph_members():
    f, _ = _fn(_algo(r"""
        \Require graph $G$ as lists of (vertex, weight) pairs, start $a$
        \State $best \gets \{\}$; $seen \gets [\ ]$
        \State $best[a] \gets 0$
        \For{each $(v,\ \_) \in G.\Call{Neighbors}{a}$}
          \State $best[v] \gets best.\text{get}(v,\ 0) + 1$; \Call{Append}{$seen, v$}
        \EndFor
        \State \Return $(best[a], \Call{Reverse}{seen})$"""))
    assert f([[(1, 5), (2, 7)], [], []], 0) == (0, [2, 1])


def test_brace_labels_spacing_and_a_papers_own_mod():
    f, _ = _fn(r"""\def\inmod#1{\allowbreak\mkern10mu({\operator@font mod}\,\,#1)}
\begin{algorithm}\caption{Steps}\begin{algorithmic}[ht!]
\Function{Steps}{$d$}
  \State $t \gets 0$
  \While{$\overbrace{t < d}^\text{first}$ or $\underbrace{t \not\equiv d \inmod{3}}_{\text{second}}$}
    \State $t \gets t + 1$
  \EndWhile
  \State \Return $t$
\EndFunction
\end{algorithmic}\end{algorithm}""")
    assert f(4) == 4 and f(-2) == 1


def test_min_and_max_subscripts_name_two_variables_and_letters_join_a_string():
    f, _ = _fn(_algo(r"""
        \Require $a$, $b$
        \State $s_{\min} \gets \min(a, b)$; $s_{\max} \gets \max(a, b)$
        \State $w \gets \varepsilon$
        \For{$i$ in $s_{\max}, \dots, 1$}
          \If{$i > s_{\min}$} \State $w \gets w + H$ \Else \State $w \gets w + L$ \EndIf
        \EndFor
        \State \Return $w$"""))
    assert f(2, 4) == "HHLL"


def test_pascal_loop_header_primed_table_and_a_graph_pair_in_the_header():
    f, _ = _fn(r"""\begin{algorithm}\caption{Deg}\begin{algorithmic}[1]
\Procedure{Degrees}{$G=\left (V,E\right )$, $c$}
  \State $t \gets 0$
  \For{$i:1$ to $|V|$}
    \State $D'(i) := c \cdot i$
    \State $t \gets t + D'(i)$
  \EndFor
  \State \Return $t + |E|$
\EndProcedure
\end{algorithmic}\end{algorithm}""")
    assert f(([0, 1, 2], [(0, 1)]), 2) == 13


def test_comment_commands_defined_elsewhere_and_c_negation():
    f, _ = _fn(r"""\begin{algorithm}\caption{Evens}\begin{algorithmic}[1]
\Function{Evens}{$L$}
  \LeftComment{keep the even entries}
  \State $R \gets [\,]$
  \ForAll{$x \in L$}
    \If{$!$\Call{IsOdd}{$x$}} \State \Call{push}{$R, x$} \EndIf
  \EndFor
  \State \Return $R$
  \LineComment{R keeps the order of L}
\EndFunction
\end{algorithmic}\end{algorithm}""")
    assert f([1, 2, 4, 5]) == [2, 4]


def test_each_edge_leaving_a_vertex():
    f, _ = _fn(r"""\begin{algorithm}\caption{Out}\begin{algorithmic}
\Procedure{OutSum}{$G = (V, E), s$}
  \State $t \gets 0$
  \For{each edge $(s, u)$} \State $t \gets t + u$ \EndFor
  \State \Return $t$
\EndProcedure
\end{algorithmic}\end{algorithm}""")
    assert f(([0, 1, 2, 3], [(0, 1), (1, 2), (0, 3)]), 0) == 4


def test_a2e_remark_lines_labels_before_postfix_loops_and_ascii_norms():
    f, _ = _fn(r"""\begin{algorithm}[H]
\KwIn{Set of keys $K$, list of pairs $P$}
Initialization: $S(k) \leftarrow 0$ for all $k \in K$\;
\For{{\bf each}$(k, w) \in P$}{
    // add the weight
    Update the sum: $S(k) \leftarrow S(k) + w$\;
}
\KwRet{$S$}
\caption{Sums}
\end{algorithm}""")
    assert f(["a", "b"], [("a", -2), ("a", 3)]) == {"a": 1, "b": 0}
    g, _ = _fn(_algo(r"""
        \Require an array $x$ of numbers
        \State $g \gets 0$
        \For{$i \gets 2$ \textbf{to} $|x|$}
          \If{$||x_i - x_{i-1}|| > g$} \State $g \gets ||x_i - x_{i-1}||$ \EndIf
        \EndFor
        \State \Return $g$"""))
    assert g([1, 4, 2]) == 3


def test_ascii_double_bars_between_conditions_are_or():
    f, _ = _fn(_algo(r"""
        \Require $a$, $b$
        \If{$a > 0 || b > 0$} \State \Return $1$ \EndIf
        \State \Return $0$"""))
    assert f(0, 2) == 1 and f(0, 0) == 0


def test_let_and_connectives_in_the_words_of_other_languages():
    f, _ = _fn(r"""\begin{algorithm}\caption{somme($n$) → intero}\begin{algorithmic}
\State soit $T$ un tableau de $n$ entiers
\For{$i \gets 1$ \To $n$} \State $T[i] \gets i \cdot i$ \EndFor
\If{$n > 0$ e $T[n] > 3$} \State \Return $T[n]$ \EndIf
\State \Return $0$
\end{algorithmic}\end{algorithm}""")
    assert f(3) == 9 and f(1) == 0


def test_a2e_body_in_a_bare_group_and_two_results_joined_by_and():
    f, _ = _fn(r"""\begin{algorithm}[H]
\DontPrintSemicolon
{
$hi \gets -\infty$; $lo \gets \infty$\;
\For{$a \in D$}{
  \lIf{$a > hi$}{$hi \gets a$}
  \lIf{$a < lo$}{$lo \gets a$}
}
\KwRet{$lo$ and $hi$}
}
\caption{\hspace{1cm}\texttt{span}$(D)$}
\end{algorithm}""")
    assert f([3, 9, 1]) == (1, 9)
    g, _ = _fn(_algo(r"""
        \Require $t$, $u$
        \State \Return $t < 5$ \textbf{and} $u > 1$"""))
    assert g(2, 3) is True and g(7, 3) is False


def test_algorithm2e_keywords_of_other_languages():
    f, _ = _fn(r"""\usepackage[french]{algorithm2e}
\begin{document}
\begin{algorithm}[H]
\caption{Compte}
\Entree{$x$ un tableau de longueur $n$, un seuil $s$}
\Sortie{le nombre de valeurs au-dessus de $s$}
\Deb{
  $c \longleftarrow 0$\; $i \longleftarrow 1$\;
  \Tq{$i \leq n$}{
    \lSi{$x_i > s$ et $x_i \neq 0$}{$c \leftarrow c + 1$}
    $i \leftarrow i + 1$\;
  }
  \Retour{$c$}\;
}
\end{algorithm}
\end{document}""")
    assert f([3, 0, 7, 1], 2) == 2
    g, _ = _fn(r"""\usepackage[portuguese]{algorithm2e}
\begin{document}
\begin{algorithm}
\Entrada{um vetor $v$ de tamanho $m$}
$t \leftarrow 0$\;
\Para{$k \leftarrow 1$ \Ate $m$}{
  \eSe{$v_k > 0$}{$t \leftarrow t + v_k$\;}{$t \leftarrow t - 1$\;}
}
\Retorna{$t$}
\caption{Soma}
\end{algorithm}
\end{document}""")
    assert g([2, -5, 3]) == 4


def test_labels_in_other_scripts_and_one_assignment_among_words():
    f, _ = _fn(r"""\begin{algorithm}\caption{Największy}\begin{algorithmic}[1]
\State \textbf{Wejście:} tablica $A$
\State \textbf{输出：}最大值 $m$
\State 初始化 $m \gets A[1]$
\For{$i \gets 2$ \textbf{to} $|A|$}
  \If{$A[i] > m$} \State we keep $m \gets A[i]$ \EndIf
\EndFor
\end{algorithmic}\end{algorithm}""")
    assert f([3, 8, 2]) == 8


def test_words_that_change_an_assignment_keep_the_line_a_todo():
    for line in (r"we store $s \gets s + 1$ for each element", r"do not set $s \gets 0$",
                 r"$s \gets s + 1$ twice"):
        result = transpile(_algo(r"""
            \Require $s$
            \State """ + line + r"""
            \State \Return $s$"""), "t.tex")
        assert result.todo_count == 1, line


def test_loosely_spelled_commands_graph_vertices_and_text_declarations():
    f, _ = _fn(r"""\begin{algorithm}\caption{Levels$(G,s)$}\begin{algorithmic}
\ForAll{$v \in V(G)$}
  \State $v$.d = $\infty$
\EndFor
\State $s$.d = 0
\State Q = $\emptyset$
\State ENQUEUE(Q,s)
\While{$Q \ne \emptyset$}
  \State $u$ = DEQUEUE(Q)
  \ForAll{$v \in \text{adj}(u)$}
    \If{$v$.d == $\infty$}
      \State $v$.d = $u$.d + 1
      \State ENQUEUE(Q,$v$)
    \Endif
  \EndFor
\EndWhile
\State \Return d
\end{algorithmic}\end{algorithm}""")
    assert [f([[1], [2], []], 0)[v] for v in range(3)] == [0, 1, 2]
    g, _ = _fn(_algo(r"""
        \Require pairs $P$, weight $q$, count $N$
        \State float Scores[N] = 0
        \ForAll{$(d, w)$ in $P$} \State Scores[d] += $w \times q$ \EndFor
        \State \Return Scores"""))
    assert g([(0, 1), (2, 3), (0, 2)], 2, 3) == [6, 0, 6]


def test_a_swap_verb_of_another_language():
    f, _ = _fn(_algo(r"""
        \Require $A[1..n]$
        \For{$i \gets 1$ \TO $n - 1$}
          \If{$A[i] > A[i + 1]$} \State trocar $A[i]$ e $A[i + 1]$ \EndIf
        \EndFor
        \State \Return $A$"""))
    assert f([3, 1, 2]) == [1, 2, 3]


def test_more_typesetting_read_through():
    f, _ = _fn(_algo(r"""
        \Require $a$, $b$
        \State $x \mathrel{:}= \left. \smash{a} + \boxed{b} \right.$
        \State \Return $x$"""))
    assert f(2, 3) == 5


def test_side_comments_in_parentheses_and_parity_in_other_languages():
    f, _ = _fn(r"""\begin{algorithm}
\KwIn{base $b$ e expoente $e \ge 0$}
\SetKwFunction{FPot}{Pot}
\SetKwProg{Fn}{Function}{:}{end}
\Fn{\FPot{$b, e$}}{
  \lIf{$e = 0$}{\Return $1$}
  $h \leftarrow$ \FPot{$b, \lfloor e/2 \rfloor$}\;
  \uIf(\tcp*[h]{expoente par}){$e$ é par}{\Return $h \cdot h$\;}
  \Else{\Return $b \cdot h \cdot h$\;}
}
\caption{Potência}
\end{algorithm}""")
    assert f(3, 5) == 243 and f(2, 0) == 1


def test_for_all_vertices_by_letter_and_remove_any_element():
    f, _ = _fn(_algo(r"""
        \Require adjacency lists $G$ of a graph with vertices $0, \ldots, n-1$
        \State $d[v] \gets 0$ for all $v$
        \For{each vertex $u$}
          \For{each $w \in G[u]$} \State $d[w] \gets d[w] + 1$ \EndFor
        \EndFor
        \State $P \gets$ the list of all vertices $v$ with $d[v] = 0$
        \State $c \gets 0$
        \While{$P$ is not empty}
          \State remove a vertex $x$ from $P$
          \State $c \gets c + x$
        \EndWhile
        \State \Return $c$"""))
    assert f([[1], [2], [], []], 4) == 3  # sources 0 and 3


def test_lower_case_entries_of_an_upper_case_sequence():
    f, _ = _fn(_algo(r"""
        \Procedure{Matches}{$X, Y$}
        \State $c \gets 0$
        \For{$i \gets 1$ \textbf{to} $X.length$}
          \If{$x_i == y_i$} \State $c \gets c + 1$ \EndIf
        \EndFor
        \State \Return $c$
        \EndProcedure"""))
    assert f("abcd", "abzd") == 3


def test_an_input_read_at_zero_and_a_table_with_a_lower_bound_per_dimension():
    f, _ = _fn(r"""\begin{algorithm}\caption{Chain}\begin{algorithmic}[1]
\Procedure{Chain}{$d$}
\State $n = d.length - 1$
\State let $c[1..n, 1..n]$ and $t[1..n-1, 2..n]$ be new tables
\For{$i = 1$ \textbf{to} $n$} \State $c[i, i] = 0$ \EndFor
\For{$l = 2$ \textbf{to} $n$}
  \For{$i = 1$ \textbf{to} $n - l + 1$}
    \State $j = i + l - 1$
    \State $c[i, j] = \infty$
    \For{$k = i$ \textbf{to} $j - 1$}
      \State $q = c[i, k] + c[k + 1, j] + d_{i-1} d_k d_j$
      \If{$q < c[i, j]$} \State $c[i, j] = q$; $t[i, j] = k$ \EndIf
    \EndFor
  \EndFor
\EndFor
\State \Return $(c[1, n], t[1, n])$
\EndProcedure
\end{algorithmic}\end{algorithm}""")
    assert f([10, 20, 5, 30]) == (2500, 2)  # (10x20)(20x5) first, then (10x5)(5x30)


def test_a_field_of_an_array_shared_by_procedures():
    f, _ = _fn(r"""\begin{algorithm}\caption{Stack}\begin{algorithmic}[1]
\Procedure{Push}{$S, x$}
  \State $S.top = S.top + 1$
  \State $S[S.top] = x$
\EndProcedure
\Procedure{Load}{$S, L$}
  \State $S.top = 0$
  \For{$j = 1$ \textbf{to} $L.length$} \State \Call{Push}{$S, L[j]$} \EndFor
  \State \Return $S[S.top]$
\EndProcedure
\end{algorithmic}\end{algorithm}""", "load")
    assert f([0, 0, 0], [5, 6, 7]) == 7


def test_an_allocation_written_before_its_size_is_known():
    f, _ = _fn(_algo(r"""
        \Procedure{Spread}{$A$}
        \State let $B[0..n-1]$ be a new array
        \State $n = A.length$
        \For{$i = 1$ \textbf{to} $n$} \State $B[n - i] = A[i]$ \EndFor
        \State \Return $B$
        \EndProcedure"""))
    assert f([1, 2, 3]) == [3, 2, 1]


def test_printing_a_text_next_to_a_value(capsys):
    f, _ = _fn(_algo(r"""
        \Require $T$, $P$
        \For{$s = 0$ \textbf{to} $T.length - P.length$}
          \If{$P[1..P.length] == T[s + 1..s + P.length]$} \State print ``match at'' $s$ \EndIf
        \EndFor"""))
    f("abab", "ab")
    assert capsys.readouterr().out == "match at 0\nmatch at 2\n"


def test_bits_named_under_the_letter_of_their_number():
    f, _ = _fn(_algo(r"""
        \Procedure{Pow}{$x, e, m$}
        \State $r = 1$
        \State let $\langle e_k, e_{k-1}, \ldots, e_0 \rangle$ be the binary representation of $e$
        \For{$i = k$ \textbf{downto} $0$}
          \State $r = (r \cdot r) \bmod m$
          \If{$e_i == 1$} \State $r = (r \cdot x) \bmod m$ \EndIf
        \EndFor
        \State \Return $r$
        \EndProcedure"""))
    assert f(5, 117, 19) == pow(5, 117, 19) and f(2, 1, 9) == 2


def test_a_bare_character_after_is():
    f, _ = _fn(_algo(r"""
        \Require pattern $p$
        \State $c \gets 0$
        \For{$j \gets 1$ \textbf{to} $|p|$}
          \If{$p[j]$ \textbf{is} $*$ \textbf{or} $p[j]$ \textbf{is} $?$} \State $c \gets c + 1$ \EndIf
        \EndFor
        \State \Return $c$"""))
    assert f("a*b?c*") == 3


def test_a_c_style_loop_counting_down_with_a_break_point():
    # `$i$-\--`: `\-` only marks where a word may break; the header is `i--`
    f, _ = _fn(_algo(r"""
        \Procedure{Suffix}{$v, n$}
        \State $t = 0$
        \For{($j=n$; $\;j \geq 1$; $\;j$-\--)} \State $t = t \cdot 10 + v_j$ \EndFor
        \State \Return $t$
        \EndProcedure"""))
    assert f([1, 2, 3], 3) == 321


def test_font_switches_inside_conditions():
    from transpile_blocks import a2e
    f, _ = _fn(a2e(r"""
        \KwIn{$m$}
        $c \leftarrow 0$\;
        \While{\upshape $m > 1$}{
          \eIf{\itshape $m \textsf{ mod } 2 = 0$}{$m \leftarrow m \textsf{ div } 2$\;}{$m \leftarrow 3 m + 1$\;}
          $c \leftarrow c + 1$\;
        }
        \Return{$c$}"""))
    assert f(6) == 8 and f(1) == 0


def test_a_bare_call_line_with_a_difference_in_text(capsys):
    # `Show(n-1)` set in text: `n-1` is n minus 1, not a hyphenated word that makes the group a remark
    from transpile_blocks import a2e
    f, _ = _fn(a2e(r"""
        \KwIn{$n$}
        \If{$n > 0$}{
          print $n$\;
          Show(n-1)\;
        }""", caption="Show"))
    f(3)
    assert capsys.readouterr().out == "3\n2\n1\n"


def test_an_algorithm_continued_in_a_second_float():
    # algorithmicx's \algstore / \algrestore: one loop opened in the first float, closed in the second
    f, _ = _fn(_doc(r"""
\begin{algorithm}\caption{Squares}
\begin{algorithmic}[1]
\Function{Squares}{$n$}
  \State $t \gets 0$
  \For{$k \gets 1$ \To $n$}
    \State $t \gets t + k$
    \algstore{sq}
\end{algorithmic}
\end{algorithm}
Some text between the two parts.
\begin{algorithm}\caption{Squares (continued)}
\begin{algorithmic}
\algrestore{sq}
    \State $t \gets t + k \cdot (k - 1)$
  \EndFor
  \State \Return $t$
\EndFunction
\end{algorithmic}
\end{algorithm}"""))
    assert f(3) == 14


@pytest.mark.parametrize("fill", [r"\hfill \forall a \hfill \forall b", r"\quad \forall a, b"])
def test_a_table_filled_for_all_its_indices(fill):
    # `L[a][b] \gets 0 \forall a \forall b` with no ranges: every entry not yet written reads 0
    f, _ = _fn(_algo(r"""
        \Function{Common}{$x, y$}
        \State $L[a][b] \gets 0 %s$
        \For{$a = 1$ \To $|x|$}
          \For{$b = 1$ \To $|y|$}
            \If{$x[a] = y[b]$} \State $L[a][b] \gets L[a-1][b-1] + 1$
            \Else \State $L[a][b] \gets \max(L[a-1][b], L[a][b-1])$ \EndIf
          \EndFor
        \EndFor
        \State \Return $L[|x|][|y|]$
        \EndFunction""" % fill))
    assert f("ABCBDAB", "BDCABA") == 4 and f("ab", "") == 0


def test_a_bar_set_apart_by_spaces_is_a_bitwise_or():
    # `M \enspace | \enspace (1 \ll k)`: an or of bit masks; `|v|` hugging its operand stays a size
    f, _ = _fn(_algo(r"""
        \Function{Mask}{$v$}
        \State $M \gets 0$
        \For{$k \gets 0$ \To $|v| - 1$}
          \If{$v[k] > 0$} \State $M \gets M \enspace | \enspace (1 \ll k)$ \EndIf
        \EndFor
        \State \Return $M \; | \; 0$
        \EndFunction"""))
    assert f([3, 0, 5, 1]) == 0b1101 and f([]) == 0


def test_words_as_indices_with_spelled_out_brackets_and_c_and():
    # `A \lbrack \text{low} \rbrack`, `\&\&` in maths: a search whose variables are words set in text
    f, _ = _fn(_algo(r"""
        \Function{Find}{$A, x$}
        \State $\text{low} \gets 1$
        \State $\text{high} \gets |A|$
        \While{$\text{low} \leq \text{high} \ \&\& \ A \lbrack \text{low} \rbrack \leq x$}
          \State probe $\gets \left\lfloor (\text{low} + \text{high}) / 2 \right\rfloor$
          \If{$A[\text{probe}] = x$} \State \Return $\text{probe}$
          \ElsIf{$A \lbrack \text{probe} \rbrack < x$} \State $\text{low} \gets \text{probe} + 1$
          \Else \State $\text{high} \gets \text{probe} - 1$ \EndIf
        \EndWhile
        \State \Return $-1$
        \EndFunction"""))
    assert f([2, 4, 7, 9, 12], 9) == 4 and f([2, 4, 7], 5) == -1 and f([5, 6], 1) == -1


def test_a_fill_over_given_ranges_is_marked_not_multiplied():
    # `W[r][c] \gets 1 \ \forall r \in [1, n]`: never read as 1 times a test with `all`
    result = transpile(_algo(r"""
        \Function{Ones}{$n$}
        \State $W[r][c] \gets 1 \ \forall r \in [1, n], c \in [1, n]$
        \State \Return $W$
        \EndFunction"""), "t.tex")
    assert result.todo_count == 1 and "all(" not in result.python
