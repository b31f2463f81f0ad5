"""rich tables for a `qtk bench-moe` result (built here, printed by the CLI): cost, time per
batch size (forward and forward+backward), routing balance, and dispatch against the naive loop."""

from __future__ import annotations

from rich.table import Table


def _ms(s: dict) -> str:
    """Median and half the interquartile range as a share of it: '25.0 ±4%'."""
    spread = (s["q75_ms"] - s["q25_ms"]) / 2 / s["median_ms"] if s["median_ms"] > 0 else 0.0
    return f"{s['median_ms']:.3g} ±{100 * spread:.0f}%"


def _variant_columns(t: Table) -> None:
    t.add_column("layer")
    t.add_column("E", justify="right")
    t.add_column("k", justify="right")


def _variant_cells(v: dict) -> list[str]:
    return [v["router"] or "dense", str(v["n_experts"]), str(v["top_k"])]


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def tables(result: dict) -> list[Table]:
    return [cost_table(result), time_table(result, "fwd"), time_table(result, "fwd_bwd"),
            routing_table(result), dispatch_table(result)]


def cost_table(result: dict) -> Table:
    rows = result["variants"]
    dense = rows[0]["timings"][-1]
    n = dense["tokens"]
    t = Table(title=f"cost at n_embd {result['config']['n_embd']}: times at {n:,} tokens per batch, "
                    "FLOP/s = analytic FLOPs x tokens/s")
    _variant_columns(t)
    for col in ("params", "active", "FLOP/tok", "fwd tok/s", "f+b tok/s", "f+b ×dense", "f+b FLOP/s"):
        t.add_column(col, justify="right")
    for v in rows:
        last = v["timings"][-1]
        ratio = last["fwd_bwd"]["median_ms"] / dense["fwd_bwd"]["median_ms"]
        achieved = v["flops_per_token"]["fwd_bwd"] * last["fwd_bwd"]["tokens_per_s"]
        t.add_row(*_variant_cells(v), _si(v["params_total"]), _si(v["params_active"]), _si(v["flops_per_token"]["fwd"]),
                  _si(last["fwd"]["tokens_per_s"]), _si(last["fwd_bwd"]["tokens_per_s"]), f"{ratio:.2f}",
                  _si(achieved))
    return t


def time_table(result: dict, mode: str) -> Table:
    label = {"fwd": "forward (eval, no grad)",
             "fwd_bwd": "forward+backward (train mode: tokens over capacity skip the experts)"}[mode]
    t = Table(title=f"{label}: ms per batch, median ±IQR/2")
    _variant_columns(t)
    for n in result["config"]["tokens"]:
        t.add_column(f"{n:,} tok", justify="right")
    for v in result["variants"]:
        t.add_row(*_variant_cells(v), *(_ms(x[mode]) for x in v["timings"]))
    return t


def routing_table(result: dict) -> Table:
    c = result["config"]
    probe = f"probe trained {c['train_steps']} steps" if c["train_steps"] else "fresh probe"
    B, T = c["route_batch"]
    t = Table(title=f"routing: {c['route_tokens']:,} held-out {c['data']} tokens, {probe}, "
                    f"capacity factor {c['capacity_factor']:g} per {B}x{T} batch")
    trained = any("training" in v for v in result["variants"])
    _variant_columns(t)
    for col in ["share min–max", "std", "CV", "MaxVio", "dropped", "no expert", "entropy/max"] + (
            ["val loss"] if trained else []):
        t.add_column(col, justify="right")
    for v in result["variants"]:
        r = v["routing"]
        ent = f"{r['entropy']:.2f}/{r['entropy_max']:.2f}" if "entropy" in r else "-"
        extra = [f"{v['training']['val_loss']:.3f}"] if "training" in v else ([""] if trained else [])
        t.add_row(*_variant_cells(v), f"{min(r['share']):.3f}–{max(r['share']):.3f}", f"{r['std']:.4f}",
                  f"{r['cv']:.3f}", f"{r['maxvio']:.3f}", f"{100 * r['drop_rate']:.1f}%",
                  f"{100 * r['unrouted_rate']:.1f}%", ent, *extra)
    return t


def dispatch_table(result: dict) -> Table:
    t = Table(title="dispatch: the layer's grouped dispatch vs a naive per-expert loop, ms median ±IQR/2")
    _variant_columns(t)
    for col in ("tokens", "grouped fwd", "naive fwd", "naive/grouped", "grouped f+b", "naive f+b",
                "naive/grouped", "max |Δ| out", "max |Δ| grad"):
        t.add_column(col, justify="right")
    for v in result["variants"]:
        for d in v.get("dispatch", []):
            t.add_row(*_variant_cells(v), f"{d['tokens']:,}", _ms(d["grouped"]["fwd"]), _ms(d["naive"]["fwd"]),
                      f"{d['speedup']['fwd']:.2f}x", _ms(d["grouped"]["fwd_bwd"]), _ms(d["naive"]["fwd_bwd"]),
                      f"{d['speedup']['fwd_bwd']:.2f}x", f"{d['max_abs_diff']:.1e}", f"{d['max_abs_grad_diff']:.1e}")
    return t
