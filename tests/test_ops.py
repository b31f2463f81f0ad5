"""qtk.ops: the torch references behind the op facades (selected-block attention, n-gram
hashing, SimHash) checked against direct definitions, plus the backend facade itself."""

import math

import pytest
import torch
import torch.nn.functional as F

from qtk import ops
from qtk.errors import UsageError
from qtk.ops.hashing import ngram_hash, ngram_hash_ref, ngram_multipliers, simhash, simhash_ref
from qtk.ops.sparse_attention import selected_attention, selected_attention_ref


def _qkv(B=2, H=4, Hkv=2, Tq=12, Tk=12, D=8, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Tq, D, generator=g, dtype=dtype)
    k = torch.randn(B, Hkv, Tk, D, generator=g, dtype=dtype)
    v = torch.randn(B, Hkv, Tk, D, generator=g, dtype=dtype)
    return q, k, v


def _random_blocks(B, Hkv, Tq, n_blocks, n, seed=0):
    """Distinct block indices per query, some slots -1."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randperm(n_blocks, generator=g)[:n] for _ in range(B * Hkv * Tq)])
    idx = idx.view(B, Hkv, Tq, n)
    idx[..., -1] = torch.where(torch.rand(B, Hkv, Tq, generator=g) < 0.3, -1, idx[..., -1])
    return idx


def _loop_reference(q, k, v, block_idx, block_size):
    """Per query: gather the visible keys of its selected blocks, softmax, weighted sum."""
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    out = torch.zeros_like(q)
    for b in range(B):
        for h in range(H):
            hk = h // (H // Hkv)
            for i in range(Tq):
                pos = Tk - Tq + i
                keys = [j for blk in block_idx[b, hk, i].tolist() if blk >= 0
                        for j in range(blk * block_size, min((blk + 1) * block_size, Tk)) if j <= pos]
                if keys:
                    s = (k[b, hk, keys] @ q[b, h, i]) / math.sqrt(D)
                    out[b, h, i] = s.softmax(0) @ v[b, hk, keys]
    return out


def test_selected_attention_matches_per_query_loop():
    q, k, v = _qkv(Tq=5, Tk=13)  # queries are the last 5 of 13 positions (decode-like)
    idx = _random_blocks(2, 2, 5, n_blocks=4, n=2, seed=1)
    got = selected_attention_ref(q, k, v, idx, block_size=4)
    want = _loop_reference(q, k, v, idx, 4)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_selected_attention_all_blocks_is_dense_causal():
    q, k, v = _qkv(Tq=16, Tk=16)
    idx = torch.arange(4).expand(2, 2, 16, 4)
    got = selected_attention(q, k, v, idx, block_size=4)
    want = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), is_causal=True)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_selected_attention_query_blocks_share_selection():
    q, k, v = _qkv(Tq=8, Tk=8)
    per_block = _random_blocks(2, 2, 2, n_blocks=4, n=2, seed=3)  # 2 query blocks of 4
    per_query = per_block.repeat_interleave(4, dim=2)
    a = selected_attention_ref(q, k, v, per_block, 2)
    b = selected_attention_ref(q, k, v, per_query, 2)
    assert torch.equal(a, b)


def test_selected_attention_empty_selection_gives_zeros_and_finite_grads():
    q, k, v = _qkv(Tq=4, Tk=4)
    q.requires_grad_(True)
    idx = torch.full((2, 2, 4, 1), -1)
    out = selected_attention_ref(q, k, v, idx, 2)
    out.sum().backward()
    assert torch.equal(out, torch.zeros_like(out)) and torch.isfinite(q.grad).all()


def test_selected_attention_backward_gradcheck():
    q, k, v = (t.requires_grad_(True) for t in _qkv(B=1, H=2, Hkv=1, Tq=6, Tk=6, D=4, dtype=torch.float64))
    idx = _random_blocks(1, 1, 6, n_blocks=3, n=2, seed=2)
    idx[..., 0] = torch.arange(6) // 2  # every query sees its own block: no empty rows
    assert torch.autograd.gradcheck(lambda a, b, c: selected_attention_ref(a, b, c, idx, 2), (q, k, v))


def _ngram_python(ids, n, mult, size):
    """One hash value by the definition: XOR_j ((id[t-j] + 1) * m_j) mod p, id = -1 before 0."""
    out = []
    for t in range(len(ids)):
        acc = 0
        for j in range(n):
            tok = ids[t - j] if t - j >= 0 else -1
            acc ^= (tok + 1) * mult[j]
        out.append(acc % size)
    return out


def test_ngram_hash_matches_definition():
    ids = torch.randint(0, 50_000, (2, 9), generator=torch.Generator().manual_seed(0))
    sizes, seeds = [1601, 1607, 1609, 1613], [11, 12, 13, 14]
    got = ngram_hash(ids, (2, 3), 2, sizes, seeds)
    mult = ngram_multipliers(seeds, 3).tolist()
    for k, n in enumerate((2, 2, 3, 3)):
        for b in range(2):
            assert got[b, :, k].tolist() == _ngram_python(ids[b].tolist(), n, mult[k], sizes[k])
    assert (got >= 0).all() and (got < torch.tensor(sizes)).all()


def test_ngram_hash_depends_only_on_its_ngram():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 300, (1, 20), generator=g)
    other = ids.clone()
    other[0, :10] = torch.randint(0, 300, (10,), generator=g)  # change everything before t = 10
    a = ngram_hash_ref(ids, (2, 3), 1, [1009, 1013], [1, 2])
    b = ngram_hash_ref(other, (2, 3), 1, [1009, 1013], [1, 2])
    assert torch.equal(a[0, 11:, 0], b[0, 11:, 0]) and torch.equal(a[0, 12:, 1], b[0, 12:, 1])
    # hashing a suffix with its (max_order - 1) ids of history gives the full-sequence values
    assert torch.equal(ngram_hash_ref(ids[:, 13:], (2, 3), 1, [1009, 1013], [1, 2])[:, 2:], a[:, 15:])


def test_ngram_hash_heads_are_independent():
    ids = torch.randint(0, 256, (4, 256), generator=torch.Generator().manual_seed(2))
    h = ngram_hash_ref(ids, (2,), 2, [1601, 1607], [5, 6])
    assert (h[..., 0] == h[..., 1]).float().mean() < 0.02


def test_simhash_matches_bits():
    g = torch.Generator().manual_seed(0)
    x, planes = torch.randn(5, 3, 16, generator=g), torch.randn(16, 10, generator=g)
    codes = simhash(x, planes)
    bits = (x @ planes > 0).long()
    assert torch.equal(codes, (bits * (2 ** torch.arange(10))).sum(-1))
    assert torch.equal(simhash_ref(-x, planes), (2**10 - 1) - codes)  # opposite vectors: all bits flip


def test_simhash_collision_rate_follows_angle():
    g = torch.Generator().manual_seed(0)
    planes = torch.randn(32, 62, generator=g)
    a = torch.randn(2000, 32, generator=g)
    noise = torch.randn(2000, 32, generator=g)
    b = a + 0.5 * noise
    theta = torch.arccos(F.cosine_similarity(a, b)).mean().item()
    ca, cb = simhash(a, planes), simhash(b, planes)
    same = 1 - torch.stack([((ca ^ cb) >> i) & 1 for i in range(62)]).float().mean().item()
    assert abs(same - (1 - theta / math.pi)) < 0.02, (same, 1 - theta / math.pi)


def test_backend_facade():
    try:
        ops.set_backend("torch")  # forcing the reference side works everywhere
        assert ops.backend() == "torch"
        assert ops.impl("selected_attention") is selected_attention_ref
        assert ops.impl("ngram_hash") is ngram_hash_ref and ops.impl("simhash") is simhash_ref
    finally:
        ops.set_backend(None)
    assert ops.backend() in ops.BACKENDS
    with pytest.raises(UsageError, match="unknown ops backend"):
        ops.set_backend("triton")
