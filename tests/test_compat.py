"""Checkpoints written by an earlier release load and evaluate to the same numbers."""

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "ckpt_v1"


@pytest.mark.parametrize("name", ["dense", "mixed"])
def test_old_checkpoint_evaluates_the_same(name):
    from qtk.eval import evaluate_checkpoint

    expected = json.loads((DATA / "expected.json").read_text())[name]
    # the release that wrote them scored in windows of block_size with stride block_size / 2; a
    # model without a context limit (mixed: sliding windows only) is now streamed by default
    got = evaluate_checkpoint(str(DATA / f"{name}.safetensors"), str(DATA / "text.txt"), device="cpu", stride=16)
    assert got["tokens"] == expected["tokens"]
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-6), (got["loss"], expected["loss"])
    assert got["top1"] == pytest.approx(expected["top1"], abs=1e-9)


def test_a_sliding_only_model_is_streamed_by_default():
    from qtk.eval import evaluate_checkpoint

    path, text = str(DATA / "mixed.safetensors"), str(DATA / "text.txt")
    windowed = evaluate_checkpoint(path, text, device="cpu", stride=16)
    streamed = evaluate_checkpoint(path, text, device="cpu")
    assert streamed["tokens"] == windowed["tokens"]  # every target scored once either way
    # the same model on the same text: only the context each token saw differs (its whole window
    # when streamed, at least 16 tokens when windowed)
    assert streamed["loss"] != windowed["loss"] and abs(streamed["loss"] - windowed["loss"]) < 1e-3
