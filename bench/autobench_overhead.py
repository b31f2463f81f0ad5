"""What `qtk autobench` costs and gains against its peer, one plain serial `python -m pytest` run.

It generates a throw-away suite (MODULES modules x TESTS tests, each test burning WORK_MS of CPU,
optionally importing a heavy module the way real test modules import their project), then times,
interleaving the contenders round by round so machine noise hits both alike; it reports the
median and the minimum wall time, and CPU time (which other load on a shared machine inflates
far less than wall time):

1. fixed overhead: `python -m pytest one_module.py` vs `qtk autobench one_module.py -j 1`;
2. per-module overhead: `qtk autobench SUITE -j 1` vs the sum of one `python -m pytest` per module
   (the pytest start-up both pay), less the fixed overhead of 1., divided by the number of modules;
3. the suite: `qtk autobench SUITE -j J` vs one serial `python -m pytest SUITE` (and
   `pytest -n J --dist loadfile` when pytest-xdist is installed; with --import-module M also
   `qtk autobench SUITE -j J --preload M`).

Usage: python bench/autobench_overhead.py [--modules 12] [--tests 4] [--work-ms 250] [-j 2]
                                          [--rounds 3] [--sections 1,2,3] [--import-module numpy]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
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


def run_timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and everything it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(contenders: dict[str, list[list[str]]], cwd: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Per contender: median and min wall seconds, median CPU seconds. A contender may be several
    commands run back to back."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, cmds in contenders.items():
            runs = [run_timed(c, cwd) for c in cmds]
            samples[name].append((sum(w for w, _ in runs), sum(c for _, c in runs)))
    return {name: {"wall": statistics.median(w for w, _ in s), "min": min(w for w, _ in s),
                   "cpu": statistics.median(c for _, c in s)} for name, s in samples.items()}


def fixed_overhead(pytest: list[str], autobench: list[str], one: Path, root: Path, rounds: int) -> dict:
    single = measure({"pytest": [pytest + [str(one)]], "autobench": [autobench + [str(one), "-j", "1"]]},
                     root, rounds)
    p, a = single["pytest"], single["autobench"]
    print(f"1. one module: python -m pytest {p['wall']:.3f}s wall (min {p['min']:.3f}s, CPU {p['cpu']:.3f}s); "
          f"qtk autobench -j 1 {a['wall']:.3f}s (min {a['min']:.3f}s, CPU {a['cpu']:.3f}s)")
    print(f"   fixed overhead: {(a['wall'] - p['wall']) * 1000:+.0f} ms wall (median), "
          f"{(a['min'] - p['min']) * 1000:+.0f} ms (min), {(a['cpu'] - p['cpu']) * 1000:+.0f} ms CPU")
    return single


def per_module_overhead(pytest: list[str], autobench: list[str], suite: Path, single: dict, root: Path,
                        rounds: int) -> None:
    mods = sorted(suite.glob("test_*.py"))
    per = measure({"pytest per module": [pytest + [str(m)] for m in mods],
                   "autobench -j 1": [autobench + [str(suite), "-j", "1"]]}, root, rounds)
    p, a = per["pytest per module"], per["autobench -j 1"]

    def per_module(key: str) -> float:
        fixed = single["autobench"][key] - single["pytest"][key]
        return (a[key] - p[key] - fixed) / len(mods) * 1000

    print(f"2. {len(mods)} modules one at a time: {len(mods)} x python -m pytest {p['wall']:.2f}s "
          f"(CPU {p['cpu']:.2f}s), qtk autobench -j 1 {a['wall']:.2f}s (CPU {a['cpu']:.2f}s)")
    print(f"   per-module overhead beyond pytest's start-up: {per_module('wall'):+.1f} ms wall (median), "
          f"{per_module('min'):+.1f} ms (min), {per_module('cpu'):+.1f} ms CPU")


def suite_ratio(pytest: list[str], autobench: list[str], suite: Path, jobs: int, root: Path, rounds: int,
                preload: str | None) -> None:
    contenders = {"serial pytest": [pytest + [str(suite)]],
                  f"autobench -j {jobs}": [autobench + [str(suite), "-j", str(jobs)]]}
    if preload:
        contenders[f"autobench -j {jobs} --preload"] = [autobench + [str(suite), "-j", str(jobs), "--preload", preload]]
    has_xdist = importlib.util.find_spec("xdist") is not None
    if has_xdist:
        contenders[f"xdist -n {jobs}"] = [pytest + [str(suite), "-n", str(jobs), "--dist", "loadfile"]]
    times = measure(contenders, root, rounds)
    base = times["serial pytest"]
    for name, t in times.items():
        print(f"3. {name:<28} {t['wall']:7.2f}s wall (min {t['min']:.2f}s, CPU {t['cpu']:.2f}s)  ratio vs "
              f"serial pytest: {t['wall'] / base['wall']:.2f} (median), {t['min'] / base['min']:.2f} (min)")
    if not has_xdist:
        print("   (pytest-xdist not installed: its -n/--dist loadfile not measured)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", type=int, default=12)
    ap.add_argument("--tests", type=int, default=4)
    ap.add_argument("--work-ms", type=float, default=250.0, help="CPU ms each test burns")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sections", default="1,2,3", help="measurements to run, comma-separated")
    ap.add_argument("--import-module", default=None, help="imported by every test module (e.g. numpy)")
    args = ap.parse_args()
    sections = set(args.sections.split(","))

    py = sys.executable
    pytest = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    autobench = [py, "-m", "qtk", "autobench", "--no-cache", "-q"]
    with tempfile.TemporaryDirectory(prefix="qtk-bench-") as tmp:
        root = Path(tmp)
        suite = make_suite(root, args.modules, args.tests, args.work_ms, args.import_module)
        print(f"suite: {args.modules} modules x {args.tests} tests x {args.work_ms:g} ms CPU"
              f"{f', each importing {args.import_module}' if args.import_module else ''}; "
              f"{os.cpu_count()} CPUs; {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}")
        single = None
        if sections & {"1", "2"}:
            single = fixed_overhead(pytest, autobench, sorted(suite.glob("test_*.py"))[0], root, args.rounds)
        if "2" in sections:
            per_module_overhead(pytest, autobench, suite, single, root, args.rounds)
        if "3" in sections:
            suite_ratio(pytest, autobench, suite, args.jobs, root, args.rounds, args.import_module)
        print(f"load average at the end {os.getloadavg()[0]:.1f} (other load shrinks the parallel gain)")


if __name__ == "__main__":
    main()
