"""Linear-time mixers against dense attention (issue 13), in four parts:

- `speed`: training throughput (forward + backward tokens/s) of one layer of each mixer vs dense
  SDPA attention at the same width, T = 512, 2048, 8192 at equal tokens per batch, round-robin
  over the mixers so a shared machine's load hits all alike; the crossover length;
- `decode`: ms per decoded token and decode-state bytes of one layer at positions 1k, 8k, 64k:
  the state is built at that position (a chunked prefill for the mixers, a KV cache of that
  length for dense attention), then single steps are timed;
- `quality`: `qtk train` of each configs/experiments file (baseline, pure mixers, hybrids) for
  the same token budget and seeds on the built-in corpus: held-out bits per byte, mean +- std;
- `mqar`: the same trainings on the `mqar` associative-recall task, accuracy at the answers.

Training runs go through the CLI (`python -m qtk train ... --json`), one process each, and are
appended to a JSONL file, so an interrupted sweep resumes where it stopped. `report` renders the
tables (markdown) from what was measured; `--results bench/RESULTS.md` appends them.

    python bench/mixers.py speed --threads 2
    python bench/mixers.py decode --threads 2
    python bench/mixers.py quality --steps 300 --batch-size 8 --seeds 0,1,2 --log bench/out/quality.jsonl
    python bench/mixers.py mqar --steps 300 --batch-size 16 --seeds 0 --log bench/out/mqar.jsonl
    python bench/mixers.py report --quality bench/out/quality.jsonl --mqar bench/out/mqar.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "configs" / "experiments"
CONFIGS = ["baseline", "linear", "retnet", "mamba2", "osc", "hybrid_mamba2", "hybrid_retnet"]
MIXERS = ["dense", "linear", "retnet", "mamba2", "osc"]


# ------------------------------------------------------------------ one layer (speed, decode)

def layer(name: str, T: int):
    """One mixer of the tiny preset's width (n_embd 128, 4 heads) and a Context for T tokens."""
    import torch

    from qtk import config
    from qtk.model.context import Context
    from qtk.model.rope import rope_tables
    from qtk import registry

    cfg = config.load("tiny", sets=[("model.mixer", name)]).model
    cfg.vocab_size = 320
    torch.manual_seed(0)
    module = registry.get("mixer", name)(cfg, 0)
    from qtk.model.gpt import initialise

    initialise(module, cfg)
    cos, sin = rope_tables(cfg.n_embd // cfg.n_head, T, cfg.rope_theta)
    ctx = Context(torch.zeros(1, T, dtype=torch.long), torch.arange(T), cos, sin)
    return module, ctx, cfg


def speed(args: argparse.Namespace) -> list[dict]:
    """Forward + backward tokens/s of one layer per mixer and length, same tokens per batch,
    round-robin over mixers (median of `rounds`)."""
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for T in (int(t) for t in args.lengths.split(",")):
        B = max(1, args.tokens // T)
        setups = {}
        for name in MIXERS:
            module, ctx, cfg = layer(name, T)
            ctx.idx = torch.zeros(B, T, dtype=torch.long)
            setups[name] = (module.train(), ctx, torch.randn(B, T, cfg.n_embd))
        times = {name: [] for name in MIXERS}
        for r in range(args.rounds + 1):  # round 0 warms up
            for name, (module, ctx, x) in setups.items():
                x = x.detach().requires_grad_(True)
                t0 = time.perf_counter()
                module(x, ctx).square().mean().backward()
                if r:
                    times[name].append(time.perf_counter() - t0)
                module.zero_grad(set_to_none=True)
        dense = statistics.median(times["dense"])
        for name in MIXERS:
            med = statistics.median(times[name])
            rows.append({"T": T, "batch": B, "mixer": name, "tokens_per_s": B * T / med, "vs_dense": dense / med})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def decode(args: argparse.Namespace) -> list[dict]:
    """ms per decoded token of one layer at position P, from a state of that position: the
    mixers' fixed-size state (random values: its size and the step's work do not depend on P),
    dense attention's KV cache holding P random keys/values; steps timed round-robin."""
    import torch

    from qtk.model.state import DecodeState, KVState

    torch.set_num_threads(args.threads)
    # "cpu": this thread's CPU time, which a loaded machine's scheduling waits do not inflate
    # (with --threads 1 all of a step's work runs on this thread)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    rows = []
    for P in (int(p) for p in args.positions.split(",")):
        setups = {}
        for name in args.mixers.split(","):
            module, ctx, cfg = layer(name, P + args.steps + 1)
            module.eval()
            if name == "dense":
                st = KVState(1, module.n_kv_head, module.head_dim, P + args.steps + 1, "cpu", torch.float32)
                st.append(torch.randn(1, module.n_kv_head, P, module.head_dim), torch.randn(1, module.n_kv_head, P, module.head_dim))
            else:
                st = module.new_state(1, "cpu", torch.float32)
                for key, t in st.tensors().items():
                    st[key] = torch.randn_like(t) * 0.1
            state = DecodeState({(0, "mixer"): st}, 1)
            state.length = P
            setups[name] = (module, ctx, state, st)
        times = {name: [] for name in setups}
        nbytes = {name: setups[name][3].nbytes for name in setups}  # at position P, before stepping
        with torch.no_grad():
            for i in range(args.steps):
                for name, (module, ctx, state, st) in setups.items():
                    p = P + i
                    step_ctx = type(ctx)(torch.zeros(1, 1, dtype=torch.long), torch.tensor([p]),
                                         ctx.cos[p:p + 1], ctx.sin[p:p + 1], state)
                    x = torch.randn(1, 1, 128)
                    t0 = clock()
                    module(x, step_ctx)
                    times[name].append(clock() - t0)
                    state.advance(1)
        dense = statistics.median(times["dense"][args.steps // 5:]) if "dense" in times else math.nan
        for name in args.mixers.split(","):
            med = statistics.median(times[name][args.steps // 5:])  # the first fifth warms up
            rows.append({"position": P, "mixer": name, "ms_per_token": med * 1e3, "state_bytes": nbytes[name],
                         "speedup_vs_dense": dense / med})
            print(json.dumps(rows[-1]), flush=True)
    return rows


# ------------------------------------------------------------------ training sweeps (quality, mqar)

def _done(log: Path) -> set[tuple[str, int]]:
    if not log.is_file():
        return set()
    return {(r["config"], r["seed"]) for r in map(json.loads, log.read_text().splitlines())}


def train_one(name: str, seed: int, steps: int, batch: int, data: list[str], threads: int) -> dict:
    """One `qtk train` run in its own process; its --json result plus what eval says."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "qtk", "train", "--size", "tiny", "--config", str(EXPERIMENTS / f"{name}.toml"),
               "--max-steps", str(steps), "--out-dir", str(run), "--json", *data,
               "--set", f"train.seed={seed}", "--set", f"train.batch_size={batch}", "--set", "train.eval_interval=0",
               "--set", f"train.warmup_steps={max(1, steps // 20)}", "--set", "train.device=cpu"]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if out.returncode:
            raise RuntimeError(f"{name} seed {seed}: qtk train failed: {out.stderr.strip()[-500:]}")
        res = json.loads(out.stdout)
        extra = {}
        if "mqar" in data:
            ev = subprocess.run([sys.executable, "-m", "qtk", "eval", str(run), "--data", "mqar", "--json"],
                                capture_output=True, text=True, env=env, cwd=ROOT)
            if ev.returncode:
                raise RuntimeError(f"{name} seed {seed}: qtk eval failed: {ev.stderr.strip()[-500:]}")
            extra = {"mqar_accuracy": json.loads(ev.stdout)["answer_accuracy"]}
    return {"config": name, "seed": seed, "steps": steps, "batch": batch, "wall_s": time.perf_counter() - t0,
            **{k: res[k] for k in ("val_bpb", "val_loss", "params", "tokens", "tokens_per_s")}, **extra}


def sweep(args: argparse.Namespace, data: list[str]) -> None:
    log = Path(args.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    done = _done(log)
    for seed in (int(s) for s in args.seeds.split(",")):
        for name in args.configs.split(","):
            if (name, seed) in done:
                continue
            rec = train_one(name, seed, args.steps, args.batch_size, data, args.threads)
            print(json.dumps(rec), flush=True)
            with open(log, "a") as f:
                f.write(json.dumps(rec) + "\n")


# ------------------------------------------------------------------ report

def _read(paths: list[str]) -> list[dict]:
    return [json.loads(line) for p in paths if Path(p).is_file() for line in Path(p).read_text().splitlines()]


def _mean_std(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.3f} +- {statistics.stdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"


def report(args: argparse.Namespace) -> str:
    """Markdown tables from the logs of the four parts (only what was measured)."""
    out = []
    speed_rows = _read([args.speed])
    if speed_rows:
        lengths = sorted({r["T"] for r in speed_rows})
        out += ["Training throughput, one layer, forward + backward tokens/s (x dense in brackets):", "",
                "| mixer | " + " | ".join(f"T={T}" for T in lengths) + " | faster than dense from |",
                "|---|" + "---:|" * len(lengths) + "---|"]
        for name in MIXERS:
            cells, cross = [], "never (up to 8192)"
            for T in lengths:
                r = next(r for r in speed_rows if r["T"] == T and r["mixer"] == name)
                cells.append(f"{r['tokens_per_s']:,.0f} ({r['vs_dense']:.2f}x)")
                if name != "dense" and r["vs_dense"] > 1 and cross.startswith("never"):
                    cross = f"T={T}"
            out.append(f"| {name} | " + " | ".join(cells) + f" | {cross if name != 'dense' else '-'} |")
        out.append("")
    dec = _read([args.decode])
    if dec:
        pos = sorted({r["position"] for r in dec})
        out += ["Decode, one layer: ms per token (state bytes) at each position; x dense in brackets:", "",
                "| mixer | " + " | ".join(f"pos {p}" for p in pos) + " | growth first -> last |",
                "|---|" + "---:|" * len(pos) + "---:|"]
        for name in MIXERS:
            rs = [next(r for r in dec if r["position"] == p and r["mixer"] == name) for p in pos]
            cells = [f"{r['ms_per_token']:.2f} ms, {r['state_bytes']:,} B ({r['speedup_vs_dense']:.2f}x)" for r in rs]
            growth = rs[-1]["ms_per_token"] / rs[0]["ms_per_token"] - 1
            out.append(f"| {name} | " + " | ".join(cells) + f" | {growth:+.0%} |")
        out.append("")
    for title, paths, key in (("Quality", args.quality, "val_bpb"), ("MQAR", args.mqar, "mqar_accuracy")):
        rows = _read(paths.split(","))
        if not rows:
            continue
        base = [r[key] for r in rows if r["config"] == "baseline"]
        out += [f"{title}: {key} (mean +- std over seeds; n = seeds that finished):", "",
                f"| config | params | {key} | n | vs baseline | train tokens/s |", "|---|---:|---:|---:|---:|---:|"]
        for name in CONFIGS:
            rs = [r for r in rows if r["config"] == name]
            if not rs:
                out.append(f"| {name} | | not run | 0 | | |")
                continue
            vals = [r[key] for r in rs]
            delta = f"{statistics.mean(vals) - statistics.mean(base):+.3f}" if base and name != "baseline" else "-"
            out.append(f"| {name} | {rs[0]['params']:,} | {_mean_std(vals)} | {len(vals)} | {delta} | "
                       f"{statistics.median(r['tokens_per_s'] for r in rs):,.0f} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="part", required=True)
    for part in ("quality", "mqar"):
        s = sub.add_parser(part)
        s.add_argument("--steps", type=int, default=300)
        s.add_argument("--batch-size", type=int, default=8)
        s.add_argument("--seeds", default="0,1,2")
        s.add_argument("--configs", default=",".join(CONFIGS))
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--corpus", default="pydoc", help="built-in corpus of the quality part")
        s.add_argument("--pairs", type=int, default=4, help="key-value pairs per mqar sample")
        s.add_argument("--log", default=f"bench/out/{part}.jsonl")
    s = sub.add_parser("speed")
    s.add_argument("--lengths", default="512,2048,8192")
    s.add_argument("--tokens", type=int, default=8192, help="tokens per batch at every length")
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--log", default="bench/out/speed.jsonl")
    s = sub.add_parser("decode")
    s.add_argument("--positions", default="1024,8192,65536")
    s.add_argument("--steps", type=int, default=50)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    s.add_argument("--mixers", default=",".join(MIXERS), help="which layers to step, round-robin")
    s.add_argument("--log", default="bench/out/decode.jsonl")
    s = sub.add_parser("report")
    s.add_argument("--speed", default="bench/out/speed.jsonl")
    s.add_argument("--decode", default="bench/out/decode.jsonl")
    s.add_argument("--quality", default="bench/out/quality.jsonl", help="comma-separated JSONL logs")
    s.add_argument("--mqar", default="bench/out/mqar.jsonl", help="comma-separated JSONL logs")
    args = p.parse_args()
    if args.part == "report":
        print(report(args))
        return
    if args.part in ("speed", "decode"):
        rows = speed(args) if args.part == "speed" else decode(args)
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        Path(args.log).write_text("".join(json.dumps(r) + "\n" for r in rows))
        return
    if args.part == "quality":
        sweep(args, ["--set", f"data.corpus={args.corpus}"])
    elif args.part == "mqar":
        # one 64-token sample per window: <|endoftext|> + 63 tokens holding `pairs` pairs and their queries
        sweep(args, ["--data", "mqar", "--set", "model.block_size=64", "--set", "data.mqar.seq_len=63",
                     "--set", f"data.mqar.pairs={args.pairs}"])


if __name__ == "__main__":
    main()
