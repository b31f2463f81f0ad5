"""The module that torch.onnx.export traces: a qtk GPT behind the Hugging Face Optimum decoder
interface (input_ids, attention_mask, position_ids[, past_key_values.{i}.key/.value] -> logits[,
present.{i}.key/.value]).

Positions come from `position_ids` (RoPE rows gathered per sequence), the padding mask from
`attention_mask`, and the past keys/values from inputs through `PastCache`, a KVCache look-alike
that concatenates instead of writing into a preallocated slab. Attention kinds listed in
`PADDING_AWARE` get a masked `attend` while the wrapper runs, so left-padded batches work;
others see only their own causal masks and need an all-ones attention_mask.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk import registry
from qtk.model.context import Context


def input_names(n_layer: int, with_past: bool) -> list[str]:
    past = [f"past_key_values.{i}.{kv}" for i in range(n_layer) for kv in ("key", "value")]
    return ["input_ids", "attention_mask", "position_ids"] + (past if with_past else [])


def output_names(n_layer: int, with_past: bool) -> list[str]:
    present = [f"present.{i}.{kv}" for i in range(n_layer) for kv in ("key", "value")]
    return ["logits"] + (present if with_past else [])


class PastCache:
    """The KVCache interface over explicit past tensors (B, Hkv, P, hs): `update` returns past +
    new keys/values and keeps them as the presents. Components that keep other decoding state
    put it in `extra`, which the Optimum interface cannot carry (the export checks it stays empty)."""

    def __init__(self, past: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.past = past
        self.present: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(past)
        self.extra: dict[int, dict[str, Any]] = {}
        self.length = past[0][0].shape[2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pk, pv = self.past[layer]
        k, v = torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)  # (B, Hkv, P+T, hs)
        self.present[layer] = (k, v)
        return k, v

    def advance(self, n: int) -> None:
        """Nothing to do: the caller feeds the presents back as the next past."""


def key_mask(attention_mask: torch.Tensor, q_len: int) -> torch.Tensor:
    """(B, 1, T, L) bool: causal over the L slots and not padding. A query always sees itself,
    so padded rows stay finite (their values are never used) instead of turning into NaN."""
    L = attention_mask.shape[1]
    keys = torch.arange(L, device=attention_mask.device)
    # the new tokens are the last T slots (arange, not a slice of keys: the exporter cannot
    # bound a slice that starts at a symbolic L - T)
    queries = torch.arange(L - q_len, L, device=attention_mask.device)
    causal = keys[None, :] <= queries[:, None]  # (T, L)
    is_self = keys[None, :] == queries[:, None]
    valid = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, L)
    return causal[None, None] & (valid | is_self[None, None])


def _dense_attend(mod: nn.Module, mask_of: Callable[[], torch.Tensor], q: torch.Tensor, k: torch.Tensor,
                  v: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, mod.expand_kv(k), mod.expand_kv(v), attn_mask=mask_of())


def _sliding_attend(mod: nn.Module, mask_of: Callable[[], torch.Tensor], q: torch.Tensor, k: torch.Tensor,
                    v: torch.Tensor) -> torch.Tensor:
    from qtk.model.local_attention import window_mask

    mask = mask_of() & window_mask(q.shape[2], k.shape[2], mod.window, q.device)
    return F.scaled_dot_product_attention(q, mod.expand_kv(k), mod.expand_kv(v), attn_mask=mask)


def _topk_attend(mod: nn.Module, mask_of: Callable[[], torch.Tensor], q: torch.Tensor, k: torch.Tensor,
                 v: torch.Tensor) -> torch.Tensor:
    k, v = mod.expand_kv(k), mod.expand_kv(v)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, H, T, L)
    scores = scores.masked_fill(~mask_of(), float("-inf"))
    # k extra -inf columns replace TopKAttention's `if k < L`, which the exporter would freeze at
    # the example length: a query with fewer than k visible keys gets a -inf threshold, keeps all
    pad = scores.new_full((*scores.shape[:-1], mod.k), float("-inf"))
    kth = torch.cat([scores, pad], dim=-1).topk(mod.k, dim=-1).values[..., -1:]
    return scores.masked_fill(scores < kth, float("-inf")).softmax(dim=-1) @ v


# registered attention name -> attend(module, mask_of, q, k, v) honouring the padding mask and
# free of branches on sizes; each equals the component's own attend when attention_mask is all
# ones (the export's parity check compares them)
PADDING_AWARE: dict[str, Callable[..., torch.Tensor]] = {
    "dense": _dense_attend, "sliding": _sliding_attend, "topk": _topk_attend,
}


def _padding_aware_classes() -> dict[type, Callable[..., torch.Tensor]]:
    out = {}
    for name, fn in PADDING_AWARE.items():
        if name in registry.names("attention"):
            out[registry.get("attention", name)] = fn
    return out


class OnnxDecoder(nn.Module):
    """Wraps a GPT for export. forward(input_ids (B, T), attention_mask (B, P+T), position_ids
    (B, T), *past (2 per layer, (B, Hkv, P, hs))) -> logits (B, T, V)[, *presents (B, Hkv, P+T, hs)]."""

    def __init__(self, model: nn.Module, with_past: bool) -> None:
        super().__init__()
        self.model = model
        self.with_past = with_past
        self.last_cache: PastCache | None = None
        self._mask: torch.Tensor | None = None
        classes = _padding_aware_classes()
        self._aware = [m for m in model.modules() if type(m) in classes]
        self._attend = {id(m): functools.partial(classes[type(m)], m, self._current_mask) for m in self._aware}

    @property
    def padding_aware(self) -> bool:
        """Whether every attention layer honours zeros in attention_mask."""
        return len(self._aware) == len(self.model.blocks)

    def _current_mask(self) -> torch.Tensor:
        return self._mask

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                *past: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        m = self.model
        cache = PastCache(list(zip(past[0::2], past[1::2]))) if self.with_past else None
        self.last_cache = cache
        self._mask = key_mask(attention_mask, input_ids.shape[1])
        cos = m.rope_cos[position_ids].unsqueeze(1)  # (B, 1, T, hs/2): broadcasts over heads
        sin = m.rope_sin[position_ids].unsqueeze(1)
        # ctx.pos is (T,) by contract: row 0's positions (all rows agree unless padded)
        ctx = Context(input_ids, position_ids[0], cos, sin, cache)
        for mod in self._aware:
            mod.attend = self._attend[id(mod)]
        try:
            logits = m.run(input_ids, ctx)  # (B, T, V)
        finally:
            for mod in self._aware:
                del mod.attend  # back to the class's own method
        if cache is None:
            return logits
        return (logits, *[t for kv in cache.present for t in kv])
