"""Streamed batches (qtk.data.stream), training a kNN-memory model on them, and streamed
evaluation with and without the memory."""

import numpy as np
import torch

from qtk.data.shards import TokenStream
from qtk.data.stream import StreamedBatches, doc_starts
from qtk.eval import evaluate

from conftest import tiny_config


def token_stream(tmp_path, tokens) -> TokenStream:
    p = tmp_path / "t.bin"
    np.asarray(tokens, dtype=np.uint16).tofile(p)
    return TokenStream([p], "uint16", len(tokens))


def test_rows_read_consecutive_segments_and_wrap(tmp_path):
    EOT = 9
    toks = [EOT] + [1] * 30 + [EOT] + [2] * 40 + [EOT] + [3] * 20
    s = token_stream(tmp_path, toks)
    assert doc_starts(s, EOT).tolist() == [0, 31, 72]
    b = StreamedBatches(s, rows=3, T=8, eot_id=EOT, rng=np.random.default_rng(0))
    assert all(c in (0, 31, 72) for c in b.cursor)
    start = list(b.cursor)
    seen = [[] for _ in range(3)]
    for _ in range(30):
        x, y = b.next()
        assert x.shape == y.shape == (3, 8) and (x[:, 1:] == y[:, :-1]).all()
        for r in range(3):
            seen[r] += x[r].tolist()
    for r in range(3):  # each row is the stream read on from its start, wrapping to 0 at the end
        n = len(toks)
        expect, c = [], start[r]
        while len(expect) < len(seen[r]):
            if c + 9 > n:
                c = 0
            expect += toks[c:c + 8]
            c += 8
        assert seen[r] == expect


def test_train_and_evaluate_a_knn_model(tmp_path):
    from qtk import checkpoint
    from qtk.load import build_model
    from qtk.train.loop import train

    cfg = tiny_config(**{"model.memory": "knn", "model.knn.k": 8, "model.block_size": 32, "train.max_steps": 6,
                         "train.eval_interval": 6, "train.batch_size": 4})
    res = train(cfg, out_dir=str(tmp_path / "run"))
    assert np.isfinite(res.val_loss)
    ck = checkpoint.load(tmp_path / "run")
    model = build_model(ck)
    from qtk.data.prepare import prepare

    data = prepare(ck.cfg.data, ck.tokenizer)
    kw = dict(block_size=32, batch_size=2, max_tokens=3000)
    with_mem = evaluate(model, data.val, {ck.tokenizer.eot_id}, **kw)
    without = evaluate(model, data.val, {ck.tokenizer.eot_id}, memory=False, **kw)
    assert with_mem["tokens"] == without["tokens"] > 2900  # same protocol, same scored tokens
    assert with_mem["loss"] != without["loss"]  # the memory is read
    # resume continues the rows where they stopped
    from qtk.checkpoint import load_train_state

    _, extra, _ = load_train_state(tmp_path / "run" / "last.state.safetensors")
    assert len(extra["stream_cursors"]) == 1 and len(extra["stream_cursors"][0]) == 4


def test_streamed_eval_with_empty_memory_equals_the_segments_scored_alone(tmp_path):
    from qtk.model import GPT

    cfg = tiny_config(**{"model.memory": "knn", "model.block_size": 16})
    cfg.model.vocab_size = 64
    torch.manual_seed(0)
    model = GPT(cfg.model)
    toks = np.random.default_rng(0).integers(0, 63, 16 * 4 + 1)
    s = token_stream(tmp_path, toks)
    off = evaluate(model, s, {63}, block_size=16, batch_size=1, memory=False)
    windows = evaluate(model, s, {63}, block_size=16, stride=16, batch_size=1)
    assert abs(off["loss"] - windows["loss"]) < 1e-5 and off["tokens"] == windows["tokens"]
