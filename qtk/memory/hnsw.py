"""Approximate inner-product search with hnswlib (HNSW graphs, Malkov & Yashunin, arXiv
1603.09320), imported lazily: `pip install 'qtk[memory]'` (built portably with HNSWLIB_NO_NATIVE=1).

hnswlib's pitfalls, handled here: `ef` is not saved with an index and resets to 10 on load, so it
is set after every build and load, and raised to k for a query; a query for more neighbours than
the graph can return raises, so k is clamped to the count; adding and querying must never run
concurrently (one lock); a build repeats exactly only with one thread and a fixed seed; and
`load_index` trusts its file, so callers only load a file whose sha256 they recorded (qtk.memory.store).

Bitwise-identical keys (periodic filler text makes many) break HNSW search: every neighbour is at
the same distance, the greedy search stops at the first ef of them, and a distinct key among 10k
copies is not found (measured: 0 of 5 seeds). So the graph holds each distinct key once, and a
search expands each found key into all the items that share it (newest first): the same top-k as
an exact search over every item.
"""

from __future__ import annotations

import threading

import numpy as np

from qtk.errors import QtkError, UsageError
from qtk.memory.settings import IndexSettings


def hnswlib():
    try:
        import hnswlib as lib
    except ImportError:
        raise UsageError("the hnsw memory backend needs hnswlib: pip install 'qtk[memory]' "
                         "(or set the backend to exact)") from None
    return lib


def available() -> bool:
    try:
        hnswlib()
    except UsageError:
        return False
    return True


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v("hnswlib")
    except PackageNotFoundError:
        return "unknown"


class HNSWIndex:
    """Inner-product HNSW over float32 vectors; labels are the caller's row numbers."""

    def __init__(self, dim: int, s: IndexSettings, capacity: int = 1024) -> None:
        self.dim, self.s = dim, s
        self.lock = threading.Lock()
        self.first: dict[bytes, int] = {}        # key bytes -> label of its first item (the one in the graph)
        self.copies: dict[int, list[int]] = {}   # that label -> labels of later items with the same key
        self.count = 0
        self.index = hnswlib().Index(space="ip", dim=dim)
        self.index.init_index(max_elements=max(1, capacity), ef_construction=s.ef_construction, M=s.M,
                              random_seed=s.seed)
        self.index.set_ef(s.ef)

    def __len__(self) -> int:
        """Items, duplicates included (the graph holds the distinct keys)."""
        return self.count

    def _split(self, keys: np.ndarray, labels: np.ndarray) -> list[int]:
        """Record the items; return the positions (in this batch) of keys new to the graph."""
        fresh = []
        for i, (row, label) in enumerate(zip(keys, labels.tolist())):
            b = row.tobytes()
            first = self.first.get(b)
            if first is None:
                self.first[b] = label
                fresh.append(i)
            else:
                self.copies.setdefault(first, []).append(label)
        self.count += len(labels)
        return fresh

    def add(self, keys: np.ndarray, labels: np.ndarray) -> None:
        """keys (n, dim) float32, labels (n,) int."""
        keys = np.ascontiguousarray(keys, dtype=np.float32)
        with self.lock:
            fresh = self._split(keys, labels)
            if len(fresh) < len(keys):
                keys, labels = keys[fresh], labels[fresh]
            if not len(keys):
                return
            need = self.index.get_current_count() + len(keys)
            if need > self.index.get_max_elements():
                self.index.resize_index(max(need, 2 * self.index.get_max_elements()))
            self.index.add_items(keys, labels, num_threads=self.s.threads)

    def _expand(self, scores: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each found key -> itself and its copies (newest first), the first k per query."""
        out_s, out_l = np.empty((len(labels), k), np.float32), np.empty((len(labels), k), np.int64)
        for q in range(len(labels)):
            got: list[int] = []
            gs: list[float] = []
            for score, label in zip(scores[q].tolist(), labels[q].tolist()):
                group = self.copies.get(label, [])[::-1] + [label]
                got += group
                gs += [score] * len(group)
                if len(got) >= k:
                    break
            out_l[q], out_s[q] = got[:k], gs[:k]
        return out_s, out_l

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores (m, k') (inner products) and labels (m, k'), best first, k' = min(k, count)."""
        with self.lock:
            k = min(k, self.count)
            m = len(queries)
            if k == 0:
                return np.empty((m, 0), np.float32), np.empty((m, 0), np.int64)
            kg = min(k, self.index.get_current_count())  # distinct keys to ask the graph for
            self.index.set_ef(max(self.s.ef, kg))
            q = np.ascontiguousarray(queries, dtype=np.float32)
            try:
                labels, dist = self.index.knn_query(q, k=kg, num_threads=self.s.threads)
            except RuntimeError:
                # fewer than k reachable with this ef (degenerate graphs, e.g. many equal keys): widen once
                self.index.set_ef(max(4 * max(self.s.ef, k), 256))
                try:
                    labels, dist = self.index.knn_query(q, k=k, num_threads=self.s.threads)
                except RuntimeError as e:
                    raise QtkError(f"hnsw search found fewer than {kg} neighbours ({e})") from None
                finally:
                    self.index.set_ef(self.s.ef)
            scores, labels = 1.0 - dist, labels.astype(np.int64)  # hnswlib's "ip" distance is 1 - dot
            return self._expand(scores, labels, k) if self.copies else (scores, labels)

    def save(self, path: str) -> None:
        with self.lock:
            self.index.save_index(path)

    @classmethod
    def load(cls, path: str, s: IndexSettings, keys: np.ndarray) -> "HNSWIndex":
        """Read a graph file the caller has checked (sha256 recorded at save time) over `keys`
        (the memory's keys, labelled by row)."""
        self = cls(keys.shape[1], s, capacity=1)
        distinct = self._split(np.ascontiguousarray(keys, dtype=np.float32), np.arange(len(keys)))
        self.index = hnswlib().Index(space="ip", dim=keys.shape[1])  # fresh: loading into an inited one warns
        self.index.load_index(path, max_elements=max(1, len(distinct)))
        self.index.set_ef(s.ef)  # not stored in the file: it would be 10
        if self.index.get_current_count() != len(distinct):
            raise QtkError(f"{path}: graph holds {self.index.get_current_count()} keys, the memory {len(distinct)}")
        return self
