"""Two-stage Ctrl-C (and SIGTERM): the first asks the run to stop after the current action, the second stops at once.

Use :func:`graceful_interrupts` around a run and pass its :class:`StopFlag` to the loop. The
first SIGINT or SIGTERM sets the flag (the loop finishes the action in progress, records the
step and ends with reason ``interrupted``) and, when the run is blocked in an
:func:`interruptible_wait` (a model request), cuts that wait short with :class:`WaitInterrupted`
so the stop takes effect at once instead of after the request's timeout. A second signal raises
KeyboardInterrupt right away, and the loop still finalises ``run.json`` on its way out. Files
are never left half-written: ``steps.jsonl`` lines are appended whole or skipped by the reader,
``run.json`` is replaced atomically.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopFlag:
    """Set when a person asked the run to stop; the loop polls :meth:`is_set` between actions."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask the run to stop after the current action."""
        self._event.set()

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def __call__(self) -> bool:
        return self._event.is_set()


class WaitInterrupted(BaseException):
    """The first stop request arrived during an :func:`interruptible_wait`. A BaseException, so that no
    ``except Exception`` (a backend's retry loop, a library) swallows it on its way to the loop."""


_waits = 0  # how many interruptible_wait blocks the main thread is in


@contextmanager
def interruptible_wait() -> Iterator[None]:
    """Mark a blocking wait (a model request) that the first stop request ends with :class:`WaitInterrupted`.

    Only the main thread's waits are marked (signal handlers run there); elsewhere this does nothing.
    """
    global _waits
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _waits += 1
    try:
        yield
    finally:
        _waits -= 1


@contextmanager
def graceful_interrupts(flag: StopFlag, announce: bool = True) -> Iterator[StopFlag]:
    """Install the two-stage SIGINT and SIGTERM handler for the duration of the block (main thread only);
    the handlers installed before are put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()
        if announce:
            cause = "Terminated" if signum == signal.SIGTERM else "Interrupted"
            sys.stderr.write(f"\n{cause}: stopping after the current action (Ctrl-C again to stop at once)...\n")
        if _waits:
            raise WaitInterrupted

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
