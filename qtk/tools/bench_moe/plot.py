"""The --plot figure of `qtk bench-moe`: per-expert load of the variants with the most experts
(the mean share and the capacity share marked), and forward / forward+backward time against
tokens per batch on log-log axes, the interquartile range as error bars. matplotlib is optional
(`pip install 'qtk[plot]'`), imported only here, with the Agg backend.
"""

from __future__ import annotations

from pathlib import Path

from qtk.errors import QtkError
from qtk.tools.plotting import pyplot as _pyplot

STYLES = {("switch", 1): "-", ("switch", 2): "--", ("hash", 1): ":"}


def save_plot(result: dict, path: str | Path) -> Path:
    """Write the figure for a bench_moe result to `path` (PNG, or any format matplotlib knows)."""
    plt = _pyplot()
    path = Path(path)
    fig, axes = plt.subplots(1, 3, figsize=(17, 5), constrained_layout=True)
    _load_panel(axes[0], result)
    for ax, mode, title in ((axes[1], "fwd", "forward"), (axes[2], "fwd_bwd", "forward + backward")):
        _time_panel(ax, result, mode, title)
    m = result["machine"]
    fig.suptitle(f"qtk bench-moe: n_embd {result['config']['n_embd']}, {m['device']}, "
                 f"{m['threads']} threads, {m['date'][:10]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=110)
    except (OSError, ValueError) as e:
        raise QtkError(f"--plot {path}: could not write the figure ({e})") from None
    finally:
        plt.close(fig)
    return path


def _load_panel(ax, result: dict) -> None:
    moe = [v for v in result["variants"] if v["ffn"] == "moe"]
    if not moe:
        ax.set_axis_off()
        return
    E = max(v["n_experts"] for v in moe)
    shown = [v for v in moe if v["n_experts"] == E]
    width = 0.8 / len(shown)
    for i, v in enumerate(shown):
        xs = [e + (i - (len(shown) - 1) / 2) * width for e in range(E)]
        r = v["routing"]
        ax.bar(xs, r["share"], width, label=f"{v['router']} k={v['top_k']}: CV {r['cv']:.2f}, "
                                            f"drop {100 * r['drop_rate']:.1f}%")
    ax.axhline(1 / E, color="black", lw=1, label="balanced (1/E)")
    cf = result["config"]["capacity_factor"]
    if cf > 0:
        ax.axhline(cf / E, color="tab:red", lw=1, ls="--", label=f"capacity (factor {cf:g})")
    ax.set(xlabel="expert", ylabel="share of assignments",
           title=f"load, E={E}, {shown[0]['routing']['tokens']:,} held-out tokens")
    ax.legend(fontsize=7)


def _time_panel(ax, result: dict, mode: str, title: str) -> None:
    import matplotlib as mpl

    experts = sorted({v["n_experts"] for v in result["variants"] if v["ffn"] == "moe"})
    cmap = mpl.colormaps["viridis"]
    for v in result["variants"]:
        ts = v["timings"]
        xs = [t["tokens"] for t in ts]
        med = [t[mode]["median_ms"] for t in ts]
        err = [[t[mode]["median_ms"] - t[mode]["q25_ms"] for t in ts],
               [t[mode]["q75_ms"] - t[mode]["median_ms"] for t in ts]]  # IQR as asymmetric error bars
        if v["ffn"] == "mlp":
            style = {"color": "black", "lw": 2.5, "ls": "-"}
        else:
            shade = experts.index(v["n_experts"]) / max(len(experts) - 1, 1)
            style = {"color": cmap(0.85 * shade), "lw": 1.3, "ls": STYLES.get((v["router"], v["top_k"]), "-.")}
        ax.errorbar(xs, med, yerr=err, capsize=2, marker="o", ms=3, label=v["name"], **style)
    ax.set(xscale="log", yscale="log", xlabel="tokens per batch", ylabel="median time per call (ms)", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
