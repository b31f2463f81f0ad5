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
runner runs it again in one. That fresh run records which modules were imported after the
first change (an audit hook sees os.environ's putenv/unsetenv); when none of them is preloaded,
the next run forks it after all ($QTK_AUTOBENCH_ENV_ORDER names that record), and the fork
checks at the change that none of them was imported yet, else it stops as above.

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
_collected = False
_before_change = None  # sys.modules when the environment first changed before the tests
# A module that changes os.environ may still be forked when a fresh run of it showed that none of
# the preloaded modules is imported after that change (the runner checked its cached record).
_ORDER_FILE = os.environ.get("QTK_AUTOBENCH_ENV_ORDER")
_ORDER = None
if _ORDER_FILE and _FORKED:
    with open(_ORDER_FILE, encoding="utf-8") as _f:
        _ORDER = json.load(_f)  # {"keys": [variables it changes], "after": [modules imported after]}
_order_broken = []  # modules of "after" already imported at the change: not the fresh run's order


def _audit(event, args):
    """The first change to os.environ before the tests: its setters call putenv/unsetenv, which
    raise these audit events. A bare os.putenv leaves os.environ as it was (numpy sets and unsets
    one that way while it imports): like _env_changes, that is not counted."""
    global _before_change
    if _before_change is not None or _collected or event not in ("os.putenv", "os.unsetenv"):
        return
    caller = sys._getframe(1)
    if caller.f_globals.get("__name__") != "os" or caller.f_code.co_name not in ("__setitem__", "__delitem__"):
        return
    key = os.fsdecode(args[0]) if isinstance(args[0], (bytes, str)) else ""
    if not key.startswith("PYTEST_"):  # pytest sets its own (PYTEST_VERSION...): not the module's
        _before_change = frozenset(sys.modules)
        if _ORDER is not None:
            _order_broken[:] = sorted(_before_change.intersection(_ORDER["after"]))


sys.addaudithook(_audit)


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
    global _collected
    _collected = True
    _emit(event="collected", t=time.monotonic())
    _env_changed[:] = _env_changes()
    if _env_changed:
        _emit(event="env_changed", keys=_env_changed)
        expected = _ORDER is not None and set(_env_changed) <= set(_ORDER["keys"])
        if _FORKED and (not expected or _order_broken or _before_change is None):
            if _order_broken:
                _emit(event="order_broken", modules=_order_broken[:3])
            _stream.flush()
            os._exit(ENV_CHANGED_EXIT)


def pytest_sessionfinish(session):
    if _env_changed:
        if not _FORKED and _before_change is not None:  # what a fork must not have preloaded
            _emit(event="env_order", keys=_env_changed, after=sorted(set(sys.modules) - _before_change))
        return  # what it imported after the change must not be preloaded for other modules
    _emit(event="imports", modules=sorted(n for n in set(sys.modules) - _BASELINE if _worth_naming(n)))


def _worth_naming(name):
    """Public modules, at most two levels deep (one for the standard library, whose packages
    import their submodules): enough to name what is heavy, few enough to cache per module."""
    parts = name.split(".")
    if name == "__main__" or any(p.startswith("_") for p in parts):
        return False
    return len(parts) <= (1 if parts[0] in getattr(sys, "stdlib_module_names", ()) else 2)
