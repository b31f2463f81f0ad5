"""Exact inner-product search: torch matmul + top-k over every stored key. The reference the
approximate backend is tested against, and the backend for small memories (a per-document
training memory of a few thousand items is faster to scan than to index)."""

from __future__ import annotations

import torch

CHUNK = 1 << 16  # keys scored per matmul: bounds the (queries x keys) score matrix


def search(keys: torch.Tensor, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k highest inner products of each query (m, d) among keys (n, d): scores (m, k') and
    row indices (m, k') in decreasing score order, k' = min(k, n). Ties go to the lower index."""
    n, m = keys.shape[0], queries.shape[0]
    k = min(k, n)
    if k == 0:
        return queries.new_empty(m, 0), torch.empty(m, 0, dtype=torch.long, device=queries.device)
    best_s, best_i = None, None
    for lo in range(0, n, CHUNK):
        s = queries @ keys[lo:lo + CHUNK].T  # (m, chunk)
        s, i = s.topk(min(k, s.shape[1]), dim=1)
        i = i + lo
        if best_s is not None:
            s, i = torch.cat([best_s, s], dim=1), torch.cat([best_i, i], dim=1)
            s, j = s.topk(k, dim=1)
            i = i.gather(1, j)
        best_s, best_i = s, i
    return best_s, best_i


def search_ref(keys: torch.Tensor, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Brute force in float64 with a full sort: what `search` must agree with."""
    s = queries.double() @ keys.double().T
    order = torch.sort(s, dim=1, descending=True, stable=True).indices[:, :min(k, keys.shape[0])]
    return s.gather(1, order), order


def score_recall(keys: torch.Tensor, queries: torch.Tensor, found: torch.Tensor, k: int, eps: float = 1e-3) -> float:
    """ann-benchmarks' recall of `found` (m, k) rows: a found item counts when it scores within
    eps of the query's k-th best, so near-ties (a trained model's keys include many almost equal
    ones) are not counted as misses the way set recall counts them."""
    kth = search(keys, queries, k)[0][:, -1:]
    got = (queries[:, None, :] * keys[found]).sum(-1)  # (m, k)
    return ((got >= kth - eps).sum() / (len(queries) * k)).item()
