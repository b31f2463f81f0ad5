"""LoRA adapters (Hu et al., arXiv 2106.09685): y = W x + (alpha / r) B A x with A (r, in) random and
B (out, r) zero at the start, so a freshly adapted model computes exactly what its base does.
The base layer stays frozen: a plain nn.Linear, or a QuantLinear from `qtk quantize` whose int4 /
int8 codes are never touched (QLoRA, Dettmers et al., arXiv 2305.14314: adapters train in full
precision over a frozen quantized base).

A LoRALinear keeps its base's state-dict keys (`blocks.0.attn.qkv.weight`, not `...base.weight`)
and adds `lora_A` / `lora_B`, so base checkpoints load into an adapted model unchanged and an
adapter checkpoint is just the `lora_*` tensors (and the `new_rows` of tokens the run added,
qtk.finetune.vocab). `qtk.load` applies `swap_in` as the converter
of checkpoints whose metadata has `adapter`.
"""

from __future__ import annotations

import fnmatch
import math

import torch
import torch.nn as nn

from qtk.compress.qlinear import QuantLinear
from qtk.errors import UsageError
from qtk.finetune import vocab
from qtk.swap import keep_base_keys, swap_modules

ADAPTER_PARAMS = ("lora_A", "lora_B", vocab.NEW_ROWS)  # what an adapter checkpoint holds


class LoRALinear(nn.Module):
    """A frozen linear layer (nn.Linear or QuantLinear) plus a trainable low-rank update."""

    def __init__(self, base: nn.Module, r: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if r <= 0:
            raise UsageError(f"finetune.lora.r must be >= 1, got {r}")
        self.base, self.r, self.alpha = base, r, alpha
        self.in_features, self.out_features = base.in_features, base.out_features
        self.scale = alpha / r
        device = next(iter(base.buffers() if isinstance(base, QuantLinear) else base.parameters())).device
        self.lora_A = nn.Parameter(torch.empty(r, self.in_features, device=device))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, device=device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as the paper's reference code (loralib)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        keep_base_keys(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = (self.drop(x) @ self.lora_A.t().to(x.dtype)) @ self.lora_B.t().to(x.dtype)  # (B, T, out)
        return self.base(x) + update * self.scale

    def merged(self) -> nn.Linear:
        """A plain nn.Linear computing W + (alpha / r) B A (a QuantLinear's W dequantized)."""
        w = self.base.weight.detach().float()
        bias = self.base.bias
        out = nn.Linear(self.in_features, self.out_features, bias=bias is not None, device=w.device)
        with torch.no_grad():
            out.weight.copy_(w + self.scale * (self.lora_B.float() @ self.lora_A.float()))
            if bias is not None:
                out.bias.copy_(bias.detach().float())
        return out

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}"


def is_linear(m: nn.Module) -> bool:
    return type(m) is nn.Linear or isinstance(m, QuantLinear)


def target_names(model: nn.Module, patterns: list[str]) -> list[str]:
    """Linear layers to adapt: those inside the blocks whose names match a pattern (all of them
    when there is none); never the LM head. No match is an error listing the candidates."""
    linears = [n for n, m in model.named_modules() if n.startswith("blocks.") and is_linear(m)]
    if not patterns:
        picked = linears
    else:
        picked = [n for n in linears if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not picked:
        shown = ", ".join(linears[:6]) + (f" (+{len(linears) - 6} more)" if len(linears) > 6 else "")
        raise UsageError(f"finetune.lora.targets {patterns} match no linear layer of the blocks (they are: "
                         f"{shown or 'none'})")
    return picked


def apply(model: nn.Module, r: int, alpha: float, dropout: float, patterns: list[str]) -> dict:
    """Freeze every parameter, wrap the target layers with adapters (the only trainable
    parameters), in place; returns the adapter description stored in checkpoints."""
    names = target_names(model, patterns)
    for p in model.parameters():
        p.requires_grad_(False)
    info = {"r": r, "alpha": alpha, "dropout": dropout, "layers": names}
    swap_in(model, info)
    return info


def swap_in(model: nn.Module, info: dict) -> None:
    """Wrap the layers an adapter description names, and the embedding and head when the run
    added tokens (the loader's converter)."""
    wanted = set(info["layers"])
    missing = wanted - {n for n, m in model.named_modules() if is_linear(m)}
    if missing:
        raise UsageError(f"adapter layers {sorted(missing)[:3]} are not linear layers of this model")
    swap_modules(model, lambda n, m: n in wanted,
                 lambda _, m: LoRALinear(m, info["r"], info["alpha"], info.get("dropout", 0.0)))
    if info.get("vocab"):
        vocab.extend(model, info["vocab"], init=False)


def adapter_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Only the adapter tensors of a state dict."""
    return {k: v for k, v in state.items() if k.rpartition(".")[2] in ADAPTER_PARAMS}


def merge(model: nn.Module) -> list[str]:
    """Fold every adapter into its base layer (plain nn.Linear), and added tokens' rows into a
    plain embedding and head, in place; returns the adapted layers' names."""
    names = swap_modules(model, lambda _, m: isinstance(m, LoRALinear), lambda _, m: m.merged())
    vocab.fold(model)
    return names


def trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
