import json
import math

import pytest
import torch

from qtk.data.shards import TokenStream
from qtk.eval import evaluate, spaced_windows, windows
from qtk.load import load_model


@pytest.mark.parametrize("n,block,stride", [(2, 8, 4), (100, 16, 8), (101, 16, 16), (57, 10, 3), (9, 64, 32)])
def test_windows_score_every_target_once(n, block, stride):
    scored = []
    for begin, end, first in windows(n, block, stride):
        assert 0 < end - begin <= block and begin <= first <= end
        scored += list(range(max(first, begin) + 1, end + 1))  # target positions
    assert scored == list(range(1, n))


def test_spaced_windows_do_not_overlap():
    spans = list(spaced_windows(1000, 64, 256))
    assert len(spans) == 4
    ends = [e for _, e, _ in spans]
    assert all(b >= e_prev for (b, _, _), e_prev in zip(spans[1:], ends))


def _stream(tmp_path, tokens, n_bytes):
    path = tmp_path / "s.bin"
    import numpy as np

    np.asarray(tokens, dtype=np.uint16).tofile(path)
    return TokenStream([path], "uint16", n_bytes)


def test_uniform_model_metrics(tmp_path, tiny_run):
    model = load_model(tiny_run).model
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    tokens = [256] + list(b"hello world, " * 30)
    m = evaluate(model, _stream(tmp_path, tokens, len(tokens) - 1), {256}, block_size=64)
    assert m["tokens"] == len(tokens) - 1 and m["whole"]
    assert m["loss"] == pytest.approx(math.log(320), rel=1e-6)
    assert m["bpb"] == pytest.approx(math.log(320) / math.log(2), rel=1e-6)  # one byte per token


def test_stride_only_changes_context(tmp_path, tiny_run):
    model = load_model(tiny_run).model
    tokens = [256] + list(b"To be, or not to be, that is the question. " * 10)
    s = _stream(tmp_path, tokens, len(tokens) - 1)
    a = evaluate(model, s, {256}, block_size=64, stride=64)
    b = evaluate(model, s, {256}, block_size=64, stride=16)
    assert a["tokens"] == b["tokens"] == len(tokens) - 1
    assert b["loss"] < a["loss"]  # more context per scored token


def test_cli_eval_json_and_table(cli, tiny_run):
    r = cli("eval", tiny_run, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("loss", "ppl", "bpb", "top1", "top5", "tokens", "tokens_per_s", "peak_mem_mb"):
        assert key in out
    assert out["ppl"] == pytest.approx(math.exp(out["loss"]))
    assert 0 <= out["top1"] <= out["top5"] <= 1
    both = cli("eval", tiny_run, tiny_run / "last.safetensors", "--json")
    assert isinstance(json.loads(both.stdout), list) and len(json.loads(both.stdout)) == 2
    table = cli("eval", tiny_run, tiny_run / "last.safetensors")
    assert table.exit_code == 0 and "bpb" in table.stdout


def test_cli_eval_on_a_text_file(cli, tiny_run, tmp_path):
    f = tmp_path / "held.txt"
    f.write_text("Some held-out text.\n" * 20)
    out = json.loads(cli("eval", tiny_run, "--data", f, "--json").stdout)
    assert out["bytes"] == len("Some held-out text.\n") * 20
    assert out["tokens"] == out["bytes"]  # byte tokenizer, <|endoftext|> never scored
