"""The pytest plugin `qtk autobench` loads into every module's run (`-p _qtk_autobench_plugin`).

It streams one JSON line per test event to the file named by $QTK_AUTOBENCH_EVENTS, flushed when
a test starts and when it finishes (two writes per test, not one per line), so the lines are in
the kernel's hands before the next test starts. pytest writes its JUnit XML
only at the end of the session; when a module segfaults or hangs, these lines are what is left to
name the test that was running and to count the tests that finished before it.

It also reports what the run imported (imports.py turns that into next run's preload list),
when collection finished (the start-up before the tests) and whether conftest or the
module changed os.environ before the tests ran. A module forked from the
fork server that did so stops at once (exit code ENV_CHANGED_EXIT): modules the server preloaded
were imported before that change, as they would not have been in a fresh interpreter, so the
runner runs it again in one. That fresh run records which modules were imported after the
first change (an audit hook sees os.environ's putenv/unsetenv); when none of them is preloaded,
the next run forks it after all ($QTK_AUTOBENCH_ENV_ORDER names that record), and the fork
checks at the change that none of them was imported yet, else it stops as above.

Asked to ($QTK_AUTOBENCH_SPLIT), it deals the collected tests of a module that dominates the
run to chunk processes forked after collection (see _split); every run says whether its module
could be split (`split_check`), which the runner keeps for the next run's choice.

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


if not _FORKED or _ORDER is not None:  # a plain fork stops at any change: it needs no record
    sys.addaudithook(_audit)  # (a hook cannot be removed, and it is called for every audit event)


def _emit(flush=False, **event):
    global _stream
    if not _PATH:
        return
    if _stream is None:
        _stream = open(_PATH, "a", encoding="utf-8")  # noqa: SIM115 - lives for the session
    _stream.write(json.dumps(event) + "\n")
    if flush:
        _stream.flush()


def pytest_runtest_logstart(nodeid, location):
    _emit(event="start", nodeid=nodeid, flush=True)


def pytest_runtest_logreport(report):
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        # JUnit counts an xfail as skipped and an xpass as passed; say the same here.
        outcome = "skipped" if report.skipped else "passed"
    _emit(event="report", nodeid=report.nodeid, when=report.when, outcome=outcome)


def pytest_runtest_logfinish(nodeid, location):
    _emit(event="finish", nodeid=nodeid, flush=True)


def pytest_unconfigure(config):
    if _stream is not None:
        _stream.flush()  # the fork server's children leave with os._exit, which flushes nothing


def _env_changes():
    now = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return sorted(k for k in set(now) | set(_ENV) if now.get(k) != _ENV.get(k))


def pytest_collection_finish(session):
    """Every conftest, pytest_configure hook and test module has been imported by now: the
    start-up before the tests (time.monotonic is one clock for all processes)."""
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
    items = session.items
    blocker = ("collection errors" if session.testsfailed else f"{len(items)} test(s)" if len(items) < 2
               else None)
    shared = None if blocker else _shared_fixture(items)
    _emit(event="split_check", why=blocker or shared or "")  # next run's choice: split it or not
    split = os.environ.get("QTK_AUTOBENCH_SPLIT")
    if split and not blocker:
        k, mode, stem = split.split(":", 2)
        if mode == "any" or not shared:
            _split(session, int(k), stem)


def _shared_fixture(items):
    """Why these tests cannot be dealt to separate processes without changing what they share:
    a class-, module-, package- or session-scoped fixture of the project's, setup_class and
    setup_module included (each process would set it up again; pytest's own global ones, such as
    tmp_path_factory, are per process anyway), or a test pytest gives no fixture information for
    (doctests...). None when they share none."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            return f"{item.nodeid} is not a plain test function"
        for name, defs in info.name2fixturedefs.items():
            for d in defs:
                pytests_own = getattr(d, "baseid", None) == "" and d.func.__module__.startswith("_pytest.")
                if d.scope != "function" and not pytests_own:
                    return f"fixture {name} is {d.scope}-scoped"
    return None


def _split(session, k, stem):
    """Deal the collected tests to k processes forked from this one (chunk i keeps every k-th
    test from the i-th), so that none of them collects again. This process waits for them and
    records how each ended; each writes its own output, JUnit XML and events under `stem`.c<i>.
    Asked to, a module still runs whole on collection errors, with fewer than 2 tests, or (unless
    mode is "any", from --split-slow) when its tests share a fixture."""
    items = session.items
    for stream in (sys.stdout, sys.stderr, _stream):
        stream.flush()
    pids, k = [], min(k, len(items))
    for i in range(k):
        pid = os.fork()
        if pid == 0:
            _become_chunk(session, i, k, stem)
            return
        pids.append(pid)
    _emit(event="split", chunks=len(pids), pids=pids)
    _stream.flush()
    _wait_for_chunks(pids)


def _become_chunk(session, i, k, stem):
    global _stream, _PATH
    out = open(f"{stem}.c{i}.out", "ab")  # noqa: SIM115 - this process's output from now on
    target = os.stat(f"{stem}.out")  # the module's output file, which the runner opened
    for fd in _open_fds():  # stdout, stderr, and the copies pytest's capture keeps of them
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino) and fd != out.fileno():
            os.dup2(out.fileno(), fd)
    _stream.close()
    _stream, _PATH = None, f"{stem}.c{i}.events"
    xml = _logxml(session.config)
    if xml is not None:
        xml.logfile = f"{stem}.c{i}.xml"
    items = session.items
    deselected = [item for n, item in enumerate(items) if n % k != i]
    items[:] = items[i::k]
    session.config.hook.pytest_deselected(items=deselected)


def _open_fds():
    try:
        return [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        return range(256)


def _logxml(config):
    """pytest's JUnit XML writer, whose file each chunk points at its own."""
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "LogXML" and hasattr(plugin, "logfile"):
            return plugin
    return None


def _wait_for_chunks(pids):
    """Wait for every chunk, then exit: the tests ran in them. A SIGABRT (the runner's timeout,
    asking for stacks) goes on to the chunks, whose faulthandler prints theirs."""
    import faulthandler
    import signal

    faulthandler.disable()
    signal.signal(signal.SIGABRT, lambda *_: [_kill(pid, signal.SIGABRT) for pid in pids])
    statuses = {}
    while len(statuses) < len(pids):
        pid, status = os.waitpid(-1, 0)
        if pid in pids:
            statuses[pid] = (status, time.monotonic())
    _emit(event="chunks_done", statuses=[statuses[pid][0] for pid in pids],
          ends=[statuses[pid][1] for pid in pids])
    _stream.flush()
    os._exit(0)


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


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
