"""Shared desktop fixtures: one private Xvfb per test session, the test Tk application started
fresh for each test that asks for it, and a desktop executor bound to that display.

Desktop tests need the Debian packages ``xvfb`` (and ``xdotool``/``xterm`` for a few tests);
they are skipped with the install command when Xvfb is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from screenpilot.tools.x11.xvfb import VirtualDisplay

APPS = Path(__file__).parent / "apps"
TK_APP = APPS / "tk_app.py"
SCREEN = (1024, 768)

needs_xvfb = pytest.mark.skipif(
    shutil.which("Xvfb") is None, reason="Xvfb is not installed: sudo apt-get install xvfb xauth"
)


class AppState:
    """Reads the JSON state an application under test writes (see tests/tools/apps/tk_app.py)."""

    def __init__(self, read: Callable[[], dict[str, Any] | None]) -> None:
        self._read = read

    def get(self) -> dict[str, Any]:
        """The latest state ({} before the first write)."""
        return self._read() or {}

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """Poll until ``predicate(state)`` holds; returns that state. Fails the test on timeout
        with the last state in the message."""
        deadline = time.monotonic() + timeout
        state = self.get()
        while not predicate(state):
            if time.monotonic() > deadline:
                pytest.fail(f"application state never matched; last state: {json.dumps(state, ensure_ascii=False)}")
            time.sleep(0.02)
            state = self.get()
        return state


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@pytest.fixture(scope="session")
def xvfb() -> Iterator[VirtualDisplay]:
    """A 1024x768 Xvfb for the whole session; DISPLAY/XAUTHORITY restored afterwards."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed: sudo apt-get install xvfb xauth")
    saved = {k: os.environ.get(k) for k in ("DISPLAY", "XAUTHORITY")}
    with VirtualDisplay(*SCREEN) as vd:
        yield vd
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def desktop(xvfb: VirtualDisplay) -> Iterator[Any]:
    """A DesktopExecutor on the session display (fail-safe off, as for every virtual display)."""
    from screenpilot.tools.x11.desktop import DesktopExecutor, DesktopSettings

    executor = DesktopExecutor(DesktopSettings(display=xvfb.display, xauthority=xvfb.xauthority, fail_safe=False))
    yield executor
    executor.close()


@pytest.fixture
def tk_app(xvfb: VirtualDisplay, tmp_path: Path) -> Iterator[AppState]:
    """The test Tk application, freshly started at the screen's top-left corner."""
    state_path = tmp_path / "tk_state.json"
    proc = xvfb.launch([sys.executable, str(TK_APP), str(state_path)], log_name="tk_app")
    state = AppState(lambda: read_json(state_path))
    try:
        deadline = time.monotonic() + 15
        while not state.get().get("ready"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Tk test application did not start (exit status {proc.poll()})")
            time.sleep(0.02)
        yield state
    finally:
        xvfb.stop(proc)
