"""The honest comparison of the architecture components (issue 3): train the baseline and every
variant in configs/experiments/ for the same token budget on a built-in corpus (tiny size, CPU),
then compare held-out bits per byte (the whole held-out split), training throughput, peak memory,
parameters and forward FLOPs per token, each against the baseline.

Each config trains in its own process (through qtk.train.loop.train), so peak RSS is its own.
Throughput is measured separately, round-robin over all configs in one process (a few optimizer
steps each per round, median per config), so that a shared machine's changing load hits every
config alike. Prints the table and writes it as a markdown section; with --results, replaces (or
appends) the "## Components (issue 3)" section of that file.

    python bench/components.py --steps 300 --batch-size 8 --corpus pydoc --threads 1 [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "configs" / "experiments"
HEADING = "## Components (issue 3)"


def load_config(name: str, flags: dict | None = None):
    from qtk import config

    return config.load("tiny", EXPERIMENTS / f"{name}.toml", flags=flags)


def run_one(name: str, steps: int, batch: int, corpus: str, out_dir: str) -> dict:
    """Train one config in this process and return its measurements (the child side)."""
    import resource

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from qtk.load import load_model
    from qtk.train.loop import train

    cfg = load_config(name, {
        "train.max_steps": steps, "train.batch_size": batch, "train.eval_interval": 0, "train.device": "cpu",
        "train.warmup_steps": max(1, steps // 20), "train.log_interval": max(1, steps // 10), "data.corpus": corpus})
    res = train(cfg, out_dir)
    records = [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()]
    last_step = [r for r in records if "loss" in r][-1]
    model = load_model(res.checkpoint).model
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(torch.zeros(1, cfg.model.block_size, dtype=torch.long))
    return {"name": name, "val_bpb": res.val_bpb, "val_loss": res.val_loss, "params": res.params,
            "tokens": res.tokens, "train_s": res.elapsed_s,
            "mflop_per_token": fc.get_total_flops() / cfg.model.block_size / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "stats": {k: v for k, v in last_step.items() if k.startswith(("moe_", "mhc_"))}}


def throughput(names: list[str], batch: int, rounds: int = 3, steps: int = 3) -> dict[str, float]:
    """Training tokens/s per config (forward, backward, AdamW step on random byte tokens),
    measured round-robin so that load changes spread over all configs; median over rounds."""
    import torch

    from qtk.model import GPT

    setups = {}
    for name in names:
        cfg = load_config(name).model
        cfg.vocab_size = 320  # the byte tokenizer's, padded
        torch.manual_seed(0)
        model = GPT(cfg).train()
        setups[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4), cfg.block_size)
    x = torch.randint(0, 257, (batch, max(s[2] for s in setups.values()) + 1))

    def step(name: str) -> None:
        model, opt, T = setups[name]
        _, loss = model(x[:, :T], x[:, 1:T + 1])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    samples: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        step(name)  # warm-up
    for _ in range(rounds):
        for name in names:
            t0 = time.perf_counter()
            for _ in range(steps):
                step(name)
            samples[name].append(steps * batch * setups[name][2] / (time.perf_counter() - t0))
    return {name: statistics.median(s) for name, s in samples.items()}


def table(rows: list[dict]) -> str:
    base = rows[0]
    lines = ["| config | held-out bpb | vs base | train tokens/s | vs base | peak RSS MB | params | vs base "
             "| fwd MFLOP/token |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['val_bpb']:.4f} | {r['val_bpb'] - base['val_bpb']:+.4f} "
                     f"| {r['tokens_per_s']:,.0f} | {r['tokens_per_s'] / base['tokens_per_s']:.2f}x "
                     f"| {r['peak_rss_mb']:,.0f} | {r['params']:,} | {r['params'] / base['params'] - 1:+.1%} "
                     f"| {r['mflop_per_token']:.3f} |")
    return "\n".join(lines)


def section(rows: list[dict], args: argparse.Namespace, machine: str) -> str:
    notes = [f"- {r['name']}: " + ", ".join(f"{k} {v:.3g}" for k, v in r["stats"].items()) for r in rows if r["stats"]]
    command = (f"python bench/components.py --steps {args.steps} --batch-size {args.batch_size} "
               f"--corpus {args.corpus} --threads {args.threads}")
    return "\n".join([
        HEADING, "",
        f"`{command}` on {machine}, {date.today().isoformat()}. Every config: tiny preset + "
        f"configs/experiments/<name>.toml (each file says whether it matches the baseline's parameters or "
        f"FLOPs), same seed, {rows[0]['tokens']:,} training tokens; held-out bits per byte on the whole "
        f"held-out split; training tokens/s measured round-robin over the configs (batch {args.batch_size}); "
        "peak RSS of the training process; forward FLOPs per token as the torch implementation executes "
        "them (sliding/topk/NSA compute masked dense scores, so their sparsity saves nothing here).", "",
        table(rows), "", "Router / mixing statistics at the last logged training step:", *notes, ""])


def replace_section(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="optimizer steps per config (same for all)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--corpus", default="auto", help="built-in corpus: auto | shakespeare | pydoc")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default); on a busy "
                    "machine 1 avoids threads waiting on each other at every small op")
    ap.add_argument("--only", default="", help="comma-separated config names (baseline always runs)")
    ap.add_argument("--out-dir", default="", help="keep the runs here (default: a temporary directory)")
    ap.add_argument("--markdown", default="", help="write the section here (default: components.md in --out-dir)")
    ap.add_argument("--results", default="", help="also replace the section in this file (e.g. bench/RESULTS.md)")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)  # child mode: train one config, print JSON
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    out_root = Path(args.out_dir or tempfile.mkdtemp(prefix="qtk-components-"))
    if args.one:
        print(json.dumps(run_one(args.one, args.steps, args.batch_size, args.corpus, str(out_root / args.one))))
        return
    names = ["baseline"] + sorted(p.stem for p in EXPERIMENTS.glob("*.toml") if p.stem != "baseline")
    if args.only:
        names = ["baseline"] + [n for n in names[1:] if n in args.only.split(",")]
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, "--one", name, "--steps", str(args.steps), "--batch-size",
               str(args.batch_size), "--corpus", args.corpus, "--threads", str(args.threads),
               "--out-dir", str(out_root)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        (out_root / "rows.json").write_text(json.dumps(rows, indent=1))  # survives a crash later on
        print(f"{name:>11}: bpb {rows[-1]['val_bpb']:.4f}  ({rows[-1]['train_s']:.0f} s)", flush=True)
    for name, tps in throughput(names, args.batch_size).items():
        next(r for r in rows if r["name"] == name)["tokens_per_s"] = tps
    (out_root / "rows.json").write_text(json.dumps(rows, indent=1))
    machine = (f"a shared, busy {os.cpu_count()}-core {platform.machine()} CPU, {torch.get_num_threads()} "
               f"torch thread(s), torch {torch.__version__}")
    text = section(rows, args, machine)
    print("\n" + table(rows))
    Path(args.markdown or out_root / "components.md").write_text(text)
    if args.results:
        replace_section(Path(args.results), text)


if __name__ == "__main__":
    main()
