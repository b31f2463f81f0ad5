"""Score checkpoints on held-out text: loss, perplexity, bits per byte, top-1/top-5 accuracy,
tokens/s and peak memory, over the whole text in sliding windows. Several checkpoints print a
side-by-side table."""

from pathlib import Path
from typing import List, Optional

import typer

from qtk.cli import common

COLUMNS = [("loss", "{:.4f}"), ("ppl", "{:.3f}"), ("bpb", "{:.4f}"), ("top1", "{:.2%}"), ("top5", "{:.2%}"),
           ("tokens", "{:,}"), ("tokens_per_s", "{:,.0f}"), ("peak_mem_mb", "{:,.0f}")]


def command(
    paths: List[Path] = typer.Argument(..., help="Checkpoint files or run directories."),
    data: Optional[str] = typer.Option(
        None, "--data", help="shakespeare | pydoc | text file/dir (scored whole) | token-shard dir. "
                             "Default: the model's own held-out split."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Window stride in tokens (default half the context)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Windows per forward pass."),
    device: str = common.device_option(),
    config_file: Optional[Path] = common.config_option(common.CONFIG_FOR_STATE_DICT),
    json_out: bool = common.json_option("JSON on stdout (a list when several paths are given)."),
) -> None:
    from qtk.eval import evaluate_checkpoint

    results = [evaluate_checkpoint(str(p), data, config_file=str(config_file) if config_file else None,
                                   stride=stride, batch_size=batch_size, device=device) for p in paths]
    if json_out:
        common.print_json(results[0] if len(results) == 1 else results)
        return
    from rich.table import Table

    table = Table(title=f"held-out: {results[0]['data']}")
    table.add_column("checkpoint", overflow="fold")
    for name, _ in COLUMNS:
        table.add_column(name, justify="right")
    for r in results:
        table.add_row(r["path"], *[fmt.format(r[name]) for name, fmt in COLUMNS])
    console = common.out_console()
    console.width = max(console.width, 140)
    console.print(table)
