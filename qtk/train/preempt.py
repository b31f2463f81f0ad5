"""Stopping at a step boundary. SLURM and Kubernetes send SIGTERM (SLURM optionally SIGUSR1
earlier) and kill the job after a grace period; a user presses Ctrl-C. The handlers only record the
signal; the training loop saves a checkpoint at the next step boundary, where its state is whole,
and ends with exit status 143 (or asks SLURM to requeue the job), or 130 for Ctrl-C. A checkpoint
saved inside a step (a batch drawn but not applied, half the accumulation done) would hold a state
the uninterrupted run never had, and the resumed run would drift from it.

A second preemption signal while that checkpoint is written lands in the same handler and changes
nothing: the save runs to completion, and every file it writes is renamed into place whole. A
second Ctrl-C stops at once, keeping the last checkpoint as it was.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from typing import Any, Callable

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class StopNow(BaseException):
    """Raised by a preemption signal while the guard is `at_once` (no step in hand: the final
    evaluation). A BaseException, like KeyboardInterrupt, so no `except Exception` swallows it."""


class CtrlC:
    """Context manager holding SIGINT for the main thread: a first Ctrl-C sets `pressed` and tells
    `notice` what will happen; a second raises KeyboardInterrupt there and then.

    At exit the previous handler comes back, and a press nobody acted on (`acted` still false) is
    handed on to a Python handler installed before: a caller that runs several trainings in one
    process (qtk compare) still learns of a Ctrl-C pressed during a run's final evaluation."""

    def __init__(self, notice: Callable[[str], None] | None = None,
                 what: str = "stopping at the end of this step") -> None:
        self.pressed = self.acted = self.at_once = False
        self.notice, self.what = notice, what
        self._old: Any = None

    def __enter__(self) -> "CtrlC":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.pressed or self.at_once:
            self.pressed = True
            raise KeyboardInterrupt
        self.pressed = True
        if self.notice:
            self.notice(f"{self.what} (Ctrl-C again stops at once)")

    def __exit__(self, *exc: Any) -> None:
        prior, self._old = self._old, None
        if prior is None:
            return
        signal.signal(signal.SIGINT, prior)
        if self.pressed and not self.acted and callable(prior) and prior is not signal.default_int_handler:
            prior(signal.SIGINT, None)


class PreemptGuard:
    """Context manager: while active, SIGTERM/SIGUSR1 set `received`, and a first Ctrl-C sets
    `ctrl_c.pressed`, instead of ending the process. While `at_once` is true (no step in hand),
    they raise StopNow / KeyboardInterrupt there and then."""

    def __init__(self, notice: Callable[[str], None] | None = None) -> None:
        self.received: int | None = None
        self.ctrl_c = CtrlC(notice)
        self._old: dict[int, Any] = {}

    @property
    def at_once(self) -> bool:
        return self.ctrl_c.at_once

    @at_once.setter
    def at_once(self, value: bool) -> None:
        self.ctrl_c.at_once = value

    def __enter__(self) -> "PreemptGuard":
        # signal.signal works only in the main thread (a notebook's worker thread keeps the defaults)
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        self.ctrl_c.__enter__()
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
        if self.at_once:
            self.at_once = False
            raise StopNow

    def __exit__(self, *exc: Any) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()
        self.ctrl_c.__exit__(*exc)

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else ""


def requeue() -> str:
    """Ask SLURM to requeue this job (train.on_preempt = "requeue"); returns what happened, in words."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return "not requeued: SLURM_JOB_ID is not set (not a SLURM job)"
    exe = shutil.which("scontrol")
    if exe is None:
        return "not requeued: scontrol is not on PATH"
    r = subprocess.run([exe, "requeue", job], capture_output=True, text=True, timeout=60)
    if r.returncode:
        return f"scontrol requeue {job} failed: {(r.stderr or r.stdout).strip()[:200]}"
    return f"SLURM job {job} requeued"
