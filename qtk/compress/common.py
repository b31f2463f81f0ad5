"""Inputs and outputs shared by compress and quantize: the source checkpoint (with checks), the
output path rules (refuse an existing file without force), and which layers are targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn as nn

from qtk import checkpoint
from qtk.errors import QtkError, UsageError
from qtk.finetune import refuse_adapter


def check_output(out: str | Path, force: bool, source: Path | None = None) -> Path:
    """The output file path; refuses an existing file (without force), a directory, or the input."""
    p = Path(out).expanduser()
    if p.is_dir():
        raise UsageError(f"-o {p} is a directory; give a file path such as {p / 'model.safetensors'}")
    if source is not None and p.exists() and p.resolve() == Path(source).resolve():
        raise UsageError(f"-o {p} is the input checkpoint; write to a new file")
    if p.exists() and not force:
        raise UsageError(f"{p} already exists (pass --force to overwrite it)")
    return p


def load_source(path: str | Path, command: str) -> checkpoint.Checkpoint:
    """Load the checkpoint to transform; a quantized one cannot be pruned or quantized again."""
    p = checkpoint.resolve(path)
    if p.suffix == ".safetensors" and _header(p).get("format") == checkpoint.FORMAT and "tokenizer" not in _header(p):
        raise QtkError(f"{p}: checkpoint has no tokenizer in its metadata (needed for calibration and metrics)")
    ck = checkpoint.load(p)
    if getattr(ck, "tokenizer", None) is None:
        raise QtkError(f"{ck.path}: checkpoint has no tokenizer (needed for calibration and held-out metrics)")
    refuse_adapter(ck.meta, ck.path, command)
    q = ck.meta.get("quantization")
    if q:
        raise UsageError(f"{ck.path} is already quantized ({q.get('bits')}-bit {q.get('method', 'rtn')}); "
                         f"{command} needs a full-precision checkpoint (run {command} first, quantize last)")
    return ck


def _header(p: Path) -> dict:
    from safetensors import safe_open

    try:
        with safe_open(str(p), framework="pt") as f:
            return f.metadata() or {}
    except Exception:  # unreadable files get checkpoint.load's own clear error
        return {}


def linear_targets(model: nn.Module, include_head: bool) -> tuple[dict[str, nn.Linear], list[str]]:
    """Every nn.Linear in the model (the LM head only when asked), in module order, plus notes on
    weight tensors that stay dense because they are not linear layers."""
    targets: dict[str, nn.Linear] = {}
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and (include_head or name != "head"):
            targets[name] = mod
    covered = {id(m.weight) for m in targets.values()}
    skipped = []
    for name, p in model.named_parameters():
        if p.dim() >= 2 and id(p) not in covered and name not in ("head.weight", "wte.weight"):
            skipped.append(name)
    notes = []
    if skipped:
        shown = ", ".join(skipped[:6]) + (f" (+{len(skipped) - 6} more)" if len(skipped) > 6 else "")
        notes.append(f"kept dense (not nn.Linear): {shown}")
    return targets, notes


def tied_head(model: nn.Module) -> bool:
    head, wte = getattr(model, "head", None), getattr(model, "wte", None)
    return head is not None and wte is not None and head.weight is wte.weight


def file_size(path: Path) -> int:
    return Path(path).stat().st_size


def count_params(model: nn.Module) -> tuple[int, int]:
    """(parameters, non-zero parameters); tied weights counted once."""
    n = nz = 0
    for p in model.parameters():
        n += p.numel()
        nz += int(torch.count_nonzero(p).item())
    return n, nz


class Job(NamedTuple):
    """What compress and quantize both start from: the source, where to write, and the
    held-out protocol used for every before/after figure."""

    ck: checkpoint.Checkpoint
    out: Path
    dev: torch.device
    model: nn.Module
    data: Any
    proto: Any


def open_job(path: str | Path, command: str, out: str | Path, force: bool, device: str,
             eval_tokens: int) -> Job:
    from qtk.compress import measure
    from qtk.data.prepare import prepare
    from qtk.device import resolve_device
    from qtk.load import build_model

    ck = load_source(path, command)
    out = check_output(out, force, ck.path)
    dev = resolve_device(device)
    model = build_model(ck, dev)
    data = prepare(ck.cfg.data, ck.tokenizer)
    proto = measure.Protocol(data.val, f"{data.source} (val)", ck.cfg.model.block_size, eval_tokens or None)
    return Job(ck, out, dev, model, data, proto)
