"""A qtk plugin: a causal short-convolution mixer (the "shortconv" of H3/Hyena-style models).

Use it with  --set model.plugins=path/to/shortconv.py --set model.layers=shortconv*3,dense
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.fields import setting
from qtk.model.state import TensorState
from qtk.registry import register


@dataclass
class ShortConvSettings:  # [model.shortconv] in TOML, --set model.shortconv.kernel=4
    kernel: int = setting(4, "Taps of the causal depthwise convolution.", min=1)


@register("mixer", "shortconv", settings=ShortConvSettings)
class ShortConv(nn.Module):
    max_context = None  # looks back kernel - 1 tokens: no context limit

    def __init__(self, cfg, layer):
        super().__init__()
        self.layer, self.k = layer, cfg.shortconv.kernel
        self.inp = nn.Linear(cfg.n_embd, 2 * cfg.n_embd, bias=False)  # value and gate
        self.conv = nn.Parameter(torch.empty(cfg.n_embd, self.k))
        self.out = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)

    def reset_parameters(self):  # runs once; qtk's default init then leaves this module alone
        nn.init.normal_(self.inp.weight, std=0.02)
        nn.init.normal_(self.out.weight, std=0.002)
        with torch.no_grad():
            self.conv.zero_()[:, -1] = 1.0  # starts as the identity

    def no_weight_decay(self):
        return {"conv"}

    def new_state(self, batch, device, dtype):
        return TensorState(tail=torch.zeros(batch, self.conv.shape[0], self.k - 1, device=device, dtype=dtype))

    def forward(self, x, ctx):  # x (B, T, C)
        v, g = self.inp(x).chunk(2, dim=-1)
        u = v.transpose(1, 2)  # (B, C, T)
        state = ctx.layer_state(self.layer)
        past = state["tail"] if state is not None else u.new_zeros(*u.shape[:2], self.k - 1)
        u = torch.cat([past, u], dim=-1)
        if state is not None:
            state["tail"] = u[..., u.shape[-1] - (self.k - 1):]
        y = F.conv1d(u, self.conv[:, None, :], groups=self.conv.shape[0]).transpose(1, 2)
        return self.out(y * F.silu(g))
