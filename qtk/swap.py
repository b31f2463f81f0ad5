"""Module swapping: the one place that replaces a model's submodules by dotted name (quantized
linears, the decode weight layout, dequantized layers for export, LoRA adapters, a fine-tuning run's
larger vocabulary), and the wrappers that keep their base's state-dict keys."""

from __future__ import annotations

from typing import Any, Callable

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


def keep_base_keys(wrapper: nn.Module) -> None:
    """A wrapper around `wrapper.base` saves and loads the base's tensors under the base's own keys
    (`blocks.0.attn.qkv.weight`, not `...qkv.base.weight`), next to its own parameters, so base
    checkpoints load into a wrapped model unchanged."""
    wrapper._register_state_dict_hook(_base_keys_out)
    wrapper.register_load_state_dict_pre_hook(_base_keys_in)


def _base_keys_out(module: nn.Module, state: dict, prefix: str, _meta: Any) -> None:
    inner = prefix + "base."
    for key in [k for k in state if k.startswith(inner)]:
        state[prefix + key[len(inner):]] = state.pop(key)


def _base_keys_in(module: nn.Module, state: dict, prefix: str, *_args: Any) -> None:
    for key in [k for k in state if k.startswith(prefix)]:
        rest = key[len(prefix):]
        if "." not in rest and rest not in module._parameters:
            state[prefix + "base." + rest] = state.pop(key)
