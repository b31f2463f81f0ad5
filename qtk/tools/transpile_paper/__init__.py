"""transpile-paper: LaTeX pseudo-code (algorithmic, algpseudocode/algorithmicx, algorithm2e)
-> one runnable Python module.

Pipeline: source.py (comments out, braces/environments checked, positions kept) -> macros.py
(the paper's \\newcommand / \\SetKw* / \\newenvironment definitions) -> expansion.py (expanded
before any parsing) -> document.py (which environments, which package) -> algorithmic.py /
algorithm2e.py (-> ir tree) -> units.py (one function each, headers, Input/Output lines) ->
emit.py with statements.py / phrases.py / loops.py / mathparse.py (-> Python ast), params.py
(inputs), outputs.py (declared outputs) and indexing.py (index base) -> module.py (the module
text, checked with ast.parse). scoring.py scores a corpus of blocks with known answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from qtk.errors import UsageError
from qtk.tools.transpile_paper import algorithm2e, algorithmic, document, expansion, ir, macros, shared
from qtk.tools.transpile_paper.emit import Comments, FunctionBuilder, FunctionResult, Todo, build_all
from qtk.tools.transpile_paper.module import render
from qtk.tools.transpile_paper.source import Document, Src, check_balanced, strip_comments
from qtk.tools.transpile_paper.units import lead_io, name_units, split_units

INDEX_BASES = ("auto", "0", "1")

__all__ = ["FunctionResult", "Todo", "Transpiled", "transpile", "INDEX_BASES"]


@dataclass
class Transpiled:
    python: str
    functions: list[FunctionResult]
    index_base: str  # the option as given
    source: str

    @property
    def todo_count(self) -> int:
        return sum(len(f.todos) for f in self.functions)

    def to_json(self) -> dict:
        bases = {f.index_base for f in self.functions}
        return {
            "source": self.source,
            "python": self.python,
            "index_base": {"requested": self.index_base,
                           "chosen": bases.pop() if len(bases) == 1 else None},
            "todo_count": self.todo_count,
            "algorithms": [
                {"name": f.name, "title": f.title, "package": f.package,
                 "lines": [f.start_line, f.end_line], "params": f.params,
                 "index_base": f.index_base, "index_reason": f.index_reason,
                 "todo_count": len(f.todos), "todos": [asdict(t) for t in f.todos],
                 "unknown_calls": f.unknown_calls, "undefined_names": f.undefined}
                for f in self.functions
            ],
        }


def transpile(text: str, source: str = "<stdin>", index_base: str = "auto") -> Transpiled:
    """Translate every algorithm in a LaTeX text to Python. Bad input raises UsageError."""
    if index_base not in INDEX_BASES:
        raise UsageError(f"--index-base must be one of {', '.join(INDEX_BASES)}, got {index_base!r}")
    doc = Document(text, source)
    src = strip_comments(Src.whole(text))
    if not src.text.strip():
        raise UsageError(f"{source}: empty input (no LaTeX to read)")
    check_balanced(src, doc)
    defs = macros.collect(src, doc)
    src = expansion.expand_environments(src, defs)
    algos = [_parse(raw, defs, doc) for raw in document.find_algorithms(src, defs, doc)]
    units = split_units(algos)
    if not units:
        raise UsageError(f"{source}: the algorithm environments hold no pseudo-code")
    naming = name_units(units)
    comments = Comments()
    built = build_all([FunctionBuilder(u, naming.functions, comments, index_base) for u in units])
    python = render(shared.nest_helpers(built), comments, source, index_base)
    return Transpiled(python, [r for _, r in built], index_base, source)


def _parse(raw: document.RawAlgorithm, defs: macros.Definitions, doc: Document) -> ir.Algorithm:
    body = expansion.expand(raw.body, defs, doc)
    parser = algorithm2e if raw.package == "algorithm2e" else algorithmic
    nodes = parser.parse(body, defs, doc)
    if raw.lead is not None:
        nodes = lead_io(expansion.expand(raw.lead, defs, doc), doc.line) + nodes
    caption = expansion.expand(raw.caption, defs, doc) if raw.caption is not None else None
    return ir.Algorithm(raw.package, caption, doc.line(raw.start), doc.line(raw.end), nodes, raw.env)
