"""The `qtk` Typer app. Command modules import only typer/stdlib at top level, so `qtk --help`
and tab completion never import torch; each command imports its core lazily when it runs."""

import importlib

import typer

from qtk import __version__
from qtk.cli import common

app = typer.Typer(
    name="qtk",
    help="Build, train, measure and ship small experimental language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# One line per subcommand, in the order `qtk --help` lists them. Only commands that work are here.
COMMANDS: list[str] = [
    "train",
    "eval",
    "compare",
    "generate",
    "build-memory",
    "compress",
    "quantize",
    "merge",
    "export-onnx",
    "bench-moe",
    "fit-scaling-law",
    "transpile-paper",
    "autobench",
    "pr-check",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qtk {__version__}")
        from qtk import ops  # imports torch: only here, never for --help or completion

        typer.echo(f"ops backend: {ops.describe()}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """qtk: train -> eval -> generate -> compress / quantize -> export-onnx, and the tools around it."""
    common.STATE.debug = debug


for _name in COMMANDS:
    _module = importlib.import_module(f"qtk.cli.{_name.replace('-', '_')}")
    app.command(name=_name, help=_module.__doc__)(common.guarded(_name, _module.command))
