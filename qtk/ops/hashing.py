"""Hashing ops: Engram's n-gram hashing (DeepSeek, arXiv 2601.07372) and SimHash LSH bucketing
(Charikar 2002), each with its torch reference and a facade that sends CUDA tensors to the CuPy
kernels (kernels/hashing.cu) when that backend is chosen.

The n-gram hash is multiplicative-XOR: for the n-gram ending at position t, hash head h computes
XOR_j ((id[t-j] + 1) * m[h, j]) mod p_h, with odd multipliers m < 2^31 so that every product
fits in 63 bits (no overflow: a kernel with 64-bit integers gets the same numbers). Ids before
the start of the sequence count as 0, i.e. they contribute nothing to the XOR.
"""

from __future__ import annotations

from typing import Sequence

import torch

from qtk import ops

_MASK31 = (1 << 31) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def ngram_multipliers(seeds: Sequence[int], max_order: int) -> torch.Tensor:
    """(len(seeds), max_order) odd int64 multipliers in [1, 2^31), one row per hash head."""
    rows = [[(_splitmix64(s * 1_000_003 + j) & _MASK31) | 1 for j in range(max_order)] for s in seeds]
    return torch.tensor(rows, dtype=torch.int64)


def ngram_hash_ref(ids: torch.Tensor, orders: Sequence[int], n_heads: int, table_sizes: Sequence[int],
                   seeds: Sequence[int]) -> torch.Tensor:
    """Hash the n-grams ending at every position.

    ids (B, T) int64 token ids (< 2^31). For each order n in `orders` and each of `n_heads`
    heads (head index k = order_index * n_heads + head), the n-gram ids[t-n+1..t] is hashed with
    multipliers from seeds[k] into [0, table_sizes[k]). Returns (B, T, len(orders) * n_heads)
    int64 row indices, each into its own table.
    """
    n_hash = len(orders) * n_heads
    if len(table_sizes) != n_hash or len(seeds) != n_hash:
        raise ValueError(f"ngram_hash: need {n_hash} table sizes and seeds, got {len(table_sizes)} and {len(seeds)}")
    B, T = ids.shape
    mult = ngram_multipliers(seeds, max(orders)).to(ids.device)  # (K, max_order)
    shifted = [ids + 1]  # shifted[j][:, t] = ids[:, t - j] + 1, or 0 before the start
    for j in range(1, max(orders)):
        shifted.append(torch.nn.functional.pad(ids[:, :T - j] + 1, (j, 0)) if j < T else torch.zeros_like(ids))
    out = []
    for o, n in enumerate(orders):
        for h in range(n_heads):
            k = o * n_heads + h
            acc = torch.zeros_like(ids)
            for j in range(n):
                acc = acc ^ (shifted[j] * mult[k, j])
            out.append(acc % table_sizes[k])
    return torch.stack(out, dim=-1)


def simhash_ref(x: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    """SimHash codes: bit b of the code is set when x . planes[:, b] > 0.

    x (..., D) float; planes (D, r) with r <= 62 random directions. Returns (...) int64 codes in
    [0, 2^r); vectors at angle theta share each bit with probability 1 - theta / pi.
    """
    r = planes.shape[-1]
    if r > 62:
        raise ValueError(f"simhash: {r} planes do not fit a 63-bit code (use at most 62)")
    bits = (x @ planes.to(x.dtype)) > 0  # (..., r)
    weights = torch.pow(2, torch.arange(r, device=x.device, dtype=torch.int64))
    return (bits.to(torch.int64) * weights).sum(dim=-1)


ops.register("ngram_hash", "torch")(ngram_hash_ref)
ops.register("simhash", "torch")(simhash_ref)


def ngram_hash(ids: torch.Tensor, orders: Sequence[int], n_heads: int, table_sizes: Sequence[int],
               seeds: Sequence[int]) -> torch.Tensor:
    """Facade: `ngram_hash_ref`'s contract on the current `qtk.ops.backend()`."""
    return ops.impl("ngram_hash", ids.device)(ids, orders, n_heads, table_sizes, seeds)


def simhash(x: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    """Facade: `simhash_ref`'s contract on the current `qtk.ops.backend()`."""
    return ops.impl("simhash", x.device)(x, planes)
