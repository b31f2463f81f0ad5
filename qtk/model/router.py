"""MoE routers (registry kind "router"): which experts each token goes to, and with what weight.

- `switch` (Fedus et al. 2021, Switch Transformer): a learned linear gate, softmax over experts,
  top-k; its load-balancing loss alpha * E * sum_i f_i * P_i and optional router z-loss
  (Zoph et al. 2022, ST-MoE) are returned for the MoE layer to add while training;
- `hash` (Roller et al. 2021, Hash Layers): a fixed, balanced hash of the token id; no
  parameters, no aux loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from qtk.config import ModelConfig
from qtk.model.context import Context


@dataclass
class Routing:
    expert: torch.Tensor               # (N, k) long: chosen experts per token
    weight: torch.Tensor               # (N, k): combine weights
    probs: torch.Tensor | None = None  # (N, E) router probabilities (learned routers)
    aux_loss: torch.Tensor | None = None
    z_loss: torch.Tensor | None = None


class SwitchRouter(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        m = cfg.moe
        self.n_experts, self.top_k = m.n_experts, m.top_k
        self.aux_coef, self.z_coef = m.aux_loss_coef, m.z_loss_coef
        self.score = nn.Linear(cfg.n_embd, m.n_experts, bias=False)

    def forward(self, x: torch.Tensor, ctx: Context) -> Routing:
        """x (N, C) -> Routing; top-1 weights are the raw probabilities (as in Switch), top-k>1
        weights are renormalised over the chosen experts."""
        logits = self.score(x).float()  # (N, E): routing in fp32 even under autocast
        probs = logits.softmax(dim=-1)
        weight, expert = probs.topk(self.top_k, dim=-1)
        if self.top_k > 1:
            weight = weight / weight.sum(dim=-1, keepdim=True)
        N, E = probs.shape
        f = torch.bincount(expert.reshape(-1), minlength=E).to(probs.dtype) / (N * self.top_k)
        aux = self.aux_coef * E * (f * probs.mean(dim=0)).sum() if self.aux_coef > 0 else None
        z = self.z_coef * torch.logsumexp(logits, dim=-1).square().mean() if self.z_coef > 0 else None
        return Routing(expert, weight.to(x.dtype), probs, aux, z)


class HashRouter(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        E, V = cfg.moe.n_experts, cfg.vocab_size
        # a random permutation dealt round-robin: every expert gets V/E token ids (balanced over
        # the vocabulary); a different deal per layer; saved with the weights
        gen = torch.Generator().manual_seed(1_000_003 * (layer + 1))
        table = torch.empty(V, dtype=torch.long)
        table[torch.randperm(V, generator=gen)] = torch.arange(V) % E
        self.register_buffer("expert_of", table)

    def forward(self, x: torch.Tensor, ctx: Context) -> Routing:
        expert = self.expert_of[ctx.idx.reshape(-1)][:, None]  # (N, 1)
        return Routing(expert, torch.ones_like(expert, dtype=x.dtype))
