"""Fitting the machine: peak RSS and time per step of `qtk train` with the whole per-process batch
in one micro-batch (what qtk did before the memory probe: `train.micro_batch_size = batch`) against
the micro-batch the probe picks, plus the probe's own cost.

    python bench/fit_memory.py --size medium --steps 2                  # both sides
    python bench/fit_memory.py --size medium --steps 2 --skip-before --memory-limit 8GiB

Each side runs in its own process (peak RSS from getrusage of the child). --skip-before leaves
out the one-micro-batch side, which on `medium` needs about 18 GB: do not run it on a machine
that others share.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(size: str, steps: int, sets: list[str], limit: str | None) -> dict:
    out = Path(tempfile.mkdtemp(prefix="qtk-fit-")) / "run"
    cmd = [sys.executable, "-m", "qtk", "train", "--size", size, "--tokenizer", "byte", "--max-steps", str(steps),
           "--set", "data.corpus=pydoc", "--set", "train.eval_interval=0", "--set", "train.log_interval=1",
           "--set", "train.eval_tokens=1024", "-o", str(out), "--json"]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ)
    if limit:
        env["QTK_MEMORY_LIMIT"] = limit
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS (KiB on Linux)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_f.seek(0), err_f.seek(0)
        stdout, stderr = out_f.read(), err_f.read()
    if proc.returncode:
        raise SystemExit(f"qtk train failed: {stderr[-2000:]}")
    peak_kib = usage.ru_maxrss
    result = json.loads(stdout)
    steps_log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [rec["tokens_per_s"] for rec in steps_log if "tokens_per_s" in rec]
    probe = next((line for line in stderr.splitlines() if "probe:" in line), "")
    return {"peak_rss_gib": peak_kib * 1024 / 2**30, "fit": result["fit"],
            "tokens_per_s": rates, "probe_line": probe.strip()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="medium")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--memory-limit", default=None, help="QTK_MEMORY_LIMIT for the probed side")
    ap.add_argument("--skip-before", action="store_true")
    args = ap.parse_args()
    from qtk import config

    batch = config.load(args.size).train.batch_size
    sides = [] if args.skip_before else [("one micro-batch (before)", [f"train.micro_batch_size={batch}"], None)]
    sides.append(("probed (after)", [], args.memory_limit))
    print(f"qtk train --size {args.size}, {args.steps} steps, batch {batch}, load average {os.getloadavg()}")
    for name, sets, limit in sides:
        r = run(args.size, args.steps, sets, limit)
        f = r["fit"]
        rss = f"{r['peak_rss_gib']:.2f} GiB" if r["peak_rss_gib"] else "n/a"
        tok = batch * config.load(args.size).model.block_size
        per_step = [tok / t for t in r["tokens_per_s"]]
        print(f"{name}: micro-batch {f['micro_batch_size']}, peak RSS {rss}, estimate "
              f"{f['estimate_bytes'] / 2**30:.2f} GiB, s/step {', '.join(f'{s:.1f}' for s in per_step)} "
              f"(probe predicted {f['step_s']:.1f}); {r['probe_line']}")


if __name__ == "__main__":
    main()
