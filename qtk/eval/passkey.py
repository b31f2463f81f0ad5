"""Passkey retrieval scoring (qtk.data.passkey): each sample read in order, segment after segment
of the model's context (aligned to the sample's end: the last segment is full and holds the
question and the answer), with the model's stream state (its kNN memory) carried across, or
without it (`memory` False: the memory-off baseline of the same weights). Per distance:

- exact match: every answer token (the key's digits and the closing ".") is the top-1 prediction,
  i.e. greedy decoding returns the key;
- hit@k: share of the answer's digit predictions for which some head of some memory layer
  retrieved one of the key line's digit items among its top k;
- recall@k: for those same queries, the share of the retrieved items an exact search over the same
  memory would also return (1.0 for the exact backend);
- search ms per query (p50 / p95 over the memory's search calls, each one batch of heads x
  segment queries of one row) and insertion throughput (items/s), from the memory's own timing;

and the process's peak RSS. Samples of one distance run side by side (`rows` at a time)."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterator

import numpy as np
import torch

from qtk.data.passkey import PasskeyStream

DIGITS = (ord("0"), ord("9"))


def _knn_streams(stream) -> list:
    return [] if stream is None else [s for s in stream.layers.values() if hasattr(s, "watched")]


@torch.no_grad()
def evaluate_passkey(model: torch.nn.Module, data: PasskeyStream, eot_id: int, *, block_size: int,
                     device: torch.device | str = "cpu", memory: bool = True, index: dict | None = None,
                     rows: int = 8, progress: Callable[[int, int], None] | None = None) -> dict:
    from qtk.eval import _peak_mem_mb

    device = torch.device(device)
    was_training = model.training
    model.eval()
    groups: dict[int, list[int]] = defaultdict(list)
    for i, d in enumerate(data.samples[:, 1].tolist()):
        groups[d].append(i)
    use_memory = memory and getattr(model, "uses_stream", False)
    out, done = [], 0
    for d, idx in groups.items():
        tally = defaultdict(list)
        for lo in range(0, len(idx), rows):
            chunk = idx[lo:lo + rows]
            _score_chunk(model, data, chunk, eot_id, block_size, device, use_memory, index, tally)
            done += len(chunk)
            if progress:
                progress(done, len(data.samples))
        search = np.array(tally["search_ms"]) if tally["search_ms"] else None
        add_s, add_n = sum(tally["add_s"]), sum(tally["add_n"])
        out.append({
            "distance": d, "samples": len(idx),
            "exact_match": float(np.mean(tally["exact"])),
            "answer_top1": float(np.mean(tally["top1"])),
            "hit_at_k": float(np.mean(tally["hit"])) if tally["hit"] else None,
            "recall_at_k": float(np.mean(tally["recall"])) if tally["recall"] else None,
            "search_ms_p50": float(np.percentile(search, 50)) if search is not None else None,
            "search_ms_p95": float(np.percentile(search, 95)) if search is not None else None,
            "insert_items_per_s": add_n / add_s if add_s > 0 else None,
            "memory_items": max(tally["items"]) if tally["items"] else 0,
            "backends": sorted(set(tally["backend"])),
        })
    model.train(was_training)
    return {"memory": use_memory, "k": getattr(getattr(_knn_module(model), "s", None), "k", None),
            "distances": out, "peak_mem_mb": _peak_mem_mb(device)}


def segment_bounds(n: int, T: int) -> list[tuple[int, int]]:
    """(start, end) of the segments that read n tokens in order, aligned to the end: every segment
    holds T tokens but the first (n mod T, when not 0), so the question and its answer always share
    the last, full segment (aligned to the start instead, a distance that is a multiple of T would
    put the answer alone in a segment of 7 tokens, its question out of local reach)."""
    cuts = [0] + list(range(n % T or T, n, T)) + [n]
    return list(zip(cuts[:-1], cuts[1:]))


def _knn_module(model):
    return next((m for b in getattr(model, "blocks", []) for _, m in b.parts() if hasattr(m, "new_stream")), None)


def read_samples(model, data: PasskeyStream, chunk: list[int], doc_ids: torch.Tensor, T: int, device, stream,
                 before: Callable[[torch.Tensor], None] | None = None,
                 autocast_dtype: torch.dtype | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Read the samples `chunk` (all of one length) side by side, each from its own start (its
    <|endoftext|>, where the stream state resets), in segments aligned to the end, carrying
    `stream` (None: the memory-off read of the same segments). Yields (targets (B, t), logits
    (B, t, V)) per segment, targets -1 where the sample scores nothing; `before(targets)` runs
    before each segment's forward. A document starts at the tokens in `doc_ids` (<|endoftext|>)."""
    L = data.sample_tokens(chunk[0])
    starts = [int(data.samples[i, 0]) for i in chunk]
    toks = torch.stack([torch.from_numpy(data.get(s, L)) for s in starts])  # (B, L)
    scored = torch.stack([torch.from_numpy(data.scored(s + 1, L - 1).copy()) for s in starts])
    x, y = toks[:, :-1], toks[:, 1:].masked_fill(~scored, -1)
    extra = {"stream": stream} if stream is not None else {}
    for s, e in segment_bounds(L - 1, T):
        xs, ys = x[:, s:e].to(device), y[:, s:e]
        if before is not None:
            before(ys)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(xs, doc_start=torch.isin(xs, doc_ids.to(device)), **extra)[0]
        yield ys, logits


def spread(data: PasskeyStream, max_tokens: int | None) -> list[int]:
    """Sample indices to read: all, or (max_tokens) every j-th for the smallest j whose samples hold
    at most max_tokens tokens (at least one), so every distance of a list stays represented."""
    idx = list(range(len(data.samples)))
    if max_tokens is None:
        return idx
    for j in range(1, len(idx) + 1):
        if sum(data.sample_tokens(i) for i in idx[::j]) <= max_tokens:
            return idx[::j]
    return idx[:1]


def _score_chunk(model, data: PasskeyStream, chunk: list[int], eot_id: int, T: int, device, use_memory: bool,
                 index: dict | None, tally: dict) -> None:
    B = len(chunk)
    stream = model.new_stream(B, device, index) if use_memory else None
    knn = _knn_streams(stream)
    for st in knn:
        st.timing = {}
    keys = [torch.from_numpy(data.key_positions(i)) for i in chunk]
    right = torch.ones(B, dtype=torch.bool)
    top1 = []

    def watch(ys: torch.Tensor) -> None:
        digit = (ys >= DIGITS[0]) & (ys <= DIGITS[1])
        for st in knn:
            st.watch = digit.to(device) if digit.any() else None

    for ys, logits in read_samples(model, data, chunk, torch.tensor([eot_id]), T, device, stream, watch):
        hit = (logits.argmax(-1).cpu() == ys) | (ys < 0)
        right &= hit.all(dim=1)
        top1 += hit[ys >= 0].tolist()
    tally["exact"] += right.tolist()
    tally["top1"] += top1
    for st in knn:
        for b in range(B):
            for got, best in st.watched[b]:  # (m, H, k) positions: retrieved, and by exact search
                tally["hit"] += torch.isin(got, keys[b]).flatten(1).any(1).tolist()
                tally["recall"] += (got[..., :, None] == best[..., None, :]).any(-1).float().mean(-1).flatten().tolist()
        tally["search_ms"] += [1000 * sec / n for sec, n in st.timing.get("search", [])]
        tally["add_s"] += [sec for sec, _ in st.timing.get("add", [])]
        tally["add_n"] += [n for _, n in st.timing.get("add", [])]
        tally["items"] += [len(m) for m in st.mems]
        tally["backend"] += [m.backend for m in st.mems]
