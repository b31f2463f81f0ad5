"""qtk quantize: int4 packing, grids within a quantization step, GPTQ/AWQ against RTN on their
objective, the quantized checkpoint round trip (same logits after load), the CLI and its errors."""

import json

import pytest
import torch

from qtk import checkpoint
from qtk import config as qconfig
from qtk.compress import quant
from qtk.compress.awq import awq
from qtk.compress.gptq import gptq
from qtk.compress.qlinear import QuantLinear
from qtk.compress.quantize import quantize, quantize_model
from qtk.data.tokenizer import ByteTokenizer
from qtk.errors import UsageError
from qtk.load import build_model, load_model
from qtk.model import GPT

FAST = ["--calib", "4", "--eval-tokens", "1024", "--speed-rounds", "0"]
SPECS = [quant.make_spec(8, None, False), quant.make_spec(4, 128, False), quant.make_spec(4, 32, True),
         quant.make_spec(4, 16, False)]


def _micro(path, **meta):
    cfg = qconfig.RunConfig()
    m = cfg.model
    m.n_layer, m.n_head, m.n_embd, m.block_size, m.vocab_size = 2, 2, 64, 32, 320
    m.ffn_hidden = 96  # gate_up 64 -> 192, down 96 -> 64: a partial last group at --group 64
    torch.manual_seed(0)
    checkpoint.save(path, checkpoint.model_state(GPT(m)), cfg, ByteTokenizer(), {"step": 0, **meta})
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return _micro(tmp_path_factory.mktemp("src") / "model.safetensors")


@pytest.mark.parametrize("cols", [1, 2, 7, 128, 131])
def test_int4_pack_round_trip(cols):
    u = torch.randint(0, 16, (5, cols), dtype=torch.uint8)
    packed = quant.pack_int4(u)
    assert packed.dtype == torch.uint8 and packed.shape == (5, (cols + 1) // 2)
    assert torch.equal(quant.unpack_int4(packed, cols), u)


@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize("shape", [(48, 128), (32, 200), (8, 5)])
def test_dequantized_within_one_step(spec, shape):
    torch.manual_seed(1)
    w = torch.randn(*shape) * 0.05
    w[0, 0] = 0.9  # an outlier
    q, scale, zero = quant.rtn(w, spec)
    assert q.min() >= spec.qmin and q.max() <= spec.qmax
    stored = quant.encode(q, scale, zero, spec)
    w_hat = quant.decode(stored, spec, shape[1])
    g = spec.group_for(shape[1])
    step = scale.repeat_interleave(g, dim=1)[:, : shape[1]]
    err = (w_hat - w).abs() / step
    # half a step from rounding, plus at most 127 * 2^-11 steps where the fp16 scale clamps the extreme
    assert err.max() <= 0.5 + 127 * 2**-11, f"max error {err.max():.3f} steps"


def test_int4_storage_is_packed():
    spec = quant.make_spec(4, 128, False)
    stored = quant.encode(*quant.rtn(torch.randn(256, 512), spec), spec)
    assert stored["qweight"].shape == (256, 256) and stored["scales"].dtype == torch.float16
    assert 256 * 512 * 4 / quant.stored_bytes(stored) >= 3.5


def _correlated_inputs(n=2048, cols=64):
    """Activations near a low-rank subspace, with a few channels much larger than the rest."""
    torch.manual_seed(2)
    base = torch.randn(n, 8) @ torch.randn(8, cols) + 0.1 * torch.randn(n, cols)
    return base * torch.linspace(0.1, 4.0, cols)


def _output_error(w, w_hat, X):
    return ((X @ (w_hat - w).T) ** 2).mean().item()


def test_gptq_beats_rtn_on_layer_output():
    X, spec = _correlated_inputs(), quant.make_spec(4, 32, False)
    w = torch.randn(48, 64) * 0.05
    H = 2 * X.T @ X / X.shape[0]
    rtn_hat = quant.dequantize_codes(*quant.rtn(w, spec), 64, 32)
    q, s, z = gptq(w, H, spec)
    gptq_hat = quant.dequantize_codes(q, s, z, 64, 32)
    assert q.min() >= spec.qmin and q.max() <= spec.qmax
    assert _output_error(w, gptq_hat, X) < 0.5 * _output_error(w, rtn_hat, X)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_gptq_lazy_batches_change_nothing(spec):
    X = _correlated_inputs()
    w = torch.randn(24, 64) * 0.05
    H = 2 * X.T @ X / X.shape[0]
    one_group_per_block = max(1, spec.group_for(64)) if spec.group_for(64) < 64 else 1
    torch.testing.assert_close(gptq(w, H, spec)[0], gptq(w, H, spec, block=one_group_per_block)[0], rtol=0, atol=0)


def test_awq_no_worse_than_rtn_on_its_objective():
    X, spec = _correlated_inputs(), quant.make_spec(4, 32, True)
    w = torch.randn(48, 64) * 0.05
    rtn_hat = quant.dequantize_codes(*quant.rtn(w, spec), 64, 32)
    q, s, z, act, alpha = awq(w, X.abs().mean(0), X, spec)
    awq_hat = quant.dequantize_codes(q, s, z, 64, 32) / act[None, :]
    assert 0.0 <= alpha <= 1.0
    assert _output_error(w, awq_hat, X) <= _output_error(w, rtn_hat, X) * (1 + 1e-6)


def test_quant_linear_matches_dequantized_matmul():
    lin = torch.nn.Linear(40, 24, bias=True)
    spec = quant.make_spec(4, 16, True)
    ql = QuantLinear(40, 24, spec, bias=True).load_codes(quant.encode(*quant.rtn(lin.weight, spec), spec),
                                                        bias=lin.bias)
    x = torch.randn(3, 5, 40)
    ref = torch.nn.functional.linear(x, ql.dequantized_weight(), lin.bias)
    torch.testing.assert_close(ql(x), ref)


@pytest.mark.parametrize("bits,group,zp,method", [(8, None, False, "rtn"), (4, 64, True, "rtn"),
                                                  (4, 32, False, "gptq"), (4, 128, False, "awq")])
def test_checkpoint_round_trip_same_logits(ckpt, tmp_path, bits, group, zp, method):
    out = tmp_path / "q.safetensors"
    r = quantize(ckpt, bits, out, group=group, zero_point=zp, method=method, calib_n=4, eval_tokens=1024,
                 speed_rounds=0)
    ck = checkpoint.load(out)
    info = ck.meta["quantization"]
    assert (info["bits"], info["method"], info["zero_point"]) == (bits, method, zp)
    loaded = build_model(ck, quant_runtime="dequant")
    assert sum(isinstance(m, QuantLinear) for m in loaded.modules()) == 8
    idx = torch.randint(0, 257, (2, 32), generator=torch.Generator().manual_seed(0))
    if method == "rtn":  # deterministic: rebuild the quantized model in memory and compare
        src = load_model(ckpt).model
        quantize_model(src, {n: src.get_submodule(n) for n in info["layers"]}, quant.make_spec(bits, group, zp), "rtn")
        torch.testing.assert_close(loaded(idx)[0], src(idx)[0], rtol=0, atol=1e-6)
    assert r["linear_size_ratio"] >= (3.5 if bits == 4 else 3.0)
    if method != "rtn":
        assert "rtn" in r and "ppl_gain_over_rtn_pct" in r


def test_dynamic_int8_runtime_close_to_dequant(ckpt, tmp_path):
    out = tmp_path / "q8.safetensors"
    quantize(ckpt, 8, out, eval_tokens=1024, speed_rounds=0)
    ck = checkpoint.load(out)
    deq, dyn = build_model(ck, quant_runtime="dequant"), build_model(ck, quant_runtime="dynamic-int8")
    assert dyn.quant_runtime == "dynamic-int8"
    assert not any(isinstance(m, QuantLinear) for m in dyn.modules())
    idx = torch.randint(0, 257, (1, 32), generator=torch.Generator().manual_seed(0))
    a, b = deq(idx)[0], dyn(idx)[0]
    assert (a - b).abs().max() < 0.05 * a.abs().max()  # activations are quantized to 8 bits too


def test_cli_json_then_eval_and_generate(cli, ckpt, tmp_path):
    out = tmp_path / "q4.safetensors"
    res = cli("quantize", ckpt, "--bits", "4", "--group", "32", "-o", out, "--json", *FAST[:-1], "1")
    assert res.exit_code == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["bits"] == 4 and r["group"] == 32 and r["linear_size_ratio"] >= 3.5
    assert r["fp32"]["ppl"] > 0 and r["dequant"]["ppl"] > 0 and "ppl_delta_pct" in r["dequant"]
    assert r["dequant"]["decode_tokens_per_s"] > 0 and r["cpu_runtime"] in ("dequant", "dynamic-int8")
    text = tmp_path / "held_out.txt"
    text.write_text("Now is the winter of our discontent.\n" * 20)
    res = cli("eval", out, "--data", text, "--json")
    assert res.exit_code == 0, res.stderr
    res = cli("generate", out, "--prompt", "Now", "--max-new-tokens", "5", "--temperature", "0")
    assert res.exit_code == 0, res.stderr
    table = cli("quantize", ckpt, "--bits", "8", "-o", tmp_path / "q8.safetensors", *FAST)
    assert table.exit_code == 0 and "fp32" in table.stdout and "smaller" in table.stdout


def test_errors(cli, ckpt, tmp_path):
    target = tmp_path / "x.safetensors"
    for args, needle in [(["--bits", "3"], "8 or 4"), (["--bits", "8", "--group", "64"], "--group"),
                         (["--bits", "4", "--group", "33"], "even"), (["--bits", "4", "--method", "hqq"], "rtn"),
                         (["--bits", "8", "--zero-point"], "--zero-point")]:
        res = cli("quantize", ckpt, *args, "-o", target, *FAST)
        assert res.exit_code == 2 and needle in res.stderr, (args, res.stderr)
    done = tmp_path / "done.safetensors"
    assert cli("quantize", ckpt, "--bits", "4", "-o", done, *FAST).exit_code == 0
    res = cli("quantize", done, "--bits", "4", "-o", target, *FAST)
    assert res.exit_code == 2 and "already quantized" in res.stderr
    res = cli("compress", done, "-o", target, *FAST)
    assert res.exit_code == 2 and "already quantized" in res.stderr
    before = done.read_bytes()
    res = cli("quantize", ckpt, "--bits", "8", "-o", done, *FAST)
    assert res.exit_code == 2 and "--force" in res.stderr and done.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.safetensors"]


def test_failed_write_leaves_nothing(ckpt, tmp_path, monkeypatch):
    def broken(state, path, metadata=None):
        open(path, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", broken)
    with pytest.raises(OSError):
        quantize(ckpt, 8, tmp_path / "q.safetensors", eval_tokens=1024, speed_rounds=0)
    assert list(tmp_path.iterdir()) == []


def test_make_spec_defaults():
    assert quant.make_spec(4, None, False).group == 128
    with pytest.raises(UsageError):
        quant.make_spec(4, 0, False)
