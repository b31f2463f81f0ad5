"""Learning curves of a comparison: held-out bits per byte (the periodic evaluations) against
training tokens and against wall-clock seconds, one line per config (mean over seeds) with a band
of +- one standard deviation. Needs matplotlib (the `plot` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qtk.errors import UsageError


def curves(summary: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'qtk[plot]'") from None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for row in summary["configs"]:
        runs = [r["curve"] for r in summary["runs"] if r["config"] == row["name"] and r["curve"]]
        for ax, key in zip(axes, ("tokens", "elapsed")):
            x, mean, std = mean_band(runs, key)
            if len(x):
                line, = ax.plot(x, mean, label=f"{row['name']} ({len(runs)} seeds)")
                ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axes[0].set_xlabel("training tokens")
    axes[1].set_xlabel("wall-clock seconds (training + periodic evaluation)")
    axes[0].set_ylabel("held-out bits per byte")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"baseline {summary['baseline']}: mean over seeds, band ±1 std")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def mean_band(runs: list[list[dict[str, float]]], key: str, points: int = 50) -> tuple[np.ndarray, ...]:
    """Mean and std over runs of bpb against `key`, each run interpolated onto a shared grid over
    the range every run covers (seeds evaluate at the same tokens but at different seconds)."""
    runs = [r for r in runs if r]
    if not runs:
        return np.array([]), np.array([]), np.array([])
    lo = max(r[0][key] for r in runs)
    hi = min(r[-1][key] for r in runs)
    if hi <= lo:
        x = np.array([hi])
    elif key == "tokens" and all([p["tokens"] for p in r] == [p["tokens"] for p in runs[0]] for r in runs):
        x = np.array([p["tokens"] for p in runs[0]], dtype=float)
    else:
        x = np.linspace(lo, hi, points)
    ys = np.stack([np.interp(x, [p[key] for p in r], [p["bpb"] for p in r]) for r in runs])
    return x, ys.mean(0), ys.std(0, ddof=1) if len(runs) > 1 else np.zeros_like(x)
