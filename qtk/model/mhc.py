"""mHC, Manifold-Constrained Hyper-Connections (DeepSeek, arXiv 2512.24880): the residual stream
is n parallel streams, and each sublayer F updates them as

    h' = H_res h + H_post^T F(H_pre h)

with H_pre, H_post (1 x n, non-negative through a sigmoid; H_post = 2 sigmoid) and H_res (n x n,
projected onto the doubly-stochastic matrices by Sinkhorn-Knopp) all computed from the input:
a static bias plus alpha * (RMSNorm(flattened streams) @ W). A doubly-stochastic H_res keeps the
streams' mean and bounds their norm, which is what makes deep stacks of it stable.

Init follows Hyper-Connections (Zhu et al. 2024): H_res diagonal-heavy, H_post = 1 and H_pre
reading mainly stream `layer mod n`, which breaks the symmetry between the n copies of the
embedding that `expand` makes. A finite Sinkhorn run is exact on the columns and approximate on
the rows; the rows' worst error is reported as the `mhc_sinkhorn_err` training statistic (raise
`model.mhc.sinkhorn_iters` if it grows: peaked matrices converge slowly).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from qtk.config import ModelConfig


def sinkhorn(logits: torch.Tensor, iters: int) -> torch.Tensor:
    """(..., n, n) -> doubly-stochastic exp(logits) scaled alternately by rows and columns (in
    log space, fp32)."""
    log = logits.float()
    for _ in range(iters):
        log = log - log.logsumexp(dim=-1, keepdim=True)
        log = log - log.logsumexp(dim=-2, keepdim=True)
    return log.exp()


class ManifoldHyperConnection(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        n, C = cfg.mhc.n_streams, cfg.n_embd
        self.n, self.iters = n, cfg.mhc.sinkhorn_iters
        self.norm = nn.RMSNorm(C, eps=cfg.norm_eps)  # the sublayer's own pre-norm
        self.in_norm = nn.RMSNorm(n * C, eps=cfg.norm_eps)
        self.maps = nn.Linear(n * C, 2 * n + n * n, bias=False)  # input-dependent part
        self.alpha = nn.Parameter(torch.full((3,), 0.01))  # gains of the pre, post, res parts
        self.bias_pre = nn.Parameter(torch.where(torch.arange(n) == layer % n, 4.0, -4.0))
        self.bias_post = nn.Parameter(torch.zeros(n))
        # diagonal-heavy (0.71 on the diagonal for n = 4) yet far enough from a permutation that 20
        # Sinkhorn iterations converge to ~1e-7 (at -4 they leave ~1e-4)
        self.bias_res = nn.Parameter(torch.where(torch.eye(n, dtype=torch.bool), 0.0, -2.0))

    def no_weight_decay(self) -> set[str]:
        """The static parts of H_pre, H_post, H_res and their gains: decaying them would pull
        the mixing towards uniform."""
        return {"alpha", "bias_pre", "bias_post", "bias_res"}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001
        key = prefix + "bias_res"
        if key in state_dict and state_dict[key].dim() == 1:  # checkpoints before v2 stored it flat
            state_dict[key] = state_dict[key].view(self.n, self.n)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @classmethod
    def expand(cls, x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
        """(B, T, C) -> (B, T, n, C): n copies of the embedding."""
        return x.unsqueeze(2).expand(-1, -1, cfg.mhc.n_streams, -1)

    @classmethod
    def collapse(cls, h: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
        """(B, T, n, C) -> (B, T, C): the sum of the streams (the final RMSNorm rescales it)."""
        return h.sum(dim=2)

    def mixing(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """H_pre (B, T, n), H_post (B, T, n), H_res (B, T, n, n) for the streams h (B, T, n, C)."""
        n = self.n
        d = self.maps(self.in_norm(h.flatten(-2)))  # (B, T, 2n + n^2)
        pre, post, res = d.split([n, n, n * n], dim=-1)
        h_pre = torch.sigmoid(self.alpha[0] * pre + self.bias_pre)
        h_post = 2 * torch.sigmoid(self.alpha[1] * post + self.bias_post)
        h_res = sinkhorn(self.alpha[2] * res.unflatten(-1, (n, n)) + self.bias_res, self.iters)
        return h_pre, h_post, h_res.to(h.dtype)

    def forward(self, h: torch.Tensor, fn: Callable, ctx) -> torch.Tensor:
        h_pre, h_post, h_res = self.mixing(h)
        if ctx.want_stats:  # how far the finite Sinkhorn run is from doubly stochastic (rows; columns are exact)
            ctx.record("mhc_sinkhorn_err", (h_res.detach().sum(-1) - 1).abs().max())
        x = (h_pre.unsqueeze(-1) * h).sum(dim=2)  # (B, T, C)
        y = fn(self.norm(x), ctx)  # (B, T, C)
        return h_res @ h + h_post.unsqueeze(-1) * y.unsqueeze(2)
