"""The `mqar` associative-recall task: what a sample holds, that training scores only the answers,
and `qtk train --data mqar` / `qtk eval --data mqar` end to end."""

import json

import numpy as np
import pytest
import torch

from qtk import config as qconfig
from qtk.data import mqar
from qtk.data.prepare import prepare
from qtk.errors import UsageError


def test_every_answer_is_the_value_paired_with_its_key_earlier():
    toks, scored = mqar.samples(50, seq_len=64, pairs=8, seed=3)
    assert toks.shape == scored.shape == (50, 65) and (toks[:, 0] == 256).all()
    assert (scored.sum(1) == 8).all()  # one query per pair
    for row, mask in zip(toks, scored):
        keys, values = row[1:17:2], row[2:17:2]
        assert len(set(keys.tolist())) == 8 and (keys < 128).all() and (values >= 128).all()
        pairs = dict(zip(keys.tolist(), values.tolist()))
        for pos in np.nonzero(mask)[0]:
            assert pos > 17 and pairs[row[pos - 1]] == row[pos]  # the key, then its value


def test_seeded_and_split():
    a, _ = mqar.samples(10, 64, 4, seed=1)
    b, _ = mqar.samples(10, 64, 4, seed=1)
    assert np.array_equal(a, b)
    cfg = qconfig.DataConfig(path="mqar")
    train, val = mqar.splits(cfg)
    assert len(train) == 20000 * 65 and len(val) == 1000 * 65 and train.sample_len == 65
    assert not np.array_equal(train.get(0, 65), val.get(0, 65))


def test_seq_len_too_short_for_the_pairs():
    with pytest.raises(UsageError, match=r"data.mqar.seq_len \(16\) must be >= 4 \* data.mqar.pairs"):
        mqar.samples(1, 16, 8, seed=0)


def test_bpe_tokenizer_is_refused():
    with pytest.raises(UsageError, match="byte"):
        prepare(qconfig.DataConfig(path="mqar", tokenizer="bpe"))


def test_training_batches_score_only_the_answers():
    from qtk.train.loop import Reporter, Trainer

    cfg = qconfig.load("tiny", flags={"data.path": "mqar", "model.n_layer": 1, "model.n_embd": 32,
                                      "model.block_size": 64, "train.batch_size": 4})
    trainer = Trainer(cfg, None, Reporter(), resume=False)
    trainer.data = prepare(cfg.data)
    trainer.gen = torch.Generator().manual_seed(0)
    ix = trainer.batch_indices()
    assert (ix % 65 == 0).all()  # windows start at a sample's start
    x, y = trainer.fetch(ix)
    assert (x[:, 0] == 256).all()
    scored = y >= 0
    assert scored.sum() == 4 * 8 and (y[scored] >= 128).all()  # the values, nothing else


def test_cli_train_and_eval_on_mqar(cli, tmp_path):
    run = tmp_path / "run"
    sets = ["model.n_layer=2", "model.n_embd=32", "model.block_size=64", "model.layers=mamba2,dense",
            "train.batch_size=4", "train.eval_interval=0", "data.mqar.seq_len=63", "data.mqar.pairs=4",
            "data.mqar.val_samples=50"]
    r = cli("train", "--size", "tiny", "--data", "mqar", "--max-steps", 3, "--out-dir", run, "--json",
            *[a for s in sets for a in ("--set", s)])
    assert r.exit_code == 0, r.stderr
    r = cli("eval", run, "--data", "mqar", "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["tokens"] == 50 * 4 and res["data"] == "mqar (val)"  # 4 answers in each of 50 samples
    assert 0 <= res["answer_accuracy"] <= 1 and res["answer_accuracy"] == res["top1"]
    r = cli("eval", run, "--data", "mqar")
    assert r.exit_code == 0 and "answer_accuracy" in r.stdout
