"""The model contract: per-layer plans, component-owned settings / init / weight-decay marks /
decode state, context limits, document starts, and third-party plugins."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qtk import config as qconfig
from qtk import plan, plugins, registry
from qtk.errors import UsageError
from qtk.model import GPT
from qtk.model.gpt import weight_decay_split

PLUGIN = Path(__file__).parent / "data" / "plugins" / "shortconv.py"


def model_cfg(**sets) -> qconfig.ModelConfig:
    base = {"vocab_size": 64, "n_layer": 4, "n_head": 2, "n_embd": 16, "block_size": 16}
    cfg = qconfig.load(sets=[(f"model.{k}", str(v)) for k, v in {**base, **sets}.items()])
    return cfg.model


@pytest.fixture
def shortconv():
    qconfig.load(sets=[("model.plugins", str(PLUGIN))])  # imports the plugin, which registers itself
    yield "shortconv"
    registry.unregister("mixer", "shortconv")
    plugins._loaded.clear()


# ------------------------------------------------------------------ per-layer plan

def test_plan_patterns_repeat_to_n_layer():
    specs = plan.resolve(model_cfg(layers="sliding*3,dense", n_layer=8))
    assert [s.mixer for s in specs] == ["sliding"] * 3 + ["dense"] + ["sliding"] * 3 + ["dense"]
    specs = plan.resolve(model_cfg(layers="sliding/moe,dense+engram", n_layer=4))
    assert [(s.mixer, s.ffn, s.memory) for s in specs] == [
        ("sliding", "moe", "none"), ("dense", "mlp", "engram"), ("sliding", "moe", "none"), ("dense", "mlp", "engram")]
    assert ("router", "switch") in plan.used(model_cfg(layers="sliding/moe,dense+engram"))
    assert ("router", "switch") not in plan.used(model_cfg())


def test_memory_placement_by_its_settings_and_ffn_none():
    specs = plan.resolve(model_cfg(memory="engram", **{"engram.layers": "0,3"}, ffn="none"))
    assert [s.memory for s in specs] == ["engram", "none", "none", "engram"]
    model = GPT(model_cfg(memory="engram", **{"engram.layers": "0,3"}, ffn="none"))
    assert [b.memory is not None for b in model.blocks] == [True, False, False, True]
    assert all(b.ffn is None for b in model.blocks)


@pytest.mark.parametrize("layers,msg", [
    ("sliding*3,dense,dense", "does not divide model.n_layer"),
    ("sliding,,dense", "empty item"),
    ("sliding*x", "count after"),
    ("sliding*0", "must be >= 1"),
    ("mamba", "model.layers ('mamba'): unknown mixer 'mamba'"),
    ("dense/bogus", "unknown ffn 'bogus'"),
    ("dense+bogus", "unknown memory 'bogus'"),
])
def test_bad_plans_name_the_key(layers, msg):
    with pytest.raises(UsageError, match=re.escape(msg)):
        model_cfg(layers=layers)


def test_settings_are_checked_only_for_components_in_use():
    with pytest.raises(UsageError, match=r"model.topk.k \(99\) exceeds model.block_size"):
        model_cfg(layers="topk,dense", **{"topk.k": 99})
    model_cfg(**{"topk.k": 99})  # topk not used: its setting is not checked against the context


def test_old_configs_keep_working():
    cfg = qconfig.from_dict({"model": {"attention": "sliding", "sliding": {"window": 5}}})
    assert cfg.model.mixer == "sliding" and cfg.model.sliding.window == 5
    assert "attention" not in qconfig.to_dict(cfg)["model"] and qconfig.to_dict(cfg)["model"]["mixer"] == "sliding"
    with pytest.raises(UsageError, match="old name of model.mixer"):
        qconfig.from_dict({"model": {"attention": "sliding", "mixer": "dense"}})


# ------------------------------------------------------------------ init and weight decay

@pytest.fixture
def shortconv_cls(shortconv):
    return registry.get("mixer", shortconv)


def test_own_init_is_not_overwritten_and_runs_once(shortconv_cls, monkeypatch):
    calls = []
    real = shortconv_cls.reset_parameters
    monkeypatch.setattr(shortconv_cls, "reset_parameters", lambda self: (calls.append(self), real(self)))
    torch.manual_seed(0)
    model = GPT(model_cfg(layers="shortconv,dense", n_embd=64))
    mixer = model.blocks[0].attn
    assert calls == [mixer, model.blocks[2].attn]  # once per instance
    assert torch.equal(mixer.conv[:, -1], torch.ones(64)) and not mixer.conv[:, :-1].any()
    assert mixer.out.weight.std().item() == pytest.approx(0.002, rel=0.1)  # its own std, not 0.02/sqrt(2L)
    dense = model.blocks[1].attn
    assert dense.qkv.weight.std().item() == pytest.approx(0.02, rel=0.1)  # the default init elsewhere


def test_weight_decay_marks(shortconv_cls):
    model = GPT(model_cfg(layers="shortconv,dense", residual="mhc"))
    decay, no_decay = weight_decay_split(model)
    names = {id(p): n for n, p in model.named_parameters()}
    nd = {names[id(p)] for p in no_decay}
    assert "blocks.0.attn.conv" in nd  # marked by the plugin, although it is a matrix
    assert "blocks.0.attn_res.bias_res" in nd and model.blocks[0].attn_res.bias_res.dim() == 2  # mhc's mark
    assert "wte.weight" in nd and "norm.weight" in nd
    assert {names[id(p)] for p in decay} >= {"blocks.0.attn.inp.weight", "blocks.1.attn.qkv.weight"}
    assert len(decay) + len(no_decay) == len(list(model.parameters()))


# ------------------------------------------------------------------ decode state and context limits

def test_context_limits():
    assert GPT(model_cfg()).max_context == 16
    assert GPT(model_cfg(mixer="sliding", **{"sliding.window": 4})).max_context is None
    assert GPT(model_cfg(layers="sliding,sliding,sliding,dense")).max_context == 16


def test_sliding_stack_decodes_past_block_size_with_bounded_state():
    torch.manual_seed(0)
    model = GPT(model_cfg(mixer="sliding", **{"sliding.window": 4})).eval()
    ids = torch.randint(0, 64, (2, 60))
    state = model.new_state(2)
    sizes = []
    with torch.no_grad():
        parts = []
        for t in range(60):
            parts.append(model(ids[:, t:t + 1], state=state)[0])
            sizes.append(state.nbytes)
        inc = torch.cat(parts, 1)
        # a full forward over 60 > block_size positions gives the same logits (RoPE tables extend)
        full, _ = model(ids)
    assert torch.allclose(inc, full, atol=1e-5), (inc - full).abs().max()
    assert max(sizes[10:]) == min(sizes[10:]) == sizes[3]  # window - 1 keys per layer, then flat
    assert set(state.tensors()) == {f"past.{i}.mixer.{kv}" for i in range(4) for kv in ("key", "value")}


def test_dense_state_refuses_past_its_context():
    model = GPT(model_cfg()).eval()
    state = model.new_state(1)
    model(torch.zeros(1, 16, dtype=torch.long), state=state)
    with pytest.raises(ValueError, match="exceeds the context of 16"):
        model(torch.zeros(1, 1, dtype=torch.long), state=state)


@pytest.mark.parametrize("mixer", ["dense", "sliding", "topk"])
def test_reset_rows_equals_a_fresh_row(mixer):
    """A row reset mid-stream then fed a new document gives that document's logits alone."""
    torch.manual_seed(0)
    model = GPT(model_cfg(mixer=mixer, **{"sliding.window": 6, "topk.k": 3}, block_size=32)).eval()
    a, b = torch.randint(0, 64, (2, 10)), torch.randint(0, 64, (1, 7))
    with torch.no_grad():
        state = model.new_state(2)
        model(a, state=state)
        state.reset(torch.tensor([False, True]))
        got = torch.cat([model(torch.cat([a[:1, t:t + 1], b[:, t:t + 1]]), state=state)[0][1:] for t in range(7)], 1)
        alone = model(b)[0]
    assert torch.allclose(got, alone, atol=1e-5), (got - alone).abs().max()


def test_select_rows():
    torch.manual_seed(0)
    model = GPT(model_cfg(memory="engram", **{"engram.layers": "1"})).eval()
    ids = torch.randint(0, 64, (3, 8))
    with torch.no_grad():
        state = model.new_state(3)
        model(ids[:, :5], state=state)
        state.select(torch.tensor([2, 2, 0]))
        got = model(ids[[2, 2, 0], 5:], state=state)[0]
        full = model(ids[[2, 2, 0]])[0][:, 5:]
    assert torch.allclose(got, full, atol=1e-5)


def test_doc_start_reaches_components_and_train_passes_it(monkeypatch, tmp_path):
    from qtk.model.attention import DenseAttention

    seen = []
    real = DenseAttention.forward
    monkeypatch.setattr(DenseAttention, "forward", lambda self, x, ctx: (seen.append((ctx.idx, ctx.doc_start)),
                                                                          real(self, x, ctx))[1])
    from conftest import tiny_config

    from qtk.train.loop import train

    train(tiny_config(**{"train.max_steps": 1, "train.eval_interval": 0}), out_dir=str(tmp_path / "r"))
    steps = [(idx, doc) for idx, doc in seen if doc is not None]  # the memory probe's forwards pass none
    assert steps and all(doc.dtype == torch.bool and torch.equal(doc, idx == 256) for idx, doc in steps)
    # doc_start marks where the byte tokenizer's <|endoftext|> starts a document


# ------------------------------------------------------------------ plugins

def _qtk(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "qtk", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.mark.slow
def test_plugin_end_to_end_in_fresh_processes(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "shortconv.py").write_text(PLUGIN.read_text())
    r = _qtk("train", "--size", "tiny", "--set", "data.corpus=pydoc", "--set", "model.plugins=shortconv.py",
             "--set", "model.layers=shortconv*3,dense", "--set", "model.shortconv.kernel=3", "--max-steps", 4,
             "--set", "train.eval_interval=0", "--set", "train.eval_tokens=512", "-o", "run", "--json", cwd=work)
    assert r.returncode == 0, r.stderr
    saved = (work / "run" / "config.toml").read_text()
    assert str(work / "shortconv.py") in saved and "[model.shortconv]" in saved and "kernel = 3" in saved
    elsewhere = tmp_path / "elsewhere"  # a fresh process in another directory rebuilds the model
    elsewhere.mkdir()
    r = _qtk("eval", work / "run", "--json", "--data", "pydoc", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["loss"] > 0
    r = _qtk("generate", work / "run", "--prompt", "a", "-m", 5, "--temperature", 0, "--json", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["new_tokens"] == 5


def test_missing_and_broken_plugins_are_one_line(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("raise RuntimeError('boom at import')\n")
    for spec, msg in [(bad, "cannot load plugin"), (tmp_path / "nope.py", "plugin file not found"),
                      ("no_such_module_xyz", "cannot load plugin 'no_such_module_xyz' (ModuleNotFoundError")]:
        r = _qtk("train", "--set", f"model.plugins={spec}", "--max-steps", 1, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and msg in lines[0] and "Traceback" not in r.stderr


def test_entry_point_plugins_load_on_first_unknown_name(tmp_path):
    site = tmp_path / "site"
    (site / "myplug").mkdir(parents=True)
    (site / "myplug" / "__init__.py").write_text(PLUGIN.read_text().replace('"shortconv"', '"epconv"')
                                                 .replace("cfg.shortconv", "cfg.epconv"))
    dist = site / "myplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[qtk.components]\nmyplug = myplug\n")
    code = ("from qtk import config; c = config.load(sets=[('model.mixer', 'epconv'), ('model.epconv.kernel', '2')]);"
            "print(c.model.mixer, c.model.epconv.kernel)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["epconv", "2"]
