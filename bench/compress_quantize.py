"""Compression and quantization of one checkpoint, side by side (issue 5).

Runs the cores of `qtk compress` and `qtk quantize` on CHECKPOINT and prints Markdown tables:
1. pruning: magnitude vs Wanda at 50% unstructured and 2:4, held-out ppl/bpb before and after
   (the same windows for every model);
2. quantization: int8 per-channel RTN, int4 g128 RTN / GPTQ / AWQ (and int4 g128 with zero
   points): ppl delta vs fp32, size ratio of the linear weights and of the file, and tokens/s of
   fp32 vs dequantize-on-the-fly vs torch dynamic int8 (prefill: one forward over 8 x block
   tokens; decode: batch 1 with KV cache), timed round-robin, best of --speed-rounds.

Usage: python bench/compress_quantize.py CHECKPOINT [--eval-tokens 32768] [--calib 128]
                                         [--speed-rounds 3] [--threads 1] [--only prune|quant]
                                         [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from qtk.compress.prune import compress
from qtk.compress.quantize import quantize

PRUNE = [("magnitude", "0.5"), ("wanda", "0.5"), ("magnitude", "2:4"), ("wanda", "2:4")]
QUANT = [("int8 per-channel RTN", dict(bits=8, method="rtn")),
         ("int4 g128 RTN", dict(bits=4, group=128, method="rtn")),
         ("int4 g128 +zp RTN", dict(bits=4, group=128, zero_point=True, method="rtn")),
         ("int4 g128 GPTQ", dict(bits=4, group=128, method="gptq")),
         ("int4 g128 AWQ", dict(bits=4, group=128, method="awq"))]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def prune_table(ckpt: str, tmp: Path, args) -> tuple[list[str], list[dict]]:
    rows, raw = [], []
    for method, spec in PRUNE:
        t0 = time.perf_counter()
        r = compress(ckpt, method, spec, tmp / f"{method}-{spec.replace(':', '_')}.safetensors", calib_n=args.calib,
                     eval_tokens=args.eval_tokens, speed_rounds=0, force=True)
        r["seconds"] = time.perf_counter() - t0
        raw.append(r)
        b, a = r["before"], r["after"]
        rows.append(f"| {method} | {spec} | {r['achieved_sparsity']:.4%} | {b['ppl']:.3f} | {a['ppl']:.3f} | "
                    f"{r['ppl_delta_pct']:+.2f}% | {b['bpb']:.4f} | {a['bpb']:.4f} | {r['seconds']:.0f} s |")
    head = ["| method | sparsity | achieved | ppl before | ppl after | Δppl | bpb before | bpb after | time |",
            "|---|---|---|---|---|---|---|---|---|"]
    return head + rows + ["", f"Protocol: {raw[0]['protocol']}. Wanda calibration: {args.calib} training "
                              f"sequences. Embeddings/head not pruned."], raw


def _speed(m: dict, key: str) -> str:
    return f"{m[key]:,.0f}" if key in m else "n/a"


def quant_table(ckpt: str, tmp: Path, args) -> tuple[list[str], list[dict]]:
    rows, raw = [], []
    for label, kw in QUANT:
        t0 = time.perf_counter()
        r = quantize(ckpt, out=tmp / f"{label.replace(' ', '_')}.safetensors", calib_n=args.calib,
                     eval_tokens=args.eval_tokens, speed_rounds=args.speed_rounds, force=True, **kw)
        r["seconds"], r["label"] = time.perf_counter() - t0, label
        raw.append(r)
        f, d, y = r["fp32"], r["dequant"], r["dynamic_int8"]
        rtn = f"{r['rtn']['ppl_delta_pct']:+.2f}%" if "rtn" in r else ""
        dyn = f"{y['ppl']:.3f} ({y['ppl_delta_pct']:+.2f}%)" if "ppl" in y else "n/a"
        prefill = " / ".join(_speed(m, "prefill_tokens_per_s") for m in (f, d, y))
        decode = " / ".join(_speed(m, "decode_tokens_per_s") for m in (f, d, y))
        rows.append(f"| {label} | {f['ppl']:.3f} | {d['ppl']:.3f} | {d['ppl_delta_pct']:+.2f}% | {rtn} | {dyn} | "
                    f"{r['linear_size_ratio']:.2f}x | {r['file_size_ratio']:.2f}x | {prefill} | {decode} | "
                    f"{r['cpu_runtime']} | {r['seconds']:.0f} s |")
    head = ["| scheme | fp32 ppl | ppl | Δppl | Δppl of RTN | as dynamic int8 | linear size | file size | "
            "prefill tok/s fp32 / dequant / dyn-int8 | decode tok/s fp32 / dequant / dyn-int8 | CPU runtime | time |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    return head + rows + ["", f"Protocol: {raw[0]['protocol']}. GPTQ/AWQ calibration: {args.calib} training "
                              f"sequences. The LM head (tied to the embedding) stays fp32."], raw


def targets(raw: dict[str, list[dict]]) -> list[str]:
    """The issue's targets, each with the measured figure and met / not met."""
    out = []
    by = {(r["method"], r["sparsity"]): r["ppl_delta_pct"] for r in raw.get("prune", [])}
    for spec in ("0.5", "2:4"):
        if ("wanda", spec) in by and ("magnitude", spec) in by:
            w, m = by[("wanda", spec)], by[("magnitude", spec)]
            out.append(f"- Wanda vs magnitude at {spec}: Δppl {w:+.2f}% vs {m:+.2f}% "
                       f"({'met' if w < m else 'NOT met'}: Wanda's increase must be smaller)")
    q = {r["label"]: r for r in raw.get("quant", [])}
    checks = [("int8 per-channel RTN", "dequant", "ppl_delta_pct", 0.5, "Δppl ≤ +0.5%"),
              ("int4 g128 RTN", "dequant", "ppl_delta_pct", 5.0, "Δppl ≤ +5%")]
    for label, key, field, limit, text in checks:
        if label in q:
            v = q[label][key][field]
            out.append(f"- {label}: Δppl {v:+.2f}% ({'met' if v <= limit else 'NOT met'}: {text})")
    for label in ("int4 g128 RTN", "int4 g128 GPTQ", "int4 g128 AWQ"):
        if label in q:
            v = q[label]["linear_size_ratio"]
            out.append(f"- {label}: linear weights {v:.2f}x smaller ({'met' if v >= 3.5 else 'NOT met'}: ≥ 3.5x)")
    for label in ("int4 g128 GPTQ", "int4 g128 AWQ"):
        if label in q and "rtn" in q[label]:
            r = q[label]
            out.append(f"- {label}: Δppl {r['dequant']['ppl_delta_pct']:+.2f}% vs RTN "
                       f"{r['rtn']['ppl_delta_pct']:+.2f}% (gain {r['ppl_gain_over_rtn_pct']:+.2f} points)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--eval-tokens", type=int, default=32768)
    ap.add_argument("--calib", type=int, default=128)
    ap.add_argument("--speed-rounds", type=int, default=3)
    ap.add_argument("--only", choices=["prune", "quant"])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared box a second OpenMP thread mostly waits for a time slice)")
    ap.add_argument("--json", type=Path, help="Also write every report as JSON here.")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lines = [f"Checkpoint `{args.checkpoint}`; {machine()}; {datetime.date.today()}", ""]
    raw: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "quant":
            table, raw["prune"] = prune_table(args.checkpoint, Path(tmp), args)
            lines += ["Pruning:", ""] + table + [""]
            print("\n".join(lines), flush=True)
            lines = []
        if args.only != "prune":
            table, raw["quant"] = quant_table(args.checkpoint, Path(tmp), args)
            lines += ["Quantization:", ""] + table
            print("\n".join(lines), flush=True)
    print("\n".join(["", "Targets:", ""] + targets(raw)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
