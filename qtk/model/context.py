"""Per-forward state shared by all blocks: token ids, positions, RoPE tables, cache, aux losses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


class KVCache:
    """Preallocated key/value cache for incremental decoding (one slab per layer).

    `update(layer, k, v)` writes the new keys at [length, length+T) and returns all keys so far;
    the model calls `advance(T)` once per forward. Components with other state (e.g. NSA's
    compressed keys) keep it in `extra[layer]`.
    """

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self.length = 0
        self.k: dict[int, torch.Tensor] = {}
        self.v: dict[int, torch.Tensor] = {}
        self.extra: dict[int, dict[str, Any]] = {}

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, H, T, D = k.shape  # (B, Hkv, T, D)
        end = self.length + T
        if end > self.max_len:
            raise ValueError(f"KV cache full: {end} > {self.max_len} positions")
        if layer not in self.k:
            self.k[layer] = k.new_empty(B, H, self.max_len, D)
            self.v[layer] = v.new_empty(B, H, self.max_len, v.shape[-1])
        self.k[layer][:, :, self.length:end] = k
        self.v[layer][:, :, self.length:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def advance(self, n: int) -> None:
        self.length += n


@dataclass
class Context:
    idx: torch.Tensor                       # (B, T) token ids
    pos: torch.Tensor                       # (T,) absolute positions
    cos: torch.Tensor                       # (T, hs/2) RoPE tables at those positions
    sin: torch.Tensor
    cache: KVCache | None = None
    aux_losses: list[torch.Tensor] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    stat_counts: dict[str, int] = field(default_factory=dict)

    def record(self, name: str, value: Any) -> None:
        """Put a statistic in `stats` as its mean over the layers that report it this forward
        (tensors should be detached: training logs the 0-dim ones)."""
        n = self.stat_counts.get(name, 0) + 1
        self.stat_counts[name] = n
        old = self.stats.get(name)
        self.stats[name] = value if old is None else old + (value - old) / n

    @property
    def past(self) -> int:
        """Positions already in the cache before this forward."""
        return self.cache.length if self.cache is not None else 0
