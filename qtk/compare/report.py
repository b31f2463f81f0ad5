"""The comparison's summary (one dict, the `--json` output) and its renderings as cells shared
by the rich table and the markdown table. Pure Python; no torch."""

from __future__ import annotations

import dataclasses
from typing import Any

from qtk.compare.stats import Interval, paired, ratio_geomean, t_interval

HEADER = ["config", "seeds", "held-out bpb", "95% CI", "Δ bpb (paired)", "Δ 95% CI", "verdict",
          "params", "MFLOP/token", "tok/s vs base", "peak MB"]


def summarize(comp: Any, tolerance: float = 0.05) -> dict[str, Any]:
    """Per config: bits per byte over seeds, the paired difference to the first config (the
    baseline), size, compute, throughput ratio and peak memory; notes on what to mind."""
    names = [e.name for e in comp.entries]
    by = {n: {r["seed"]: r for r in comp.records if r["config"] == n} for n in names}
    base = by[names[0]]
    rows = [_row(n, by[n], base, tolerance, getattr(comp, "speed", None)) for n in names if by[n]]
    loads = [x for r in comp.records for x in (r["load_before"], r["load_after"])]
    summary = {
        "baseline": names[0], "budget": dataclasses.asdict(comp.budget), "seeds": comp.seeds,
        "finished_runs": len(comp.records), "planned_runs": len(names) * len(comp.seeds),
        "interrupted": comp.interrupted, "torch_threads": comp.threads, "match_tolerance": tolerance,
        "load_average": {"min": min(loads), "max": max(loads)} if loads else None,
        "speed_load_average": getattr(comp, "speed_load", None),
        "configs": rows, "runs": comp.records,
    }
    summary["notes"] = _notes(summary, rows)
    return summary


def _row(name: str, runs: dict[int, dict], base: dict[int, dict], tol: float,
         speed: dict[str, list[float]] | None) -> dict[str, Any]:
    first = next(iter(runs.values()))
    b0 = next(iter(base.values()), None)
    diff = paired({s: r["val_bpb"] for s, r in runs.items()}, {s: r["val_bpb"] for s, r in base.items()})
    ratio = ratio_geomean({s: r["tokens_per_s"] for s, r in runs.items()},
                          {s: r["tokens_per_s"] for s, r in base.items()})
    side_by_side = None
    if speed and name in speed and b0 is not None and b0["config"] in speed:
        side_by_side = ratio_geomean(dict(enumerate(speed[name])), dict(enumerate(speed[b0["config"]])))
    params_rel = first["params"] / b0["params"] - 1 if b0 else None
    flops_rel = first["flops_per_token"] / b0["flops_per_token"] - 1 if b0 else None
    return {
        "name": name, "seeds": sorted(runs), "tokenizer": first["tokenizer"],
        "tokens": sum(r["tokens"] for r in runs.values()) / len(runs), "params": first["params"], "flops_per_token": first["flops_per_token"],
        "bpb": dataclasses.asdict(t_interval([r["val_bpb"] for r in runs.values()])),
        "diff_bpb": dataclasses.asdict(diff) if diff else None,
        "verdict": _verdict(diff) if name != _name(base) else "baseline",
        "tokens_per_s": sum(r["tokens_per_s"] for r in runs.values()) / len(runs),
        "tokens_per_s_ratio": side_by_side if side_by_side is not None else ratio,
        "tokens_per_s_ratio_runs": ratio, "tokens_per_s_side_by_side": speed.get(name) if speed else None,
        "peak_mem_mb": max(r["peak_mem_mb"] for r in runs.values()),
        "params_rel": params_rel, "flops_rel": flops_rel,
        "matched": None if b0 is None else {"params": abs(params_rel) <= tol, "flops": abs(flops_rel) <= tol},
    }


def _name(runs: dict[int, dict]) -> str | None:
    return next(iter(runs.values()))["config"] if runs else None


def _verdict(diff: Interval | None) -> str:
    """Lower bits per byte is better; an interval that straddles 0 has not told them apart."""
    if diff is None or diff.low is None:
        return "n/a (one seed)" if diff is not None else "n/a"
    if not diff.excludes_zero():
        return "not resolved"
    return "better" if diff.high < 0 else "worse"


def _notes(summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    notes = []
    if summary["finished_runs"] < summary["planned_runs"]:
        notes.append(f"partial: {summary['finished_runs']} of {summary['planned_runs']} runs finished; rerun "
                     "the same command to continue")
    toks = sorted({r["tokenizer"] for r in rows})
    if len(toks) > 1:
        which = ", ".join(f"{r['name']}: {r['tokenizer']}" for r in rows)
        notes.append(f"tokenizers differ ({which}): bits per "
                     "byte compares them, per-token loss and perplexity would not; a token budget is a different "
                     "amount of text for each tokenizer")
    for r in rows:
        m = r["matched"]
        if m is not None and not (m["params"] or m["flops"]):
            notes.append(f"warning: {r['name']} is matched to the baseline on neither parameters "
                         f"({r['params_rel']:+.1%}) nor FLOPs per token ({r['flops_rel']:+.1%}) within "
                         f"{summary['match_tolerance']:.0%}")
    if any(r["tokens_per_s_side_by_side"] for r in rows):
        at = summary["speed_load_average"]
        notes.append("tok/s vs base: measured side by side after training (a few optimizer steps per config in "
                     "turn, each round's ratio to the baseline, geometric mean over rounds"
                     + (f"; load average {at[0]:.2f} to {at[1]:.2f}" if at else "")
                     + "); the runs' own ratios (median step, per seed) are in --json")
    else:
        notes.append("tok/s vs base: each run's median step throughput over the baseline's in the same seed "
                     "round (geometric mean over rounds)")
    if summary["budget"]["kind"] == "time":
        notes.append("tokens trained in the time (mean over seeds): "
                     + ", ".join(f"{r['name']} {r['tokens']:,.0f}" for r in rows))
    kinds = sorted({r.get("peak_mem_kind", "") for r in summary["runs"]} - {""})
    if kinds:
        notes.append(f"peak MB: {' / '.join(kinds)} at its highest during the run (CPU: the whole process, "
                     "interpreter and torch included)" if "process RSS" in kinds else f"peak MB: {kinds[0]}")
    load = summary["load_average"]
    if load:
        notes.append(f"machine load (1-minute load average) {load['min']:.2f} to {load['max']:.2f} during the "
                     f"runs; {summary['torch_threads']} torch thread(s)")
    return notes


def _interval(d: dict | None, digits: int = 3) -> tuple[str, str]:
    """('mean ± std', '[low, high]') cells; one seed has no spread."""
    if d is None:
        return "—", "—"
    sign = "+" if d.get("signed") else ""
    mean = f"{d['mean']:{sign}.{digits}f}"
    if d["std"] is None:
        return mean, "—"
    return f"{mean} ± {d['std']:.{digits}f}", f"[{d['low']:{sign}.{digits}f}, {d['high']:{sign}.{digits}f}]"


def cells(summary: dict[str, Any]) -> list[list[str]]:
    """One list of strings per config, in HEADER's order."""
    out = []
    for r in summary["configs"]:
        bpb, bpb_ci = _interval(r["bpb"])
        diff, diff_ci = _interval({**r["diff_bpb"], "signed": True} if r["diff_bpb"] else None)
        base = r["verdict"] == "baseline"
        ratio = r["tokens_per_s_ratio"]
        out.append([
            r["name"], str(len(r["seeds"])), bpb, bpb_ci, "—" if base else diff, "—" if base else diff_ci,
            r["verdict"],
            f"{r['params']:,}" + ("" if base or r["params_rel"] is None else f" ({r['params_rel']:+.1%})"),
            f"{r['flops_per_token'] / 1e6:.3f}" + ("" if base or r["flops_rel"] is None else f" ({r['flops_rel']:+.1%})"),
            "—" if ratio is None else f"{ratio:.2f}x", f"{r['peak_mem_mb']:,.0f}",
        ])
    return out


def markdown(summary: dict[str, Any]) -> str:
    """A GitHub-flavoured markdown table, then the notes as a list."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells(summary)]
    budget = summary["budget"]
    lines += ["", f"Budget: {_budget_text(budget)} per run; seeds {', '.join(map(str, summary['seeds']))}; "
              f"baseline {summary['baseline']}; intervals are Student-t 95% over seeds, Δ paired by seed."]
    lines += [f"- {n}" for n in summary["notes"]]
    return "\n".join(lines) + "\n"


def _budget_text(b: dict[str, Any]) -> str:
    return {"tokens": f"{b['value']:,.0f} tokens", "time": f"{b['value']:g} s",
            "flops": f"{b['value']:.3g} training FLOPs"}[b["kind"]]
