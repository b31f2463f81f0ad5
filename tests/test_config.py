import pytest

from qtk import config
from qtk.errors import UsageError


def test_layers_compose_in_order(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[model]\nn_layer = 3\nn_embd = 96\n[train]\nlr = 0.005\n")
    cfg = config.load("tiny", f, {"train.lr": 0.003}, [("model.n_layer", "5")])
    assert cfg.model.n_layer == 5          # --set beats the file
    assert cfg.model.n_embd == 96          # the file beats the preset (tiny has 128)
    assert cfg.train.lr == 0.003           # flags beat the file
    assert cfg.model.block_size == 128     # from the preset
    assert cfg.train.beta2 == 0.95         # dataclass default


def test_unknown_keys_are_named(tmp_path):
    with pytest.raises(UsageError, match="model.n_layr"):
        config.load(sets=[("model.n_layr", "3")])
    f = tmp_path / "c.toml"
    f.write_text("[trian]\nlr = 1\n")
    with pytest.raises(UsageError, match="'trian'"):
        config.load(config_file=f)


@pytest.mark.parametrize("key,value,msg", [
    ("model.n_layer", "abc", "model.n_layer: expected int"),
    ("model.n_layer", "0", "model.n_layer: must be >= 1"),
    ("model.dropout", "1.5", "model.dropout: must be <= 1.0"),
    ("data.tokenizer", "wordpiece", "data.tokenizer: must be one of byte, bpe"),
    ("model.mixer", "nope", "model.mixer: unknown mixer 'nope'"),
    ("model.attention", "nope", "model.mixer: unknown mixer 'nope'"),  # the old name of the key
    ("model.tie_embeddings", "maybe", "model.tie_embeddings: expected bool"),
    ("model", "3", "expected a table"),
])
def test_bad_values_are_named(key, value, msg):
    with pytest.raises(UsageError, match=msg):
        config.load(sets=[(key, value)])


def test_toml_type_errors(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[model]\nn_layer = "four"\n')
    with pytest.raises(UsageError, match="model.n_layer"):
        config.load(config_file=f)
    f.write_text("[model\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        config.load(config_file=f)


def test_cross_field_checks():
    with pytest.raises(UsageError, match="divisible by model.n_head"):
        config.load(sets=[("model.n_embd", "100"), ("model.n_head", "3")])
    with pytest.raises(UsageError, match="n_kv_head"):
        config.load(sets=[("model.n_head", "6"), ("model.n_kv_head", "4")])


def test_resolved_config_round_trips(tmp_path):
    cfg = config.load("small", sets=[("model.n_kv_head", "2"), ("train.seed", "7")])
    f = tmp_path / "resolved.toml"
    f.write_text(config.to_toml(cfg))
    assert config.from_dict(config.read_toml(f)) == cfg


def test_unknown_size():
    with pytest.raises(UsageError, match="huge"):
        config.load("huge")


@pytest.mark.parametrize("size,target", [("tiny", 1e6), ("small", 10e6), ("medium", 50e6), ("large", 200e6)])
@pytest.mark.parametrize("vocab", [320, 4096])
def test_preset_sizes(size, target, vocab):
    import torch

    from qtk.model import GPT

    cfg = config.load(size)
    cfg.model.vocab_size = vocab
    with torch.device("meta"):
        n = GPT(cfg.model).num_params()
    assert 0.6 * target < n < 1.5 * target  # "~1M" etc., with either tokenizer


def test_describe_lists_every_key_with_help():
    rows = config.describe()
    keys = {r[0] for r in rows}
    assert {"model.n_layer", "train.lr", "data.tokenizer", "model.mixer", "model.layers", "model.nsa.window",
            "model.moe.n_experts"} <= keys
    assert all(r[3] for r in rows)
    assert "dense" in dict((r[0], r[3]) for r in rows)["model.mixer"]
