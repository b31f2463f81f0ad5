"""Train a language model on the built-in corpus or your own data.

Settings compose in this order: --size preset, --config FILE.toml, the flags below, then each
--set section.key=value (e.g. --set model.n_layer=4). Writes config.toml, tokenizer.json,
metrics.jsonl and last/best checkpoints into the run directory."""

from pathlib import Path
from typing import List, Optional

import typer

from qtk.cli import common

SIZE_HELP = "Preset: tiny (~1M params), small (~10M), medium (~50M), large (~200M)."


def command(
    size: Optional[str] = typer.Option(None, "--size", "-s", help=SIZE_HELP + " Default tiny."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="byte | bpe."),
    data: Optional[str] = typer.Option(None, "--data", help="Text file or directory of .txt/.md; .jsonl/.parquet/.arrow file or directory; "
                                "hf:NAME or hf:NAME/CONFIG:SPLIT (Hugging Face datasets); or a token-shard dir."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optimizer steps."),
    max_time: Optional[float] = typer.Option(None, "--max-time", help="Wall-clock budget in seconds."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", "-o", help="Run directory (default runs/DATE-TIME)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed."),
    config_file: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML file with [model]/[train]/[data]."),
    sets: Optional[List[str]] = typer.Option(
        None, "--set", help="Override one setting: section.key=value. Components: "
        # the registry names components without importing torch (inline: CLI modules import only typer at top)
        + __import__("qtk.registry", fromlist=["summary"]).summary() + "."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this directory."),
    device: Optional[str] = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N."),
    compile: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile the model."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object with the results on stdout."),
) -> None:
    from qtk import config
    from qtk.errors import UsageError

    flags = {"data.tokenizer": tokenizer, "data.path": data, "train.max_steps": max_steps,
             "train.max_time": max_time, "train.seed": seed, "train.device": device, "train.compile": compile}
    if max_time is not None and max_steps is None:
        flags["train.max_steps"] = 0  # a time budget alone decides the length
    if resume is not None:
        if size or config_file:
            raise UsageError("--resume continues a run with its saved config: drop --size/--config")
        saved = resume / "config.toml"
        if not saved.is_file():
            raise UsageError(f"--resume {resume}: no config.toml there (not a qtk run directory)")
        cfg = config.load(None, saved, flags, common.parse_sets(sets))
    else:
        cfg = config.load(size or "tiny", config_file, flags, common.parse_sets(sets))

    from qtk.cli.progress import TrainProgress
    from qtk.train.loop import train

    with TrainProgress() as reporter:
        result = train(cfg, str(out_dir) if out_dir else None, str(resume) if resume else None, reporter)
    if json_out:
        common.print_json(vars(result))
    else:
        reporter.summary(result)
