"""Two-stage Ctrl-C: the first asks the run to stop after the current action, the second stops at once.

Use :func:`graceful_interrupts` around a run and pass its :class:`StopFlag` to the loop. The
first SIGINT only sets the flag (the loop finishes the action in progress, records the step
and ends with reason ``interrupted``); a second SIGINT raises KeyboardInterrupt right away, and
the loop still finalises ``run.json`` on its way out. Files are never left half-written:
``steps.jsonl`` lines are appended whole or skipped by the reader, ``run.json`` is replaced
atomically.
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


@contextmanager
def graceful_interrupts(flag: StopFlag, announce: bool = True) -> Iterator[StopFlag]:
    """Install the two-stage SIGINT handler for the duration of the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()
        if announce:
            sys.stderr.write("\nStopping after the current action (Ctrl-C again to stop at once)...\n")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
