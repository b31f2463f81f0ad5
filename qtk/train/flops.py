"""FLOPs per token: one estimate, in one place, for `qtk compare` (matching variants on compute)
and for anything that later reports model FLOPs utilisation.

The estimate follows Kaplan et al. 2020 / PaLM (Chowdhery et al. 2022, appendix B): a training
step costs 6 FLOPs per matmul parameter per token (2 forward, 4 backward) plus the attention
scores and weighted sum, 12 * n_layer * n_embd * T per token at context T. It is an estimate:
element-wise work (norms, Sinkhorn iterations, routers' softmax) is not counted, and masked or
sparse attention is counted as dense, as the reference implementations execute it.
"""

from __future__ import annotations

import torch
from torch import nn


def matmul_params(model: nn.Module) -> int:
    """Parameters each token multiplies through: everything except embedding tables (looked up,
    not multiplied), with a mixture of experts counted at the share of experts a token visits.

    A tied output head shares its weight with the token embedding but is a matmul: it counts once,
    as the head's (modules are walked one by one, so the shared tensor is seen under both).
    """
    total = sum(p.numel() for m in model.modules() for p in m.parameters(recurse=False)
                if not isinstance(m, nn.Embedding))
    for m in model.modules():
        experts, top_k = getattr(m, "experts", None), getattr(m, "top_k", None)
        if isinstance(experts, nn.ModuleList) and isinstance(top_k, int) and len(experts):
            expert_params = sum(p.numel() for p in experts.parameters())
            total -= expert_params - expert_params * min(top_k, len(experts)) // len(experts)
    return total


def flops_per_token(model: nn.Module, n_layer: int, n_embd: int, block_size: int) -> float:
    """Estimated training FLOPs (forward + backward) per token at context `block_size`."""
    return 6.0 * matmul_params(model) + 12.0 * n_layer * n_embd * block_size


def model_flops_per_token(model_cfg) -> tuple[int, float]:
    """(total parameters, estimated training FLOPs per token) of a ModelConfig whose vocab_size is
    set, built on the meta device so that no memory is allocated."""
    from qtk.model import GPT

    with torch.device("meta"):
        model = GPT(model_cfg)
    return model.num_params(), flops_per_token(model, model_cfg.n_layer, model_cfg.n_embd, model_cfg.block_size)
