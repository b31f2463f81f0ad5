"""Model FLOPs per token, device peaks, MFU and tokens/s of the training steps alone."""

import json
import time

import pytest

from conftest import tiny_config
from qtk import config
from qtk.train import loop, throughput
from qtk.train.flops import flops_per_token


def model_cfg(**sets):
    return config.load(flags={"model.vocab_size": 320, "model.n_layer": 2, "model.n_head": 4, "model.n_embd": 64,
                              "model.block_size": 64, **sets}).model


def test_flops_dense_is_palm_6n_plus_attention():
    m = model_cfg()
    n = 123_456
    # 6 (N + tied head V x d) + 12 L H Q T
    assert flops_per_token(m, n) == 6 * (n + 320 * 64) + 12 * 2 * 4 * 16 * 64
    untied = model_cfg(**{"model.tie_embeddings": False})
    assert flops_per_token(untied, n) == 6 * n + 12 * 2 * 4 * 16 * 64


def test_flops_per_component():
    sliding = model_cfg(**{"model.layers": "dense,sliding", "model.sliding.window": 16})
    assert flops_per_token(sliding, 0) == 6 * 320 * 64 + 12 * 4 * 16 * (64 + 16)
    topk = model_cfg(**{"model.mixer": "topk", "model.topk.k": 8})
    assert flops_per_token(topk, 0) == 6 * 320 * 64 + 2 * 12 * 4 * 16 * (64 + 8) / 2


def test_moe_counts_routed_experts_only():
    from qtk.model import GPT

    cfg = config.load(flags={"model.vocab_size": 320, "model.n_layer": 1, "model.n_head": 4, "model.n_embd": 32,
                             "model.block_size": 16, "model.ffn": "moe", "model.moe.n_experts": 4,
                             "model.moe.top_k": 1}).model
    model = GPT(cfg)
    experts = sum(p.numel() for m in model.modules() if hasattr(m, "top_k") and hasattr(m, "experts")
                  for p in m.experts.parameters())
    assert experts > 0
    assert throughput.active_non_embedding_params(model) == model.num_params(non_embedding=True) - experts * 3 // 4


def test_gpu_peak_table():
    assert throughput.gpu_peak("NVIDIA H100 PCIe") == 756e12
    assert throughput.gpu_peak("NVIDIA H100 80GB HBM3") == 989e12
    assert throughput.gpu_peak("NVIDIA A100-SXM4-80GB") == 312e12
    assert throughput.gpu_peak("Some Future GPU") is None


def test_cpu_peak_is_measured_once_and_cached(monkeypatch):
    calls = []
    monkeypatch.setattr(throughput, "measure_cpu_peak", lambda: calls.append(1) or 1.5e11)
    (throughput.cache_dir() / "cpu_peak.json").unlink(missing_ok=True)
    monkeypatch.setattr(throughput, "_load", lambda: 8.0)
    assert throughput.cpu_peak() == 1.5e11 and throughput.cpu_peak() == 1.5e11
    assert len(calls) == 1
    # much quieter now: measured again, the better figure kept
    monkeypatch.setattr(throughput, "_load", lambda: 1.0)
    monkeypatch.setattr(throughput, "measure_cpu_peak", lambda: calls.append(1) or 1.2e11)
    assert throughput.cpu_peak() == 1.5e11 and len(calls) == 2


def test_two_ranks_writing_the_peak_cache_at_once_both_succeed(monkeypatch):
    """Ranks of one run share the cache: a second writer finishing while the first is between its
    write and its rename must not take the first's temp file away."""
    path = throughput.cache_dir() / "cpu_peak.json"
    path.unlink(missing_ok=True)
    monkeypatch.setattr(throughput, "_load", lambda: 8.0)
    real_write = throughput.atomic_write

    def write_then_let_the_other_rank_finish(target, write):
        def racing(tmp):
            write(tmp)
            monkeypatch.setattr(throughput, "atomic_write", real_write)
            monkeypatch.setattr(throughput, "measure_cpu_peak", lambda: 1.0e11)
            assert throughput.cpu_peak() == 1.0e11  # the other rank, start to finish
        real_write(target, racing)

    monkeypatch.setattr(throughput, "atomic_write", write_then_let_the_other_rank_finish)
    monkeypatch.setattr(throughput, "measure_cpu_peak", lambda: 1.5e11)
    assert throughput.cpu_peak() == 1.5e11
    assert json.loads(path.read_text()) and not list(path.parent.glob(".cpu_peak.json.*.tmp"))


def test_steps_alone_exclude_evaluation_and_mfu_is_reported(tmp_path, monkeypatch):
    real_eval = loop.Trainer._periodic_eval

    def slow_eval(self, elapsed):
        time.sleep(1.0)
        return real_eval(self, elapsed)

    monkeypatch.setattr(loop.Trainer, "_periodic_eval", slow_eval)
    monkeypatch.setattr(throughput, "cpu_peak", lambda: 1e11)
    cfg = tiny_config(**{"train.max_steps": 6, "train.eval_interval": 2, "train.log_interval": 2})
    r = loop.train(cfg, out_dir=str(tmp_path / "r"))
    recs = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    steps = [x for x in recs if "tokens_per_s" in x]
    assert len(steps) == 3
    # 3 evaluations slept 3 s inside the run; the steps' own time leaves them out
    step_seconds = r.steps * 8 * 64 / r.tokens_per_s
    assert step_seconds < r.elapsed_s - 3.0
    for x in steps:
        assert x["mfu"] == pytest.approx(x["tokens_per_s"] * r.flops_per_token / 1e11)
    assert r.mfu == pytest.approx(r.tokens_per_s * r.flops_per_token / 1e11) and r.peak_flops == 1e11
