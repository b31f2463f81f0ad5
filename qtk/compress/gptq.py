"""GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative
Pre-trained Transformers"): quantize one input column at a time and spread its rounding error
over the not-yet-quantized columns through the inverse Hessian H = 2XXᵀ of the layer's inputs.

As in the reference: dead inputs (H_jj = 0) are zeroed, H is dampened by `damp`·mean(diag H),
the upper Cholesky factor of H⁻¹ drives the updates, and updates are applied lazily in blocks
of columns (one rank-`block` update per block instead of one rank-1 update per column). Group
grids (scale/zero) are chosen when the first column of a group is reached, from the already
error-compensated weights. No activation reordering.
"""

from __future__ import annotations

import torch

from qtk.compress.quant import QSpec, from_codes, grid, to_codes
from qtk.errors import QtkError


def _inverse_cholesky(H: torch.Tensor, damp: float) -> torch.Tensor:
    """Upper Cholesky factor of (H + λI)⁻¹, raising λ if H is not positive definite."""
    mean_diag = H.diagonal().mean().item() or 1.0
    eye = torch.eye(H.shape[0], dtype=H.dtype, device=H.device)
    for attempt in range(4):
        try:
            L = torch.linalg.cholesky(H + (damp * 10 ** attempt) * mean_diag * eye)
            return torch.linalg.cholesky(torch.cholesky_inverse(L), upper=True)
        except torch.linalg.LinAlgError:
            continue
    raise QtkError("GPTQ: the calibration Hessian is not positive definite even with 10x dampening "
                   "(use more --calib sequences)")


@torch.no_grad()
def gptq(weight: torch.Tensor, H: torch.Tensor, spec: QSpec, damp: float = 0.01,
         block: int = 128) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Codes (out, in) and scales/zeros (out, n_groups) for weight (out, in) given H (in, in)."""
    W = weight.detach().float().clone()
    H = H.float().clone()
    rows, cols = W.shape
    g = spec.group_for(cols)
    n_groups = -(-cols // g)
    dead = H.diagonal() == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    Hinv = _inverse_cholesky(H, damp)

    Q = torch.zeros_like(W)
    scales = torch.ones(rows, n_groups)
    zeros = torch.zeros(rows, n_groups) if spec.zero_point else None
    block = max(g, block) if g < cols else block
    block -= block % g if g < cols else 0  # blocks hold whole groups
    if g == cols:  # per output channel: one grid for the row, chosen up front
        scales[:, 0], z = grid(W, spec)
        if zeros is not None:
            zeros[:, 0] = z
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        W1 = W[:, i1:i2].clone()
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = i1 + i
            gi = col // g
            if g < cols and col % g == 0:
                scales[:, gi], z = grid(W1[:, i:i + g], spec)
                if zeros is not None:
                    zeros[:, gi] = z
            z = zeros[:, gi] if zeros is not None else None
            w = W1[:, i]
            q = to_codes(w[:, None], scales[:, gi], z, spec)[:, 0]
            Q[:, col] = q
            err = (w - from_codes(q[:, None], scales[:, gi], z)[:, 0]) / Hinv1[i, i]
            W1[:, i:] -= err[:, None] * Hinv1[i, i:][None, :]
            Err1[:, i] = err
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    return Q, scales, zeros
