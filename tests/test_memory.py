"""The retrieval memory facade (qtk.memory): the exact backend against brute force, the hnsw
backend against exact (recall, determinism, duplicates), capacity, persistence and bad input."""

import importlib.util
import json

import numpy as np
import pytest
import torch

from qtk.errors import QtkError, UsageError
from qtk.memory import exact, store
from qtk.memory.index import Memory
from qtk.memory.settings import IndexSettings

needs_hnswlib = pytest.mark.skipif(importlib.util.find_spec("hnswlib") is None, reason="hnswlib not installed")


def unit(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x / x.norm(dim=1, keepdim=True)


def recall(found: torch.Tensor, truth: torch.Tensor) -> float:
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(found, truth))
    return hits / truth.numel()


def test_exact_matches_brute_force_across_chunks(monkeypatch):
    monkeypatch.setattr(exact, "CHUNK", 100)  # several chunks, merged
    keys, q = unit(1000, 16, 0), unit(7, 16, 1)
    s, i = exact.search(keys, q, 10)
    rs, ri = exact.search_ref(keys, q, 10)
    err = (s.double() - rs).abs().max().item()
    assert err < 1e-5, f"max score difference {err}"
    assert torch.equal(i, ri), f"index mismatch:\n{i}\n{ri}"


def test_empty_memory_and_k_above_count():
    mem = Memory(8, 3, IndexSettings(backend="exact"))
    s, i = mem.search(unit(2, 8, 0), 32)
    assert s.shape == (2, 0) and i.shape == (2, 0)
    mem.add(unit(5, 8, 1), torch.randn(5, 3))
    s, i = mem.search(unit(2, 8, 2), 32)
    assert i.shape == (2, 5) and sorted(i[0].tolist()) == [0, 1, 2, 3, 4]


def test_items_are_detached_and_copied():
    k = unit(4, 8, 0).requires_grad_()
    v = torch.randn(4, 2, requires_grad=True)
    mem = Memory(8, 2, IndexSettings(backend="exact"))
    mem.add(k * 1.0, v * 1.0)
    assert not mem.keys.requires_grad and not mem.values.requires_grad
    assert mem.positions.tolist() == [0, 1, 2, 3]


def test_bad_dimensions_name_the_problem():
    mem = Memory(8, 2, IndexSettings(backend="exact"))
    with pytest.raises(UsageError, match=r"keys must be \(n, 8\)"):
        mem.add(torch.zeros(3, 7), torch.zeros(3, 2))
    with pytest.raises(UsageError, match="values must be"):
        mem.add(torch.zeros(3, 8), torch.zeros(2, 2))
    with pytest.raises(UsageError, match="queries must be"):
        mem.search(torch.zeros(1, 9), 4)
    with pytest.raises(UsageError, match="backend"):
        Memory(8, 2, IndexSettings(backend="faiss"))


@pytest.mark.parametrize("backend", ["exact", pytest.param("hnsw", marks=needs_hnswlib)])
def test_capacity_evicts_oldest_by_rebuild(backend):
    mem = Memory(16, 1, IndexSettings(backend=backend, capacity=100, evict_fraction=0.2))
    keys = unit(250, 16, 3)
    for lo in range(0, 250, 10):
        mem.add(keys[lo:lo + 10], torch.arange(lo, lo + 10, dtype=torch.float32)[:, None])
        assert len(mem) <= 100
    # the survivors are the newest items, in order, and the index answers over them only
    assert mem.positions.tolist() == list(range(250 - len(mem), 250))
    s, i = mem.search(keys[-5:], 1)
    assert mem.positions[i[:, 0]].tolist() == list(range(245, 250))
    s, i = mem.search(keys[:5], 1)  # evicted keys are not found
    assert (mem.positions[i[:, 0]] >= 250 - len(mem)).all()
    if backend == "hnsw":
        assert mem.rebuilds == 5 and len(mem.index) == len(mem)  # at 110 items, then every 30 added


@pytest.mark.slow
@needs_hnswlib
def test_hnsw_recall_at_32_on_random_unit_vectors():
    keys, q = unit(20000, 64, 0), unit(200, 64, 1)
    # uniformly random vectors are the hard case for a graph: ef 64 gives ~0.65 here, 256 ~0.95
    mem = Memory(64, 1, IndexSettings(backend="hnsw", ef=400, ef_construction=100, threads=2))
    mem.add(keys, torch.zeros(20000, 1))
    _, found = mem.search(q, 32)
    _, truth = exact.search(keys, q, 32)
    r = recall(found, truth)
    assert r >= 0.95, f"recall@32 {r:.3f}"


@needs_hnswlib
def test_hnsw_same_seed_one_thread_same_neighbours():
    keys, q = unit(3000, 32, 4), unit(50, 32, 5)
    runs = []
    for _ in range(2):
        mem = Memory(32, 1, IndexSettings(backend="hnsw", seed=7, threads=1, ef=16, M=8))
        for lo in range(0, 3000, 500):
            mem.add(keys[lo:lo + 500], torch.zeros(500, 1))
        runs.append(mem.search(q, 10)[1])
    assert torch.equal(runs[0], runs[1])


@needs_hnswlib
def test_needle_among_identical_keys():
    base, needle = unit(1, 64, 6), unit(1, 64, 7)
    mem = Memory(64, 1, IndexSettings(backend="hnsw"))
    mem.add(base.repeat(5000, 1), torch.zeros(5000, 1))
    mem.add(needle, torch.ones(1, 1))
    mem.add(base.repeat(5000, 1), torch.zeros(5000, 1))
    s, i = mem.search(needle, 32)
    assert i[0, 0].item() == 5000 and abs(s[0, 0].item() - 1.0) < 1e-5
    # the copies are still returned as the next best items, with their common score
    _, ti = exact.search(mem.keys, needle, 32)
    assert i.shape == (1, 32) and torch.equal(mem.keys[i[0, 1:]], mem.keys[ti[0, 1:]])
    s, i = mem.search(base, 32)
    assert len(set(i[0].tolist())) == 32 and 5000 not in i[0].tolist()


@needs_hnswlib
def test_auto_switches_to_hnsw_at_threshold():
    mem = Memory(16, 1, IndexSettings(backend="auto", auto_threshold=500))
    mem.add(unit(499, 16, 0), torch.zeros(499, 1))
    assert mem.backend == "exact"
    mem.add(unit(2, 16, 1), torch.zeros(2, 1))
    assert mem.backend == "hnsw" and len(mem.index) == 501


@pytest.mark.parametrize("backend", ["exact", pytest.param("hnsw", marks=needs_hnswlib)])
def test_save_load_same_answers(tmp_path, backend):
    keys, q = unit(2000, 32, 8), unit(20, 32, 9)
    mem = Memory(32, 4, IndexSettings(backend=backend, seed=3))
    mem.add(keys, torch.randn(2000, 4), torch.arange(2000) * 2, torch.arange(2000) // 100)
    path = store.save(mem, tmp_path / "mem.safetensors", "abc")
    back = store.load(path, "abc")
    assert back.backend == backend
    assert back.graph_source == ("loaded" if backend == "hnsw" else "none")
    for name in ("keys", "values", "positions", "doc_ids"):
        assert torch.equal(getattr(back, name), getattr(mem, name)), name
    assert back.s.ef == mem.s.ef  # ef is restored, not hnswlib's default 10
    s0, i0 = mem.search(q, 16)
    s1, i1 = back.search(q, 16)
    assert torch.equal(i0, i1) and torch.allclose(s0, s1)


def test_memory_from_other_weights_is_refused(tmp_path):
    mem = Memory(8, 2, IndexSettings(backend="exact"))
    mem.add(unit(10, 8, 0), torch.zeros(10, 2))
    path = store.save(mem, tmp_path / "m.safetensors", "a" * 64)
    with pytest.raises(QtkError, match="built by other weights"):
        store.load(path, "b" * 64)


@needs_hnswlib
def test_graph_with_wrong_hash_is_not_loaded(tmp_path, monkeypatch):
    keys = unit(1000, 16, 1)
    mem = Memory(16, 1, IndexSettings(backend="hnsw"))
    mem.add(keys, torch.zeros(1000, 1))
    path = store.save(mem, tmp_path / "m.safetensors", "h")
    graph = store.graph_path(path)
    graph.write_bytes(graph.read_bytes()[:-8] + b"\xff" * 8)  # a tampered graph file
    import hnswlib

    def refuse(*a, **kw):
        raise AssertionError("load_index called on a file whose hash does not match")

    monkeypatch.setattr(hnswlib.Index, "load_index", refuse)
    back = store.load(path, "h")
    assert back.graph_source.startswith("rebuilt") and "sha256" in back.graph_source
    _, i = back.search(keys[:10], 1)
    assert i[:, 0].tolist() == list(range(10))


def test_unreadable_or_inconsistent_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(QtkError, match="unreadable memory file"):
        store.load(bad, "h")
    mem = Memory(8, 2, IndexSettings(backend="exact"))
    mem.add(unit(10, 8, 0), torch.zeros(10, 2))
    path = store.save(mem, tmp_path / "m.safetensors", "h")
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["qtk"])
    meta["key_dim"] = 9
    save_file(tensors, str(path), metadata={"qtk": json.dumps(meta)})
    with pytest.raises(QtkError, match="keys has shape"):
        store.load(path, "h")


def test_save_does_not_leave_partial_files(tmp_path):
    mem = Memory(8, 2, IndexSettings(backend="exact"))
    mem.add(unit(3, 8, 0), torch.zeros(3, 2))
    store.save(mem, tmp_path / "m.safetensors", "h")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    assert np.isfinite(store.read(tmp_path / "m.safetensors")[1]["keys"].numpy()).all()


@pytest.mark.slow
@needs_hnswlib
def test_hnsw_recall_on_keys_of_a_trained_model(tiny_run):
    """Keys as a layer would store them: normalised key projections of a trained tiny model's
    attention, over held-out text (structured, unlike random vectors)."""
    from qtk import checkpoint
    from qtk.load import build_model
    from qtk.data.prepare import prepare

    ck = checkpoint.load(tiny_run)
    model = build_model(ck)
    data = prepare(ck.cfg.data, ck.tokenizer)
    attn = model.blocks[1].attn
    hs, H = attn.head_dim, attn.n_head
    T = ck.cfg.model.block_size
    n = min(len(data.val) - 1, 5000 // T * T)
    x = torch.from_numpy(data.val.get(0, n)).view(-1, T)
    seen = {}
    hook = attn.qkv.register_forward_hook(lambda m, i, o: seen.setdefault("qkv", []).append(o))
    with torch.no_grad():
        model(x)
    hook.remove()
    qkv = seen["qkv"][0].reshape(-1, attn.qkv.out_features)
    k = qkv[:, H * hs:(H + attn.n_kv_head) * hs].reshape(-1, hs)  # every kv head's keys
    k = torch.nn.functional.normalize(k, dim=-1)
    q = torch.nn.functional.normalize(qkv[:, :hs], dim=-1)[::25]
    # queries and keys come from different projections (out-of-distribution queries, harder
    # for a graph than keys searched with keys): ef 128 gives ~0.92 here
    mem = Memory(hs, 1, IndexSettings(backend="hnsw", threads=1, ef_construction=200, ef=256))
    mem.add(k, torch.zeros(len(k), 1))
    _, found = mem.search(q, 32)
    _, truth = exact.search(mem.keys, q, 32)
    assert len(k) >= 15000
    r, rs = recall(found, truth), exact.score_recall(mem.keys, q, found, 32)
    assert rs >= 0.95, f"recall@32 {rs:.3f} (within 1e-3 of the 32nd score; as sets {r:.3f}) at ef {mem.s.ef}"
