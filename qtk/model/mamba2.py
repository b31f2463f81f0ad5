"""Mamba-2 mixer (Dao & Gu 2024, "Transformers are SSMs", arXiv 2405.21060; the SSD layer of
state-spaces/mamba with one group of B/C).

    z, x, B, C, dt = in_proj(u)                  x: (inner = expand * n_embd) in heads of P
    x, B, C = SiLU(causal depthwise conv(x, B, C))   width 4
    dt = softplus(dt + dt_bias); A = -exp(A_log)     one decay per head and step: exp(dt A)
    h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t^T;  y_t = h_t^T C_t + D x_t   (qtk.ops.scan: k = dt B, q = C)
    out = out_proj(RMSNorm(y * SiLU(z)))             the gated RMSNorm

Init as the reference: A ~ U(1, 16) stored as A_log, dt ~ logUniform(1e-3, 1e-1) stored as its
inverse softplus in dt_bias, D = 1 (none of the three decays), torch's default Linear/Conv1d
init, the output projection divided by sqrt(2 n_layer) (two residual branches per block here).
Decoding keeps the conv's last kernel - 1 inputs and the SSM state (fp32): fixed size.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.config import ModelConfig
from qtk.model.context import Context
from qtk.model.state import TensorState
from qtk.ops.scan import scan


def causal_conv(u: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, past: torch.Tensor,
                reset: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Depthwise causal conv of u (B, T, D) with weight (D, 1, k), continuing from `past`
    (B, k-1, D) earlier inputs; a tap never reaches back across a document start. Returns
    (y (B, T, D), the last k-1 inputs of the current document for the next call)."""
    k = weight.shape[-1]
    T = u.shape[1]
    up = torch.cat([past.to(u.dtype), u], dim=1)  # (B, T + k - 1, D)
    if reset is None and T > 1:
        y = F.conv1d(up.transpose(1, 2), weight, bias, groups=weight.shape[0]).transpose(1, 2)
        return y, up[:, up.shape[1] - (k - 1):]
    if reset is None:  # one decoded token: k multiply-adds beat a convolution call ~50x on CPU
        reset = torch.zeros(u.shape[:2], dtype=torch.bool, device=u.device)
    seg = F.pad(reset.long().cumsum(1), (k - 1, 0))  # (B, T + k - 1): past inputs are segment 0
    y = bias.to(u.dtype).expand_as(u)
    for i in range(k):  # tap i reads input t + i of `up` (i = k - 1 is the current token)
        same = (seg[:, i:i + T] == seg[:, k - 1:])[..., None]
        y = y + weight[:, 0, i] * up[:, i:i + T] * same
    tail = up[:, up.shape[1] - (k - 1):] * (seg[:, seg.shape[1] - (k - 1):] == seg[:, -1:])[..., None]
    return y, tail


class Mamba2(nn.Module):
    max_context = None

    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        s = cfg.mamba2
        C = cfg.n_embd
        self.layer, self.chunk, self.n_layer = layer, s.chunk, cfg.n_layer
        self.inner, self.P, self.N = s.expand * C, s.head_dim, s.d_state
        self.H = self.inner // self.P
        self.conv_dim = self.inner + 2 * self.N
        self.in_proj = nn.Linear(C, 2 * self.inner + 2 * self.N + self.H, bias=False)
        self.conv = nn.Conv1d(self.conv_dim, self.conv_dim, s.conv_kernel, groups=self.conv_dim, bias=True)
        self.A_log = nn.Parameter(torch.empty(self.H))
        self.dt_bias = nn.Parameter(torch.empty(self.H))
        self.D = nn.Parameter(torch.empty(self.H))
        self.norm = nn.RMSNorm(self.inner, eps=cfg.norm_eps)
        self.out_proj = nn.Linear(self.inner, C, bias=False)

    def reset_parameters(self) -> None:
        self.in_proj.reset_parameters()
        self.conv.reset_parameters()
        self.norm.reset_parameters()
        self.out_proj.reset_parameters()
        with torch.no_grad():
            self.out_proj.weight /= math.sqrt(2 * self.n_layer)
            self.A_log.copy_(torch.empty(self.H).uniform_(1.0, 16.0).log())
            lo, hi = math.log(1e-3), math.log(1e-1)
            dt = torch.exp(torch.rand(self.H) * (hi - lo) + lo).clamp_min(1e-4)
            self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus(dt_bias) = dt
            self.D.fill_(1.0)

    def no_weight_decay(self) -> set[str]:
        return {"A_log", "dt_bias", "D"}

    def new_state(self, batch: int, device: torch.device | str, dtype: torch.dtype) -> TensorState:
        k = self.conv.kernel_size[0]
        return TensorState(conv=torch.zeros(batch, k - 1, self.conv_dim, device=device, dtype=dtype),
                           S=torch.zeros(batch, self.H, self.N, self.P, device=device, dtype=torch.float32))

    def forward(self, u: torch.Tensor, ctx: Context) -> torch.Tensor:
        B, T, _ = u.shape
        z, xbc, dt = self.in_proj(u).split([self.inner, self.conv_dim, self.H], dim=-1)
        state = ctx.layer_state(self.layer)
        k = self.conv.kernel_size[0]
        past = state["conv"] if state is not None else u.new_zeros(B, k - 1, self.conv_dim)
        xbc, tail = causal_conv(xbc, self.conv.weight, self.conv.bias, past, ctx.doc_start)
        x, Bm, Cm = F.silu(xbc).split([self.inner, self.N, self.N], dim=-1)
        dt = F.softplus(dt.float() + self.dt_bias).transpose(1, 2)  # (B, H, T)
        g = dt * -torch.exp(self.A_log.float())[:, None]  # log-decay dt * A <= 0
        xh = x.view(B, T, self.H, self.P).transpose(1, 2)  # (B, H, T, P)
        q = Cm[:, None].expand(B, self.H, T, self.N)
        kk = Bm[:, None] * dt[..., None].to(Bm.dtype)  # (B, H, T, N)
        y, S = scan(q, kk, xh, g, state["S"] if state is not None else None, ctx.doc_start, self.chunk)
        if state is not None:
            state["conv"], state["S"] = tail, S
        y = y + self.D[:, None, None].to(y.dtype) * xh
        y = y.transpose(1, 2).reshape(B, T, self.inner)
        return self.out_proj(self.norm(y * F.silu(z)))
