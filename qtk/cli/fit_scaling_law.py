"""Fit a scaling law to (x, loss) or (N, D, loss) points from a CSV or JSON file.

Forms: power, L = E + A x^-alpha;
bnsl:K, a broken neural scaling law with K = 0..3 breaks;
bnsl:auto, K chosen by extrapolation error on the last 20% of points or AICc;
chinchilla, L = E + A/N^alpha + B/D^beta: give --n, and --d or --c (D = C/6N).

Reports RMSLE on fitted and held-out points (--holdout-last K, --split COL),
seeded bootstrap 95% intervals (--bootstrap N), predictions (--predict X),
chinchilla's compute-optimal N and D (--budget C), and a plot (--plot F.png).
"""

from pathlib import Path
from typing import Optional

import typer

from qtk.cli import common


def command(
    file: Path = typer.Argument(..., help="CSV (header row) or JSON (list of records or dict of columns)."),
    form: str = typer.Option("power", "--form", "-f", help="power | bnsl:K (K=0..3) | bnsl:auto | chinchilla."),
    x: Optional[str] = typer.Option(None, "--x", help="Column of the scaling variable (power, bnsl)."),
    y: str = typer.Option("loss", "--y", help="Column of the loss / error being predicted."),
    n: Optional[str] = typer.Option(None, "--n", help="Column of parameter counts N (chinchilla)."),
    d: Optional[str] = typer.Option(None, "--d", help="Column of training tokens D (chinchilla)."),
    c: Optional[str] = typer.Option(None, "--c", help="Column of training FLOPs C; D = C/(6N) (chinchilla)."),
    holdout_last: int = typer.Option(
        0, "--holdout-last", min=0, help="Hold out the K largest-x points (largest 6ND for chinchilla)."),
    split: Optional[str] = typer.Option(None, "--split", help="Column marking rows train/fit or test/extrapolate."),
    select: str = typer.Option(
        "auto", "--select", help="bnsl:auto criterion: validation | aic | auto (validation from 12 points)."),
    resamples: int = typer.Option(0, "--bootstrap", min=0, help="Bootstrap resamples for 95% confidence intervals."),
    seed: int = common.seed_option(0, "Seed of the bootstrap resampling."),
    predict: Optional[str] = typer.Option(
        None, "--predict", help="Predict at x values '1e21,1e22' (N:D pairs for chinchilla)."),
    budget: Optional[str] = typer.Option(
        None, "--budget", help="Chinchilla: compute-optimal N, D and loss for FLOP budgets '1e23,1e24'."),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="Write a log-log figure of data, fit and extrapolation (needs qtk[plot])."),
    as_json: bool = common.json_option("Print the fit as JSON on stdout."),
) -> None:
    from qtk.tools.scaling import (fit_scaling_law, load_table, parse_form, parse_numbers, parse_predict,
                                   select_points, split_column)

    law = parse_form(form)
    at, budgets = parse_predict(predict, law), parse_numbers(budget, "--budget")
    table = load_table(file)
    points = select_points(table, y, x=x, n=n, d=d, c=c, two_variable=law.two_variable)
    if split:
        points.test = split_column(table, split)
    fit = fit_scaling_law(points, law, holdout_last=holdout_last, resamples=resamples, seed=seed,
                          predict_at=at, budgets=budgets, select=select)
    if plot is not None:
        from qtk.tools.scaling.plot import save_plot

        common.err_console().print(f"wrote {save_plot(fit, plot)}")
    if as_json:
        common.print_json(fit.to_dict())
    else:
        _render(fit.to_dict())


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _render(out: dict) -> None:
    from rich.table import Table

    console = common.out_console()
    ci = out.get("bootstrap", {}).get("ci95", {})
    table = Table(title=f"{out['form']} fit to {out['n_train']} points")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    if ci:
        table.add_column("95% CI", justify="right")
    for name, value in out["params"].items():
        table.add_row(name, _fmt(value), *([f"[{_fmt(ci[name][0])}, {_fmt(ci[name][1])}]"] if ci else []))
    console.print(table)
    console.print(f"objective: {out['objective']} = {_fmt(out['objective_value'])}")
    line = f"RMSLE train {_fmt(out['rmsle_train'])}"
    if "rmsle_holdout" in out:
        line += f", held-out {_fmt(out['rmsle_holdout'])} ({out['n_holdout']} points)"
    console.print(line)
    if "selection" in out:
        sel = out["selection"]
        scores = ", ".join(f"K={k}: {_fmt(v)}" for k, v in sel["scores"].items())
        console.print(f"bnsl:auto chose K={sel['chosen_breaks']} by {sel['criterion']} ({scores})")
    if "bootstrap" in out:
        console.print(f"bootstrap: {out['bootstrap']['used']}/{out['bootstrap']['resamples']} resamples "
                      f"used, seed {out['bootstrap']['seed']}")
    for row in out.get("predictions", []):
        where = f"N={_fmt(row['N'])} D={_fmt(row['D'])}" if "N" in row else f"x={_fmt(row['x'])}"
        band = f" [{_fmt(row['ci95'][0])}, {_fmt(row['ci95'][1])}]" if "ci95" in row else ""
        console.print(f"predict {where}: {_fmt(row['y'])}{band}{' (extrapolated)' if row['extrapolated'] else ''}")
    for row in out.get("budgets", []):
        console.print(f"budget C={_fmt(row['C'])}: N_opt={_fmt(row['N_opt'])} D_opt={_fmt(row['D_opt'])} "
                      f"loss={_fmt(row['loss'])}")
