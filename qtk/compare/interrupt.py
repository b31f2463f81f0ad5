"""Ctrl-C at a step boundary. The train loop saves a checkpoint when KeyboardInterrupt reaches it,
but a signal that lands inside a step (after the batch was drawn, or between two parameter updates)
saves a state the uninterrupted run never had, and the resumed run drifts from it. So while a
comparison runs, the first Ctrl-C only asks to stop, and the reporter's callbacks, which the loop
calls between whole steps, raise it there; a second Ctrl-C stops at once."""

from __future__ import annotations

import signal
import threading
from typing import Any

from qtk.train.loop import Reporter


class StopAtStep:
    """Context manager holding SIGINT for the main thread; `requested` once Ctrl-C was pressed."""

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
            self.notice("stopping at the end of this step (Ctrl-C again stops at once)")

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


class Guarded(Reporter):
    """Forwards to `inner`, raising a requested stop where the loop's state is whole: after a
    step, or on a step that evaluates, after that evaluation (a stop
    raised before it would skip the curve's point there). At the last step nothing is raised: the
    run finishes and the runner stops after it."""

    def __init__(self, inner: Reporter, stop: StopAtStep, eval_interval: int, max_steps: int) -> None:
        self.inner, self.stop = inner, stop
        self.eval_interval, self.max_steps = eval_interval, max_steps

    def _at_boundary(self, step: int) -> None:
        if not (self.max_steps and step >= self.max_steps):
            self.stop.check()

    def notice(self, msg: str) -> None:
        self.inner.notice(msg)

    def tokenize(self, done: int, total: int) -> None:  # not here: the token cache is being written
        self.inner.tokenize(done, total)

    def start(self, info: dict[str, Any]) -> None:
        self.inner.start(info)

    def step(self, rec: dict[str, Any]) -> None:
        self.inner.step(rec)
        if not (self.eval_interval and rec["step"] % self.eval_interval == 0):
            self._at_boundary(rec["step"])

    def eval(self, rec: dict[str, Any]) -> None:
        self.inner.eval(rec)
        self._at_boundary(rec["step"])

    def finish(self) -> None:
        self.inner.finish()
