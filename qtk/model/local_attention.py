"""Two sparse variants of causal attention that keep DenseAttention's projections (qkv, proj),
RoPE, GQA and KV cache and change only which keys a query may see:

- `sliding`: the last `window` positions (Longformer / Mistral style local attention);
- `topk`: the k highest-scoring causal keys of each query (top-k attention, Gupta et al. 2021).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from qtk.config import ModelConfig
from qtk.errors import UsageError
from qtk.model.attention import DenseAttention, causal_mask
from qtk.model.state import WindowKVState


def window_mask(q_len: int, k_len: int, window: int, device: torch.device) -> torch.Tensor:
    """Bool (q_len, k_len): causal and at most window - 1 positions back."""
    offset = k_len - q_len
    dist = torch.arange(q_len, device=device)[:, None] + offset - torch.arange(k_len, device=device)[None, :]
    return (dist >= 0) & (dist < window)


class SlidingWindowAttention(DenseAttention):
    """No context limit: RoPE is relative and no query looks back further than the window, so the
    decode state (WindowKVState) stays bounded and generation can run past block_size."""

    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__(cfg, layer)
        self.window = cfg.sliding.window
        self.max_context = None

    def new_state(self, batch: int, device: torch.device | str, dtype: torch.dtype) -> WindowKVState:
        return WindowKVState(batch, self.n_kv_head, self.head_dim, self.window, device, dtype)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor | None = None) -> torch.Tensor:
        T, L = q.shape[2], k.shape[2]
        if mask is not None:
            return super().attend(q, k, v, mask & window_mask(T, L, self.window, q.device))
        if L <= self.window:  # nothing falls out of the window: plain causal attention
            return super().attend(q, k, v)
        k, v = self.expand_kv(k), self.expand_kv(v)
        p = self.dropout if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, attn_mask=window_mask(T, L, self.window, q.device), dropout_p=p)


class TopKAttention(DenseAttention):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__(cfg, layer)
        if cfg.topk.k > cfg.block_size:
            raise UsageError(f"model.topk.k ({cfg.topk.k}) exceeds model.block_size ({cfg.block_size}): "
                             "a query can never have more than block_size keys")
        self.k = cfg.topk.k

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor | None = None) -> torch.Tensor:
        T, L = q.shape[2], k.shape[2]
        k, v = self.expand_kv(k), self.expand_kv(v)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, H, T, L)
        if mask is not None:
            return self._attend_masked(scores, v, mask)
        scores = scores.masked_fill(~causal_mask(T, L, q.device), float("-inf"))
        if self.k < L:
            # a query with fewer than k causal keys gets a -inf threshold: it keeps them all
            kth = scores.topk(self.k, dim=-1).values[..., -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        p = F.dropout(scores.softmax(dim=-1), self.dropout, self.training)
        return p @ v

    def _attend_masked(self, scores: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Top-k among the keys `mask` allows, free of branches on sizes (the ONNX export traces it):
        k extra -inf columns stand in for `if k < L`, so a query with fewer than k visible keys
        gets a -inf threshold and keeps them all."""
        scores = scores.masked_fill(~mask, float("-inf"))
        pad = scores.new_full((*scores.shape[:-1], self.k), float("-inf"))
        kth = torch.cat([scores, pad], dim=-1).topk(self.k, dim=-1).values[..., -1:]
        p = scores.masked_fill(scores < kth, float("-inf")).softmax(dim=-1)
        return F.dropout(p, self.dropout, self.training) @ v
