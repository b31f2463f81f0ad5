"""Model FLOPs per trained token: one estimate, in one place, for MFU in the training log and for
`qtk compare` (matching variants on compute), after PaLM (Chowdhery et al. 2022, appendix B).

6 per parameter per token (2 forward, 4 backward) over the non-embedding parameters a token
actually uses (a mixture of experts counts top_k of its experts), plus the output head's matmul
when it shares the embedding's weight, plus each layer's attention score and value matmuls:
12 x n_head x head_dim x keys per query, where each mixer says how many keys it touches (its
registry hook `attention_keys`: T for dense causal attention, the window for sliding, the chunk
for the chunked linear-time scans); a mixer without the hook is counted as dense. Element-wise
work (norms, Sinkhorn iterations, routers' softmax, the scans' decays) is not counted.
"""

from __future__ import annotations

from typing import Any

from qtk import plan, registry


def attention_flops(mixer: str, model_cfg: Any) -> float:
    """Training FLOPs per token of one layer's attention matmuls (not its projections: those are params)."""
    keys_fn = registry.resolved_attr("mixer", mixer, "attention_keys")
    settings = getattr(model_cfg, mixer, None)
    keys = keys_fn(settings, model_cfg) if keys_fn else model_cfg.block_size
    head_dim = model_cfg.n_embd // model_cfg.n_head
    return 12.0 * model_cfg.n_head * head_dim * keys


def flops_per_token(model_cfg: Any, n_params_non_embedding: int) -> float:
    """Training FLOPs per token. `n_params_non_embedding`: parameters without the token embedding
    (an untied head included), counting only the experts a token is routed to."""
    head = model_cfg.vocab_size * model_cfg.n_embd if model_cfg.tie_embeddings else 0
    attention = sum(attention_flops(spec.mixer, model_cfg) for spec in plan.resolve(model_cfg))
    return 6.0 * (n_params_non_embedding + head) + attention


def model_flops_per_token(model_cfg: Any) -> tuple[int, float]:
    """(total parameters, training FLOPs per token) of a ModelConfig whose vocab_size is set, built
    on the meta device so that no memory is allocated."""
    import torch

    from qtk.model import GPT
    from qtk.train.throughput import active_non_embedding_params

    with torch.device("meta"):
        model = GPT(model_cfg)
    return model.num_params(), flops_per_token(model_cfg, active_non_embedding_params(model))
