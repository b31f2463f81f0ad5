"""Preemption: SLURM and Kubernetes send SIGTERM (SLURM optionally SIGUSR1 earlier) and kill the
job after a grace period. The handler only records the signal; the training loop saves a checkpoint
at the next step boundary and ends with exit status 143 (or asks SLURM to requeue the job).

A second signal while that checkpoint is written lands in the same handler and changes nothing:
the save runs to completion, and every file it writes is renamed into place whole.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class PreemptGuard:
    """Context manager: while active, SIGTERM/SIGUSR1 set `received` instead of ending the process."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "PreemptGuard":
        # signal.signal works only in the main thread (a notebook's worker thread keeps the defaults)
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum

    def __exit__(self, *exc: Any) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()

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
