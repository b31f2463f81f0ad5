"""Fold a LoRA adapter checkpoint into its base: writes a plain checkpoint (each adapted layer
W + (alpha / r) B A, in fp32; layers of a quantized base that had no adapter stay quantized)
that compress, quantize and export-onnx accept. The base is read from the path recorded in the
adapter checkpoint and must have the recorded sha256."""

from pathlib import Path

import typer

from qtk.cli import common


def command(
    path: Path = typer.Argument(..., help="Adapter checkpoint file or LoRA run directory."),
    out: Path = common.output_option(help="Merged checkpoint file (.safetensors)."),
    force: bool = common.force_option(),
    json_out: bool = common.json_option(),
) -> None:
    from qtk.finetune.merge import merge_checkpoint

    r = merge_checkpoint(path, out, force)
    if json_out:
        common.print_json(r)
        return
    kept = f"; {r['still_quantized']} layers stay quantized" if r["still_quantized"] else ""
    common.out_console().print(f"merged {r['merged_layers']} adapted layers of {r['adapter']} into {r['base']}"
                               f"{kept}: wrote {r['output']}")
