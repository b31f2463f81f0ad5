"""Module swapping: the one place that replaces a model's submodules by dotted name (quantized
linears, the decode weight layout, dequantized layers for export; LoRA adapters next)."""

from __future__ import annotations

from typing import Callable

import torch.nn as nn


def swap_module(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """Put `new` where the submodule `name` ("blocks.0.attn.qkv") is; returns the module it replaced."""
    parent, _, child = name.rpartition(".")
    owner = model.get_submodule(parent) if parent else model
    old = getattr(owner, child)
    setattr(owner, child, new)
    return old


def swap_modules(model: nn.Module, select: Callable[[str, nn.Module], bool],
                 make: Callable[[str, nn.Module], nn.Module]) -> list[str]:
    """Replace every submodule that select(name, module) picks by make(name, module), in place.
    The picks are made before the first swap, so new modules are never picked. Returns the names."""
    picked = [(name, mod) for name, mod in model.named_modules() if name and select(name, mod)]
    for name, mod in picked:
        swap_module(model, name, make(name, mod))
    return [name for name, _ in picked]
