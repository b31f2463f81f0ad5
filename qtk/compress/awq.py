"""AWQ-style activation-aware scaling (Lin et al. 2023, "AWQ: Activation-aware Weight
Quantization for LLM Compression and Acceleration").

Input channels with large activations matter most; scaling their weight columns up by s_j before
quantizing (and the input down by s_j) shrinks their relative rounding error. As in AWQ,
s = mean|X_j|^α, normalised to a geometric mean of 1, with α chosen on a grid to minimise the
layer's output error ‖(Q(W·diag(s))·diag(s)⁻¹ − W)Xᵀ‖² on calibration inputs (α = 0 is plain
RTN, so the search never does worse than RTN on that objective). AWQ folds s into the previous
operator; components here are arbitrary, so each QuantLinear keeps s as a per-input vector and
divides its input by it (one elementwise op). No clipping search.
"""

from __future__ import annotations

import torch

from qtk.compress.quant import QSpec, dequantize_codes, rtn

GRID = 20  # α in {0, 1/20, ..., 1}


def _error(weight: torch.Tensor, X: torch.Tensor, s: torch.Tensor, spec: QSpec) -> float:
    q, scale, zero = rtn(weight * s[None, :], spec)
    w_hat = dequantize_codes(q, scale, zero, weight.shape[1], spec.group_for(weight.shape[1])) / s[None, :]
    return ((X @ (w_hat - weight).T) ** 2).mean().item()


@torch.no_grad()
def awq(weight: torch.Tensor, mean_abs: torch.Tensor, X: torch.Tensor, spec: QSpec
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor, float]:
    """Codes, scales, zeros of W·diag(s), the input scale s (in,), and the chosen α."""
    W = weight.detach().float()
    X = X.float()
    x = mean_abs.float().clamp(min=1e-6)
    best = (float("inf"), 0.0, torch.ones_like(x))
    for k in range(GRID + 1):
        alpha = k / GRID
        s = x.pow(alpha)
        s = (s / (s.max() * s.min()).sqrt()).clamp(min=1e-4)
        err = _error(W, X, s, spec)
        if err < best[0]:
            best = (err, alpha, s)
    _, alpha, s = best
    s = s.half().float()  # stored as fp16: quantize against the stored value
    q, scale, zero = rtn(W * s[None, :], spec)
    return q, scale, zero, s, alpha
