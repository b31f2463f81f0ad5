"""What one autobench run produces: a status and test counts per module, and the suite's totals.

The statuses follow the issue (#8); the JSON layout here is what `--json FILE` writes and what CI
scripts read, so fields are only ever added, never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASS = "PASS"
FAIL = "FAIL"  # tests failed (or errored in setup/teardown)
ERROR = "ERROR"  # pytest stopped before running tests: collection/import error, usage or internal error
TIMEOUT = "TIMEOUT"  # ran past --timeout (or past --session-timeout); its process group was killed
CRASH = "CRASH"  # the interpreter died: a signal (SIGSEGV...) or an exit without finishing the session
SKIP = "SKIP"  # every test skipped, or no tests collected
FLAKY = "FLAKY"  # failed, then passed on a rerun (--reruns N)
NOTRUN = "NOTRUN"  # never finished: Ctrl-C or the session timeout came first

STATUSES = (PASS, FLAKY, SKIP, FAIL, ERROR, TIMEOUT, CRASH, NOTRUN)
OK_STATUSES = frozenset({PASS, FLAKY, SKIP})
JSON_VERSION = 1


@dataclass
class ModuleResult:
    """One test module's outcome; counts are tests (a test failing in call and teardown counts once)."""

    module: str  # display path: relative to the working directory when below it, else to DIR
    path: Path
    status: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    returncode: int | None = None
    signal: str | None = None  # "SIGSEGV" for a CRASH by signal
    attempts: int = 1
    current_test: str | None = None  # the test running when it crashed or timed out
    detail: str = ""  # one line: why it did not pass
    output: str = ""  # pytest's output (stdout+stderr); for FLAKY, the failed attempt's
    junit: Any = field(default=None, repr=False)  # xml.etree Element <testsuite>, or None

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_json(self) -> dict[str, Any]:
        out = {
            "module": self.module,
            "path": str(self.path),
            "status": self.status,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "duration_s": round(self.duration_s, 3),
            "returncode": self.returncode,
            "signal": self.signal,
            "attempts": self.attempts,
            "current_test": self.current_test,
            "detail": self.detail,
        }
        if self.status != PASS:
            out["output"] = self.output
        return out


@dataclass
class SuiteReport:
    """Every module's result (sorted by module path) and how the run ended."""

    target: Path
    results: list[ModuleResult]
    wall_s: float
    jobs: int
    cache_file: Path | None = None
    interrupted: bool = False  # Ctrl-C
    session_timed_out: bool = False
    preload: dict[str, Any] = field(default_factory=dict)  # modules, unsafe imports, fresh modules

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.interrupted

    def totals(self) -> dict[str, int]:
        return {
            "passed": sum(r.passed for r in self.results),
            "failed": sum(r.failed for r in self.results),
            "skipped": sum(r.skipped for r in self.results),
        }

    def summary_line(self) -> str:
        """The plain last line CI log readers grep for: `N passed, N failed[, N skipped]`."""
        t = self.totals()
        line = f"{t['passed']} passed, {t['failed']} failed"
        return line + (f", {t['skipped']} skipped" if t["skipped"] else "")

    def to_json(self) -> dict[str, Any]:
        by_status = {s: sum(r.status == s for r in self.results) for s in STATUSES}
        return {
            "version": JSON_VERSION,
            "target": str(self.target),
            "ok": self.ok,
            "jobs": self.jobs,
            "wall_s": round(self.wall_s, 3),
            "interrupted": self.interrupted,
            "session_timed_out": self.session_timed_out,
            "cache_file": str(self.cache_file) if self.cache_file else None,
            "preload": self.preload,
            "totals": {**self.totals(), "modules": len(self.results), "by_status": by_status},
            "modules": [r.to_json() for r in self.results],
        }
