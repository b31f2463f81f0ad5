"""Decoder-only transformer: token embedding, blocks of (attention, ffn[, memory]) wrapped by a
residual scheme, final RMSNorm, (optionally tied) LM head. Components come from the registry by
the names in ModelConfig, so new kinds plug in without editing this file.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk import registry
from qtk.config import ModelConfig
from qtk.model.context import Context, KVCache
from qtk.model.rope import rope_tables


def padded_vocab(n: int) -> int:
    return ((n + 63) // 64) * 64


def init_weights(m: nn.Module, cfg: ModelConfig) -> None:
    """Normal(0, init_std); residual output projections scaled by 1/sqrt(2 n_layer) (GPT-2)."""
    std = cfg.init_std
    if isinstance(m, nn.Linear):
        if getattr(m, "residual_out", False):
            std = std / math.sqrt(2 * cfg.n_layer)
        nn.init.normal_(m.weight, 0.0, std)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, 0.0, std)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        residual = registry.get("residual", cfg.residual)
        self.attn = registry.get("attention", cfg.attention)(cfg, layer)
        self.attn_res = residual(cfg, layer)
        self.ffn = registry.get("ffn", cfg.ffn)(cfg, layer)
        self.ffn_res = residual(cfg, layer)
        memory = registry.get("memory", cfg.memory)
        self.memory = memory(cfg, layer) if memory is not None and layer in memory.layers(cfg) else None
        self.memory_res = residual(cfg, layer) if self.memory is not None else None

    def forward(self, h: torch.Tensor, ctx: Context) -> torch.Tensor:
        if self.memory is not None:
            h = self.memory_res(h, self.memory, ctx)
        h = self.attn_res(h, self.attn, ctx)
        return self.ffn_res(h, self.ffn, ctx)


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size must be set (from the tokenizer) before building")
        self.cfg = cfg
        self.residual = registry.get("residual", cfg.residual)
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layer))
        self.norm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.wte.weight
        cos, sin = rope_tables(cfg.n_embd // cfg.n_head, cfg.block_size, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(lambda m: init_weights(m, cfg))

    def num_params(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())  # tied weights are counted once
        if non_embedding:
            n -= self.wte.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx (B, T) -> logits (B, T, V); with targets, mean cross-entropy (+ aux losses).
        Targets < 0 are ignored. Without targets only the positions' logits are returned."""
        B, T = idx.shape
        past = cache.length if cache is not None else 0
        if past + T > self.cfg.block_size:
            raise ValueError(f"sequence of {past + T} tokens exceeds the context of {self.cfg.block_size}")
        pos = torch.arange(past, past + T, device=idx.device)
        ctx = Context(idx, pos, self.rope_cos[past:past + T], self.rope_sin[past:past + T], cache)
        logits = self.run(idx, ctx)  # (B, T, V)
        if cache is not None:
            cache.advance(T)
        self.last_stats = ctx.stats
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        for aux in ctx.aux_losses:
            loss = loss + aux
        return logits, loss

    def run(self, idx: torch.Tensor, ctx: Context) -> torch.Tensor:
        """Logits (B, T, V) of idx in a prepared context. forward() prepares the usual one
        (positions from the cache); the ONNX export its own (positions, padding and past as inputs)."""
        h = self.residual.expand(self.wte(idx), self.cfg)  # (B, T, C) or scheme-specific
        for block in self.blocks:
            h = block(h, ctx)
        return self.head(self.norm(self.residual.collapse(h, self.cfg)))
