"""qtk.load: one loader builds every runnable model from a checkpoint and applies the converters
its metadata names; qtk.checkpoint only reads and writes; qtk.swap is the one module swap."""

import pytest
import torch
import torch.nn as nn

from qtk import checkpoint, load
from qtk import config as qconfig
from qtk.compress.qlinear import QuantLinear
from qtk.compress.quantize import quantize
from qtk.data.tokenizer import ByteTokenizer
from qtk.errors import UsageError
from qtk.model import GPT
from qtk.model.layout import TransposedLinear
from qtk.swap import swap_module, swap_modules

IDS = torch.randint(0, 257, (2, 24), generator=torch.Generator().manual_seed(0))


def _logits(model: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(IDS)[0]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    cfg = qconfig.RunConfig()
    m = cfg.model
    m.n_layer, m.n_head, m.n_embd, m.block_size, m.vocab_size = 2, 2, 64, 32, 320
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("load") / "model.safetensors"
    checkpoint.save(path, checkpoint.model_state(GPT(m)), cfg, ByteTokenizer(), {"step": 3})
    return path


@pytest.fixture(scope="module")
def quantized(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("q") / "q4.safetensors"
    quantize(source, 4, out, group=32, eval_tokens=512, speed_rounds=0)
    return out


def test_plain_checkpoint_loads_as_the_model_it_saved(source):
    ck, model, dev = load.load_model(source)
    assert dev == torch.device("cpu") and not model.training and ck.meta["step"] == 3
    ref = GPT(ck.cfg.model)
    ref.load_state_dict(checkpoint.load(source).state, strict=False)
    torch.testing.assert_close(_logits(model), _logits(ref.eval()), rtol=0, atol=0)


def test_quantized_metadata_gives_quantized_layers_and_runtimes(quantized):
    ck = checkpoint.load(quantized)
    deq = load.build_model(ck, quant_runtime="dequant")
    assert deq.quant_runtime == "dequant"
    n = sum(isinstance(m, QuantLinear) for m in deq.modules())
    assert n == len(ck.meta["quantization"]["layers"]) > 0
    dense = load.build_model(ck, quant_runtime="dense")  # what export-onnx traces
    assert not any(isinstance(m, QuantLinear) for m in dense.modules())
    torch.testing.assert_close(_logits(dense), _logits(deq), rtol=0, atol=1e-5)
    with pytest.raises(UsageError, match="quantized runtime 'fast'"):
        load.build_model(ck, quant_runtime="fast")


def test_decode_layout_after_quantization_keeps_the_logits(source, quantized):
    for path in (source, quantized):
        ck = checkpoint.load(path)
        plain = load.build_model(ck, quant_runtime="dequant")
        decode = load.build_model(ck, quant_runtime="dequant", layout="decode")
        # every plain linear but the tied head moves to the (in, out) layout; quantized ones stay
        untied = sum(type(m) is nn.Linear and m is not plain.head for m in plain.modules())
        assert sum(isinstance(m, TransposedLinear) for m in decode.modules()) == untied
        n_quant = sum(isinstance(m, QuantLinear) for m in plain.modules())
        assert sum(isinstance(m, QuantLinear) for m in decode.modules()) == n_quant
        assert (untied > 0) == (path == source) and (n_quant > 0) == (path == quantized)
        torch.testing.assert_close(_logits(decode), _logits(plain), rtol=1e-5, atol=1e-5)
    with pytest.raises(UsageError, match="weight layout 'sideways'"):
        load.build_model(ck, layout="sideways")


def test_a_new_converter_is_one_table_entry(source, monkeypatch):
    """A metadata key whose converter reshapes the fresh model before the weights load and
    adjusts it once they are in, on its device, in eval mode (LoRA's `adapter` is one)."""
    calls = []

    def prepare(model, value):
        calls.append(("prepare", value, model.training))

    def finish(model, value, opts):
        calls.append(("finish", value, opts.device.type, model.training))

    monkeypatch.setitem(load.CONVERTERS, "demo", load.Converter(prepare=prepare, finish=finish))
    ck = checkpoint.load(source)
    load.build_model(ck)
    assert calls == []  # only what the metadata names runs
    ck.meta["demo"] = {"rank": 4}
    load.build_model(ck)
    assert calls == [("prepare", {"rank": 4}, True), ("finish", {"rank": 4}, "cpu", False)]


def test_checkpoint_module_only_reads_and_writes():
    from test_imports import ROOT, import_graph  # tests/ is on sys.path under pytest

    assert not hasattr(checkpoint.Checkpoint, "build_model")
    deps = import_graph(ROOT, "qtk")["qtk.checkpoint"]
    assert deps <= {"qtk.config", "qtk.data.tokenizer", "qtk.errors", "qtk.paths"}, deps


def test_swap_module_and_swap_modules():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 3)))
    old = swap_module(model, "1.1", nn.Identity())
    assert isinstance(old, nn.Linear) and isinstance(model[1][1], nn.Identity)
    # a replacement that is itself a Linear is not picked again
    names = swap_modules(model, lambda _, m: isinstance(m, nn.Linear), lambda _, m: nn.Sequential(nn.Linear(2, 3)))
    assert names == ["0"] and isinstance(model[0], nn.Sequential) and isinstance(model[0][0], nn.Linear)
