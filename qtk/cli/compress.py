"""Prune a checkpoint's linear layers to a target sparsity: --method magnitude (|W|) or wanda
(|W|·‖X‖ with activations from --calib training sequences), --sparsity 0.5 (unstructured, per
output row) or 2:4 / 4:8 (N:M along the input dimension). Checks the sparsity exactly, prints
size, parameter and non-zero counts, held-out perplexity and bits per byte before and after on
the same windows, and speed (2:4 sparse kernels on CUDA sm80+). Writes a normal checkpoint."""

from pathlib import Path

import typer

from qtk.cli import common


def _size(n: int) -> str:
    return f"{n / 2**20:,.2f} MiB"


def command(
    path: Path = typer.Argument(..., help="Checkpoint file or run directory."),
    out: Path = common.output_option(help="Output checkpoint file (.safetensors)."),
    method: str = typer.Option("wanda", "--method", help="magnitude | wanda."),
    sparsity: str = typer.Option("0.5", "--sparsity", help="Fraction (0.5, 50%) or N:M (2:4, 4:8)."),
    calib: int = typer.Option(128, "--calib", min=1, help="Calibration sequences from the training split (wanda)."),
    include_embeddings: bool = typer.Option(False, "--include-embeddings",
                                            help="Also prune the LM head / token embedding."),
    eval_tokens: int = typer.Option(32768, "--eval-tokens", min=0,
                                    help="Held-out tokens scored before and after (0 = whole split)."),
    device: str = common.device_option(),
    seed: int = common.seed_option(0, "Seed for picking calibration sequences."),
    speed_rounds: int = typer.Option(3, "--speed-rounds", min=0,
                                     help="Timing rounds for tokens/s (best of N; 0 = skip)."),
    force: bool = common.force_option(),
    json_out: bool = common.json_option("Print one JSON object with the figures."),
) -> None:
    from qtk.compress.prune import compress

    err = common.err_console()
    r = compress(path, method, sparsity, out, calib_n=calib, include_embeddings=include_embeddings, force=force,
                 eval_tokens=eval_tokens, device=device, seed=seed, speed_rounds=speed_rounds,
                 progress=lambda s: err.print(f"[dim]{s}[/]"))
    if json_out:
        common.print_json(r)
        return
    from rich.table import Table

    b, a = r["before"], r["after"]
    t = Table(title=f"{r['method']} {r['sparsity']}: {r['source']} -> {r['output']}", caption=r["protocol"])
    for col in ("", "before", "after", "change"):
        t.add_column(col, justify="right" if col else "left")
    t.add_row("parameters", f"{r['params']:,}", f"{r['params']:,}", "")
    t.add_row("non-zero", f"{r['nonzero_before']:,}", f"{r['nonzero_after']:,}",
              f"{r['nonzero_after'] / r['nonzero_before'] - 1:+.1%}")
    t.add_row(f"sparsity of {len(r['layers'])} pruned layers", "", f"{r['achieved_sparsity']:.4%}",
              f"target {r['target_sparsity']:.4%}")
    t.add_row("size on disk", _size(r["size_before_bytes"]), _size(r["size_after_bytes"]), "")
    t.add_row("held-out loss", f"{b['loss']:.4f}", f"{a['loss']:.4f}", f"{a['loss'] - b['loss']:+.4f}")
    t.add_row("perplexity", f"{b['ppl']:.3f}", f"{a['ppl']:.3f}", f"{r['ppl_delta_pct']:+.2f}%")
    t.add_row("bits per byte", f"{b['bpb']:.4f}", f"{a['bpb']:.4f}", f"{r['bpb_delta_pct']:+.2f}%")
    s = r["speed"]
    for kind in ("prefill", "decode") if "before" in s else ():
        before, after = s["before"][f"{kind}_tokens_per_s"], s["after"][f"{kind}_tokens_per_s"]
        t.add_row(f"{kind} tokens/s (dense kernels, {s['device']})", f"{before:,.0f}", f"{after:,.0f}",
                  f"x{after / before:.2f}")
    k = s["sparse_kernel"]
    if k["available"]:
        t.add_row("tokens/s fp16 dense vs 2:4 sparse", f"{k['dense_tokens_per_s']:,.0f}",
                  f"{k['sparse_tokens_per_s']:,.0f}", f"x{k['speedup']:.2f}")
    console = common.out_console()
    console.print(t)
    if not k["available"]:
        console.print(f"sparse kernels: not available ({k['reason']})")
    for note in r["notes"]:
        console.print(f"note: {note}")
