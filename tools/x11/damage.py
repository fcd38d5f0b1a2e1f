"""Change notification on an X display through the DAMAGE extension: has anything been drawn lately?

:class:`ScreenDamage` asks the X server to report drawing anywhere on the root window (which includes every window
on it). The desktop executor's settle waits until no drawing has been reported for a quiet window instead of
capturing and comparing screenshots: a screen that does not change costs no capture at all, and an animation
keeps the wait going for as long as it draws. What it cannot see: an application that pauses longer than the
quiet window between two redraws while still busy (a slow progress bar), and changes no drawing reports (there
are none on X11: every pixel written goes through the server). ``--settle fixed:SECONDS`` covers those.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

from screenpilot.agent.errors import ConfigError


class DamageUnavailable(ConfigError):
    """The display has no DAMAGE extension (or python-xlib cannot use it): settle compares pixels instead."""


class ScreenDamage:
    """Drawing reports for the root window of ``display`` (an X display name such as ``:99``), on a connection of
    its own. Raises :class:`DamageUnavailable` when the server or python-xlib lacks the extension. Close it."""

    def __init__(self, display: str) -> None:
        try:
            from Xlib.display import Display
            from Xlib.ext import damage
        except ImportError as exc:
            raise DamageUnavailable(f"python-xlib has no DAMAGE support ({exc})") from None
        self._connection: Any = Display(display)
        try:
            if not self._connection.has_extension(damage.extname):
                raise DamageUnavailable(f"the X server of {display} has no DAMAGE extension")
            self._connection.damage_query_version()
            root = self._connection.screen().root
            self._damage = root.damage_create(damage.DamageReportNonEmpty)
            self._notify = self._connection.extension_event.DamageNotify
            self._connection.sync()
        except BaseException:
            self._connection.close()
            raise

    def _drain(self) -> bool:
        """Read the events that arrived; True when one of them reports drawing (the region is then emptied, so the
        next drawing is reported again)."""
        drawn = False
        while self._connection.pending_events():
            event = self._connection.next_event()
            if event.type == self._notify:
                drawn = True
        if drawn:
            self._connection.damage_subtract(self._damage)
            self._connection.flush()
        return drawn

    def wait_quiet(self, quiet_s: float, max_wait_s: float,
                   clock: Callable[[], float] = time.monotonic) -> bool:
        """Wait until nothing has been drawn for ``quiet_s`` seconds (True), or ``max_wait_s`` has passed with
        drawing still going on (False). Drawing before the call is forgotten."""
        start = clock()
        self._connection.damage_subtract(self._damage)
        self._connection.sync()
        self._drain()
        last_drawing = clock()
        while True:
            now = clock()
            if now - last_drawing >= quiet_s:
                return True
            if now - start >= max_wait_s:
                return False
            timeout = min(quiet_s - (now - last_drawing), max_wait_s - (now - start))
            readable, _, _ = select.select([self._connection.fileno()], [], [], max(0.0, timeout))
            if readable and self._drain():
                last_drawing = clock()

    def close(self) -> None:
        """Drop the damage object and the connection (idempotent; never raises)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.damage_destroy(self._damage)
            connection.close()
        except Exception:  # a display that went away: nothing left to release
            pass


__all__ = ["DamageUnavailable", "ScreenDamage"]
