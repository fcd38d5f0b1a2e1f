"""The browser executor: a Chromium page driven through Playwright's sync API.

Pixel space. Action points and screenshots are in *viewport CSS pixels*: (0, 0) is the
top-left corner of the page's viewport, ``size`` is ``BrowserSettings.viewport``. At a device
scale factor other than 1 the captured image is resized to the CSS size, so a Frame always has
exactly ``size`` pixels and a point in it is a point to click.

Screenshots. Measured on the development machine (1280x720, text page, Chromium 156, shared
2-core box, PNG decoded to a PIL RGB image): CDP ``Page.captureScreenshot`` with
``optimizeForSpeed`` ~36-40 ms against ~67-71 ms for ``page.screenshot()``; the difference is
mostly PNG decoding (Playwright's better-compressed PNG takes ~20 ms more to decode). CDP calls
are sent with a time limit: a renderer stuck in a script never answers one, and a page that does
not answer within ``response_timeout_s`` raises :class:`ExecutorError` (no separate liveness probe).
A CDP failure that is not a closed browser (e.g. an error page still committing) falls back to
``page.screenshot``.

Settling (:meth:`~screenpilot.tools.web.base.WebExecutor.settle`): the page's ``load`` state (a
navigation the action started), then the page's own verdict, with the capture for the next
screenshot taken inside its quiet window; only when the page reports activity are cheap captures
(JPEG quality 40, decoded at reduced size straight to grayscale) compared through
:func:`screenpilot.tools.settle.wait_until_stable`. It repeats once if a navigation committed
meanwhile; the whole wait is bounded by ``SettleSettings.max_wait_s``.

Tabs, dialogs, navigation vetting and the Playwright driver belong to the executor's
:class:`~screenpilot.tools.web.session.ChromiumSession` (see there): the newest tab is the current
one, and what happened since the last capture is in the next Frame's ``extra["events"]``. The model's tab actions
(ListTabs, SwitchTab, CloseTab, NewTab) are :mod:`screenpilot.tools.web.tabs`; Upload and downloads are
:mod:`screenpilot.tools.web.transfers`.

The user's own browser. With ``BrowserSettings.cdp_url`` the executor attaches to a running Chromium/Chrome instead
of launching one: it drives that browser's current tab (a new tab when it has none) at ``viewport`` (set on each tab
it drives while attached; ``headless``, ``executable_path``, ``extra_args`` and ``device_scale_factor`` do not
apply), and close only disconnects (the tabs it opened are closed, the browser and the user's tabs stay). With
``user_data_dir`` it launches on that persistent profile. Navigations are vetted by ``url_guard`` in both.

Input. The pointer position is tracked by the executor (Playwright does not report it): a
Click or Scroll without a point acts where the last Click/MoveTo/Drag/Scroll left it ((0, 0)
at first). TypeText types key by key: ``\n`` presses Enter (it submits a one-line form),
``\t`` presses Tab (focus moves on), characters off the US layout (accents, CJK, emoji) are
inserted as text. PressKeys holds its keys in order and releases them in reverse; a lone
non-ASCII character is inserted as text.

Errors. A closed or crashed browser or page, or a page that stops answering, raises
:class:`ExecutorError` (the run ends); a malformed URL, a page that fails to load, a point off
the viewport, an unknown key or a phone-only action raises :class:`ActionFailedError` (feedback
for the model). ``Terminate`` and ``AskUser`` belong to the loop: they raise ValueError here.

Threads: as for the session, an executor must be used from the thread that created it.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PIL import Image

from screenpilot.agent.actions import (
    Action,
    AndroidKey,
    AskUser,
    Click,
    CloseTab,
    Drag,
    GoBack,
    ListTabs,
    LongPress,
    MouseButton,
    MoveTo,
    Navigate,
    NewTab,
    OpenApp,
    Point,
    PressKeys,
    Scroll,
    Swipe,
    SwitchTab,
    SystemButton,
    Terminate,
    TypeText,
    Upload,
    Wait,
    assert_never,
)
from screenpilot.agent.errors import ActionFailedError, ConfigError, ExecutorError
from screenpilot.tools.settle import GrayFrame, SettleSettings
from screenpilot.tools.web import DEFAULT_NAVIGATION_TIMEOUT_S, DEFAULT_VIEWPORT, tabs
from screenpilot.tools.web.base import Box, WebExecutor
from screenpilot.tools.web.keys import is_layout_char, playwright_chord
from screenpilot.tools.web.session import (
    LaunchOptions,
    PlaywrightError,
    PlaywrightTimeoutError,
    UrlGuard,
    gray_from_jpeg,
    is_gone_error,
    playwright_version,
    rgb_from_png,
)

if TYPE_CHECKING:
    pass

# --- pure helpers ----------------------------------------------------------------------------


def drag_steps(start: Point, end: Point) -> int:
    """How many intermediate pointer moves a drag from ``start`` to ``end`` makes: 5 to 25,
    one per ~20 pixels."""
    distance = math.hypot(end.x - start.x, end.y - start.y)
    return max(5, min(25, round(distance / 20)))


# --- settings --------------------------------------------------------------------------------


CAPTURE_PATIENCE_S = 1.0
"""How long a CDP capture may go unanswered before it is sent again (see ``BrowserExecutor._capture_bytes``)."""

CAPTURE_RETRIES = 6
"""How often a refused CDP capture is asked again (50 ms apart) before Playwright's screenshot is tried: Chromium
refuses captures for a moment while a document commits."""


@dataclass(frozen=True)
class BrowserSettings:
    """How the browser executor starts. Sizes in CSS pixels, times in seconds.

    ``viewport``: (width, height) of the page area; screenshots have exactly this size.
    ``device_scale_factor``: device pixels per CSS pixel (1: screenshot pixels are CSS pixels).
    ``executable_path``: a Chromium or Chrome binary; None finds one (see :func:`find_chromium`).
    ``start_url``: opened after launch (None: about:blank).
    ``navigation_timeout_s``: limit for Navigate/GoBack to reach DOMContentLoaded.
    ``response_timeout_s``: how long a page may take to answer before a capture (a page that
    does not answer, e.g. a script in an endless loop, is an ExecutorError).
    ``extra_args``: Chromium flags added after :data:`BASE_CHROMIUM_ARGS`.
    ``mask_selectors``: elements painted over in every screenshot (what the model sees and
    what is saved); wherever the page shows a value given to :meth:`BrowserExecutor.hide_values`
    is painted over as well.
    ``cdp_url``: attach to the browser running there instead of launching one; ``user_data_dir``: launch on that
    persistent profile (see the module docstring; ConfigError for both). ``upload_dir``: the folder Upload takes
    files from (None: any path).
    """

    viewport: tuple[int, int] = DEFAULT_VIEWPORT
    device_scale_factor: float = 1.0
    headless: bool = True
    executable_path: str | None = None
    start_url: str | None = None
    settle: SettleSettings = field(default_factory=SettleSettings)
    navigation_timeout_s: float = DEFAULT_NAVIGATION_TIMEOUT_S
    response_timeout_s: float = 10.0
    extra_args: tuple[str, ...] = ()
    mask_selectors: tuple[str, ...] = ("[data-screenpilot-secret]",)
    cdp_url: str | None = None
    user_data_dir: Path | None = None
    upload_dir: Path | None = None

    def __post_init__(self) -> None:
        width, height = self.viewport
        if width < 1 or height < 1:
            raise ConfigError(f"viewport must be at least 1x1 CSS pixels, got {width}x{height}")
        if not self.device_scale_factor > 0:
            raise ConfigError(f"device_scale_factor must be positive, got {self.device_scale_factor}")
        if not (self.navigation_timeout_s > 0 and self.response_timeout_s > 0):
            raise ConfigError("navigation_timeout_s and response_timeout_s must be positive")


# --- the executor ----------------------------------------------------------------------------


class BrowserExecutor(WebExecutor):
    """Observe and act on one Chromium tab (see the module docstring for pixel space and errors).

    Launches the browser in the constructor (about 0.2-0.5 s); raises ConfigError when
    Playwright or Chromium is missing or the start URL cannot be opened, ExecutorError when the
    browser does not start. ``url_guard`` (optional) vets every navigation the page starts
    (links, redirects, new tabs, Navigate): see :data:`UrlGuard`. Screenshots, tabs, secret
    hiding and closing: :class:`~screenpilot.tools.web.base.WebExecutor`.
    """

    kind: Literal["browser"] = "browser"

    def __init__(self, settings: BrowserSettings | None = None, url_guard: UrlGuard | None = None) -> None:
        self.settings = settings = settings or BrowserSettings()
        self._pointer = Point(0, 0)
        self._mouse_page: object = None
        """The tab whose mouse was last put at ``_pointer`` (each tab has its own): a scroll there needs no move."""
        width, height = settings.viewport
        context = {"viewport": {"width": width, "height": height}, "device_scale_factor": settings.device_scale_factor}
        launch = LaunchOptions(headless=settings.headless, executable_path=settings.executable_path,
                               extra_args=settings.extra_args, navigation_timeout_s=settings.navigation_timeout_s,
                               user_data_dir=settings.user_data_dir, cdp_url=settings.cdp_url)
        super().__init__(launch, lambda _driver: context, owner="browser executor", url_guard=url_guard,
                         start_url=settings.start_url, settle=settings.settle, mask_selectors=settings.mask_selectors,
                         upload_dir=settings.upload_dir)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the viewport in CSS pixels, equal to every Frame's size."""
        return self.settings.viewport

    @property
    def pointer(self) -> Point:
        """Where the executor last put the mouse pointer, in viewport CSS pixels."""
        return self._pointer

    def _frame_extra(self) -> dict[str, object]:
        """``tabs``: how many tabs are open."""
        return {"tabs": len(self._session.context.pages)}


    def describe(self) -> dict[str, object]:
        """What run.json records about this browser."""
        return {
            "kind": self.kind,
            "browser": "chromium",
            "version": self._session.browser_version,
            "executable": self.executable,
            "playwright": playwright_version(),
            "viewport": list(self.settings.viewport),
            "device_scale_factor": self.settings.device_scale_factor,
            "headless": None if self.settings.cdp_url else self.settings.headless,
            "screenshot": "cdp-png-optimizeForSpeed",
            "cdp_url": self.settings.cdp_url,
            "user_data_dir": None if self.settings.user_data_dir is None else str(self.settings.user_data_dir),
            "upload_dir": None if self.settings.upload_dir is None else str(self.settings.upload_dir),
        }

    # --- capture -----------------------------------------------------------------------------

    def _response_timeout_s(self) -> float:
        return self.settings.response_timeout_s

    def _capture_bytes(self, params: dict[str, object]) -> bytes | None:
        """Raw bytes of a CDP capture, or None when CDP refused (the caller falls back). ExecutorError when the page
        does not answer within ``response_timeout_s`` (a renderer stuck in a script produces no frame).

        A capture sent while a navigation swaps the document can go unanswered for good: one not answered within
        :data:`CAPTURE_PATIENCE_S` is sent again once the page has answered a question (a stuck page cannot)."""
        timeout_s = self.settings.response_timeout_s
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                reply = self._session.cdp().send("Page.captureScreenshot", params,
                                                 timeout=max(1.0, min(CAPTURE_PATIENCE_S, left) * 1000))
                return base64.b64decode(reply["data"])
            except PlaywrightTimeoutError:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
            except PlaywrightError as exc:
                if is_gone_error(exc):
                    raise
                return None
            try:
                self._session.ask("() => true", None, left)
            except ExecutorError:  # the page is stuck
                break
            except PlaywrightError:  # between documents: no answer, but nothing stuck either
                pass
        raise ExecutorError(f"the page has not responded for {timeout_s:g} s (a script stuck in a loop?)")

    def _capture(self, fmt: Literal["png", "jpeg"]) -> bytes:
        """Encoded bytes of the current tab's viewport (device pixels): CDP first (asked again up to
        :data:`CAPTURE_RETRIES` times 50 ms apart when it refuses), Playwright's screenshot as the fallback. When the
        tab closes meanwhile, captures the tab that takes over."""
        params: dict[str, object] = {"format": fmt, "optimizeForSpeed": True, "captureBeyondViewport": False}
        if fmt == "jpeg":
            params["quality"] = 40
        for attempt in range(2):
            try:
                data = self._capture_bytes(params)
                for _ in range(CAPTURE_RETRIES):  # refused while a document commits (an error page): a moment later
                    if data is not None:
                        break
                    time.sleep(0.05)
                    data = self._capture_bytes(params)
                if data is None:
                    data = self._session.page.screenshot(timeout=self.settings.response_timeout_s * 1000, type=fmt,
                                                 quality=40 if fmt == "jpeg" else None,
                                                 animations="allow", caret="initial")
                return data
            except PlaywrightError as exc:
                if attempt or not self._session.tab_closed_under(exc):
                    raise
                self._session.follow_pages()
        raise AssertionError("unreachable")

    def _capture_png(self) -> bytes:
        return self._capture("png")

    def _image_from_png(self, data: bytes) -> Image.Image:
        image = rgb_from_png(data)
        if image.size != self.size:
            image = image.resize(self.size, Image.Resampling.BOX if image.width > self.size[0]
                                 else Image.Resampling.BILINEAR)
        return image

    def _image_boxes(self, boxes: Iterable[Box]) -> list[tuple[int, int, int, int]]:
        """Frames are in viewport CSS px (see the module docstring): a client box maps to itself."""
        return [(math.floor(left), math.floor(top), math.ceil(left + width), math.ceil(top + height))
                for left, top, width, height in boxes]

    def _small_gray(self) -> GrayFrame:
        """A cheap capture for settle detection: small grayscale, ``downscale_width`` wide."""
        data = self._capture("jpeg")
        source_width = round(self.size[0] * self.settings.device_scale_factor)
        return gray_from_jpeg(data, self.settings.settle.downscale_width, source_width)

    # --- actions -----------------------------------------------------------------------------

    def _act(self, action: Action) -> None:
        match action:
            case Click(at=at, button=button, count=count):
                self._click(at, button, count)
            case MoveTo(at=at):
                self._move(at)
            case Drag(to=to, start=start):
                self._drag(start, to)
            case Scroll(dy=dy, dx=dx, at=at):
                self._scroll(at, dx, dy)
            case TypeText(text=text):
                self._type(text)
            case PressKeys(keys=keys):
                self._press(keys)
            case Wait(seconds=seconds):
                self._wait(seconds)
            case Navigate(url=url):
                self._goto(url)
            case GoBack():
                self._go_back()
            case ListTabs() | SwitchTab() | CloseTab() | NewTab() | Upload():
                self._web_action(action)
            case LongPress() | Swipe() | SystemButton() | AndroidKey() | OpenApp():
                raise ActionFailedError(
                    f"{type(action).__name__} is a phone action, not available in the browser",
                    hint="in the browser use click, drag, scroll, type, key, navigate and back instead",
                )
            case Terminate() | AskUser():
                raise ValueError(f"{type(action).__name__} is handled by the loop, not by an executor")
            case _:
                assert_never(action)
        self._probe.after_action(self._session.page, action, self._pointer, self._hidden_values, defer=True)

    def _web_action(self, action: ListTabs | SwitchTab | CloseTab | NewTab | Upload) -> None:
        session = self._session
        match action:
            case ListTabs():
                tabs.list_tabs(session)
            case SwitchTab(index=index):
                tabs.switch_tab(session, index)
            case CloseTab(index=index):
                tabs.close_tab(session, index)
            case NewTab(url=url):
                tabs.new_tab(session, url)
            case Upload(path=path):
                self._transfers.upload(session.page, path)

    def _checked(self, at: Point | None) -> Point:
        """``at`` (None: the pointer), or ActionFailedError when it lies outside the viewport."""
        point = self._pointer if at is None else at
        width, height = self.size
        if not (0 <= point.x < width and 0 <= point.y < height):
            raise ActionFailedError(
                f"point ({point.x}, {point.y}) is outside the {width}x{height} viewport",
                hint=f"use coordinates with 0 <= x < {width} and 0 <= y < {height}",
            )
        return point

    def _click(self, at: Point | None, button: MouseButton, count: int) -> None:
        if count < 1:
            raise ActionFailedError(f"click count must be at least 1, got {count}",
                                    hint="click 1 (single), 2 (double) or 3 (triple) times")
        point = self._checked(at)
        self._mouse_page = None  # where the mouse is is known again once the click is done
        self._session.page.mouse.click(point.x, point.y, button=button, click_count=count)
        self._pointer, self._mouse_page = point, self._session.page

    def _move(self, at: Point) -> None:
        point = self._checked(at)
        self._mouse_page = None
        self._session.page.mouse.move(point.x, point.y)
        self._pointer, self._mouse_page = point, self._session.page

    def _drag(self, start: Point | None, to: Point) -> None:
        begin = self._checked(start)
        end = self._checked(to)
        mouse = self._session.page.mouse
        self._mouse_page = None
        mouse.move(begin.x, begin.y)
        mouse.down()
        try:
            mouse.move(end.x, end.y, steps=drag_steps(begin, end))
        finally:
            mouse.up()
        self._pointer, self._mouse_page = end, self._session.page

    def _scroll(self, at: Point | None, dx: int, dy: int) -> None:
        point = self._checked(at)
        page = self._session.page
        if point != self._pointer or page is not self._mouse_page:  # the wheel turns under this tab's pointer
            self._mouse_page = None
            page.mouse.move(point.x, point.y)
            self._pointer, self._mouse_page = point, page
        page.mouse.wheel(dx, dy)

    def _type(self, text: str) -> None:
        """Type ``text``: Enter for newlines, Tab for tabs (moving focus, as a person's Tab key does), characters off
        the US layout (accents, CJK, emoji) inserted as text, lines over :data:`BULK_TYPE_CHARS` in bulk."""
        self._type_text(text, tab_moves_focus=True)

    def _press(self, keys: Sequence[str]) -> None:
        try:
            names = playwright_chord(keys)
        except ValueError as exc:
            raise ActionFailedError(
                f"cannot press {'+'.join(keys) or 'nothing'}: {exc}",
                hint="use key names like ctrl, shift, alt, enter, tab, escape, up, pagedown, f5 or one character",
            ) from None
        keyboard = self._session.page.keyboard
        if len(names) == 1 and len(names[0]) == 1 and not is_layout_char(names[0]):
            keyboard.insert_text(names[0])
            return
        if any(len(n) == 1 and not is_layout_char(n) for n in names):
            raise ActionFailedError(f"cannot press {'+'.join(keys)} as a chord",
                                    hint="chords combine modifiers with ASCII keys; use type for other text")
        pressed: list[str] = []
        try:
            for name in names:
                keyboard.down(name)
                pressed.append(name)
        finally:
            for name in reversed(pressed):
                keyboard.up(name)

    def _wait(self, seconds: float) -> None:
        if not seconds >= 0:
            raise ActionFailedError(f"cannot wait {seconds} seconds", hint="wait a number of seconds >= 0")
        time.sleep(seconds)

    def _goto(self, url: str) -> None:
        self._session.goto(url)

    def _go_back(self) -> None:
        self._session.go_back("this tab has no history to go back to; navigate or click instead")


__all__ = [
    "BrowserExecutor",
    "BrowserSettings",
    "drag_steps",
]
