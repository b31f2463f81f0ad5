"""The --plot figure: data, fitted law and its extrapolation on log-log axes, breaks marked.

For chinchilla the x axis is compute C = 6ND and the curve is the loss along the compute-optimal
frontier, the curve the fit is usually asked about. matplotlib is optional (`pip install
'qtk[plot]'`) and imported only here, with the Agg backend (no display needed).
"""

from pathlib import Path

import numpy as np

from qtk.errors import QtkError
from qtk.tools.plotting import pyplot as _pyplot
from qtk.tools.scaling.fit import ScalingFit
from qtk.tools.scaling.forms import compute_optimal, predict


def _curve(fit: ScalingFit, grid: np.ndarray) -> np.ndarray:
    if fit.form.kind == "chinchilla":
        return np.array([compute_optimal(fit.params, c)["loss"] for c in grid])
    return predict(fit.form, fit.params, x=grid)


def _draw_curve(ax, fit: ScalingFit, key: np.ndarray, extra: list[float]) -> None:
    train_key = key[~fit.points.test]
    lo, hi = train_key.min(), train_key.max()
    right = max([key.max(), *extra]) * 1.5
    inside = np.geomspace(lo, hi, 300)
    ax.plot(inside, _curve(fit, inside), color="tab:red", lw=2, label=f"fit: {fit.form_name}", zorder=4)
    if right > hi:
        beyond = np.geomspace(hi, right, 200)
        ax.plot(beyond, _curve(fit, beyond), color="tab:red", lw=2, ls="--", label="extrapolation", zorder=4)


def _draw_marks(ax, fit: ScalingFit) -> None:
    for i in range(1, (fit.breaks or 0) + 1):
        d = fit.params[f"d{i}"]
        ax.axvline(d, color="tab:gray", ls=":", lw=1)
        ax.annotate(f" d{i}={d:.3g}", (d, 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, va="bottom", ha="right", fontsize=8, color="tab:gray",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
    floor = 0.5 * fit.points.y.min()  # a CI reaching y <= 0 cannot be drawn on a log axis
    for row in fit.predictions:
        x = row.get("C", row.get("x"))
        err = None
        if "ci95" in row:
            lo = max(row["ci95"][0], min(floor, row["y"]))
            err = [[row["y"] - lo], [row["ci95"][1] - row["y"]]]
        ax.errorbar([x], [row["y"]], yerr=err, fmt="x", color="tab:purple", capsize=3)
    for row in fit.budgets:
        ax.plot([row["C"]], [row["loss"]], "*", ms=12, color="tab:purple")
        ax.annotate(f"N={row['N_opt']:.3g}\nD={row['D_opt']:.3g}", (row["C"], row["loss"]),
                    textcoords="offset points", xytext=(6, 6), fontsize=8)


def save_plot(fit: ScalingFit, path: str | Path) -> Path:
    """Write the figure to `path` (format from its extension, PNG normally)."""
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter

    pts = fit.points
    key = pts.order_key
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(key[~pts.test], pts.y[~pts.test], s=14, color="black", alpha=0.6, label="fitted points", zorder=3)
    if pts.test.any():
        ax.scatter(key[pts.test], pts.y[pts.test], s=18, color="tab:green", alpha=0.8,
                   label="held-out points", zorder=3)
    extra = [r.get("C", r.get("x")) for r in fit.predictions] + [r["C"] for r in fit.budgets]
    _draw_curve(ax, fit, key, extra)
    _draw_marks(ax, fit)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # losses usually span less than a decade: plain tick labels read better than 2x10^-1
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    names = pts.names
    ax.set_xlabel("compute C = 6ND" if fit.form.kind == "chinchilla" else names.get("x", "x"))
    ax.set_ylabel(names.get("y", "y"))
    title = f"{fit.form_name}: RMSLE train {fit.rmsle_train:.3g}" if fit.rmsle_train is not None else fit.form_name
    if fit.rmsle_holdout is not None:
        title += f", held-out {fit.rmsle_holdout:.3g}"
    ax.set_title(title + (" (loss on the compute-optimal frontier)" if fit.form.kind == "chinchilla" else ""),
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    try:
        fig.savefig(path, dpi=120)
    except OSError as e:
        raise QtkError(f"cannot write plot {path}: {e.strerror}") from None
    finally:
        plt.close(fig)
    return path
