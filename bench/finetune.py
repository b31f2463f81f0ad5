"""Fine-tuning methods side by side on the plays' dialogue set (issue 15).

Pre-trains a base model on the plays (the `qtk train` core), quantizes it to int4 (`qtk
quantize`, RTN), then fine-tunes it on the built-in dialogue set (data.format = chat: the
assistant's tokens are the targets; the held-out plays' dialogue is the validation set) three
ways with the same steps, batch and context, so the same token budget: full fine-tuning, LoRA
r=R and QLoRA int4 r=R. Each fine-tune runs as its own `qtk train --init-from ... --json`
process, so its peak RSS (os.wait4) is its own. Prints a Markdown table: held-out assistant-token
loss (whole held-out dialogue), tokens/s, trainable parameters, peak RSS, and the ratios the
issue's targets name (LoRA vs full, QLoRA vs LoRA) measured in this run; plus the base model's
held-out loss before any fine-tuning.

With --val-convs N only the first N conversations of the held-out plays' dialogue are the
validation set (written with the training ones to DIR/dialogue.jsonl, the held-out ones last):
scoring all of them costs minutes per method on a shared CPU. --base CKPT fine-tunes an existing
pre-trained checkpoint instead of pre-training one. "Before" is the base model scored on the same
held-out conversations (assistant tokens; it has never seen the chat tokens).

Usage: python bench/finetune.py [--size tiny] [--pretrain-steps 300] [--base CKPT] [--steps 150]
                                [--r 8] [--batch 16] [--lr-full 3e-4] [--lr-lora 2e-3] [--group 64]
                                [--val-convs 0] [--work DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import qtk  # noqa: F401  (before torch: sets OMP_WAIT_POLICY)

from qtk import checkpoint, config
from qtk.compress.quantize import quantize
from qtk.eval import evaluate_checkpoint
from qtk.train.loop import train


def pretrain(args, work: Path) -> Path:
    if args.base:
        return checkpoint.resolve(args.base, prefer="last")
    run = work / "base"
    if (run / "last.safetensors").is_file():
        return run / "last.safetensors"
    cfg = config.load(args.size, flags={"data.corpus": "shakespeare", "train.max_steps": args.pretrain_steps,
                                        "train.batch_size": args.batch, "train.eval_interval": 0,
                                        "train.warmup_steps": min(50, args.pretrain_steps // 10)})
    r = train(cfg, out_dir=str(run))
    print(f"base: {r.steps} steps, {r.tokens:,} tokens, val loss (plays) {r.val_loss:.4f}", file=sys.stderr)
    return run / "last.safetensors"


def dialogue(work: Path, n_val: int) -> tuple[Path, Path, float]:
    """The plays' dialogue as JSONL (training plays' conversations, then the first n_val of the
    held-out plays'), the held-out part alone, and the validation fraction that splits them."""
    from qtk.data import chat, corpus

    plays = corpus.shakespeare()
    train_convs, val_convs = chat.play_dialogues(plays.train), chat.play_dialogues(plays.val)[:n_val]
    both, val = work / "dialogue.jsonl", work / "dialogue-val.jsonl"
    for path, convs in ((both, train_convs + val_convs), (val, val_convs)):
        path.write_text("".join(json.dumps({"messages": c}) + "\n" for c in convs))
    return both, val, len(val_convs) / (len(train_convs) + len(val_convs))


def finetune(base: Path, out: Path, method: str, lr: float, args, data: dict) -> dict:
    """One `qtk train --init-from` process; its JSON result plus its own peak RSS."""
    sets = {**data, "finetune.method": method,
            "finetune.lora.r": args.r, "finetune.lora.alpha": 2.0 * args.r, "train.lr": lr,
            "train.batch_size": args.batch, "train.warmup_steps": max(1, args.steps // 10),
            "train.eval_interval": 0, "train.log_interval": 10}
    cmd = [sys.executable, "-m", "qtk", "train", "--init-from", str(base), "--max-steps", str(args.steps),
           "--json", "-o", str(out), *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")]]
    log = out.parent / f"{out.name}.log"
    t0 = time.perf_counter()
    with open(log, "w") as err, open(log.with_suffix(".json"), "w") as res:
        proc = subprocess.Popen(cmd, stdout=res, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (peak RSS)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{method} fine-tune failed:\n{log.read_text()[-2000:]}")
    r = json.loads(log.with_suffix(".json").read_text())
    r["seconds"] = time.perf_counter() - t0
    r["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    meta = checkpoint.read_meta(out / "last.safetensors")
    r["frozen_linear_bytes"] = meta.get("frozen_linear_bytes")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--base", default="", help="an existing pre-trained checkpoint or run directory")
    ap.add_argument("--val-convs", type=int, default=0, help="held-out conversations scored (0 = all)")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr-full", type=float, default=3e-4)
    ap.add_argument("--lr-lora", type=float, default=2e-3)
    ap.add_argument("--group", type=int, default=64)
    ap.add_argument("--work", default="bench-finetune")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = Path(args.work)
    base = pretrain(args, work)
    qbase = work / "base-int4.safetensors"
    if not qbase.is_file():
        quantize(base, 4, qbase, group=args.group, eval_tokens=8192, device="cpu", speed_rounds=0)
    if args.val_convs:
        both, val, fraction = dialogue(work, args.val_convs)
        data = {"data.path": str(both), "data.val_fraction": fraction}
        before = evaluate_checkpoint(str(base), str(val), device="cpu")
    else:
        data = {"data.format": "chat", "data.corpus": "shakespeare"}
        before = evaluate_checkpoint(str(base), device="cpu")  # the base's own held-out plays (text)
    before["step"] = checkpoint.read_meta(base).get("step")
    runs = {}
    for name, src, method, lr in (("full", base, "full", args.lr_full), (f"LoRA r={args.r}", base, "lora", args.lr_lora),
                                  (f"QLoRA int4 r={args.r}", qbase, "lora", args.lr_lora)):
        out = work / name.split()[0].lower()
        if out.exists():
            raise SystemExit(f"{out} exists: remove {work} or pick another --work")
        runs[name] = finetune(src, out, method, lr, args, data)
        print(f"{name}: held-out assistant loss {runs[name]['val_loss']:.4f}", file=sys.stderr)
    report(runs, before, args)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "base_eval": before, "args": vars(args)}, indent=2))


def report(runs: dict, before: dict, args) -> None:
    names = list(runs)
    full, lo, q = (runs[n] for n in names)
    print("| method | held-out assistant loss | tokens/s | trainable params | of the model's | peak RSS | wall |")
    print("|---|---|---|---|---|---|---|")
    for n, r in runs.items():
        share = r["trainable_params"] / full["params"]  # of the fp32 model (a quantized base holds buffers)
        print(f"| {n} | {r['val_loss']:.4f} | {r['tokens_per_s']:,.0f} | {r['trainable_params']:,} | {share:.2%} | "
              f"{r['peak_rss_mb']:.0f} MB | {r['seconds']:.0f} s |")
    print()
    print(f"LoRA vs full: held-out loss {100 * (lo['val_loss'] / full['val_loss'] - 1):+.2f}%, "
          f"trainable {lo['trainable_params'] / full['params']:.2%} of the model's parameters, "
          f"tokens/s {lo['tokens_per_s'] / full['tokens_per_s']:.2f}x")
    fb = q["frozen_linear_bytes"]
    print(f"QLoRA vs LoRA: held-out loss {100 * (q['val_loss'] / lo['val_loss'] - 1):+.2f}%, "
          f"tokens/s {q['tokens_per_s'] / lo['tokens_per_s']:.2f}x; frozen linear weights "
          f"{fb['quantized'] / 2**20:.3f} MiB int4 vs {fb['fp32'] / 2**20:.3f} MiB fp32 ({fb['ratio']:.2f}x less)")
    what = "held-out assistant loss" if args.val_convs else "held-out plays loss (text, not dialogue)"
    print(f"Base (step {before['step']}) before fine-tuning: {what} {before['loss']:.4f}. "
          f"{args.steps} steps x {args.batch} x block tokens per method; lr full {args.lr_full}, "
          f"LoRA/QLoRA {args.lr_lora}, alpha = 2r, int4 RTN group {args.group}.")


if __name__ == "__main__":
    main()
