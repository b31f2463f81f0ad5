"""Calibration: sequences from the training split and per-layer input statistics gathered with
forward hooks, block by block as Wanda and GPTQ do it (block i sees the outputs of the already
compressed blocks 0..i-1), so each layer is calibrated on the activations it will really get.

Statistics per nn.Linear input x (rows = tokens):
  "sqnorm"  Σ x_j²            (Wanda's ‖X_j‖₂²)
  "hessian" Σ x xᵀ            (GPTQ's H = 2XXᵀ up to the factor)
  "absmean" Σ |x_j| + a row sample of X   (AWQ's activation scale and its search set)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from qtk.data.shards import TokenStream
from qtk.errors import UsageError

SAMPLE_ROWS = 1024  # activation rows kept per layer for AWQ's scale search


def calibration_batch(stream: TokenStream, n: int, length: int, seed: int = 0) -> torch.Tensor:
    """(n, length) token ids: n windows at random (seeded) offsets of the training split."""
    if n < 1:
        raise UsageError(f"--calib must be >= 1, got {n}")
    room = len(stream) - length
    if room < 1:
        raise UsageError(f"training split has {len(stream)} tokens, fewer than one {length}-token sequence")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, room, size=n)
    return torch.from_numpy(np.stack([stream.get(int(s), length) for s in starts]))


@dataclass
class InputStats:
    """Accumulated statistics of one layer's inputs."""

    kinds: tuple[str, ...]
    rows: int = 0
    sqnorm: torch.Tensor | None = None
    hessian: torch.Tensor | None = None
    abssum: torch.Tensor | None = None
    sample: list[torch.Tensor] = field(default_factory=list)

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1, x.shape[-1]).float()  # (tokens, in)
        self.rows += x.shape[0]
        if "sqnorm" in self.kinds:
            s = (x * x).sum(0).double()
            self.sqnorm = s if self.sqnorm is None else self.sqnorm + s
        if "hessian" in self.kinds:
            h = (x.T @ x).double()
            self.hessian = h if self.hessian is None else self.hessian + h
        if "absmean" in self.kinds:
            a = x.abs().sum(0).double()
            self.abssum = a if self.abssum is None else self.abssum + a
            kept = sum(t.shape[0] for t in self.sample)
            if kept < SAMPLE_ROWS:
                step = max(1, x.shape[0] // 256)  # spread the sample over positions
                self.sample.append(x[::step][: SAMPLE_ROWS - kept].clone())

    def col_norm(self) -> torch.Tensor:
        """‖X_j‖₂ per input column (in,)."""
        return self.sqnorm.sqrt().float()

    def mean_hessian(self) -> torch.Tensor:
        """2/n · XᵀX (in, in), the GPTQ Hessian of the layer-wise squared error."""
        return (2.0 * self.hessian / max(1, self.rows)).float()

    def mean_abs(self) -> torch.Tensor:
        return (self.abssum / max(1, self.rows)).float()

    def rows_sample(self) -> torch.Tensor:
        return torch.cat(self.sample) if self.sample else torch.empty(0)


class _Stop(Exception):
    """Raised by a hook to end a forward pass early."""


def _hook_stats(targets: dict[str, nn.Linear], kinds: tuple[str, ...]) -> tuple[dict[str, InputStats], list]:
    stats = {name: InputStats(kinds) for name in targets}
    handles = [mod.register_forward_pre_hook(lambda m, args, s=stats[name]: s.add(args[0]))
               for name, mod in targets.items()]
    return stats, handles


@torch.no_grad()
def _block_inputs(model: nn.Module, seqs: torch.Tensor, batch_size: int) -> list[tuple[tuple, dict]]:
    """(args, kwargs) of every call of the first block, one per calibration batch."""
    captured: list[tuple[tuple, dict]] = []

    def grab(mod, args, kwargs):
        captured.append((args, kwargs))
        raise _Stop

    handle = model.blocks[0].register_forward_pre_hook(grab, with_kwargs=True)
    try:
        for batch in seqs.split(batch_size):
            try:
                model(batch)
            except _Stop:
                pass
    finally:
        handle.remove()
    return captured


@torch.no_grad()
def sequential(model: nn.Module, seqs: torch.Tensor, targets: dict[str, nn.Linear], kinds: tuple[str, ...],
               process: Callable[[dict[str, tuple[nn.Linear, InputStats]]], None], batch_size: int = 8,
               progress: Callable[[str], None] | None = None) -> None:
    """Calibrate and `process` the targets block by block; layers outside the blocks (the head)
    last, from a full forward pass of the already processed model."""
    dev = next(model.parameters()).device
    seqs = seqs.to(dev)
    inputs = _block_inputs(model, seqs, batch_size)
    done: set[str] = set()
    for i, block in enumerate(model.blocks):
        mine = {n: m for n, m in targets.items() if n.startswith(f"blocks.{i}.")}
        if mine:
            stats, handles = _hook_stats(mine, kinds)
            try:
                for args, kwargs in inputs:
                    block(*args, **kwargs)
            finally:
                for h in handles:
                    h.remove()
            process({n: (mine[n], stats[n]) for n in mine})
            done |= set(mine)
            if progress:
                progress(f"block {i + 1}/{len(model.blocks)}")
        # the next block sees this block's outputs after compression
        inputs = [((block(*args, **kwargs),) + tuple(args[1:]), kwargs) for args, kwargs in inputs]
        for args, _ in inputs:
            ctx = args[1] if len(args) > 1 else None
            if ctx is not None and hasattr(ctx, "aux_losses"):
                ctx.aux_losses.clear()
    rest = {n: m for n, m in targets.items() if n not in done}
    if rest:
        stats, handles = _hook_stats(rest, kinds)
        try:
            for batch in seqs.split(batch_size):
                model(batch)
        finally:
            for h in handles:
                h.remove()
        process({n: (rest[n], stats[n]) for n in rest})
