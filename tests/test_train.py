import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import TINY_SETS, ctrl_c_inside_step, tiny_config
from qtk import checkpoint, config
from qtk.errors import Interrupted, QtkError, UsageError
from qtk.train import loop
from qtk.train.loop import train


def losses(run_dir: Path, key: str = "loss") -> list[float]:
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r[key] for r in lines if key in r]


def test_run_directory_contents_and_learning(tiny_run):
    files = {p.name for p in tiny_run.iterdir()}
    assert {"config.toml", "tokenizer.json", "metrics.jsonl", "last.safetensors", "best.safetensors",
            "last.state.safetensors"} <= files
    saved = config.from_dict(config.read_toml(tiny_run / "config.toml"))
    assert saved.model.n_embd == 64 and saved.model.vocab_size == 320  # resolved, incl. derived vocab
    curve = losses(tiny_run)
    assert len(curve) == 20 and curve[-1] < curve[0] - 0.5
    ck = checkpoint.load(tiny_run)
    assert ck.meta["step"] == 20 and ck.tokenizer.name == "byte"


def test_resume_after_ctrl_c_inside_a_step_matches_uninterrupted_run(tmp_path, monkeypatch):
    train(tiny_config(), out_dir=str(tmp_path / "full"))
    monkeypatch.setattr(loop.Trainer, "train_step", ctrl_c_inside_step(13))
    with pytest.raises(Interrupted, match="interrupted at step 14"):
        train(tiny_config(), out_dir=str(tmp_path / "half"))
    assert checkpoint.load(tmp_path / "half" / "last.safetensors").meta["step"] == 14  # the step was finished
    monkeypatch.undo()
    train(tiny_config(), resume=str(tmp_path / "half"))
    assert losses(tmp_path / "half") == losses(tmp_path / "full")
    assert losses(tmp_path / "half", "val_loss") == losses(tmp_path / "full", "val_loss")


def test_second_ctrl_c_stops_at_once_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(loop.Trainer, "train_step", ctrl_c_inside_step(13, presses=2))
    with pytest.raises(Interrupted, match="stopped at once during step 14") as e:
        train(tiny_config(), out_dir=str(tmp_path / "r"))
    assert e.value.exit_code == 130
    assert checkpoint.load(tmp_path / "r" / "last.safetensors").meta["step"] == 10  # the eval's, untouched
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back


def test_existing_run_is_not_overwritten(tiny_run):
    before = (tiny_run / "last.safetensors").read_bytes()
    with pytest.raises(UsageError, match="already holds a run"):
        train(tiny_config(), out_dir=str(tiny_run))
    assert (tiny_run / "last.safetensors").read_bytes() == before


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    real = loop.Trainer.train_step

    def step(self, lr, stats=False):
        value = real(self, lr, stats)
        return value * float("nan") if self.step >= 12 else value

    monkeypatch.setattr(loop.Trainer, "train_step", step)
    with pytest.raises(QtkError, match="loss became nan at step 13"):
        train(tiny_config(), out_dir=str(tmp_path / "r"))
    assert checkpoint.load(tmp_path / "r" / "last.safetensors").meta["step"] == 10


def test_ctrl_c_saves_at_the_step_boundary(tmp_path, monkeypatch):
    monkeypatch.setattr(loop.Trainer, "train_step", ctrl_c_inside_step(7))
    with pytest.raises(Interrupted) as e:
        train(tiny_config(), out_dir=str(tmp_path / "r"))
    assert e.value.exit_code == 130
    assert checkpoint.load(tmp_path / "r" / "last.safetensors").meta["step"] == 8


def test_cli_train_json_and_errors(cli, tmp_path):
    sets = [a for k, v in TINY_SETS.items() if k != "train.max_steps" for a in ("--set", f"{k}={v}")]
    r = cli("train", *sets, "--max-steps", "4", "--out-dir", tmp_path / "r", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("run_dir", "checkpoint", "steps", "tokens", "train_loss", "val_loss", "val_bpb", "tokens_per_s", "params"):
        assert key in out
    assert out["steps"] == 4 and out["tokens"] == 4 * 8 * 64
    r = cli("train", "--set", "model.n_layr=2")
    assert r.exit_code == 2 and "model.n_layr" in r.stderr and "Traceback" not in r.stderr
    r = cli("train", "--resume", tmp_path / "nowhere")
    assert r.exit_code == 2 and "not a qtk run directory" in r.stderr


def test_two_gloo_processes_match_one(tmp_path):
    """torchrun with 2 CPU processes and the same global batch gives the same loss curve."""
    sets = [a for k, v in {**TINY_SETS, "train.max_steps": 6, "train.eval_interval": 0}.items()
            for a in ("--set", f"{k}={v}")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "qtk", "train", *sets, "--out-dir", str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "qtk", "train", *sets, "--out-dir", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(a) == len(b) == 6
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4


def test_time_budget_stops_the_run(tmp_path):
    cfg = tiny_config(**{"train.max_steps": 0, "train.max_time": 1.0, "train.eval_interval": 0})
    r = train(cfg, out_dir=str(tmp_path / "r"))
    # max_steps 0 means no step limit: returning at all is the budget's doing
    assert r.steps > 0 and r.elapsed_s >= 1.0


@pytest.mark.parametrize("acted", [False, True])
def test_a_ctrl_c_the_loop_did_not_act_on_reaches_the_caller(acted):
    """qtk compare holds Ctrl-C around its runs: a press during a run's final evaluation, which the
    loop never acted on, is handed on to it; one the loop stopped on is not counted twice."""
    from qtk.train.preempt import CtrlC

    with CtrlC() as outer:
        with CtrlC() as inner:
            os.kill(os.getpid(), signal.SIGINT)
            assert inner.pressed and not outer.pressed
            inner.acted = acted
        assert outer.pressed is not acted
        assert signal.getsignal(signal.SIGINT) == outer._handle
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_the_final_evaluation_stops_it_and_resume_finishes(tmp_path, monkeypatch, sig):
    """No step is in hand during the final evaluations: a signal stops them at once (they can take
    long) instead of waiting for a step boundary that never comes; --resume evaluates."""
    from qtk.errors import Preempted

    full = train(tiny_config(), out_dir=str(tmp_path / "full"))
    real = loop.Trainer._finish

    def finish(self, elapsed):
        os.kill(os.getpid(), sig)
        return real(self, elapsed)

    monkeypatch.setattr(loop.Trainer, "_finish", finish)
    with pytest.raises(Preempted if sig == signal.SIGTERM else Interrupted, match="at step 20"):
        train(tiny_config(), out_dir=str(tmp_path / "r"))
    assert checkpoint.load(tmp_path / "r" / "last.safetensors").meta["step"] == 20
    monkeypatch.undo()
    resumed = train(tiny_config(), resume=str(tmp_path / "r"))
    assert (resumed.steps, resumed.val_loss) == (20, full.val_loss)
    assert losses(tmp_path / "r") == losses(tmp_path / "full")
