"""Compare model configurations at the same budget over several seeds: is the variant better
than the baseline, and how sure are we?

The first config is the baseline. Each CONFIG is a TOML file applied on the --size preset (like
`qtk train --config`) or a preset name; --set applies to all. Every config trains for every seed
(train.seed = 1..N, so the same data order per seed) under one budget, round-robin, then is scored
on the same held-out text. Reports held-out bits per byte (mean, std, Student-t 95% interval), the
difference to the baseline paired by seed, parameters, FLOPs per token, tokens/s relative to the
baseline in the same rounds, and peak memory. The comparison lives in -o: rerunning the same
command skips finished runs and resumes an interrupted one; Ctrl-C prints the partial table."""

import re
from pathlib import Path
from typing import List, Optional

import typer

from qtk.cli import common


def command(
    configs: List[str] = typer.Argument(..., help="Baseline first, then variants: TOML files or preset names."),
    names: Optional[List[str]] = typer.Option(None, "--name", help="Display name, once per config (default: file stem)."),
    size: str = typer.Option("tiny", "--size", "-s", help="Preset the TOML files are applied on."),
    sets: Optional[List[str]] = common.sets_option("Override one setting in every config: section.key=value."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per config (train.seed = 1..N)."),
    tokens: Optional[int] = typer.Option(None, "--tokens", help="Budget: training tokens per run."),
    time_s: Optional[float] = typer.Option(None, "--time", help="Budget: wall-clock seconds per run."),
    flops: Optional[float] = typer.Option(None, "--flops", help="Budget: estimated training FLOPs per run."),
    out_dir: Optional[Path] = common.output_option(None, "Comparison directory (default runs/compare-NAMES)."),
    threads: int = typer.Option(0, "--threads", help="torch threads (0 = torch's default)."),
    curve_points: int = typer.Option(8, "--curve-points", help="Periodic held-out evaluations per run (token/FLOPs budgets)."),
    speed_rounds: int = typer.Option(3, "--speed-rounds", help="After training, rounds of side-by-side steps that measure tokens/s (0 = use each run's own rate)."),
    tolerance: float = typer.Option(0.05, "--match-tolerance", help="Warn when a variant matches the baseline on neither parameters nor FLOPs within this."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write learning curves (bpb vs tokens and vs seconds) to this PNG."),
    json_out: bool = common.json_option("Print the summary as one JSON object on stdout."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the table as markdown on stdout."),
) -> None:
    from qtk.errors import UsageError

    if len(configs) < 2:
        raise UsageError("compare needs at least two configs: a baseline and a variant")
    budget = _budget(tokens, time_s, flops)
    if seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {seeds}")
    if min(tolerance, threads, speed_rounds) < 0 or curve_points < 1:
        raise UsageError("--match-tolerance, --threads and --speed-rounds must be >= 0, --curve-points >= 1")
    if json_out and markdown:
        raise UsageError("--json and --markdown both print on stdout: choose one")

    from qtk.cli.progress import CompareProgress
    from qtk.compare import report, runner

    entries = runner.resolve(configs, names, size, common.parse_sets(sets))
    out = out_dir or Path("runs") / ("compare-" + re.sub(r"[^\w.-]", "_", "-".join(e.name for e in entries))[:80])
    with CompareProgress() as progress:
        comp = runner.run(entries, runner.Budget(*budget), list(range(1, seeds + 1)), out, threads=threads,
                          curve_points=curve_points, speed_rounds=speed_rounds, reporter=progress)
    summary = report.summarize(comp, tolerance)
    if plot is not None and comp.records:
        from qtk.compare.plot import curves

        curves(summary, plot)
    if json_out:
        common.print_json({"out_dir": str(out), **summary})
    elif markdown:
        typer.echo(report.markdown(summary), nl=False)
    elif comp.records:
        _render(summary, out)
    if comp.interrupted:
        common.fail("compare", f"interrupted: {len(comp.records)} of {summary['planned_runs']} runs finished; "
                    f"rerun the same command (-o {out}) to continue", 130)


def _budget(tokens: Optional[int], time_s: Optional[float], flops: Optional[float]) -> tuple:
    from qtk.errors import UsageError

    given = [(k, v) for k, v in (("tokens", tokens), ("time", time_s), ("flops", flops)) if v is not None]
    if len(given) != 1:
        raise UsageError("give exactly one budget: --tokens N, --time SECONDS or --flops F")
    kind, value = given[0]
    if not value > 0:
        raise UsageError(f"--{kind} must be > 0, got {value:g}")
    return kind, value


def _render(summary: dict, out: Path) -> None:
    from rich.table import Table

    from qtk.compare import report

    table = Table(title=f"qtk compare: {out}", title_justify="left")
    for i, h in enumerate(report.HEADER):
        table.add_column(h, justify="left" if i == 0 or h == "verdict" else "right")
    for row in report.cells(summary):
        table.add_row(*row)
    console = common.out_console()
    if not console.is_terminal:  # a file or pipe gets the whole table, not one squeezed to 80 columns
        console.width = 200
    console.print(table)
    for note in summary["notes"]:
        console.print(f"- {note}", soft_wrap=True)
