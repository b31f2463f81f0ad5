"""Block-sparse ("selected") attention, the op behind NSA's selected branch (DeepSeek, Native
Sparse Attention, arXiv 2502.11089, section 3.3.2).

Every query attends only to the keys inside its selected key blocks, causally. The selection is
shared by all query heads of one GQA group, so a kernel can load each selected K/V block once per
group. `selected_attention_ref` is the plain torch reference (dense masked softmax, autograd for
the backward); `selected_attention` is the facade, which sends CUDA tensors to the CuPy kernels
(kernels/selected_attention.cu) when that backend is chosen.
"""

from __future__ import annotations

import math

import torch

from qtk import ops


def selected_mask(block_idx: torch.Tensor, block_size: int, q_len: int, k_len: int) -> torch.Tensor:
    """Bool (B, Hkv, Tq, Tk): key j is visible to query i when j lies in one of i's selected
    blocks and j <= i's absolute position (queries are the last Tq of the Tk positions)."""
    B, Hkv, Qb, _ = block_idx.shape
    n_blocks = (k_len + block_size - 1) // block_size
    valid = block_idx >= 0  # -1 = unused slot (fewer blocks exist than were asked for)
    chosen = torch.zeros(B, Hkv, Qb, n_blocks + 1, dtype=torch.bool, device=block_idx.device)
    chosen.scatter_(-1, torch.where(valid, block_idx, n_blocks), True)  # slot n_blocks absorbs -1s
    per_key = chosen[..., :n_blocks].repeat_interleave(block_size, dim=-1)[..., :k_len]  # (B, Hkv, Qb, Tk)
    per_key = per_key.repeat_interleave(q_len // Qb, dim=2)  # a query block shares its selection
    offset = k_len - q_len
    causal = torch.arange(k_len, device=block_idx.device)[None, :] <= (
        torch.arange(q_len, device=block_idx.device)[:, None] + offset)
    return per_key & causal


def selected_attention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_idx: torch.Tensor,
                           block_size: int, scale: float | None = None) -> torch.Tensor:
    """Attention of q over the keys in its selected blocks; the torch reference.

    q (B, H, Tq, D); k, v (B, Hkv, Tk, D) with H a multiple of Hkv (GQA); queries are the last
    Tq of the Tk positions. block_idx (B, Hkv, Qb, n) long: indices of the key blocks
    [b*block_size, (b+1)*block_size) each query block attends to, -1 for an unused slot, no
    repeats; Qb = Tq (one selection per query, as NSA does) or Tq / query-block length.
    Returns (B, H, Tq, D); a query that sees no key gets zeros.
    """
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    if H % Hkv or Tq % block_idx.shape[2]:
        raise ValueError(f"selected_attention: H={H} must be a multiple of Hkv={Hkv} and "
                         f"Tq={Tq} of block_idx's {block_idx.shape[2]} query blocks")
    G = H // Hkv
    scale = scale if scale is not None else 1.0 / math.sqrt(D)
    mask = selected_mask(block_idx, block_size, Tq, Tk)[:, :, None]  # (B, Hkv, 1, Tq, Tk)
    qg = q.view(B, Hkv, G, Tq, D)
    scores = (qg @ k[:, :, None].transpose(-1, -2)) * scale  # (B, Hkv, G, Tq, Tk)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    # rows with no visible key would average every key: zero them instead
    p = scores.softmax(dim=-1) * mask.any(dim=-1, keepdim=True)
    return (p @ v[:, :, None]).view(B, H, Tq, v.shape[-1])


ops.register("selected_attention", "torch")(selected_attention_ref)


def selected_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_idx: torch.Tensor,
                       block_size: int, scale: float | None = None) -> torch.Tensor:
    """Facade: `selected_attention_ref`'s contract, on the current `qtk.ops.backend()`."""
    return ops.impl("selected_attention", q.device)(q, k, v, block_idx, block_size, scale)
