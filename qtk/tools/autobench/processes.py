"""Process plumbing for the scheduler: pidfds, signal handlers, and killing a module's whole
process group (after faulthandler has had a moment to print its stacks)."""

from __future__ import annotations

import os
import signal
import time

from qtk.tools.autobench.preload import ForkedProcess

POLL_S = 0.005


def pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
        return None


def ignore_sigint():
    """A second Ctrl-C while the children are being killed would leave them running."""
    try:
        return signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return None


def sigterm_as_interrupt():
    """CI cancels a job with SIGTERM; the modules run in their own sessions and would outlive us,
    so SIGTERM is handled as Ctrl-C: kill them, report what finished."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: the caller owns signals
        return None


def kill_groups(jobs: list, dump_stacks: bool, grace_s: float) -> None:
    """SIGABRT each pytest (faulthandler prints its stacks), then SIGKILL each whole process group.

    The group is killed while its leader is an unreaped zombie at worst, so its id cannot have
    been reused by an unrelated process."""
    if dump_stacks:
        for job in jobs:
            _signal(job.proc.pid, signal.SIGABRT, group=False)
        end = time.monotonic() + grace_s
        while time.monotonic() < end and not all(_job_exited(j) for j in jobs):
            time.sleep(POLL_S)
    for job in jobs:
        _signal(job.proc.pid, signal.SIGKILL, group=True)
        job.proc.wait()


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        os.killpg(pid, sig) if group else os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def _job_exited(job) -> bool:
    if isinstance(job.proc, ForkedProcess):  # the fork server has reaped it and says so
        return job.proc.poll() is not None
    return _exited(job.proc.pid)


def _exited(pid: int) -> bool:
    """Has `pid` exited? Checked with WNOWAIT so the zombie (and its group id) stays reserved."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True
