"""The surfaces a calibration clicks on: the bundled target page in Chromium, or our Tk window on
an X11 desktop. Each one owns its executor and reports where clicks really landed.

A surface gives the loop a normal executor (so the model is asked through the same loop, prompt
format and mapping as in a real run) plus two things only calibration needs: the target centres
as drawn (:attr:`CalibrationSurface.targets`) and the clicks that landed since the last reset
(:meth:`CalibrationSurface.new_clicks`). Both are in *screen pixels* of the executor: viewport CSS
pixels in the browser, pixels of the captured monitor on the desktop.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from screenpilot.agent.actions import Point
from screenpilot.agent.calibration.layout import Target, layout_json, layout_targets, targets_from_json
from screenpilot.agent.errors import ConfigError, ExecutorError
from screenpilot.agent.run.settings import BrowserTarget, DesktopTarget
from screenpilot.scenarios import SCENARIOS_DIR
from screenpilot.tools.base import Executor
from screenpilot.tools.settle import SettleSettings

CALIBRATION_DIR = SCENARIOS_DIR / "calibration"
TARGETS_PAGE = CALIBRATION_DIR / "targets.html"
TK_APP = CALIBRATION_DIR / "tk_targets.py"
WINDOW_READY_TIMEOUT_S = 15.0
CLICK_WAIT_S = 1.0

NO_SETTLE = SettleSettings(fixed_delay_s=0.0)
"""Calibration surfaces never change when clicked, so the executors skip settle detection; the
landed clicks are read from the page (recorded before Playwright's click returns) or polled
from the window's status file (:data:`CLICK_WAIT_S`)."""


class CalibrationSurface(Protocol):
    """Something showing calibration targets and recording the clicks that land on it.

    ``kind``: ``browser`` or ``desktop``. ``executor``: what the loop drives. ``targets``: as drawn,
    in task order, centres in screen pixels. ``reset_clicks()`` forgets earlier clicks (and
    restores the targets if the model navigated away). ``new_clicks(wait_s)`` returns the clicks
    since the reset in screen pixels, waiting up to ``wait_s`` seconds for at least one.
    """

    kind: str
    executor: Executor
    targets: list[Target]

    def reset_clicks(self) -> None: ...

    def new_clicks(self, wait_s: float = 0.0) -> list[Point]: ...

    def describe(self) -> dict[str, object]: ...


def page_url(base: str | None, quick: bool) -> str:
    """The target page URL: ``base`` (default: the bundled ``targets.html``) with ``quick=1`` added
    for the 3 x 3 grid (an existing ``quick`` parameter is replaced)."""
    url = base or TARGETS_PAGE.as_uri()
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "quick"]
    if quick:
        query.append(("quick", "1"))
    return urlunsplit(parts._replace(query=urlencode(query)))


class BrowserSurface:
    """The target page in a :class:`screenpilot.tools.web.browser.BrowserExecutor` (see module doc)."""

    kind = "browser"

    def __init__(self, executor: Any, url: str) -> None:
        self.executor = executor
        self.url = url
        self.targets = self._read_targets()

    def _evaluate(self, script: str) -> Any:
        try:
            return self.executor.page.evaluate(script)
        except Exception as exc:
            raise ExecutorError(f"cannot read the calibration page {self.url}: {exc}") from exc

    def _read_targets(self) -> list[Target]:
        data = self._evaluate("() => window.calibrationTargets || null")
        if data is None:
            raise ConfigError(f"{self.url} is not a calibration page: it defines no window.calibrationTargets")
        try:
            return targets_from_json(data)
        except ValueError as exc:
            raise ConfigError(f"{self.url} defines malformed calibration targets: {exc}") from None

    def reset_clicks(self) -> None:
        """Empty ``window.calibrationClicks``; reopen the page if the model navigated away."""
        present = self._evaluate("() => Array.isArray(window.calibrationClicks)")
        if not present:
            try:
                self.executor.page.goto(self.url)
            except Exception as exc:
                raise ExecutorError(f"cannot reopen the calibration page {self.url}: {exc}") from exc
        self._evaluate("() => { window.calibrationClicks = []; }")

    def new_clicks(self, wait_s: float = 0.0) -> list[Point]:
        """Clicks since the reset: the events' clientX / clientY (CSS px). Page events are recorded
        before Playwright's click returns, so no waiting is needed."""
        clicks = self._evaluate("() => window.calibrationClicks || []")
        return [Point(round(float(c["x"])), round(float(c["y"]))) for c in clicks]

    def describe(self) -> dict[str, object]:
        """Kind, URL and the page's own idea of its size and device pixel ratio."""
        info = self._evaluate("() => window.calibrationInfo || null")
        return {"kind": self.kind, "url": self.url, "page": info, "executor": self.executor.describe()}


@contextlib.contextmanager
def open_browser_surface(target: BrowserTarget, *, quick: bool) -> Iterator[BrowserSurface]:
    """Chromium on the target page (``target.url`` or the bundled page) at ``target.viewport``."""
    from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

    url = page_url(target.url, quick)
    settings = BrowserSettings(viewport=target.viewport, headless=not target.headed,
                               executable_path=target.executable_path, start_url=url, settle=NO_SETTLE)
    with BrowserExecutor(settings) as executor:
        yield BrowserSurface(executor, url)


class DesktopSurface:
    """Our Tk target window, full-screen on the executor's monitor (see module doc).

    ``origin``: the window's top-left corner in root-window pixels, as X reports it; window
    pixels + ``origin`` - monitor corner = screen pixels.
    """

    kind = "desktop"

    def __init__(self, executor: Any, status_path: Path, window: subprocess.Popen[bytes]) -> None:
        self.executor = executor
        self.status_path = status_path
        self.window = window
        geometry = executor.geometry
        self._monitor_corner = (geometry.left - geometry.origin_left, geometry.top - geometry.origin_top)
        status = self._wait_ready()
        self.origin = (int(status["origin"][0]), int(status["origin"][1]))
        dx, dy = (self.origin[0] - self._monitor_corner[0], self.origin[1] - self._monitor_corner[1])
        self.targets = [t.shifted(dx, dy) for t in targets_from_json(status["targets"])]
        self._seen = len(status["clicks"])
        self._wait_drawn()

    def _status(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _wait_ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + WINDOW_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            status = self._status()
            if status is not None and status.get("ready"):
                return status
            if self.window.poll() is not None:
                raise ExecutorError(f"the calibration window exited with status {self.window.returncode}")
            time.sleep(0.05)
        raise ExecutorError(f"the calibration window did not appear within {WINDOW_READY_TIMEOUT_S:g} s")

    def _wait_drawn(self) -> None:
        """Wait until the first target shows its blue fill on the screen (X draws after the window
        reports itself mapped)."""
        box = self.targets[0].box
        deadline = time.monotonic() + WINDOW_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            pixels = np.asarray(self.executor.screenshot().image.convert("RGB").crop(box), dtype=np.int16)
            red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
            if bool(((blue > red + 60) & (blue > green + 40)).any()):
                return
            time.sleep(0.05)
        raise ExecutorError(f"the calibration window was not drawn within {WINDOW_READY_TIMEOUT_S:g} s")

    def _clicks(self) -> list[dict[str, Any]]:
        status = self._status()
        return [] if status is None else list(status.get("clicks", []))

    def reset_clicks(self) -> None:
        """Remember how many clicks the window has recorded so far."""
        if self.window.poll() is not None:
            raise ExecutorError(f"the calibration window exited with status {self.window.returncode}")
        self._seen = len(self._clicks())

    def new_clicks(self, wait_s: float = 0.0) -> list[Point]:
        """Clicks since the reset, from their root-window position (``x_root``/``y_root``)."""
        deadline = time.monotonic() + wait_s
        while True:
            fresh = self._clicks()[self._seen:]
            if fresh or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        left, top = self._monitor_corner
        return [Point(int(c["x_root"]) - left, int(c["y_root"]) - top) for c in fresh]

    def describe(self) -> dict[str, object]:
        """Kind, window origin and the executor's description."""
        return {"kind": self.kind, "window_origin": list(self.origin), "executor": self.executor.describe()}


def _start_window(executor: Any, folder: Path, quick: bool) -> tuple[Path, subprocess.Popen[bytes]]:
    """Write the layout and start the Tk window on the executor's display and monitor."""
    geometry = executor.geometry
    layout_path, status_path = folder / "layout.json", folder / "status.json"
    layout_path.write_text(layout_json(layout_targets(executor.size, quick=quick), executor.size))
    env = {**os.environ, "DISPLAY": executor.display}
    if executor.xauthority:
        env["XAUTHORITY"] = executor.xauthority
    argv = [sys.executable, str(TK_APP), str(layout_path), str(status_path),
            "--x", str(geometry.left - geometry.origin_left), "--y", str(geometry.top - geometry.origin_top)]
    with (folder / "window.log").open("wb") as log:
        window = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    return status_path, window


def _stop(window: subprocess.Popen[bytes]) -> None:
    if window.poll() is None:
        window.terminate()
        try:
            window.wait(timeout=5)
        except subprocess.TimeoutExpired:
            window.kill()
            window.wait(timeout=5)


@contextlib.contextmanager
def open_desktop_surface(target: DesktopTarget, *, quick: bool) -> Iterator[DesktopSurface]:
    """The Tk target window on ``target``'s monitor (a fresh Xvfb with ``virtual_display``).

    ``target.launch`` is ignored: the calibration window is the only application it needs.
    """
    from screenpilot.tools.x11.desktop import DesktopSettings, open_desktop

    settings = DesktopSettings(monitor=target.monitor, fail_safe=target.fail_safe, settle=NO_SETTLE)
    with open_desktop(settings, virtual_display=target.virtual_display) as executor, \
            tempfile.TemporaryDirectory(prefix="screenpilot-calibration-") as tmp:
        status_path, window = _start_window(executor, Path(tmp), quick)
        try:
            yield DesktopSurface(executor, status_path, window)
        finally:
            _stop(window)


@contextlib.contextmanager
def open_surface(target: BrowserTarget | DesktopTarget, *, quick: bool) -> Iterator[CalibrationSurface]:
    """The browser or desktop surface for ``target``."""
    if isinstance(target, BrowserTarget):
        with open_browser_surface(target, quick=quick) as browser:
            yield browser
    else:
        with open_desktop_surface(target, quick=quick) as desktop:
            yield desktop


__all__ = [
    "CLICK_WAIT_S",
    "TARGETS_PAGE",
    "TK_APP",
    "BrowserSurface",
    "CalibrationSurface",
    "DesktopSurface",
    "open_browser_surface",
    "open_desktop_surface",
    "open_surface",
    "page_url",
]
