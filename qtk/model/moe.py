"""Mixture-of-experts feed-forward (Switch Transformer, Fedus et al. 2021; Hash Layers, Roller et
al. 2021): a router (registry kind "router") sends each token to top_k of n_experts SwiGLU
experts, an optional shared expert sees every token.

While training each expert takes at most capacity = capacity_factor * tokens * top_k / n_experts
tokens; the overflow gets expert output 0, i.e. it passes through the residual unchanged.
Tokens claim capacity in position order (position-major across the batch, top_k slots of a token
in rank order), so whether a token is dropped never depends on later positions: the layer stays
causal. Evaluation and generation route every token.

`dispatch_grouped` (sort by expert, one gather, one contiguous matmul per expert, one
index_add) is what the layer uses; `dispatch_naive` (a boolean-mask loop per expert and slot) is
the reference that benchmarks compare it with.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from qtk import registry
from qtk.config import ModelConfig
from qtk.model.context import Context
from qtk.model.mlp import SwiGLU, ffn_hidden
from qtk.model.router import Routing


def capacity_keep(expert: torch.Tensor, B: int, T: int, n_experts: int, capacity: int) -> torch.Tensor:
    """(N, k) bool: which assignments of expert (N, k), tokens in (B, T) order, fit the capacity."""
    N, k = expert.shape
    tok = torch.arange(N, device=expert.device)
    prio = ((tok % T) * B + tok // T)[:, None] * k + torch.arange(k, device=expert.device)  # (N, k)
    e = expert.reshape(-1)
    order = torch.argsort(e * (N * k) + prio.reshape(-1))  # grouped by expert, by priority within
    counts = torch.bincount(e, minlength=n_experts)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(e)
    rank[order] = torch.arange(N * k, device=e.device) - starts[e[order]]
    return (rank < capacity).view(N, k)


def dispatch_grouped(x: torch.Tensor, expert: torch.Tensor, weight: torch.Tensor, keep: torch.Tensor,
                     experts: nn.ModuleList) -> torch.Tensor:
    """sum over kept slots of weight * experts[expert](x), tokens grouped by expert: x (N, C)."""
    N, k = expert.shape
    tok = torch.arange(N, device=x.device).repeat_interleave(k)
    sel = keep.reshape(-1)
    e, w, tok = expert.reshape(-1)[sel], weight.reshape(-1)[sel], tok[sel]
    order = torch.argsort(e, stable=True)
    e, w, tok = e[order], w[order], tok[order]
    counts = torch.bincount(e, minlength=len(experts)).tolist()
    # every expert runs, on an empty chunk if need be, so all parameters take part in the graph
    ys = torch.cat([ex(chunk) for ex, chunk in zip(experts, x[tok].split(counts))])  # (M, C)
    ys = ys * w[:, None].to(ys.dtype)
    return ys.new_zeros(x.shape).index_add_(0, tok, ys)  # in the experts' dtype (bf16 under autocast)


def dispatch_naive(x: torch.Tensor, expert: torch.Tensor, weight: torch.Tensor, keep: torch.Tensor,
                   experts: nn.ModuleList) -> torch.Tensor:
    """Same result as `dispatch_grouped`, by a boolean-mask loop over experts and slots."""
    out = torch.zeros_like(x)
    for i, ex in enumerate(experts):
        for slot in range(expert.shape[1]):
            m = (expert[:, slot] == i) & keep[:, slot]
            if m.any():
                out[m] = out[m] + (weight[m, slot, None] * ex(x[m])).to(out.dtype)
    return out


class MoE(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        m = cfg.moe
        hidden = m.expert_hidden or ffn_hidden(cfg)
        self.n_experts, self.top_k, self.capacity_factor = m.n_experts, m.top_k, m.capacity_factor
        self.router = registry.get("router", cfg.router)(cfg, layer)
        self.experts = nn.ModuleList(SwiGLU(cfg, layer, hidden) for _ in range(m.n_experts))
        self.shared = SwiGLU(cfg, layer, hidden) if m.shared_expert else None

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        B, T, C = x.shape
        flat = x.reshape(-1, C)
        r = self.router(flat, ctx)
        if self.training and self.capacity_factor > 0:
            capacity = math.ceil(self.capacity_factor * B * T * self.top_k / self.n_experts)
            keep = capacity_keep(r.expert, B, T, self.n_experts, capacity)
        else:
            keep = torch.ones_like(r.expert, dtype=torch.bool)
        y = dispatch_grouped(flat, r.expert, r.weight, keep, self.experts)
        if self.shared is not None:
            y = y + self.shared(flat)
        if self.training:
            ctx.aux_losses += [loss for loss in (r.aux_loss, r.z_loss) if loss is not None]
        if ctx.want_stats:
            self.report(r, keep, ctx)
        return y.view(B, T, C)

    @torch.no_grad()
    def report(self, r: Routing, keep: torch.Tensor, ctx: Context) -> None:
        """Load-balance statistics, averaged over MoE layers by ctx.record."""
        load = torch.bincount(r.expert.reshape(-1), minlength=self.n_experts).float() / r.expert.numel()
        mean = 1.0 / self.n_experts
        std = load.std(unbiased=False)
        ctx.record("moe_load", load)  # (E,) share of assignments per expert, before capacity
        ctx.record("moe_load_std", std)
        ctx.record("moe_cv", std / mean)
        ctx.record("moe_maxvio", load.max() / mean - 1)
        ctx.record("moe_drop_rate", 1 - keep.float().mean())
        if r.probs is not None:
            p = r.probs.float()
            ctx.record("moe_entropy", -(p * p.clamp_min(1e-12).log()).sum(-1).mean())
        if r.aux_loss is not None:
            ctx.record("moe_aux_loss", r.aux_loss.detach())
        if r.z_loss is not None:
            ctx.record("moe_z_loss", r.z_loss.detach())
