"""One contract for every executor: the same actions must have the same effect on the browser
(screenpilot.tools.web.browser.BrowserExecutor on a local page) and on the desktop
(screenpilot.tools.x11.desktop on a private Xvfb running the Tk test application).

Both applications (apps/contract_page.html and apps/tk_app.py) place the same widgets at the
same pixels and report the same state keys, so each test states one expectation and runs it on
both sides. Scroll amounts differ by nature (pixels in the browser, wheel clicks on the desktop),
so only their direction is part of the contract.
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from screenpilot.agent.actions import Click, Drag, MoveTo, Navigate, Point, PressKeys, Scroll, TypeText, Wait
from screenpilot.tools.base import Executor
from screenpilot.tools.settle import SettleSettings
from tests.tools.conftest import APPS, AppState

UNICODE_TEXT = "héllo <b> & 日本"
PAGE = APPS / "contract_page.html"


@dataclass
class Side:
    """One executor under contract, the state of the application it drives, and a way to make
    a second, fresh executor of the same kind (for close())."""

    name: str
    executor: Executor
    app: AppState
    make_another: Callable[[], Executor]


# -- the browser side -----------------------------------------------------------------------


class StateServer:
    """Serves the contract page at / and keeps the newest state POSTed to /state."""

    def __init__(self, page: Path) -> None:
        self.page = page.read_bytes()
        self.state: dict[str, Any] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(server.page)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = None
                if isinstance(data, dict):
                    with server.lock:
                        if data.get("seq", 0) >= server.state.get("seq", -1):
                            server.state = data
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with self.lock:
            self.state = {}

    def get(self) -> dict[str, Any] | None:
        with self.lock:
            return dict(self.state)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _make_browser() -> Executor:
    browser = pytest.importorskip("screenpilot.tools.web.browser", reason="tools/browser.py is not there yet")
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("no Chromium: sudo apt-get install chromium, or playwright install chromium")
    executor: Executor = browser.BrowserExecutor(browser.BrowserSettings())
    return executor


@pytest.fixture(scope="module")
def browser_parts() -> Iterator[tuple[Executor, StateServer]]:
    server = StateServer(PAGE)
    executor = _make_browser()
    try:
        yield executor, server
    finally:
        executor.close()
        server.close()


# -- parametrised sides ---------------------------------------------------------------------


@pytest.fixture(params=["desktop", "browser"])
def side(request: pytest.FixtureRequest) -> Side:
    if request.param == "desktop":
        from screenpilot.tools.x11.desktop import DesktopExecutor, DesktopSettings

        desktop = request.getfixturevalue("desktop")
        app = request.getfixturevalue("tk_app")
        xvfb = request.getfixturevalue("xvfb")
        settings = DesktopSettings(display=xvfb.display, xauthority=xvfb.xauthority, fail_safe=False)
        return Side("desktop", desktop, app, lambda: DesktopExecutor(settings))
    executor, server = request.getfixturevalue("browser_parts")
    server.reset()
    executor.execute(Navigate(server.url))
    app = AppState(server.get)
    app.wait_for(lambda s: bool(s.get("ready")), timeout=10)
    return Side("browser", executor, app, _make_browser)


# -- the contract ---------------------------------------------------------------------------


def test_screenshot_has_the_executor_size(side: Side) -> None:
    frame = side.executor.screenshot()
    assert frame.size == side.executor.size
    assert frame.image.size == side.executor.size
    red = frame.image.getpixel((300, 70))
    assert tuple(red[:3]) == (255, 0, 0)  # type: ignore[index]


def test_click_at_a_point_triggers_the_target_there(side: Side) -> None:
    side.executor.execute(Click(Point(80, 40)))
    side.app.wait_for(lambda s: s["button_clicks"] == 1)
    side.executor.execute(Click(Point(250, 60)))
    state = side.app.wait_for(lambda s: len(s["pad_events"]) == 1)
    assert state["pad_events"][0] == {"button": 1, "count": 1, "x": 250, "y": 60}


def test_right_and_double_click(side: Side) -> None:
    side.executor.execute(Click(Point(260, 70), button="right"))
    side.executor.execute(Click(Point(260, 70), count=2))
    state = side.app.wait_for(lambda s: len(s["pad_events"]) == 3)
    assert [(e["button"], e["count"]) for e in state["pad_events"]] == [(3, 1), (1, 1), (1, 2)]


def test_move_to(side: Side) -> None:
    side.executor.execute(MoveTo(Point(555, 444)))
    side.app.wait_for(lambda s: s["last_motion"] == [555, 444])


def test_drag(side: Side) -> None:
    side.executor.execute(Drag(to=Point(400, 500), start=Point(70, 350)))
    side.app.wait_for(lambda s: s["drag_item"] == [390, 490])


def _settled_scroll(app: AppState, moved: Callable[[dict[str, Any]], bool], quiet_s: float = 0.3) -> dict[str, int]:
    """The scroll position once ``moved`` holds and the position has not changed for ``quiet_s``
    (a scroll of several wheel clicks arrives as several events)."""
    app.wait_for(moved)
    last, since = app.get()["scroll"], time.monotonic()
    while time.monotonic() - since < quiet_s:
        time.sleep(0.02)
        now = app.get()["scroll"]
        if now != last:
            last, since = now, time.monotonic()
    return dict(last)


def test_scroll_direction(side: Side) -> None:
    area = Point(600, 150)
    side.executor.execute(Scroll(dy=300, at=area))
    down = _settled_scroll(side.app, lambda s: s["scroll"]["y"] > 0)
    side.executor.execute(Scroll(dy=-100, at=area))
    up = _settled_scroll(side.app, lambda s: s["scroll"]["y"] < down["y"])
    assert up["x"] == 0
    side.executor.execute(Scroll(dy=0, dx=200, at=area))
    right = _settled_scroll(side.app, lambda s: s["scroll"]["x"] > 0)
    assert right["y"] == up["y"]
    assert side.app.get()["wheel"][0] == "down"


def test_type_text_exact_unicode(side: Side) -> None:
    side.executor.execute(Click(Point(100, 165)))
    side.executor.execute(TypeText(UNICODE_TEXT))
    assert side.app.wait_for(lambda s: s["entry"] == UNICODE_TEXT)["entry"] == UNICODE_TEXT


def test_press_keys(side: Side) -> None:
    side.executor.execute(Click(Point(100, 165)))
    side.executor.execute(TypeText("abc"))
    side.app.wait_for(lambda s: s["entry"] == "abc")
    side.executor.execute(PressKeys(("home",)))
    side.executor.execute(TypeText("X"))
    side.app.wait_for(lambda s: s["entry"] == "Xabc")
    side.executor.execute(PressKeys(("end",)))
    side.executor.execute(PressKeys(("backspace",)))
    side.app.wait_for(lambda s: s["entry"] == "Xab")
    side.executor.execute(PressKeys(("ctrl", "a")))
    side.app.wait_for(lambda s: "ctrl+a" in s["keys"])


def test_wait_takes_its_duration(side: Side) -> None:
    start = time.monotonic()
    side.executor.execute(Wait(0.3))
    elapsed = time.monotonic() - start
    assert elapsed >= 0.3


def test_settle_returns_seconds_and_sees_a_static_screen(side: Side) -> None:
    first = side.executor.settle()
    assert isinstance(first, float) and first >= 0
    static = side.executor.settle()
    assert 0 <= static < SettleSettings().max_wait_s  # stability was detected, not the cap reached


def test_close_is_idempotent(side: Side) -> None:
    def open_and_close_twice() -> None:
        another = side.make_another()
        assert another.screenshot().size == another.size
        another.close()
        another.close()

    # Playwright's sync API allows one running instance per thread: use a fresh thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(open_and_close_twice).result(timeout=60)
