"""What `qtk autobench` costs and gains against its peer, one plain serial `python -m pytest` run.

It generates a throw-away suite (MODULES modules x TESTS tests, each test burning WORK_MS of CPU,
optionally importing a heavy module the way real test modules import their project), then times,
interleaving the contenders round by round so machine noise hits both alike (medians reported):

1. fixed overhead: `python -m pytest one_module.py` vs `qtk autobench one_module.py -j 1`;
2. per-module overhead: `qtk autobench SUITE -j 1` vs the sum of one `python -m pytest` per module
   (the pytest start-up both pay), divided by the number of modules;
3. the suite: `qtk autobench SUITE -j J` vs one serial `python -m pytest SUITE` (and
   `pytest -n J --dist loadfile` when pytest-xdist is installed).

Usage: python bench/autobench_overhead.py [--modules 12] [--tests 4] [--work-ms 250] [-j 2]
                                          [--rounds 3] [--import-module numpy]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULE = '''\
import time
{import_line}

def _burn(ms):
    end = time.process_time() + ms / 1000
    x = 0
    while time.process_time() < end:
        x += 1
    return x

{tests}
'''


def make_suite(root: Path, modules: int, tests: int, work_ms: float, import_module: str | None) -> Path:
    suite = root / "bench_suite"
    suite.mkdir()
    import_line = f"import {import_module}" if import_module else ""
    body = "\n".join(f"def test_{i}():\n    assert _burn({work_ms}) > 0\n" for i in range(tests))
    for m in range(modules):
        (suite / f"test_mod{m:03d}.py").write_text(MODULE.format(import_line=import_line, tests=body))
    return suite


def wall(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def measure(contenders: dict[str, list[list[str]]], cwd: Path, rounds: int) -> dict[str, float]:
    """Median wall seconds per contender; a contender may be several commands run back to back."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, cmds in contenders.items():
            times[name].append(sum(wall(c, cwd) for c in cmds))
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", type=int, default=12)
    ap.add_argument("--tests", type=int, default=4)
    ap.add_argument("--work-ms", type=float, default=250.0, help="CPU ms each test burns")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--import-module", default=None, help="imported by every test module (e.g. numpy)")
    args = ap.parse_args()

    py = sys.executable
    pytest = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    autobench = [py, "-m", "qtk", "autobench", "--no-cache", "-q"]
    with tempfile.TemporaryDirectory(prefix="qtk-bench-") as tmp:
        root = Path(tmp)
        suite = make_suite(root, args.modules, args.tests, args.work_ms, args.import_module)
        mods = sorted(suite.glob("test_*.py"))
        one = mods[0]
        print(f"suite: {args.modules} modules x {args.tests} tests x {args.work_ms:g} ms CPU"
              f"{f', each importing {args.import_module}' if args.import_module else ''}; "
              f"{os.cpu_count()} CPUs; median of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}")

        single = measure({"pytest": [pytest + [str(one)]], "autobench": [autobench + [str(one), "-j", "1"]]},
                         root, args.rounds)
        fixed_ms = (single["autobench"] - single["pytest"]) * 1000
        print(f"1. one module: python -m pytest {single['pytest']:.3f}s, qtk autobench -j 1 "
              f"{single['autobench']:.3f}s -> fixed overhead {fixed_ms:+.0f} ms")

        per = measure({"pytest per module": [pytest + [str(m)] for m in mods],
                       "autobench -j 1": [autobench + [str(suite), "-j", "1"]]}, root, args.rounds)
        per_ms = (per["autobench -j 1"] - per["pytest per module"] - single["autobench"] + single["pytest"]) \
            / len(mods) * 1000
        print(f"2. {len(mods)} modules one at a time: {len(mods)} x python -m pytest "
              f"{per['pytest per module']:.2f}s, qtk autobench -j 1 {per['autobench -j 1']:.2f}s -> "
              f"{per_ms:+.1f} ms per module beyond pytest's start-up (fixed overhead removed)")

        contenders = {"serial pytest": [pytest + [str(suite)]],
                      f"autobench -j {args.jobs}": [autobench + [str(suite), "-j", str(args.jobs)]]}
        if importlib.util.find_spec("xdist") is not None:
            contenders[f"xdist -n {args.jobs}"] = [pytest + [str(suite), "-n", str(args.jobs), "--dist", "loadfile"]]
        suite_times = measure(contenders, root, args.rounds)
        base = suite_times["serial pytest"]
        for name, t in suite_times.items():
            print(f"3. {name:<16} {t:7.2f}s  ratio vs serial pytest {t / base:.2f}")
        print(f"   load average at the end {os.getloadavg()[0]:.1f} (a busy machine shrinks the parallel gain)")
        if "xdist" not in " ".join(contenders):
            print("   (pytest-xdist not installed: its -n/--dist loadfile not measured)")


if __name__ == "__main__":
    main()
