"""Decode state: what a model carries from one forward to the next while generating.

`GPT.new_state(batch, device, dtype)` asks every component for its own typed state and collects
them in a DecodeState. Each state can

- `reset(rows)`: forget the past of some rows (a new document or sample starts there);
- `select(index)`: keep / reorder / repeat rows (several samples from one prompt, beam-like use);
- `tensors()`: name its tensors (ONNX `past.*` inputs, persistence, size checks);

and reports `nbytes`. The kinds here: KVState (dense, top-k and NSA attention: every key so far,
preallocated up to the model's context), WindowKVState (sliding-window attention: only the last
window - 1 keys, so decode memory is bounded whatever the length), and TensorState (fixed-size
tensors such as Engram's n-gram tail). Rows whose past was reset, or that start later (left
padding), are hidden from attention by a per-row start position (`key_mask`).
"""

from __future__ import annotations

import torch


class LayerState:
    """Base of the per-component states; subclasses set `length` (positions seen)."""

    length: int = 0

    def reset(self, rows: torch.Tensor) -> None:
        raise ValueError(f"{type(self).__name__} cannot reset single rows")

    def select(self, index: torch.Tensor) -> None:
        raise ValueError(f"{type(self).__name__} cannot select rows")

    def tensors(self) -> dict[str, torch.Tensor]:
        return {}

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors().values())


class KVState(LayerState):
    """Keys/values (B, Hkv, L, D) of every position so far, in a slab of `max_len` positions
    (grown by doubling when max_len is None). `start` (B,) hides each row's keys before it."""

    def __init__(self, batch: int, n_kv_head: int, head_dim: int, max_len: int | None,
                 device: torch.device | str, dtype: torch.dtype) -> None:
        self.max_len = max_len
        cap = max_len or 64
        self.k = torch.empty(batch, n_kv_head, cap, head_dim, device=device, dtype=dtype)
        self.v = torch.empty_like(self.k)
        self.start = torch.zeros(batch, dtype=torch.long, device=device)
        self.started = False  # whether any row has a start: kept in Python, so decoding never syncs
        self.length = 0

    def _room(self, end: int) -> None:
        if end <= self.k.shape[2]:
            return
        if self.max_len is not None:
            raise ValueError(f"KV state full: {end} > {self.max_len} positions")
        cap = max(end, 2 * self.k.shape[2])
        grow = lambda t: torch.cat([t, t.new_empty(*t.shape[:2], cap - t.shape[2], t.shape[3])], dim=2)  # noqa: E731
        self.k, self.v = grow(self.k), grow(self.v)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new keys/values (B, Hkv, T, D); return all of them so far."""
        end = self.length + k.shape[2]
        self._room(end)
        self.k[:, :, self.length:end] = k
        self.v[:, :, self.length:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def key_positions(self, n_keys: int) -> torch.Tensor:
        """Absolute positions of the n_keys keys returned by the last append."""
        return torch.arange(self.length - n_keys, self.length, device=self.start.device)

    def key_mask(self, q_len: int, n_keys: int) -> torch.Tensor | None:
        """(B, 1, q_len, n_keys) bool: causal and not before the row's start; None when no row
        has a start (the plain causal path then applies)."""
        if not self.started:
            return None
        keys = self.key_positions(n_keys)
        queries = torch.arange(self.length - q_len, self.length, device=keys.device)
        causal = keys[None, :] <= queries[:, None]  # (T, L)
        # a query always sees itself, so a row whose start is still ahead stays finite
        valid = (keys[None, :] >= self.start[:, None])[:, None, None, :] | (keys[None, :] == queries[:, None])
        return causal[None, None] & valid

    def reset(self, rows: torch.Tensor) -> None:
        self.start[rows] = self.length
        self.started = self.started or self.length > 0

    def select(self, index: torch.Tensor) -> None:
        self.k, self.v, self.start = self.k[index], self.v[index], self.start[index]

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"key": self.k[:, :, :self.length], "value": self.v[:, :, :self.length]}


class WindowKVState(KVState):
    """Only the last `window - 1` keys/values are kept between forwards: sliding-window attention
    never looks further back, so the state stays bounded however long the generation runs."""

    def __init__(self, batch: int, n_kv_head: int, head_dim: int, window: int,
                 device: torch.device | str, dtype: torch.dtype) -> None:
        super().__init__(batch, n_kv_head, head_dim, None, device, dtype)
        self.window = window
        self.k, self.v = self.k[:, :, :0], self.v[:, :, :0]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k_all, v_all = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        self.length += k.shape[2]
        first = max(0, k_all.shape[2] - (self.window - 1))
        self.k, self.v = k_all[:, :, first:], v_all[:, :, first:]
        return k_all, v_all

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"key": self.k, "value": self.v}


class TensorState(LayerState):
    """Named fixed-size tensors with the batch first (e.g. Engram's last ids and conv inputs);
    a reset row is zeroed."""

    def __init__(self, **tensors: torch.Tensor) -> None:
        self.t = dict(tensors)
        self.length = 0

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.t[name]

    def __setitem__(self, name: str, value: torch.Tensor) -> None:
        self.t[name] = value

    def reset(self, rows: torch.Tensor) -> None:
        for t in self.t.values():
            t[rows] = 0

    def select(self, index: torch.Tensor) -> None:
        self.t = {k: v[index] for k, v in self.t.items()}

    def tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.t)


class DecodeState:
    """The states of one model's components, by (block, role), plus the positions fed so far."""

    def __init__(self, layers: dict[tuple[int, str], LayerState], batch: int) -> None:
        self.layers = layers
        self.batch = batch
        self.length = 0

    def get(self, layer: int, role: str) -> LayerState | None:
        return self.layers.get((layer, role))

    def advance(self, n: int) -> None:
        self.length += n

    def reset(self, rows: torch.Tensor) -> None:
        """Forget the past of the rows where `rows` (B,) bool is set."""
        for st in self.layers.values():
            st.reset(rows)

    def select(self, index: torch.Tensor) -> None:
        """Keep rows `index` (long), in that order (repeats allowed)."""
        for st in self.layers.values():
            st.select(index)
        self.batch = len(index)

    def tensors(self) -> dict[str, torch.Tensor]:
        """`past.<block>.<role>.<name>` -> tensor."""
        return {f"past.{layer}.{role}.{name}": t for (layer, role), st in sorted(self.layers.items())
                for name, t in st.tensors().items()}

    @property
    def nbytes(self) -> int:
        return sum(st.nbytes for st in self.layers.values())


class StreamState:
    """The third lifetime: what a model carries from one segment of a long text to the next, per
    batch row (e.g. a kNN memory of everything the row has read), across forwards that each
    start afresh (no decode state needed). Created by whoever feeds the stream (training on
    streamed batches, streamed evaluation) with `GPT.new_stream`, passed to every forward,
    never part of autograd; a component resets a row's part where a document starts."""

    def __init__(self, layers: dict[tuple[int, str], LayerState], batch: int) -> None:
        self.layers = layers
        self.batch = batch

    def get(self, layer: int, role: str) -> LayerState | None:
        return self.layers.get((layer, role))

    def reset(self, rows: torch.Tensor) -> None:
        """Forget what the rows where `rows` (B,) bool is set have read."""
        for st in self.layers.values():
            st.reset(rows)

    def flush(self) -> None:
        """Generation left the local window: components move what it held into their stream state."""
        for st in self.layers.values():
            if hasattr(st, "flush"):
                st.flush()

    @property
    def nbytes(self) -> int:
        return sum(st.nbytes for st in self.layers.values())
