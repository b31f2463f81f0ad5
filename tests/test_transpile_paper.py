"""qtk transpile-paper: a corpus of textbook algorithms written in algorithmic, algpseudocode and
algorithm2e (tests/data/transpile/<algorithm>__<package>.tex) is transpiled, imported and run on
test inputs against hand-written expected behaviour; plus math/statement translation, index
base, bad-input errors, the CLI, and a latexify round trip when latexify-py is installed."""

from __future__ import annotations

import ast
import itertools
import json
import math
import random
import textwrap
import warnings
from collections import deque
from pathlib import Path

import pytest

from qtk.errors import UsageError
from qtk.tools.transpile_paper import transpile
from transpile_blocks import doc as _doc

CORPUS = Path(__file__).parent / "data" / "transpile"
PACKAGES = ("algorithmic", "algpseudocode", "algorithm2e")


# ---- expected behaviour -------------------------------------------------------------------

def _lists(seed: int, lengths=(0, 1, 2, 3, 5, 8, 13), lo=-20, hi=20, reps=3):
    rng = random.Random(seed)
    for n in lengths:
        for _ in range(reps):
            yield [rng.randint(lo, hi) for _ in range(n)]


def sorts(call=lambda f, a: f(a)):
    """The call sorts its list argument in place, or returns the sorted list."""
    def check(f):
        for a in _lists(1):
            work = list(a)
            out = call(f, work)
            assert list(out if out is not None else work) == sorted(a), a
    return check


def searches(base: int, missing, call=lambda f, a, x: f(a, x)):
    """Position of the first x (numbered from `base`), `missing` when absent."""
    def check(f):
        rng = random.Random(2)
        for n in (0, 1, 2, 5, 9, 16):
            a = sorted(rng.sample(range(-50, 50), n))
            for x in a:
                assert call(f, a, x) == a.index(x) + base, (a, x)
            for x in (-60, 60, 0.5):
                assert call(f, a, x) == missing, (a, x)
    return check


def returns(reference, inputs):
    def check(f):
        for args in inputs:
            assert f(*args) == reference(*args), args
    return check


def _kadane_ref(a):
    return max(sum(a[i:j]) for i in range(len(a)) for j in range(i + 1, len(a) + 1))


def _fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def _collatz(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def _primes(n):
    return [p for p in range(2, n + 1) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


def _graphs(seed=3):
    rng = random.Random(seed)
    for n in (1, 2, 4, 7):
        adj = [sorted(rng.sample(range(n), rng.randint(0, n - 1))) for _ in range(n)]
        yield adj, rng.randrange(n)


def _bfs_ref(adj, s):
    d = [math.inf] * len(adj)
    d[s] = 0
    q = deque([s])
    while q:
        u = q.popleft()
        for v in adj[u]:
            if d[v] == math.inf:
                d[v] = d[u] + 1
                q.append(v)
    return d


def bfs(vertex_base: int):
    def check(f):
        for adj, s in _graphs():
            shifted = [[v + vertex_base for v in vs] for vs in adj]
            assert list(f(shifted, s + vertex_base)) == _bfs_ref(adj, s), (adj, s)
    return check


def counting(call):
    def check(f):
        rng = random.Random(4)
        for n in (0, 1, 4, 9):
            for k in (0, 3, 6):
                a = [rng.randint(0, k) for _ in range(n)]
                assert call(f, a, k) == sorted(a), (a, k)
    return check


def _counting_clrs(f, a, k):
    b = [None] * len(a)
    f(a, b, k)
    return b


def argmax(base: int):
    def check(f):
        for a in _lists(5, lengths=(1, 2, 5, 9), lo=-4, hi=4):
            assert f(list(a)) == a.index(max(a)) + base, a
    return check


def palindromes(f):
    rng = random.Random(6)
    for n in range(8):
        for _ in range(6):
            s = "".join(rng.choice("ab") for _ in range(n))
            assert f(s) == (s == s[::-1]), s


def horner(f):
    rng = random.Random(7)
    for n in range(1, 6):
        c = [rng.randint(-5, 5) for _ in range(n)]
        for x in (-2, 0, 1, 3):
            assert f(list(c), x) == sum(ci * x ** i for i, ci in enumerate(c)), (c, x)


_SMALL_PAIRS = [(a, b) for a in (0, 1, 6, 35, 64) for b in (0, 1, 4, 21, 49)]
_POW = [(a, n) for a in (-3, 0, 1, 2, 5) for n in range(0, 11)]

# stem -> (entry function or None for the only one, checker)
CASES = {
    "insertion_sort__algpseudocode": (None, sorts()),
    "insertion_sort__algorithmic": (None, sorts()),
    "insertion_sort__algorithm2e": (None, sorts()),
    "binary_search__algpseudocode": (None, searches(1, None)),
    "binary_search__algorithmic": (None, searches(0, -1)),
    "binary_search__algorithm2e": (None, searches(0, -1, lambda f, a, x: f(a, x, 0, len(a) - 1))),
    "gcd__algpseudocode": (None, returns(math.gcd, _SMALL_PAIRS)),
    "gcd__algorithmic": (None, returns(math.gcd, _SMALL_PAIRS)),
    "gcd__algorithm2e": (None, returns(math.gcd, _SMALL_PAIRS)),
    "bubble_sort__algpseudocode": (None, sorts()),
    "bubble_sort__algorithmic": (None, sorts()),
    "bubble_sort__algorithm2e": (None, sorts()),
    "merge_sort__algpseudocode": ("merge_sort", sorts(lambda f, a: f(a, 1, len(a)))),
    "merge_sort__algorithmic": ("merge_sort", sorts(lambda f, a: f(a, 0, len(a) - 1))),
    "merge_sort__algorithm2e": ("merge_sort", sorts()),
    "selection_sort__algpseudocode": (None, sorts()),
    "selection_sort__algorithmic": (None, sorts()),
    "selection_sort__algorithm2e": (None, sorts()),
    "linear_search__algpseudocode": (None, searches(1, 0)),
    "linear_search__algorithmic": (None, searches(0, -1)),
    "linear_search__algorithm2e": (None, searches(0, None)),
    "max_subarray__algpseudocode": (None, returns(_kadane_ref, [(a,) for a in _lists(8, lengths=(1, 2, 6, 11))])),
    "max_subarray__algorithmic": (None, returns(_kadane_ref, [(a,) for a in _lists(8, lengths=(1, 2, 6, 11))])),
    "max_subarray__algorithm2e": (None, returns(_kadane_ref, [(a,) for a in _lists(8, lengths=(1, 2, 6, 11))])),
    "fast_power__algpseudocode": (None, returns(pow, _POW)),
    "fast_power__algorithmic": (None, returns(pow, _POW)),
    "fast_power__algorithm2e": (None, returns(pow, _POW)),
    "bfs__algpseudocode": (None, bfs(0)),
    "bfs__algorithmic": (None, bfs(1)),
    "bfs__algorithm2e": (None, bfs(0)),
    "fibonacci__algpseudocode": (None, returns(_fib, [(n,) for n in range(26)])),
    "fibonacci__algorithmic": (None, returns(_fib, [(n,) for n in range(26)])),
    "fibonacci__algorithm2e": (None, returns(_fib, [(n,) for n in range(26)])),
    "sieve__algpseudocode": (None, returns(lambda n: _primes(n), [(n,) for n in range(2, 60)])),
    "sieve__algorithmic": (None, returns(lambda n: _primes(n), [(n,) for n in range(2, 60)])),
    "sieve__algorithm2e": (None, returns(lambda n: _primes(n), [(n,) for n in range(2, 60)])),
    "counting_sort__algpseudocode": (None, counting(_counting_clrs)),
    "counting_sort__algorithmic": (None, counting(lambda f, a, k: f(a, k))),
    "counting_sort__algorithm2e": (None, counting(lambda f, a, k: f(a, k))),
    "prefix_sums__algpseudocode": (None, returns(lambda a: list(itertools.accumulate(a)), [(a,) for a in _lists(9)])),
    "prefix_sums__algorithmic": (None, returns(lambda a: list(itertools.accumulate(a)), [(a,) for a in _lists(9)])),
    "prefix_sums__algorithm2e": (None, returns(lambda a: list(itertools.accumulate(a)), [(a,) for a in _lists(9)])),
    "horner__algpseudocode": (None, horner),
    "horner__algorithmic": (None, horner),
    "horner__algorithm2e": (None, horner),
    "argmax__algpseudocode": (None, argmax(1)),
    "argmax__algorithmic": (None, argmax(0)),
    "argmax__algorithm2e": (None, argmax(0)),
    "collatz__algpseudocode": (None, returns(_collatz, [(n,) for n in range(1, 60)])),
    "collatz__algorithmic": (None, returns(_collatz, [(n,) for n in range(1, 60)])),
    "collatz__algorithm2e": (None, returns(_collatz, [(n,) for n in range(1, 60)])),
    "palindrome__algpseudocode": (None, palindromes),
    "palindrome__algorithmic": (None, palindromes),
    "palindrome__algorithm2e": (None, palindromes),
}

def _load(stem: str, **kw):
    result = transpile((CORPUS / f"{stem}.tex").read_text(), f"{stem}.tex", **kw)
    ns: dict = {}
    exec(compile(result.python, f"{stem}.py", "exec"), ns)
    return result, ns


def _entry(result, ns, name):
    return ns[name or result.functions[0].name]


def _run_case(stem: str) -> str | None:
    """None when the algorithm transpiles without TODOs and behaves; else what went wrong."""
    entry, check = CASES[stem]
    try:
        result, ns = _load(stem)
    except Exception as e:  # noqa: BLE001 - any failure counts against the corpus rate
        return f"transpile/exec: {type(e).__name__}: {e}"
    if result.todo_count:
        return f"{result.todo_count} TODO(s): " + "; ".join(t.latex for f in result.functions for t in f.todos)
    f = _entry(result, ns, entry)
    if stem.startswith("sieve__"):  # a set or a list of primes: compare sorted
        def f(n, _g=f):
            return sorted(_g(n))
    try:
        check(f)
    except Exception as e:  # noqa: BLE001
        return f"wrong behaviour: {type(e).__name__}: {e}"
    return None


# ---- the corpus ---------------------------------------------------------------------------

def test_corpus_covers_every_algorithm_in_each_package():
    stems = {p.stem for p in CORPUS.glob("*.tex")}
    assert stems == set(CASES)
    algorithms = {s.split("__")[0] for s in stems}
    for algo in algorithms:
        assert {f"{algo}__{pkg}" for pkg in PACKAGES} <= stems, algo
    assert len(algorithms) >= 15


@pytest.mark.parametrize("stem", sorted(CASES))
def test_corpus_output_parses(stem):
    result = transpile((CORPUS / f"{stem}.tex").read_text(), f"{stem}.tex")
    ast.parse(result.python)
    assert result.functions and all(f.package in PACKAGES for f in result.functions)


def test_corpus_runs_correctly_rate():
    failures = {stem: why for stem in sorted(CASES) if (why := _run_case(stem)) is not None}
    rate = 1 - len(failures) / len(CASES)
    report = f"{rate:.0%} of {len(CASES)} correct; failures: {json.dumps(failures, indent=1)}"
    assert rate >= 0.90, report
    if failures:  # tolerated by the target, but never silent
        warnings.warn(report)


def test_corpus_packages_are_detected():
    for stem in CASES:
        result = transpile((CORPUS / f"{stem}.tex").read_text(), stem)
        assert {f.package for f in result.functions} == {stem.split("__")[1]}, stem


# ---- index base ---------------------------------------------------------------------------

def test_auto_index_base_follows_the_algorithm():
    clrs, _ = _load("insertion_sort__algpseudocode")
    zero, _ = _load("insertion_sort__algorithm2e")
    assert clrs.functions[0].index_base == 1 and "auto" in clrs.functions[0].index_reason
    assert zero.functions[0].index_base == 0
    assert "# Index base 1 (auto:" in clrs.python and "A[j - 1]" in clrs.python


def test_explicit_index_base_overrides_auto():
    result, ns = _load("linear_search__algpseudocode", index_base="0")
    assert result.functions[0].index_base == 0 and "set by --index-base" in result.python
    assert "A[i] == x" in result.python  # indices as written
    result, ns = _load("linear_search__algorithm2e", index_base="1")
    f = ns[result.functions[0].name]
    assert f([7, 8, 9], 8) == 2 and "A[i - 1] == x" in result.python  # A[i] read as A[i - 1]


def test_allocated_arrays_keep_their_declared_base():
    # CLRS counting sort: A is 1-based but C[0..k] is allocated from 0.
    result, _ = _load("counting_sort__algpseudocode")
    assert "C[i] = C[i] + C[i - 1]" in result.python and "C[A[j - 1]]" in result.python


def test_bad_index_base_option():
    with pytest.raises(UsageError, match="index-base"):
        transpile("\\begin{algorithmic}\\State $x \\gets 1$\\end{algorithmic}", index_base="2")


# ---- math and statements ------------------------------------------------------------------

EXPRESSIONS = [
    (r"$\lfloor (p + r)/2 \rfloor$", "(p + r) // 2"),
    (r"$\lceil n / k \rceil$", "-(-n // k)"),
    (r"$\frac{a}{b} + \sqrt{x}$", "a / b + math.sqrt(x)"),
    (r"$\lfloor \sqrt{n} \rfloor$", "math.isqrt(n)"),
    (r"$x^{2} + 2^k$", "x ** 2 + 2 ** k"),
    (r"$3n + 1$", "3 * n + 1"),
    (r"$a \bmod b \neq 0$", "a % b != 0"),
    (r"$a \le b$ \AND \NOT $c$", "a <= b and (not c)"),
    (r"$p \lor q \land r$", "p or (q and r)"),
    (r"$|S| + |x - y|$", "len(S) + abs(x - y)"),
    (r"$S \cup \{x\} \setminus T$", "(S | {x}) - T"),
    (r"$Q = \emptyset$", "len(Q) == 0"),
    (r"$x \in S$", "x in S"),
    (r"$x \notin S$", "x not in S"),
    (r"$-\infty$", "-math.inf"),
    (r"$\max(a, b) + \min\{c, d\}$", "max(a, b) + min(c, d)"),
    (r"$\sum_{i=1}^{n} x_i$", "sum((x[i] for i in range(1, n + 1)))"),
    (r"$\sum_{i \in S} w_i$", "sum((w[i] for i in S))"),
    (r"$\max_{1 \le i \le n} A[i]$", "max((A[i] for i in range(1, n + 1)))"),
    (r"$\argmax_{i \in S} f(i)$", "max(S, key=lambda i: f(i))"),
    (r"$A_{i,j}$", "A[i][j]"),
    (r"$n_1 + n_2$", "n_1 + n_2"),
    (r"$d_{\max}$", "d_max"),
    (r"$\textsc{Merge-Sort}(A, p, q)$", "merge_sort(A, p, q)"),
    (r"\Call{Partition}{$A, p, r$}", "partition(A, p, r)"),
    (r"$\text{length}(A) + A.\mathit{length}$", "len(A) + len(A)"),
    (r"$n$ is even", "n % 2 == 0"),
    (r"$\log_2 n + \lg m$", "math.log2(n) + math.log2(m)"),
    (r"$\binom{n}{k}$", "math.comb(n, k)"),
    (r"$\{1, \ldots, n\}$", "range(1, n + 1)"),
    (r"$\mathrm{range} \mathopen{}\left( n + 1 \mathclose{}\right)$", "range(n + 1)"),
    (r"$a \mathbin{\%} b$", "a % b"),
]


@pytest.mark.parametrize("latex, python", EXPRESSIONS)
def test_expression_translation(latex, python):
    from qtk.tools.transpile_paper.mathparse import parse_all
    from qtk.tools.transpile_paper.mathtok import tokenize
    from qtk.tools.transpile_paper.pyast import Ctx

    toks, _ = tokenize(latex)
    ctx = Ctx()
    ctx.collections.update({"x", "w"})
    assert ast.unparse(parse_all(toks, ctx)) == python


STATEMENTS = [
    (r"$x \gets y + 1$", "x = y + 1"),
    (r"$x \leftarrow 0$", "x = 0"),
    (r"$x := 0$", "x = 0"),
    (r"$a, b \gets b, a$", "a, b = (b, a)"),
    (r"exchange $A[i]$ with $A[j]$", "A[i], A[j] = (A[j], A[i])"),
    (r"$A[i] \leftrightarrow A[j]$", "A[i], A[j] = (A[j], A[i])"),
    (r"\Return $(a, b)$", "return (a, b)"),
    (r"\textbf{break}", "break"),
    (r"let $C[0..k]$ be a new array", "C = [None] * (k + 1)"),
    (r"increment $count$", "count += 1"),
    (r"\Call{Enqueue}{$Q, v$}", "Q.append(v)"),
]


@pytest.mark.parametrize("latex, python", STATEMENTS)
def test_statement_translation(latex, python):
    from qtk.tools.transpile_paper.pyast import Ctx
    from qtk.tools.transpile_paper.statements import statement

    stmts, _ = statement(latex, Ctx())
    assert ast.unparse(ast.fix_missing_locations(ast.Module(body=stmts, type_ignores=[]))) == python


@pytest.mark.parametrize("header, loop", [
    (r"$i \gets 1$ \To $n$", "for i in range(1, n + 1):"),
    (r"$i \gets n$ \textbf{downto} $1$", "for i in range(n, 0, -1):"),
    (r"$i = 0$ to $n - 1$", "for i in range(n):"),
    (r"$j \gets i^2$ \To $n$ \textbf{step} $i$", "for j in range(i ** 2, n + 1, i):"),
    (r"$i = 1, 3, \ldots, n$", "for i in range(1, n + 1, 2):"),
    (r"each vertex $v \in G.V$", "for v in G.V:"),
    (r"$(u, v) \in E$", "for u, v in E:"),
])
def test_loop_headers(header, loop):
    from qtk.tools.transpile_paper.pyast import Ctx
    from qtk.tools.transpile_paper.statements import for_header

    node = for_header(header, Ctx())
    node.body = [ast.Pass()]
    assert ast.unparse(ast.fix_missing_locations(node)).splitlines()[0] == loop


# ---- structure, TODOs, several algorithms -------------------------------------------------

def test_untranslatable_line_becomes_todo_with_its_line_number():
    text = _doc(textwrap.dedent(r"""
        \begin{algorithmic}
        \Procedure{Shuffle}{$A$}
          \State $n \gets |A|$
          \State pick a uniformly random permutation of $A$
          \State \Return $A$
        \EndProcedure
        \end{algorithmic}"""))
    result = transpile(text, "p.tex")
    ast.parse(result.python)
    [fn] = result.functions
    assert [t.line for t in fn.todos] == [8]
    assert "# TODO: line 8: \\State pick a uniformly random permutation of $A$" in result.python
    ns: dict = {}
    exec(result.python, ns)
    with pytest.raises(NotImplementedError, match="line 8"):
        ns["shuffle"]([1, 2])


def test_untranslatable_condition_raises_only_when_reached():
    text = _doc(r"""\begin{algorithmic}
\Function{F}{$x$}
\If{$x > 0$}
\State \Return $1$
\ElsIf{the moon is full}
\State \Return $2$
\EndIf
\State \Return $3$
\EndFunction
\end{algorithmic}""")
    result = transpile(text)
    ns: dict = {}
    exec(result.python, ns)
    assert ns["f"](5) == 1 and result.todo_count == 1
    with pytest.raises(NotImplementedError):
        ns["f"](-1)


def test_several_algorithms_make_one_module_with_one_function_each():
    parts = [(CORPUS / f"{s}.tex").read_text() for s in ("gcd__algorithmic", "fibonacci__algorithmic")]
    bodies = [p[p.index("\\begin{algorithm}"):p.index("\\end{document}")] for p in parts]
    text = _doc("\n\nSome prose between the boxes.\n\n".join(bodies),
                "\\usepackage{algorithm}\n\\usepackage{algorithmic}")
    result = transpile(text, "paper.tex")
    names = [f.name for f in result.functions]
    assert names == ["euclids_algorithm", "fibonacci_numbers"]
    ns: dict = {}
    exec(result.python, ns)
    assert ns["euclids_algorithm"](12, 18) == 6 and ns["fibonacci_numbers"](10) == 55
    assert result.functions[1].start_line > result.functions[0].end_line


def test_user_macros_are_expanded():
    text = _doc(r"""\newcommand{\Inc}[1]{#1 \gets #1 + 1}
\algnewcommand{\LineComment}[1]{\State \(\triangleright\) #1}
\newcommand{\abs}[1]{\left|#1\right|}
\begin{algorithmic}
\Function{Steps}{$x$}
  \State $c \gets 0$
  \LineComment{count down to zero}
  \While{$\abs{x} > 0$}
    \State $x \gets x - 1$
    \State $\Inc{c}$
  \EndWhile
  \State \Return $c$
\EndFunction
\end{algorithmic}""")
    result = transpile(text)
    ns: dict = {}
    exec(result.python, ns)
    assert result.todo_count == 0 and ns["steps"](4) == 4
    assert "# count down to zero" in result.python


def test_algorithm2e_keywords_and_one_line_forms():
    text = _doc(r"""\begin{algorithm}
\SetKwInOut{Input}{input}
\SetKw{KwGoTo}{break}
\SetKwRepeat{Do}{do}{while}
\SetKwFunction{FSign}{Sign}
\SetKwProg{Fn}{Function}{}{end}
\Fn{\FSign{$x$}}{
  \leIf{$x < 0$}{\KwRet{$-1$}}{\lIf{$x = 0$}{\KwRet{0}}}
  \KwRet{1}\;
}
\Fn{Countdown($n$)}{
  $s \gets 0$\;
  \Do{$n > 0$}{$s \gets s + n$\; $n \gets n - 1$\;}
  \lWhile{\True}{\KwGoTo}
  \KwRet{$s$}\;
}
\end{algorithm}""", "\\usepackage{algorithm2e}")
    result = transpile(text)
    assert result.todo_count == 0, result.python
    ns: dict = {}
    exec(result.python, ns)
    assert [ns["sign"](v) for v in (-3, 0, 2)] == [-1, 0, 1]
    assert ns["countdown"](4) == 10 and ns["countdown"](0) == 0  # do-while runs once


def test_loop_break_and_statex_comment():
    text = _doc(r"""\begin{algorithmic}
\REQUIRE $n \ge 1$
\STATE $k \gets 1$
\LOOP
  \IF{$2^k > n$}
    \STATE \textbf{break}
  \ENDIF
  \STATE $k \gets k + 1$
\ENDLOOP
\RETURN $k$
\end{algorithmic}""", "\\usepackage{algorithmic}")
    result = transpile(text)
    ns: dict = {}
    exec(result.python, ns)
    f = ns[result.functions[0].name]
    assert result.todo_count == 0 and [f(n) for n in (1, 2, 7, 8)] == [1, 2, 3, 4]
    assert "while True:" in result.python


def test_snippet_on_stdin_without_environment():
    result = transpile("\\State $y \\gets 2 x$\n\\State \\Return $y$\n")
    ns: dict = {}
    exec(result.python, ns)
    assert result.functions[0].params == ["x"] and ns[result.functions[0].name](4) == 8


# ---- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("", "empty input"),
    ("   \n% only a comment\n", "empty input"),
    ("\\begin{algorithmic}\n\\State $x \\gets \\frac{1}{2$\n\\end{algorithmic}\n", r"p.tex:2:\d+: unbalanced braces"),
    ("\\begin{algorithm}\n\\begin{algorithmic}\n\\State $x$\n\\end{algorithm}\n",
     r"p.tex:4:1: \\end\{algorithm\} does not match \\begin\{algorithmic\} opened at line 2, column 1"),
    ("\\begin{algorithmic}\n\\State $x \\gets 1$\n", r"p.tex:1:1: \\begin\{algorithmic\} is never closed"),
    ("\\begin{codebox}\n\\Procname{Foo}\n\\end{codebox}\n", r"p.tex:1:1: .*clrscode.*not a supported"),
    ("\\begin{algorithm}\nJust prose, no pseudo-code.\n\\end{algorithm}\n", r"p.tex:1:1: .*unknown pseudo-code package syntax"),
    ("\\begin{algorithmic}\n\\If{$x$}{\\KwRet{1}}\n\\end{algorithmic}\n", r"p.tex:2:\d+: \\KwRet is algorithm2e syntax"),
    ("\\begin{algorithmic}\n\\While{$x$}\n\\State $x \\gets 0$\n\\EndIf\n\\end{algorithmic}\n",
     r"p.tex:4:1: \\EndIf closes \\While opened at line 2, column 1"),
    ("\\begin{algorithmic}\n\\For{$i \\gets 1$ \\To $n$}\n\\State $x$\n\\end{algorithmic}\n",
     r"p.tex:2:1: \\For is never closed"),
    ("Some text without any algorithm.\n", "no algorithm found"),
])
def test_bad_input_is_a_usage_error_with_location(text, message):
    with pytest.raises(UsageError, match=message):
        transpile(text, "p.tex")


# ---- CLI ----------------------------------------------------------------------------------

def test_cli_writes_python_to_stdout_and_summary_to_stderr(cli):
    r = cli("transpile-paper", CORPUS / "merge_sort__algpseudocode.tex")
    assert r.exit_code == 0, r.stderr
    ast.parse(r.stdout)
    assert "def merge_sort(A, p, r):" in r.stdout
    assert "merge_sort" in r.stderr and "TODOs" in r.stderr and "def " not in r.stderr


def test_cli_output_file_and_json(cli, tmp_path):
    out = tmp_path / "algo.py"
    r = cli("transpile-paper", CORPUS / "bfs__algorithmic.tex", "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["python"] == out.read_text()
    [algo] = data["algorithms"]
    assert algo["name"] == "bfs_over_adjacency_lists" and algo["todos"] == [] and algo["index_base"] == 1
    assert algo["lines"][0] < algo["lines"][1] and data["index_base"] == {"requested": "auto", "chosen": 1}


def test_cli_stdin_strict_and_todo_report(cli):
    src = "\\begin{algorithmic}\n\\State $x \\gets 1$\n\\State do something clever\n\\end{algorithmic}\n"
    r = cli("transpile-paper", "-", input=src)
    assert r.exit_code == 0 and "TODO <stdin>:3" in r.stderr
    r = cli("transpile-paper", "-", "--strict", "--json", input=src)
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["todo_count"] == 1 and data["algorithms"][0]["todos"][0]["line"] == 3


def test_cli_bad_input_exits_2(cli, tmp_path):
    bad = tmp_path / "bad.tex"
    bad.write_text("\\begin{algorithmic}\n\\State $x \\gets \\{ 1$\n")
    r = cli("transpile-paper", bad)
    assert r.exit_code == 2 and "bad.tex:" in r.stderr
    r = cli("transpile-paper", tmp_path / "missing.tex")
    assert r.exit_code == 2
    r = cli("transpile-paper", CORPUS / "gcd__algorithmic.tex", "--index-base", "7")
    assert r.exit_code == 2 and "index-base" in r.stderr


# ---- round trip through latexify-py -------------------------------------------------------

def _rt_gcd(a, b):
    while b != 0:
        t = b
        b = a % b
        a = t
    return a


def _rt_collatz(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps = steps + 1
    return steps


def _rt_power_sum(n, k):
    s = 0
    for i in range(n + 1):
        s = s + i ** k
    return s


def _rt_fib(n):
    a, b = 0, 1
    for i in range(n):
        a, b = b, a + b
    return a


def _rt_is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i = i + 1
    return True


def _rt_digit_sum(n):
    s = 0
    while n > 0:
        s = s + n % 10
        n = n // 10
    return s


def _rt_clamp_sum(x, y, lo, hi):
    s = x + y
    if s < lo:
        return lo
    elif s > hi:
        return hi
    return s


def _rt_triangle(n):
    total = 0
    for i in range(1, n + 1):
        for j in range(i):
            total = total + j * i - 2
    return total


def _rt_dist(a, b):
    return max(a, b) - min(a, b) + abs(a - b)


ROUND_TRIP = [
    (_rt_gcd, lambda r: (r.randint(0, 500), r.randint(0, 500))),
    (_rt_collatz, lambda r: (r.randint(1, 300),)),
    (_rt_power_sum, lambda r: (r.randint(0, 20), r.randint(0, 4))),
    (_rt_fib, lambda r: (r.randint(0, 40),)),
    (_rt_is_prime, lambda r: (r.randint(-3, 400),)),
    (_rt_digit_sum, lambda r: (r.randint(0, 10 ** 9),)),
    (_rt_clamp_sum, lambda r: (r.randint(-50, 50), r.randint(-50, 50), -10, 10)),
    (_rt_triangle, lambda r: (r.randint(0, 15),)),
    (_rt_dist, lambda r: (r.randint(-99, 99), r.randint(-99, 99))),
]


@pytest.mark.parametrize("fn, gen", ROUND_TRIP, ids=[f.__name__ for f, _ in ROUND_TRIP])
def test_latexify_round_trip(fn, gen):
    latexify = pytest.importorskip("latexify")
    tex = str(latexify.algorithmic(fn))
    assert "\\begin{algorithmic}" in tex
    result = transpile(tex, f"{fn.__name__}.tex")
    assert result.todo_count == 0, result.python
    ns: dict = {}
    exec(result.python, ns)
    back = ns[result.functions[0].name]
    rng = random.Random(fn.__name__)
    for _ in range(200):  # property: same outputs on random inputs
        args = gen(rng)
        assert back(*args) == fn(*args), args


def test_clrs_fourth_edition_style():
    # `=` assigns, `A[1:n]` is an inclusive range, n is passed explicitly.
    text = _doc(r"""\begin{algorithmic}[1]
\Procedure{Insertion-Sort}{$A, n$}
  \For{$i = 2$ \To $n$}
    \State $key = A[i]$
    \State \Comment{Insert $A[i]$ into the sorted subarray $A[1:i-1]$.}
    \State $j = i - 1$
    \While{$j > 0$ \textbf{and} $A[j] > key$}
      \State $A[j + 1] = A[j]$
      \State $j = j - 1$
    \EndWhile
    \State $A[j + 1] = key$
  \EndFor
  \State \Return $A[1:n]$
\EndProcedure
\end{algorithmic}""")
    result = transpile(text)
    ns: dict = {}
    exec(result.python, ns)
    assert result.functions[0].index_base == 1 and result.todo_count == 0
    assert ns["insertion_sort"]([3, 1, 2], 3) == [1, 2, 3]


def test_clrs_style_dijkstra_with_implicit_arrays():
    # d and pi are never created (CLRS attributes); `\arg\min`, set-builder, w(u, v) calls.
    text = _doc(r"""\begin{algorithm}[H]
\caption{Dijkstra}
\begin{algorithmic}[1]
\Function{Dijkstra}{$G, w, s$}
  \ForAll{vertices $v \in G.V$}
    \State $d[v] \gets \infty$; $\pi[v] \gets \textsc{nil}$
  \EndFor
  \State $d[s] \gets 0$
  \State $Q \gets \{v : v \in G.V\}$
  \While{$Q \neq \emptyset$}
    \State $u \gets \arg\min_{v \in Q} d[v]$
    \State $Q \gets Q \setminus \{u\}$
    \ForAll{$v \in G.Adj[u]$}
      \If{$d[u] + w(u, v) < d[v]$} \Comment{relax}
        \State $d[v] \gets d[u] + w(u, v)$; $\pi[v] \gets u$
      \EndIf
    \EndFor
  \EndWhile
  \State \Return $d$
\EndFunction
\end{algorithmic}
\end{algorithm}""", "\\usepackage{algorithm}\n\\usepackage{algpseudocode}")
    result = transpile(text)
    assert result.todo_count == 0, result.python

    class Graph:
        V = ["a", "b", "c", "d"]
        Adj = {"a": ["b", "c"], "b": ["c", "d"], "c": ["d"], "d": []}

    weights = {("a", "b"): 1, ("a", "c"): 5, ("b", "c"): 2, ("b", "d"): 6, ("c", "d"): 1}
    ns: dict = {}
    exec(result.python, ns)
    assert ns["dijkstra"](Graph, lambda u, v: weights[u, v], "a") == {"a": 0, "b": 1, "c": 3, "d": 4}


def test_paper_defined_block_is_kept_but_marked():
    text = _doc(r"""\algblockdefx{Twice}{EndTwice}{\textbf{do twice}}{\textbf{end}}
\algblock{ParFor}{EndParFor}
\begin{algorithmic}
\Function{F}{$A$}
  \State $s \gets 0$
  \ParFor{$i \gets 1$ \To $|A|$}
    \State $s \gets s + A[i]$
  \EndParFor
  \Twice
    \State $s \gets 2 s$
  \EndTwice
  \State \Return $s$
\EndFunction
\end{algorithmic}""")
    result = transpile(text)
    [fn] = result.functions
    assert [t.line for t in fn.todos] == [12] and "for i in range(1, len(A) + 1):" in result.python
    ns: dict = {}
    exec(result.python, ns)
    with pytest.raises(NotImplementedError):
        ns["f"]([1, 2])
