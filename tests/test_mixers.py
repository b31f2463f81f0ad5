"""The linear-time mixers (linear, retnet, mamba2, osc) beyond the generic component tests: each
against an independent reference of its own maths, its init, resets at document starts inside a
model, unbounded generation at constant state size, and the settings errors."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from qtk import config as qconfig
from qtk.data.tokenizer import ByteTokenizer
from qtk.errors import UsageError
from qtk.generate import Sampling, sample_tokens
from qtk.model import GPT
from qtk.model.context import Context
from qtk.model.gpt import weight_decay_split
from qtk.model.rope import apply_rope_real

SCAN_MIXERS = ["linear", "retnet", "mamba2", "osc"]
V = 320


def cfg_for(layers: str, n_layer: int = 2, **sets) -> qconfig.RunConfig:
    cfg = qconfig.RunConfig()
    m = cfg.model
    m.vocab_size, m.block_size, m.n_layer, m.n_head, m.n_embd = V, 32, n_layer, 4, 32
    m.layers = layers
    m.mamba2.head_dim, m.mamba2.d_state = 16, 12
    m.linear.chunk = m.retnet.chunk = m.osc.chunk = m.mamba2.chunk = 8
    for key, value in sets.items():
        qconfig.set_key(cfg, f"model.{key}", str(value))
    qconfig.validate(cfg)
    return cfg


def build(layers: str, n_layer: int = 2, seed: int = 0, **sets) -> GPT:
    torch.manual_seed(seed)
    return GPT(cfg_for(layers, n_layer, **sets).model).eval()


def ids(B: int, T: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mixer", SCAN_MIXERS)
def test_document_reset_equals_two_separate_sequences(mixer):
    """A packed row [doc a | doc b] with doc_start at b scores b exactly as b alone (every part of
    the layer resets: the scan state, and mamba2's convolution)."""
    model = build(mixer)
    a, b = ids(1, 17, seed=1), ids(1, 20, seed=2)
    packed = torch.cat([a, b], dim=1)
    starts = torch.zeros_like(packed, dtype=torch.bool)
    starts[0, 17] = True
    with torch.no_grad():
        both, _ = model(packed, doc_start=starts)
        alone, _ = model(b)
        leaky, _ = model(packed)
    err = (both[:, 17:] - alone).abs().max().item()
    assert err < 1e-4, f"max |diff| {err:.2e}"
    assert (leaky[:, 17:] - alone).abs().max().item() > 1e-3  # without the reset, a leaks into b


@pytest.mark.parametrize("mixer", SCAN_MIXERS)
def test_decoding_resets_where_a_document_starts(mixer):
    """Cached decoding with doc_start in the middle of a chunk and at a single step."""
    model = build(mixer)
    x = ids(2, 24, seed=3)
    starts = torch.zeros_like(x, dtype=torch.bool)
    starts[0, 5], starts[1, 12] = True, True
    with torch.no_grad():
        full, _ = model(x, doc_start=starts)
        st = model.new_state(2)
        parts = [model(x[:, :9], state=st, doc_start=starts[:, :9])[0]]
        parts += [model(x[:, t:t + 1], state=st, doc_start=starts[:, t:t + 1])[0] for t in range(9, 24)]
    err = (full - torch.cat(parts, 1)).abs().max().item()
    assert err < 1e-5, f"max |diff| {err:.2e}"


def test_generation_runs_past_block_size_at_constant_state_size():
    """A stack of all four mixers (no attention) has no context limit: qtk generate's sampling
    loop runs 1,000 tokens past block_size without a restart, and the decode state keeps its size
    from the first token on."""
    model = build("linear,retnet,mamba2,osc", n_layer=4)
    assert model.max_context is None
    n_new = model.cfg.block_size + 1000
    state, sizes = model.new_state(1), []

    def step(x: torch.Tensor, restart: bool) -> torch.Tensor:
        assert not restart or state.length == 0, "decoding restarted"
        logits, _ = model(x, state=state)
        sizes.append(state.nbytes)
        return logits[:, -1]

    prompt = torch.tensor([[ByteTokenizer.eot_id, 97, 98, 99]])
    with torch.no_grad():  # the loop of qtk generate, without its stop at <|endoftext|>
        new = list(itertools.islice(sample_tokens(step, prompt, Sampling(temperature=1.0), V, model.max_context,
                                                  torch.Generator().manual_seed(0)), n_new))
    assert len(new) == n_new and state.length >= n_new
    assert len(set(sizes)) == 1 and sizes[0] > 0, (min(sizes), max(sizes))


def test_linear_attention_normaliser_equals_the_quadratic_form():
    model = build("linear", **{"linear.normalize": True, "linear.feature_map": "elu1"})
    layer = model.blocks[0].attn
    x = torch.randn(2, 19, 32)
    ctx = Context(ids(2, 19), torch.arange(19), None, None)
    with torch.no_grad():
        y = layer(x, ctx)
        q, k, v = (layer.heads(t) for t in layer.qkv(x).chunk(3, dim=-1))
        q, k = F.elu(q) + 1, F.elu(k) + 1
        w = (q @ k.transpose(-1, -2)).tril()  # (B, H, T, T) causal phi(q) phi(k)^T
        ref = layer.proj(layer.merge((w @ v) / (w.sum(-1, keepdim=True) + 1e-6)))
    assert torch.allclose(y, ref, atol=1e-5), (y - ref).abs().max()


def test_retention_equals_its_parallel_form():
    """RetNet's parallel form: (Q K^T ⊙ D) V with D[t, s] = gamma^(t-s) for s <= t."""
    model = build("retnet")
    layer = model.blocks[0].attn
    T = 21
    x = torch.randn(1, T, 32)
    cos, sin = model.rope(0, T)
    ctx = Context(ids(1, T), torch.arange(T), cos, sin)
    gammas = 1 - 2.0 ** (-5 - torch.arange(4.0))
    assert torch.allclose(layer.log_gamma.exp(), gammas)
    with torch.no_grad():
        y = layer(x, ctx)
        q, k, v = (layer.heads(t) for t in layer.qkv(x).chunk(3, dim=-1))
        q, k = apply_rope_real(q, cos, sin), apply_rope_real(k, cos, sin) / math.sqrt(8)
        dist = torch.arange(T)[:, None] - torch.arange(T)[None, :]
        D = torch.where(dist >= 0, gammas[:, None, None] ** dist.clamp_min(0), torch.zeros(()))  # (H, T, T)
        o = F.rms_norm((q @ k.transpose(-1, -2) * D) @ v, (8,), eps=model.cfg.norm_eps)
        ref = layer.proj(F.silu(layer.gate(x)) * layer.merge(o))
    assert torch.allclose(y, ref, atol=1e-5), (y - ref).abs().max()


def test_osc_equals_the_damped_rotation_recurrence():
    """The oscillatory SSM run as written in its docstring, S_t = r_t R(theta) S_{t-1} + k_t v_t^T
    with R the 2x2 rotation blocks, o_t = S_t^T q_t, equals the module (which rotates q and k)."""
    model = build("osc")
    layer = model.blocks[0].attn
    with torch.no_grad():
        layer.theta.uniform_(0.0, 3.0)  # fast rotations, so a sign or pairing error shows
    T, hs = 15, 8
    x = torch.randn(1, T, 32)
    ctx = Context(ids(1, T), torch.arange(T), None, None)
    with torch.no_grad():
        y = layer(x, ctx)
        q, k, v = (layer.heads(t) for t in layer.qkv(x).chunk(3, dim=-1))
        logr = -F.softplus(layer.damp(x) + layer.damp_bias).transpose(1, 2)  # (1, H, T)
        k = k * (-torch.expm1(2 * logr)).sqrt()[..., None] / math.sqrt(hs)
        c, s = layer.theta.cos(), layer.theta.sin()  # (H, hs/2)
        S = torch.zeros(1, 4, hs, hs)
        outs = []
        for t in range(T):
            a, b = S[:, :, 0::2], S[:, :, 1::2]  # rotate each (2i, 2i+1) row pair of the state
            rot = torch.stack([a * c[..., None] - b * s[..., None], b * c[..., None] + a * s[..., None]], dim=3)
            S = logr[:, :, t, None, None].exp() * rot.flatten(2, 3) + k[:, :, t, :, None] * v[:, :, t, None, :]
            outs.append(torch.einsum("bhk,bhkv->bhv", q[:, :, t], S))
        o = F.rms_norm(torch.stack(outs, 2), (hs,), eps=model.cfg.norm_eps)
        ref = layer.proj(F.silu(layer.gate(x)) * layer.merge(o))
    assert torch.allclose(y, ref, atol=1e-5), (y - ref).abs().max()


def test_mamba2_init_and_weight_decay_marks():
    model = build("mamba2", n_layer=2)
    m = model.blocks[0].attn
    A = m.A_log.exp()
    dt = F.softplus(m.dt_bias)
    assert ((A >= 1) & (A <= 16)).all() and ((dt >= 1e-3 - 1e-6) & (dt <= 0.1 + 1e-6)).all()
    assert torch.equal(m.D, torch.ones_like(m.D))
    decay, no_decay = weight_decay_split(model)
    names = {id(p): n for n, p in model.named_parameters()}
    skipped = {names[id(p)] for p in no_decay}
    assert {"blocks.0.attn.A_log", "blocks.0.attn.dt_bias", "blocks.0.attn.D"} <= skipped
    assert "blocks.0.attn.in_proj.weight" in {names[id(p)] for p in decay}


def test_osc_init_follows_lru():
    model = build("osc", **{"osc.r_min": 0.9, "osc.r_max": 0.99})
    layer = model.blocks[0].attn
    r = torch.exp(-F.softplus(layer.damp_bias))
    assert ((r >= 0.9 - 1e-5) & (r <= 0.99 + 1e-5)).all()
    assert "blocks.0.attn.theta" in {n for n, p in model.named_parameters()
                                     if any(p is q for q in weight_decay_split(model)[1])}


@pytest.mark.parametrize("sets,key", [
    ({"model.mamba2.head_dim": "48"}, "model.mamba2.head_dim"),
    ({"model.mamba2.d_state": "512"}, "model.mamba2.d_state"),
    ({"model.retnet.chunk": "0"}, "model.retnet.chunk"),
    ({"model.linear.normalize": "true", "model.linear.feature_map": "identity"}, "model.linear.normalize"),
    ({"model.osc.r_min": "0.999", "model.osc.r_max": "0.9"}, "model.osc"),
])
def test_bad_settings_are_one_line_naming_the_key(cli, sets, key):
    mixer = key.split(".")[1]
    args = ["train", "--size", "tiny", "--max-steps", "1", "--set", f"model.mixer={mixer}"]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    r = cli(*args)
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], r.stderr


def test_head_dim_too_large_for_the_kernels():
    with pytest.raises(UsageError, match="model.linear: head dim .* exceeds 256"):
        cfg_for("linear", n_layer=1, **{"n_head": 1, "n_embd": 512})
