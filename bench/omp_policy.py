"""OpenMP wait policy: training throughput of qtk's small model and of a plain transformers GPT-2
loop with the same dims (bench/train_throughput.py, batch 8, no dropout) under each libgomp
setting, each in a fresh process (libgomp reads its environment once, when torch loads it).
Rounds interleave the settings so load from other processes hits all alike; the 1-minute load
average is printed before each run.

    python bench/omp_policy.py [--rounds 2] [--steps 3] [--policies PASSIVE,ACTIVE,default,spin10k]
The peer is transformers under libgomp's default (what a plain loop gets); the target is qtk under
qtk's policy >= 1.15x that peer on a quiet machine, without the slowdown under load."""

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICIES = {  # name -> environment changes (None = remove the variable)
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": None},
    "ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": None},
    "default": {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None, "QTK_OMP_POLICY": "keep"},
    "spin10k": {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "10000", "QTK_OMP_POLICY": "keep"},
    "qtk": {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None},  # whatever `import qtk` decides
}


def run(policy: str, steps: int) -> dict[str, float]:
    env = dict(os.environ)
    for k, v in POLICIES[policy].items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    out = subprocess.run([sys.executable, str(HERE / "train_throughput.py"), "--steps", str(steps), "--warmup", "1"],
                         env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    found = dict(re.findall(r"^\s*(qtk|transformers): ([\d,]+) tokens/s", out.stdout, re.M))
    return {k: float(v.replace(",", "")) for k, v in found.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--policies", default="PASSIVE,ACTIVE,default,spin10k")
    args = ap.parse_args()
    names = args.policies.split(",")
    got: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    print(f"cores: {len(os.sched_getaffinity(0))}", flush=True)
    for r in range(args.rounds):
        for name in names:
            load = os.getloadavg()[0]
            res = run(name, args.steps)
            got[name].append(res)
            print(f"round {r + 1} {name:>8}: load {load:5.2f}  qtk {res['qtk']:7,.0f}  "
                  f"transformers {res['transformers']:7,.0f} tokens/s", flush=True)
    peer = statistics.median(x["transformers"] for x in got.get("default", got[names[0]]))
    print(f"peer: transformers under libgomp's default, median {peer:,.0f} tokens/s")
    for name in names:
        q = statistics.median(x["qtk"] for x in got[name])
        t = statistics.median(x["transformers"] for x in got[name])
        print(f"{name:>8}: qtk {q:7,.0f} ({q / peer:.2f}x the peer), transformers {t:7,.0f} tokens/s (medians)")


if __name__ == "__main__":
    main()
