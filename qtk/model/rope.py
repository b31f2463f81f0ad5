"""Rotary position embedding (Su et al. 2021), interleaved-pair form: pairs (x[2i], x[2i+1]) are
rotated by angle pos * theta^(-2i/hs).

Eager mode uses complex multiplication (one fused kernel, ~6x faster on CPU than the split/cat
form). ONNX has no complex type and torch.compile's inductor generates no code for complex ops, so
export and compiled graphs trace the equivalent real-valued form (which inductor fuses)."""

import torch


def rope_tables(head_dim: int, max_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)  # (T, hs/2)
    return angles.cos(), angles.sin()


def apply_rope_real(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x0, x1 = x.unflatten(-1, (-1, 2)).unbind(-1)  # (B, H, T, hs/2) each
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.stack((x0 * cos - x1 * sin, x1 * cos + x0 * sin), dim=-1).flatten(-2)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, H, T, hs); cos/sin (T, hs/2) at the positions of x."""
    if torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling():
        return apply_rope_real(x, cos, sin)
    xc = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)))
    return torch.view_as_real(xc * torch.complex(cos, sin)).flatten(-2).to(x.dtype)
