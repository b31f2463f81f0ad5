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


class PreemptGuard:
    """Context manager: while active, SIGTERM/SIGUSR1 set `received` and a first Ctrl-C sets
    `interrupted` instead of ending the process; `notice` tells the user what a Ctrl-C will do.

    A Ctrl-C the loop never acted on (pressed during the final evaluation) is handed on at exit to
    a Python handler that was installed before, so a caller that runs several trainings in one
    process (qtk compare) still learns of it."""

    def __init__(self, notice: Callable[[str], None] | None = None) -> None:
        self.received: int | None = None
        self.interrupted = self.acted = False
        self.notice = notice
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "PreemptGuard":
        # signal.signal works only in the main thread (a notebook's worker thread keeps the defaults)
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
            self._old[signal.SIGINT] = signal.signal(signal.SIGINT, self._interrupt)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum

    def _interrupt(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        if self.notice:
            self.notice("stopping at the end of this step (Ctrl-C again stops at once)")

    def __exit__(self, *exc: Any) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        prior = self._old.get(signal.SIGINT)
        self._old.clear()
        if self.interrupted and not self.acted and callable(prior) and prior is not signal.default_int_handler:
            prior(signal.SIGINT, None)

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
