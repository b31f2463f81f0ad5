"""qtk compare: the statistics against hand computations, the FLOPs estimate, and end-to-end
comparisons of tiny models (identical configs agree exactly, a worse learning rate is resolved as
worse, an interrupted comparison resumes to the same table, the markdown is a table)."""

import json
import math
import os
import re
import signal

import pytest

from qtk.compare import report, runner, stats

# A ~25k-parameter model, 96 steps of 8 x 32 tokens: a few seconds per run.
SETS = ["data.corpus=pydoc", "train.batch_size=8", "train.warmup_steps=5", "train.eval_tokens=2048",
        "model.n_layer=1", "model.n_embd=32", "model.n_head=2", "model.block_size=32"]
TOKENS = 24576


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cfgs")
    (d / "base.toml").write_text("[train]\nlr = 2e-3\n")
    (d / "slow.toml").write_text("[train]\nlr = 2e-4\n")  # a tenth of the learning rate
    return d


def _sets_args():
    return [a for s in SETS for a in ("--set", s)]


@pytest.fixture(scope="module")
def compared(configs, tmp_path_factory):
    """base, the same config again, and base at a tenth of the learning rate; 3 seeds, via the CLI."""
    from typer.testing import CliRunner

    from qtk.cli import app

    out = tmp_path_factory.mktemp("cmp") / "c"
    args = ["compare", str(configs / "base.toml"), str(configs / "base.toml"), str(configs / "slow.toml"),
            "--name", "base", "--name", "twin", "--name", "slow", "--seeds", "3", "--tokens", str(TOKENS),
            *_sets_args(), "-o", str(out), "--json", "--plot", str(out / "curves.png")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.stderr
    return out, json.loads(r.stdout), args


def test_t_interval_matches_hand_computation():
    iv = stats.t_interval([1.0, 2.0, 4.0])
    mean = 7 / 3
    std = math.sqrt(((1 - mean) ** 2 + (2 - mean) ** 2 + (4 - mean) ** 2) / 2)
    half = 4.302652729911275 * std / math.sqrt(3)  # t_{0.975, 2 dof}
    assert iv.mean == pytest.approx(mean) and iv.std == pytest.approx(std)
    assert (iv.low, iv.high) == (pytest.approx(mean - half), pytest.approx(mean + half))
    one = stats.t_interval([3.0])
    assert one.std is None and one.low is None and not one.excludes_zero()


def test_paired_interval_is_per_seed():
    base = {1: 1.0, 2: 3.0, 3: 2.0}
    variant = {1: 0.9, 2: 2.8, 3: 1.85, 4: 0.0}  # seed 4 has no baseline: left out
    d = stats.paired(variant, base)
    diffs = [-0.1, -0.2, -0.15]
    mean = sum(diffs) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 2)
    assert d.n == 3 and d.mean == pytest.approx(mean) and d.std == pytest.approx(std)
    assert d.high == pytest.approx(mean + 4.302652729911275 * std / math.sqrt(3))
    # unpaired, the seeds' spread (1.0 to 3.0) would swamp a 0.15 gap; paired, it is resolved
    assert d.excludes_zero() and d.high < 0
    assert not stats.t_interval(list(variant.values())[:3]).excludes_zero()
    assert stats.ratio_geomean({1: 2.0, 2: 8.0}, {1: 1.0, 2: 2.0}) == pytest.approx(math.sqrt(2 * 4))


def test_flops_estimate_counts_the_parameters_a_token_uses():
    from qtk import config
    from qtk.model import GPT
    from qtk.train.flops import flops_per_token, model_flops_per_token

    dense = config.load("tiny", flags={"model.vocab_size": 320})
    moe = config.load("tiny", flags={"model.vocab_size": 320, "model.ffn": "moe", "model.router": "switch",
                                     "model.moe.n_experts": 4, "model.moe.top_k": 1})
    d, m = GPT(dense.model), GPT(moe.model)
    c = dense.model
    # tied head: the embedding counts once, as the head's matmul; attention over T keys per layer
    n, fpt = model_flops_per_token(c)
    assert n == d.num_params() and fpt == 6 * d.num_params() + 12 * 4 * 128 * 128
    # one of 4 equally wide experts per token: the dense FFN's work plus the routers'
    routers = sum(p.numel() for b in m.blocks for p in b.ffn.router.parameters())
    assert model_flops_per_token(moe.model)[1] == fpt + 6 * routers
    assert flops_per_token(c, d.num_params(non_embedding=True)) == fpt


def test_identical_configs_give_identical_numbers(compared):
    _, s, _ = compared
    runs = {(r["config"], r["seed"]): r for r in s["runs"]}
    for seed in (1, 2, 3):
        a, b = runs[("base", seed)], runs[("twin", seed)]
        for key in ("val_bpb", "val_loss", "steps", "tokens", "params", "flops_per_token"):
            assert a[key] == b[key], key
        assert [p["bpb"] for p in a["curve"]] == [p["bpb"] for p in b["curve"]]
    twin = next(r for r in s["configs"] if r["name"] == "twin")
    assert twin["diff_bpb"]["mean"] == 0 and twin["diff_bpb"]["std"] == 0
    # different seeds do differ (else the interval would be meaningless)
    assert len({runs[("base", seed)]["val_bpb"] for seed in (1, 2, 3)}) == 3


def test_worse_variant_is_resolved_as_worse(compared):
    _, s, _ = compared
    rows = {r["name"]: r for r in s["configs"]}
    slow, base = rows["slow"], rows["base"]
    assert slow["verdict"] == "worse" and slow["diff_bpb"]["low"] > 0
    by = {(r["config"], r["seed"]): r["val_bpb"] for r in s["runs"]}
    assert slow["diff_bpb"]["mean"] == pytest.approx(sum(by[("slow", k)] - by[("base", k)] for k in (1, 2, 3)) / 3)
    assert base["verdict"] == "baseline" and slow["matched"] == {"params": True, "flops": True}
    # throughput measured side by side: 3 rounds, the ratio is the geometric mean of each round's
    rates, ref = slow["tokens_per_s_side_by_side"], base["tokens_per_s_side_by_side"]
    assert len(rates) == len(ref) == 3 and min(rates + ref) > 0
    assert slow["tokens_per_s_ratio"] == pytest.approx(math.prod(a / b for a, b in zip(rates, ref)) ** (1 / 3))
    assert s["finished_runs"] == s["planned_runs"] == 9 and not s["interrupted"]
    steps = math.ceil(TOKENS / (8 * 32))
    assert all(r["steps"] == steps and r["tokens"] == steps * 256 for r in s["runs"])
    assert all(len(r["curve"]) == 8 and r["curve"][-1]["tokens"] == r["tokens"] for r in s["runs"])


def test_rerun_skips_finished_runs_and_markdown_is_a_table(compared):
    from typer.testing import CliRunner

    from qtk.cli import app

    out, s, args = compared
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/last.safetensors")}
    md_args = [a for a in args if a not in ("--json",)]
    md_args = md_args[:md_args.index("--plot")] + ["--markdown"]
    r = CliRunner().invoke(app, md_args)
    assert r.exit_code == 0, r.stderr
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/last.safetensors")} == before
    assert r.stderr.count("(finished earlier)") == 9
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    assert rows[0] == report.HEADER and all(re.fullmatch(r"-+", c) for c in rows[1])
    assert len(rows) == 2 + 3 and all(len(row) == len(report.HEADER) for row in rows)
    slow = next(row for row in rows if row[0] == "slow")
    d = next(c for c in s["configs"] if c["name"] == "slow")["diff_bpb"]
    assert slow[4] == f"{d['mean']:+.3f} ± {d['std']:.3f}" and slow[6] == "worse"
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _CtrlC(runner.CompareReporter):
    """Presses Ctrl-C (a real SIGINT) at one step of one run. The comparison only notes it, and
    stops where the loop's state is whole: here after the evaluation of that step (every 12th)."""

    def __init__(self, name, seed, step):
        self.at, self.current = (name, seed, step), None

    def run_start(self, name, seed, index, total, resumed):
        self.current = (name, seed)

    def step(self, rec):
        if (*self.current, rec["step"]) == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_then_rerun_gives_the_uninterrupted_table(compared, configs, tmp_path):
    from qtk.cli.common import parse_sets

    _, full, _ = compared
    entries = runner.resolve([str(configs / "base.toml"), str(configs / "slow.toml")], ["base", "slow"], "tiny",
                             parse_sets(SETS))
    budget = runner.Budget("tokens", TOKENS)
    out = tmp_path / "c"
    first = runner.run(entries, budget, [1, 2], out, reporter=_CtrlC("slow", 1, 36))
    assert first.interrupted and [(r["config"], r["seed"]) for r in first.records] == [("base", 1)]
    assert report.summarize(first)["notes"][0].startswith("partial: 1 of 4 runs finished")
    second = runner.run(entries, budget, [1, 2], out)
    assert not second.interrupted
    assert [r["resumed"] for r in second.records] == [False, True, False, False]
    # the uninterrupted comparison of the same configs and seeds, taken from the 3-seed run
    keep = {("base", 1), ("base", 2), ("slow", 1), ("slow", 2)}
    ref = runner.Comparison(entries, budget, [1, 2], out,
                            records=[r for r in full["runs"] if (r["config"], r["seed"]) in keep])
    quality = slice(0, 9)  # every column but throughput and memory, which are timings
    assert [row[quality] for row in report.cells(report.summarize(second))] == \
        [row[quality] for row in report.cells(report.summarize(ref))]
    for a, b in zip(sorted(second.records, key=lambda r: (r["config"], r["seed"])), sorted(ref.records, key=lambda r: (r["config"], r["seed"]))):
        assert (a["val_bpb"], [p["bpb"] for p in a["curve"]]) == (b["val_bpb"], [p["bpb"] for p in b["curve"]])


def test_changed_config_under_existing_comparison_is_named(configs, tmp_path):
    from qtk.cli.common import parse_sets

    base, slow = str(configs / "base.toml"), str(configs / "slow.toml")
    entries = runner.resolve([base, slow], None, "tiny", parse_sets(SETS))
    runner.prepare_dir(tmp_path, entries, runner.Budget("tokens", 1000))
    saved = (tmp_path / "configs" / "slow.toml").read_text()
    changed = runner.resolve([base, slow], None, "tiny", parse_sets(SETS + ["model.n_embd=64"]))
    with pytest.raises(runner.UsageError, match=r"config 'base' .*base\.toml"):
        runner.prepare_dir(tmp_path, changed, runner.Budget("tokens", 1000))
    with pytest.raises(runner.UsageError, match="budget of 1,000 tokens"):
        runner.prepare_dir(tmp_path, entries, runner.Budget("tokens", 2000))
    assert (tmp_path / "configs" / "slow.toml").read_text() == saved  # nothing overwritten


def test_flops_budget_sets_the_steps(configs):
    from qtk.cli.common import parse_sets
    from qtk.train.flops import model_flops_per_token

    e = runner.resolve([str(configs / "base.toml"), "tiny"], None, "tiny", parse_sets(SETS))[0]
    cfg = runner.run_config(e, 2, runner.Budget("tokens", TOKENS), 8)
    fpt = model_flops_per_token(_with_vocab(cfg.model, 320))[1]  # the byte tokenizer, padded
    by_flops = runner.run_config(e, 2, runner.Budget("flops", fpt * TOKENS), 8)
    assert by_flops.train.max_steps == cfg.train.max_steps == 96 and cfg.train.seed == 2
    assert runner.run_config(e, 1, runner.Budget("time", 30), 8).train.max_time == 30


def _with_vocab(m, v):
    import copy

    m = copy.deepcopy(m)
    m.vocab_size = v
    return m


def test_report_notes_tokenizers_and_unmatched_variants():
    def rec(config, seed, bpb, tok, params, fpt):
        return {"config": config, "seed": seed, "val_bpb": bpb, "tokens": 1000, "tokenizer": tok, "params": params,
                "flops_per_token": fpt, "tokens_per_s": 100.0, "peak_mem_mb": 1.0, "load_before": 1.0,
                "load_after": 2.0}

    entries = [runner.Entry(n, n, None, "", "") for n in ("base", "bpe", "big")]
    records = [rec("base", 1, 2.0, "byte", 100, 600.0), rec("bpe", 1, 1.9, "bpe-4096", 104, 610.0),
               rec("big", 1, 1.5, "byte", 200, 1200.0)]
    s = report.summarize(runner.Comparison(entries, runner.Budget("tokens", 1000), [1], None, records))
    assert any(n.startswith("tokenizers differ (base: byte, bpe: bpe-4096, big: byte)") for n in s["notes"])
    warn = [n for n in s["notes"] if n.startswith("warning")]
    assert warn == ["warning: big is matched to the baseline on neither parameters (+100.0%) nor FLOPs per "
                    "token (+100.0%) within 5%"]
    assert [r["verdict"] for r in s["configs"]] == ["baseline", "n/a (one seed)", "n/a (one seed)"]


@pytest.mark.parametrize("argv,msg", [
    (["a.toml"], "at least two configs"),
    (["tiny", "tiny", "--tokens", "0"], "--tokens must be > 0"),
    (["tiny", "small"], "give exactly one budget"),
    (["tiny", "small", "--tokens", "5", "--time", "3"], "give exactly one budget"),
    (["tiny", "nope.toml", "--tokens", "5"], "nope.toml: no such config file"),
    (["tiny", "tiny", "--tokens", "5"], "both named 'tiny'"),
])
def test_bad_input_is_one_line(cli, argv, msg):
    r = cli("compare", *argv)
    assert r.exit_code == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_unknown_key_names_the_file(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nn_layers = 2\n")
    r = cli("compare", "tiny", bad, "--tokens", "5")
    assert r.exit_code == 2 and r.stderr.startswith(f"qtk compare: error: {bad}: unknown config key 'model.n_layers'")


def test_shipped_experiment_configs_resolve_away_from_a_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here: the ones shipped with qtk are found
    entries = runner.resolve(["configs/experiments/baseline.toml", "experiments/engram.toml", "small"], None,
                             "tiny", [])
    assert [e.name for e in entries] == ["baseline", "engram", "small"]
    assert entries[1].cfg.model.memory == "engram" and entries[1].cfg.model.n_embd == 128
    assert entries[2].cfg.model.n_embd != 128 and entries[0].digest != entries[1].digest
