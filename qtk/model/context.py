"""Per-forward context shared by all blocks: token ids, positions, RoPE tables, document starts,
the decode state, the stream state, auxiliary losses and (when training logs them) statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from qtk.model.state import DecodeState, LayerState, StreamState


@dataclass
class Context:
    idx: torch.Tensor                       # (B, T) token ids
    pos: torch.Tensor                       # (T,) absolute positions
    cos: torch.Tensor                       # (T, hs/2) RoPE tables at those positions
    sin: torch.Tensor
    state: DecodeState | None = None        # decoding: what earlier forwards left (None: a plain forward)
    doc_start: torch.Tensor | None = None   # (B, T) bool: a document starts at this token (packed windows)
    want_stats: bool = False                # compute statistics for the training log (off in generation)
    stream: StreamState | None = None       # a long text read segment by segment: what earlier segments left
    aux_losses: list[torch.Tensor] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    stat_counts: dict[str, int] = field(default_factory=dict)

    def layer_state(self, layer: int, role: str = "mixer") -> LayerState | None:
        return self.state.get(layer, role) if self.state is not None else None

    def stream_state(self, layer: int, role: str = "memory") -> LayerState | None:
        return self.stream.get(layer, role) if self.stream is not None else None

    def record(self, name: str, value: Any) -> None:
        """Put a statistic in `stats` as its mean over the layers that report it this forward
        (tensors should be detached: training logs the 0-dim ones). Callers check `want_stats`
        first, so nothing is computed for a forward that will not be logged."""
        n = self.stat_counts.get(name, 0) + 1
        self.stat_counts[name] = n
        old = self.stats.get(name)
        self.stats[name] = value if old is None else old + (value - old) / n

    @property
    def past(self) -> int:
        """Positions fed before this forward."""
        return self.state.length if self.state is not None else 0
