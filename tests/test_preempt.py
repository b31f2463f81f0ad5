"""Preemption-safe runs, with real signals sent to `qtk train` subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY_SETS
from qtk import checkpoint

SETS = {**TINY_SETS, "train.max_steps": 40, "train.eval_interval": 0}


def losses(run_dir: Path) -> list[tuple[int, float]]:
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in recs if "loss" in r]


def start(run_dir: Path, sets: dict, **env) -> subprocess.Popen:
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    return subprocess.Popen([sys.executable, "-m", "qtk", "train", *args, "--out-dir", str(run_dir)],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(cond, proc: subprocess.Popen, what: str, timeout: float = 240) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"qtk train ended (rc {proc.returncode}) before {what}: {proc.stderr.read()[-1500:]}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def logged_steps(run_dir: Path) -> int:
    try:
        return (run_dir / "metrics.jsonl").read_text().count('"loss"')
    except FileNotFoundError:
        return 0


def temp_files(run_dir: Path, name: str) -> list[Path]:
    return list(run_dir.glob(f".{name}.*.tmp")) if run_dir.is_dir() else []


def assert_same_curve(resumed: Path, full: Path) -> None:
    a, b = losses(resumed), losses(full)
    assert [s for s, _ in a] == [s for s, _ in b], (a, b)
    worst = max(abs(x - y) for (_, x), (_, y) in zip(a, b))
    assert worst < 1e-5, f"resumed curve differs from the uninterrupted one by {worst:.2e}"


def finish(run: Path, sets: dict) -> Path:
    """An uninterrupted run through the same CLI path (the CLI starts from the tiny preset)."""
    proc = start(run, sets)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-1500:]
    return run


def resume(run: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "qtk", "train", "--resume", str(run)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1500:]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    return finish(tmp_path_factory.mktemp("full") / "run", SETS)


def test_sigterm_saves_at_step_boundary_exits_143_and_resumes(tmp_path, full_run):
    run = tmp_path / "r"
    proc = start(run, SETS, QTK_TEST_SLOW_WRITES="1")
    wait_for(lambda: logged_steps(run) >= 3, proc, "three logged steps")
    proc.send_signal(signal.SIGTERM)
    # a second signal while the checkpoint is being written must change nothing
    wait_for(lambda: temp_files(run, "last.state.safetensors"), proc, "the checkpoint write")
    proc.send_signal(signal.SIGUSR1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 143, err[-1500:]
    assert "SIGTERM at step" in err and "Traceback" not in err
    stopped = checkpoint.load(run / "last.safetensors").meta["step"]
    assert 3 <= stopped < 40 and losses(run)[-1][0] == stopped
    resume(run)
    assert_same_curve(run, full_run)


def test_ctrl_c_saves_at_step_boundary_exits_130_and_resumes(tmp_path, full_run):
    """A real SIGINT, as a terminal sends it: the step in hand finishes, is saved, and the resumed
    run continues the uninterrupted curve."""
    run = tmp_path / "r"
    proc = start(run, SETS)
    wait_for(lambda: logged_steps(run) >= 3, proc, "three logged steps")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err[-1500:]
    assert "interrupted at step" in err and "Traceback" not in err
    stopped = checkpoint.load(run / "last.safetensors").meta["step"]
    assert 3 <= stopped < 40 and losses(run)[-1][0] == stopped
    resume(run)
    assert_same_curve(run, full_run)


def test_kill_9_during_a_save_leaves_the_previous_checkpoint(tmp_path, full_run):
    sets = {**SETS, "train.eval_interval": 10}
    run = tmp_path / "r"
    proc = start(run, sets, QTK_TEST_SLOW_WRITES="1")
    state = run / "last.state.safetensors"
    wait_for(state.is_file, proc, "the first checkpoint")
    first = state.read_bytes()
    # the resume file is written first in every save: a new temp copy of it = the step-20 save
    wait_for(lambda: temp_files(run, "last.state.safetensors"), proc, "the second checkpoint write")
    proc.kill()
    proc.wait(timeout=60)
    assert state.read_bytes() == first
    assert checkpoint.load_train_state(state)[1]["step"] == 10
    assert logged_steps(run) > 10  # steps past the checkpoint were logged, and are dropped on resume
    resume(run)
    assert_same_curve(run, finish(tmp_path / "full", sets))


def test_requeue_calls_scontrol(tmp_path):
    """train.on_preempt = requeue runs `scontrol requeue $SLURM_JOB_ID` after the save."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "scontrol.log"
    fake = bindir / "scontrol"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {log}\n")
    fake.chmod(0o755)
    run = tmp_path / "r"
    proc = start(run, {**SETS, "train.on_preempt": "requeue"}, SLURM_JOB_ID="4242",
                 PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    wait_for(lambda: logged_steps(run) >= 1, proc, "a logged step")
    proc.send_signal(signal.SIGUSR1)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 143 and "SLURM job 4242 requeued" in err, err[-1500:]
    assert log.read_text().split() == ["requeue", "4242"]


def test_sigterm_while_tokenizing_keeps_the_chunks(tmp_path, monkeypatch):
    """A signal during a long tokenization stops at the next chunk; running again continues it."""
    from conftest import tiny_config
    from qtk.data import tokenize
    from qtk.errors import Preempted
    from qtk.train.loop import Reporter, train

    monkeypatch.setattr(tokenize, "CHUNK_BYTES", 4096)  # many chunks, encoded in this process
    text = tmp_path / "big.txt"
    text.write_text("".join(f"line {i} of a long text to tokenize\n" for i in range(20000)))

    class SignalOnce(Reporter):
        sent = False

        def tokenize(self, done, total):
            if not self.sent:
                self.sent = True
                os.kill(os.getpid(), signal.SIGTERM)

    cfg = tiny_config(**{"data.path": str(text), "data.workers": 1, "train.max_steps": 2})
    with pytest.raises(Preempted, match="SIGTERM while tokenizing") as e:
        train(cfg, out_dir=str(tmp_path / "r"), reporter=SignalOnce())
    assert e.value.exit_code == 143
    cache = Path(os.environ["QTK_CACHE_DIR"]) / "tokens"
    kept = list(cache.glob(".partial-*/train.*.bin"))
    assert 1 <= len(kept) < 100  # stopped after the first chunk, not at the end
    r = train(tiny_config(**{"data.path": str(text), "data.workers": 1, "train.max_steps": 2}),
              out_dir=str(tmp_path / "r"))
    assert r.steps == 2 and not list(cache.glob(".partial-*"))
