"""Routing quality on real tokens: a probe model (token embedding -> RMSNorm -> the FFN layer on
the residual -> RMSNorm -> tied head) whose layer sees what block 0's FFN would see without
attention: RMSNorm of the embedding of real token ids (ids too, for the hash router). It is
freshly initialised as GPT initialises, and optionally trained briefly on next-token prediction
(with the routers' aux losses) before the load is measured on held-out tokens.

Load metrics follow REFERENCES.md "Mixture of experts" and qtk.model.moe.MoE.report: share f_i of
the (token, slot) assignments per expert, its std and CV (std / mean share), MaxVio = max share /
mean share - 1, the dropped-assignment rate when every batch of B x T tokens has
capacity = ceil(capacity_factor * B*T * top_k / E) per expert (Switch Transformer), and routing
entropy for learned routers.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk import registry
from qtk.config import ModelConfig, TrainConfig
from qtk.model.context import Context
from qtk.model.gpt import init_weights
from qtk.model.moe import capacity_keep


class Probe(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.norm_in = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.layer = registry.get("ffn", cfg.ffn)(cfg, 0)
        self.norm_out = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        # as in GPT, so the router starts where it would in a fresh model
        self.apply(lambda m: init_weights(m, cfg))

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """The layer's input for token ids idx (B, T) -> (B, T, C)."""
        return self.norm_in(self.wte(idx))

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        ctx = Context(idx, torch.arange(T, device=idx.device), None, None)
        h = self.wte(idx) + self.layer(self.hidden(idx), ctx)  # (B, T, C)
        logits = F.linear(self.norm_out(h), self.wte.weight)  # tied head, (B, T, V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        return loss + sum(ctx.aux_losses)


def train_probe(probe: Probe, train_ids: torch.Tensor, steps: int, B: int, T: int, tcfg: TrainConfig,
                dtype: torch.dtype | None, seed: int) -> list[float]:
    """`steps` AdamW steps on random (B, T) windows of train_ids (1-D, on the probe's device);
    returns the losses (aux losses included)."""
    opt = torch.optim.AdamW(probe.parameters(), lr=tcfg.lr, betas=(tcfg.beta1, tcfg.beta2), weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    cast = torch.autocast(train_ids.device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    probe.train()
    losses = []
    for _ in range(steps):
        start = torch.randint(0, len(train_ids) - T - 1, (B,), generator=gen).to(train_ids.device)
        window = start[:, None] + torch.arange(T + 1, device=train_ids.device)  # (B, T+1)
        seq = train_ids[window]
        with cast:
            loss = probe(seq[:, :-1], seq[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if tcfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(probe.parameters(), tcfg.grad_clip)
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def val_loss(probe: Probe, batches: torch.Tensor) -> float:
    """Mean next-token loss over batches (n, B, T) (eval mode: every token routed, no aux loss)."""
    probe.eval()
    total = 0.0
    for seq in batches:
        total += probe(seq[:, :-1], seq[:, 1:]).item()
    return total / len(batches)


@torch.no_grad()
def routing_stats(probe: Probe, batches: torch.Tensor, capacity_factor: float) -> dict:
    """Load statistics of the probe's layer over batches (n, B, T) of token ids."""
    probe.eval()
    layer = probe.layer
    E, k = getattr(layer, "n_experts", 1), getattr(layer, "top_k", 1)
    counts = torch.zeros(E, dtype=torch.long)
    dropped = unrouted = 0
    entropy, n_batches = 0.0, len(batches)
    for idx in batches:
        B, T = idx.shape
        expert, _, probs = route(layer, probe.hidden(idx), idx)
        counts += torch.bincount(expert.reshape(-1), minlength=E).cpu()
        if capacity_factor > 0 and E > 1:
            keep = capacity_keep(expert, B, T, E, math.ceil(capacity_factor * B * T * k / E))
            dropped += int((~keep).sum())
            unrouted += int((~keep.any(dim=1)).sum())
        if probs is not None:
            entropy += float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean()) / n_batches
    return _load_summary(counts, k, dropped, unrouted, entropy if probs is not None else None)


def route(layer: nn.Module, h: torch.Tensor,
          idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Experts (N, k) and weights (N, k) chosen for h (B, T, C), and the router probabilities
    (N, E) when it has them."""
    if not hasattr(layer, "router"):  # the dense MLP: one "expert" takes everything
        expert = torch.zeros(idx.numel(), 1, dtype=torch.long, device=idx.device)
        return expert, torch.ones_like(expert, dtype=h.dtype), None
    B, T, C = h.shape
    ctx = Context(idx, torch.arange(T, device=idx.device), None, None)
    r = layer.router(h.reshape(-1, C), ctx)
    return r.expert, r.weight, (r.probs.float() if r.probs is not None else None)


def _load_summary(counts: torch.Tensor, k: int, dropped: int, unrouted: int, entropy: float | None) -> dict:
    assignments = int(counts.sum())
    share = counts.double() / assignments
    mean = 1.0 / len(counts)
    std = float(share.std(unbiased=False))
    out = {
        "tokens": assignments // k, "assignments": assignments, "load": counts.tolist(),
        "share": share.tolist(), "std": std, "cv": std / mean, "maxvio": float(share.max()) / mean - 1,
        "dropped": dropped, "drop_rate": dropped / assignments, "unrouted_rate": unrouted / (assignments // k),
    }
    if entropy is not None:
        out["entropy"] = entropy
        out["entropy_max"] = math.log(len(counts))
    return out
