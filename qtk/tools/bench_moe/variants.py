"""The layers `qtk bench-moe` compares: a dense SwiGLU MLP and MoE layers (router x top-k x
experts), each as a ModelConfig the registry builds, with parameter counts and analytic FLOPs.

FLOPs count matmul multiply-adds as 2 (Kaplan et al. 2020 convention): a SwiGLU of width C and
hidden H costs 6·C·H per token forward (gate+up 4CH, down 2CH); an MoE layer costs the router's
linear gate 2·C·E (0 for the hash router) plus top_k experts (plus the shared expert, if any).
Elementwise work (SiLU, softmax, combine weights) and the dispatch's gathers are left out; the
timings show what they cost. Forward+backward is taken as 3x forward.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from qtk import registry
from qtk.config import ModelConfig
from qtk.errors import UsageError
from qtk.model.mlp import ffn_hidden


@dataclass(frozen=True)
class Variant:
    name: str          # "dense", "switch E=8 k=2", ...
    ffn: str           # "mlp" | "moe"
    router: str | None
    n_experts: int     # 1 for the dense MLP
    top_k: int

    def model_config(self, base: ModelConfig) -> ModelConfig:
        """`base` with this variant's feed-forward settings (the width and the rest unchanged)."""
        cfg = copy.deepcopy(base)
        cfg.ffn = self.ffn
        if self.ffn == "moe":
            cfg.router, cfg.moe.n_experts, cfg.moe.top_k = self.router, self.n_experts, self.top_k
        return cfg


def check_sweep(routers: list[str], top_ks: list[int], experts: list[int]) -> None:
    """Raise a UsageError naming the flag for a router that is not registered or E < top_k."""
    if not routers or not top_ks or not experts:
        raise UsageError("--routers, --top-k and --experts each need at least one value")
    for name in routers:
        registry.check("router", name, "--routers")
    for e in experts:
        if e < 1:
            raise UsageError(f"--experts: {e} is not a positive number of experts")
        k = max(top_ks)
        if e < k:
            raise UsageError(f"--experts {e} is smaller than --top-k {k}: a token cannot pick {k} of {e} experts")
    for k in top_ks:
        if k < 1:
            raise UsageError(f"--top-k: {k} must be >= 1")


def make_variants(routers: list[str], top_ks: list[int], experts: list[int]) -> list[Variant]:
    """Dense first, then every router x top_k x E. The hash router picks one expert by token id,
    so it runs at top-1 only (once per E, whatever --top-k lists)."""
    check_sweep(routers, top_ks, experts)
    out = [Variant("dense", "mlp", None, 1, 1)]
    for router in routers:
        ks = [1] if router == "hash" else sorted(set(top_ks))
        for k in ks:
            out += [Variant(f"{router} E={e} k={k}", "moe", router, e, k) for e in sorted(set(experts))]
    return out


def expert_hidden(cfg: ModelConfig) -> int:
    """Hidden width of one expert (the dense MLP's unless model.moe.expert_hidden says otherwise)."""
    return cfg.moe.expert_hidden or ffn_hidden(cfg)


def flops_per_token(v: Variant, cfg: ModelConfig, router_params: int = 0) -> dict[str, int]:
    """Analytic forward and forward+backward FLOPs per token of the layer (see module docstring).
    `router_params`: weights of the router's linear gate (C·E for switch, 0 for hash)."""
    C = cfg.n_embd
    if v.ffn == "mlp":
        fwd = 6 * C * ffn_hidden(cfg)
    else:
        H = expert_hidden(cfg)
        fwd = 2 * router_params + v.top_k * 6 * C * H + (6 * C * H if cfg.moe.shared_expert else 0)
    return {"fwd": fwd, "fwd_bwd": 3 * fwd}


def param_counts(layer, v: Variant) -> dict[str, int]:
    """Total parameters of the layer, and those one token uses (router + top_k experts + shared)."""
    total = sum(p.numel() for p in layer.parameters())
    if v.ffn == "mlp":
        return {"total": total, "active": total}
    router = sum(p.numel() for p in layer.router.parameters())
    expert = sum(p.numel() for p in layer.experts[0].parameters())
    shared = sum(p.numel() for p in layer.shared.parameters()) if layer.shared is not None else 0
    return {"total": total, "active": router + v.top_k * expert + shared}
