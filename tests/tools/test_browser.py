"""The browser executor against real headless Chromium on local pages (tests/pages/browser_*.html).

Assertions read the page's real DOM state through ``executor.page.evaluate``. One browser serves
the module; tests that kill, crash or resize a browser start their own.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from screenpilot.agent.actions import (
    Action,
    AskUser,
    Click,
    Drag,
    GoBack,
    LongPress,
    MoveTo,
    Navigate,
    NewTab,
    Point,
    PressKeys,
    Scroll,
    Terminate,
    TypeText,
    Wait,
)
from screenpilot.agent.errors import ActionFailedError, ConfigError, ExecutorError
from screenpilot.tools.settle import SettleSettings
from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings, drag_steps
from screenpilot.tools.web.keys import is_layout_char, playwright_chord, playwright_key
from screenpilot.tools.web.session import find_chromium, gray_from_jpeg, is_gone_error, normalize_url

PAGES = Path(__file__).resolve().parents[1] / "pages"
ROOT = Path(__file__).resolve().parents[2]


def page_url(name: str, query: str = "") -> str:
    """The file:// URL of ``tests/pages/<name>.html``."""
    return (PAGES / f"{name}.html").as_uri() + query


# --- pure helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ctrl", "Control"), ("Control", "Control"), ("shift", "Shift"), ("alt", "Alt"), ("meta", "Meta"),
        ("cmd", "Meta"), ("enter", "Enter"), ("Return", "Enter"), ("tab", "Tab"), ("space", " "),
        ("backspace", "Backspace"), ("delete", "Delete"), ("esc", "Escape"), ("insert", "Insert"),
        ("home", "Home"), ("end", "End"), ("pageup", "PageUp"), ("PgDn", "PageDown"), ("up", "ArrowUp"),
        ("down", "ArrowDown"), ("ArrowLeft", "ArrowLeft"), ("right", "ArrowRight"), ("f5", "F5"),
        ("F12", "F12"), ("capslock", "CapsLock"), ("printscreen", "PrintScreen"), ("menu", "ContextMenu"),
        ("a", "a"), ("A", "A"), ("+", "+"), ("plus", "+"), ("é", "é"),
    ],
)
def test_playwright_key_maps_canonical_names(name: str, expected: str) -> None:
    assert playwright_key(name) == expected


@pytest.mark.parametrize("name", ["f13", "F24", "hyper", "ctrlx", ""])
def test_playwright_key_rejects_unknown_or_unpressable_keys(name: str) -> None:
    with pytest.raises(ValueError):
        playwright_key(name)


def test_playwright_chord_lowercases_letters_only_with_modifiers() -> None:
    assert playwright_chord(["ctrl", "shift", "T"]) == ["Control", "Shift", "t"]
    assert playwright_chord(["Ctrl", "A"]) == ["Control", "a"]
    assert playwright_chord(["A"]) == ["A"]
    assert playwright_chord(["alt", "f4"]) == ["Alt", "F4"]
    with pytest.raises(ValueError):
        playwright_chord([])


def test_is_layout_char() -> None:
    assert is_layout_char("a") and is_layout_char(" ") and is_layout_char("~")
    assert not is_layout_char("é") and not is_layout_char("😀") and not is_layout_char("Enter")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("  http://x.org  ", "http://x.org"),
        ("example.com/path?q=1", "https://example.com/path?q=1"),
        ("www.example.com", "https://www.example.com"),
        ("localhost:8000/app", "http://localhost:8000/app"),
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("[::1]:8080/", "http://[::1]:8080/"),
        ("about:blank", "about:blank"),
        ("data:text/html,hi", "data:text/html,hi"),
        ("file:///tmp/x.html", "file:///tmp/x.html"),
        ("ftp://host/file", "ftp://host/file"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_normalize_url_rejects_empty() -> None:
    with pytest.raises(ValueError):
        normalize_url("   ")


def test_find_chromium_prefers_explicit_then_playwright_then_path(tmp_path: Path) -> None:
    explicit = tmp_path / "my-chrome"
    explicit.write_text("")
    bundled = tmp_path / "pw-chrome"
    bundled.write_text("")

    def which(name: str) -> str | None:
        return {"chromium-browser": "/opt/bin/chromium-browser"}.get(name)

    assert find_chromium(str(explicit), str(bundled), which) == str(explicit)
    assert find_chromium(None, str(bundled), which) == str(bundled)
    assert find_chromium(None, str(tmp_path / "not-installed"), which) == "/opt/bin/chromium-browser"
    assert find_chromium(None, None, lambda _: None, fallback_paths=(str(bundled),)) == str(bundled)
    assert find_chromium("chromium-browser", None, which) == "/opt/bin/chromium-browser"


def test_find_chromium_says_what_to_install() -> None:
    with pytest.raises(ConfigError) as info:
        find_chromium(None, "/nonexistent/chrome", lambda _: None, fallback_paths=())
    assert "apt-get install chromium" in info.value.message
    assert "playwright install chromium" in info.value.message
    with pytest.raises(ConfigError, match="does not exist"):
        find_chromium("/nonexistent/chrome", None, lambda _: None)


def test_drag_steps_are_bounded() -> None:
    assert drag_steps(Point(0, 0), Point(1, 1)) == 5
    assert drag_steps(Point(0, 0), Point(200, 0)) == 10
    assert drag_steps(Point(0, 0), Point(5000, 5000)) == 25


def test_gray_from_jpeg_decodes_at_reduced_size() -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=40)
    gray = gray_from_jpeg(buffer.getvalue(), 320, 1280)
    assert gray.shape == (180, 320) and gray.dtype == np.uint8
    assert gray_from_jpeg(buffer.getvalue(), 500, 1280).shape == (281, 500)
    assert gray_from_jpeg(buffer.getvalue(), 4000, 1280).shape == (720, 1280)
    with pytest.raises(ValueError):
        gray_from_jpeg(b"not a jpeg", 320, 1280)


def test_is_gone_error_reads_playwright_messages() -> None:
    assert is_gone_error(Exception("Page.screenshot: Target page, context or browser has been closed"))
    assert is_gone_error(Exception("Mouse.click: Target crashed"))
    assert not is_gone_error(Exception("net::ERR_NAME_NOT_RESOLVED at http://x/"))


@pytest.mark.parametrize(
    "kwargs",
    [{"viewport": (0, 720)}, {"device_scale_factor": 0}, {"navigation_timeout_s": 0}, {"response_timeout_s": -1}],
)
def test_settings_are_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        BrowserSettings(**kwargs)


def test_missing_playwright_is_a_config_error_with_the_install_hint() -> None:
    code = (
        "import sys\n"
        "sys.modules['playwright'] = None\n"
        "sys.modules['playwright.sync_api'] = None\n"
        "from screenpilot.agent.errors import ConfigError\n"
        "from screenpilot.tools.web.browser import BrowserExecutor\n"
        "try:\n"
        "    BrowserExecutor()\n"
        "except ConfigError as exc:\n"
        "    print(exc.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "pip install 'screenpilot[browser]'" in out.stdout, out.stderr


# --- one browser for the module ----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserExecutor]:
    settle = SettleSettings(max_wait_s=1.0, interval_s=0.03)
    with BrowserExecutor(BrowserSettings(settle=settle)) as executor:
        yield executor


@pytest.fixture
def open_page(browser: BrowserExecutor) -> Callable[[str], BrowserExecutor]:
    """Open ``tests/pages/<name>.html`` in the module's browser and return the executor."""

    def open_(name: str) -> BrowserExecutor:
        browser.execute(Navigate(page_url(name)))
        return browser

    return open_


def js(executor: BrowserExecutor, script: str) -> Any:
    return executor.page.evaluate(script)


def centre(executor: BrowserExecutor, selector: str) -> Point:
    box = executor.page.locator(selector).bounding_box()
    assert box is not None
    return Point(round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2))


def set_onclick(executor: BrowserExecutor, selector: str, body: str) -> None:
    """Replace the click handler of ``selector`` with a function running ``body``."""
    executor.page.evaluate(
        "([selector, body]) => { document.querySelector(selector).onclick = new Function(body); }",
        [selector, body],
    )


def wait_for(predicate: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_screenshot_is_the_viewport_with_url_and_title(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    frame = executor.screenshot()
    assert frame.size == executor.size == (1280, 720)
    assert frame.image.mode == "RGB"
    assert frame.url == page_url("browser_controls")
    assert frame.title == "Browser controls"
    assert frame.capture_s > 0 and frame.taken_at > 0
    assert frame.extra["tabs"] == 1
    pixel = frame.image.getpixel((1280 - 10, 720 - 10))  # the red #corner box
    assert pixel == (0xCC, 0x33, 0x33)


def test_click_changes_button_text(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.execute(Click(centre(executor, "#btn")))
    assert js(executor, "document.getElementById('btn').textContent") == "Clicked 1"
    assert executor.pointer == centre(executor, "#btn")
    executor.execute(Click())  # at the pointer
    assert js(executor, "document.getElementById('btn').textContent") == "Clicked 2"


@pytest.mark.parametrize(("button", "code"), [("right", 2), ("middle", 1)])
def test_right_and_middle_click_fire_with_their_button(
    open_page: Callable[[str], BrowserExecutor], button: Any, code: int
) -> None:
    executor = open_page("browser_controls")
    at = centre(executor, "#pad")
    executor.execute(Click(at, button=button))
    log = js(executor, "window.log")
    kinds = {entry["type"] for entry in log}
    assert {"mousedown", "mouseup", "auxclick"} <= kinds
    assert all(entry["button"] == code for entry in log)
    assert ("contextmenu" in kinds) == (button == "right")
    assert "click" not in kinds
    assert (log[0]["x"], log[0]["y"]) == (at.x, at.y)


def test_double_click_fires_dblclick(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.execute(Click(centre(executor, "#pad"), count=2))
    log = js(executor, "window.log")
    assert [e["type"] for e in log if e["type"] in ("click", "dblclick")] == ["click", "click", "dblclick"]
    assert max(e["detail"] for e in log) == 2


def test_triple_click_selects_the_paragraph(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    box = executor.page.locator("#para").bounding_box()
    assert box is not None
    executor.execute(Click(Point(round(box["x"] + 10), round(box["y"] + box["height"] / 2)), count=3))
    assert js(executor, "window.getSelection().toString()").strip() == "alpha beta gamma"


def test_move_to_fires_mousemove_and_hover(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    at = centre(executor, "#hover")
    executor.execute(MoveTo(at))
    assert js(executor, "window.lastMove") == [at.x, at.y]
    assert js(executor, "window.hovered") is True
    assert js(executor, "document.querySelector('#hover:hover') !== null") is True


def test_drag_moves_the_box(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_drag")
    executor.execute(Drag(to=Point(440, 300), start=Point(140, 140)))
    assert js(executor, "[box.offsetLeft, box.offsetTop]") == [400, 260]
    assert js(executor, "window.moves") >= 5
    executor.execute(Drag(to=Point(500, 400)))  # from the pointer, which the last drag left on the box
    assert js(executor, "[box.offsetLeft, box.offsetTop]") == [460, 360]
    assert executor.pointer == Point(500, 400)


def test_scroll_down_and_up_by_pixels(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_long")
    executor.execute(Scroll(dy=600, at=Point(640, 360)))
    assert wait_for(lambda: js(executor, "window.scrollY") > 0)
    executor.settle()
    assert abs(js(executor, "window.scrollY") - 600) <= 60
    executor.execute(Scroll(dy=-400))
    assert wait_for(lambda: js(executor, "window.scrollY") < 500)
    executor.settle()
    assert abs(js(executor, "window.scrollY") - 200) <= 60


INNER_SCROLLER = ("() => { const d = document.createElement('div'); d.id = 'inner'; d.style.cssText = 'position:fixed;"
                  "left:500px;top:200px;width:300px;height:200px;overflow:auto;background:#eef';"
                  " d.innerHTML = '<div style=\"height:3000px\">inner</div>'; document.body.append(d); }")


def test_a_scroll_moves_the_pointer_of_the_tab_it_turns_in(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_long")
    executor.page.evaluate(INNER_SCROLLER)
    over_inner = Point(650, 300)
    for expected in (300, 600):  # the second scroll at the same point needs no move
        executor.execute(Scroll(dy=300, at=over_inner))
        assert wait_for(lambda: js(executor, "document.getElementById('inner').scrollTop") == expected)  # noqa: B023
    assert js(executor, "window.scrollY") == 0
    executor.execute(NewTab(page_url("browser_long")))  # a tab of its own, whose mouse is elsewhere
    executor.settle()
    executor.page.evaluate(INNER_SCROLLER)
    try:
        executor.execute(Scroll(dy=300, at=over_inner))
        assert wait_for(lambda: js(executor, "document.getElementById('inner').scrollTop") == 300)
        assert js(executor, "window.scrollY") == 0
    finally:
        executor.page.close()  # the module's browser goes on with one tab
        executor.screenshot()


UNICODE_TEXT = "héllo wörld ✓ 日本語 😀 <b>&amp;</b>"


def test_type_text_enters_any_unicode(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.execute(Click(centre(executor, "#text")))
    executor.execute(TypeText(UNICODE_TEXT))
    assert executor.page.input_value("#text") == UNICODE_TEXT


def test_type_text_newlines_press_enter(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.execute(Click(centre(executor, "#area")))
    executor.execute(TypeText("line one\nline 2 — ✓\r\n😀 three\ttab"))
    # \r\n is one Enter; Tab moves focus to the next field (#q), which gets "tab".
    assert executor.page.input_value("#area") == "line one\nline 2 — ✓\n😀 three"
    assert executor.page.input_value("#q") == "tab"
    executor.execute(Click(centre(executor, "#q")))
    executor.execute(PressKeys(("ctrl", "a")))
    executor.execute(TypeText("query\n"))
    assert js(executor, "window.submitted") == "query"


def test_long_lines_are_typed_in_bulk_with_a_last_key_and_short_ones_key_by_key(
        open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.page.evaluate("() => { window.keydowns = 0; "
                           "document.addEventListener('keydown', () => window.keydowns++, true); }")
    executor.execute(Click(centre(executor, "#area")))
    long_line = "bulk " * 1000  # 5,000 characters, over BULK_TYPE_CHARS
    executor.execute(TypeText(long_line + "\nshort"))
    assert executor.page.input_value("#area") == long_line + "\nshort"
    # the long line: one key for its last character; then Enter and the five keys of "short"
    assert js(executor, "window.keydowns") == 1 + 1 + 5


def test_press_keys_select_all_and_delete(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.execute(Click(centre(executor, "#text")))
    executor.execute(TypeText("some text"))
    executor.execute(PressKeys(("ctrl", "a")))
    executor.execute(PressKeys(("backspace",)))
    assert executor.page.input_value("#text") == ""
    assert js(executor, "document.activeElement.id") == "text"


def test_press_enter_submits_the_form(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.execute(Click(centre(executor, "#q")))
    executor.execute(TypeText("search me"))
    executor.execute(PressKeys(("Return",)))
    assert js(executor, "window.submitted") == "search me"


def test_arrow_keys_move_the_caret(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.execute(Click(centre(executor, "#text")))
    executor.execute(TypeText("abcdef"))
    executor.execute(PressKeys(("left",)))
    executor.execute(PressKeys(("left",)))
    assert js(executor, "document.getElementById('text').selectionStart") == 4
    executor.execute(PressKeys(("home",)))
    executor.execute(PressKeys(("right",)))
    assert js(executor, "document.getElementById('text').selectionStart") == 1
    executor.execute(PressKeys(("shift", "end")))
    assert js(executor, "[text.selectionStart, text.selectionEnd]") == [1, 6]
    executor.execute(PressKeys(("é",)))  # off the US layout: inserted as text
    assert executor.page.input_value("#text") == "aé"


def test_press_keys_failures_are_for_the_model(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    for keys in [("hyperkey",), ("f13",), (), ("ctrl", "é")]:
        with pytest.raises(ActionFailedError) as info:
            executor.execute(PressKeys(keys))
        assert info.value.hint
    executor.execute(Click(centre(executor, "#text")))
    executor.execute(TypeText("ok"))  # no key was left held down by the failures
    assert executor.page.input_value("#text") == "ok"


def test_navigate_and_go_back(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    executor.execute(Navigate(page_url("browser_next")))
    assert executor.screenshot().title == "Next page"
    executor.execute(GoBack())
    assert executor.page.url == page_url("browser_controls")
    assert executor.screenshot().title == "Browser controls"


def test_bad_urls_are_action_failures(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    for url in ["http://", "", f"http://127.0.0.1:{closed_port}/", "http://no-such-host.invalid/"]:
        with pytest.raises(ActionFailedError) as info:
            executor.execute(Navigate(url))
        assert info.value.hint
    frame = executor.screenshot()  # the error page is still a page to look at
    assert frame.size == (1280, 720)
    executor.execute(Navigate(page_url("browser_next")))
    assert executor.screenshot().title == "Next page"


def test_go_back_without_history_is_an_action_failure(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    first = executor.page
    fresh = first.context.new_page()  # a tab with no history; the executor follows it
    try:
        with pytest.raises(ActionFailedError, match="no previous page"):
            executor.execute(GoBack())
        assert executor.page is fresh
    finally:
        fresh.close()
    executor.screenshot()
    assert executor.page is first


def test_new_tabs_become_the_current_page(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    first = executor.page
    executor.execute(Click(centre(executor, "#popup-link")))
    executor.settle()
    assert executor.page is not first
    frame = executor.screenshot()
    assert frame.title == "Next page"
    assert frame.extra["tabs"] == 2
    assert any("new tab opened" in str(e) for e in frame.extra["events"])  # type: ignore[attr-defined]
    executor.page.close()
    frame = executor.screenshot()
    assert executor.page is first and frame.title == "Browser controls"
    executor.execute(Click(centre(executor, "#open-btn")))
    executor.settle()
    assert executor.page.url.endswith("browser_next.html?via=open")
    executor.execute(Click(centre(executor, "#close-btn")))  # the tab closes itself
    executor.settle()
    frame = executor.screenshot()
    assert executor.page is first and frame.title == "Browser controls"
    assert any("tab closed" in str(e) for e in frame.extra["events"])  # type: ignore[attr-defined]


def test_dialogs_are_dismissed_and_recorded(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    set_onclick(executor, "#btn", "window.answer = confirm('Sure?');")
    assert js(executor, "window.answer") is None
    executor.execute(Click(centre(executor, "#btn")))
    assert js(executor, "window.answer") is False
    events = executor.screenshot().extra["events"]
    assert any("Sure?" in str(e) for e in events)  # type: ignore[attr-defined]


def test_points_off_the_viewport_are_action_failures(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    outside: list[Action] = [
        Click(Point(1280, 10)), MoveTo(Point(-1, 5)), Drag(Point(10, 720)), Scroll(dy=10, at=Point(0, 9999)),
    ]
    for action in outside:
        with pytest.raises(ActionFailedError, match="outside the 1280x720 viewport"):
            executor.execute(action)
    with pytest.raises(ActionFailedError):
        executor.execute(Click(Point(5, 5), count=0))
    with pytest.raises(ActionFailedError):
        executor.execute(Wait(-1))


def test_loop_and_phone_actions_are_refused(browser: BrowserExecutor) -> None:
    with pytest.raises(ValueError, match="handled by the loop"):
        browser.execute(Terminate("success"))
    with pytest.raises(ValueError, match="handled by the loop"):
        browser.execute(AskUser("really?"))
    with pytest.raises(ActionFailedError, match="phone action"):
        browser.execute(LongPress(Point(5, 5)))


def test_wait_and_settle_are_bounded(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    start = time.monotonic()
    executor.execute(Wait(0.2))
    assert time.monotonic() - start >= 0.2
    spent = executor.settle()
    assert 0 < spent <= 1.0 + 0.5  # max_wait_s of the module's browser, plus one capture


def test_settle_waits_for_a_navigation_started_by_a_click(open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    set_onclick(executor, "#btn", f"setTimeout(() => {{ location.href = {page_url('browser_next')!r}; }}, 50);")
    executor.execute(Click(centre(executor, "#btn")))
    executor.settle()
    assert executor.screenshot().title == "Next page"


def test_describe(browser: BrowserExecutor) -> None:
    info = browser.describe()
    assert info["kind"] == "browser"
    assert str(info["version"]).split(".")[0].isdigit()
    assert info["viewport"] == [1280, 720]
    assert info["headless"] is True
    assert Path(str(info["executable"])).exists()


# --- browsers of their own ---------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [(1280, 720), (1366, 768), (800, 600)])
def test_screenshot_size_and_click_mapping_per_viewport(viewport: tuple[int, int]) -> None:
    settings = BrowserSettings(viewport=viewport, start_url=page_url("browser_controls"))
    with BrowserExecutor(settings) as executor:
        frame = executor.screenshot()
        assert frame.size == viewport
        executor.execute(Click(centre(executor, "#btn")))
        assert js(executor, "document.getElementById('btn').textContent") == "Clicked 1"
        corner = centre(executor, "#corner")
        assert corner == Point(viewport[0] - 24, viewport[1] - 19)
        assert frame.image.getpixel((corner.x, corner.y)) == (0xCC, 0x33, 0x33)
        executor.execute(Click(corner))
        assert js(executor, "window.cornerHits") == [[corner.x, corner.y]]


def test_device_scale_factor_two_still_gives_css_pixel_frames() -> None:
    settings = BrowserSettings(viewport=(800, 600), device_scale_factor=2, start_url=page_url("browser_controls"))
    with BrowserExecutor(settings) as executor:
        frame = executor.screenshot()
        assert frame.size == (800, 600)
        corner = centre(executor, "#corner")
        assert frame.image.getpixel((corner.x, corner.y)) == (0xCC, 0x33, 0x33)
        executor.execute(Click(corner))
        assert js(executor, "window.cornerHits") == [[corner.x, corner.y]]


def test_fixed_settle_delay_is_respected_and_closed_executor_refuses_work() -> None:
    settings = BrowserSettings(viewport=(400, 300), settle=SettleSettings(fixed_delay_s=0.3))
    with BrowserExecutor(settings) as executor:
        spent = executor.settle()
    assert 0.3 <= spent < 1.0
    with pytest.raises(ExecutorError, match="closed"):
        executor.screenshot()
    with pytest.raises(ExecutorError, match="closed"):
        executor.execute(Wait(0))
    executor.close()  # idempotent


def test_bad_start_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="start URL"):
        BrowserExecutor(BrowserSettings(viewport=(400, 300), start_url="http://"))


def test_url_guard_blocks_navigations_the_page_starts() -> None:
    blocked_page = page_url("browser_next")

    def guard(url: str) -> str | None:
        return "not on the list" if url.startswith(blocked_page) else None

    settings = BrowserSettings(viewport=(800, 600), start_url=page_url("browser_controls"))
    with BrowserExecutor(settings, url_guard=guard) as executor:
        set_onclick(executor, "#btn", f"location.href = {blocked_page!r};")
        executor.execute(Click(centre(executor, "#btn")))
        executor.settle()
        frame = executor.screenshot()
        assert frame.title == "Browser controls"
        assert any("blocked: not on the list" in str(e) for e in frame.extra["events"])  # type: ignore[attr-defined]
        with pytest.raises(ActionFailedError, match="blocked: not on the list"):
            executor.execute(Navigate(blocked_page))
        assert executor.screenshot().title == "Browser controls"


def _browser_pid(executor: BrowserExecutor) -> int:
    browser = executor.page.context.browser
    assert browser is not None
    info = browser.new_browser_cdp_session().send("SystemInfo.getProcessInfo")
    return next(int(p["id"]) for p in info["processInfo"] if p["type"] == "browser")


def test_killed_browser_process_is_an_executor_error() -> None:
    executor = BrowserExecutor(BrowserSettings(viewport=(400, 300), start_url=page_url("browser_controls")))
    try:
        os.kill(_browser_pid(executor), signal.SIGKILL)
        with pytest.raises(ExecutorError, match="closed or crashed"):
            executor.screenshot()
        with pytest.raises(ExecutorError):
            executor.execute(Click(Point(10, 10)))
        with pytest.raises(ExecutorError):
            executor.settle()
        assert executor.describe()["version"] is None
    finally:
        executor.close()
    executor.close()  # idempotent


def test_browser_closed_under_the_executor_is_an_executor_error() -> None:
    executor = BrowserExecutor(BrowserSettings(viewport=(400, 300)))
    try:
        browser = executor.page.context.browser
        assert browser is not None
        browser.close()
        with pytest.raises(ExecutorError):
            executor.screenshot()
        with pytest.raises(ExecutorError):
            executor.execute(TypeText("x"))
    finally:
        executor.close()


def test_crashed_renderer_is_an_executor_error() -> None:
    executor = BrowserExecutor(BrowserSettings(viewport=(400, 300), start_url=page_url("browser_next")))
    try:
        with pytest.raises(Exception):  # noqa: B017 - Playwright reports the crash in several ways
            executor.page.goto("chrome://crash", timeout=5000)
        with pytest.raises(ExecutorError, match="crashed"):
            executor.screenshot()
    finally:
        executor.close()


def test_settle_on_a_page_that_gets_stuck_after_a_click_is_an_executor_error() -> None:
    settings = BrowserSettings(viewport=(400, 300), response_timeout_s=1.0, start_url=page_url("browser_controls"))
    with BrowserExecutor(settings) as executor:
        set_onclick(executor, "#btn", "setTimeout(() => { while (true) {} }, 0);")
        executor.execute(Click(centre(executor, "#btn")))
        start = time.monotonic()
        with pytest.raises(ExecutorError, match="not responded"):
            executor.settle()
        assert time.monotonic() - start < 10  # bounded by response_timeout_s, not for ever


def test_page_stuck_in_a_script_is_an_executor_error() -> None:
    settings = BrowserSettings(viewport=(400, 300), response_timeout_s=1.0, start_url=page_url("browser_next"))
    executor = BrowserExecutor(settings)
    try:
        executor.page.evaluate("setTimeout(() => { while (true) {} }, 0)")
        start = time.monotonic()
        with pytest.raises(ExecutorError, match="not responded"):
            executor.screenshot()
        assert time.monotonic() - start < 5
    finally:
        executor.close()



def count_pixel_checks(executor: BrowserExecutor, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = executor._small_gray

    def counted() -> Any:
        calls.append(1)
        return original()

    monkeypatch.setattr(executor, "_small_gray", counted)
    return calls


def test_a_quiet_page_settles_without_comparing_screenshots(open_page: Callable[[str], BrowserExecutor],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    executor = open_page("browser_controls")
    executor.settle()
    calls = count_pixel_checks(executor, monkeypatch)
    executor.execute(Click(Point(5, 5)))  # empty page margin: nothing happens
    executor.settle()
    assert calls == []


def count_captures(executor: BrowserExecutor, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each full capture the executor takes: ``settle`` or ``screenshot``, the method taking it."""
    calls: list[str] = []
    settling: list[bool] = []
    original, settle = executor._capture_png, executor.settle

    def counted() -> bytes:
        calls.append("settle" if settling else "screenshot")
        return original()

    def settled() -> float:
        settling.append(True)
        try:
            return settle()
        finally:
            settling.clear()

    monkeypatch.setattr(executor, "settle", settled)

    monkeypatch.setattr(executor, "_capture_png", counted)
    return calls


def test_the_screenshot_after_settle_is_the_screen_settle_captured_when_the_page_was_quiet(
        open_page: Callable[[str], BrowserExecutor], monkeypatch: pytest.MonkeyPatch) -> None:
    executor = open_page("browser_controls")
    before = np.asarray(executor.screenshot().image)
    set_onclick(executor, "#btn", "document.getElementById('para').textContent = 'CHANGED BY THE CLICK';")
    captures = count_captures(executor, monkeypatch)
    executor.execute(Click(centre(executor, "#btn")))
    executor.settle()
    assert captures == ["settle"], "settle captured once, inside the quiet window"
    reused = executor.screenshot()
    assert captures == ["settle"], "the screenshot right after settle took no capture of its own"
    time.sleep(0.3)  # older than KEPT_FRAME_MAX_AGE_S: captured again
    fresh = executor.screenshot()
    assert captures == ["settle", "screenshot"]
    assert not np.array_equal(np.asarray(reused.image), before)
    assert np.array_equal(np.asarray(reused.image), np.asarray(fresh.image))
    assert reused.extra["page_state"] == fresh.extra["page_state"]
    assert "CHANGED BY THE CLICK" in executor.page.inner_text("#para")


def test_a_frame_carries_its_png_only_when_the_image_is_exactly_that(
        open_page: Callable[[str], BrowserExecutor]) -> None:
    executor = open_page("browser_controls")
    frame = executor.screenshot()
    assert frame.png is not None
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(frame.png)).convert("RGB")), np.asarray(frame.image))
    executor.page.evaluate("document.getElementById('para').dataset.screenpilotSecret = ''")  # painted over now
    masked = executor.screenshot()
    assert masked.png is None
    assert not np.array_equal(np.asarray(masked.image), np.asarray(frame.image))


def test_settle_s_capture_is_not_used_once_it_may_be_stale(open_page: Callable[[str], BrowserExecutor],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    executor = open_page("browser_controls")
    # a timer later than the tracker watches (250 ms) changes the page after settle has called it quiet
    set_onclick(executor, "#btn", "setTimeout(() => { document.getElementById('para').textContent = 'LATE'; }, 350);")
    executor.execute(Click(centre(executor, "#btn")))
    executor.settle()
    kept = executor._kept
    assert kept is not None
    time.sleep(0.6)
    captures = count_captures(executor, monkeypatch)
    late = executor.screenshot()
    assert captures == ["screenshot"]
    assert not np.array_equal(np.asarray(late.image), np.asarray(executor._image_from_png(kept.png)))
    # and an action in between drops it at once
    executor.execute(Click(Point(5, 5)))
    executor.settle()
    executor.execute(Click(Point(5, 5)))
    assert executor._kept is None


@pytest.mark.parametrize("script", [
    # a timer moving an element (DOM mutations, no animation object)
    "const box = document.createElement('div'); box.style.cssText = 'position:fixed;top:0;width:40px;height:40px;"
    "background:#c00'; document.body.append(box); let n = 0; const t = setInterval(() => {"
    " box.style.left = (n * 8) + 'px'; if (++n === 25) { clearInterval(t); window.doneMoving = true; } }, 16);",
    # a canvas drawn by a timer: the page cannot report it, so the pixels are compared
    "const c = document.createElement('canvas'); c.width = 300; c.height = 60; document.body.prepend(c);"
    " const g = c.getContext('2d'); let n = 0; const t = setInterval(() => { g.fillStyle = '#00c';"
    " g.fillRect(0, 0, 12 * n, 60); if (++n === 25) { clearInterval(t); window.doneMoving = true; } }, 16);",
], ids=["dom-timer", "canvas-timer"])
def test_settle_does_not_return_before_a_scripted_animation_ends(open_page: Callable[[str], BrowserExecutor],
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  script: str) -> None:
    executor = open_page("browser_controls")
    calls = count_pixel_checks(executor, monkeypatch)
    executor.page.evaluate(f"() => {{ {script} }}")
    executor.settle()
    assert executor.page.evaluate("window.doneMoving === true")
    assert calls, "activity the page reports, or cannot report, falls back to comparing screenshots"


@pytest.mark.parametrize("script", [
    # a CSS transition of 300 ms started by the script
    "const box = document.createElement('div'); box.style.cssText = 'position:fixed;top:0;left:0;width:40px;"
    "height:40px;background:#c00;transition:left 300ms linear'; document.body.append(box);"
    " box.addEventListener('transitionend', () => { window.doneMoving = true; });"
    " requestAnimationFrame(() => requestAnimationFrame(() => { box.style.left = '300px'; }));",
    # a JS animation: requestAnimationFrame callbacks move the element for 300 ms
    "const box = document.createElement('div'); box.style.cssText = 'position:fixed;top:0;width:40px;height:40px;"
    "background:#c00'; document.body.append(box); const start = performance.now(); const step = (now) => {"
    " const t = Math.min(1, (now - start) / 300); box.style.left = (t * 300) + 'px';"
    " if (t < 1) requestAnimationFrame(step); else window.doneMoving = true; }; requestAnimationFrame(step);",
    # a chain of timeouts 60 ms apart moving an element (longer than two frames: only the timer tracker sees the
    # next one coming, and hands the page to the pixel comparison)
    "const box = document.createElement('div'); box.style.cssText = 'position:fixed;top:0;width:40px;height:40px;"
    "background:#c00'; document.body.append(box); let n = 0; const tick = () => { box.style.left = (++n * 40) + 'px';"
    " if (n < 5) setTimeout(tick, 60); else window.doneMoving = true; }; setTimeout(tick, 60);",
], ids=["css-transition", "raf-animation", "timeout-chain"])
def test_settle_waits_for_what_the_page_has_in_motion(open_page: Callable[[str], BrowserExecutor],
                                                      script: str) -> None:
    executor = open_page("browser_controls")
    executor.page.evaluate(f"() => {{ {script} }}")
    executor.settle()
    assert executor.page.evaluate("window.doneMoving === true")


def test_a_transition_that_ends_during_the_pixel_fallback_is_ended_by_the_page_with_a_settle_frame(
        open_page: Callable[[str], BrowserExecutor], monkeypatch: pytest.MonkeyPatch) -> None:
    executor = open_page("browser_controls")
    pixel_checks = count_pixel_checks(executor, monkeypatch)
    captures = count_captures(executor, monkeypatch)
    executor.page.evaluate("() => { const box = document.createElement('div'); box.style.cssText = 'position:fixed;"
                           "top:0;left:0;width:40px;height:40px;background:#c00;transition:left 300ms linear';"
                           " document.body.append(box); box.addEventListener('transitionend', () => {"
                           " window.doneMoving = true; }); requestAnimationFrame(() => requestAnimationFrame(() => {"
                           " box.style.left = '300px'; })); }")
    executor.settle()
    assert executor.page.evaluate("window.doneMoving === true")
    assert pixel_checks, "the page was busy at first: screenshots were compared"
    assert captures == ["settle"], "the wait ended on the page's word, inside its quiet window"
    reused = executor.screenshot()
    assert captures == ["settle"], "and the screenshot is that capture"
    time.sleep(0.3)
    assert np.array_equal(np.asarray(reused.image), np.asarray(executor.screenshot().image))


def test_settle_waits_for_a_request_in_flight(open_page: Callable[[str], BrowserExecutor]) -> None:
    import http.server
    import threading

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(0.4)
            self.send_response(200)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(b"late")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        executor = open_page("browser_controls")
        executor.page.evaluate("(url) => { fetch(url).then((r) => r.text()).then((t) => {"
                               " document.body.dataset.got = t; }); }", f"http://127.0.0.1:{server.server_port}/")
        executor.settle()
        assert executor.page.evaluate("document.body.dataset.got") == "late"
    finally:
        server.shutdown()
