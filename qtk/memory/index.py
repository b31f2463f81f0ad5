"""The retrieval memory facade: `Memory` (see the package docstring for the design)."""

from __future__ import annotations

import math

import torch

from qtk.errors import UsageError
from qtk.memory import exact
from qtk.memory.settings import IndexSettings, check


class Memory:
    def __init__(self, key_dim: int, value_dim: int, settings: IndexSettings | None = None,
                 device: torch.device | str = "cpu", key: str = "memory") -> None:
        self.s = settings or IndexSettings()
        check(self.s, key)
        self.key_dim, self.value_dim = key_dim, value_dim
        self.device = torch.device(device)
        self.count = 0
        self.added = 0       # items ever added (the default position of the next one)
        self.rebuilds = 0    # graph builds after the first (evictions, backend switch)
        self._k = torch.empty(64, key_dim, device=self.device)
        self._v = torch.empty(64, value_dim, device=self.device)
        self._pos = torch.empty(64, dtype=torch.long, device=self.device)
        self._doc = torch.empty(64, dtype=torch.long, device=self.device)
        self.index = None    # an HNSWIndex while the active backend is hnsw
        if self.s.backend == "hnsw":
            self._build_index()

    # ------------------------------------------------------------------ contents
    @property
    def keys(self) -> torch.Tensor:
        return self._k[:self.count]

    @property
    def values(self) -> torch.Tensor:
        return self._v[:self.count]

    @property
    def positions(self) -> torch.Tensor:
        return self._pos[:self.count]

    @property
    def doc_ids(self) -> torch.Tensor:
        return self._doc[:self.count]

    @property
    def backend(self) -> str:
        return "hnsw" if self.index is not None else "exact"

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.keys, self.values, self.positions, self.doc_ids))

    def __len__(self) -> int:
        return self.count

    def clear(self) -> None:
        """Forget every item (a new document starts); the settings stay."""
        self.count = 0
        if self.index is not None:
            self._build_index()

    # ------------------------------------------------------------------ adding
    def add(self, keys: torch.Tensor, values: torch.Tensor, positions: torch.Tensor | None = None,
            doc_ids: torch.Tensor | None = None) -> None:
        """Append items: keys (n, key_dim), values (n, value_dim); positions default to the running
        count of items added, doc ids to 0."""
        n = keys.shape[0]
        if keys.dim() != 2 or keys.shape[1] != self.key_dim:
            raise UsageError(f"memory keys must be (n, {self.key_dim}), got {tuple(keys.shape)}")
        if values.dim() != 2 or values.shape != (n, self.value_dim):
            raise UsageError(f"memory values must be ({n}, {self.value_dim}), got {tuple(values.shape)}")
        if positions is None:
            positions = torch.arange(self.added, self.added + n)
        if doc_ids is None:
            doc_ids = torch.zeros(n, dtype=torch.long)
        if positions.shape != (n,) or doc_ids.shape != (n,):
            raise UsageError(f"memory positions and doc ids must be ({n},)")
        self._room(self.count + n)
        end = self.count + n
        self._k[self.count:end] = keys.detach().to(self.device, torch.float32)
        self._v[self.count:end] = values.detach().to(self.device, torch.float32)
        self._pos[self.count:end] = positions.to(self.device)
        self._doc[self.count:end] = doc_ids.to(self.device)
        first_new, self.count, self.added = self.count, end, self.added + n
        if self.s.capacity and self.count > self.s.capacity:
            self._evict()
        elif self.index is not None:
            self.index.add(self._numpy(self._k[first_new:end]), self._labels(first_new, end))
        elif self._wants_graph():
            self._build_index()

    def _room(self, need: int) -> None:
        cap = self._k.shape[0]
        if need <= cap:
            return
        cap = max(need, 2 * cap)
        grow = lambda t: torch.cat([t[:self.count], t.new_empty(cap - self.count, *t.shape[1:])])  # noqa: E731
        self._k, self._v, self._pos, self._doc = grow(self._k), grow(self._v), grow(self._pos), grow(self._doc)

    def _evict(self) -> None:
        """Drop the oldest items down to (1 - evict_fraction) x capacity, then rebuild the graph."""
        keep = min(self.count, self.s.capacity - math.ceil(self.s.evict_fraction * self.s.capacity))
        drop = self.count - keep
        for t in (self._k, self._v, self._pos, self._doc):
            t[:keep] = t[drop:self.count].clone()
        self.count = keep
        if self.index is not None or self._wants_graph():
            self._build_index()

    def _wants_graph(self) -> bool:
        if self.s.backend != "auto" or self.count < self.s.auto_threshold:
            return False
        from qtk.memory import hnsw

        return hnsw.available()

    def _build_index(self) -> None:
        from qtk.memory.hnsw import HNSWIndex

        if self.index is not None or self.count:
            self.rebuilds += self.index is not None
        self.index = HNSWIndex(self.key_dim, self.s, capacity=max(1024, self.count))
        if self.count:
            self.index.add(self._numpy(self.keys), self._labels(0, self.count))

    # ------------------------------------------------------------------ searching
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The k stored keys with the highest inner product with each query (m, key_dim): scores
        (m, k') and row numbers (m, k') into keys/values, best first, k' = min(k, count)."""
        if queries.dim() != 2 or queries.shape[1] != self.key_dim:
            raise UsageError(f"memory queries must be (m, {self.key_dim}), got {tuple(queries.shape)}")
        if k < 1:
            raise UsageError(f"memory search: k must be >= 1, got {k}")
        if self.index is None:
            return exact.search(self.keys, queries.detach().to(self.device, torch.float32), k)
        scores, rows = self.index.search(self._numpy(queries), k)
        return (torch.from_numpy(scores).to(queries.device, torch.float32),
                torch.from_numpy(rows).to(queries.device))

    def _numpy(self, t: torch.Tensor):
        return t.detach().to("cpu", torch.float32).contiguous().numpy()

    @staticmethod
    def _labels(lo: int, hi: int):
        import numpy as np

        return np.arange(lo, hi, dtype=np.int64)
