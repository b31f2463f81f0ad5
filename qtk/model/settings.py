"""Settings of the built-in components: one torch-free dataclass per component, named in the
registry next to the component's class, with an optional `validate(settings, model, key)` hook for
checks that involve the rest of the model. They appear as `[model.<component>]` TOML tables and
`--set model.<component>.<field>=...`. No torch here (config loading and `--help` must not
import it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qtk.errors import UsageError
from qtk.fields import setting
from qtk.memory.settings import IndexSettings
from qtk.memory.settings import check as check_index


@dataclass
class SlidingSettings:
    window: int = setting(64, "Sliding-window attention: each query sees the last `window` positions (itself "
                              "included).", min=1)


@dataclass
class TopKSettings:
    k: int = setting(32, "Top-k attention: each query attends to its k highest-scoring causal keys "
                         "(k <= block_size).", min=1)


def validate_topk(s: TopKSettings, model: Any, key: str) -> None:
    if s.k > model.block_size:
        raise UsageError(f"{key}.k ({s.k}) exceeds model.block_size ({model.block_size}): "
                         "a query can never have more than block_size keys")


@dataclass
class NSASettings:
    compress_block: int = setting(16, "NSA compressed branch: block length l (paper 32).", min=1)
    compress_stride: int = setting(8, "NSA compressed branch: stride s between blocks (paper 16; s <= l).", min=1)
    select_block: int = setting(16, "NSA selected branch: block length l' (paper 64).", min=1)
    select_count: int = setting(4, "NSA selected branch: blocks n per query, incl. the first and 2 local "
                                   "(paper 16).", min=1)
    window: int = setting(32, "NSA sliding-window branch: window w (paper 512).", min=1)


def validate_nsa(s: NSASettings, model: Any, key: str) -> None:
    if s.compress_stride > s.compress_block:
        raise UsageError(f"{key}.compress_stride ({s.compress_stride}) must be <= "
                         f"{key}.compress_block ({s.compress_block})")
    if s.compress_block > model.block_size or s.select_block > model.block_size:
        raise UsageError(f"{key}.compress_block and {key}.select_block must be <= model.block_size")


@dataclass
class MoESettings:
    n_experts: int = setting(4, "Routed experts per MoE layer.", min=1)
    top_k: int = setting(1, "Experts per token (the hash router uses 1).", min=1)
    capacity_factor: float = setting(1.25, "Expert capacity = factor * tokens * top_k / n_experts while "
                                           "training; overflow skips the expert through the residual; "
                                           "0 = no limit.", min=0.0)
    aux_loss_coef: float = setting(0.01, "Switch load-balancing loss weight alpha (alpha * E * sum f_i * P_i).",
                                   min=0.0)
    z_loss_coef: float = setting(0.0, "Router z-loss weight (mean squared logsumexp of the router logits).",
                                 min=0.0)
    shared_expert: bool = setting(False, "Add one always-active shared expert.")
    expert_hidden: int = setting(0, "Hidden width of each expert; 0 = the dense MLP's (model.ffn_hidden rule).",
                                 min=0)


def validate_moe(s: MoESettings, model: Any, key: str) -> None:
    if s.top_k > s.n_experts:
        raise UsageError(f"{key}.top_k ({s.top_k}) exceeds {key}.n_experts ({s.n_experts})")
    if model.router == "hash" and s.top_k != 1:
        raise UsageError("model.router = hash sends each token to one expert: set model.moe.top_k = 1")


@dataclass
class EngramSettings:
    max_order: int = setting(3, "Hash n-grams of orders 2..max_order ending at each position.", min=2)
    n_heads: int = setting(2, "Independent hash heads (tables) per order.", min=1)
    table_size: int = setting(0, "Rows per hash table, rounded up to a prime; 0 = about 5 x vocab_size.", min=0)
    embd: int = setting(32, "Width of each table's embedding; the lookups are concatenated.", min=1)
    conv_kernel: int = setting(4, "Length of the short causal depthwise convolution.", min=1)
    layers: str = setting("1", "Comma-separated block indices that get an Engram module when model.memory = "
                               "engram (e.g. \"1,3\"); model.layers can place it per layer instead.")
    seed: int = setting(0, "Seed of the hash multipliers.")


@dataclass
class MHCSettings:
    n_streams: int = setting(4, "Residual streams.", min=1)
    sinkhorn_iters: int = setting(20, "Sinkhorn-Knopp iterations projecting H_res onto doubly-stochastic "
                                      "matrices.", min=1)


# ------------------------------------------------------------------ linear-time mixers (qtk.ops.scan)

# fla's Triton kernels (the GPU path) take key and value head dims up to 256; the CPU path takes
# any, but a config that trains here must also run there.
MAX_SCAN_HEAD_DIM = 256
_CHUNK_HELP = "Tokens per chunk of the chunked scan (training and prefill form)."


def _check_scan_head(model: Any, key: str) -> None:
    hs = model.n_embd // model.n_head
    if hs > MAX_SCAN_HEAD_DIM:
        raise UsageError(f"{key}: head dim model.n_embd / model.n_head = {hs} exceeds {MAX_SCAN_HEAD_DIM}, "
                         "the largest state dimension the chunked scan kernels take")


@dataclass
class LinearSettings:
    feature_map: str = setting("elu1", "Linear attention feature map phi applied to q and k: elu1 (elu(x) + 1, "
                                       "Katharopoulos et al. 2020), relu, or identity.",
                               choices=["elu1", "relu", "identity"])
    normalize: bool = setting(False, "Divide by phi(q) . sum_s phi(k_s) (the original normaliser); off = "
                                     "per-head RMSNorm of the output (TransNormer), which trains more stably.")
    chunk: int = setting(64, _CHUNK_HELP, min=1)


def validate_linear(s: LinearSettings, model: Any, key: str) -> None:
    _check_scan_head(model, key)
    if s.normalize and s.feature_map == "identity":
        raise UsageError(f"{key}.normalize needs a positive feature map ({key}.feature_map = elu1 or relu): "
                         "with identity the normaliser can be zero or negative")


@dataclass
class RetNetSettings:
    chunk: int = setting(64, _CHUNK_HELP, min=1)


def validate_scan_heads(s: Any, model: Any, key: str) -> None:
    _check_scan_head(model, key)


@dataclass
class Mamba2Settings:
    expand: int = setting(2, "Mamba-2 inner width = expand * n_embd.", min=1)
    head_dim: int = setting(64, "Mamba-2 head dim P (inner width / P heads, each with its own decay).", min=1)
    d_state: int = setting(64, "Mamba-2 state size N per head (the width of B and C).", min=1)
    conv_kernel: int = setting(4, "Taps of the depthwise causal convolution over x, B, C.", min=1)
    chunk: int = setting(64, _CHUNK_HELP, min=1)


def validate_mamba2(s: Mamba2Settings, model: Any, key: str) -> None:
    inner = s.expand * model.n_embd
    if inner % s.head_dim:
        raise UsageError(f"{key}.head_dim ({s.head_dim}) must divide the inner width {key}.expand * "
                         f"model.n_embd = {inner}")
    for name in ("head_dim", "d_state"):
        if getattr(s, name) > MAX_SCAN_HEAD_DIM:
            raise UsageError(f"{key}.{name} ({getattr(s, name)}) exceeds {MAX_SCAN_HEAD_DIM}, the largest state "
                             "dimension the chunked scan kernels take")


@dataclass
class OscSettings:
    r_min: float = setting(0.9, "Oscillatory SSM: smallest damping |lambda| at init (LRU ring init).",
                           min=0.0, max=1.0)
    r_max: float = setting(0.999, "Oscillatory SSM: largest damping |lambda| at init.", min=0.0, max=1.0)
    max_phase: float = setting(0.314159, "Oscillatory SSM: rotation angles per step start uniform in "
                                         "[0, max_phase] (LRU uses pi/10 on long-range tasks).", min=0.0)
    chunk: int = setting(64, _CHUNK_HELP, min=1)


def validate_osc(s: OscSettings, model: Any, key: str) -> None:
    _check_scan_head(model, key)
    if not 0.0 < s.r_min <= s.r_max < 1.0:
        raise UsageError(f"{key}: need 0 < r_min <= r_max < 1 (damping of a stable recurrence), "
                         f"got r_min={s.r_min}, r_max={s.r_max}")


@dataclass
class KNNSettings(IndexSettings):
    k: int = setting(32, "kNN memory: items retrieved per query and head (Memorizing Transformers: 32).", min=1)
    layers: str = setting("auto", "Comma-separated block indices that get a kNN memory when model.memory = knn; "
                                  "auto = the block at 3/4 of the depth (paper: layer 9 of 12).")
    combine: str = setting("joint", "How retrieved items meet local attention: joint (one softmax over local "
                                    "keys and retrieved items) or gate (a learned per-head gate between the two "
                                    "attention results).", choices=["joint", "gate"])
    init_temperature: float = setting(10.0, "Initial scale of the normalised query.key logits (learned per head).",
                                      min=0.0)
    local_rope: bool = setting(True, "Rotate the kNN layer's local queries and keys (RoPE). false: its local "
                                     "attention is position-free, the same score function as its memory path "
                                     "(whose items carry no rotation), so a lookup learned within a segment "
                                     "also works on retrieved items; the other layers keep RoPE.")
    smear_keys: bool = setting(False, "Each key of the kNN layer (local and stored) also carries the previous "
                                      "token's key: a learned per-channel mix (the smeared keys of Olsson et al. "
                                      "2022), so the lookup of what followed an earlier occurrence of the "
                                      "current context (a copy) needs no previous-token layer below it.")

    def auto_layers(self, n_layer: int) -> set[int]:
        return {min(n_layer - 1, (3 * n_layer) // 4)}


def validate_knn(s: KNNSettings, model: Any, key: str) -> None:
    check_index(s, key)
    if s.capacity and s.k > s.capacity:
        raise UsageError(f"{key}.k ({s.k}) exceeds {key}.capacity ({s.capacity}): a query could never get k items")
    if model.n_embd % model.n_head:
        raise UsageError(f"{key}: model.n_embd ({model.n_embd}) must divide by model.n_head ({model.n_head})")


# ---------------------------------------------------------------- attention FLOPs
# Keys per query that a mixer's score (QK) and value (AV) matmuls touch, averaged over the two, with
# PaLM's convention (Chowdhery et al. 2022, appendix B) of counting a causal mask's full length T.
# The registry names these as each mixer's `attention_keys`; qtk/train/flops.py turns them into FLOPs.

def dense_keys(s: Any, model: Any) -> float:
    return model.block_size


def sliding_keys(s: SlidingSettings, model: Any) -> float:
    return min(s.window, model.block_size)


def topk_keys(s: TopKSettings, model: Any) -> float:
    return (model.block_size + min(s.k, model.block_size)) / 2  # scores over all keys, values over k


def nsa_keys(s: NSASettings, model: Any) -> float:
    T = model.block_size
    return T / s.compress_stride + min(T, s.select_count * s.select_block) + min(T, s.window)


def scan_keys(s: Any, model: Any) -> float:
    """The chunked scans attend within a chunk (the state carries the rest at d_k x d_v per token)."""
    return min(s.chunk, model.block_size)
