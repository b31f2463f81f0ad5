"""Checkpoint -> runnable model: the one place that builds a model from a checkpoint.

`qtk.checkpoint` only reads and writes files. Here the GPT is built from the checkpoint's config,
and each converter that the checkpoint's metadata names is applied: `quantization` (written by
`qtk quantize`) puts quantized linear layers in before the weights load and picks their runtime
after; `layout` ("decode", asked for by the caller, not stored) moves plain linear weights to the
(in, out) layout that one-token decoding reads fastest; `adapter` (an adapter-only LoRA
checkpoint, laid over its hash-checked base first) wraps the adapted layers with LoRALinear.
Every converter swaps modules through `qtk.swap`; a new kind of checkpoint is one more entry in
CONVERTERS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import torch
import torch.nn as nn

from qtk import checkpoint
from qtk.compress import qlinear
from qtk.device import resolve_device
from qtk.errors import UsageError
from qtk.finetune import ADAPTER_KEY, adapter, lora
from qtk.model import GPT
from qtk.model.layout import transpose_linears

LAYOUTS = ("decode",)


@dataclass(frozen=True)
class Options:
    """What the caller asked for beyond the checkpoint itself."""

    device: torch.device
    quant_runtime: str | None = None  # qtk.compress.qlinear.RUNTIMES; None = the checkpoint's choice


@dataclass(frozen=True)
class Converter:
    """What one metadata key asks of the loader. prepare(model, value) reshapes the freshly built
    model so that the saved state dict fits it (before the weights load); finish(model, value,
    options) runs once the weights are in and the model is on its device."""

    prepare: Callable[[nn.Module, Any], None] | None = None
    finish: Callable[[nn.Module, Any, Options], None] | None = None


def _quantized_runtime(model: nn.Module, info: dict, opts: Options) -> None:
    qlinear.apply_runtime(model, info, opts.device, opts.quant_runtime)


def _decode_layout(model: nn.Module, layout: str, opts: Options) -> None:
    if layout not in LAYOUTS:
        raise UsageError(f"weight layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    transpose_linears(model)  # leaves quantized and tied layers as they are


# Applied in this order: adapters wrap the layers quantization put in (QLoRA); the decode layout
# only touches the plain nn.Linear layers left after that.
CONVERTERS: dict[str, Converter] = {
    "quantization": Converter(prepare=qlinear.swap_in, finish=_quantized_runtime),
    ADAPTER_KEY: Converter(prepare=lora.swap_in),
    "layout": Converter(finish=_decode_layout),
}


def build_model(ck: checkpoint.Checkpoint, device: str | torch.device = "cpu", *, quant_runtime: str | None = None,
                layout: str | None = None) -> nn.Module:
    """The GPT with the checkpoint's weights, in eval mode on `device`, converted as its metadata
    (and `layout`) ask."""
    if ck.meta.get(ADAPTER_KEY):
        ck = adapter.overlay(ck)
    meta = {**ck.meta, "layout": layout}
    wanted = [(conv, meta[key]) for key, conv in CONVERTERS.items() if meta.get(key)]
    model = GPT(ck.cfg.model)
    for conv, value in wanted:
        if conv.prepare:
            conv.prepare(model, value)
    checkpoint.load_weights(model, ck.state, ck.path)
    opts = Options(torch.device(device), quant_runtime)
    model = model.to(opts.device).eval()
    for conv, value in wanted:
        if conv.finish:
            conv.finish(model, value, opts)
    return model


class Loaded(NamedTuple):
    ck: checkpoint.Checkpoint
    model: nn.Module
    device: torch.device


def load_model(path: str | Path, *, config_file: str | Path | None = None, device: str | torch.device = "cpu",
               quant_runtime: str | None = None, layout: str | None = None, prefer: str = "best") -> Loaded:
    """Read a checkpoint (file or run directory; a bare .pt state dict with its config.toml) and
    build its runnable model. device: auto | cpu | cuda | cuda:N, or a torch.device."""
    ck = checkpoint.load(path, config_file, prefer)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    return Loaded(ck, build_model(ck, dev, quant_runtime=quant_runtime, layout=layout), dev)
