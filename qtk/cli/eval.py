"""Score checkpoints on held-out text: loss, perplexity, bits per byte, top-1/top-5 accuracy,
tokens/s and peak memory, over the whole text in sliding windows (`--data mqar`: the recall
task's answers, with their accuracy; `--data passkey`: the passkey retrieval test by distance).
Several checkpoints print a side-by-side table."""

from pathlib import Path
from typing import List, Optional

import typer

from qtk.cli import common

COLUMNS = [("loss", "{:.4f}"), ("ppl", "{:.3f}"), ("bpb", "{:.4f}"), ("top1", "{:.2%}"), ("top5", "{:.2%}"),
           ("tokens", "{:,}"), ("tokens_per_s", "{:,.0f}"), ("peak_mem_mb", "{:,.0f}")]


def command(
    paths: List[Path] = typer.Argument(..., help="Checkpoint files or run directories."),
    data: Optional[str] = typer.Option(
        None, "--data", help="shakespeare | pydoc | mqar (recall task: adds answer_accuracy) | passkey (passkey "
                             "retrieval by distance: data.passkey.*) | text file/dir (scored whole) | token-shard "
                             "dir. Default: the model's own held-out split."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Window stride in tokens (default half the context)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Windows per forward pass (default: "
                                             "as many as fit in memory, at most 32)."),
    device: str = common.device_option(),
    no_memory: bool = typer.Option(False, "--no-memory", help="Score a kNN-memory model without its memory (the "
                                   "same weights on the same segments: the memory-off baseline)."),
    memory: Optional[Path] = typer.Option(None, "--memory", help="Corpus memory built by this checkpoint (qtk "
                                          "build-memory) that its kNN layer also searches."),
    sets: Optional[List[str]] = common.sets_option("Override data.* (e.g. data.passkey.distances=64k) or the "
                                                   "memory's search-time settings (model.knn.backend=exact, "
                                                   "model.knn.ef=256, ...)."),
    config_file: Optional[Path] = common.config_option(common.CONFIG_FOR_STATE_DICT),
    json_out: bool = common.json_option("JSON on stdout (a list when several paths are given)."),
) -> None:
    from qtk.eval import evaluate_checkpoint

    results = [evaluate_checkpoint(str(p), data, config_file=str(config_file) if config_file else None,
                                   stride=stride, batch_size=batch_size, device=device,
                                   sets=common.parse_sets(sets), memory=not no_memory,
                                   corpus=str(memory) if memory else None,
                                   notice=lambda msg: common.err_console().print(f"note: {msg}")) for p in paths]
    if json_out:
        common.print_json(results[0] if len(results) == 1 else results)
        return
    from rich.table import Table

    if "distances" in results[0]:
        return _passkey_table(results)
    table = Table(title=f"held-out: {results[0]['data']}")
    table.add_column("checkpoint", overflow="fold")
    columns = COLUMNS + ([("answer_accuracy", "{:.2%}")] if "answer_accuracy" in results[0] else [])
    for name, _ in columns:
        table.add_column(name, justify="right")
    for r in results:
        table.add_row(r["path"], *[fmt.format(r[name]) for name, fmt in columns])
    console = common.out_console()
    console.width = max(console.width, 140)
    console.print(table)


PASSKEY_COLUMNS = [("distance", "{:,}"), ("samples", "{}"), ("exact_match", "{:.1%}"), ("hit_at_k", "{:.1%}"),
                   ("recall_at_k", "{:.3f}"), ("search_ms_p50", "{:.3f}"), ("search_ms_p95", "{:.3f}"),
                   ("insert_items_per_s", "{:,.0f}")]


def _passkey_table(results: list[dict]) -> None:
    from rich.table import Table

    table = Table(title=f"passkey retrieval: {results[0]['data']}")
    table.add_column("checkpoint", overflow="fold")
    table.add_column("memory")
    for name, _ in PASSKEY_COLUMNS:
        table.add_column(name.replace("_", " "), justify="right")
    table.add_column("peak RSS MB", justify="right")
    for r in results:
        for row in r["distances"]:
            memory = "/".join(row["backends"]) if r["memory"] else "off"
            cells = ["-" if row[name] is None else fmt.format(row[name]) for name, fmt in PASSKEY_COLUMNS]
            table.add_row(r["path"], memory, *cells, f"{r['peak_mem_mb']:,.0f}")
    console = common.out_console()
    console.width = max(console.width, 160)
    console.print(table)
