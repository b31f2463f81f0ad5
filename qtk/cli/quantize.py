"""Quantize a checkpoint's linear layers (weight-only): --bits 8 (symmetric, per output channel)
or --bits 4 (--group columns per scale, optional --zero-point, two values per byte), by
round-to-nearest, GPTQ or AWQ-style scaling (--method, calibrated on --calib training
sequences). Prints the size ratio, held-out perplexity and bits per byte vs fp32 on the same
windows, and tokens/s of fp32, dequantize-on-the-fly and torch dynamic int8 (CPU). The output
checkpoint loads everywhere (eval, generate) with quantized linear layers.

--format onnx instead exports the model, verifies the fp32 graph against torch and quantizes it
with ONNX Runtime (bits 8: dynamic int8; bits 4: MatMulNBits with --group columns per block), as
`qtk export-onnx --int8/--int4` does, reporting parity, held-out perplexity and speed."""

from pathlib import Path
from typing import Optional

import typer

from qtk.cli import common


def command(
    path: Path = typer.Argument(..., help="Checkpoint file or run directory."),
    out: Path = common.output_option(help="Output checkpoint (.safetensors) or, with --format onnx, the .onnx file."),
    bits: int = typer.Option(..., "--bits", help="8 | 4."),
    group: Optional[int] = common.int4_group_option(None, "Input columns per scale for --bits 4 (default 128)."),
    zero_point: bool = typer.Option(False, "--zero-point", help="Asymmetric int4 with a zero point per group."),
    method: str = typer.Option("rtn", "--method", help="rtn | gptq | awq."),
    calib: int = typer.Option(128, "--calib", min=1,
                              help="Calibration sequences from the training split (gptq, awq)."),
    eval_tokens: int = typer.Option(32768, "--eval-tokens", min=0,
                                    help="Held-out tokens scored per model (0 = whole split)."),
    device: str = common.device_option(),
    seed: int = common.seed_option(0, "Seed for picking calibration sequences."),
    speed_rounds: int = typer.Option(3, "--speed-rounds", min=0,
                                     help="Timing rounds for tokens/s (best of N; 0 = skip)."),
    fmt: str = typer.Option("safetensors", "--format", help="safetensors (qtk checkpoint) | onnx (ONNX Runtime "
                            "quantized model, with past inputs)."),
    force: bool = common.force_option(),
    json_out: bool = common.json_option("Print one JSON object with the figures."),
) -> None:
    from qtk.compress.quantize import check_format

    check_format(fmt)
    if fmt == "onnx":
        from qtk.cli import export_onnx
        from qtk.export.onnx import export_quantized

        export_onnx.run(lambda notice: export_quantized(path, out, bits, group=group, zero_point=zero_point,
                                                        method=method, force=force, eval_tokens=eval_tokens,
                                                        notice=notice), json_out)
        return
    from qtk.compress.quantize import quantize

    err = common.err_console()
    r = quantize(path, bits, out, group=group, zero_point=zero_point, method=method, calib_n=calib, force=force,
                 eval_tokens=eval_tokens, device=device, seed=seed, speed_rounds=speed_rounds,
                 progress=lambda s: err.print(f"[dim]{s}[/]"))
    if json_out:
        common.print_json(r)
    else:
        _render(r)


def _render(r: dict) -> None:
    from rich.table import Table

    mib = 2**20
    grid = f"int{r['bits']}" + (f" g{r['group']}" if r["group"] else " per-channel")
    grid += " +zp" if r["zero_point"] else ""
    t = Table(title=f"{grid} {r['method']}: {r['source']} -> {r['output']}", caption=r["protocol"])
    for col in ("model", "ppl", "Δppl", "bpb", "prefill tok/s", "decode tok/s"):
        t.add_column(col, justify="left" if col == "model" else "right")
    f = r["fp32"]
    timed = "prefill_tokens_per_s" in f
    t.add_row("fp32", f"{f['ppl']:.3f}", "", f"{f['bpb']:.4f}", f"{f['prefill_tokens_per_s']:,.0f}" if timed else "",
              f"{f['decode_tokens_per_s']:,.1f}" if timed else "")
    if "rtn" in r:
        t.add_row(f"{grid} rtn (reference)", f"{r['rtn']['ppl']:.3f}", f"{r['rtn']['ppl_delta_pct']:+.2f}%",
                  f"{r['rtn']['bpb']:.4f}", "", "")
    rows = [("dequant", f"{grid} {r['method']}, dequantize on the fly"), ("dynamic_int8", "  as torch dynamic int8")]
    for key, label in rows:
        m = r[key]
        if m.get("available") is False:
            continue
        speed = [f"{m['prefill_tokens_per_s']:,.0f} (x{m['prefill_speedup']:.2f})",
                 f"{m['decode_tokens_per_s']:,.1f} (x{m['decode_speedup']:.2f})"] if timed else ["", ""]
        t.add_row(label, f"{m['ppl']:.3f}", f"{m['ppl_delta_pct']:+.2f}%", f"{m['bpb']:.4f}", *speed)
    console = common.out_console()
    console.width = max(console.width, 120)
    console.print(t)
    console.print(f"linear weights: {r['linear_fp32_bytes'] / mib:,.2f} MiB fp32 -> "
                  f"{r['linear_quantized_bytes'] / mib:,.2f} MiB ({r['linear_size_ratio']:.2f}x smaller); "
                  f"file {r['size_before_bytes'] / mib:,.2f} -> "
                  f"{r['size_after_bytes'] / mib:,.2f} MiB ({r['file_size_ratio']:.2f}x)")
    if "ppl_gain_over_rtn_pct" in r:
        console.print(f"{r['method']} vs round-to-nearest: ppl {r['dequant']['ppl_delta_pct']:+.2f}% instead of "
                      f"{r['rtn']['ppl_delta_pct']:+.2f}% ({r['ppl_gain_over_rtn_pct']:+.2f} points better)")
    if r["dynamic_int8"].get("available") is False:
        console.print(f"torch dynamic int8: not measured ({r['dynamic_int8']['reason']})")
    console.print(f"runtime used on CPU when loaded: {r['cpu_runtime']} "
                  "(override with QTK_QUANT_RUNTIME=dequant|dynamic-int8)")
    for note in r["notes"]:
        console.print(f"note: {note}")

