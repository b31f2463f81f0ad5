"""SwiGLU feed-forward (Shazeer 2020): down(silu(gate(x)) * up(x))."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.config import ModelConfig


def ffn_hidden(cfg: ModelConfig) -> int:
    """8/3 * n_embd (same params as a 4x GELU MLP), rounded up to a multiple of 32."""
    if cfg.ffn_hidden:
        return cfg.ffn_hidden
    return ((8 * cfg.n_embd // 3 + 31) // 32) * 32


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or ffn_hidden(cfg)
        self.gate_up = nn.Linear(cfg.n_embd, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, cfg.n_embd, bias=False)
        self.down.residual_out = True
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, ctx=None) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return F.dropout(self.down(F.silu(gate) * up), self.dropout, self.training)
