"""The package-neutral tree that both pseudo-code parsers produce and the emitter consumes.

Conditions, loop headers and statements stay LaTeX (`Src`) here; the emitter translates them,
so a line it cannot translate becomes a TODO that still carries its source line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qtk.tools.transpile_paper.source import Src


@dataclass
class Node:
    line: int
    comment: str | None = field(default=None, kw_only=True)


@dataclass
class Statement(Node):
    text: Src
    raw: str  # the LaTeX as written, quoted in TODO lines


@dataclass
class Comment(Node):
    text: str


@dataclass
class IO(Node):
    """\\Require/\\Ensure, \\KwIn/\\KwOut/\\KwData/\\KwResult and \\SetKwInOut lines."""

    label: str
    text: Src
    raw: str


@dataclass
class Branch:
    cond: Src | None  # None for else
    line: int
    raw: str
    body: list[Node]
    comment: str | None = None


@dataclass
class If(Node):
    branches: list[Branch]  # the last one has cond None when there is an else


@dataclass
class For(Node):
    header: Src
    raw: str
    body: list[Node]
    each: bool = False  # \ForAll / \ForEach: a hint, the header decides


@dataclass
class While(Node):
    cond: Src
    raw: str
    body: list[Node]


@dataclass
class Repeat(Node):
    body: list[Node]
    cond: Src | None  # None while the \Until is not seen yet
    cond_line: int = 0
    raw: str = ""
    until: bool = True  # False for do-while loops declared with \SetKwRepeat{..}{..}{while}


@dataclass
class Loop(Node):
    body: list[Node]


@dataclass
class Switch(Node):
    subject: Src
    raw: str
    cases: list[Branch]  # a case with cond None is \Other


@dataclass
class Block(Node):
    body: list[Node]
    label: str = ""
    raw: str = ""
    opaque: bool = False  # a paper-defined block whose meaning qtk does not know


@dataclass
class Function(Node):
    name: str  # LaTeX as written
    params: Src
    raw: str
    body: list[Node]
    end_line: int = 0
    kind: str = "Function"
    note_latex: str | None = None  # a \\Comment on the header line, as written (it may declare `$A[0..n-1]$`)


@dataclass
class Algorithm:
    """One algorithm environment as parsed."""

    package: str
    caption: Src | None
    start_line: int
    end_line: int
    nodes: list[Node]
    env: str = "algorithmic"


# labels that make a line a declaration of the inputs or of the outputs (`\\textbf{Input:}`, `\\item[Given:]`)
INPUT_LABELS = {"input", "inputs", "in", "data", "require", "requires", "given", "parameters",
                "parameter", "params", "param", "globals", "arguments", "args", "hyperparameters", "hyper parameters",
                # the same labels in lecture notes in other languages
                "entrée", "entrées", "entree", "entrees", "données", "donnees", "entrada", "entradas", "dados",
                "datos", "eingabe", "daten", "ingresso", "dati", "wejście", "wejscie", "dane", "输入", "输入数据"}
OUTPUT_LABELS = {"output", "outputs", "out", "ensure", "ensures", "result", "results", "return", "returns",
                 "sortie", "sorties", "résultat", "resultat", "saída", "saida", "salida", "resultado", "ausgabe",
                 "ergebnis", "uscita", "risultato", "wyjście", "wyjscie", "wynik", "输出", "输出结果"}
