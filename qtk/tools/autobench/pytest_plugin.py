"""The pytest plugin `qtk autobench` loads into every module's run (`-p _qtk_autobench_plugin`).

It streams one JSON line per test event to the file named by $QTK_AUTOBENCH_EVENTS, line-buffered,
so the lines are in the kernel's hands before the next test starts. pytest writes its JUnit XML
only at the end of the session; when a module segfaults or hangs, these lines are what is left to
name the test that was running and to count the tests that finished before it.

Stdlib only, no qtk imports: autobench copies this file beside the run under a unique name, so it
loads in whatever interpreter runs the tests.
"""

import json
import os

_PATH = os.environ.get("QTK_AUTOBENCH_EVENTS")
_stream = None


def _emit(**event):
    global _stream
    if not _PATH:
        return
    if _stream is None:
        _stream = open(_PATH, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives for the session
    _stream.write(json.dumps(event) + "\n")


def pytest_runtest_logstart(nodeid, location):
    _emit(event="start", nodeid=nodeid)


def pytest_runtest_logreport(report):
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        # JUnit counts an xfail as skipped and an xpass as passed; say the same here.
        outcome = "skipped" if report.skipped else "passed"
    _emit(event="report", nodeid=report.nodeid, when=report.when, outcome=outcome)


def pytest_runtest_logfinish(nodeid, location):
    _emit(event="finish", nodeid=nodeid)
