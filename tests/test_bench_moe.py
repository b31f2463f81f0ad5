"""qtk bench-moe: result structure and invariants, the FLOPs formula, dispatch parity, routing
statistics, the plot, and bad input. Tiny widths and few tokens so the file runs in seconds."""

import json
import math

import pytest
import torch

from qtk import config
from qtk.tools.bench_moe import BenchOptions, bench_moe
from qtk.tools.bench_moe.routing import Probe, routing_stats
from qtk.tools.bench_moe.variants import Variant, flops_per_token

SETS = {"data.corpus": "pydoc", "model.n_embd": 32, "model.n_head": 4, "model.block_size": 32,
        "train.batch_size": 4, "train.device": "cpu"}
CLI_SETS = [a for k, v in SETS.items() for a in ("--set", f"{k}={v}")]


def small_config():
    return config.load("tiny", flags=SETS)


@pytest.fixture(scope="module")
def result():
    opts = BenchOptions(routers=["hash", "switch"], top_ks=[1, 2], experts=[2, 4], tokens=[1, 64],
                        warmup=1, repeat=2, capacity_factor=1.0, route_tokens=512, train_steps=2, threads=1)
    return bench_moe(small_config(), opts)


def by_name(result, name):
    return next(v for v in result["variants"] if v["name"] == name)


def test_result_has_config_machine_and_every_variant(result):
    assert {"config", "machine", "variants"} <= set(result)
    names = [v["name"] for v in result["variants"]]
    # hash runs top-1 only; switch at both k; dense first
    assert names == ["dense", "hash E=2 k=1", "hash E=4 k=1", "switch E=2 k=1", "switch E=4 k=1",
                     "switch E=2 k=2", "switch E=4 k=2"]
    for v in result["variants"]:
        assert {"params_total", "params_active", "flops_per_token", "timings", "routing", "training"} <= set(v)
        assert ("dispatch" in v) == (v["ffn"] == "moe")
    json.dumps(result)  # plain JSON, no tensors left


def test_parameter_invariants(result):
    dense = by_name(result, "dense")
    assert dense["n_experts"] == 1 and dense["params_active"] == dense["params_total"]
    for v in result["variants"]:
        assert v["params_active"] <= v["params_total"]
    assert by_name(result, "switch E=4 k=2")["params_active"] > by_name(result, "switch E=4 k=1")["params_active"]
    # hash: no router parameters, E experts the size of the dense MLP, one active
    assert by_name(result, "hash E=4 k=1")["params_total"] == 4 * dense["params_total"]
    assert by_name(result, "hash E=4 k=1")["params_active"] == dense["params_total"]


def test_flops_formula_on_a_known_config():
    cfg = config.load("tiny", flags={"model.n_embd": 64, "model.n_head": 4}).model  # hidden = 192
    dense = flops_per_token(Variant("dense", "mlp", None, 1, 1), cfg)
    assert dense == {"fwd": 6 * 64 * 192, "fwd_bwd": 3 * 6 * 64 * 192} == {"fwd": 73728, "fwd_bwd": 221184}
    switch = flops_per_token(Variant("s", "moe", "switch", 4, 2), cfg, router_params=64 * 4)
    assert switch["fwd"] == 2 * 64 * 4 + 2 * 73728 == 147968
    assert flops_per_token(Variant("h", "moe", "hash", 8, 1), cfg)["fwd"] == 73728


def test_flops_are_twice_the_active_parameters(result):
    # every layer here is matmuls only: one multiply-add per active weight and token
    for v in result["variants"]:
        assert v["flops_per_token"]["fwd"] == 2 * v["params_active"]


def test_timings_cover_the_sweep_with_a_consistent_summary(result):
    for v in result["variants"]:
        assert [t["tokens"] for t in v["timings"]] == [1, 64]
        for t in v["timings"]:
            for mode in ("fwd", "fwd_bwd"):
                s = t[mode]
                assert s["repeats"] >= 2
                assert 0 < s["min_ms"] <= s["q25_ms"] <= s["median_ms"] <= s["q75_ms"] <= s["max_ms"]
                assert math.isclose(s["tokens_per_s"], t["tokens"] / (s["median_ms"] / 1e3))


def test_dispatch_equals_the_naive_loop(result):
    for v in result["variants"]:
        for d in v.get("dispatch", []):
            assert d["tokens"] == 64
            assert d["max_abs_diff"] <= 1e-5 * max(1.0, d["max_abs_out"]), d
            assert d["max_abs_grad_diff"] <= 1e-5, d
            assert d["speedup"]["fwd"] > 0 and d["speedup"]["fwd_bwd"] > 0


def test_load_histogram_sums_to_tokens_times_k(result):
    assert result["config"]["route_tokens"] == 512
    for v in result["variants"]:
        r = v["routing"]
        assert len(r["load"]) == v["n_experts"]
        assert sum(r["load"]) == r["assignments"] == 512 * v["top_k"] and r["tokens"] == 512
        assert math.isclose(sum(r["share"]), 1.0)
        mean = 1 / v["n_experts"]
        assert math.isclose(r["cv"], r["std"] / mean) and math.isclose(r["maxvio"], max(r["share"]) / mean - 1)
        assert 0 <= r["unrouted_rate"] <= r["drop_rate"] * v["top_k"] + 1e-12
    dense = by_name(result, "dense")["routing"]
    assert dense["cv"] == dense["maxvio"] == dense["drop_rate"] == 0
    assert "entropy" in by_name(result, "switch E=4 k=1")["routing"]
    assert "entropy" not in by_name(result, "hash E=4 k=1")["routing"]


def test_training_steps_are_reported(result):
    for v in result["variants"]:
        assert v["training"]["steps"] == 2 and math.isfinite(v["training"]["val_loss"])
    assert "after 2 training steps" in result["config"]["hidden_states"]


def test_no_drops_without_a_capacity_limit_and_drops_with_a_tight_one():
    cfg = small_config().model
    cfg.vocab_size, cfg.ffn, cfg.router, cfg.moe.n_experts = 320, "moe", "hash", 4
    torch.manual_seed(0)
    probe = Probe(cfg)
    ids = torch.randint(0, 50, (2, 4, 32))  # 50 ids over 4 experts: uneven per batch
    assert routing_stats(probe, ids, capacity_factor=0.0)["drop_rate"] == 0
    tight = routing_stats(probe, ids, capacity_factor=0.5)
    assert 0.5 <= tight["drop_rate"] < 1  # capacity for half the tokens drops at least half
    assert tight["dropped"] == round(tight["drop_rate"] * 256)


def test_cli_json_and_plot(cli, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "moe.png"
    r = cli("bench-moe", *CLI_SETS, "--routers", "switch", "--top-k", "1", "--experts", "2", "--tokens", "1,8",
            "--repeat", "1", "--warmup", "0", "--route-tokens", "128", "--threads", "1", "--plot", png, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert [v["name"] for v in out["variants"]] == ["dense", "switch E=2 k=1"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_tables(cli):
    r = cli("bench-moe", *CLI_SETS, "--routers", "hash", "--experts", "2", "--tokens", "4", "--repeat", "1",
            "--warmup", "0", "--route-tokens", "64", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    for title in ("cost at n_embd 32", "forward (eval", "routing:", "dispatch:"):
        assert title in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--routers", "hash,bogus"], "unknown router 'bogus'"),
    (["--experts", "1,4", "--top-k", "2"], "--experts 1 is smaller than --top-k 2"),
    (["--tokens", "0,16"], "--tokens"),
    (["--tokens", "1,x"], "--tokens: expected comma-separated integers"),
    (["--repeat", "0"], "--repeat"),
    (["--capacity-factor", "-1"], "--capacity-factor"),
])
def test_bad_input_exits_2(cli, args, message):
    r = cli("bench-moe", *CLI_SETS, *args)
    assert r.exit_code == 2, r.stdout + r.stderr
    assert message in r.stderr


def test_plot_without_matplotlib_is_a_clear_error(result, monkeypatch, tmp_path):
    import sys

    from qtk.errors import QtkError
    from qtk.tools.bench_moe.plot import save_plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(QtkError, match="--plot needs matplotlib"):
        save_plot(result, tmp_path / "x.png")
