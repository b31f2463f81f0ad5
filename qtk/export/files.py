"""Where an export's files go: the .onnx (and its .onnx.data for models over ~1.5 GB), with the
tokenizer.json and config.toml that travel beside it.

Everything is written into a hidden temp directory beside the output and moved into place only
after verification passed, so a failed or interrupted export leaves nothing behind. An existing
output is refused without `force`; so is a tokenizer.json/config.toml beside it that describes a
different model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from qtk import config as qconfig
from qtk.errors import UsageError
from qtk.export.runtime import CONFIG_NAME, TOKENIZER_NAME

EXTERNAL_DATA_BYTES = 1_500_000_000  # protobuf's limit is 2 GiB; leave room for the graph


def data_path(out: Path) -> Path:
    return out.with_name(out.name + ".data")


def check_output(out: Path, force: bool) -> None:
    if out.suffix != ".onnx":
        raise UsageError(f"-o {out}: the output must end in .onnx")
    if out.is_dir():
        raise UsageError(f"-o {out}: is a directory")
    for p in (out, data_path(out)):
        if p.exists() and not force:
            raise UsageError(f"{p} exists (use --force to overwrite it)")


def beside_files(cfg: qconfig.RunConfig, tokenizer) -> dict[str, str]:
    return {TOKENIZER_NAME: json.dumps(tokenizer.to_json()), CONFIG_NAME: qconfig.to_toml(cfg)}


def check_beside(out: Path, files: dict[str, str], force: bool) -> None:
    """Refuse to replace a tokenizer/config beside the output that belongs to another model."""
    for name, text in files.items():
        p = out.parent / name
        if p.is_file() and not force and _canonical(name, p.read_text(encoding="utf-8")) != _canonical(name, text):
            raise UsageError(f"{p} exists and describes a different model (use --force to replace it, "
                             "or export into another directory)")


def _canonical(name: str, text: str) -> object:
    try:
        return json.loads(text) if name.endswith(".json") else qconfig.tomllib.loads(text)
    except ValueError:
        return text


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A temp directory on the output's file system, removed however the block ends (with the
output's directory too when this made it and nothing was published)."""
    made = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if made and not any(out.parent.iterdir()):
            out.parent.rmdir()


def publish(tmp: Path, out: Path, files: dict[str, str]) -> list[Path]:
    """Write the beside files into tmp, then rename everything in tmp into out's directory."""
    for name, text in files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    if not data_path(tmp / out.name).exists():
        data_path(out).unlink(missing_ok=True)  # a stale .data of a previous, larger export
    moved = []
    for src in sorted(tmp.iterdir(), key=lambda p: p.suffix == ".onnx"):  # the .onnx last
        dst = out.parent / src.name
        os.replace(src, dst)
        moved.append(dst)
    return moved


def size_bytes(path: Path) -> int:
    extra = data_path(path)
    return path.stat().st_size + (extra.stat().st_size if extra.exists() else 0)
