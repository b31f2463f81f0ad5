"""A larger vocabulary for a fine-tuning run: the chat template's special tokens on a base whose
embedding has no rows for them (a BPE tokenizer fills its whole vocabulary; a byte tokenizer's
padding rows already take them). New rows start at the mean of the base tokens' embeddings
(Hewitt, "Initializing New Word Embeddings for Pretrained Language Models", 2021: the new tokens'
logits are then the mean logit, so they take little probability at first), and the old tokens'
logits are unchanged.

Full fine-tuning grows the embedding (and an untied head) in place: the run's checkpoints are
plain ones of the larger size. A LoRA run keeps the base's rows frozen and trains the new rows
(`new_rows`, stored in the adapter checkpoint with the lora_* tensors): an ExtendedEmbedding
and ExtendedHead wrap the base's modules, and `fold` turns them into plain ones when merging.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.swap import keep_base_keys, swap_module

NEW_ROWS = "new_rows"


def _mean_rows(weight: torch.Tensor, n_tokens: int, n: int) -> torch.Tensor:
    """n copies of the mean of the first n_tokens rows (the rows tokens use, not padding)."""
    return weight.detach()[:n_tokens].float().mean(0, keepdim=True).expand(n, -1).to(weight.dtype).clone()


def grow(model: nn.Module, size: int, n_tokens: int) -> None:
    """Full fine-tuning: plain embedding (and untied head) of `size` rows, in place."""
    old_emb, old_head = model.wte, model.head
    tied = old_head.weight is old_emb.weight
    extra = size - old_emb.num_embeddings
    emb = nn.Embedding(size, old_emb.embedding_dim, device=old_emb.weight.device, dtype=old_emb.weight.dtype)
    with torch.no_grad():
        emb.weight.copy_(torch.cat([old_emb.weight, _mean_rows(old_emb.weight, n_tokens, extra)]))
    swap_module(model, "wte", emb)
    if tied:
        head = nn.Linear(old_head.in_features, size, bias=False, device=emb.weight.device, dtype=emb.weight.dtype)
        head.weight = emb.weight
    else:
        head = nn.Linear(old_head.in_features, size, bias=False, device=old_head.weight.device)
        with torch.no_grad():
            head.weight.copy_(torch.cat([old_head.weight, _mean_rows(old_head.weight, n_tokens, extra)]))
    swap_module(model, "head", head)


class ExtendedEmbedding(nn.Module):
    """A frozen base embedding plus trainable rows for the ids after it."""

    def __init__(self, base: nn.Embedding, n_new: int, init: torch.Tensor | None = None) -> None:
        super().__init__()
        self.base = base
        w = base.weight
        self.new_rows = nn.Parameter(init if init is not None else torch.zeros(n_new, w.shape[1], device=w.device))
        keep_base_keys(self)

    @property
    def weight(self) -> torch.Tensor:  # (V, C)
        return torch.cat([self.base.weight, self.new_rows.to(self.base.weight.dtype)])

    @property
    def num_embeddings(self) -> int:
        return self.base.num_embeddings + self.new_rows.shape[0]

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.weight)  # (B, T, C)


class ExtendedHead(nn.Module):
    """The base head's logits, then those of the new rows (the embedding's own when tied)."""

    def __init__(self, base: nn.Module, rows: nn.Parameter) -> None:
        super().__init__()
        self.base, self.new_rows = base, rows
        keep_base_keys(self)

    @property
    def weight(self) -> torch.Tensor:
        return torch.cat([self.base.weight, self.new_rows.to(self.base.weight.dtype)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the base's own product first: the old tokens' logits are exactly the base model's
        return torch.cat([self.base(x), x @ self.new_rows.t().to(x.dtype)], dim=-1)  # (B, T, V)


def extend(model: nn.Module, info: dict, init: bool) -> None:
    """LoRA: wrap the embedding and head for info = {"base": rows of the base, "size": rows now,
    "tokens": the base tokenizer's size}; init=True starts the new rows at the mean (training),
    False leaves them to be loaded (the loader's converter). The model may have been built with
    `size` rows: the base's modules are then rebuilt at the base's size."""
    n_base, n_new = info["base"], info["size"] - info["base"]
    emb, head = model.wte, model.head
    tied = head.weight is emb.weight
    if emb.num_embeddings != n_base:
        emb = nn.Embedding(n_base, emb.embedding_dim, device=emb.weight.device, dtype=emb.weight.dtype)
        head = nn.Linear(head.in_features, n_base, bias=False, device=emb.weight.device)
        if tied:
            head.weight = emb.weight
    rows = _mean_rows(emb.weight, info["tokens"], n_new) if init else None
    wte = ExtendedEmbedding(emb, n_new, rows)
    swap_module(model, "wte", wte)
    if tied:
        swap_module(model, "head", ExtendedHead(head, wte.new_rows))
    else:
        head_rows = _mean_rows(head.weight, info["tokens"], n_new) if init else torch.zeros_like(wte.new_rows)
        swap_module(model, "head", ExtendedHead(head, nn.Parameter(head_rows)))


def fold(model: nn.Module) -> bool:
    """Plain embedding and head of the full size, in place (merging); False when not extended."""
    wte, head = model.wte, model.head
    if not isinstance(wte, ExtendedEmbedding):
        return False
    tied = head.new_rows is wte.new_rows
    emb = nn.Embedding(wte.num_embeddings, wte.base.embedding_dim, device=wte.new_rows.device)
    with torch.no_grad():
        emb.weight.copy_(wte.weight.float())
    swap_module(model, "wte", emb)
    out = nn.Linear(head.base.in_features, emb.num_embeddings, bias=False, device=emb.weight.device)
    if tied:
        out.weight = emb.weight
    else:
        with torch.no_grad():
            out.weight.copy_(head.weight.float())
    swap_module(model, "head", out)
    return True
