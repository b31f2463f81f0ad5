"""The module that torch.onnx.export traces: a qtk GPT behind the Hugging Face Optimum decoder
interface (input_ids, attention_mask, position_ids[, past_key_values.{i}.key/.value] -> logits[,
present.{i}.key/.value]).

Positions come from `position_ids` (RoPE rows gathered per sequence), the padding mask from
`attention_mask`, and the past keys/values from inputs through `PastKV`, a decode state that
concatenates instead of writing into a preallocated slab and hands the attention layers a key
mask built from `attention_mask`. Mixers that say they are `padding_aware` (their `attend` takes
that mask) get one, so left-padded batches work; others see only their own causal masks and
need an all-ones attention_mask.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from qtk.model.context import Context
from qtk.model.state import DecodeState, KVState


def input_names(n_layer: int, with_past: bool) -> list[str]:
    past = [f"past_key_values.{i}.{kv}" for i in range(n_layer) for kv in ("key", "value")]
    return ["input_ids", "attention_mask", "position_ids"] + (past if with_past else [])


def output_names(n_layer: int, with_past: bool) -> list[str]:
    present = [f"present.{i}.{kv}" for i in range(n_layer) for kv in ("key", "value")]
    return ["logits"] + (present if with_past else [])


class PastKV(KVState):
    """A layer's keys/values over explicit past tensors (B, Hkv, P, hs), or none (export without
    past): `append` returns past + new and keeps them as the present; `key_mask` is the padding
    mask of the whole batch."""

    def __init__(self, past: tuple[torch.Tensor, torch.Tensor] | None, mask: torch.Tensor) -> None:
        self.past, self.mask = past, mask
        self.present: tuple[torch.Tensor, torch.Tensor] | None = None

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.past is not None:
            k, v = torch.cat([self.past[0], k], dim=2), torch.cat([self.past[1], v], dim=2)  # (B, Hkv, P+T, hs)
        self.present = (k, v)
        return k, v

    def key_mask(self, q_len: int, n_keys: int) -> torch.Tensor:
        return self.mask


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


def stateful_parts(model: nn.Module) -> list[tuple[int, str, nn.Module]]:
    """(block, role, module) of every component that keeps decoding state."""
    return [(i, role, m) for i, block in enumerate(model.blocks) for role, m in block.parts()
            if getattr(m, "new_state", None) is not None]


class OnnxDecoder(nn.Module):
    """Wraps a GPT for export. forward(input_ids (B, T), attention_mask (B, P+T), position_ids
    (B, T), *past (2 per layer, (B, Hkv, P, hs))) -> logits (B, T, V)[, *presents (B, Hkv, P+T, hs)]."""

    def __init__(self, model: nn.Module, with_past: bool) -> None:
        super().__init__()
        self.model = model
        self.with_past = with_past
        self.last_state: DecodeState | None = None
        self._aware = [i for i, block in enumerate(model.blocks) if getattr(block.attn, "padding_aware", False)]

    @property
    def padding_aware(self) -> bool:
        """Whether every mixer honours zeros in attention_mask."""
        return len(self._aware) == len(self.model.blocks)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                *past: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        m = self.model
        mask = key_mask(attention_mask, input_ids.shape[1])
        pairs = list(zip(past[0::2], past[1::2])) if self.with_past else [None] * len(m.blocks)
        # with past, every layer carries keys/values (export checked that they all can)
        layers = range(len(m.blocks)) if self.with_past else self._aware
        state = DecodeState({(i, "mixer"): PastKV(pairs[i], mask) for i in layers}, input_ids.shape[0])
        self.last_state = state
        cos = m.rope_cos[position_ids].unsqueeze(1)  # (B, 1, T, hs/2): broadcasts over heads
        sin = m.rope_sin[position_ids].unsqueeze(1)
        # ctx.pos is (T,) by contract: row 0's positions (all rows agree unless padded)
        ctx = Context(input_ids, position_ids[0], cos, sin, state)
        logits = m.run(input_ids, ctx)  # (B, T, V)
        if not self.with_past:
            return logits
        return (logits, *[t for i in range(len(m.blocks)) for t in state.layers[(i, "mixer")].present])
