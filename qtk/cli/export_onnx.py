"""Export a checkpoint to ONNX (Optimum decoder naming; --with-past adds the KV-cache inputs),
verify it with onnxruntime against torch (max |Δlogits| at batch 1, 3 x sequence 1, 7, 128 and a
64-token greedy generation), optionally quantize it with onnxruntime (--int8 / --int4), and write
it with tokenizer.json and config.toml beside it. Exits 1 when parity fails; then nothing is
written (loosen with --tolerance)."""

from pathlib import Path
from typing import Optional

import typer

from qtk.cli import common


def command(
    path: Path = typer.Argument(..., help="Checkpoint file or run directory."),
    out: Optional[Path] = common.output_option(None, "Output .onnx (default model.onnx, model.int8.onnx or "
                                               "model.int4.onnx in the current directory)."),
    out_old: Optional[Path] = common.renamed_option("--out", "-o/--output"),
    with_past: bool = typer.Option(False, "--with-past", help="Export the KV-cache decoder (past_key_values "
                                   "inputs, present outputs)."),
    opset: int = typer.Option(18, "--opset", help="ONNX opset (the dynamo exporter writes 18 and up)."),
    int8: bool = typer.Option(False, "--int8", help="Quantize with onnxruntime quantize_dynamic (int8 weights)."),
    int4: bool = typer.Option(False, "--int4", help="Quantize MatMuls to com.microsoft.MatMulNBits (4-bit)."),
    group: int = common.int4_group_option(128, "--int4: input columns per scale (32 or 128 usual)."),
    group_old: Optional[int] = common.renamed_option("--block-size", "--group"),
    tolerance: float = typer.Option(1e-4, "--tolerance", help="Max |Δlogits| for the fp32 parity check."),
    eval_tokens: Optional[int] = typer.Option(None, "--eval-tokens", min=0, help="Held-out tokens scored by "
                                              "torch and ONNX (default 16384 with --int8/--int4, else 0)."),
    data: Optional[str] = typer.Option(None, "--data", help="Held-out text for --eval-tokens (default: the "
                                       "model's own validation split)."),
    force: bool = common.force_option(),
    config_file: Optional[Path] = common.config_option(common.CONFIG_FOR_STATE_DICT),
    json_out: bool = common.json_option("Print the report as JSON on stdout."),
) -> None:
    from qtk.errors import UsageError

    out = common.renamed(out, out_old, "--out", "-o/--output")
    group = common.renamed(group, group_old, "--block-size", "--group", default=128)
    if int8 and int4:
        raise UsageError("--int8 and --int4 exclude each other")
    quant = "int8" if int8 else "int4" if int4 else None
    if eval_tokens is None:
        eval_tokens = 16384 if quant else 0
    from qtk.export.onnx import export_onnx

    run(lambda notice: export_onnx(path, out, with_past=with_past, opset=opset, quant=quant, group=group,
                                   force=force, tolerance=tolerance, config_file=config_file,
                                   eval_tokens=eval_tokens, data=data, notice=notice), json_out)


def run(export, json_out: bool) -> None:
    """Run export(notice) under a status line, show its report; exit 1 when parity failed.
    Shared with `qtk quantize --format onnx`."""
    console = common.err_console()
    with console.status("exporting") as status:
        report = export(lambda msg: status.update(msg))
    if json_out:
        common.print_json(report)
    else:
        render(report, common.out_console())
    if not report["passed"]:
        p = report["parity"]
        console.print(f"[red]parity failed[/red]: max |Δlogits| {p['max_abs_logits_delta']:.3g} (tolerance "
                      f"{p['tolerance']:g}), greedy tokens agree for {p['greedy']['matching_prefix']} of "
                      f"{p['greedy']['tokens']}; nothing was written")
        raise typer.Exit(1)


def render(r: dict, console) -> None:
    from rich.table import Table

    p = r["parity"]
    table = Table(title=f"parity vs torch (fp32 graph, tolerance {p['tolerance']:g})")
    for col in ("batch", "seq", "max |Δlogits|", "via past inputs"):
        table.add_column(col, justify="right")
    for row in p["shapes"]:
        past = row.get("max_abs_delta_past")
        table.add_row(str(row["batch"]), str(row["seq"]), f"{row['max_abs_delta']:.2e}",
                      f"{past:.2e}" if past is not None else "-")
    console.print(table)
    g = p["greedy"]
    console.print(f"greedy {g['tokens']} tokens: {'identical' if g['identical'] else 'DIFFER'} "
                  f"({g['matching_prefix']} agree before the first difference)")
    if "source_quantization" in r:
        q = r["source_quantization"]
        console.print(f"the checkpoint is int{q['bits']} ({q['method'] or 'rtn'}, group {q['group']}): exported with its "
                      "dequantized weights as an fp32 graph; --int8/--int4 give an onnxruntime-quantized one")
    if "quantized" in r:
        q = r["quantized"]
        console.print(f"{r['quantization']}: max |Δlogits| {q['max_abs_logits_delta']:.3g} vs torch fp32, greedy "
                      f"{q['greedy']['matching']}/{q['greedy']['tokens']} tokens equal, size "
                      f"{r['size_fp32_bytes'] / 2**20:.2f} -> {r['size_bytes'] / 2**20:.2f} MiB "
                      f"({r['size_fp32_bytes'] / r['size_bytes']:.2f}x smaller)")
    if "speed" in r:
        _render_speed(r["speed"], console)
    if "eval" in r:
        table = Table(title=f"held-out: {r['eval']['data']}, {next(iter(r['eval']['runs'].values()))['tokens']:,} "
                            "tokens (same windows)")
        for col in ("runtime", "loss", "ppl", "bpb", "Δppl"):
            table.add_column(col, justify="right")
        for name, row in r["eval"]["runs"].items():
            table.add_row(name, f"{row['loss']:.4f}", f"{row['ppl']:.3f}", f"{row['bpb']:.4f}",
                          f"{row['ppl_delta_pct']:+.2f}%")
        console.print(table)
    if r["written"]:
        console.print(f"wrote {', '.join(r['files'])} ({r['size_bytes'] / 2**20:.2f} MiB model, opset {r['opset']}, "
                      f"{'with' if r['with_past'] else 'without'} past inputs)")


def _render_speed(s: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"speed, batch 1, {s['threads']} thread(s) each (prefill {s['prefill_tokens']} tokens; "
                        "medians; noisy on a shared machine)")
    for col in ("runtime", "prefill ms", "decode ms/token", "tokens/s", "vs torch"):
        table.add_column(col, justify="right")
    base = s["runs"].get("torch", {}).get("decode_ms")
    for name, row in s["runs"].items():
        ratio = f"{base / row['decode_ms']:.2f}x" if base else "-"
        table.add_row(name, f"{row['prefill_ms']:.2f}", f"{row['decode_ms']:.3f}", f"{row['decode_tok_s']:,.0f}", ratio)
    console.print(table)
