"""Decoder-only language model: token embedding, blocks of (mixer, ffn[, memory]) wrapped by a
residual scheme, final RMSNorm, (optionally tied) LM head. Which mixer, ffn and memory each
block gets comes from the per-layer plan (qtk.plan) and the registry, so new kinds plug in
without editing this file.

Initialisation: a component that defines `reset_parameters()` initialises its own parameters
(once, after construction); every other Linear/Embedding gets the default normal(0, init_std),
residual output projections scaled by 1/sqrt(2 n_layer) (GPT-2).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk import plan, registry
from qtk.config import ModelConfig
from qtk.model.context import Context
from qtk.model.rope import rope_tables
from qtk.model.state import DecodeState, StreamState


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


def owns_init(m: nn.Module) -> bool:
    """A qtk or plugin component with its own reset_parameters (torch's layers have one too, but
    those take the model's default init)."""
    return callable(getattr(m, "reset_parameters", None)) and not type(m).__module__.startswith("torch.")


def initialise(model: nn.Module, cfg: ModelConfig) -> None:
    """Default init for every module outside a self-initialising component; then each such
    component's reset_parameters(), once (outermost first, so an inner one is not run twice)."""
    owners = [m for m in model.modules() if m is not model and owns_init(m)]
    inside: set[int] = set()
    for m in owners:
        if id(m) not in inside:
            inside.update(id(sub) for sub in m.modules())
    for m in model.modules():
        if id(m) not in inside:
            init_weights(m, cfg)
    done: set[int] = set()
    for m in owners:
        if id(m) not in done:
            m.reset_parameters()
            done.update(id(sub) for sub in m.modules())


class Block(nn.Module):
    """One layer. `attn` holds the layer's mixer whatever its kind (the name predates non-attention
    mixers and is kept so that checkpoints and quantized layer names stay valid)."""

    def __init__(self, cfg: ModelConfig, layer: int, spec: plan.LayerSpec) -> None:
        super().__init__()
        residual = registry.get("residual", cfg.residual)
        self.spec = spec
        self.attn = registry.get("mixer", spec.mixer)(cfg, layer)
        self.attn_res = residual(cfg, layer)
        ffn = registry.get("ffn", spec.ffn)
        self.ffn = ffn(cfg, layer) if ffn is not None else None
        self.ffn_res = residual(cfg, layer) if self.ffn is not None else None
        memory = registry.get("memory", spec.memory)
        self.memory = memory(cfg, layer) if memory is not None else None
        self.memory_res = residual(cfg, layer) if self.memory is not None else None

    def parts(self) -> list[tuple[str, nn.Module]]:
        return [(role, m) for role, m in (("mixer", self.attn), ("ffn", self.ffn), ("memory", self.memory))
                if m is not None]

    def forward(self, h: torch.Tensor, ctx: Context) -> torch.Tensor:
        if self.memory is not None:
            h = self.memory_res(h, self.memory, ctx)
        h = self.attn_res(h, self.attn, ctx)
        return self.ffn_res(h, self.ffn, ctx) if self.ffn is not None else h


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size must be set (from the tokenizer) before building")
        self.cfg = cfg
        self.residual = registry.get("residual", cfg.residual)
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg, i, spec) for i, spec in enumerate(plan.resolve(cfg)))
        self.norm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.wte.weight
        cos, sin = rope_tables(cfg.n_embd // cfg.n_head, cfg.block_size, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        initialise(self, cfg)
        self._max_context = self.max_context  # read by every forward, fixed once the layers exist

    def num_params(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())  # tied weights are counted once
        if non_embedding:
            n -= self.wte.weight.numel()
        return n

    @property
    def max_context(self) -> int | None:
        """The most positions any layer can look back over (None: no layer has a limit, so
        generation and evaluation can stream past block_size)."""
        limits = [m.max_context for b in self.blocks for _, m in b.parts() if getattr(m, "max_context", None)]
        return min(limits) if limits else None

    def new_state(self, batch: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
                  ) -> DecodeState:
        """Each component's decode state, for incremental forwards of `batch` rows."""
        layers = {}
        for i, block in enumerate(self.blocks):
            for role, m in block.parts():
                make = getattr(m, "new_state", None)
                st = make(batch, device, dtype) if make is not None else None
                if st is not None:
                    layers[(i, role)] = st
        return DecodeState(layers, batch)

    def new_stream(self, batch: int, device: torch.device | str = "cpu", index: dict | None = None
                   ) -> StreamState | None:
        """Each component's stream state (what one segment of a long text leaves for the next,
        per row), or None when no component keeps one. `index`: retrieval settings to change
        for this stream (e.g. {"backend": "exact"}), passed to every component that keeps one."""
        layers = {}
        for i, block in enumerate(self.blocks):
            for role, m in block.parts():
                make = getattr(m, "new_stream", None)
                if make is not None:
                    layers[(i, role)] = make(batch, device, index) if index else make(batch, device)
        return StreamState(layers, batch) if layers else None

    @property
    def uses_stream(self) -> bool:
        """Whether some component reads more from a stream state than from a single forward."""
        return any(callable(getattr(m, "new_stream", None)) for b in self.blocks for _, m in b.parts())

    def rope(self, start: int, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        """RoPE tables (T, hs/2) for positions start..start+T-1, extended (doubling) past
        block_size for layers without a context limit."""
        if start + T > self.rope_cos.shape[0]:
            n = max(start + T, 2 * self.rope_cos.shape[0])
            cos, sin = rope_tables(self.cfg.n_embd // self.cfg.n_head, n, self.cfg.rope_theta)
            self.rope_cos, self.rope_sin = cos.to(self.rope_cos.device), sin.to(self.rope_sin.device)
        return self.rope_cos[start:start + T], self.rope_sin[start:start + T]

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, state: DecodeState | None = None,
                doc_start: torch.Tensor | None = None, stats: bool = False, stream: StreamState | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx (B, T) -> logits (B, T, V); with targets, mean cross-entropy (+ aux losses).
        Targets < 0 are ignored. `state` (from new_state) carries decoding across calls;
        `doc_start` (B, T) bool marks where packed documents begin; `stats` asks components for
        the statistics a training log shows (left in `last_stats`); `stream` (from new_stream)
        carries what earlier segments of each row's text left (e.g. a kNN memory)."""
        B, T = idx.shape
        past = state.length if state is not None else 0
        limit = self._max_context
        if limit is not None and past + T > limit:
            raise ValueError(f"sequence of {past + T} tokens exceeds the context of {limit}")
        cos, sin = self.rope(past, T)
        pos = torch.arange(past, past + T, device=idx.device)
        ctx = Context(idx, pos, cos, sin, state, doc_start, want_stats=stats, stream=stream)
        logits = self.run(idx, ctx)  # (B, T, V)
        if state is not None:
            state.advance(T)
        self.last_stats = ctx.stats
        if targets is None:
            return logits, None
        # a mean over the scored targets; 0 (not NaN) when a batch scores none (a task whose
        # answers are rare, read in segments)
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1,
                               reduction="sum") / (targets >= 0).sum().clamp(min=1)
        for aux in ctx.aux_losses:
            loss = loss + aux
        return logits, loss

    def run(self, idx: torch.Tensor, ctx: Context) -> torch.Tensor:
        """Logits (B, T, V) of idx in a prepared context. forward() prepares the usual one
        (positions from the state); the ONNX export its own (positions, padding and past as inputs)."""
        h = self.residual.expand(self.wte(idx), self.cfg)  # (B, T, C) or scheme-specific
        for block in self.blocks:
            h = block(h, ctx)
        return self.head(self.norm(self.residual.collapse(h, self.cfg)))


def weight_decay_split(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(decayed, not decayed) parameters. Matrices decay except the token embedding; vectors
    (norms, biases) do not; a component marks more with `no_weight_decay()` -> local names."""
    marked: set[str] = set()
    for prefix, m in model.named_modules():
        names = getattr(m, "no_weight_decay", None)
        if callable(names):
            marked |= {f"{prefix}.{n}" if prefix else n for n in names()}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        plain = p.dim() >= 2 and not name.startswith("wte") and name not in marked
        (decay if plain else no_decay).append(p)
    return decay, no_decay
