import json

import pytest
import torch

from qtk import checkpoint
from qtk.generate import Sampling, generate, next_token
from qtk.load import build_model


@pytest.fixture(scope="module")
def ck(tiny_run):
    return checkpoint.load(tiny_run)


def test_greedy_matches_uncached_argmax_loop(ck):
    model = build_model(ck)
    out = generate(model, ck.tokenizer, b"The ", Sampling(max_new_tokens=30, temperature=0))
    ids = torch.tensor([[ck.tokenizer.eot_id] + list(b"The ")])
    for _ in range(30):
        logits = model(ids)[0][0, -1]
        logits[ck.tokenizer.vocab_size:] = float("-inf")
        nxt = int(logits.argmax())
        if nxt == ck.tokenizer.eot_id:
            break
        ids = torch.cat([ids, torch.tensor([[nxt]])], 1)
    assert out["texts"][0].encode() == bytes(ids[0, 5:].tolist())


def test_seeded_sampling_is_reproducible_and_filters_work(ck):
    model = build_model(ck)
    s = Sampling(max_new_tokens=20, temperature=1.0, seed=3)
    assert generate(model, ck.tokenizer, b"A", s)["texts"] == generate(model, ck.tokenizer, b"A", s)["texts"]
    greedy = generate(model, ck.tokenizer, b"A", Sampling(max_new_tokens=20, temperature=0))["texts"]
    top1 = generate(model, ck.tokenizer, b"A", Sampling(max_new_tokens=20, temperature=1.0, top_k=1, seed=5))["texts"]
    nucleus = generate(model, ck.tokenizer, b"A", Sampling(max_new_tokens=20, temperature=1.0, top_p=1e-6, seed=5))["texts"]
    assert greedy == top1 == nucleus


def test_next_token_filters():
    logits = torch.tensor([[1.0, 3.0, 2.0, -1.0]])
    hist = torch.tensor([[1]])
    # repetition penalty 4 turns the seen token 1 (3.0) into 0.75, so token 2 wins
    assert next_token(logits, hist, Sampling(temperature=0, repetition_penalty=4.0), None).item() == 2
    gen = torch.Generator().manual_seed(0)
    draws = {next_token(logits, hist, Sampling(temperature=1.0, top_k=2), gen).item() for _ in range(200)}
    assert draws == {1, 2}
    draws = {next_token(logits, hist, Sampling(temperature=1.0, top_p=0.8), gen).item() for _ in range(200)}
    assert draws <= {1, 2} and 1 in draws


def test_stop_strings_and_samples(ck):
    model = build_model(ck)
    out = generate(model, ck.tokenizer, b"", Sampling(max_new_tokens=60, temperature=1.0, seed=1, stop=["e"]), n=3)
    assert len(out["texts"]) == 3
    assert all("e" not in t for t in out["texts"])


def test_cli_generate_streams_text_only(cli, tiny_run):
    r = cli("generate", tiny_run, "--prompt", "Hi", "-m", "12", "-t", "0")
    assert r.exit_code == 0, r.stderr
    model_text = r.stdout.rstrip("\n")
    assert len(model_text.encode()) <= 12 and "tok/s" in r.stderr
    piped = cli("generate", tiny_run, "--prompt", "-", "-m", "12", "-t", "0", input="Hi")
    assert piped.stdout == r.stdout
    js = json.loads(cli("generate", tiny_run, "-m", "5", "-n", "2", "--seed", "1", "--json").stdout)
    assert len(js["texts"]) == 2


def test_prompt_longer_than_context_is_an_error(cli, tiny_run):
    r = cli("generate", tiny_run, "--prompt", "x" * 200, "-m", "5")
    assert r.exit_code == 2 and "longer than the model's context" in r.stderr


def test_compiled_decode_step_equals_eager(ck):
    """--compile: the torch.compile'd one-token step gives the eager logits (fp32, 1e-5), also
    across a context restart (a fresh cache after the window fills)."""
    from qtk.generate import torch_step

    model = build_model(ck)
    block = model.cfg.block_size
    ids = torch.randint(0, ck.tokenizer.vocab_size, (1, block + 8), generator=torch.Generator().manual_seed(0))
    eager, compiled = torch_step(model), torch_step(model, compile=True)
    with torch.no_grad():
        for start in (0, 8):  # the second pass restarts both with a shifted window
            prompt = ids[:, start:start + 4]
            assert torch.allclose(eager(prompt, True), compiled(prompt, True), atol=1e-5)
            for t in range(start + 4, start + 12):
                a, b = eager(ids[:, t:t + 1], False), compiled(ids[:, t:t + 1], False)
                assert (a - b).abs().max().item() < 1e-5


def test_compile_is_for_torch_checkpoints(cli, tmp_path):
    r = cli("generate", "--onnx", tmp_path / "m.onnx", "--compile", "--prompt", "x")
    assert r.exit_code == 2 and "--compile" in r.stderr


def test_transposed_layout_gives_the_same_logits(ck):
    """qtk generate's (in, out) weight layout: same logits for a prompt and for cached steps; the
    tied head (shared with the embedding) keeps nn.Linear; parameters are not duplicated."""
    from qtk.model.layout import TransposedLinear, transpose_linears

    ref, model = build_model(ck), build_model(ck)
    n_linear = sum(type(m) is torch.nn.Linear for m in ref.modules())
    swapped = transpose_linears(model)
    tied = model.cfg.tie_embeddings
    assert swapped == n_linear - (1 if tied else 0) > 0
    assert (type(model.head) is torch.nn.Linear) == tied
    assert sum(isinstance(m, TransposedLinear) for m in model.modules()) == swapped
    weights = sum(p.numel() for p in ref.parameters())
    assert sum(p.numel() for p in model.parameters()) + sum(b.numel() for n, b in model.named_buffers()
                                                            if n.endswith("weight_t")) == weights
    ids = torch.randint(0, ck.tokenizer.vocab_size, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(ref(ids)[0], model(ids)[0], atol=1e-5)
        ca, cb = ref.new_state(2), model.new_state(2)
        ref(ids[:, :8], state=ca), model(ids[:, :8], state=cb)
        for t in range(8, 16):
            assert torch.allclose(ref(ids[:, t:t + 1], state=ca)[0], model(ids[:, t:t + 1], state=cb)[0], atol=1e-5)


def test_run_is_the_cli_core(cli, tiny_run, ck):
    """qtk.generate.run: what `qtk generate` prints, from a notebook; the decode weight layout
    gives the same greedy text as the plain model; bad combinations are usage errors."""
    from qtk.errors import UsageError
    from qtk.generate import run

    s = Sampling(max_new_tokens=12, temperature=0)
    out = run(tiny_run, "Hi", s, device="cpu")
    assert out["texts"] == generate(build_model(ck), ck.tokenizer, b"Hi", s)["texts"]
    assert cli("generate", tiny_run, "--prompt", "Hi", "-m", "12", "-t", "0").stdout == out["texts"][0] + "\n"
    for kwargs, msg in [({}, "one of them"), ({"onnx": "m.onnx"}, "one of them")]:
        with pytest.raises(UsageError, match=msg):
            run(None if not kwargs else tiny_run, "x", s, **kwargs)
    with pytest.raises(UsageError, match="same greedy text"):
        run(tiny_run, "x", s, n=2)
