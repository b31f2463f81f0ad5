"""Fitting the machine: the memory estimate of a training step against the measured peak, the
micro-batch it picks under a memory limit (gradient accumulation keeps the run's numbers), the
warnings, the out-of-memory retry, and evaluation's batch."""

import json
import subprocess
import sys

import pytest
import torch

from conftest import tiny_config
from qtk.errors import UsageError
from qtk.train import loop, sizing
from qtk.train.loop import Reporter, train

MEASURE = """
import json, sys
from pathlib import Path
from qtk import config
from qtk.train.loop import Reporter, Trainer
cfg = config.load(sys.argv[1], sets=[tuple(a.split("=", 1)) for a in sys.argv[3:]])
tr = Trainer(cfg, Path(sys.argv[2]), Reporter(), resume=False)
tr.setup()
for _ in range(2):
    tr.train_step(1e-3)
# VmHWM is this process image's own peak; ru_maxrss would start from the parent's RSS at the fork
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peak": peak, "estimate": tr.fit.estimate_bytes, "micro": tr.micro}))
"""


class Notes(Reporter):
    def __init__(self):
        self.notes = []

    def notice(self, msg):
        self.notes.append(msg)


@pytest.mark.parametrize("size,sets", [
    ("tiny", []), ("tiny", ["model.ffn=moe"]), ("tiny", ["model.mixer=nsa"]), ("tiny", ["model.memory=engram"]),
    ("small", ["train.batch_size=8"]),
], ids=["tiny", "tiny-moe", "tiny-nsa", "tiny-engram", "small"])
def test_estimate_is_within_30_percent_of_the_measured_peak(size, sets, tmp_path):
    """The process's peak RSS after two training steps, in a fresh process, against the plan. The
    data are tokenized here first, so that the peak is the training step's, not the tokenizer's."""
    from qtk import config
    from qtk.data.prepare import prepare

    prepare(config.load(size, sets=[("data.corpus", "pydoc"), *(tuple(x.split("=", 1)) for x in sets)]).data)
    r = subprocess.run([sys.executable, "-c", MEASURE, size, tmp_path / "run", "data.corpus=pydoc", *sets],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert 0.7 <= m["estimate"] / m["peak"] <= 1.3, m


def test_parse_bytes():
    assert sizing.parse_bytes("2GiB") == 2 << 30 and sizing.parse_bytes("512m") == 512 << 20
    assert sizing.parse_bytes("1.5k") == 1536 and sizing.parse_bytes("1000") == 1000
    with pytest.raises(UsageError, match="train.memory_limit: expected a size"):
        sizing.parse_bytes("lots")


def test_choose_picks_the_largest_divisor_that_fits():
    p = sizing.Probe(static=100, act_fixed=10, act_per_sample=40, largest=5, step_s=(1.0, 1.5), probe_s=0.1)
    assert sizing.ACT_FACTOR == 1.5  # step bytes: 100 + 1.5 * (10 + 40 * micro) + 10 * micro = 115 + 70 * micro
    assert p.step_bytes(3) == 115 + 70 * 3
    assert sizing.choose(p, sizing.Budget(115 + 70 * 12, "t"), 12, held=0).micro_batch_size == 12
    assert sizing.choose(p, sizing.Budget(115 + 70 * 5, "t"), 12, held=0).micro_batch_size == 4
    low = sizing.choose(p, sizing.Budget(100, "t"), 12, held=0)
    assert low.micro_batch_size == 1 and not low.fits
    explicit = sizing.choose(p, sizing.Budget(115 + 70 * 2, "t"), 12, explicit=6, held=0)
    assert explicit.micro_batch_size == 6 and not explicit.fits and explicit.explicit
    assert p.seconds(4, 12) == pytest.approx((1.0 + 0.5 * 3) * 3)


def losses(run_dir):
    return [r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def test_a_lower_memory_limit_shrinks_the_micro_batch_and_keeps_the_curve(tmp_path, monkeypatch):
    whole = train(tiny_config(**{"train.eval_interval": 0, "train.max_steps": 6}), out_dir=str(tmp_path / "a"))
    assert whole.fit["micro_batch_size"] == 8 and whole.fit["fits"]
    # the limit leaves room for about 3 sequences' activations beyond what the process holds
    held = sizing.rss_now()
    probe_static = whole.fit["estimate_bytes"] - held
    monkeypatch.setenv("QTK_MEMORY_LIMIT", str(int((held + probe_static * 0.6) / 0.9)))
    notes = Notes()
    split = train(tiny_config(**{"train.eval_interval": 0, "train.max_steps": 6}), out_dir=str(tmp_path / "b"),
                  reporter=notes)
    micro = split.fit["micro_batch_size"]
    assert micro < 8 and 8 % micro == 0 and split.fit["source"].startswith("the memory limit")
    assert any(f"micro-batch {micro} x {8 // micro} accumulation" in n for n in notes.notes)
    a, b = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert len(a) == len(b) == 6 and max(abs(x - y) for x, y in zip(a, b)) < 1e-5, (a, b)


def test_an_explicit_micro_batch_that_cannot_fit_warns(tmp_path, monkeypatch):
    monkeypatch.setenv("QTK_MEMORY_LIMIT", "1MiB")
    notes = Notes()
    r = train(tiny_config(**{"train.micro_batch_size": 4, "train.max_steps": 1, "train.eval_interval": 0}),
              out_dir=str(tmp_path / "r"), reporter=notes)
    assert r.fit["micro_batch_size"] == 4 and r.fit["explicit"] and not r.fit["fits"]
    assert any(n.startswith("train.micro_batch_size may not fit in memory") for n in notes.notes)


def test_out_of_memory_in_the_first_steps_halves_the_micro_batch_once(tmp_path, monkeypatch):
    real = loop.Trainer.train_step
    raised = []

    def step(self, lr, stats=False):
        if not raised and self.micro == 8:
            raised.append(self.step)
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, lr, stats)

    monkeypatch.setattr(loop.Trainer, "train_step", step)
    notes = Notes()
    r = train(tiny_config(**{"train.eval_interval": 0, "train.max_steps": 4}), out_dir=str(tmp_path / "a"),
              reporter=notes)
    assert raised == [0] and any("out of memory at step 1: retrying with micro-batch 4 x 2" in n for n in notes.notes)
    monkeypatch.setattr(loop.Trainer, "train_step", real)
    ref = train(tiny_config(**{"train.eval_interval": 0, "train.max_steps": 4, "train.micro_batch_size": 4}),
                out_dir=str(tmp_path / "b"))
    a, b = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-6 and r.steps == 4


def test_eval_batch_fits_the_limit(tiny_run, monkeypatch):
    from qtk.eval import evaluate_checkpoint

    full = evaluate_checkpoint(str(tiny_run), "pydoc", device="cpu")
    assert full["batch_size"] == 32
    monkeypatch.setattr(sizing, "budget", lambda device, limit="auto": sizing.Budget(2 << 20, "test"))
    small = evaluate_checkpoint(str(tiny_run), "pydoc", device="cpu")  # room for a few windows of 64 x 320 logits
    assert 1 <= small["batch_size"] < 32
    assert small["loss"] == pytest.approx(full["loss"], abs=1e-6) and small["tokens"] == full["tokens"]
    notes = []
    evaluate_checkpoint(str(tiny_run), "pydoc", device="cpu", batch_size=10_000, notice=notes.append)
    assert notes and "--batch-size 10000 may not fit in memory" in notes[0]
