"""Run each test module in its own pytest process, in parallel, and judge how each one ended.

Isolation is per module, as pytest-xdist's `--dist loadfile` groups tests, but in a process of
its own each time, forked from the fork server's pristine preloaded state (plan.py, preload.py)
or a fresh interpreter (a crash or a leaked global takes down one module, not the run), and in
its own session (`start_new_session`), so a timeout can kill the module's whole process group, grandchildren
included. Before that kill, SIGABRT goes to the pytest process: with PYTHONFAULTHANDLER=1 the
faulthandler module dumps every thread's stack first, so a hang shows where it hung.

The scheduler is one loop in the calling thread (no worker threads): start up to `jobs` processes,
sleep in select() on their pidfds until one exits or a deadline passes, enforce the deadlines.
Ctrl-C lands in that loop, which kills the running groups and returns what finished. Each pytest
gets a private cache_dir, so parallel runs cannot clobber the project's lastfailed.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from qtk.errors import UsageError
from qtk.tools.autobench import discover, imports, processes, split
from qtk.tools.autobench import plan as planning
from qtk.tools.autobench.plan import Plan
from qtk.tools.autobench.classify import classify
from qtk.tools.autobench.preload import ForkedProcess, ForkServer, start_server
from qtk.tools.autobench.results import CRASH, ERROR, FAIL, FLAKY, NOTRUN, PASS, ModuleResult, SuiteReport

PLUGIN_NAME = "_qtk_autobench_plugin"
POLL_S = processes.POLL_S
ENV_CHANGED_EXIT = 117  # pytest_plugin.py's: a forked module changed os.environ; rerun it fresh
RERUNNABLE = frozenset({FAIL, ERROR, CRASH})  # not TIMEOUT: a rerun would cost another full timeout
# pytest's "generated xml file: <our temp file>" line names a file deleted after the run.
_XML_NOTICE = re.compile(r"^-+ generated xml file: .*-+\n", re.MULTILINE)


def default_jobs() -> int:
    """CPUs this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass
class AutobenchOptions:
    """How to run a suite; every field maps to one `qtk autobench` option."""

    jobs: int = field(default_factory=default_jobs)
    timeout: float | None = None  # seconds per module attempt
    session_timeout: float | None = None  # seconds for the whole run
    reruns: int = 0  # extra attempts for a module that FAILs, ERRORs or CRASHes
    patterns: tuple[str, ...] = discover.DEFAULT_PATTERNS
    pytest_args: tuple[str, ...] = ()
    python: str = sys.executable
    cache_file: Path | None = None  # None: discover.default_cache_file(target)
    use_cache: bool = True
    preload: tuple[str, ...] = ()  # modules the fork server imports besides those it finds itself
    auto_preload: bool = True  # fork each module's pytest from a server that preloaded the shared imports
    split: bool = True  # deal the tests of a module that dominates the wall time to chunk processes
    split_slow: bool = False  # ... even when its tests share a class/module-scoped fixture
    kill_grace_s: float = 2.0  # how long faulthandler gets to dump stacks after SIGABRT

    def validate(self) -> None:
        if self.jobs < 1:
            raise UsageError(f"-j/--jobs must be at least 1, got {self.jobs}")
        for name, value in (("--timeout", self.timeout), ("--session-timeout", self.session_timeout)):
            if value is not None and value <= 0:
                raise UsageError(f"{name} must be positive seconds, got {value:g}")
        if self.reruns < 0:
            raise UsageError(f"--reruns must be 0 or more, got {self.reruns}")
        for name in self.preload:
            if not all(part.isidentifier() for part in name.split(".")):
                raise UsageError(f"--preload {name!r}: not a module name")
        if not self.patterns:
            raise UsageError("--pattern: give at least one file-name glob")
        for arg in self.pytest_args:
            if arg.split("=")[0] in ("--junit-xml", "--junitxml"):
                # autobench reads each module's report from its own --junit-xml; a second one would win.
                raise UsageError(f"pytest argument {arg}: use `qtk autobench --junit-xml FILE` instead")


@dataclass
class _Job:
    module: Path
    display: str
    attempt: int
    first_failure: ModuleResult | None  # the failed attempt a FLAKY verdict reports
    split: int  # chunk processes it deals its tests to after collection (1: runs whole); slots it holds
    proc: subprocess.Popen | ForkedProcess
    started: float
    deadline: float | None
    out_path: Path
    xml_path: Path
    events_path: Path
    out: object  # the open output file
    pidfd: int | None  # readable once the process exits (None where pidfds are missing: poll)
    killed_at: float | None = None  # when a timeout started killing it


class _Scheduler:
    def __init__(self, work: list[tuple[Path, int]], displays: dict[Path, str],
                 opts: AutobenchOptions, workdir: Path, plan: Plan,
                 on_result: Callable[[ModuleResult], None] | None, on_notice: Callable[[str], None],
                 launched: ForkServer | None = None):
        """`launched`: the fork server run_suite started before planning; run() configures it."""
        self.opts, self.workdir, self.displays, self.on_result = opts, workdir, displays, on_result
        self.plan, self.on_notice, self.launched = plan, on_notice, launched
        # (module, attempt, the failed first attempt, chunks); work is already longest first
        self.pending: deque[tuple[Path, int, ModuleResult | None, int]] = deque(
            (m, 1, None, k) for m, k in work)
        self.running: list[_Job] = []
        self.results: dict[Path, ModuleResult] = {}
        self.imported: dict[Path, list[str]] = {}  # what each module's run imported (next run's plan)
        self.env_changes: dict[Path, list[str]] = {}  # variables each module's run changed
        self.env_orders: dict[Path, dict] = {}  # fresh runs that changed them: what came after
        self.setups: dict[Path, float] = {}  # seconds from each module's start to its tests
        self.split_checks: dict[Path, str] = {}  # why each module's tests could not be split ("": they could)
        self.plugin_dir, self.env = plugin_env(workdir)
        self._serial = 0
        self.server = None
        self.wants_server = bool(opts.preload or opts.auto_preload)

    def close(self) -> None:
        for server in (self.launched, self.server):
            if server is not None:
                server.close()

    def start_server(self, known_unsafe: set[str]) -> None:
        """Start the fork server (blocking until it has imported what it preloads). Modules that
        run in a fresh interpreter anyway start first, longest first, so they use the cores the
        server's imports leave idle instead of waiting for it."""
        early = [item for item in self.pending
                 if item[0] in self.plan.fresh and item[0] not in self.plan.orders][: self.opts.jobs]
        for item in early:
            self.pending.remove(item)
            self._start(*item)
        opts = self.opts
        launched, self.launched = self.launched, None
        self.server = start_server(opts.python, self.plugin_dir, self.env, opts.preload,
                                   self.plan.auto if opts.auto_preload else None, self.plan.sys_path_dirs,
                                   self.plan.unsafe, launched)
        planning.fork_checked(self.plan, self.server.modules)
        planning.announce(self, known_unsafe, self.on_notice)

    def run(self, session_deadline: float | None, known_unsafe: set[str] = frozenset()) -> str | None:
        """Run everything; returns None, "interrupted" (Ctrl-C) or "session" (session timeout)."""
        try:
            if self.wants_server:
                self.start_server(known_unsafe)
            while self.pending or self.running:
                if session_deadline is not None and time.monotonic() >= session_deadline:
                    self._stop_all(session=True)
                    return "session"
                # Reap before starting: a module that exited since the last wake-up must free its
                # slot now, or the loop would sleep on the others with a slot idle.
                self._reap()
                while self.pending and sum(j.split for j in self.running) < self.opts.jobs:
                    self._start(*self.pending.popleft())
                self._wait(session_deadline)
        except KeyboardInterrupt:
            self._stop_all(session=False)
            return "interrupted"
        except BaseException:
            processes.kill_groups(self.running, dump_stacks=False, grace_s=0)  # never leave orphans behind
            raise
        return None

    def _wait(self, session_deadline: float | None) -> None:
        """Sleep until a module exits or the next deadline. A pidfd (Linux >= 5.3) becomes readable
        the moment its process exits, so the next module starts without a polling delay."""
        deadlines = [j.deadline for j in self.running if j.deadline is not None]
        if session_deadline is not None:
            deadlines.append(session_deadline)
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        fds = [j.pidfd for j in self.running if j.pidfd is not None]
        forked = [j.proc.pid for j in self.running if isinstance(j.proc, ForkedProcess)]
        if forked:  # the fork server reports its children's exits on its pipe
            if any(pid in self.server.statuses for pid in forked):
                return  # already read (while spawning): nothing to wait for
            fds.append(self.server.fileno())
        if self.running and all(j.pidfd is not None or isinstance(j.proc, ForkedProcess) for j in self.running):
            select.select(fds, [], [], timeout)
        elif self.running:
            time.sleep(POLL_S if timeout is None else min(POLL_S, timeout))

    def _start(self, module: Path, attempt: int, first_failure: ModuleResult | None, chunks: int) -> None:
        self._serial += 1
        stem = self.workdir / f"{self._serial:05d}"
        out_path, xml_path, events_path = (stem.with_suffix(s) for s in (".out", ".xml", ".events"))
        # A private cache_dir: parallel pytests would otherwise overwrite each other's lastfailed
        # in the project's .pytest_cache, leaving only the last module's failures for `--lf`.
        cmd = [self.opts.python, "-m", "pytest", str(module), "-p", PLUGIN_NAME,
               f"--junit-xml={xml_path}", "-o", "junit_family=xunit2",
               "-o", f"cache_dir={stem.with_suffix('.cache')}", *self.opts.pytest_args]
        env = dict(self.env, QTK_AUTOBENCH_EVENTS=str(events_path))
        if chunks > 1:  # pytest_plugin.py forks the chunks once it has collected
            env["QTK_AUTOBENCH_SPLIT"] = f"{chunks}:{'any' if self.opts.split_slow else 'safe'}:{stem}"
        if module in self.plan.env_forked:
            order_path = stem.with_suffix(".order")
            order_path.write_text(json.dumps(self.plan.orders[module]), encoding="utf-8")
            env["QTK_AUTOBENCH_ENV_ORDER"] = str(order_path)
        out = open(out_path, "wb")  # noqa: SIM115 - closed in _finish; a file, not a pipe, never fills up
        if self.server is not None and module not in self.plan.fresh:
            proc = self.server.spawn(cmd[3:], out_path, env)  # cmd less `python -m pytest`
            pidfd = None
        else:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)
            except OSError as e:
                out.close()
                raise UsageError(f"--python {self.opts.python}: cannot run it ({e.strerror})") from e
            pidfd = processes.pidfd(proc.pid)
        now = time.monotonic()
        deadline = now + self.opts.timeout if self.opts.timeout else None
        self.running.append(_Job(module, self.displays[module], attempt, first_failure, chunks, proc, now,
                                 deadline, out_path, xml_path, events_path, out, pidfd))

    def _reap(self) -> None:
        now = time.monotonic()
        for job in list(self.running):
            if job.proc.poll() is not None:
                self._finish(job, timed_out=False)
            elif job.deadline is not None and now >= job.deadline:
                job.killed_at = now
                processes.kill_groups([job], dump_stacks=True, grace_s=self.opts.kill_grace_s)
                self._finish(job, timed_out=True)

    def _finish(self, job: _Job, timed_out: bool, session: bool = False) -> None:
        self._release(job)
        facts = imports.read_run_facts(job.events_path)
        env_changed = facts.env_changed
        self.env_changes[job.module] = env_changed
        forked = isinstance(job.proc, ForkedProcess)
        chunks = split.chunk_files(job.events_path, facts.split_chunks)
        if facts.collected is not None:  # start-up and collection: what the split model weighs
            self.setups[job.module] = max(self.setups.get(job.module, 0.0), facts.collected - job.started)
        if facts.split_check is not None:
            self.split_checks[job.module] = facts.split_check
        imported = [n for c in chunks for n in (imports.read_run_facts(c[2]).imported or ())] or facts.imported
        if imported is not None:
            self.imported[job.module] = sorted(set(imported))
        if facts.env_order is not None and not forked:
            self.env_orders[job.module] = facts.env_order
        if env_changed and forked and job.proc.returncode == ENV_CHANGED_EXIT:
            # Preloaded modules were imported before that change: run it as a fresh interpreter would.
            self.plan.env_forked.pop(job.module, None)
            self.plan.fresh[job.module] = f"changes os.environ ({', '.join(env_changed[:3])})"
            self.on_notice(f"{job.display} changed os.environ ({', '.join(env_changed[:3])}) before its "
                           "tests: running it again in a fresh interpreter")
            self.pending.appendleft((job.module, job.attempt, job.first_failure, job.split))
            return
        duration = time.monotonic() - job.started
        output = _read_output(job.out_path)
        timeout = self.opts.timeout if not session else None
        if chunks:
            result = split.judge(job.module, job.display, job.proc.returncode, job.killed_at if timed_out else None,
                                 timeout, output, chunks, facts, job.started, _read_output)
        else:
            result = classify(job.module, job.display, job.proc.returncode, timed_out, duration, output,
                              job.xml_path, job.events_path, timeout)
        result.attempts = job.attempt
        if result.status in RERUNNABLE and job.attempt <= self.opts.reruns and not session:
            self.pending.appendleft((job.module, job.attempt + 1, job.first_failure or result, job.split))
            return
        if job.first_failure is not None and result.status == PASS:
            first = job.first_failure
            result.status = FLAKY
            result.detail = f"attempt 1 {first.status}: {first.detail}; passed on attempt {job.attempt}"
            result.output = first.output
        self._record(result)

    def _release(self, job: _Job) -> None:
        self.running.remove(job)
        job.out.close()
        if job.pidfd is not None:
            os.close(job.pidfd)

    def _record(self, result: ModuleResult) -> None:
        self.results[result.path] = result
        if self.on_result is not None:
            self.on_result(result)

    def _stop_all(self, session: bool) -> None:
        """Kill every running module; unstarted ones keep an earlier failed attempt or become NOTRUN."""
        old = processes.ignore_sigint()
        try:
            jobs = list(self.running)
            for job in jobs:
                job.killed_at = time.monotonic()
            processes.kill_groups(jobs, dump_stacks=session, grace_s=self.opts.kill_grace_s)
            for job in jobs:
                if session:
                    self._finish(job, timed_out=True, session=True)
                else:
                    self._release(job)
                    if job.first_failure is not None:  # a rerun was under way: the failure stands
                        self._record(job.first_failure)
            for module, _, first_failure, _ in self.pending:
                if first_failure is not None:
                    self._record(first_failure)
            self.pending.clear()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)


def plugin_env(workdir: Path) -> tuple[Path, dict[str, str]]:
    """The directory that holds the plugin every pytest run loads (idempotent), and the
    environment the runs get: the plugin importable, faulthandler on."""
    plugin_dir = workdir / "plugin"
    if not plugin_dir.is_dir():
        plugin_dir.mkdir()
        shutil.copyfile(Path(__file__).with_name("pytest_plugin.py"), plugin_dir / f"{PLUGIN_NAME}.py")
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugin_dir), env.get("PYTHONPATH")) if p)
    return plugin_dir, env


def _check_python(python: str) -> None:
    """Another interpreter must have pytest, or every module would fail the same confusing way."""
    try:
        proc = subprocess.run([python, "-c", "import pytest"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UsageError(f"--python {python}: cannot run it ({e})") from e
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["import failed"])[-1]
        raise UsageError(f"--python {python}: cannot import pytest ({last})")


def _display_names(modules: list[Path], target: Path) -> dict[Path, str]:
    """Paths as the user would type them: relative to the working directory when below it."""
    cwd = Path.cwd().resolve()
    base = target.resolve() if target.is_dir() else target.resolve().parent
    names = {}
    for m in modules:
        for anchor in (cwd, base):
            try:
                names[m] = m.relative_to(anchor).as_posix()
                break
            except ValueError:
                continue
        else:
            names[m] = m.as_posix()
    return names


def _work(modules: list[Path], cache: discover.DurationCache, opts: AutobenchOptions) -> list[tuple[Path, int]]:
    """What to start, longest first, and into how many chunks each module deals its tests (1:
    whole), placed by its estimated duration (start-up, then its share of the rest). Only a
    module whose last run (of the same file) found its tests splittable is split; with
    --split-slow also one whose tests share a fixture."""
    ordered = discover.longest_first(modules, cache)
    if not (opts.split or opts.split_slow):
        return [(m, 1) for m in ordered]
    durations = {m: d for m in modules if (d := cache.get(m)) is not None}
    setups = {m: s for m in modules if (s := cache.setups.get(cache.key(m))) is not None}
    counts = split.chunk_counts(modules, durations, opts.jobs, setups)
    checks = {m: cache.split_check(m) for m in counts}
    counts = {m: k for m, k in counts.items()
              if checks[m] == "" or (opts.split_slow and (checks[m] or "").startswith("fixture "))}
    estimate = {m: split.chunk_seconds(durations[m], setups.get(m, 0.0), counts.get(m, 1)) for m in durations}
    work = [(m, counts.get(m, 1)) for m in ordered]
    return sorted(work, key=lambda w: (w[0] in estimate, -estimate.get(w[0], 0.0)))  # stable: unknown first


def _read_output(path: Path) -> str:
    return _XML_NOTICE.sub("", path.read_bytes().decode("utf-8", errors="replace")) if path.exists() else ""


def run_suite(target: Path, opts: AutobenchOptions, on_result: Callable[[ModuleResult], None] | None = None,
              on_notice: Callable[[str], None] | None = None) -> SuiteReport:
    """Discover, schedule (longest first), run and judge every module under `target`.

    `on_result` is called once per module as soon as its verdict is final (for progress output);
    `on_notice` with one line whenever the preload leaves something out and why."""
    opts.validate()
    if opts.python != sys.executable:
        _check_python(opts.python)
    on_notice = on_notice or (lambda line: None)
    target = Path(target)
    modules = discover.discover_modules(target, opts.patterns)
    cache_file = (opts.cache_file or discover.default_cache_file(target)) if opts.use_cache else None
    cache = discover.DurationCache(cache_file, discover.cache_root(target))
    displays = _display_names(modules, target)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="qtk-autobench-"))
    old_term = processes.sigterm_as_interrupt()
    scheduler = launched = None
    try:
        if opts.preload or opts.auto_preload:  # it imports pytest while the plan is made
            launched = ForkServer(opts.python, *plugin_env(workdir))
        plan = planning.make_plan(modules, target, opts, cache)
        scheduler = _Scheduler(_work(modules, cache, opts), displays, opts, workdir, plan, on_result, on_notice,
                               launched)
        launched = None  # the scheduler's now
        deadline = started + opts.session_timeout if opts.session_timeout else None
        stop = scheduler.run(deadline, set(cache.unsafe))
    finally:
        if launched is not None:
            launched.close()
        if scheduler is not None:
            scheduler.close()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        shutil.rmtree(workdir, ignore_errors=True)
    results = scheduler.results
    missing = [m for m in modules if m not in results]
    if missing:
        reason = ("interrupted (Ctrl-C or SIGTERM)" if stop == "interrupted"
                  else f"session timeout ({opts.session_timeout:g} s)")
        for m in missing:
            # One failed "test" per module, as in the JUnit report: a run cut short must not read clean.
            results[m] = ModuleResult(displays[m], m, NOTRUN, failed=1, detail=f"not finished: {reason}")
    planning.remember(cache, scheduler, results)
    cache.save()
    preload = {"modules": [*opts.preload, *(scheduler.server.preloaded if scheduler.server else [])],
               "unsafe": dict(plan.unsafe), "fresh": {displays[m]: why for m, why in plan.fresh.items()},
               "forked_env_checked": sorted(displays[m] for m in plan.env_forked)}
    return SuiteReport(target=target, results=sorted(results.values(), key=lambda r: r.module),
                       wall_s=time.monotonic() - started, jobs=opts.jobs, cache_file=cache_file,
                       interrupted=stop == "interrupted", session_timed_out=stop == "session", preload=preload)
