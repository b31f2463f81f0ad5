"""Train a language model on the built-in corpus or your own data.

Settings compose in this order: --size preset, --config FILE.toml, the flags below, then each
--set section.key=value (e.g. --set model.n_layer=4). Writes config.toml, tokenizer.json,
metrics.jsonl and last/best checkpoints into the run directory.

--init-from RUN_OR_CKPT starts from trained weights instead: the settings compose on the
checkpoint's own config (its model settings cannot change), and --set finetune.method=lora trains
LoRA adapters over the frozen base (QLoRA when it is quantized). --data FILE.jsonl with
{"messages": [...]} lines trains on the assistant's turns only."""

from pathlib import Path
from typing import List, Optional

import typer

from qtk.cli import common

# Each flag sets one config key, and says what the key's own help says.
SETTINGS = {"tokenizer": "data.tokenizer", "data": "data.path", "max_steps": "train.max_steps",
            "max_time": "train.max_time", "seed": "train.seed", "device": "train.device",
            "compile": "train.compile", "init_from": "finetune.init_from", "merge": "finetune.merge",
            "skip_bad_lines": "data.skip_bad_lines"}
_help = common.setting_help


def command(
    size: Optional[str] = common.size_option(),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help=_help("data.tokenizer")),
    data: Optional[str] = typer.Option(None, "--data", help=_help("data.path")),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help=_help("train.max_steps")),
    max_time: Optional[float] = typer.Option(None, "--max-time", help=_help("train.max_time")),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", "-o", help="Run directory (default runs/DATE-TIME)."),
    seed: Optional[int] = common.seed_option(None, _help("train.seed")),
    config_file: Optional[Path] = common.config_option(),
    sets: Optional[List[str]] = common.sets_option(
        "Override one setting: section.key=value. Components: "
        # the registry names components without importing torch (inline: CLI modules import only typer at top)
        + __import__("qtk.registry", fromlist=["summary"]).summary() + "."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this directory."),
    init_from: Optional[str] = typer.Option(None, "--init-from", help=_help("finetune.init_from")),
    merge: Optional[bool] = typer.Option(None, "--merge", help=_help("finetune.merge")),
    skip_bad_lines: Optional[bool] = typer.Option(None, "--skip-bad-lines", help=_help("data.skip_bad_lines")),
    device: Optional[str] = common.device_option(None, _help("train.device")),
    compile: Optional[bool] = typer.Option(None, "--compile/--no-compile", help=_help("train.compile")),
    json_out: bool = common.json_option("Print one JSON object with the results on stdout."),
) -> None:
    from qtk import config
    from qtk.errors import UsageError

    given = {"tokenizer": tokenizer, "data": data, "max_steps": max_steps, "max_time": max_time, "seed": seed,
             "device": device, "compile": compile, "init_from": init_from, "merge": merge,
             "skip_bad_lines": skip_bad_lines}
    flags = {SETTINGS[name]: value for name, value in given.items()}
    if max_time is not None and max_steps is None:
        flags["train.max_steps"] = 0  # a time budget alone decides the length
    if resume is not None:
        if size or config_file:
            raise UsageError("--resume continues a run with its saved config: drop --size/--config")
        saved = resume / "config.toml"
        if not saved.is_file():
            raise UsageError(f"--resume {resume}: no config.toml there (not a qtk run directory)")
        cfg = config.load(None, saved, flags, common.parse_sets(sets))
    elif init_from is not None:
        if size:
            raise UsageError("--init-from takes the model settings from the checkpoint: drop --size")
        from qtk.finetune.start import base_config

        cfg = config.load(None, config_file, flags, common.parse_sets(sets), base=base_config(init_from))
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
