"""`--split-slow`: run a module that dominates the wall time as several chunks of its tests, each
in its own process, and merge their verdicts into one module entry (issue 18).

Longest-first scheduling cannot finish before the longest module does: when one module is a
large part of the suite, one worker runs it while the others run out of work. A module whose last duration exceeds
SLOW_SHARE of one worker's fair share (total / jobs) is split into as many chunks (at most
2 x jobs) as bring the run's lower bound down, counting the start-up and collection each chunk
repeats (measured on the last run): a module whose start-up is most of its time is not split.
Chunk i of k keeps every k-th collected test, starting at i (pytest_plugin.py
deselects the rest, after -k/-m have had their say), so parametrized runs of a heavy test spread
over the chunks. Each chunk still imports the module and sets up its module-scoped fixtures.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from qtk.tools.autobench.results import (CRASH, ERROR, FAIL, FLAKY, NOTRUN, PASS, SKIP, TIMEOUT,
                                         ModuleResult)

SLOW_SHARE = 0.5
MIN_GAIN = 0.1
_WORST_FIRST = (CRASH, TIMEOUT, ERROR, FAIL, NOTRUN, FLAKY, PASS, SKIP)


def chunk_counts(modules: list[Path], durations: dict[Path, float], jobs: int,
                 setups: dict[Path, float] | None = None) -> dict[Path, int]:
    """How many chunks each slow module runs as (modules left out run whole). `setups`: the
    seconds before each module's first test (start-up and collection, measured on the last run),
    which every chunk pays again. A module longer than SLOW_SHARE of a worker's share gets the
    fewest chunks that bring the run's lower bound, max(one chunk, all work / jobs), down the
    most, where each extra chunk adds its start-up to all work; it is split only when that bound
    drops by at least MIN_GAIN (else the extra start-ups cost more CPU than the tail saves)."""
    setups = setups or {}
    total = sum(durations.get(m, 0.0) for m in modules)
    if jobs < 2 or total <= 0:
        return {}
    counts = {}
    for m in sorted((m for m in modules if m in durations), key=lambda m: -durations[m]):
        d = durations[m]
        if d <= SLOW_SHARE * total / jobs:
            continue
        s = min(setups.get(m, 0.0), d)

        def bound(k: int) -> float:
            return max(chunk_seconds(d, s, k), (total + (k - 1) * s) / jobs)

        k = min(range(1, 2 * jobs + 1), key=lambda k: (round(bound(k), 6), k))
        if k > 1 and bound(k) <= (1 - MIN_GAIN) * bound(1):
            counts[m] = k
            total += (k - 1) * s
    return counts


def chunk_seconds(duration: float, setup: float, k: int) -> float:
    """One chunk's expected duration: the start-up again, and 1/k of the rest."""
    setup = min(setup, duration)
    return setup + (duration - setup) / k


def merge(parts: list[ModuleResult]) -> ModuleResult:
    """One module entry from its chunks' results (in chunk order): counts and durations add up
    (the duration is the CPU-ish sum the cache schedules by), the worst status wins, its detail
    and the outputs of the chunks that did not pass are kept."""
    if len(parts) == 1:
        return parts[0]
    statuses = [p.status for p in parts]
    worst = min(parts, key=lambda p: _WORST_FIRST.index(p.status))
    status = worst.status
    if status == SKIP and not all(s == SKIP for s in statuses):
        status = PASS
    merged = ModuleResult(worst.module, worst.path, status, returncode=worst.returncode, signal=worst.signal,
                          attempts=max(p.attempts for p in parts), current_test=worst.current_test)
    merged.passed = sum(p.passed for p in parts)
    merged.failed = sum(p.failed for p in parts)
    merged.skipped = sum(p.skipped for p in parts)
    merged.duration_s = sum(p.duration_s for p in parts)
    details = [f"chunk {i + 1}/{len(parts)}: {p.detail}" for i, p in enumerate(parts) if p.detail and p.status != SKIP]
    merged.detail = "; ".join(details) if status not in (PASS, SKIP) else f"split into {len(parts)} chunks"
    merged.output = "\n".join(p.output for p in parts if p.status not in (PASS, SKIP) and p.output)
    suite = ET.Element("testsuite", name=merged.module)
    for p in parts:
        if p.junit is not None:
            suite.extend(p.junit.findall("testcase"))
    merged.junit = suite
    return merged


def notrun_chunk(module: str, path: Path, reason: str) -> ModuleResult:
    return ModuleResult(module, path, NOTRUN, failed=1, detail=f"not finished: {reason}")
