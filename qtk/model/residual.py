"""Residual connection schemes. `standard` is the pre-norm residual x + f(norm(x))."""

from typing import Callable

import torch
import torch.nn as nn

from qtk.config import ModelConfig


class StandardResidual(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)

    @classmethod
    def expand(cls, x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
        return x

    @classmethod
    def collapse(cls, h: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
        return h

    def forward(self, h: torch.Tensor, fn: Callable, ctx) -> torch.Tensor:
        return h + fn(self.norm(h), ctx)
