"""The components table (issue 3), measured by `qtk compare` (issue 20): the baseline and every
variant in configs/experiments/ trained for the same token budget over several seeds, round-robin,
scored on the same held-out text, with Student-t intervals and the difference to the baseline
paired by seed. This script only builds the command line and files the markdown it prints under
the "## Components (issue 3)" heading of a results file.

    python bench/components.py --tokens 300000 --seeds 3 --threads 1 [--results bench/RESULTS.md]

runs exactly

    qtk compare configs/experiments/baseline.toml configs/experiments/<each other>.toml --seeds 3 \
        --tokens 300000 --set data.corpus=pydoc --set train.batch_size=8 --threads 1 \
        -o runs/components --plot runs/components/curves.png --markdown

Rerunning continues an interrupted comparison (the runs live in --out-dir).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "configs" / "experiments"
HEADING = "## Components (issue 3)"


def compare_argv(args: argparse.Namespace) -> list[str]:
    names = ["baseline"] + sorted(p.stem for p in EXPERIMENTS.glob("*.toml") if p.stem != "baseline")
    if args.only:
        names = ["baseline"] + [n for n in names[1:] if n in args.only.split(",")]
    out = Path(args.out_dir)
    return ["compare", *(str((EXPERIMENTS / f"{n}.toml").relative_to(ROOT)) for n in names),
            "--seeds", str(args.seeds), "--tokens", str(args.tokens), "--set", f"data.corpus={args.corpus}",
            "--set", f"train.batch_size={args.batch_size}", "--threads", str(args.threads),
            "-o", str(out), "--plot", str(out / "curves.png"), "--markdown"]


def replace_section(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=300_000, help="training tokens per run (same for all)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--corpus", default="pydoc", help="built-in corpus: auto | shakespeare | pydoc")
    ap.add_argument("--threads", type=int, default=1, help="torch threads; on a busy machine 1 avoids threads "
                    "waiting on each other at every small op")
    ap.add_argument("--only", default="", help="comma-separated config names (baseline always runs)")
    ap.add_argument("--out-dir", default=str(ROOT / "runs" / "components"))
    ap.add_argument("--results", default="", help="replace the section in this file (e.g. bench/RESULTS.md)")
    args = ap.parse_args()
    argv = compare_argv(args)
    r = subprocess.run([sys.executable, "-m", "qtk", *argv], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(r.stdout)
    if r.returncode != 0 or not args.results:
        sys.exit(r.returncode)
    machine = f"a shared {os.cpu_count()}-core {platform.machine()} CPU, {args.threads} torch thread(s)"
    text = "\n".join([HEADING, "", f"`qtk {' '.join(argv)}` on {machine}, {date.today().isoformat()}:", "",
                      r.stdout.rstrip("\n"), ""])
    replace_section(Path(args.results), text)


if __name__ == "__main__":
    main()
