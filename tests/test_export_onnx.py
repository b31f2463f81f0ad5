"""qtk export-onnx and qtk generate --onnx: a tiny random GPT (GQA, byte tokenizer) exported with
and without past inputs, checked with onnxruntime against torch; Optimum names; padding; greedy
generation equal to torch's; refusals; a component that cannot export is named; nothing partial
is left behind. The exports are shared per module (each takes ~10 s on 2 cores)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from qtk import checkpoint, registry  # noqa: E402
from qtk import config as qconfig  # noqa: E402
from qtk.data.tokenizer import ByteTokenizer  # noqa: E402
from qtk.load import load_model  # noqa: E402
from qtk.model.attention import DenseAttention  # noqa: E402
from qtk.model.gpt import GPT, padded_vocab  # noqa: E402

N_LAYER = 2
OPTIMUM_INPUTS = ["input_ids", "attention_mask", "position_ids"] + [
    f"past_key_values.{i}.{kv}" for i in range(N_LAYER) for kv in ("key", "value")]
OPTIMUM_OUTPUTS = ["logits"] + [f"present.{i}.{kv}" for i in range(N_LAYER) for kv in ("key", "value")]


def make_checkpoint(path: Path, attention: str = "dense") -> Path:
    cfg = qconfig.RunConfig()
    m = cfg.model
    m.n_layer, m.n_head, m.n_kv_head, m.n_embd, m.block_size, m.mixer = N_LAYER, 4, 2, 64, 64, attention
    tok = ByteTokenizer()
    m.vocab_size = padded_vocab(tok.vocab_size)
    torch.manual_seed(0)
    checkpoint.save(path, checkpoint.model_state(GPT(m)), cfg, tok, {"step": 0})
    return path


def run_cli(*args):
    from typer.testing import CliRunner

    from qtk.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


def _export(ckpt: Path, out: Path, *flags) -> dict:
    r = run_cli("export-onnx", ckpt, "-o", out, "--json", *flags)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def with_past(ckpt, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("past") / "model.onnx"
    return out, _export(ckpt, out, "--with-past")


@pytest.fixture(scope="module")
def without_past(ckpt, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("nopast") / "decoder.onnx"
    return out, _export(ckpt, out)


def test_with_past_export_has_optimum_names_and_parity(with_past):
    out, rep = with_past
    assert rep["passed"] and rep["written"]
    assert rep["inputs"] == OPTIMUM_INPUTS and rep["outputs"] == OPTIMUM_OUTPUTS
    p = rep["parity"]
    assert p["max_abs_logits_delta"] <= 1e-4, p["shapes"]
    # batch {1, 3} x seq {1, 7, 128} with 128 clipped to the context of 64, each also via past
    assert {(r["batch"], r["seq"]) for r in p["shapes"]} == {(b, t) for b in (1, 3) for t in (1, 7, 64)}
    assert all(r["max_abs_delta_past"] <= 1e-4 for r in p["shapes"] if r["seq"] > 1)
    assert p["greedy"] == {"tokens": 64, "matching_prefix": 64, "matching": 64, "identical": True}
    assert sorted(f.name for f in out.parent.iterdir()) == ["config.toml", "model.onnx", "tokenizer.json"]

    import onnx

    model = onnx.load(str(out))
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert all(isinstance(d, str) for d in dims["input_ids"])  # dynamic batch and sequence
    k = dims["past_key_values.0.key"]
    assert isinstance(k[0], str) and k[1] == 2 and isinstance(k[2], str) and k[3] == 16  # (B, Hkv, past, hs)
    assert {p.key: p.value for p in model.metadata_props}["qtk.with_past"] == "true"


def test_without_past_export(without_past):
    out, rep = without_past
    assert rep["passed"] and rep["inputs"] == OPTIMUM_INPUTS[:3] and rep["outputs"] == ["logits"]
    assert rep["parity"]["max_abs_logits_delta"] <= 1e-4
    assert rep["parity"]["greedy"]["identical"]
    assert "max_abs_delta_past" not in rep["parity"]["shapes"][1]


def test_left_padding_gives_the_unpadded_logits(with_past, ckpt):
    from qtk.export.runtime import OnnxLM

    lm = OnnxLM(with_past[0], device="cpu")
    model = load_model(ckpt).model
    ids = torch.randint(0, 257, (2, 9), generator=torch.Generator().manual_seed(3))
    ids[0, :3] = 0  # row 0: 3 padding slots, then 6 real tokens
    mask = np.ones((2, 9), dtype=np.int64)
    mask[0, :3] = 0
    pos = np.stack([np.r_[np.zeros(3), np.arange(6)], np.arange(9)]).astype(np.int64)
    logits, past = lm.run(ids.numpy(), attention_mask=mask, position_ids=pos)
    with torch.no_grad():
        want0 = model(ids[:1, 3:])[0].numpy()
        want1 = model(ids[1:])[0].numpy()
    assert np.abs(logits[0, 3:] - want0[0]).max() < 1e-4
    assert np.abs(logits[1] - want1[0]).max() < 1e-4
    # one more token through the past inputs, padding still masked
    nxt = np.array([[5], [7]])
    step, _ = lm.run(nxt, past, attention_mask=np.concatenate([mask, [[1], [1]]], 1),
                     position_ids=np.array([[6], [9]]))
    with torch.no_grad():
        want = model(torch.cat([ids[:1, 3:], torch.tensor([[5]])], 1))[0][0, -1].numpy()
    assert np.abs(step[0, -1] - want).max() < 1e-4


@pytest.mark.parametrize("which", ["with_past", "without_past"])
def test_generate_onnx_equals_torch_greedy(which, request, ckpt):
    out, _ = request.getfixturevalue(which)
    # 90 tokens overflow the 64-token context: both sides restart from the last half the same way
    args = ("--prompt", "To be, or", "--max-new-tokens", 90, "--temperature", 0, "--json")
    torch_run = run_cli("generate", ckpt, *args)
    onnx_run = run_cli("generate", "--onnx", out, *args)
    assert torch_run.exit_code == 0 and onnx_run.exit_code == 0, onnx_run.stderr
    want, got = json.loads(torch_run.stdout), json.loads(onnx_run.stdout)
    assert got["texts"] == want["texts"] and got["new_tokens"] == want["new_tokens"]
    assert "CPUExecutionProvider" in onnx_run.stderr


def test_generate_needs_path_or_onnx(cli, ckpt, with_past):
    both = cli("generate", ckpt, "--onnx", with_past[0], "--prompt", "x")
    neither = cli("generate", "--prompt", "x")
    assert both.exit_code == 2 and neither.exit_code == 2 and "one of them" in both.stderr


def test_existing_output_and_bad_opset_are_refused(cli, ckpt, tmp_path):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"precious")
    r = cli("export-onnx", ckpt, "-o", out)
    assert r.exit_code == 2 and "exists" in r.stderr and "--force" in r.stderr
    assert out.read_bytes() == b"precious"
    r = cli("export-onnx", ckpt, "-o", tmp_path / "other.onnx", "--opset", 12)
    assert r.exit_code == 2 and "--opset 12" in r.stderr and "18.." in r.stderr
    r = cli("export-onnx", ckpt, "-o", tmp_path / "other.onnx", "--int8", "--int4")
    assert r.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


class DataDependentAttention(DenseAttention):
    """Branches on a tensor value: torch.export (hence ONNX) cannot trace that."""

    def forward(self, x, ctx):
        y = super().forward(x, ctx)
        return y if float(y.sum()) > 0 else -y


@pytest.fixture
def unexportable():
    registry.register("mixer", "test-unexportable")(DataDependentAttention)
    yield "test-unexportable"
    registry.unregister("mixer", "test-unexportable")


def test_component_that_cannot_export_is_named(cli, tmp_path, unexportable):
    ck = make_checkpoint(tmp_path / "ck" / "odd.safetensors", attention=unexportable)
    out_dir = tmp_path / "out"
    r = cli("export-onnx", ck, "-o", out_dir / "model.onnx")
    assert r.exit_code == 1
    assert "mixer 'test-unexportable'" in r.stderr and "blocks.0.attn" in r.stderr
    assert not out_dir.exists()  # no partial files, not even the directory it made


@pytest.fixture
def reuse_export(with_past, monkeypatch):
    """trace.export copies the module's with-past export (saves ~10 s of tracing per test)."""
    import shutil

    from qtk.export import trace
    from qtk.export.wrapper import OnnxDecoder

    def fake_export(model, with_past_, dst, *args, **kwargs):
        assert with_past_
        shutil.copy(with_past[0], dst)
        return OnnxDecoder(model, with_past_)

    monkeypatch.setattr(trace, "export", fake_export)


def test_failed_parity_exits_1_and_writes_nothing(cli, ckpt, reuse_export, tmp_path):
    """--tolerance below float32 noise: the check fails."""
    out = tmp_path / "model.onnx"
    r = cli("export-onnx", ckpt, "-o", out, "--with-past", "--tolerance", 1e-12)
    assert r.exit_code == 1 and "parity failed" in r.stderr and "nothing was written" in r.stderr
    assert "max |Δlogits|" in r.stdout  # the figures are shown
    assert list(tmp_path.iterdir()) == []


def test_int8_export_reports_delta_size_and_speed(ckpt, reuse_export, tmp_path):
    rep = _export(ckpt, tmp_path / "m8.onnx", "--int8", "--with-past", "--eval-tokens", 0)
    assert rep["quantization"] == "int8" and rep["passed"]
    q = rep["quantized"]
    assert 0 < q["max_abs_logits_delta"] < 0.5  # not fp32-exact, but close on a random tiny model
    assert rep["size_bytes"] < 0.6 * rep["size_fp32_bytes"]
    runs = rep["speed"]["runs"]
    assert {"torch", "onnx fp32", "onnx int8"} <= set(runs) and all(r["decode_ms"] > 0 for r in runs.values())
    import onnx

    ops = {n.op_type for n in onnx.load(str(tmp_path / "m8.onnx")).graph.node}
    assert ops & {"DynamicQuantizeMatMul", "MatMulInteger", "DynamicQuantizeLinear"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "m8.onnx", "tokenizer.json"]


def test_int4_matmulnbits_runs_close_to_torch(with_past, ckpt, tmp_path):
    import onnx

    from qtk.export import verify
    from qtk.export.quantize import quantize
    from qtk.export.runtime import OnnxLM

    dst = tmp_path / "m4.onnx"
    quantize(with_past[0], dst, "int4", block_size=32)
    assert "MatMulNBits" in {n.op_type for n in onnx.load(str(dst)).graph.node}
    model = load_model(ckpt).model
    rows = verify.logits_parity(model, OnnxLM(dst, device="cpu"), 257)
    assert 0 < verify.max_delta(rows) < 1.0


def test_quantize_format_onnx_writes_matmulnbits(cli, ckpt, reuse_export, tmp_path):
    """`qtk quantize --format onnx` is the same pipeline as export-onnx --with-past --int4."""
    import onnx

    out = tmp_path / "m4.onnx"
    r = cli("quantize", ckpt, "--bits", 4, "--group", 32, "--format", "onnx", "-o", out, "--eval-tokens", 0, "--json")
    assert r.exit_code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["quantization"] == "int4" and rep["with_past"] and rep["passed"] and rep["written"]
    assert "MatMulNBits" in {n.op_type for n in onnx.load(str(out)).graph.node}
    for args in (["--method", "gptq"], ["--zero-point"], ["-o", tmp_path / "x.safetensors"], ["--format", "gguf"]):
        r = cli("quantize", ckpt, "--bits", 4, "--format", "onnx", "-o", tmp_path / "y.onnx", *args)
        assert r.exit_code == 2 and r.stderr.count("\n") == 1, (args, r.stderr)
