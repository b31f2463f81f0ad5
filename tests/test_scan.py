"""qtk.ops.scan: the chunked scan and the one-token step against the sequential reference
recurrence (relative RMS error, fresh random inputs, odd lengths and head dims that are not powers
of two), split-and-resume, document resets, fp32 state under autocast; fla's GPU kernel against
the chunked form (marked gpu)."""

import pytest
import torch

from qtk.ops import scan as S


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-12)).item()


def inputs(B=2, H=3, T=63, dk=12, dv=20, seed=0, gate=(0.0, 2.0), resets=0.0, state=True):
    """Random q, k, v, log-decays g in -U(gate), optional initial state and reset mask."""
    gen = torch.Generator().manual_seed(seed)
    q, k = torch.randn(B, H, T, dk, generator=gen), torch.randn(B, H, T, dk, generator=gen) / dk ** 0.5
    v = torch.randn(B, H, T, dv, generator=gen)
    lo, hi = gate
    g = -(lo + (hi - lo) * torch.rand(B, H, T, generator=gen))
    s0 = torch.randn(B, H, dk, dv, generator=gen) if state else None
    reset = (torch.rand(B, T, generator=gen) < resets) if resets else None
    return q, k, v, g, s0, reset


@pytest.mark.parametrize("T", [1, 63, 200])
@pytest.mark.parametrize("dims", [(12, 20), (60, 100), (7, 5)], ids=["12x20", "60x100", "7x5"])
@pytest.mark.parametrize("gate", [(0.0, 0.0), (0.0, 0.05), (0.5, 4.0)], ids=["none", "weak", "strong"])
def test_chunked_equals_reference(T, dims, gate):
    q, k, v, g, s0, _ = inputs(T=T, dk=dims[0], dv=dims[1], gate=gate, seed=T)
    o_ref, s_ref = S.scan_ref(q, k, v, g, s0)
    o, s = S.scan_chunked(q, k, v, g, s0, chunk=16)
    assert rel(o, o_ref) <= 1e-3, f"output rel err {rel(o, o_ref):.2e}"
    assert rel(s, s_ref) <= 1e-3, f"state rel err {rel(s, s_ref):.2e}"


@pytest.mark.parametrize("T", [1, 63, 200])
def test_chunked_gradients_equal_reference(T):
    tensors = inputs(T=T, dk=12, dv=20, seed=10 + T)[:5]
    grads = []
    for fn in (S.scan_ref, lambda *a: S.scan_chunked(*a, chunk=16)):
        leaves = [t.clone().requires_grad_(True) for t in tensors]
        o, s = fn(*leaves)
        gen = torch.Generator().manual_seed(99)
        ((o * torch.randn(o.shape, generator=gen)).sum() + (s * torch.randn(s.shape, generator=gen)).sum()).backward()
        grads.append([t.grad for t in leaves])
    for name, ga, gb in zip("q k v g state".split(), *grads):
        assert rel(gb, ga) <= 1e-3, f"grad {name}: rel err {rel(gb, ga):.2e}"


@pytest.mark.parametrize("chunk", [1, 7, 64, 300])
def test_chunk_size_does_not_change_the_result(chunk):
    q, k, v, g, s0, reset = inputs(T=100, resets=0.05, seed=3)
    o_ref, s_ref = S.scan_ref(q, k, v, g, s0, reset)
    o, s = S.scan_chunked(q, k, v, g, s0, reset, chunk=chunk)
    assert rel(o, o_ref) <= 1e-3 and rel(s, s_ref) <= 1e-3, (rel(o, o_ref), rel(s, s_ref))


def test_split_and_resume_equals_the_whole():
    q, k, v, g, s0, reset = inputs(T=150, resets=0.03, seed=4)
    o_all, s_all = S.scan_chunked(q, k, v, g, s0, reset, chunk=32)
    o1, s1 = S.scan_chunked(q[:, :, :77], k[:, :, :77], v[:, :, :77], g[:, :, :77], s0, reset[:, :77], chunk=32)
    o2, s2 = S.scan_chunked(q[:, :, 77:], k[:, :, 77:], v[:, :, 77:], g[:, :, 77:], s1, reset[:, 77:], chunk=32)
    assert rel(torch.cat([o1, o2], 2), o_all) <= 1e-5 and rel(s2, s_all) <= 1e-5


def test_step_equals_reference():
    q, k, v, g, s0, _ = inputs(T=20, seed=5)
    o_ref, s_ref = S.scan_ref(q, k, v, g, s0)
    state, outs = s0, []
    for t in range(20):
        o, state = S.scan_step(q[:, :, t], k[:, :, t], v[:, :, t], g[:, :, t], state)
        outs.append(o)
    assert rel(torch.stack(outs, 2), o_ref) <= 1e-5 and rel(state, s_ref) <= 1e-5


@pytest.mark.parametrize("form", ["ref", "chunked"])
def test_document_reset_equals_two_separate_sequences(form):
    """A reset at t: the output from t on is that of a fresh sequence starting at t (zero state)."""
    fn = S.scan_ref if form == "ref" else lambda *a: S.scan_chunked(*a, chunk=16)
    q, k, v, g, s0, _ = inputs(B=1, T=90, seed=6)
    cut = 41
    reset = torch.zeros(1, 90, dtype=torch.bool)
    reset[0, cut] = True
    o, s = fn(q, k, v, g, s0, reset)
    o_a, _ = fn(q[:, :, :cut], k[:, :, :cut], v[:, :, :cut], g[:, :, :cut], s0)
    o_b, s_b = fn(q[:, :, cut:], k[:, :, cut:], v[:, :, cut:], g[:, :, cut:], None)
    assert rel(o[:, :, :cut], o_a) <= 1e-5 and rel(o[:, :, cut:], o_b) <= 1e-5 and rel(s, s_b) <= 1e-5


def test_state_stays_fp32_under_bf16_autocast():
    q, k, v, g, s0, _ = inputs(T=40, seed=7)
    o_ref, s_ref = S.scan_ref(q, k, v, g, s0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        o, s = S.scan(q.bfloat16(), k.bfloat16(), v.bfloat16(), g, s0, chunk=16)
    assert s.dtype == torch.float32 and o.dtype == torch.bfloat16
    assert rel(o, o_ref) <= 2e-2, rel(o, o_ref)  # bf16 inputs; the sums themselves ran in fp32


def test_chunk_size_must_be_positive():
    q, k, v, g, _, _ = inputs(T=5)
    with pytest.raises(ValueError, match="chunk size must be >= 1"):
        S.scan_chunked(q, k, v, g, chunk=0)


def test_cpu_never_takes_the_fla_path(monkeypatch):
    monkeypatch.setattr(S, "scan_fla", lambda *a: pytest.fail("fla called for CPU tensors"))
    q, k, v, g, s0, _ = inputs(T=10)
    o, _ = S.scan(q, k, v, g, s0)
    assert rel(o, S.scan_ref(q, k, v, g, s0)[0]) <= 1e-5


# ------------------------------------------------------------------ GPU fast path (fla)

@pytest.mark.gpu
@pytest.mark.parametrize("T", [1, 63, 500])
def test_fla_kernel_equals_chunked_form(T):
    if not torch.cuda.is_available() or not S.fla_available():
        pytest.skip("needs CUDA and fla-core (pip install 'qtk[gpu]')")
    q, k, v, g, s0, _ = (t.cuda() if t is not None else None for t in inputs(T=T, dk=64, dv=64, seed=T))
    o_ref, s_ref = S.scan_chunked(q, k, v, g, s0)
    o, s = S.scan_fla(q, k, v, g, s0)
    assert rel(o, o_ref) <= 5e-3 and rel(s, s_ref) <= 5e-3, (rel(o, o_ref), rel(s, s_ref))
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v, g, s0)]
    grads = []
    for fn in (S.scan_chunked, S.scan_fla):
        for t in leaves:
            t.grad = None
        o, s = fn(*leaves)
        (o.float().sum() + s.sum()).backward()
        grads.append([t.grad.clone() for t in leaves])
    for name, ga, gb in zip("q k v g state".split(), *grads):
        assert rel(gb, ga) <= 2e-2, f"grad {name}: rel err {rel(gb, ga):.2e}"
