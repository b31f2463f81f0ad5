"""Ctrl-C between runs. While a run trains, its loop holds SIGINT and stops at a step boundary
(qtk/train/preempt.py); around the runs, the first Ctrl-C only asks the comparison to stop after
the run in hand, whose result is then kept, and a second one stops at once."""

from __future__ import annotations

import signal
import threading
from typing import Any


class StopAtStep:
    """Context manager holding SIGINT for the main thread; `requested` once Ctrl-C was pressed.
    The train loop hands on a Ctrl-C it did not act on (pressed during its final evaluation)."""

    def __init__(self, notice=None) -> None:
        self.requested, self.notice, self._old = False, notice, None

    def __enter__(self) -> "StopAtStep":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.notice:
            self.notice("stopping after this run (Ctrl-C again stops at once)")
