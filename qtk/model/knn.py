"""kNN memory layer after Memorizing Transformers (Wu et al., arXiv 2203.08913): an attention
sublayer whose queries attend to the current segment (causal; RoPE unless `local_rope` is off)
and, with the same queries, to the top-k (key, value) items retrieved from a per-document memory
of everything the stream row has read before.

- Queries and keys are L2-normalised, the logits scaled by a learned per-head temperature, so
  scores of local keys and of items stored thousands of segments ago are comparable.
- One shared key/value head (multi-query): a memory item is one (key, value) pair per token,
  keys stored without RoPE (positions so far back carry no usable rotation).
- Retrieval per head and query, top `k` (default 32), through qtk.memory (exact or hnsw backend).
  Retrieved items are detached: gradients reach the queries and the temperature, never the memory.
- `local_rope = false`: the local path compares the same unrotated q and k as the memory path, so
  local and memory logits of one key agree and a lookup the layer learns within a segment (where
  keys and values get gradients) also applies to retrieved items (which get none); the position
  information such a lookup needs comes from the layers below, which keep RoPE.
- `smear_keys`: a key is normalise(w * k_t + (1 - w) * k_(t-1)) with a learned per-channel w
  (Olsson et al. 2022, "In-context learning and induction heads"), the previous raw key carried
  across segments and decoding steps (by the stream state, else the decode state), zero where a
  document starts: a query then finds the item that followed an earlier occurrence of its own
  token in one step.
- `combine = joint`: one softmax over local keys and retrieved items; `gate`: separate softmaxes
  mixed by a learned per-head gate sigmoid(g) (the paper's form).
- The memory lives in the stream state (qtk.model.state.StreamState): one Memory per batch row,
  items added after each segment's forward (so a segment never retrieves its own tokens or later
  ones), cleared where a document starts (`ctx.doc_start`), and queries of a new document that
  starts mid-segment see no items of the old one. Without a stream state the layer is local
  attention over the segment alone (the memory-off baseline of the same weights).

Generation reads the text in the same segments: the local part decodes with a KV cache over the
current segment, whose items wait (`KNNStream.defer`) until the segment is full and the window
moves on; then they join the memory (`flush`), as a read segment's items do after its forward, so
generating equals reading the same tokens segment by segment.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from qtk.config import ModelConfig
from qtk.memory import exact
from qtk.memory.index import Memory
from qtk.model.attention import causal_mask
from qtk.model.context import Context
from qtk.model.rope import apply_rope
from qtk.model.state import KVState, LayerState


class KNNStream(LayerState):
    """One kNN layer's memories, one per stream row, with each row's document count and the
    positions it has read; and what a measurement asks to watch: the time of every search and
    insertion (`timing`, (seconds, queries or items) pairs) and, for the queries marked in
    `watch` ((B, T) bool, set before a forward), the positions of the items they retrieved and
    of the items an exact search would have returned (`watched`: per row, lists of
    (marked, H, k') tensors)."""

    def __init__(self, batch: int, dim: int, settings, device: torch.device | str,
                 corpus: Memory | None = None) -> None:
        self.mems = [Memory(dim, dim, settings, device, key="model.knn") for _ in range(batch)]
        self.corpus = corpus  # a read-only corpus memory every row also searches (qtk.memory.corpus)
        self.sink: Memory | None = None  # when set, every added item is also added here (building a corpus)
        self.doc = [0] * batch
        self.seen = [0] * batch
        self.length = 0
        self.timing: dict[str, list[tuple[float, int]]] | None = None  # {"search": [...], "add": [...]} when on
        self.watch: torch.Tensor | None = None
        self.watched: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in range(batch)]
        self.pending: list[tuple[torch.Tensor, torch.Tensor]] = []  # generation: items of the local window
        self.last_key: torch.Tensor | None = None  # smear_keys: each row's last raw key (B, hs)

    def timed(self, kind: str, n: int, fn, *args):
        """fn(*args), timed when timing is on (n: the queries or items it handles)."""
        if self.timing is None:
            return fn(*args)
        t0 = time.perf_counter()
        out = fn(*args)
        self.timing.setdefault(kind, []).append((time.perf_counter() - t0, n))
        return out

    def reset(self, rows: torch.Tensor) -> None:
        for r in rows.nonzero().flatten().tolist():
            self.mems[r].clear()
            self.doc[r] += 1
        if self.last_key is not None:  # a copy: the last key may share storage with a forward's tensors
            self.last_key = self.last_key.clone()
            self.last_key[rows] = 0.0

    def add_segment(self, k: torch.Tensor, v: torch.Tensor, docs: torch.Tensor) -> None:
        """Add a segment's items (k, v (B, T, hs)) to each row's memory; a row where a document
        started keeps only the newest document's items."""
        T = k.shape[1]
        for b, mem in enumerate(self.mems):
            n_new = int(docs[b, -1])
            pos = torch.arange(self.seen[b], self.seen[b] + T)
            doc_ids = self.doc[b] + docs[b].cpu()
            if self.sink is not None:  # building a corpus memory: every document's items
                self.sink.add(k[b], v[b], pos, doc_ids)
            first = 0
            if n_new:
                mem.clear()
                self.doc[b] += n_new
                first = int((docs[b] == n_new).nonzero()[0])
            self.timed("add", T - first, mem.add, k[b, first:], v[b, first:], pos[first:], doc_ids[first:])
            self.seen[b] += T

    def defer(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """While generating: keep the items of tokens still in the local window (k, v (B, n, hs));
        they join the memory when the window is left (`flush`)."""
        self.pending.append((k, v))

    def flush(self) -> None:
        """The local window is left: its tokens' items join the memory, as a read segment's do."""
        if self.pending:
            k, v = (torch.cat(t, dim=1) for t in zip(*self.pending))
            self.pending = []
            self.add_segment(k, v, torch.zeros(k.shape[:2], dtype=torch.long))

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.mems)


class KNNKVState(KVState):
    """The kNN layer's decode state: its local keys/values, and (smear_keys) each row's last raw
    key, which the next token's key mixes in."""

    last_key: torch.Tensor | None = None

    def reset(self, rows: torch.Tensor) -> None:
        super().reset(rows)
        if self.last_key is not None:
            self.last_key = self.last_key.clone()
            self.last_key[rows] = 0.0

    def select(self, index: torch.Tensor) -> None:
        super().select(index)
        if self.last_key is not None:
            self.last_key = self.last_key[index]

    def tensors(self) -> dict[str, torch.Tensor]:
        out = super().tensors()
        return out if self.last_key is None else {**out, "last_key": self.last_key}


def doc_index(doc_start: torch.Tensor | None, B: int, T: int, device: torch.device) -> torch.Tensor:
    """(B, T): how many documents start at or before each token in this segment."""
    if doc_start is None:
        return torch.zeros(B, T, dtype=torch.long, device=device)
    return doc_start.long().cumsum(dim=1)


class KNNMemory(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        s = cfg.knn
        self.s, self.layer = s, layer
        self.n_head, self.head_dim = cfg.n_head, cfg.n_embd // cfg.n_head
        self.max_context: int | None = cfg.block_size  # local attention spans one segment
        self.q = nn.Linear(cfg.n_embd, self.n_head * self.head_dim, bias=False)
        self.kv = nn.Linear(cfg.n_embd, 2 * self.head_dim, bias=False)  # the shared head
        self.proj = nn.Linear(self.n_head * self.head_dim, cfg.n_embd, bias=False)
        self.proj.residual_out = True  # scaled init
        self.log_temp = nn.Parameter(torch.full((self.n_head,), math.log(s.init_temperature)))
        self.gate = nn.Parameter(torch.zeros(self.n_head)) if s.combine == "gate" else None
        self.smear = nn.Parameter(torch.zeros(self.head_dim)) if s.smear_keys else None  # sigmoid: weight of k_t
        self.corpus: Memory | None = None  # attached by qtk.memory.corpus.attach: searched by every stream row

    def new_stream(self, batch: int, device: torch.device | str, index: dict | None = None) -> KNNStream:
        """`index`: search-time settings to change for this stream (backend, ef, threads, ...)."""
        return KNNStream(batch, self.head_dim, dataclasses.replace(self.s, **index) if index else self.s, device,
                         self.corpus)

    def new_state(self, batch: int, device: torch.device | str, dtype: torch.dtype) -> KNNKVState:
        return KNNKVState(batch, 1, self.head_dim, self.max_context, device, dtype)

    def smeared(self, k: torch.Tensor, ctx: Context, carrier) -> torch.Tensor:
        """smear_keys: mix each raw key (B, T, hs) with the one before it (the carrier's last key
        for the first token; zero where a document starts, and with nothing carried)."""
        last = getattr(carrier, "last_key", None)
        first = k.new_zeros(k.shape[0], 1, k.shape[2]) if last is None else last[:, None].to(k.dtype)
        prev = torch.cat([first, k[:, :-1]], dim=1)
        if ctx.doc_start is not None:
            prev = prev.masked_fill(ctx.doc_start[..., None], 0.0)
        if carrier is not None:
            carrier.last_key = k[:, -1].detach()
        w = torch.sigmoid(self.smear)
        return w * k + (1 - w) * prev

    def retrieve(self, stream: KNNStream, q: torch.Tensor, docs: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Top-k items for q (B, H, T, hs): keys, values (B, H, T, k, hs) and valid (B, H, T, k)
        (False for padding when a memory holds fewer than k items, and for queries of a document
        that started in this segment)."""
        B, H, T, hs = q.shape
        K = self.s.k
        keys = q.new_zeros(B, H * T, K, hs)
        values = q.new_zeros(B, H * T, K, hs)
        valid = torch.zeros(B, H * T, K, dtype=torch.bool, device=q.device)
        flat = q.detach().reshape(B, H * T, hs)
        own = torch.zeros(B, H * T, K, dtype=torch.bool, device=q.device)  # an item of the row's own memory
        for b, mem in enumerate(stream.mems):
            found = [(self._search(stream, m, flat[b], b, H), m is mem)
                     for m in (stream.corpus, mem) if m is not None and len(m)]
            if not found:
                continue
            sc, rk, rv = (torch.cat([f[0][i] for f in found], dim=1) for i in range(3))
            mine = torch.cat([torch.full(f[0][0].shape, f[1], dtype=torch.bool, device=q.device) for f in found], dim=1)
            if len(found) > 1:  # the corpus memory's and the row's: the best k of both
                sc, top = sc.topk(min(K, sc.shape[1]), dim=1)
                rk, rv = (t.gather(1, top[..., None].expand(-1, -1, hs)) for t in (rk, rv))
                mine = mine.gather(1, top)
            n = rk.shape[1]
            keys[b, :, :n] = rk.to(q.dtype)
            values[b, :, :n] = rv.to(q.dtype)
            valid[b, :, :n] = True
            own[b, :, :n] = mine
        # a query of a document that started in this segment sees no item of the row's old one
        same_doc = (docs == 0)[:, None, :, None]  # (B, 1, T, 1)
        valid = valid.view(B, H, T, K) & (same_doc | ~own.view(B, H, T, K))
        return keys.view(B, H, T, K, hs), values.view(B, H, T, K, hs), valid

    def _search(self, stream: KNNStream, mem: Memory, queries: torch.Tensor, b: int, H: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores, keys and values (m, k', ...) of the top k items of `mem` for queries (m, hs)."""
        K = self.s.k
        scores, rows = stream.timed("search", queries.shape[0], mem.search, queries, K)
        if stream.watch is not None and stream.watch[b].any() and mem is stream.mems[b]:
            picked = stream.watch[b].repeat(H)  # (H*T,), head-major like the queries
            _, best = exact.search(mem.keys, queries[picked].float(), K)
            per_query = lambda r: mem.positions[r].view(H, -1, r.shape[1]).transpose(0, 1)  # noqa: E731
            stream.watched[b].append((per_query(rows[picked]), per_query(best)))
        return scores.to(queries.device), mem.keys[rows], mem.values[rows]

    def local_mask(self, ctx: Context, docs: torch.Tensor, T: int, L: int, state) -> torch.Tensor:
        """(B, 1, T, L) bool: causal, within the row's start (decoding) or document (a segment)."""
        if state is not None:
            mask = state.key_mask(T, L)
            return mask if mask is not None else causal_mask(T, L, docs.device)[None, None]
        causal = causal_mask(T, L, docs.device)[None, None]
        return causal & (docs[:, :, None] == docs[:, None, :])[:, None]

    def forward(self, x: torch.Tensor, ctx: Context) -> torch.Tensor:
        B, T, _ = x.shape
        H, hs = self.n_head, self.head_dim
        q = F.normalize(self.q(x).view(B, T, H, hs).transpose(1, 2), dim=-1)  # (B, H, T, hs)
        k, v = self.kv(x).view(B, T, 2, hs).unbind(2)
        state = ctx.layer_state(self.layer, "memory")
        stream = ctx.stream_state(self.layer)
        if self.smear is not None:
            k = self.smeared(k, ctx, stream if stream is not None else state)  # the stream outlives decode states
        k = F.normalize(k, dim=-1)  # (B, T, hs)
        rope = self.s.local_rope
        kr, vl = (apply_rope(k[:, None], ctx.cos, ctx.sin) if rope else k[:, None]), v[:, None]  # (B, 1, T, hs)
        if state is not None:
            kr, vl = state.append(kr, vl)
        docs = doc_index(ctx.doc_start, B, T, x.device)
        temp = self.log_temp.exp()[None, :, None, None]  # (1, H, 1, 1)
        local = temp * ((apply_rope(q, ctx.cos, ctx.sin) if rope else q) @ kr.transpose(-1, -2))  # (B, H, T, L)
        local = local.masked_fill(~self.local_mask(ctx, docs, T, kr.shape[2], state), float("-inf"))
        if stream is None or not any(len(m) for m in stream.mems + [stream.corpus] if m is not None):
            y = local.softmax(-1) @ vl
        else:
            mk, mv, valid = self.retrieve(stream, q, docs)
            mem = temp * torch.einsum("bhtd,bhtkd->bhtk", q, mk)
            mem = mem.masked_fill(~valid, float("-inf"))
            y = self.combine(local, mem, valid, vl, mv)
            if ctx.want_stats:
                ctx.record("knn_items", torch.tensor(float(sum(len(m) for m in stream.mems)) / B))
        if stream is not None and state is not None:
            stream.defer(k.detach(), v.detach())  # decoding: joins the memory when the window is left
        elif stream is not None:
            stream.add_segment(k.detach(), v.detach(), docs)
        if ctx.want_stats:
            ctx.record("knn_temperature", self.log_temp.detach().exp().mean())
        return self.proj(y.transpose(1, 2).reshape(B, T, H * hs))

    def combine(self, local: torch.Tensor, mem: torch.Tensor, valid: torch.Tensor, vl: torch.Tensor,
                mv: torch.Tensor) -> torch.Tensor:
        """(B, H, T, hs) from local logits (B, H, T, L), memory logits (B, H, T, k)."""
        L = local.shape[-1]
        if self.gate is None:
            p = torch.cat([local, mem], dim=-1).softmax(-1)
            return p[..., :L] @ vl + torch.einsum("bhtk,bhtkd->bhtd", p[..., L:], mv)
        y_local = local.softmax(-1) @ vl
        any_item = valid.any(-1, keepdim=True)  # a query without items keeps its local result
        p_mem = mem.masked_fill(~any_item, 0.0).softmax(-1)
        y_mem = torch.einsum("bhtk,bhtkd->bhtd", p_mem, mv)
        g = torch.sigmoid(self.gate)[None, :, None, None]
        return torch.where(any_item, g * y_mem + (1 - g) * y_local, y_local)
