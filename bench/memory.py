"""The retrieval memory's hnsw backend against its exact backend (the named peer: torch matmul +
top-k over every key), on random unit vectors (dim 64, k 32, inner product; uniformly random
vectors have no structure to exploit, the hard case for a graph index), or (--keys model:RUN) on
the keys a trained model's kNN layer stores while streaming its training text, searched with that
layer's queries on held-out text (the realistic case: queries come from another projection).

Per stored size: build time (items added through qtk.memory in chunks), resident memory added by
the build, single-query latency p50/p95 and batched queries/s for each `ef`, recall@k against
the exact backend on the same queries, and the exact backend's own single-query p50 and batched
queries/s. Recall is given as sets and tie-tolerant (a found item within 1e-3 of the k-th best
score counts). Prints a markdown report for bench/RESULTS.md.

    python bench/memory.py [--sizes 1000000] [--threads 2] [--ef 64,128,256,512] [--queries 1000]
        [--M 16] [--ef-construction 100] [--keys random|model:RUN]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

import qtk  # noqa: F401  (before torch: sets OMP_WAIT_POLICY)
import torch

from qtk.memory import exact, hnsw
from qtk.memory.index import Memory
from qtk.memory.settings import IndexSettings


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def unit(n: int, d: int, seed: int, chunk: int = 1 << 20) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(n, d)
    for lo in range(0, n, chunk):
        x = torch.randn(min(chunk, n - lo), d, generator=g)
        out[lo:lo + len(x)] = x / x.norm(dim=1, keepdim=True)
    return out


def latencies(search, queries: torch.Tensor, k: int) -> list[float]:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        search(q[None], k)
        times.append(time.perf_counter() - t0)
    return times


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def model_vectors(spec: str, n: int, n_queries: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys a trained model's kNN layer stores while streaming the first n tokens of its training
    text, and that layer's normalised queries (one per head and token) on its held-out text: the
    realistic case. The layer's keys come from its input, which its own memory does not change, so
    the text runs through the model without a stream state (much faster than searching a memory
    per segment). spec: model:RUN_DIR."""
    from qtk import checkpoint
    from qtk.data.prepare import prepare
    from qtk.load import build_model
    from qtk.memory import corpus

    ck = checkpoint.load(spec.removeprefix("model:"))
    model = build_model(ck).eval()
    data = prepare(ck.cfg.data, ck.tokenizer)
    T = ck.cfg.model.block_size
    if len(data.train) < n + 1:
        raise SystemExit(f"{spec}: its training text has {len(data.train):,} tokens, fewer than {n:,}")
    layer = corpus.knn_layer(model, "bench")
    hs = layer.head_dim

    def run(stream, tokens: int, proj) -> torch.Tensor:
        seen = []
        hook = proj.register_forward_hook(lambda m, i, o: seen.append(o.detach().reshape(-1, o.shape[-1])))
        with torch.no_grad():
            for lo in range(0, tokens, 64 * T):
                m = min(64 * T, tokens - lo)
                x = torch.from_numpy(stream.get(lo, m))
                model(x[: m // T * T].view(-1, T)) if m >= T else None
                if m % T:
                    model(x[m // T * T:][None])
        hook.remove()
        return torch.cat(seen)

    keys = torch.nn.functional.normalize(run(data.train, n, layer.kv)[:, :hs], dim=-1)  # the shared key head
    q = run(data.val, -(-n_queries // layer.n_head), layer.q)
    q = torch.nn.functional.normalize(q.reshape(-1, layer.n_head, hs), dim=-1).reshape(-1, hs)
    g = torch.Generator().manual_seed(1)
    return keys.contiguous(), q[torch.randperm(len(q), generator=g)[:n_queries]].contiguous()


def run_size(n: int, a: argparse.Namespace) -> list[str]:
    if a.keys == "random":
        keys = unit(n, a.dim, 0)
        queries = unit(a.queries, a.dim, 1)
        batch = unit(a.batch, a.dim, 2)
    else:
        t0 = time.perf_counter()
        keys, both = model_vectors(a.keys, n, a.queries + a.batch)
        queries, batch = both[:a.queries], both[a.queries:]
        a.dim = keys.shape[1]
        print(f"(keys of {a.keys}: {len(keys):,} x {a.dim}, made in {time.perf_counter() - t0:.0f} s; "
              f"{len(set(map(bytes, keys.numpy()))):,} distinct)", flush=True)
    t0 = time.perf_counter()
    _, truth = exact.search(keys, queries, a.k)
    exact_batch_qps = a.queries / (time.perf_counter() - t0)
    exact_p50 = statistics.median(latencies(lambda q, k: exact.search(keys, q, k), queries[:a.exact_single], a.k))
    s = IndexSettings(backend="hnsw", M=a.M, ef_construction=a.ef_construction, threads=a.threads, seed=0)
    before = rss_mb()
    mem = Memory(a.dim, 1, s)
    t0 = time.perf_counter()
    for lo in range(0, n, a.chunk):
        hi = min(n, lo + a.chunk)
        mem.add(keys[lo:hi], torch.zeros(hi - lo, 1))
    build = time.perf_counter() - t0
    # the memory's own copy of keys + values (4 B each) is part of what a build costs here
    ram = rss_mb() - before
    rows = []
    for ef in a.ef:
        mem.s.ef = ef
        lat = latencies(mem.search, queries, a.k)
        _, found = mem.search(queries, a.k)
        hits = sum(len(set(x.tolist()) & set(y.tolist())) for x, y in zip(found, truth))
        tied = exact.score_recall(keys, queries, found, a.k)
        t0 = time.perf_counter()
        mem.search(batch, a.k)
        qps = a.batch / (time.perf_counter() - t0)
        p50 = statistics.median(lat)
        rows.append(f"| {n:,} | {ef} | {hits / truth.numel():.3f} | {tied:.3f} | {p50 * 1e3:.3f} | {pct(lat, 0.95) * 1e3:.3f} | "
                    f"{qps:,.0f} | {exact_p50 / p50:.1f}x | {qps / exact_batch_qps:.1f}x | {build:.1f} | {ram:,.0f} |")
        print(rows[-1], flush=True)
    rows.append(f"| {n:,} | exact | 1.000 | 1.000 | {exact_p50 * 1e3:.3f} | - | {exact_batch_qps:,.0f} | 1.0x | 1.0x | - | - |")
    print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000000")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--M", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=100)
    p.add_argument("--ef", default="64,128,256,512")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--queries", type=int, default=1000, help="single queries timed (and recall measured on)")
    p.add_argument("--exact-single", type=int, default=50, help="single queries timed on the exact backend")
    p.add_argument("--batch", type=int, default=10000, help="queries in the one batched call")
    p.add_argument("--chunk", type=int, default=100000)
    p.add_argument("--keys", default="random", help="random (unit vectors of --dim) | model:RUN (keys a trained "
                                                    "model's kNN layer stores while streaming its training text, "
                                                    "queries from its held-out text)")
    a = p.parse_args()
    a.ef = [int(x) for x in a.ef.split(",")]
    hnsw.hnswlib()
    torch.set_num_threads(a.threads)
    print(f"## Retrieval memory: hnsw vs exact (bench/memory.py)\n\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, hnswlib {hnsw.version()}, "
          f"torch {torch.__version__}, {a.threads} threads; load average at start {os.getloadavg()}\n\n"
          f"`python bench/memory.py {' '.join(sys.argv[1:])}`: {a.keys} vectors (dim {a.dim} when random), k {a.k}, "
          f"M {a.M}, ef_construction {a.ef_construction}; recall@{a.k} and single-query latency over "
          f"{a.queries} queries, batched throughput over one call of {a.batch}.\n", flush=True)
    print("| stored | ef | recall@k | recall@k, ties | p50 ms | p95 ms | batched q/s | p50 vs exact | q/s vs exact "
          "| build s | RAM MB |\n|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for n in (int(x) for x in a.sizes.split(",")):
        run_size(n, a)
    print(f"\nload average at end {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
