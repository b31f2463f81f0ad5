"""Inference weight layout for batch-1 decoding.

nn.Linear keeps W as (out, in) and computes x @ W.T. At one token per step that is a
matrix-vector product, and on CPU torch's GEMM reads the transposed operand markedly slower than
a row-major (in, out) one: 6 layers of the `small` preset take 2.7 ms per token as x @ W.T and
1.9 ms as x @ W_t with W_t = W.T stored contiguous (1 thread; bench/RESULTS.md). GPT-2's
Conv1D keeps that layout for the same reason. `transpose_linears` switches a model to it in
place, for generation only: the weights stop being trainable parameters of nn.Linear layers.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from qtk.swap import swap_modules


class TransposedLinear(nn.Module):
    """y = x @ weight_t + bias, with weight_t = W.T (in, out) contiguous; frozen (inference)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_t", linear.weight.detach().t().contiguous())
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.weight_t
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def transpose_linears(model: nn.Module) -> int:
    """Replace every plain nn.Linear (not subclasses such as quantized layers, not one whose
    weight is shared with another module, e.g. a tied LM head) by a TransposedLinear, in place.
    Returns how many were replaced. The memory taken stays the same: each W is freed once its
    transposed copy is made."""
    counts: dict[int, int] = {}
    for _, p in model.named_parameters(remove_duplicate=False):
        counts[id(p)] = counts.get(id(p), 0) + 1
    swapped = swap_modules(model, lambda _, m: type(m) is nn.Linear and counts.get(id(m.weight), 0) == 1,
                           lambda _, m: TransposedLinear(m))
    return len(swapped)
