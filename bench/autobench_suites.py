"""`qtk autobench` on real, installed test suites against serial pytest and pytest-xdist (issue 18).

The generated suite of autobench_overhead.py imports almost nothing, which hid what a real suite
pays per module process (its project, numpy/scipy, pytest's entry-point plugins). Here each
SUITE is a directory of installed tests (e.g. networkx's algorithms/tests). Contenders, run in
turn round by round so that the machine's other load hits them alike:

  serial      python -m pytest SUITE
  xdist       python -m pytest SUITE -n J            (the peer: pytest-xdist)
  autobench   qtk autobench SUITE -j J               (the default: fork server + preload)
  no-preload  qtk autobench SUITE -j J --no-preload  (a fresh interpreter per module)
  no-split    qtk autobench SUITE -j J --no-split    (the default without dealing a slow module to chunks)
  split-slow  qtk autobench SUITE -j J --split-slow  (split a slow module even if its tests share fixtures)

autobench keeps its duration/import cache in a temporary file, filled by one untimed warm-up run
per autobench contender (that first run's wall time is printed too): the timed runs are what a
user sees from the second run on. Reported per contender: median and min wall seconds, median
CPU seconds (children included), and the pass/fail/skip totals, which must agree.

Usage: python bench/autobench_suites.py SUITE [SUITE ...] [-j 2] [--rounds 3] [--extra-args ...]
       [--contenders serial,xdist,autobench,no-preload,no-split,split-slow]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `python -m qtk` from the temporary working directory would import whichever qtk is installed;
# this runs the checkout the benchmark belongs to, without putting it on the tests' PYTHONPATH.
RUN_QTK = f"import runpy, sys; sys.path.insert(0, {str(ROOT)!r}); runpy.run_module('qtk', run_name='__main__')"
CONTENDERS = frozenset({"serial", "xdist", "autobench", "no-preload", "no-split", "split-slow"})
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|error|errors|xfailed|xpassed)\b")


def run_timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of everything it ran, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def pytest_totals(out: str) -> dict[str, int]:
    """pass/fail/skip from pytest's last summary line (xfail counts as skipped, xpass as passed,
    an error as failed, as autobench's JUnit-based counts do)."""
    last = [ln for ln in out.splitlines() if " in " in ln and _COUNT.search(ln)][-1]
    got = {"passed": 0, "failed": 0, "skipped": 0}
    for n, word in _COUNT.findall(last):
        key = {"error": "failed", "errors": "failed", "xfailed": "skipped", "xpassed": "passed"}.get(word, word)
        got[key] += int(n)
    return got


def autobench_totals(out: str) -> dict[str, int]:
    totals = json.loads(out)["totals"]
    return {k: totals[k] for k in ("passed", "failed", "skipped")}


def contenders(suite: Path, jobs: int, cache: Path, extra: list[str],
               only: frozenset[str] = CONTENDERS) -> dict[str, tuple[list[str], bool]]:
    """name -> (command, is autobench)."""
    py = sys.executable
    pytest = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite), *extra]
    ab = [py, "-c", RUN_QTK, "autobench", str(suite), "-j", str(jobs), "-q", "--json", "-", "--cache-file"]
    tail = ["--", *extra] if extra else []
    out = {"serial pytest": (pytest, False)}
    if importlib.util.find_spec("xdist") is not None:
        out[f"pytest -n {jobs} (xdist)"] = (pytest + ["-n", str(jobs)], False)
    for label, flags in (("", []), (" --no-preload", ["--no-preload"]), (" --no-split", ["--no-split"]),
                         (" --split-slow", ["--split-slow"])):
        cache_file = cache.with_suffix(f".{flags[0][2:] if flags else 'default'}.json")
        out[f"autobench -j {jobs}{label}"] = (ab + [str(cache_file), *flags, *tail], True)
    return {name: c for name, c in out.items() if _short(name) in only}


def _short(name: str) -> str:
    """A contender's name for --contenders: serial, xdist, autobench, no-preload, no-split, split-slow."""
    for word in ("serial", "xdist", "no-preload", "no-split", "split-slow"):
        if word in name:
            return word
    return "autobench"


def bench_suite(suite: Path, jobs: int, rounds: int, extra: list[str], workdir: Path,
                only: frozenset[str] = CONTENDERS) -> dict:
    cmds = contenders(suite, jobs, workdir / f"cache-{suite.parent.name}-{suite.name}", extra, only)
    cold = {}
    for name, (cmd, is_ab) in cmds.items():
        if is_ab:
            cold[name] = run_timed(cmd, workdir)[0]
            print(f"  warm-up {name}: {cold[name]:.2f} s", file=sys.stderr, flush=True)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    totals: dict[str, dict[str, int]] = {}
    for r in range(rounds):
        for name, (cmd, is_ab) in cmds.items():
            wall, cpu, out = run_timed(cmd, workdir)
            samples[name].append((wall, cpu))
            totals[name] = autobench_totals(out) if is_ab else pytest_totals(out)
            print(f"  round {r + 1} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {totals[name]}, "
                  f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    return {"cold": cold, "totals": totals,
            "times": {name: {"wall": statistics.median(w for w, _ in s), "min": min(w for w, _ in s),
                             "cpu": statistics.median(c for _, c in s)} for name, s in samples.items()}}


def report(suite: Path, result: dict, jobs: int) -> None:
    times, totals = result["times"], result["totals"]
    serial = times["serial pytest"]["wall"]
    peer = times.get(f"pytest -n {jobs} (xdist)", {}).get("wall")
    print(f"\n{suite}")
    print(f"| contender | wall median | wall min | CPU median | vs serial | vs xdist | passed/failed/skipped |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, t in times.items():
        vs_peer = f"{t['wall'] / peer:.2f}" if peer else "-"
        tot = totals[name]
        print(f"| {name} | {t['wall']:.2f} s | {t['min']:.2f} s | {t['cpu']:.2f} s | {t['wall'] / serial:.2f} | "
              f"{vs_peer} | {tot['passed']}/{tot['failed']}/{tot['skipped']} |")
    for name, wall in result["cold"].items():
        print(f"first run of {name} (empty cache, untimed warm-up): {wall:.2f} s")
    agree = len({tuple(t.values()) for t in totals.values()}) == 1
    print("totals agree across contenders" if agree else "TOTALS DIFFER across contenders")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suites", nargs="+", type=Path, help="test directories of installed packages")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--extra-args", default="", help="passed to every pytest, e.g. '-p no:randomly'")
    ap.add_argument("--contenders", default=",".join(sorted(CONTENDERS)),
                    help="comma-separated subset of: " + ", ".join(sorted(CONTENDERS)) + " (serial is always run)")
    args = ap.parse_args()
    only = frozenset(args.contenders.split(",")) | {"serial"}
    if not only <= CONTENDERS:
        ap.error(f"--contenders: unknown {', '.join(sorted(only - CONTENDERS))}")
    extra = args.extra_args.split()
    print(f"{os.cpu_count()} CPUs; {args.rounds} rounds; python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="qtk-bench-suites-") as tmp:
        for suite in args.suites:
            result = bench_suite(suite.resolve(), args.jobs, args.rounds, extra, Path(tmp), only)
            report(suite, result, args.jobs)
            print(f"load average {os.getloadavg()[0]:.1f} after this suite")


if __name__ == "__main__":
    main()
