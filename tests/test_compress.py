"""qtk compress: sparsity specs, exact masks and checks, Wanda scoring, the end-to-end command on
a small random checkpoint (loads in eval/generate), and its errors."""

import json

import pytest
import torch

from qtk import checkpoint
from qtk import config as qconfig
from qtk.compress import sparsity as sps
from qtk.compress.prune import compress
from qtk.data.tokenizer import ByteTokenizer
from qtk.errors import QtkError, UsageError
from qtk.load import build_model, load_model
from qtk.model import GPT

FAST = ["--calib", "4", "--eval-tokens", "1024", "--speed-rounds", "0"]


def _micro(path, seed=0, **meta):
    cfg = qconfig.RunConfig()
    m = cfg.model
    m.n_layer, m.n_head, m.n_embd, m.block_size, m.vocab_size = 2, 2, 64, 32, 320
    torch.manual_seed(seed)
    model = GPT(m)
    checkpoint.save(path, checkpoint.model_state(model), cfg, ByteTokenizer(), {"step": 0, **meta})
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return _micro(tmp_path_factory.mktemp("src") / "model.safetensors")


@pytest.mark.parametrize("text,frac,nm", [("0.5", 0.5, (0, 0)), ("50%", 0.5, (0, 0)), ("0.3", 0.3, (0, 0)),
                                          ("2:4", 0.5, (2, 4)), ("4:8", 0.5, (4, 8)), ("1:4", 0.75, (1, 4))])
def test_parse(text, frac, nm):
    sp = sps.parse(text)
    assert sp.fraction == pytest.approx(frac) and (sp.n, sp.m) == nm


@pytest.mark.parametrize("bad", ["0", "1", "1.5", "-0.2", "4:2", "2:2", "0:4", "half", "2:4:8", ""])
def test_parse_rejects(bad):
    with pytest.raises(UsageError, match="--sparsity"):
        sps.parse(bad)


@pytest.mark.parametrize("text", ["0.5", "0.3", "0.77", "2:4", "4:8"])
def test_mask_is_exact(text):
    sp = sps.parse(text)
    w = torch.randn(37, 72)
    w[sps.mask(sps.scores(w, "magnitude"), sp)] = 0
    zeros_per_row = (w == 0).sum(1)
    assert (w == 0).sum().item() == sps.prune_count(w.numel(), sp.fraction)
    assert zeros_per_row.max() - zeros_per_row.min() <= 1  # per output row
    assert abs(sps.check(w, sp, "w") - sp.fraction) <= sps.allowed(w.numel())


def test_magnitude_prunes_smallest_in_each_row():
    w = torch.tensor([[1.0, -4.0, 2.0, -3.0], [0.5, 0.1, -0.2, 9.0]])
    w[sps.mask(sps.scores(w, "magnitude"), sps.parse("0.5"))] = 0
    assert w.tolist() == [[0.0, -4.0, 0.0, -3.0], [0.5, 0.0, 0.0, 9.0]]


def test_wanda_weighs_by_input_norm():
    w = torch.ones(3, 4)  # equal magnitudes: the activation norms decide
    norm = torch.tensor([1.0, 5.0, 0.1, 2.0])
    w[sps.mask(sps.scores(w, "wanda", norm), sps.parse("2:4"))] = 0
    assert (w == 0).tolist() == [[True, False, True, False]] * 3


def test_check_catches_violations():
    w = torch.ones(4, 8)
    with pytest.raises(QtkError, match="not within 0.01%"):
        sps.check(w, sps.parse("0.5"), "dense")
    w[:, 4:] = 0  # 50% zeros but groups 0 of each row keep 4 of 4
    with pytest.raises(QtkError, match="groups of 4"):
        sps.check(w, sps.parse("2:4"), "lopsided")


@pytest.mark.parametrize("method,spec", [("magnitude", "0.5"), ("wanda", "0.5"), ("wanda", "2:4")])
def test_compress_end_to_end(ckpt, tmp_path, method, spec):
    out = tmp_path / "pruned.safetensors"
    r = compress(ckpt, method, spec, out, calib_n=4, eval_tokens=1024, speed_rounds=0)
    sp = sps.parse(spec)
    ck = checkpoint.load(out)
    assert ck.meta["compression"]["method"] == method and ck.meta["compression"]["sparsity"] == spec
    model = build_model(ck)
    names = ck.meta["compression"]["layers"]
    assert "head" not in names and len(names) == 8  # qkv, proj, gate_up, down x 2 blocks
    for name in names:
        assert abs(sps.check(model.get_submodule(name).weight, sp, name) - sp.fraction) <= sps.TOLERANCE
    assert r["nonzero_before"] - r["nonzero_after"] == sum(
        sps.prune_count(model.get_submodule(n).weight.numel(), sp.fraction) for n in names)
    assert r["before"]["tokens"] == r["after"]["tokens"] > 0
    assert not r["speed"]["sparse_kernel"]["available"]


def test_include_embeddings_prunes_tied_head(ckpt, tmp_path):
    out = tmp_path / "all.safetensors"
    compress(ckpt, "magnitude", "0.5", out, include_embeddings=True, eval_tokens=1024, speed_rounds=0)
    model = load_model(out).model
    assert model.head.weight is model.wte.weight
    assert (model.wte.weight == 0).float().mean().item() == pytest.approx(0.5, abs=1e-4)


def test_cli_json_then_eval_and_generate(cli, ckpt, tmp_path):
    out = tmp_path / "w.safetensors"
    res = cli("compress", ckpt, "--method", "wanda", "--sparsity", "2:4", "-o", out, "--json", *FAST[:-1], "1")
    assert res.exit_code == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["achieved_sparsity"] == pytest.approx(0.5, abs=1e-4)
    assert r["speed"]["after"]["decode_tokens_per_s"] > 0
    assert "CPU" in r["speed"]["sparse_kernel"]["reason"] or r["speed"]["sparse_kernel"]["available"]
    for key in ("ppl", "bpb"):
        assert r["before"][key] > 0 and r["after"][key] > 0
    assert "windows" in r["protocol"]
    text = tmp_path / "held_out.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 20)
    res = cli("eval", out, "--data", text, "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["ppl"] > 0
    res = cli("generate", out, "--prompt", "To be", "--max-new-tokens", "5", "--temperature", "0")
    assert res.exit_code == 0, res.stderr
    table = cli("compress", ckpt, "--method", "magnitude", "-o", tmp_path / "t.safetensors", *FAST)
    assert table.exit_code == 0 and "perplexity" in table.stdout and "windows" in table.stdout


def test_refuses_existing_output_without_force(cli, ckpt, tmp_path):
    out = tmp_path / "exists.safetensors"
    out.write_bytes(b"keep me")
    res = cli("compress", ckpt, "-o", out, *FAST)
    assert res.exit_code == 2 and "--force" in res.stderr
    assert out.read_bytes() == b"keep me"
    res = cli("compress", ckpt, "--method", "magnitude", "-o", out, "--force", *FAST)
    assert res.exit_code == 0, res.stderr
    assert checkpoint.load(out).meta["compression"]["method"] == "magnitude"


def test_errors(cli, ckpt, tmp_path):
    res = cli("compress", ckpt, "--sparsity", "3:2", "-o", tmp_path / "x.safetensors", *FAST)
    assert res.exit_code == 2 and "N:M" in res.stderr
    res = cli("compress", ckpt, "--method", "random", "-o", tmp_path / "x.safetensors", *FAST)
    assert res.exit_code == 2 and "magnitude" in res.stderr
    quantized = _micro(tmp_path / "q.safetensors", quantization={"bits": 4, "method": "rtn"})
    res = cli("compress", quantized, "-o", tmp_path / "y.safetensors", *FAST)
    assert res.exit_code == 2 and "already quantized" in res.stderr
    res = cli("compress", ckpt, "--sparsity", "3:7", "-o", tmp_path / "z.safetensors", *FAST)
    assert res.exit_code == 2 and "multiple of M=7" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.safetensors"]  # nothing partial left


def test_checkpoint_without_tokenizer(cli, ckpt, tmp_path):
    from safetensors.torch import load_file, save_file

    from qtk.compress.common import _header

    bare = tmp_path / "bare.safetensors"
    header = {k: v for k, v in _header(ckpt).items() if k != "tokenizer"}
    save_file(load_file(str(ckpt)), str(bare), metadata=header)
    res = cli("compress", bare, "-o", tmp_path / "out.safetensors", *FAST)
    assert res.exit_code == 1 and "no tokenizer" in res.stderr
    assert not (tmp_path / "out.safetensors").exists()
