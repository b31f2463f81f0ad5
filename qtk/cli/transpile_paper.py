"""Turn the pseudo-code of a paper into runnable Python.

Reads LaTeX (a .tex file, a whole paper, or - for stdin), finds every
algorithm written with algorithmic, algpseudocode/algorithmicx or
algorithm2e, and writes one Python module with one function per
algorithm on stdout (or -o OUT.py). A summary table (name, source lines,
TODO count, index base) goes to stderr. Lines that cannot be translated
are kept as `# TODO:` comments quoting the LaTeX, listed with their line
numbers, and raise NotImplementedError if reached.

--index-base 1 reads subscripts CLRS-style (the first element is 1) and
shifts them onto Python's 0-based lists; 0 keeps indices as written;
auto (default) decides per algorithm and says why in a header comment.

Exit code: 0 ok, 1 with --strict when some line was not translated,
2 bad input (unbalanced braces or environments, unknown pseudo-code
package, empty input).
"""

import sys
from pathlib import Path

import typer

from qtk.cli import common


def command(
    file: str = typer.Argument(..., metavar="FILE|-", help="LaTeX file to read, or - for stdin."),
    output: Path = common.output_option(None, "Write the Python module here instead of stdout."),
    index_base: str = typer.Option("auto", "--index-base", metavar="auto|0|1",
                                   help="How the pseudo-code indexes arrays: 1 (CLRS style), 0, or auto."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any line could not be translated."),
    as_json: bool = common.json_option("Print a JSON object (python source, per-algorithm name/lines/TODOs, "
                                       "index base) on stdout."),
) -> None:
    from qtk.errors import UsageError
    from qtk.tools.transpile_paper import transpile

    if file == "-":
        text, source = sys.stdin.read(), "<stdin>"
    else:
        path = Path(file)
        if not path.is_file():
            raise UsageError(f"no such file: {file}")
        text, source = path.read_text(encoding="utf-8", errors="replace"), path.name
    result = transpile(text, source=source, index_base=index_base)
    if output is not None:
        output.write_text(result.python, encoding="utf-8")
    if as_json:
        common.print_json(result.to_json())
    elif output is None:
        sys.stdout.write(result.python)
        sys.stdout.flush()
    _summary(result, output)
    if strict and result.todo_count:
        sys.stderr.write(f"qtk transpile-paper: --strict: {result.todo_count} line(s) not translated\n")
        raise typer.Exit(1)


def _summary(result, output: Path | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = common.err_console()
    table = Table(title=f"transpile-paper: {escape(result.source)}", title_justify="left")
    for col, justify in (("function", "left"), ("package", "left"), ("lines", "right"),
                         ("TODOs", "right"), ("index base", "left")):
        table.add_column(col, justify=justify)
    for f in result.functions:
        table.add_row(f.name, f.package, f"{f.start_line}-{f.end_line}", str(len(f.todos)),
                      f"{f.index_base} ({'set' if result.index_base != 'auto' else 'auto'})")
    console.print(table)
    for f in result.functions:
        for todo in f.todos:
            console.print(f"  TODO {result.source}:{todo.line} in {f.name}: {todo.latex}  [{todo.reason}]",
                          markup=False, soft_wrap=True)
    if output is not None:
        console.print(f"wrote {output}", markup=False, soft_wrap=True)
