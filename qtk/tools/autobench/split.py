"""Splitting a module that dominates the wall time: its tests, collected once, are dealt to
chunk processes forked after collection (pytest_plugin.py), and their verdicts merged into one
module entry (issue 18).

Longest-first scheduling cannot finish before the longest module does: when one module is a large
part of the suite, one worker runs it while the others run out of work. A module whose last
duration exceeds SLOW_SHARE of one worker's fair share (total / jobs) is split into as many
chunks (at most jobs) as bring the run's lower bound down, and only when that bound drops by
MIN_GAIN or more. Chunk i of k keeps every k-th collected test, starting at i, so parametrized
runs of a heavy test spread over the chunks. The chunks are forked once collection is done, so
none of them imports or collects again; they run at once and hold k of the -j slots.

By default a module is split only when the last run of the same file found that its tests share
no fixture wider than a function (every run checks after collection; the cache keeps the answer
with the file's mtime and size): module- and class-scoped state then stays as it was. A module
never measured runs whole, so no slots are held for chunks that would not come. --split-slow splits it anyway, and each chunk sets up the fixtures it uses.
Tests that depend on another test of the module having run first in the same process are not
protected (pytest-xdist's default distribution has the same limit).
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from qtk.tools.autobench.classify import classify
from qtk.tools.autobench.results import (CRASH, ERROR, FAIL, FLAKY, NOTRUN, PASS, SKIP, TIMEOUT,
                                         ModuleResult)

SLOW_SHARE = 0.5
MIN_GAIN = 0.1
_WORST_FIRST = (CRASH, TIMEOUT, ERROR, FAIL, NOTRUN, FLAKY, PASS, SKIP)


def chunk_counts(modules: list[Path], durations: dict[Path, float], jobs: int,
                 setups: dict[Path, float] | None = None) -> dict[Path, int]:
    """How many chunks each slow module is dealt to (modules left out run whole). `setups`: the
    seconds before each module's first test (start-up and collection, measured on the last run),
    which its chunks share. A module longer than SLOW_SHARE of a worker's share gets the fewest
    chunks that bring the run's lower bound, max(one chunk, all work / jobs), down the most; it is
    split only when that bound drops by at least MIN_GAIN."""
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
            return max(chunk_seconds(d, s, k), total / jobs)

        k = min(range(1, jobs + 1), key=lambda k: (round(bound(k), 6), k))
        if k > 1 and bound(k) <= (1 - MIN_GAIN) * bound(1):
            counts[m] = k
    return counts


def chunk_seconds(duration: float, setup: float, k: int) -> float:
    """A split module's expected wall time: its start-up and collection once, then 1/k of the rest."""
    setup = min(setup, duration)
    return setup + (duration - setup) / k


def chunk_files(events_path: Path, chunks: int) -> list[tuple[Path, Path, Path]]:
    """(output, JUnit XML, events) of each chunk of a run whose events file is `events_path`
    (pytest_plugin._become_chunk names them after the same stem)."""
    stem = events_path.with_suffix("")
    return [tuple(Path(f"{stem}.c{i}{suffix}") for suffix in (".out", ".xml", ".events")) for i in range(chunks)]


def judge(module: Path, display: str, returncode: int, killed_at: float | None, timeout_s: float | None,
          output: str, chunks: list[tuple[Path, Path, Path]], facts, started: float, read_output) -> ModuleResult:
    """One verdict from the chunks of a split run: each judged from its own files and exit
    status (the collecting process's, when it was killed before they all ended), then merged.
    `killed_at`: when a timeout started killing the run (None: it was not), so a chunk that had
    ended before that is judged by how it ended. Each chunk's duration is its share after collection, the first also carrying the start-up,
    so the sum is what the module costs run whole."""
    collected = facts.collected if facts.collected is not None else started
    now = time.monotonic()
    parts = []
    for i, (out, xml, events) in enumerate(chunks):
        done = facts.chunk_statuses is not None
        code = os.waitstatus_to_exitcode(facts.chunk_statuses[i]) if done else returncode
        end = facts.chunk_ends[i] if done else now
        duration = end - collected + (collected - started if i == 0 else 0.0)
        text = (output if i == 0 else "") + read_output(out)
        timed_out = killed_at is not None and end >= killed_at
        parts.append(classify(module, display, code, timed_out, duration, text, xml, events, timeout_s))
    return merge(parts)


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
