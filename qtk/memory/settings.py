"""Settings of the retrieval index behind a kNN memory (torch-free: config loading and `--help`
read them without importing torch or hnswlib)."""

from __future__ import annotations

from dataclasses import dataclass

from qtk.errors import UsageError
from qtk.fields import setting

BACKENDS = ("auto", "exact", "hnsw")


@dataclass
class IndexSettings:
    backend: str = setting("auto", "Retrieval backend: exact (torch matmul + top-k, the reference), hnsw "
                                   "(hnswlib, approximate; pip install 'qtk[memory]') or auto (exact below "
                                   "`auto_threshold` items, hnsw from there when hnswlib is installed).",
                           choices=BACKENDS)
    auto_threshold: int = setting(65536, "backend = auto switches to hnsw at this many stored items.", min=1)
    M: int = setting(16, "hnsw: graph degree (links per node; ~0.5 KB per vector at dim 64, M 16).", min=2)
    ef_construction: int = setting(200, "hnsw: candidate list size while building (graph quality: on a trained "
                                        "model's keys, recall@32 at ef 256 was 0.96 with 200, 0.91 with 100).",
                                   min=1)
    ef: int = setting(128, "hnsw: candidate list size while searching (raised to k when smaller); set "
                          "after every load, because hnswlib does not save it.", min=1)
    seed: int = setting(0, "hnsw: random seed of the level assignment (builds repeat exactly with threads = 1).")
    threads: int = setting(1, "hnsw: threads for adding and searching (1 = reproducible builds).", min=1)
    capacity: int = setting(0, "Most items kept; beyond it the oldest `evict_fraction` are dropped and the "
                               "index rebuilt (FIFO); 0 = no limit.", min=0)
    evict_fraction: float = setting(0.1, "Share of the capacity dropped at each eviction (one rebuild per "
                                         "that many additions).", min=0.0, max=1.0)


def check(s: IndexSettings, key: str) -> None:
    if s.backend not in BACKENDS:
        raise UsageError(f"{key}.backend: unknown backend {s.backend!r} (known: {', '.join(BACKENDS)})")
    if s.capacity and not 0.0 < s.evict_fraction <= 1.0:
        raise UsageError(f"{key}.evict_fraction ({s.evict_fraction}) must be in (0, 1] when capacity is set")
