import pytest
import torch

from qtk.config import ModelConfig
from qtk.model import GPT


def small(**kw):
    cfg = ModelConfig(vocab_size=320, n_layer=2, n_head=4, n_embd=64, block_size=48, **kw)
    torch.manual_seed(0)
    return GPT(cfg).eval()


@pytest.mark.parametrize("n_kv_head", [0, 2, 1])
def test_cached_logits_equal_uncached(n_kv_head):
    m = small(n_kv_head=n_kv_head)
    x = torch.randint(0, 320, (3, 40))
    full, _ = m(x)
    state = m.new_state(3)
    parts = [m(x[:, :9], state=state)[0], m(x[:, 9:17], state=state)[0]]
    parts += [m(x[:, t:t + 1], state=state)[0] for t in range(17, 40)]
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=0)


def test_causal():
    m = small()
    x = torch.randint(0, 320, (2, 30))
    y = x.clone()
    y[:, 20:] = torch.randint(0, 320, (2, 10))
    a, b = m(x)[0], m(y)[0]
    assert torch.equal(a[:, :20], b[:, :20])
    assert not torch.allclose(a[:, 20:], b[:, 20:])


def test_loss_and_gradients_reach_every_parameter():
    m = small().train()
    x = torch.randint(0, 320, (2, 16))
    logits, loss = m(x, x)
    assert logits.shape == (2, 16, 320)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


def test_uniform_model_loss_is_log_vocab():
    m = small()
    for p in m.parameters():
        torch.nn.init.zeros_(p)
    _, loss = m(torch.randint(0, 320, (1, 8)), torch.randint(0, 320, (1, 8)))
    assert loss.item() == pytest.approx(torch.log(torch.tensor(320.0)).item(), rel=1e-6)


def test_tied_head_and_context_limit():
    m = small()
    assert m.head.weight is m.wte.weight
    untied = GPT(ModelConfig(vocab_size=320, n_layer=1, n_head=2, n_embd=32, block_size=8, tie_embeddings=False))
    assert untied.num_params() == sum(p.numel() for p in untied.parameters())
    assert untied.head.weight is not untied.wte.weight
    with pytest.raises(ValueError, match="exceeds the context"):
        m(torch.zeros(1, 49, dtype=torch.long))


def test_rope_complex_and_real_forms_agree():
    from qtk.model.rope import apply_rope, apply_rope_real, rope_tables

    cos, sin = rope_tables(16, 10, 10000.0)
    x = torch.randn(2, 10, 3, 16).transpose(1, 2)  # (B, H, T, hs) view, non-contiguous like q/k
    torch.testing.assert_close(apply_rope(x, cos, sin), apply_rope_real(x, cos, sin), atol=1e-6, rtol=1e-6)
    # a rotation: norms of each pair are kept
    torch.testing.assert_close(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1), atol=1e-5, rtol=1e-5)
