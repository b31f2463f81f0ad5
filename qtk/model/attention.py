"""Causal self-attention with RoPE and GQA/MQA through `scaled_dot_product_attention`.

The mixer contract (every registered mixer follows it; see qtk/model/__init__.py): built as
`Cls(cfg, layer)`, `forward(x, ctx) -> y` (B, T, C), `new_state(batch, device, dtype)` for
decoding, `max_context` (positions it can attend over, None = no limit). Attention kinds are
`padding_aware`: `attend` takes a (B, 1, T, L) key mask (left padding, rows reset mid-stream)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.config import ModelConfig
from qtk.model.context import Context
from qtk.model.rope import apply_rope
from qtk.model.state import KVState


def causal_mask(q_len: int, k_len: int, device: torch.device) -> torch.Tensor:
    """Bool (q_len, k_len) mask for queries that are the last q_len of k_len positions."""
    offset = k_len - q_len
    return torch.arange(k_len, device=device)[None, :] <= (torch.arange(q_len, device=device)[:, None] + offset)


class DenseAttention(nn.Module):
    padding_aware = True

    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.max_context: int | None = cfg.block_size  # RoPE positions and KV slab are trained up to here
        self.n_head = cfg.n_head
        self.n_kv_head = cfg.n_kv_head or cfg.n_head
        self.head_dim = cfg.n_embd // cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, (self.n_head + 2 * self.n_kv_head) * self.head_dim, bias=False)
        self.proj = nn.Linear(self.n_head * self.head_dim, cfg.n_embd, bias=False)
        self.proj.residual_out = True  # scaled init
        self.dropout = cfg.dropout

    def project(self, x: torch.Tensor, ctx: Context) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q (B, H, T, hs) and k, v (B, Hkv, T, hs) with RoPE applied to q and k."""
        B, T, _ = x.shape
        hs = self.head_dim
        q, k, v = self.qkv(x).split([self.n_head * hs, self.n_kv_head * hs, self.n_kv_head * hs], dim=-1)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)
        k = k.view(B, T, self.n_kv_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_kv_head, hs).transpose(1, 2)
        return apply_rope(q, ctx.cos, ctx.sin), apply_rope(k, ctx.cos, ctx.sin), v

    def expand_kv(self, t: torch.Tensor) -> torch.Tensor:
        """(B, Hkv, L, hs) -> (B, H, L, hs): each kv head serves n_head / n_kv_head query heads."""
        groups = self.n_head // self.n_kv_head
        return t if groups == 1 else t.repeat_interleave(groups, dim=1)

    def new_state(self, batch: int, device: torch.device | str, dtype: torch.dtype) -> KVState:
        return KVState(batch, self.n_kv_head, self.head_dim, self.max_context, device, dtype)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor | None = None) -> torch.Tensor:
        """q (B, H, T, hs) over the last T of L keys; `mask` (B, 1, T, L) bool, causality included."""
        T, L = q.shape[2], k.shape[2]
        k, v = self.expand_kv(k), self.expand_kv(v)
        p = self.dropout if self.training else 0.0
        if mask is not None:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        if T == L:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        mask = None if T == 1 else causal_mask(T, L, q.device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self.project(x, ctx)
        mask = None
        state = ctx.layer_state(self.layer)
        if state is not None:
            k, v = state.append(k, v)
            mask = state.key_mask(T, k.shape[2])
        y = self.attend(q, k, v, mask)  # (B, H, T, hs)
        y = y.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)
        return F.dropout(self.proj(y), self.dropout, self.training)
