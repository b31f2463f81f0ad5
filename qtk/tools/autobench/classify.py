"""Judging one finished pytest process: exit code + its JUnit XML + the event stream -> a status.

pytest's exit codes: 0 all passed, 1 some tests failed, 2 interrupted (a collection error stops
the session), 3 internal error, 4 usage error, 5 no tests collected. A negative return code is a
signal. A process that exits without having written its report (a test called os._exit, or the
interpreter aborted) did not finish either, whatever its code: that is a CRASH, not a verdict.
"""

from __future__ import annotations

import signal
from pathlib import Path

from qtk.tools.autobench import junit
from qtk.tools.autobench.results import CRASH, ERROR, FAIL, PASS, SKIP, TIMEOUT, ModuleResult

_EXIT_MEANING = {2: "interrupted (collection error)", 3: "pytest internal error", 4: "pytest usage error"}


def classify(module: Path, display: str, returncode: int, timed_out: bool, duration_s: float,
             output: str, xml_path: Path, events_path: Path, timeout_s: float | None) -> ModuleResult:
    """The verdict on one attempt. `timeout_s` None with `timed_out` means the session timeout."""
    suite = junit.read_module_xml(xml_path)
    # The event stream matters only when the run did not finish (one line per test event: a
    # module of 1,000 tests has 5,000 to parse); a finished run's report has it all.
    unfinished = timed_out or returncode < 0 or suite is None
    events, running = junit.read_events(events_path) if unfinished else ({}, None)
    r = ModuleResult(display, module, ERROR, duration_s=duration_s, returncode=returncode, output=output)
    r.current_test = running
    where = f" while running {running}" if running else ""
    if timed_out:
        r.status = TIMEOUT
        limit = f"timed out after {timeout_s:g} s" if timeout_s else "stopped by the session timeout"
        r.detail = limit + where
    elif returncode < 0:
        r.status, r.signal = CRASH, _signal_name(-returncode)
        r.detail = r.signal + (where or " outside any test (collection, import or exit)")
    elif suite is None and returncode not in _EXIT_MEANING:
        r.status = CRASH
        r.detail = f"exited with code {returncode} before pytest wrote its report{where}"
    elif returncode in (0, 5):
        r.status = PASS
    elif returncode == 1:
        r.status = FAIL
    else:
        r.detail = f"{_EXIT_MEANING.get(returncode, f'exit code {returncode}')}: {_first_error(suite, output)}"
    if r.status in (TIMEOUT, CRASH) or suite is None:
        suite = junit.rebuild_suite(r, events, running, suite)
    r.junit = suite
    r.passed, r.failed, r.skipped = junit.count_tests(suite)
    if r.status == PASS and r.passed == 0:
        r.status = SKIP
        r.detail = f"all {r.skipped} tests skipped" if r.skipped else "no tests collected"
    elif r.status == FAIL:
        r.detail = f"{r.failed} failed: {', '.join(_failed_names(suite))}"
    return r


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _first_error(suite, output: str) -> str:
    """The line a reader wants first: pytest's `E   ModuleNotFoundError: ...` from the report or the
    output, else argparse's `...: error: unrecognized arguments`, else the last line of output."""
    texts = [err.text or "" for err in suite.iter("error")] if suite is not None else []
    lines = [ln for text in (*texts, output) for ln in text.splitlines()]
    for wanted in (lambda ln: ln.startswith("E   "), lambda ln: ": error: " in ln, lambda ln: ln.strip()):
        found = [ln for ln in lines if wanted(ln)]
        if found:
            return found[-1].removeprefix("E   ").strip()
    return "no output"


def _failed_names(suite, limit: int = 3) -> list[str]:
    names: list[str] = []
    for case in suite.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            name = case.get("name", "?")
            if name not in names:
                names.append(name)
    return names[:limit] + (["..."] if len(names) > limit else [])
