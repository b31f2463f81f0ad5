"""Scalar-decay linear recurrence over a matrix state per head: the one scan behind qtk's
linear-time mixers (linear attention, RetNet retention, Mamba-2 / SSD, the oscillatory SSM).

    S_t = exp(g_t) * S_{t-1} + k_t v_t^T        S (dk, dv) per head, g_t <= 0 (log-decay)
    o_t = S_t^T q_t

A row whose document starts at t (`reset[b, t]`) forgets its past there: S_{t-1} is multiplied
by 0 before the write of t (the same as g_t = -inf, kept as a mask so no inf - inf appears).

Three forms, all fp32 inside whatever the autocast dtype:
- `scan_ref`: the sequential recurrence in plain torch, one step per token (the oracle);
- `scan_chunked`: the training form of GLA (arXiv 2312.06635 §4) / Mamba-2 SSD (arXiv
  2405.21060): chunks of C tokens, intra-chunk masked decayed attention (Q K^T ⊙ D) V plus the
  carried state decayed into each position, then a sequential carry of chunk-end states.
  Log-decays are summed within a chunk only, and masked to -inf before exp, so every exponent
  is <= 0; cost O(T C d + T d^2);
- `scan_step`: one token, for decoding.

`scan()` is the facade the mixers call: CUDA tensors with the `fla` package (fla-core, the
`gpu` extra) importable go to fla's `chunk_simple_gla` Triton kernel (scalar decay per head and
step covers all four mixers); everything else, and rows with document resets, take
`scan_chunked`. fla imports Triton, so it never runs on CPU.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch

Tensor = torch.Tensor


def _fp32(*ts: Tensor | None) -> list[Tensor | None]:
    return [t.float() if t is not None else None for t in ts]


def scan_ref(q: Tensor, k: Tensor, v: Tensor, g: Tensor, state: Tensor | None = None,
             reset: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """q, k (B, H, T, dk), v (B, H, T, dv), g (B, H, T) log-decays, state (B, H, dk, dv),
    reset (B, T) bool -> o (B, H, T, dv) in v's dtype, final state (B, H, dk, dv) fp32."""
    B, H, T, dk = q.shape
    dv = v.shape[-1]
    dtype = v.dtype
    q, k, v, g = _fp32(q, k, v, g)
    S = state.float() if state is not None else q.new_zeros(B, H, dk, dv)
    out = []
    for t in range(T):
        decay = g[:, :, t].exp()[..., None, None]  # (B, H, 1, 1)
        if reset is not None:
            decay = decay * (~reset[:, t]).float()[:, None, None, None]
        S = decay * S + k[:, :, t, :, None] * v[:, :, t, None, :]
        out.append(torch.einsum("bhk,bhkv->bhv", q[:, :, t], S))
    o = torch.stack(out, dim=2) if out else v.new_zeros(B, H, 0, dv)
    return o.to(dtype), S


def scan_step(q: Tensor, k: Tensor, v: Tensor, g: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """One token: q, k (B, H, dk), v (B, H, dv), g (B, H), state (B, H, dk, dv) fp32 ->
    o (B, H, dv) in v's dtype, the new state (fp32)."""
    dtype = v.dtype
    q, k, v, g = _fp32(q, k, v, g)
    with torch.autocast(q.device.type, enabled=False):
        S = g.exp()[..., None, None] * state.float() + k[..., :, None] * v[..., None, :]
        return (q[..., None, :] @ S)[..., 0, :].to(dtype), S  # a batched matmul: faster than einsum here


def _chunks(x: Tensor, n: int, C: int) -> Tensor:
    """(B, H, n*C, ...) -> (B, H, n, C, ...)."""
    return x.reshape(*x.shape[:2], n, C, *x.shape[3:])


def scan_chunked(q: Tensor, k: Tensor, v: Tensor, g: Tensor, state: Tensor | None = None,
                 reset: Tensor | None = None, chunk: int = 64) -> tuple[Tensor, Tensor]:
    """Same contract as scan_ref, computed chunk by chunk (chunk >= 1 tokens)."""
    if chunk <= 0:
        raise ValueError(f"chunk size must be >= 1, got {chunk}")
    B, H, T, dk = q.shape
    dv, dtype = v.shape[-1], v.dtype
    with torch.autocast(q.device.type, enabled=False):
        q, k, v, g, state = _fp32(q, k, v, g, state)
        C = min(chunk, max(T, 1))
        n = -(-T // C)
        pad = n * C - T
        if pad:  # padded tokens write nothing (k = v = 0) and decay nothing (g = 0)
            q, k, v = (torch.nn.functional.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
            g = torch.nn.functional.pad(g, (0, pad))
        qc, kc, vc = _chunks(q, n, C), _chunks(k, n, C), _chunks(v, n, C)  # (B, H, n, C, d)
        b = _chunks(g, n, C).cumsum(-1)  # (B, H, n, C): log-decay from the chunk start, <= 0
        # seg[t] = resets in the chunk up to t: s reaches t within the chunk iff seg[s] == seg[t],
        # and the carried state reaches t iff seg[t] == 0
        if reset is not None:
            r = torch.nn.functional.pad(reset, (0, pad)).reshape(B, 1, n, C).long()
            seg = r.cumsum(-1)  # (B, 1, n, C)
        else:
            seg = torch.zeros(1, 1, n, C, dtype=torch.long, device=q.device)
        causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
        same = seg[..., :, None] == seg[..., None, :]  # (B|1, 1, n, C, C)
        logD = (b[..., :, None] - b[..., None, :]).masked_fill(~(causal & same), float("-inf"))
        scores = (qc @ kc.transpose(-1, -2)) * logD.exp()  # (B, H, n, C, C)
        o = scores @ vc  # (B, H, n, C, dv): within-chunk part
        # chunk-end writes: sum_s exp(b_last - b_s) k_s v_s^T for s in the last segment
        w_end = (b[..., -1:] - b).masked_fill(seg != seg[..., -1:], float("-inf")).exp()  # (B, H, n, C)
        writes = (kc * w_end[..., None]).transpose(-1, -2) @ vc  # (B, H, n, dk, dv)
        carry = b[..., -1].exp() * (seg[..., -1] == 0)  # (B, H, n): how much of the old state survives
        S = state if state is not None else q.new_zeros(B, H, dk, dv)
        starts = []
        for i in range(n):  # the only sequential part: n = T / C small steps
            starts.append(S)
            S = carry[:, :, i, None, None] * S + writes[:, :, i]
        S_in = torch.stack(starts, dim=2)  # (B, H, n, dk, dv): state entering each chunk
        q_in = qc * (b.exp() * (seg == 0))[..., None]  # decay of the carried state to each t
        o = o + q_in @ S_in
        o = o.reshape(B, H, n * C, dv)[:, :, :T]
    return o.to(dtype), S


@functools.lru_cache(maxsize=1)
def _fla_kernel() -> Any:
    """fla's chunk_simple_gla, or None when fla (fla-core) cannot be imported or QTK_FLA=0."""
    if os.environ.get("QTK_FLA", "1").strip() == "0":
        return None
    try:
        from fla.ops.simple_gla import chunk_simple_gla
    except Exception:  # ImportError, or Triton failing to initialise without a GPU
        return None
    return chunk_simple_gla


def fla_available() -> bool:
    return _fla_kernel() is not None


def scan_fla(q: Tensor, k: Tensor, v: Tensor, g: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """fla's Triton kernel (layout [B, T, H, D]); no document resets; CUDA only."""
    kernel = _fla_kernel()
    tr = lambda t: t.transpose(1, 2).contiguous()  # noqa: E731  (B, H, T, ...) -> (B, T, H, ...)
    o, S = kernel(q=tr(q), k=tr(k), v=tr(v), g=tr(g.float()), scale=1.0,
                  initial_state=state.float() if state is not None else None, output_final_state=True)
    return o.transpose(1, 2).to(v.dtype), S.float()


def scan(q: Tensor, k: Tensor, v: Tensor, g: Tensor, state: Tensor | None = None,
         reset: Tensor | None = None, chunk: int = 64) -> tuple[Tensor, Tensor]:
    """The facade: fla's kernel for CUDA tensors when it is importable and no row resets inside
    this call, else `scan_chunked` (one-token calls take `scan_step`)."""
    has_reset = reset is not None and bool(reset.any())
    if q.is_cuda and not has_reset and fla_available():
        return scan_fla(q, k, v, g, state)
    if q.shape[2] == 1 and not has_reset and state is not None:
        o, S = scan_step(q[:, :, 0], k[:, :, 0], v[:, :, 0], g[:, :, 0], state)
        return o[:, :, None], S
    return scan_chunked(q, k, v, g, state, reset if has_reset else None, chunk)
