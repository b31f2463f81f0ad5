"""The CuPy side of the qtk.ops facades: selected-block attention (forward and backward, as a
torch.autograd.Function) over kernels/selected_attention.cu, and n-gram hashing and SimHash over
kernels/hashing.cu, launched through `qtk.ops.cupy_loader`.

Importing this module registers the implementations as backend "cupy"; qtk.ops imports it only
once the probe has found a working CuPy and CUDA. The tile planning and the dK/dV work list are
plain torch, so tests can run them (and the kernels, under the CPU emulation) without a GPU.
Inputs the kernels do not cover (CPU tensors, float64, head dims not a multiple of 8 or over 128,
table sizes < 1) go to the torch references, with a warning the first time for each reason.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import torch

from qtk import ops
from qtk.ops import cupy_loader
from qtk.ops.hashing import ngram_hash_ref, ngram_multipliers, simhash_ref
from qtk.ops.sparse_attention import selected_attention_ref

ELEM_KIND = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}
LOG2E = 1.0 / math.log(2.0)
TPR = 8  # lanes per attention row: a power of two dividing 32 (see the kernel header)
DKV_CHUNK = 64  # selection units per dK/dV work item: few atomics, and block 0's list split up
SIMHASH_MACROS = {"SH_WARPS": 8, "SH_VPW": 4, "SH_DCHUNK": 64}
MAX_BLOCKS = {"ngram_hash": 65536, "simhash": 4096}  # the hashing kernels grid-stride beyond these
_warned: set[str] = set()


def _fallback(reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        warnings.warn(f"qtk.ops: using the torch reference: {reason}", stacklevel=3)


# ---------------------------------------------------------------- selected attention: planning
def attention_macros(dtype: torch.dtype, head_dim: int, rows_per_unit: int) -> dict[str, int]:
    """Macros of kernels/selected_attention.cu for this dtype, head dim and Lq*G rows per
    selection unit; the tiles fit 48 KiB of static shared memory for head dims up to 128."""
    small = head_dim <= 64
    block_m = min(16, max(4, 1 << (max(rows_per_unit, 1) - 1).bit_length()))  # whole warps: >= 32 / TPR rows
    return {"ELEM_KIND": ELEM_KIND[dtype], "HEAD_DIM": head_dim, "TPR": TPR, "BLOCK_M": block_m,
            "BLOCK_N": 64 if small else 32, "DQ_BLOCK_N": 32 if small else 16,
            "KV_KEYS": 32 if small else 16, "KV_ROWS": 16}


def attention_unsupported(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_idx: torch.Tensor) -> str | None:
    """Why the kernels cannot take these inputs, or None when they can."""
    B, H, Tq, D = q.shape
    if not (q.is_cuda and k.device == q.device and v.device == q.device and block_idx.device == q.device):
        return "selected_attention needs q, k, v and block_idx on one CUDA device"
    if q.dtype not in ELEM_KIND or k.dtype != q.dtype or v.dtype != q.dtype:
        return f"selected_attention kernels take float32/float16/bfloat16 q, k, v of one dtype, not {q.dtype}"
    if D % 8 or D > 128 or v.shape[-1] != D:
        return (f"selected_attention kernels need a head dim that is a multiple of 8, at most 128, "
                f"equal for q, k, v (got {D})")
    if B * k.shape[1] > 65535 or Tq > k.shape[2]:
        return "selected_attention kernels need B * Hkv <= 65535 and Tq <= Tk"
    return None


def dkv_work_items(block_idx: torch.Tensor, n_blocks: int,
                   chunk: int = DKV_CHUNK) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The inverse of block_idx (B, Hkv, Qb, n) for the dK/dV kernel, as int32 tensors:
    units, the query-block indices sorted by the key block kid = (b*Hkv + hk)*n_blocks + blk they
    selected, and work items (kid, start, count), each covering at most `chunk` consecutive units
    of one key block."""
    B, Hkv, Qb, _ = block_idx.shape
    dev = block_idx.device
    idx = block_idx.long()
    valid = (idx >= 0) & (idx < n_blocks)
    bh = torch.arange(B * Hkv, device=dev).view(B, Hkv, 1, 1)
    kid = (bh * n_blocks + idx)[valid]
    unit = torch.arange(Qb, device=dev).view(1, 1, Qb, 1).expand_as(idx)[valid]
    order = torch.argsort(kid, stable=True)
    units = unit[order]
    counts = torch.bincount(kid, minlength=B * Hkv * n_blocks)
    starts = counts.cumsum(0) - counts
    n_chunks = (counts + chunk - 1) // chunk
    item_kid = torch.repeat_interleave(torch.arange(counts.numel(), device=dev), n_chunks)
    first = n_chunks.cumsum(0) - n_chunks
    within = torch.arange(item_kid.numel(), device=dev) - first[item_kid]  # chunk number inside its key block
    item_start = starts[item_kid] + within * chunk
    item_count = torch.clamp(counts[item_kid] - within * chunk, max=chunk)
    kid32, start32, count32, units32 = (t.to(torch.int32).contiguous()
                                        for t in (item_kid, item_start, item_count, units))
    return kid32, start32, count32, units32


def _aligned(t: torch.Tensor) -> torch.Tensor:
    """Contiguous with 16-byte aligned data (the kernels use 16-byte vector loads)."""
    t = t.contiguous()
    return t if t.data_ptr() % 16 == 0 else t.clone()


# ---------------------------------------------------------------- selected attention: autograd
class SelectedAttention(torch.autograd.Function):
    """Forward: sel_attn_fwd saves out and the base-2 logsumexp; backward: sel_attn_bwd_dq (dQ and
    delta = rowsum(dO * O)), then sel_attn_bwd_dkv over the inverse selection (dK, dV in float32)."""

    @staticmethod
    def forward(ctx, q, k, v, block_idx, block_size: int, scale: float):  # type: ignore[override]
        B, H, Tq, D = q.shape
        Hkv, Tk = k.shape[1], k.shape[2]
        Qb, n_sel = block_idx.shape[2], block_idx.shape[3]
        q, k, v = _aligned(q), _aligned(k), _aligned(v)
        idx = block_idx.to(torch.int32).contiguous()
        rows = (Tq // Qb) * (H // Hkv)
        mac = attention_macros(q.dtype, D, rows)
        out = torch.empty_like(q)
        lse = torch.empty(B, H, Tq, dtype=torch.float32, device=q.device)
        grid = (Qb * -(-rows // mac["BLOCK_M"]), B * Hkv)
        cupy_loader.launch("selected_attention", mac, "sel_attn_fwd", grid, (mac["BLOCK_M"] * TPR,),
                           [q, k, v, idx, out, lse, H, Hkv, Tq, Tk, Qb, n_sel, block_size, scale * LOG2E],
                           q.device.index)
        ctx.save_for_backward(q, k, v, idx, out, lse)
        ctx.block_size, ctx.scale, ctx.mac, ctx.grid = block_size, scale, mac, grid
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):  # type: ignore[override]
        q, k, v, idx, out, lse = ctx.saved_tensors
        B, H, Tq, D = q.shape
        Hkv, Tk = k.shape[1], k.shape[2]
        Qb, n_sel = idx.shape[2], idx.shape[3]
        mac, bs, dev = ctx.mac, ctx.block_size, q.device.index
        dout = _aligned(dout.to(q.dtype))
        dq = torch.empty_like(q)
        delta = torch.empty(B, H, Tq, dtype=torch.float32, device=q.device)
        cupy_loader.launch("selected_attention", mac, "sel_attn_bwd_dq", ctx.grid, (mac["BLOCK_M"] * TPR,),
                           [q, k, v, out, dout, lse, idx, dq, delta, H, Hkv, Tq, Tk, Qb, n_sel, bs,
                            ctx.scale * LOG2E, ctx.scale], dev)
        dk = torch.zeros(B, Hkv, Tk, D, dtype=torch.float32, device=q.device)
        dv = torch.zeros_like(dk)
        n_blocks = -(-Tk // bs)
        item_kid, item_start, item_count, units = dkv_work_items(idx, n_blocks)
        if item_kid.numel():
            grid = (item_kid.numel(), -(-bs // mac["KV_KEYS"]))
            cupy_loader.launch("selected_attention", mac, "sel_attn_bwd_dkv", grid, (mac["KV_KEYS"] * TPR,),
                               [q, k, v, dout, lse, delta, item_kid, item_start, item_count, units, dk, dv,
                                H, Hkv, Tq, Tk, Qb, n_blocks, bs, ctx.scale * LOG2E], dev)
        return dq, dk.to(k.dtype), dv.to(v.dtype), None, None, None


def selected_attention_cupy(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_idx: torch.Tensor,
                            block_size: int, scale: float | None = None) -> torch.Tensor:
    """`selected_attention_ref`'s contract on the CuPy kernels (block_idx must hold no repeats)."""
    B, H, Tq, D = q.shape
    Hkv = k.shape[1]
    if q.is_cuda and torch.is_autocast_enabled("cuda"):  # what the reference's matmuls would see
        dtype = torch.get_autocast_dtype("cuda")
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    bad_shape = (q.dim() != 4 or k.shape != v.shape or k.shape[0] != B or k.shape[-1] != D or H % Hkv
                 or tuple(block_idx.shape[:2]) != (B, Hkv) or Tq % block_idx.shape[2]
                 or 0 in (B, H, Tq, k.shape[2], block_idx.shape[3]))
    reason = None if bad_shape else attention_unsupported(q, k, v, block_idx)
    if bad_shape or reason is not None:
        if reason is not None:
            _fallback(reason)
        return selected_attention_ref(q, k, v, block_idx, block_size, scale)  # also raises on bad shapes
    scale = scale if scale is not None else 1.0 / math.sqrt(D)
    return SelectedAttention.apply(q, k, v, block_idx, block_size, scale)


# ---------------------------------------------------------------- hashing
_ngram_consts: dict[tuple, tuple[torch.Tensor, ...]] = {}


def ngram_constants(orders: Sequence[int], n_heads: int, table_sizes: Sequence[int], seeds: Sequence[int],
                    device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mult (K, max_order) int64, order (K) int32, size (K) int64, magic (K) uint64 bits in int64)
    for the ngram_hash kernel; magic = floor((2^64 - 1) / size) drives its Barrett reduction."""
    key = (tuple(orders), n_heads, tuple(table_sizes), tuple(seeds), str(device))
    if key not in _ngram_consts:
        mult = ngram_multipliers(seeds, max(orders))
        order = [n for n in orders for _ in range(n_heads)]
        magic = [((2**64 - 1) // p) for p in table_sizes]
        magic = [m - 2**64 if m >= 2**63 else m for m in magic]  # the same 64 bits as a signed value
        _ngram_consts[key] = (mult.to(device), torch.tensor(order, dtype=torch.int32, device=device),
                              torch.tensor(list(table_sizes), dtype=torch.int64, device=device),
                              torch.tensor(magic, dtype=torch.int64, device=device))
    return _ngram_consts[key]  # type: ignore[return-value]


def ngram_hash_cupy(ids: torch.Tensor, orders: Sequence[int], n_heads: int, table_sizes: Sequence[int],
                    seeds: Sequence[int]) -> torch.Tensor:
    """`ngram_hash_ref`'s contract in one launch for every order and head; bit-exact."""
    n_hash = len(orders) * n_heads
    if len(table_sizes) != n_hash or len(seeds) != n_hash or ids.dim() != 2 or not orders:
        return ngram_hash_ref(ids, orders, n_heads, table_sizes, seeds)  # raises the reference's error
    if not ids.is_cuda or min(table_sizes) < 1 or min(orders) < 1 or ids.dtype.is_floating_point:
        _fallback("ngram_hash kernels need integer ids on a CUDA device, orders >= 1 and table sizes >= 1")
        return ngram_hash_ref(ids, orders, n_heads, table_sizes, seeds)
    return ngram_hash_launch(ids, orders, n_heads, table_sizes, seeds)


def ngram_hash_launch(ids: torch.Tensor, orders: Sequence[int], n_heads: int, table_sizes: Sequence[int],
                      seeds: Sequence[int]) -> torch.Tensor:
    """The ngram_hash kernel on checked inputs: ids (B, T) integer, orders and table sizes >= 1."""
    B, T = ids.shape
    n_hash = len(orders) * n_heads
    out = torch.empty(B, T, n_hash, dtype=torch.int64, device=ids.device)
    total = out.numel()
    if total == 0:
        return out
    mult, order, size, magic = ngram_constants(orders, n_heads, table_sizes, seeds, ids.device)
    threads = 256
    blocks = min(-(-total // threads), MAX_BLOCKS["ngram_hash"])
    cupy_loader.launch("hashing", {"ELEM_KIND": 0, **SIMHASH_MACROS}, "ngram_hash", (blocks,), (threads,),
                       [_aligned(ids.to(torch.int64)), mult, order, size, magic, out, T, n_hash, mult.shape[1],
                        np.int64(total)], ids.device.index)
    return out


def simhash_cupy(x: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    """`simhash_ref`'s contract: float32 dot products, bit b set when x . planes[:, b] > 0."""
    r = planes.shape[-1]
    if r > 62:
        raise ValueError(f"simhash: {r} planes do not fit a 63-bit code (use at most 62)")
    if not (x.is_cuda and planes.device == x.device) or x.dtype not in ELEM_KIND or planes.dim() != 2 \
            or planes.shape[0] != x.shape[-1] or x.shape[-1] == 0:
        _fallback("simhash kernels need float32/float16/bfloat16 x and 2-D planes on one CUDA device")
        return simhash_ref(x, planes)
    return simhash_launch(x, planes)


def simhash_launch(x: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    """The simhash kernel on checked inputs: x (..., D) float32/16/bf16, planes (D, r <= 62)."""
    D, r = x.shape[-1], planes.shape[-1]
    xf = _aligned(x.reshape(-1, D))
    codes = torch.empty(xf.shape[0], dtype=torch.int64, device=x.device)
    if xf.shape[0]:
        per_cta = SIMHASH_MACROS["SH_WARPS"] * SIMHASH_MACROS["SH_VPW"]
        blocks = min(-(-xf.shape[0] // per_cta), MAX_BLOCKS["simhash"])
        cupy_loader.launch("hashing", {"ELEM_KIND": ELEM_KIND[x.dtype], **SIMHASH_MACROS}, "simhash", (blocks,),
                           (SIMHASH_MACROS["SH_WARPS"] * 32,),
                           [xf, _aligned(planes.to(x.dtype)), codes, np.int64(xf.shape[0]), D, r], x.device.index)
    return codes.view(x.shape[:-1])


ops.register("selected_attention", "cupy")(selected_attention_cupy)
ops.register("ngram_hash", "cupy")(ngram_hash_cupy)
ops.register("simhash", "cupy")(simhash_cupy)
