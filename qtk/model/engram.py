"""Engram: hashed n-gram memory added to the residual stream (DeepSeek, arXiv 2601.07372).

At each position the suffix n-grams (orders 2..max_order) of the token ids are hashed by
n_heads independent multiplicative-XOR heads per order (`qtk.ops.ngram_hash`) into prime-sized
tables; the looked-up rows are concatenated (e), projected to a key and a value, and the value is
gated by alpha = sigmoid(RMSNorm(h) . RMSNorm(W_k e) / sqrt(C)) so the context decides how much
of the memory to admit. A short causal depthwise conv (zero-initialised, so the module starts as
the gated value) follows: y = SiLU(conv(RMSNorm(alpha * W_v e))) + alpha * W_v e.

Decoding keeps the last max_order - 1 token ids and the conv's last kernel - 1 inputs in a
TensorState (fixed size), so cached decoding matches a full forward.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.config import ModelConfig
from qtk.model.context import Context
from qtk.model.state import TensorState
from qtk.ops import ngram_hash


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))


def next_prime(n: int) -> int:
    while not is_prime(n):
        n += 1
    return n


def table_sizes(base: int, count: int) -> list[int]:
    """`count` distinct primes from `base` up: each head hashes modulo a different prime."""
    sizes = [next_prime(max(2, base))]
    while len(sizes) < count:
        sizes.append(next_prime(sizes[-1] + 1))
    return sizes


class Engram(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        e = cfg.engram
        C = cfg.n_embd
        self.layer = layer
        self.orders = tuple(range(2, e.max_order + 1))
        self.n_heads = e.n_heads
        n_tables = len(self.orders) * e.n_heads
        self.sizes = table_sizes(e.table_size or 5 * cfg.vocab_size, n_tables)
        self.seeds = [(e.seed * 1009 + layer) * 131 + t for t in range(n_tables)]  # fresh hashes per layer
        offsets = torch.tensor([0] + self.sizes[:-1]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.table = nn.Embedding(sum(self.sizes), e.embd)  # all tables in one, at `offsets`
        self.key = nn.Linear(n_tables * e.embd, C, bias=False)
        self.value = nn.Linear(n_tables * e.embd, C, bias=False)
        self.norm_h, self.norm_k, self.norm_v = (nn.RMSNorm(C, eps=cfg.norm_eps) for _ in range(3))
        self.kernel = e.conv_kernel
        self.conv = nn.Conv1d(C, C, e.conv_kernel, groups=C, bias=False)
        nn.init.zeros_(self.conv.weight)

    def new_state(self, batch: int, device: torch.device | str, dtype: torch.dtype) -> TensorState:
        """The last max_order - 1 ids (-1 = none yet) and the conv's last kernel - 1 inputs."""
        C = self.norm_h.normalized_shape[0]
        return TensorState(ids=torch.full((batch, 0), -1, dtype=torch.long, device=device),
                           conv=torch.zeros(batch, C, max(self.kernel - 1, 0), device=device, dtype=dtype))

    def lookup(self, ids: torch.Tensor, T: int) -> torch.Tensor:
        """(B, T, n_tables * embd) memory rows for the last T positions of ids (B, L)."""
        rows = ngram_hash(ids, self.orders, self.n_heads, self.sizes, self.seeds)[:, -T:]  # (B, T, K)
        return self.table(rows + self.offsets).flatten(-2)

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        B, T, C = x.shape
        ids, state = ctx.idx, ctx.layer_state(self.layer, "memory")
        if state is not None:
            ids = torch.cat([state["ids"], ids], dim=1)
            state["ids"] = ids[:, -(max(self.orders) - 1):]
        mem = self.lookup(ids, T)
        key, value = self.key(mem), self.value(mem)  # (B, T, C)
        alpha = torch.sigmoid((self.norm_h(x) * self.norm_k(key)).sum(-1, keepdim=True) / math.sqrt(C))
        v = alpha * value
        u = self.norm_v(v).transpose(1, 2)  # (B, C, T)
        if self.kernel > 1:
            past = state["conv"].to(u.dtype) if state is not None else u.new_zeros(B, C, self.kernel - 1)
            u = torch.cat([past, u], dim=-1)  # causal: only earlier inputs on the left
            if state is not None:
                state["conv"] = u[..., -(self.kernel - 1):]
        return F.silu(self.conv(u)).transpose(1, 2) + v
