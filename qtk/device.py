"""Devices and dtypes: the one place that turns `--device` / `train.device` and `train.dtype`
settings into torch objects, for training, evaluation, generation and the benchmarks."""

from __future__ import annotations

import torch

from qtk.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """auto (CUDA when available, else CPU) | cpu | cuda | cuda:N."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"train.device: {name!r} requested but CUDA is not available")
    return torch.device(name)


def autocast_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """None = plain fp32 (bf16 matmuls have no fast path on these CPUs)."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return None if name == "float32" else getattr(torch, name)
