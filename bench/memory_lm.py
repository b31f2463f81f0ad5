"""Held-out bits per byte of the Shakespeare validation plays (The Tempest, Macbeth, Twelfth
Night) read in order, segment after segment: a tiny model with a kNN memory layer (Memorizing
Transformers) against the same model without it (the named peer: memory "none"), trained for the
same steps on the same data; the memory model also scored with its memory switched off.

    python bench/memory_lm.py [--steps 400] [--capacity 8192] [--out-dir runs/memory-lm]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone

import qtk  # noqa: F401  (before torch: sets OMP_WAIT_POLICY)
import torch

from qtk import checkpoint, config
from qtk.load import build_model
from qtk.data.prepare import prepare
from qtk.eval import evaluate
from qtk.train.loop import train


def run(name: str, a: argparse.Namespace, sets: dict) -> dict:
    flags = {"data.corpus": "shakespeare", "train.max_steps": a.steps, "train.batch_size": a.batch,
             "train.eval_interval": a.steps, "train.eval_tokens": 8192, "train.log_interval": 50, **sets}
    cfg = config.load("tiny", flags=flags)
    t0 = time.perf_counter()
    res = train(cfg, out_dir=f"{a.out_dir}/{name}")
    elapsed = time.perf_counter() - t0
    ck = checkpoint.load(f"{a.out_dir}/{name}/last.safetensors")
    model = build_model(ck)
    data = prepare(ck.cfg.data, ck.tokenizer)
    T = ck.cfg.model.block_size
    out = {"name": name, "train_s": elapsed, "train_loss": res.train_loss, "params": res.params}
    # non-overlapping segments for every model: the peer's windows get no context the memory model's lack
    for memory in ([True, False] if model.uses_stream else [True]):
        t0 = time.perf_counter()
        m = evaluate(model, data.val, {ck.tokenizer.eot_id}, block_size=T, batch_size=a.rows, memory=memory,
                     stride=None if model.uses_stream else T)
        out["bpb" if memory else "bpb_memory_off"] = m["bpb"]
        out["eval_s" if memory else "eval_off_s"] = time.perf_counter() - t0
        out["tokens"] = m["tokens"]
    print(out, flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--rows", type=int, default=8, help="streamed rows when scoring")
    p.add_argument("--capacity", type=int, default=8192, help="kNN memory items per row (paper: 8K-65K)")
    p.add_argument("--out-dir", default="runs/memory-lm")
    a = p.parse_args()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()}, "
          f"{torch.get_num_threads()} torch threads", flush=True)
    base = run("none", a, {"model.memory": "none"})
    knn = run("knn", a, {"model.memory": "knn", "model.knn.capacity": a.capacity, "model.knn.backend": "exact"})
    print("\n| model | steps | train s | held-out bpb (streamed) | bpb, memory off | vs peer |\n"
          "|---|---|---|---|---|---|\n"
          + f"| tiny, memory none (peer) | {a.steps} | {base['train_s']:.0f} | {base['bpb']:.4f} | - | 1.000 |\n"
          f"| tiny + knn (block 3, k 32, capacity {a.capacity}) | {a.steps} | {knn['train_s']:.0f} | {knn['bpb']:.4f} "
          f"| {knn['bpb_memory_off']:.4f} | {knn['bpb'] / base['bpb']:.3f} |\n\n"
          f"scored tokens {knn['tokens']:,}; load average at end {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
