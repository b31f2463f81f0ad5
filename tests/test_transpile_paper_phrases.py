"""qtk transpile-paper's phrase table (everyday pseudo-code English): one behaviour test per
phrase, and a check that no phrase is without one. Each transpiles a small block that uses the
phrase, runs the Python and checks what it returns."""

from __future__ import annotations

import pytest

from qtk.tools.transpile_paper import phrases, transpile
from test_transpile_paper_real import _algo, _fn

# ---- the phrase table: one behaviour test per phrase ------------------------------------------

PHRASES = {
    ("statement", "allocate"): (r"""
        \Require $n$
        \State create an array $B$ of $n$ elements initialized to $7$
        \State \Return $B$""", (3,), [7, 7, 7]),
    ("statement", "indexed allocate"): (r"""
        \Require $n$
        \State Let $A$ be an array of Boolean values, indexed by integers $2$ to $n$, initially all set to \textbf{true}.
        \State $A[3] \gets$ \textbf{false}
        \State \Return $A$""", (4,), [True, False, True]),
    ("statement", "allocate named first"): (r"""
        \Require $n$
        \State Initialize $P$ as an array of length $n$, all set to $2$
        \State \Return $P$""", (2,), [2, 2]),
    ("statement", "push"): (r"""
        \Require $x, y$
        \State $S \gets$ an empty stack
        \State push $x$ onto $S$
        \State append $y$ to $S$
        \State \Return $S$""", (1, 2), [1, 2]),
    ("statement", "remove"): (r"""
        \Require $x, y$
        \State $S \gets \emptyset$
        \State add $x$ to $S$
        \State add $y$ to $S$
        \State remove $x$ from $S$
        \State \Return $S$""", (1, 2), {2}),
    ("statement", "move"): (r"""
        \Require $x$, $y$
        \State $A \gets \{x, y\}$; $B \gets \emptyset$
        \State move $x$ from $A$ to $B$
        \State \Return $(A, B)$""", (1, 2), ({2}, {1})),
    ("statement", "make empty"): (r"""
        \Require $k$
        \State let $T[0..k-1]$ be a new array
        \For{$i = 0$ \textbf{to} $k - 1$} \State make $T[i]$ an empty list \EndFor
        \State append $1$ to $T[0]$
        \State \Return $T$""", (2,), [[1], []]),
    ("statement", "concatenate"): (r"""
        \Require lists $P$ and $Q$
        \State sort list $P$ with insertion sort
        \State concatenate the lists $P, Q$ together in order""", ([3, 1], [9]), [1, 3, 9]),
    ("statement", "pop"): (r"""
        \Require $x, y$
        \State $S \gets$ an empty stack
        \State push $x$ onto $S$
        \State push $y$ onto $S$
        \State pop $u$ from $S$
        \State \Return $u$""", (1, 2), 2),
    ("statement", "dequeue"): (r"""
        \Require $x, y$
        \State $Q \gets$ an empty queue
        \State enqueue $x$ into $Q$
        \State enqueue $y$ into $Q$
        \State dequeue $u$ from $Q$
        \State \Return $u$""", (1, 2), 1),
    ("statement", "sort"): (r"""
        \Require a list $A$
        \State sort $A$ in increasing order
        \State \Return $A$""", ([3, 1, 2],), [1, 2, 3]),
    ("statement", "sort named"): (r"""
        \Require jobs $(r_1, d_1), \ldots, (r_m, d_m)$
        \State sort the jobs by their end
        \State \Return $(r, d)$""", ([4, 1, 9], [8, 2, 3]), ([1, 9, 4], [2, 3, 8])),
    ("statement", "reverse"): (r"""
        \Require a list $A$
        \State reverse $A$
        \State \Return $A$""", ([3, 1, 2],), [2, 1, 3]),
    ("statement", "set"): (r"""
        \Require $x$
        \State set $c$ to $x + 1$
        \State \Return $c$""", (4,), 5),
    ("statement", "increase"): (r"""
        \Require $x$
        \State initialize $t$ to $10$
        \State increase $t$ by $x$
        \State add $x$ to $t$
        \State \Return $t$""", (2,), 14),
    ("statement", "decrease"): (r"""
        \Require $x$
        \State $t \gets 10$
        \State subtract $x$ from $t$
        \State decrease $t$ by $1$
        \State \Return $t$""", (2,), 7),
    ("statement", "scale"): (r"""
        \Require $x$
        \State multiply $x$ by $3$
        \State \Return $x$""", (2,), 6),
    ("statement", "divide"): (r"""
        \Require $x$
        \State divide $x$ by $4$
        \State \Return $x$""", (2,), 0.5),
    ("statement", "compute"): (r"""
        \Require numbers $x_1, \ldots, x_n$
        \State compute $s = \sum_{i=1}^{n} x_i$
        \State update $s \gets s / n$
        \State \Return $s$""", ([1, 2, 3],), 2.0),
    ("statement", "postfix loop"): (r"""
        \Require $n$
        \State $K[c] \gets c^2$ for $c = 0, \ldots, n$
        \State \Return $K$""", (3,), [0, 1, 4, 9]),
    ("statement", "prefix loop"): (r"""
        \Require $n$
        \State $A \gets$ an $n \times n$ matrix of zeros
        \State for all $1 \le i, j \le n$: $A_{ij} \gets i \cdot j$
        \State \Return $A$""", (2,), [[1, 2], [2, 4]]),
    ("value", "concatenation"): (r"""
        \Require $A, B$
        \State $C \gets A$ concatenated with $B$
        \State $D \gets$ the concatenation of $C$ and $A$
        \State \Return $D$""", ([1], [2]), [1, 2, 1]),
    ("value", "empty set"): (r"""
        \Require $x$
        \State $V \gets$ an empty set
        \State add $x$ to $V$
        \State add $x$ to $V$
        \State \Return $V$""", (5,), {5}),
    ("value", "map with default"): (r"""
        \Require $k$
        \State $m \gets$ an empty map with default value $0$
        \State $m[k] \gets m[k] + 1$
        \State \Return $m[k] + m[k + 1]$""", (3,), 1),
    ("value", "empty map"): (r"""
        \Require $x$
        \State $M \gets$ an empty map
        \State $M[x] \gets 1$
        \State \Return $M$""", ("a",), {"a": 1}),
    ("value", "empty list"): (r"""
        \Require $x$
        \State $L \gets$ an empty list
        \State append $x$ to $L$
        \State \Return $L$""", (5,), [5]),
    ("value", "empty string"): (r"""
        \Require a word $w$ of length $n$
        \State $r \gets$ the empty string
        \For{$i \gets n$ \textbf{downto} $1$}
          \State append $w[i]$ to $r$
        \EndFor
        \State \Return $r$""", ("dog",), "god"),
    ("value", "indexed array"): (r"""
        \Require $m$
        \State $T \gets$ an array indexed with $0, \dots, m$
        \For{$k = 0, \dots, m$} \State $T[k] \gets k \cdot k$ \EndFor
        \State \Return $T$""", (3,), [0, 1, 4, 9]),
    ("statement", "binary digits"): (r"""
        \Require an integer $q \ge 1$
        \State Let the binary representation of $q$ be $(b_{k} \cdots b_1 b_0)$.
        \State \Return $b_0 + 2 b_1$""", (6,), 2),
    ("value", "empty heap"): (r"""
        \Require a list $L$ of numbers
        \State $H \gets$ an empty min-heap; $S \gets$ an empty list
        \ForAll{$x \in L$} \State \Call{Push}{$H, x$} \EndFor
        \While{$H \neq \emptyset$} \State append \Call{Pop}{$H$} to $S$ \EndWhile
        \State \Return $S$""", ([5, 1, 4, 2],), [1, 2, 4, 5]),
    ("value", "zeros"): (r"""
        \Require $n, m$
        \State $Z \gets$ an $n \times m$ matrix of zeros
        \State set $Y$ to the $m \times n$ zero matrix
        \State \Return $(Z, Y)$""", (2, 3), ([[0, 0, 0], [0, 0, 0]], [[0, 0], [0, 0], [0, 0]])),
    ("value", "sized"): (r"""
        \Require an $n \times n$ matrix $A$
        \State let $C$ be a new $n \times n$ matrix
        \For{$i \gets 1$ \To $n$} \For{$j \gets 1$ \To $n$}
          \State $c_{ij} \gets 0$
          \For{$k \gets 1$ \To $n$} \State $c_{ij} \gets c_{ij} + a_{ik} \cdot a_{kj}$ \EndFor
        \EndFor \EndFor
        \State \Return $C$""", ([[1, 2], [3, 4]],), [[7, 10], [15, 22]]),
    ("value", "filled"): (r"""
        \Require $n$
        \State $D \gets$ an array of $n$ entries, all $-1$
        \State \Return $D$""", (2,), [-1, -1]),
    ("value", "pop"): (r"""
        \Require $x, y$
        \State $S \gets$ an empty stack
        \State push $x$ onto $S$
        \State push $y$ onto $S$
        \State $u \gets$ pop $S$
        \State \Return $(u, S)$""", (1, 2), (2, [1])),
    ("value", "top"): (r"""
        \Require $x, y$
        \State $S \gets$ an empty stack
        \State push $x$ onto $S$
        \State push $y$ onto $S$
        \State $u \gets$ the top of $S$
        \State \Return $(u, S)$""", (1, 2), (2, [1, 2])),
    ("value", "dequeue"): (r"""
        \Require $x, y$
        \State $Q \gets$ an empty queue
        \State enqueue $x$ into $Q$
        \State enqueue $y$ into $Q$
        \State $u \gets$ dequeue $Q$
        \State \Return $(u, Q)$""", (1, 2), (1, [2])),
    ("value", "map of each"): (r"""
        \Require a string $s$
        \State $c \gets$ a mapping of each letter in $s$ onto $0$
        \For{each letter $x$ of $s$} \State $c[x] \gets c[x] + 1$ \EndFor
        \State \Return $c$""", ("abca",), {"a": 2, "b": 1, "c": 1}),
    ("statement", "choose"): (r"""
        \Require a set $F$
        \State $t \gets 0$
        \While{$F \neq \emptyset$}
          \State pick and remove an element $u$ from $F$
          \State $t \gets t + u$
        \EndWhile
        \State choose a vertex $w$ of $\{7\}$
        \State \Return $t + w$""", ({1, 2, 3},), 13),
    ("value", "any element"): (r"""
        \Require a set $F$
        \State $u \gets$ any element of $F$
        \State \Return $u$""", ({5},), 5),
    ("statement", "remove end"): (r"""
        \Require a list $L$
        \State remove the first element $x$ from $L$
        \State remove the last element $y$ from $L$
        \State \Return $(x, y, L)$""", ([1, 2, 3, 4],), (1, 4, [2, 3])),
    ("value", "priority queue of"): (r"""
        \Require $f_1, \ldots, f_n$
        \State $Q \gets$ a min-priority queue holding $f_1, \ldots, f_n$
        \State $x \gets \textsc{Extract-Min}(Q)$
        \State \Return $(x, Q)$""", ([5, 2, 7],), (2, [5, 7])),
    ("statement", "swap entries"): (r"""
        \Require an array $A[1..n]$
        \State swap the $1$-th and the $n$-th entries of $A$
        \State \Return $A$""", ([1, 2, 3],), [3, 2, 1]),
    ("value", "kth entry"): (r"""
        \Require an array $A[1..n]$
        \State $x \gets$ the $n$-th element of $A$
        \State \Return $x$""", ([4, 5, 6],), 6),
    ("value", "rows"): (r"""
        \Require a matrix $A$
        \State $n \gets$ the number of rows of $A$
        \State $m \gets$ the number of columns of $A$
        \State \Return $(n, m)$""", ([[1, 2, 3], [4, 5, 6]],), (2, 3)),
    ("value", "collection containing"): (r"""
        \Require $s$, $t$
        \State $Q \gets$ a queue containing $s$
        \State $S \gets$ a set containing $s$ and $t$
        \State \Return $(Q, S)$""", (1, 2), ([1], {1, 2})),
    ("value", "best element"): (r"""
        \Require distances $d[0..n-1]$ and a set $Q$ of vertices
        \State $visited \gets$ an array of $n$ entries, all \textbf{false}
        \State $visited[0] \gets$ \textbf{true}
        \State $u \gets$ the unvisited vertex with the smallest $d[u]$
        \State $w \gets$ the vertex $w$ in $Q$ with the largest $d[w]$
        \State \Return $(u, w)$""", ([1, 5, 3], {0, 2}), (2, 2)),
    ("value", "all vertices"): (r"""
        \Require adjacency lists $G$
        \State $Q \gets$ the set of all vertices
        \State \Return $Q$""", ([[1], [0], []],), {0, 1, 2}),
    ("value", "all with"): (r"""
        \Require in-degrees $indeg[0..n-1]$
        \State $Q \gets$ the list of all $v$ with $indeg[v] = 0$, in increasing order
        \State \Return $Q$""", ([0, 2, 0, 1],), [0, 2]),
    ("value", "ones"): (r"""
        \Require $n$
        \State $row \gets$ a list of $n + 1$ ones
        \State \Return $row$""", (2,), [1, 1, 1]),
    ("statement", "push front"): (r"""
        \Require a list $L$, a value $u$
        \State insert $u$ at the front of $L$
        \State \Return $L$""", ([2, 3], 1), [1, 2, 3]),
    ("value", "concatenation of all"): (r"""
        \Require lists $B[0..n-1]$
        \State \Return the concatenation of the lists $B[0], B[1], \ldots, B[n-1]$""", ([[1], [], [2, 3]],), [1, 2, 3]),
    ("value", "sorted copy"): (r"""
        \Require graded relevances $r_1, \ldots, r_n$
        \State $r^* \gets$ the relevances sorted in decreasing order
        \State $s \gets$ $r$ sorted
        \State \Return $(r^*, s)$""", ([2, 3, 1],), ([3, 2, 1], [1, 2, 3])),
    ("value", "copy"): (r"""
        \Require a list $A$
        \State $B \gets$ a copy of $A$
        \State sort $B$ in decreasing order
        \State \Return $(A, B)$""", ([1, 3, 2],), ([1, 3, 2], [3, 2, 1])),
    ("statement", "new set"): (r"""
        \Require a list $L$
        \State create node set $S$
        \ForAll{$x \in L$} \State add $x$ to $S$ \EndFor
        \State \Return $S$""", ([3, 1, 3],), {1, 3}),
    ("value", "empty lists"): (r"""
        \Require a list $A$ of digits
        \State $B \gets$ 3 empty lists
        \ForAll{$a \in A$} \State append $a$ to $B[a \bmod 3]$ \EndFor
        \State \Return $B$""", ([4, 3, 1, 5],), [[3], [4, 1], [5]]),
    ("value", "length"): (r"""
        \Require a string $s$
        \State $n \gets$ the length of $s$
        \State \Return $n$""", ("abcd",), 4),
    ("value", "set of elements"): (r"""
        \Require two lists $X$ and $Y$ of tags
        \State $T \gets$ the set of distinct elements of $X$
        \State $U \gets$ set of elements of $Y$
        \State \Return $|T \cup U|$""", ([3, 1, 3], [1, 4]), 3),
    ("value", "positions sorted by"): (r"""
        \Require scores $c_1, \ldots, c_m$
        \State $order \gets$ the item indices sorted by increasing $c$
        \State \Return $order$""", ([0.5, 0.1, 0.9],), [1, 0, 2]),
}


def test_every_phrase_has_a_test():
    table = {("statement", p.name) for p in phrases.STATEMENTS} | {("value", p.name) for p in phrases.VALUES}
    assert table == set(PHRASES)


@pytest.mark.parametrize("key", sorted(PHRASES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_phrase_behaviour(key):
    body, args, want = PHRASES[key]
    f, _ = _fn(_algo(body))
    assert f(*args) == want


def test_phrase_that_does_not_determine_the_loop_stays_todo():
    result = transpile(_algo(r"""
        \State $d[v] \gets \infty$ for all $v$
        \State \Return $d$"""), "t.tex")
    assert result.todo_count == 1 and "_untranslated(" in result.python


def test_deque_phrases_and_cpp_members():
    f, _ = _fn(_algo(r"""
        \Require a list $L$
        \State $D \gets$ empty deque
        \ForAll{$x \in L$}
          \If{$D$ is not empty \textbf{and} $D.\mathrm{back} = x$}
            \State pop the back of $D$
          \Else
            \State push $x$ to the back of $D$
          \EndIf
        \EndFor
        \State pop the front of $D$
        \State \Return $(D.\mathrm{front}, D)$"""))
    assert f([4, 1, 2, 2, 3]) == (1, [1, 3])


def test_sort_points_lexicographically():
    f, _ = _fn(_algo(r"""
        \Require a list $P$ of points
        \State sort $P$ lexicographically
        \State \Return $P$"""))
    assert f([(2, 1), (1, 5), (1, 2)]) == [(1, 2), (1, 5), (2, 1)]


def test_a_variable_written_as_a_plain_word_fills_a_phrase_slot():
    f, _ = _fn(_algo(r"""
        \Require a list $L$
        \State result $\gets$ an empty list
        \ForAll{$x \in L$}
          \If{$x > 0$} \State append $x$ to result \EndIf
        \EndFor
        \State \Return result"""))
    assert f([3, -1, 2]) == [3, 2]


def test_a_phrase_condition_may_go_on_in_words():
    f, _ = _fn(_algo(r"""
        \Require a list $F$ of flags
        \State \Return all $k$ such that $F[k]$ is true."""))
    assert f([True, False, True]) == [0, 2]


def test_a_phrase_condition_is_never_cut_short():
    result = transpile(_algo(r"""
        \Require a list $F$
        \State \Return the list of all $k$ with $F[k]$ positive, in increasing order"""), "t.tex")
    assert result.todo_count == 1  # `positive` is not read: the line stays a TODO, never `if F[k]`


def test_one_verb_for_several_objects_and_empty_as_a_value():
    f, _ = _fn(_algo(r"""
        \Require $x$, $y$
        \State Let $p$, $q$, and $r$ be empty lists
        \State Add $x$ to $p$, $y$ to $q$, and $x + y$ to $r$
        \State $D$ = empty, $E$ = $\{ x \}$
        \State \Return $(p, q, r, D, E)$"""))
    assert f(1, 2) == ([1], [2], [3], set(), {1})


@pytest.mark.parametrize("header", [r"$k=0$ \`a $n$ avec un pas de 3", r"$k=0$ hasta $n$ con paso 3",
                                    r"$k=0$ to $n$ with a step of 3", r"$k=0$ bis $n$ mit Schrittweite 3"])
def test_a_step_written_out_in_words(header):
    # `$k = 0$ à $n$` (no `from` word) is `to`; `avec un pas de 3` / `con paso 3` is a step of 3
    f, _ = _fn(_algo(r"""
        \REQUIRE $n$
        \STATE $c \gets 0$
        \FOR{%s}
        \STATE $c \gets c + k$
        \ENDFOR
        \RETURN $c$""" % header, "\\usepackage{algorithmic}"))
    assert f(9) == 0 + 3 + 6 + 9 and f(1) == 0
