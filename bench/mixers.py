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
"""

from __future__ import annotations

import argparse
import json
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
    args = p.parse_args()
    if args.part == "quality":
        sweep(args, ["--set", f"data.corpus={args.corpus}"])
    elif args.part == "mqar":
        # one 64-token sample per window: <|endoftext|> + 63 tokens holding `pairs` pairs and their queries
        sweep(args, ["--data", "mqar", "--set", "model.block_size=64", "--set", "data.mqar.seq_len=63",
                     "--set", f"data.mqar.pairs={args.pairs}"])


if __name__ == "__main__":
    main()
