"""Passkey retrieval by distance (qtk eval --data passkey) for a model with a kNN memory: the
approximate backend (hnsw) against the exact one (the named peer for recall and search time) and
against the memory off (the same weights without their memory: the peer for accuracy), and
optionally a model trained without a memory (--peer). Each row is one `qtk eval` process, so its
peak RSS is its own.

    python bench/passkey.py RUN [--peer RUN] [--distances 1k,4k,16k,64k] [--samples 10]
        [--modes hnsw,exact,off] [--filler words] [--log bench/out/passkey.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone


def qtk_eval(run: str, distance: str, samples: int, mode: str, filler: str | None, rows: int) -> dict:
    cmd = [sys.executable, "-m", "qtk", "eval", run, "--data", "passkey", "--json", "--batch-size", str(rows),
           "--set", f"data.passkey.distances={distance}", "--set", f"data.passkey.val_samples={samples}"]
    if filler:
        cmd += ["--set", f"data.passkey.filler={filler}"]
    cmd += ["--no-memory"] if mode == "off" else ["--set", f"model.knn.backend={mode}"] if mode != "model" else []
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)}: {out.stderr.strip()}")
    r = json.loads(out.stdout)
    return {**r["distances"][0], "mode": mode, "run": run, "peak_mem_mb": r["peak_mem_mb"],
            "wall_s": time.perf_counter() - t0, "load_before": load, "load_after": os.getloadavg()[0]}


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run directory of the model with a kNN memory")
    p.add_argument("--peer", help="run directory of a model trained without a memory (optional)")
    p.add_argument("--distances", default="1k,4k,16k,64k")
    p.add_argument("--samples", type=int, default=10, help="samples per distance")
    p.add_argument("--modes", default="hnsw,exact,off", help="hnsw | exact | off | model (its own settings)")
    p.add_argument("--filler", default=None, help="sentences | words (default: the model's own)")
    p.add_argument("--rows", type=int, default=8, help="samples read side by side")
    p.add_argument("--log", default=None, help="append each row as a JSON line")
    a = p.parse_args()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()}", flush=True)
    rows = []
    for d in a.distances.split(","):
        for mode in a.modes.split(","):
            rows.append(qtk_eval(a.run, d, a.samples, mode, a.filler, a.rows))
            print(json.dumps(rows[-1]), flush=True)
            if a.log:
                with open(a.log, "a") as f:
                    f.write(json.dumps(rows[-1]) + "\n")
        if a.peer:
            rows.append(qtk_eval(a.peer, d, a.samples, "off", a.filler, a.rows) | {"mode": "peer (no memory)"})
            print(json.dumps(rows[-1]), flush=True)
    print("\n| distance | memory | samples | exact match | hit@k | recall@k vs exact | search ms p50 | p95 "
          "| speed-up vs exact (p50) | insert items/s | items | peak RSS MB | wall s | load |\n" + "|---" * 14 + "|")
    for r in rows:
        peer = next((x for x in rows if x["distance"] == r["distance"] and x["mode"] == "exact"), None)
        ratio = (f"{peer['search_ms_p50'] / r['search_ms_p50']:.2f}x"
                 if peer and r["search_ms_p50"] and peer["search_ms_p50"] else "-")
        used = "+".join(r["backends"])
        print(f"| {r['distance']:,} | {r['mode']}{'' if used in ('', r['mode']) else ' (' + used + ')'} "
              f"| {r['samples']} | {r['exact_match']:.0%} | {fmt(r['hit_at_k'], '.0%')} "
              f"| {fmt(r['recall_at_k'], '.3f')} "
              f"| {fmt(r['search_ms_p50'], '.3f')} | {fmt(r['search_ms_p95'], '.3f')} | {ratio} "
              f"| {fmt(r['insert_items_per_s'], ',.0f')} | {r['memory_items']:,} | {r['peak_mem_mb']:,.0f} "
              f"| {r['wall_s']:.0f} | {r['load_before']:.1f}/{r['load_after']:.1f} |")


if __name__ == "__main__":
    main()
