"""FSDP2 on CPU with gloo (torch 2.13's fully_shard runs there): 2 processes train like 1, and a
sharded (DCP) checkpoint written by 2 processes resumes on 1 and continues the same curve."""

import json
import os
import subprocess
import sys

import pytest

from conftest import TINY_SETS
from qtk import checkpoint, config, registry
from qtk.errors import UsageError
from qtk.train import sharded

SETS = {**TINY_SETS, "train.parallel": "fsdp", "train.eval_interval": 5, "train.warmup_steps": 5}
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def qtk(*args, procs: int = 1) -> None:
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)] if procs > 1 else []
    r = subprocess.run([sys.executable, *launcher, "-m", "qtk", "train", *map(str, args)], env=ENV,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


def curve(run) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]


def test_two_processes_match_one_and_resume_on_one(tmp_path):
    sets = [a for k, v in SETS.items() if k != "train.max_steps" for a in ("--set", f"{k}={v}")]
    qtk(*sets, "--max-steps", 10, "--out-dir", tmp_path / "one")
    # warm-up covers steps 0-4, so the schedule of a 5-step run is the 10-step run's first half
    qtk(*sets, "--max-steps", 5, "--out-dir", tmp_path / "two", procs=2)
    one, two = curve(tmp_path / "one"), curve(tmp_path / "two")
    assert len(two) == 5
    worst = max(abs(a - b) for a, b in zip(one, two))
    assert worst <= 1e-5, f"2-process FSDP differs from 1 process by {worst:.2e}"
    assert (tmp_path / "two" / "last.dcp" / ".metadata").is_file()
    assert len(list((tmp_path / "two" / "last.dcp").glob("*.distcp"))) == 2  # one shard file per process
    assert checkpoint.load(tmp_path / "two" / "last.safetensors").meta["step"] == 5  # consolidated copy
    qtk("--resume", tmp_path / "two", "--max-steps", 10)
    resumed = curve(tmp_path / "two")
    assert len(resumed) == 10
    worst = max(abs(a - b) for a, b in zip(one, resumed))
    assert worst <= 1e-5, f"resumed on 1 process, the curve differs by {worst:.2e}"


def test_components_that_cannot_be_sharded_are_named():
    import torch

    class Unshardable(torch.nn.Module):
        def __init__(self, cfg, layer, spec=None):
            super().__init__()

    registry.register("mixer", "test-unshardable", fsdp=False)(Unshardable)
    try:
        cfg = config.load(flags={"model.layers": "dense,test-unshardable"}).model
        assert sharded.unshardable(cfg) == ["mixer 'test-unshardable'"]

        class Fake(torch.nn.Module):
            pass

        fake = Fake()
        fake.cfg = cfg
        with pytest.raises(UsageError, match="mixer 'test-unshardable' cannot be sharded"):
            sharded.shard(fake, torch.device("cpu"), None)
    finally:
        registry.unregister("mixer", "test-unshardable")
    assert sharded.unshardable(config.load(flags={"model.n_layer": 4, "model.layers": "dense,sliding,topk,nsa"}).model) == []


def test_commit_keeps_a_complete_directory(tmp_path):
    final, tmp = tmp_path / "last.dcp", tmp_path / ".last.dcp.tmp-7"
    final.mkdir()
    (final / "a").write_text("old")
    tmp.mkdir()
    (tmp / "a").write_text("new")
    sharded._commit(tmp, final)
    assert (final / "a").read_text() == "new" and not tmp.exists() and not (tmp_path / ".last.dcp.old").exists()
