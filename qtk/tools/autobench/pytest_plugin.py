"""The pytest plugin `qtk autobench` loads into every module's run (`-p _qtk_autobench_plugin`).

It streams one JSON line per test event to the file named by $QTK_AUTOBENCH_EVENTS, line-buffered,
so the lines are in the kernel's hands before the next test starts. pytest writes its JUnit XML
only at the end of the session; when a module segfaults or hangs, these lines are what is left to
name the test that was running and to count the tests that finished before it.

It also reports what the run imported (imports.py turns that into next run's preload list),
when collection finished (the start-up a --split-slow chunk repeats) and whether conftest or the
module changed os.environ before the tests ran. A module forked from the
fork server that did so stops at once (exit code ENV_CHANGED_EXIT): modules the server preloaded
were imported before that change, as they would not have been in a fresh interpreter, so the
runner runs it again in one.

Stdlib and pytest only, no qtk imports: autobench copies this file beside the run under a unique name, so it
loads in whatever interpreter runs the tests.
"""

import json
import os
import sys
import time

import pytest

ENV_CHANGED_EXIT = 117
_PATH = os.environ.get("QTK_AUTOBENCH_EVENTS")
_stream = None
_BASELINE = getattr(sys, "_qtk_autobench_baseline", None)  # set by the fork server before it preloads
_FORKED = _BASELINE is not None
if _BASELINE is None:
    _BASELINE = frozenset(sys.modules)
_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # pytest sets its own
_env_changed = []


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


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected their share
def pytest_collection_modifyitems(session, config, items):
    """--split-slow: this run is chunk i of k of its module; keep every k-th test from the i-th."""
    chunk = os.environ.get("QTK_AUTOBENCH_CHUNK")
    if not chunk:
        return
    i, k = map(int, chunk.split("/"))
    keep = items[i::k]
    deselected = [item for n, item in enumerate(items) if n % k != i]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = keep



def _env_changes():
    now = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return sorted(k for k in set(now) | set(_ENV) if now.get(k) != _ENV.get(k))


def pytest_collection_finish(session):
    """Every conftest, pytest_configure hook and test module has been imported by now: the
    start-up a --split-slow chunk pays again (time.monotonic is one clock for all processes)."""
    _emit(event="collected", t=time.monotonic())
    _env_changed[:] = _env_changes()
    if _env_changed:
        _emit(event="env_changed", keys=_env_changed)
        if _FORKED:
            _stream.flush()
            os._exit(ENV_CHANGED_EXIT)


def pytest_sessionfinish(session):
    if _env_changed:
        return  # what it imported after the change must not be preloaded for other modules
    _emit(event="imports", modules=sorted(n for n in set(sys.modules) - _BASELINE if _worth_naming(n)))


def _worth_naming(name):
    """Public modules, at most two levels deep (one for the standard library, whose packages
    import their submodules): enough to name what is heavy, few enough to cache per module."""
    parts = name.split(".")
    if name == "__main__" or any(p.startswith("_") for p in parts):
        return False
    return len(parts) <= (1 if parts[0] in getattr(sys, "stdlib_module_names", ()) else 2)
