"""Native Sparse Attention (DeepSeek, arXiv 2502.11089): three causal branches over the same
RoPE'd queries, mixed per head by learned sigmoid gates:

1. compressed: keys/values of blocks of l tokens at stride s, each compressed by a small MLP (with
   a learned intra-block position embedding); a block is visible only once it is complete;
2. selected: the compressed attention scores, summed over the heads of a GQA group, rank key blocks
   of l' tokens; each query attends to the tokens of its top-n blocks (the first block and the
   2 local blocks always among them) through the `qtk.ops.selected_attention` op;
3. sliding window over the last w tokens.

One deviation from the paper: the selected and window branches share the layer's keys/values
(the paper gives each branch its own), so the KV cache and the `qkv` projection stay dense's.
Incremental decoding keeps the compressed keys/values in its NSAState (a KVState) and compresses
a block when its last token arrives, so it gives the same logits as a full forward. Rows cannot
start at different positions (no left padding, no per-row reset): the compressed blocks are
shared by position.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.config import ModelConfig
from qtk.model.attention import DenseAttention
from qtk.model.context import Context
from qtk.model.local_attention import window_mask
from qtk.ops import selected_attention
from qtk.model.state import KVState


class BlockCompressor(nn.Module):
    """phi: (..., l, D) block of keys or values -> (..., D), an MLP over the flattened block."""

    def __init__(self, block: int, dim: int) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(block, dim))  # intra-block position
        self.fc = nn.Linear(block * dim, dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, blocks: torch.Tensor) -> torch.Tensor:
        x = (blocks + self.pos).flatten(-2)  # (..., l*D)
        return self.out(F.gelu(self.fc(x)))


class NSAState(KVState):
    """All keys/values plus the compressed keys/values of the blocks completed so far."""

    ck: torch.Tensor | None = None
    cv: torch.Tensor | None = None

    def reset(self, rows: torch.Tensor) -> None:
        raise ValueError("nsa attention cannot reset single rows: its compressed blocks are shared by position")

    def select(self, index: torch.Tensor) -> None:
        super().select(index)
        if self.ck is not None:
            self.ck, self.cv = self.ck[index], self.cv[index]

    def tensors(self) -> dict[str, torch.Tensor]:
        out = super().tensors()
        if self.ck is not None:
            out.update(compressed_key=self.ck, compressed_value=self.cv)
        return out


class NativeSparseAttention(DenseAttention):
    padding_aware = False

    def new_state(self, batch: int, device: torch.device | str, dtype: torch.dtype) -> NSAState:
        return NSAState(batch, self.n_kv_head, self.head_dim, self.max_context, device, dtype)

    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__(cfg, layer)
        c = cfg.nsa
        self.l, self.s, self.l_sel, self.n_sel, self.window = (c.compress_block, c.compress_stride, c.select_block,
                                                               c.select_count, c.window)
        self.compress_k = BlockCompressor(self.l, self.head_dim)
        self.compress_v = BlockCompressor(self.l, self.head_dim)
        self.gate = nn.Linear(cfg.n_embd, 3 * self.n_head, bias=False)  # per head: cmp, slc, win

    # ------------------------------------------------------------------ compressed branch
    def _compress(self, k: torch.Tensor, v: torch.Tensor, first: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Compressed k, v of the complete blocks first, first+1, ... of the keys k, v (B, Hkv, L, D)."""
        start = first * self.s
        if k.shape[2] - start < self.l:
            empty = k.new_zeros(k.shape[0], k.shape[1], 0, k.shape[-1])
            return empty, empty
        kb = k[:, :, start:].unfold(2, self.l, self.s).transpose(-1, -2)  # (B, Hkv, N, l, D)
        vb = v[:, :, start:].unfold(2, self.l, self.s).transpose(-1, -2)
        return self.compress_k(kb), self.compress_v(vb)

    def compressed_kv(self, k: torch.Tensor, v: torch.Tensor, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, Hkv, Nc, D) compressed keys/values of all complete blocks of the L keys so far."""
        state = ctx.layer_state(self.layer)
        if state is None:
            return self._compress(k, v, 0)
        ck, cv = state.ck, state.cv
        have = 0 if ck is None else ck.shape[2]
        new_k, new_v = self._compress(k, v, have)
        if ck is not None:
            new_k, new_v = torch.cat([ck, new_k], dim=2), torch.cat([cv, new_v], dim=2)
        state.ck, state.cv = new_k, new_v
        return new_k, new_v

    def compressed_attention(self, q: torch.Tensor, ck: torch.Tensor, cv: torch.Tensor,
                             qpos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Output (B, H, T, D) and probabilities (B, Hkv, G, T, Nc) over the compressed blocks."""
        B, H, T, D = q.shape
        Hkv, Nc = ck.shape[1], ck.shape[2]
        qg = q.view(B, Hkv, H // Hkv, T, D)
        block_end = torch.arange(Nc, device=q.device) * self.s + self.l - 1
        visible = block_end[None, :] <= qpos[:, None]  # (T, Nc): only complete blocks
        scores = (qg @ ck[:, :, None].transpose(-1, -2)) / math.sqrt(D)  # (B, Hkv, G, T, Nc)
        scores = scores.masked_fill(~visible, torch.finfo(scores.dtype).min)
        p = scores.softmax(dim=-1) * visible.any(dim=-1, keepdim=True)  # no visible block: output 0
        return (p @ cv[:, :, None]).view(B, H, T, D), p

    # ------------------------------------------------------------------ selection
    def overlap(self, n_cmp: int, n_sel: int, device: torch.device) -> torch.Tensor:
        """(Nc, Ns) float: 1 where compressed block i and selection block j share a token."""
        c0 = torch.arange(n_cmp, device=device)[:, None] * self.s
        s0 = torch.arange(n_sel, device=device)[None, :] * self.l_sel
        return ((c0 < s0 + self.l_sel) & (s0 < c0 + self.l)).float()

    def select_blocks(self, p_cmp: torch.Tensor, qpos: torch.Tensor, n_keys: int) -> torch.Tensor:
        """(B, Hkv, T, n) indices of each query's selection blocks (-1 = unused slot)."""
        n_blocks = (n_keys + self.l_sel - 1) // self.l_sel
        score = (p_cmp @ self.overlap(p_cmp.shape[-1], n_blocks, p_cmp.device).to(p_cmp.dtype)).sum(dim=2)
        j = torch.arange(n_blocks, device=qpos.device)[None, :]  # (1, Ns)
        cur = (qpos // self.l_sel)[:, None]  # (T, 1)
        # forced blocks outrank any score (a score is at most G): current, then first, then previous
        big = float(p_cmp.shape[2] + 1)
        forced = torch.where(j == cur, 3 * big, torch.where(j == 0, 2 * big, torch.where(j == cur - 1, big, 0.0)))
        score = torch.where(forced > 0, forced.to(score.dtype), score)
        score = score.masked_fill(j > cur, float("-inf"))  # blocks starting after the query
        top = score.topk(min(self.n_sel, n_blocks), dim=-1)
        return torch.where(torch.isinf(top.values), -1, top.indices)

    # ------------------------------------------------------------------ forward
    def branches(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, ctx: Context) -> torch.Tensor:
        """(B, H, T, 3, D): compressed, selected and window outputs for the last T of L positions."""
        T, L = q.shape[2], k.shape[2]
        qpos = torch.arange(L - T, L, device=q.device)
        ck, cv = self.compressed_kv(k, v, ctx)
        o_cmp, p_cmp = self.compressed_attention(q, ck, cv, qpos)
        o_slc = selected_attention(q, k, v, self.select_blocks(p_cmp.detach(), qpos, L), self.l_sel)
        mask = window_mask(T, L, self.window, q.device)
        o_win = F.scaled_dot_product_attention(q, self.expand_kv(k), self.expand_kv(v), attn_mask=mask)
        return torch.stack([o_cmp, o_slc, o_win], dim=3)

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self.project(x, ctx)
        state = ctx.layer_state(self.layer)
        if state is not None:
            k, v = state.append(k, v)
            if state.key_mask(T, k.shape[2]) is not None:
                raise ValueError("nsa attention cannot decode rows that start at different positions")
        o = self.branches(q, k, v, ctx)  # (B, H, T, 3, hs)
        g = torch.sigmoid(self.gate(x)).view(B, T, self.n_head, 3).transpose(1, 2)  # (B, H, T, 3)
        y = (g.unsqueeze(-1) * o).sum(dim=3).transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)
        return F.dropout(self.proj(y), self.dropout, self.training)
