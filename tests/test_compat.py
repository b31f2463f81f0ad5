"""Checkpoints written by an earlier release load and evaluate to the same numbers."""

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "ckpt_v1"


@pytest.mark.parametrize("name", ["dense", "mixed"])
def test_old_checkpoint_evaluates_the_same(name):
    from qtk.eval import evaluate_checkpoint

    expected = json.loads((DATA / "expected.json").read_text())[name]
    got = evaluate_checkpoint(str(DATA / f"{name}.safetensors"), str(DATA / "text.txt"), device="cpu")
    assert got["tokens"] == expected["tokens"]
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-6), (got["loss"], expected["loss"])
    assert got["top1"] == pytest.approx(expected["top1"], abs=1e-9)
