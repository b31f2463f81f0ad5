"""Linear-time mixers on one scan (`qtk.ops.scan`): a matrix state per head, decayed by a scalar
per head and step, written with k v^T and read with q.

- `linear`: linear attention (Katharopoulos et al. 2020, arXiv 2006.16236): identity transition,
  feature map phi = elu + 1 (relu / identity selectable), the original normaliser optional;
- `retnet`: multi-scale retention (Sun et al. 2023, arXiv 2307.08621; torchscale's init): fixed
  decays gamma_h = 1 - 2^(-5-h), rotary q/k, per-head RMSNorm without affine, swish output gate;
- `osc`: an oscillatory (damped-rotation) SSM: a diagonal complex recurrence lambda = r_t e^{i theta}
  kept as 2x2 real blocks over pairs of state rows (LRU, arXiv 2303.06349; the "Phase2D" idea of
  the phase-field LMs), with a learned frequency per pair and an input-dependent damping r_t per
  head. Because r_t is a scalar per head, S_t = r_t R(theta) S_{t-1} + k_t v_t^T is the scalar
  scan on k and q rotated by -theta*pos (R is orthogonal: (R^{t-s} k_s) . q_t = (R^{-s} k_s) .
  (R^{-t} q_t)), i.e. retention with learned frequencies and a data-dependent decay. It is not
  LinOSS (a second-order ODE with its own discretisation) and has no per-unit damping.

All have no context limit (`max_context = None`), decode with a fixed-size state (S per head,
fp32), and reset the state where `ctx.doc_start` marks a new document.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.config import ModelConfig
from qtk.model.context import Context
from qtk.model.rope import apply_rope, apply_rope_real
from qtk.model.state import TensorState
from qtk.ops.scan import scan


class ScanMixer(nn.Module):
    """What the scan mixers share: heads, the state, the scan call with resets."""

    max_context = None  # the state summarises everything before: no limit on how far back

    def __init__(self, cfg: ModelConfig, layer: int, chunk: int) -> None:
        super().__init__()
        self.layer, self.chunk = layer, chunk
        self.n_head, self.head_dim = cfg.n_head, cfg.n_embd // cfg.n_head
        self.eps = cfg.norm_eps
        self.init_std, self.n_layer = cfg.init_std, cfg.n_layer

    def state_shape(self) -> tuple[int, int, int]:
        """(heads, dk, dv) of the matrix state."""
        return self.n_head, self.head_dim, self.head_dim

    def new_state(self, batch: int, device: torch.device | str, dtype: torch.dtype) -> TensorState:
        # fp32 whatever the model's dtype: the state sums the whole past
        return TensorState(S=torch.zeros(batch, *self.state_shape(), device=device, dtype=torch.float32))

    def heads(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T, H*d) -> (B, H, T, d)."""
        B, T, _ = t.shape
        return t.view(B, T, self.n_head, -1).transpose(1, 2)

    def mix(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, g: torch.Tensor, ctx: Context) -> torch.Tensor:
        """o (B, H, T, dv) of the scan, carrying the layer's decode state when there is one."""
        state = ctx.layer_state(self.layer)
        o, S = scan(q, k, v, g, state["S"] if state is not None else None, ctx.doc_start, self.chunk)
        if state is not None:
            state["S"] = S
        return o

    def merge(self, o: torch.Tensor) -> torch.Tensor:
        """(B, H, T, d) -> (B, T, H*d)."""
        B, H, T, d = o.shape
        return o.transpose(1, 2).reshape(B, T, H * d)

    def _normal_init(self, *linears: nn.Linear) -> None:
        for lin in linears:
            nn.init.normal_(lin.weight, 0.0, self.init_std)


FEATURE_MAPS = {"elu1": lambda t: F.elu(t) + 1.0, "relu": F.relu, "identity": lambda t: t}


class LinearAttention(ScanMixer):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        s = cfg.linear
        super().__init__(cfg, layer, s.chunk)
        C = cfg.n_embd
        self.phi, self.normalize = FEATURE_MAPS[s.feature_map], s.normalize
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.proj = nn.Linear(C, C, bias=False)

    def state_shape(self) -> tuple[int, int, int]:
        # the normaliser's running sum of phi(k) rides along as one more value column
        return self.n_head, self.head_dim, self.head_dim + int(self.normalize)

    def reset_parameters(self) -> None:
        """The plain transformer init the paper trained from: normal(0, init_std), the output
        projection scaled by 1/sqrt(2 n_layer)."""
        self._normal_init(self.qkv)
        nn.init.normal_(self.proj.weight, 0.0, self.init_std / math.sqrt(2 * self.n_layer))

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        q, k, v = (self.heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        q, k = self.phi(q), self.phi(k)
        if self.normalize:
            v = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)
        g = q.new_zeros(q.shape[:3])  # identity transition
        o = self.mix(q, k, v, g, ctx)
        if self.normalize:
            o = o[..., :-1] / (o[..., -1:] + 1e-6)
        else:
            o = F.rms_norm(o, (o.shape[-1],), eps=self.eps)
        return self.proj(self.merge(o))


class Retention(ScanMixer):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__(cfg, layer, cfg.retnet.chunk)
        C = cfg.n_embd
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.gate = nn.Linear(C, C, bias=False)
        self.proj = nn.Linear(C, C, bias=False)
        gamma = 1 - 2.0 ** (-5 - torch.arange(self.n_head, dtype=torch.float32))
        self.register_buffer("log_gamma", gamma.log(), persistent=False)  # (H,), fixed

    def reset_parameters(self) -> None:
        """torchscale's RetNet init: Xavier-uniform with gain 2^-2.5 on q, k, v and the gate,
        2^-1 on the output projection."""
        with torch.no_grad():
            for w in (*self.qkv.weight.chunk(3, dim=0), self.gate.weight):
                nn.init.xavier_uniform_(w, gain=2 ** -2.5)
        nn.init.xavier_uniform_(self.proj.weight, gain=2 ** -1)

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        q, k, v = (self.heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        q, k = apply_rope(q, ctx.cos, ctx.sin), apply_rope(k, ctx.cos, ctx.sin) * self.head_dim ** -0.5
        g = self.log_gamma[None, :, None].expand(*q.shape[:3])
        o = F.rms_norm(self.mix(q, k, v, g, ctx), (self.head_dim,), eps=self.eps)
        return self.proj(F.silu(self.gate(x)) * self.merge(o))


class OscillatorySSM(ScanMixer):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        s = cfg.osc
        super().__init__(cfg, layer, s.chunk)
        C = cfg.n_embd
        self.settings = s
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.damp = nn.Linear(C, self.n_head, bias=False)     # input-dependent part of the damping
        self.damp_bias = nn.Parameter(torch.empty(self.n_head))  # softplus^-1(-log r_h)
        self.theta = nn.Parameter(torch.empty(self.n_head, self.head_dim // 2))  # rotation per step
        self.gate = nn.Linear(C, C, bias=False)
        self.proj = nn.Linear(C, C, bias=False)

    def reset_parameters(self) -> None:
        """LRU's ring init: r_h uniform in [r_min, r_max], phases uniform in [0, max_phase];
        projections normal(0, init_std), output scaled by 1/sqrt(2 n_layer)."""
        s = self.settings
        self._normal_init(self.qkv, self.damp, self.gate)
        nn.init.normal_(self.proj.weight, 0.0, self.init_std / math.sqrt(2 * self.n_layer))
        with torch.no_grad():
            r = torch.empty(self.n_head).uniform_(s.r_min, s.r_max)
            self.damp_bias.copy_(torch.log(torch.expm1(-r.log())))  # softplus(b) = -log r
            self.theta.uniform_(0.0, s.max_phase)

    def no_weight_decay(self) -> set[str]:
        return {"theta"}

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        q, k, v = (self.heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        g = -F.softplus(self.damp(x).float() + self.damp_bias).transpose(1, 2)  # (B, H, T) log r_t
        angles = ctx.pos.float()[None, :, None] * self.theta[:, None, :]  # (H, T, d/2)
        cos, sin = angles.cos(), -angles.sin()  # rotate by -theta * pos
        # LRU's input normalisation sqrt(1 - r_t^2) keeps the state's scale near the input's
        k = k * (-torch.expm1(2 * g)).clamp_min(1e-6).sqrt()[..., None].to(k.dtype) * self.head_dim ** -0.5
        q, k = apply_rope_real(q, cos, sin), apply_rope_real(k, cos, sin)
        o = F.rms_norm(self.mix(q, k, v, g, ctx), (self.head_dim,), eps=self.eps)
        return self.proj(F.silu(self.gate(x)) * self.merge(o))
