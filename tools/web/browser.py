"""The browser executor: a Chromium page driven through Playwright's sync API.

Pixel space. Action points and screenshots are in *viewport CSS pixels*: (0, 0) is the
top-left corner of the page's viewport, ``size`` is ``BrowserSettings.viewport``. At a device
scale factor other than 1 the captured image is resized to the CSS size, so a Frame always has
exactly ``size`` pixels and a point in it is a point to click.

Screenshots. Measured on the development machine (1280x720, text page, Chromium 156, shared
2-core box, PNG decoded to a PIL RGB image): CDP ``Page.captureScreenshot`` with
``optimizeForSpeed`` ~36-40 ms against ~67-71 ms for ``page.screenshot()``; the difference is
mostly PNG decoding (Playwright's better-compressed PNG takes ~20 ms more to decode). CDP calls
have no timeout, though, and a renderer stuck in a script never answers one, so every capture
first runs a bounded liveness probe (``page.wait_for_function``, ~2 ms); a page that does not
answer within ``response_timeout_s`` raises :class:`ExecutorError`. A CDP failure that is not
a closed browser (e.g. an error page still committing) falls back to ``page.screenshot``.

Settling. :meth:`BrowserExecutor.settle` waits for the page's ``load`` state (a navigation the
action started), then polls cheap captures (JPEG quality 40, decoded at reduced size straight to
grayscale) through :func:`screenpilot.tools.settle.wait_until_stable`, and repeats once if a navigation
committed meanwhile; the whole wait is bounded by ``SettleSettings.max_wait_s``.

Tabs. A page that opens (``target=_blank``, ``window.open``) becomes the current page: later
screenshots and actions go to the newest tab; the event is recorded in the next Frame's
``extra["events"]``. When the current tab closes, the newest remaining one takes over (a blank
tab is opened when none is left). Dialogs (``alert``/``confirm``/``prompt``) are dismissed, as
Playwright does by default, and recorded the same way; ``beforeunload`` is accepted.

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

Threads. Playwright's sync API allows one driver per thread and refuses to start inside a
running asyncio loop: executors created in the same thread share that thread's driver (each
has its own browser), and an executor must be used from the thread that created it.
"""

from __future__ import annotations

import base64
import io
import math
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin

import cv2
import numpy as np
from PIL import Image, ImageDraw

from screenpilot.agent.actions import (
    Action,
    AndroidKey,
    AskUser,
    Click,
    Drag,
    GoBack,
    LongPress,
    MouseButton,
    MoveTo,
    Navigate,
    OpenApp,
    Point,
    PressKeys,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
    TypeText,
    Wait,
    assert_never,
)
from screenpilot.agent.errors import ActionFailedError, ConfigError, ExecutorError
from screenpilot.agent.frame import Frame
from screenpilot.agent.keys import MODIFIERS, normalize_key
from screenpilot.tools.settle import GrayFrame, SettleSettings, wait_until_stable

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright

    _PLAYWRIGHT_IMPORT_ERROR: str | None = None
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    _PLAYWRIGHT_IMPORT_ERROR = str(_exc)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession, Dialog, Page, Playwright, Route

PLAYWRIGHT_INSTALL_HINT = "pip install 'screenpilot[browser]'  (or: pip install playwright)"
CHROMIUM_INSTALL_HINT = (
    "install Chromium with `apt-get install chromium` (Debian/Ubuntu) or "
    "`python -m playwright install chromium`, or set executable_path to a Chromium/Chrome binary"
)

BASE_CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-smooth-scrolling",
    "--mute-audio",
    "--password-store=basic",
    "--force-color-profile=srgb",
)
"""Flags for a headless Chromium that runs as root on a closed network.

No sandbox (root), no GPU, no first-run UI, no background or update traffic, /tmp instead of a
small /dev/shm, no smooth scrolling (a wheel step lands at once instead of animating).
"""

_SYSTEM_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_PLAYWRIGHT_NAMED_KEYS: dict[str, str] = {
    "ctrl": "Control", "shift": "Shift", "alt": "Alt", "meta": "Meta",
    "enter": "Enter", "tab": "Tab", "space": " ", "backspace": "Backspace", "delete": "Delete",
    "escape": "Escape", "insert": "Insert", "home": "Home", "end": "End",
    "pageup": "PageUp", "pagedown": "PageDown",
    "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "capslock": "CapsLock", "printscreen": "PrintScreen", "menu": "ContextMenu",
} | {f"f{i}": f"F{i}" for i in range(1, 13)}
"""Canonical key name (:mod:`screenpilot.agent.keys`) -> Playwright key name. Playwright's US layout has
no F13-F24."""

_GONE_MARKERS = (
    "target closed", "target crashed", "page crashed", "has been closed", "browser closed",
    "connection closed", "browser has disconnected", "target page, context or browser",
)

_KNOWN_SCHEMES = ("http", "https", "file", "about", "data", "chrome", "view-source", "blob", "ftp")


# --- pure helpers ----------------------------------------------------------------------------


def playwright_key(name: str, in_chord: bool = False) -> str:
    """The Playwright key name for one key ``name`` (canonical or an alias :mod:`screenpilot.agent.keys` knows).

    ``ctrl`` -> ``Control``, ``enter`` -> ``Enter``, ``pageup`` -> ``PageUp``, ``up`` ->
    ``ArrowUp``, ``f5`` -> ``F5``, ``space`` -> ``" "``; a single character stays itself, except
    that an ASCII letter is lower-cased when ``in_chord`` (a chord with a modifier: ``ctrl+A`` is
    ``Control+a``; Playwright applies Shift itself). Raises ValueError for a name that is no key,
    or a key Playwright cannot press (F13-F24).
    """
    canonical = normalize_key(name)
    if canonical is None:
        raise ValueError(f"unknown key {name!r}")
    if len(canonical) == 1:
        if in_chord and canonical.isascii() and canonical.isalpha():
            return canonical.lower()
        return canonical
    mapped = _PLAYWRIGHT_NAMED_KEYS.get(canonical)
    if mapped is None:
        raise ValueError(f"the browser cannot press {canonical!r}")
    return mapped


def playwright_chord(keys: Sequence[str]) -> list[str]:
    """Playwright names for ``keys`` pressed together (see :func:`playwright_key`).

    Letters are lower-cased when the chord holds any modifier. Raises ValueError for an empty
    chord or a key that cannot be pressed.
    """
    if not keys:
        raise ValueError("no keys to press")
    has_modifier = any(normalize_key(k) in MODIFIERS for k in keys)
    return [playwright_key(k, in_chord=has_modifier) for k in keys]


def is_layout_char(key: str) -> bool:
    """True when a single-character Playwright key is on its US layout (printable ASCII)."""
    return len(key) == 1 and " " <= key <= "~"


def normalize_url(url: str) -> str:
    """The URL to open for what a model wrote: ``example.com/x`` -> ``https://example.com/x``.

    A URL with a scheme (``http:``, ``file:``, ``about:``, ``data:``... or anything with ``://``)
    is returned stripped but otherwise unchanged; ``localhost``, ``127.x`` and ``[::1]`` hosts
    get ``http://``, other bare hosts ``https://``. Raises ValueError for an empty URL.
    """
    text = url.strip()
    if not text:
        raise ValueError("empty URL")
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if "://" in text or scheme in _KNOWN_SCHEMES:
        return text
    host = re.split(r"[/:?#]", text, maxsplit=1)[0].lower()
    local = host == "localhost" or host.startswith("127.") or text.startswith("[::1]")
    return ("http://" if local else "https://") + text


def find_chromium(
    explicit: str | None,
    playwright_path: str | None,
    which: Callable[[str], str | None] = shutil.which,
    fallback_paths: Sequence[str] = ("/usr/bin/chromium",),
) -> str:
    """The Chromium executable to launch.

    Order: ``explicit`` (a path, or a command on PATH) > ``playwright_path`` when that file exists
    (a browser ``playwright install chromium`` downloaded) > ``chromium``, ``chromium-browser``,
    ``google-chrome`` on PATH > ``fallback_paths``. Raises ConfigError saying what to install
    when nothing is found, or when ``explicit`` names nothing.
    """
    if explicit:
        if Path(explicit).is_file():
            return explicit
        found = which(explicit)
        if found:
            return found
        raise ConfigError(f"executable_path {explicit!r} does not exist; {CHROMIUM_INSTALL_HINT}")
    if playwright_path and Path(playwright_path).is_file():
        return playwright_path
    for name in _SYSTEM_CHROMIUM_NAMES:
        found = which(name)
        if found:
            return found
    for path in fallback_paths:
        if Path(path).is_file():
            return path
    raise ConfigError(f"no Chromium browser found; {CHROMIUM_INSTALL_HINT}")


def chromium_args(extra: Sequence[str] = ()) -> list[str]:
    """:data:`BASE_CHROMIUM_ARGS` followed by ``extra`` (later flags win in Chromium)."""
    return [*BASE_CHROMIUM_ARGS, *extra]


def drag_steps(start: Point, end: Point) -> int:
    """How many intermediate pointer moves a drag from ``start`` to ``end`` makes: 5 to 25,
    one per ~20 pixels."""
    distance = math.hypot(end.x - start.x, end.y - start.y)
    return max(5, min(25, round(distance / 20)))


def is_gone_error(exc: BaseException) -> bool:
    """True when a Playwright error means the page, context or browser is closed or crashed."""
    if type(exc).__name__ == "TargetClosedError":
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _GONE_MARKERS)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def gray_from_jpeg(data: bytes, width: int, source_width: int) -> GrayFrame:
    """Decode JPEG ``data`` (an image ``source_width`` pixels wide) to grayscale ``width`` wide.

    Uses libjpeg's reduced-size decoding (1/2, 1/4, 1/8) where the result stays at least
    ``width`` wide, then resizes exactly (never enlarges): a 1280x720 capture becomes 320x180 in
    about a millisecond. Raises ValueError when ``data`` is not a JPEG.
    """
    flag = cv2.IMREAD_GRAYSCALE
    for factor, reduced in ((8, cv2.IMREAD_REDUCED_GRAYSCALE_8), (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
                            (2, cv2.IMREAD_REDUCED_GRAYSCALE_2)):
        if source_width // factor >= width:
            flag = reduced
            break
    gray = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if gray is None:
        raise ValueError("not a decodable JPEG")
    h, w = gray.shape
    if w > width:
        gray = cv2.resize(gray, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return np.asarray(gray, dtype=np.uint8)


# --- the Playwright driver, shared per thread -------------------------------------------------

_DRIVERS = threading.local()


def _acquire_playwright() -> Playwright:
    """This thread's Playwright driver, started on first use; pair with :func:`_release_playwright`.

    Playwright's sync API allows one running driver per thread, so executors in the same thread
    share it (each launches its own browser); the last release stops it.
    """
    driver: Playwright | None = getattr(_DRIVERS, "driver", None)
    if driver is None:
        try:
            driver = sync_playwright().start()
        except PlaywrightError as exc:
            raise ExecutorError(f"Playwright could not start: {_first_line(exc)}") from exc
        _DRIVERS.driver = driver
        _DRIVERS.users = 0
    _DRIVERS.users += 1
    return driver


def _release_playwright() -> None:
    """Give back one use of this thread's driver; stop it when nobody uses it any more."""
    driver: Playwright | None = getattr(_DRIVERS, "driver", None)
    if driver is None:
        return
    _DRIVERS.users -= 1
    if _DRIVERS.users <= 0:
        _DRIVERS.driver = None
        with suppress(Exception):
            driver.stop()


# --- settings --------------------------------------------------------------------------------


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
    what is saved); fields whose value contains one of :attr:`BrowserExecutor.mask_values`
    are masked as well.
    """

    viewport: tuple[int, int] = (1280, 720)
    device_scale_factor: float = 1.0
    headless: bool = True
    executable_path: str | None = None
    start_url: str | None = None
    settle: SettleSettings = field(default_factory=SettleSettings)
    navigation_timeout_s: float = 30.0
    response_timeout_s: float = 10.0
    extra_args: tuple[str, ...] = ()
    mask_selectors: tuple[str, ...] = ("[data-screenpilot-secret]",)

    def __post_init__(self) -> None:
        width, height = self.viewport
        if width < 1 or height < 1:
            raise ConfigError(f"viewport must be at least 1x1 CSS pixels, got {width}x{height}")
        if not self.device_scale_factor > 0:
            raise ConfigError(f"device_scale_factor must be positive, got {self.device_scale_factor}")
        if not (self.navigation_timeout_s > 0 and self.response_timeout_s > 0):
            raise ConfigError("navigation_timeout_s and response_timeout_s must be positive")


# --- the executor ----------------------------------------------------------------------------

UrlGuard = Callable[[str], "str | None"]

# Rectangles [left, top, width, height] (viewport CSS px) of elements to mask: those matching
# the selectors, and inputs/textareas whose value contains one of the given strings.
_MASK_RECTS_JS = """([selectors, values]) => {
  const found = new Set();
  for (const sel of selectors) { try { document.querySelectorAll(sel).forEach(e => found.add(e)); } catch (e) {} }
  if (values.length) {
    document.querySelectorAll("input, textarea").forEach(e => {
      if (values.some(v => v && (e.value || "").includes(v))) found.add(e);
    });
  }
  return [...found].map(e => e.getBoundingClientRect())
    .filter(r => r.width > 0 && r.height > 0)
    .map(r => [Math.floor(r.left), Math.floor(r.top), Math.ceil(r.width), Math.ceil(r.height)]);
}"""
"""Called with the URL of every navigation a page starts; returns None to allow it or a reason
to block it (the request is aborted and the reason recorded)."""


def vet_navigation(route: Route, guard: UrlGuard, on_block: Callable[[str, str], None]) -> None:
    """A route handler body: let non-navigation requests through; vet a navigation request and
    the first redirect hop it answers with, aborting (and reporting ``on_block(url, reason)``)
    what ``guard`` refuses.

    Playwright's routes never see redirect hops (the browser follows them itself), so the
    request is fetched here without following redirects and its Location is vetted too.
    """
    request = route.request
    if not request.is_navigation_request():
        route.fallback()
        return
    reason = guard(request.url)
    if reason is not None:
        on_block(request.url, reason)
        route.abort("aborted")
        return
    try:
        response = route.fetch(max_redirects=0)
    except PlaywrightError:
        route.fallback()
        return
    location = response.headers.get("location")
    if 300 <= response.status < 400 and location:
        target = urljoin(request.url, location)
        reason = guard(target)
        if reason is not None:
            on_block(target, reason)
            route.abort("aborted")
            return
    route.fulfill(response=response)


class BrowserExecutor:
    """Observe and act on one Chromium tab (see the module docstring for pixel space and errors).

    Launches the browser in the constructor (about 0.2-0.5 s); raises ConfigError when
    Playwright or Chromium is missing or the start URL cannot be opened, ExecutorError when the
    browser does not start. ``url_guard`` (optional) vets every navigation the page starts
    (links, redirects, new tabs, Navigate): see :data:`UrlGuard`. Use as a context manager or
    call :meth:`close`.
    """

    kind: str = "browser"

    def __init__(self, settings: BrowserSettings | None = None, url_guard: UrlGuard | None = None) -> None:
        if _PLAYWRIGHT_IMPORT_ERROR is not None:
            raise ConfigError(
                f"the browser executor needs Playwright ({_PLAYWRIGHT_IMPORT_ERROR}); {PLAYWRIGHT_INSTALL_HINT}"
            )
        self.settings = settings or BrowserSettings()
        self._url_guard = url_guard
        self.mask_values: list[str] = []
        self._pointer = Point(0, 0)
        self._events: list[str] = []
        self._opened: list[Page] = []
        self._navigations = 0
        self._last_blocked: str | None = None
        self._blocked_pages: list[Page] = []
        self._closed = False
        self._gone: str | None = None
        self._cdp: CDPSession | None = None
        self._cdp_page: Page | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        try:
            self._playwright = _acquire_playwright()
            self.executable = find_chromium(self.settings.executable_path, self._playwright.chromium.executable_path)
            self._browser = self._launch(self._playwright, self.executable)
            self._context = self._new_context(self._browser)
            self._page = self._context.new_page()
            self._watch_page(self._page)
            self._context.on("page", self._on_new_page)
            if self.settings.start_url:
                self._open_start_url(self.settings.start_url)
        except PlaywrightError as exc:
            self.close()
            raise ExecutorError(f"the browser could not be set up: {_first_line(exc)}") from exc
        except BaseException:
            self.close()
            raise

    # --- set-up ------------------------------------------------------------------------------

    def _launch(self, playwright: Playwright, executable: str) -> Browser:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable,
                headless=self.settings.headless,
                args=chromium_args(self.settings.extra_args),
            )
        except PlaywrightError as exc:
            display = "" if self.settings.headless else " (a headed browser needs an X display: set DISPLAY)"
            raise ExecutorError(f"Chromium ({executable}) did not start{display}: {_first_line(exc)}") from exc
        browser.on("disconnected", self._on_disconnected)
        return browser

    def _new_context(self, browser: Browser) -> BrowserContext:
        width, height = self.settings.viewport
        context = browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=self.settings.device_scale_factor,
        )
        context.set_default_navigation_timeout(self.settings.navigation_timeout_s * 1000)
        if self._url_guard is not None:
            context.route("**/*", self._route)
        return context

    def _open_start_url(self, url: str) -> None:
        try:
            self._goto(url)
        except ActionFailedError as exc:
            raise ConfigError(f"the start URL could not be opened: {exc.message}") from exc

    # --- Executor protocol -------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the viewport in CSS pixels, equal to every Frame's size."""
        return self.settings.viewport

    @property
    def page(self) -> Page:
        """The current Playwright page (the newest tab), for setup steps and checks."""
        return self._page

    @property
    def pointer(self) -> Point:
        """Where the executor last put the mouse pointer, in viewport CSS pixels."""
        return self._pointer

    def screenshot(self) -> Frame:
        """Capture the viewport: an RGB image of exactly :attr:`size` with the URL and title.

        ``extra`` holds ``tabs`` (open tab count) and, when something happened since the last
        capture, ``events`` (new tabs, dismissed dialogs, blocked navigations).
        """
        with self._driving("take a screenshot"):
            self._leave_blocked_pages()
            self._follow_pages()
            taken_at = time.time()
            start = time.perf_counter()
            image = self._capture_rgb()
            capture_s = time.perf_counter() - start
            extra: dict[str, object] = {"tabs": len(self._context.pages)}
            if self._events:
                extra["events"] = self._events
                self._events = []
            return Frame(image=image, taken_at=taken_at, capture_s=capture_s, url=self._page.url,
                         title=self._title(), extra=extra)

    def execute(self, action: Action) -> None:
        """Carry out one viewport-space ``action``.

        Raises ActionFailedError for what the model can fix (point off the viewport, bad URL,
        page that failed to load, unknown key, no page to go back to, a phone-only action),
        ExecutorError when the browser cannot be driven, ValueError for Terminate/AskUser (the
        loop's business).
        """
        with self._driving(f"carry out {type(action).__name__}"):
            self._follow_pages()
            try:
                self._act(action)
            except PlaywrightError as exc:
                if not self._tab_closed_under(exc):
                    raise
                self._events.append(f"the tab closed during {type(action).__name__}")
            self._follow_pages()

    def settle(self) -> float:
        """Wait until the page has loaded and stopped changing, at most ``max_wait_s``; seconds spent.

        With ``SettleSettings.fixed_delay_s`` set, sleeps exactly that long instead.
        """
        settings = self.settings.settle
        start = time.monotonic()
        with self._driving("wait for the page to settle"):
            if settings.fixed_delay_s is not None:
                wait_until_stable(self._small_gray, settings)
                self._follow_pages()
                return time.monotonic() - start
            for _ in range(2):
                navigations = self._navigations
                self._wait_for_load(settings.max_wait_s - (time.monotonic() - start))
                remaining = settings.max_wait_s - (time.monotonic() - start)
                if remaining <= 0:
                    break
                wait_until_stable(self._small_gray, replace(settings, max_wait_s=remaining))
                switched = self._follow_pages()
                if self._navigations == navigations and not switched:
                    break
        return time.monotonic() - start

    def describe(self) -> dict[str, object]:
        """What run.json records about this browser."""
        version = self._browser.version if self._browser is not None and self._gone is None else None
        return {
            "kind": self.kind,
            "browser": "chromium",
            "version": version,
            "executable": getattr(self, "executable", None),
            "playwright": _playwright_version(),
            "viewport": list(self.settings.viewport),
            "device_scale_factor": self.settings.device_scale_factor,
            "headless": self.settings.headless,
            "screenshot": "cdp-png-optimizeForSpeed",
        }

    def close(self) -> None:
        """Close the browser and stop Playwright. Idempotent; never raises for a dead browser."""
        if self._closed:
            return
        self._closed = True
        if self._browser is not None:
            with suppress(Exception):
                self._browser.close()
        if self._playwright is not None:
            self._playwright = None
            _release_playwright()

    def __enter__(self) -> BrowserExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- error handling ----------------------------------------------------------------------

    @contextmanager
    def _driving(self, what: str) -> Iterator[None]:
        """Check the browser is usable, and turn Playwright errors into ExecutorError."""
        if self._closed:
            raise ExecutorError(f"cannot {what}: the browser executor is closed")
        if self._gone is not None:
            raise ExecutorError(f"cannot {what}: {self._gone}")
        try:
            yield
        except PlaywrightTimeoutError as exc:
            raise ExecutorError(f"cannot {what}: the browser did not answer in time ({_first_line(exc)})") from exc
        except PlaywrightError as exc:
            if self._gone is None and (is_gone_error(exc) or not self._browser_connected()):
                self._gone = self._gone_reason(exc)
            reason = self._gone or f"Playwright error: {_first_line(exc)}"
            raise ExecutorError(f"cannot {what}: {reason}") from exc

    def _tab_closed_under(self, exc: BaseException) -> bool:
        """True when ``exc`` only means the current tab closed (the browser lives on)."""
        return (self._browser_connected() and self._page.is_closed() and is_gone_error(exc)
                and "crash" not in str(exc).lower())

    def _browser_connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    def _gone_reason(self, exc: BaseException) -> str:
        text = str(exc).lower()
        if not self._browser_connected():
            return "the browser has closed or crashed (connection lost); start a new run"
        if "crash" in text:
            return "the page's renderer crashed; start a new run"
        return f"the page or browser was closed ({_first_line(exc)}); start a new run"

    def _on_disconnected(self, _browser: object) -> None:
        if not self._closed and self._gone is None:
            self._gone = "the browser has closed or crashed (connection lost); start a new run"

    def _on_crash(self, page: Page) -> None:
        if page is self._page and self._gone is None:
            self._gone = "the page's renderer crashed; start a new run"

    # --- pages and events --------------------------------------------------------------------

    def _watch_page(self, page: Page) -> None:
        page.on("crash", self._on_crash)
        page.on("dialog", self._on_dialog)
        page.on("framenavigated", lambda frame: self._count_navigation(page, frame))
        page.on("framenavigated", lambda frame: self._check_committed(page, frame))

    def _count_navigation(self, page: Page, frame: Any) -> None:
        if page is self._page and frame == page.main_frame:
            self._navigations += 1

    def _on_new_page(self, page: Page) -> None:
        self._watch_page(page)
        self._opened.append(page)

    def _on_dialog(self, dialog: Dialog) -> None:
        self._events.append(f"{dialog.type} dialog dismissed: {dialog.message!r}")
        try:
            if dialog.type == "beforeunload":
                dialog.accept()
            else:
                dialog.dismiss()
        except PlaywrightError:
            pass

    def _route(self, route: Route) -> None:
        """Vet navigations (see :func:`vet_navigation`); later redirect hops of a longer chain
        are caught when they commit (:meth:`_check_committed`)."""
        if self._url_guard is None:
            route.fallback()
            return
        vet_navigation(route, self._url_guard, self._block)

    def _block(self, url: str, reason: str) -> None:
        self._events.append(f"navigation to {url} blocked: {reason}")
        self._last_blocked = reason

    def _check_committed(self, page: Page, frame: Any) -> None:
        """Mark a tab whose main frame committed a URL the guard refuses (left before use)."""
        if self._url_guard is None or frame != page.main_frame:
            return
        reason = self._url_guard(frame.url)
        if reason is not None:
            self._events.append(f"page {frame.url} blocked after a redirect: {reason}")
            self._blocked_pages.append(page)

    def _leave_blocked_pages(self) -> None:
        """Close blocked new tabs and take the current tab back from a blocked page."""
        while self._blocked_pages:
            page = self._blocked_pages.pop()
            if page.is_closed():
                continue
            if page is not self._page or len(self._context.pages) > 1:
                page.close()
                continue
            if page.go_back(timeout=self.settings.navigation_timeout_s * 1000) is None:
                page.goto("about:blank")

    def _follow_pages(self) -> bool:
        """Switch to the newest tab that opened, or away from a closed one; True when switched."""
        opened = [p for p in self._opened if not p.is_closed()]
        self._opened.clear()
        if opened and opened[-1] is not self._page:
            self._switch_to(opened[-1], f"new tab opened: {opened[-1].url}")
            return True
        if self._page.is_closed():
            remaining = [p for p in self._context.pages if not p.is_closed()]
            if remaining:
                self._switch_to(remaining[-1], f"tab closed; now on {remaining[-1].url}")
            else:
                page = self._context.new_page()
                self._opened.clear()
                self._switch_to(page, "last tab closed; opened a blank tab")
            return True
        return False

    def _switch_to(self, page: Page, event: str) -> None:
        self._page = page
        self._events.append(event)
        self._navigations += 1
        if not page.is_closed():
            page.bring_to_front()

    def _title(self) -> str | None:
        """The page title, or None while a navigation replaces the document."""
        try:
            return self._page.title()
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            return None

    # --- capture -----------------------------------------------------------------------------

    def _session(self) -> CDPSession:
        if self._cdp is None or self._cdp_page is not self._page:
            if self._cdp is not None:
                with suppress(PlaywrightError):
                    self._cdp.detach()
            self._cdp = self._context.new_cdp_session(self._page)
            self._cdp_page = self._page
        return self._cdp

    def _ensure_responsive(self) -> None:
        """Raise ExecutorError when the page does not run a trivial script within the limit."""
        timeout_s = self.settings.response_timeout_s
        try:
            self._page.wait_for_function("true", timeout=timeout_s * 1000, polling=10)
        except PlaywrightTimeoutError as exc:
            raise ExecutorError(
                f"the page has not responded for {timeout_s:g} s (a script stuck in a loop?)"
            ) from exc
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            # Between documents (an error page committing) scripts cannot run yet; capture anyway.

    def _capture_bytes(self, params: dict[str, object]) -> bytes | None:
        """Raw bytes of a CDP capture, or None when CDP refused (the caller falls back)."""
        self._ensure_responsive()
        try:
            reply = self._session().send("Page.captureScreenshot", params)
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            return None
        return base64.b64decode(reply["data"])

    def _capture(self, fmt: Literal["png", "jpeg"]) -> bytes:
        """Encoded bytes of the current tab's viewport (device pixels): CDP first, Playwright's
        screenshot as the fallback. When the tab closes meanwhile, captures the tab that takes over."""
        params: dict[str, object] = {"format": fmt, "optimizeForSpeed": True, "captureBeyondViewport": False}
        if fmt == "jpeg":
            params["quality"] = 40
        for attempt in range(2):
            try:
                data = self._capture_bytes(params)
                if data is None:
                    data = self._page.screenshot(timeout=self.settings.response_timeout_s * 1000, type=fmt,
                                                 quality=40 if fmt == "jpeg" else None,
                                                 animations="allow", caret="initial")
                return data
            except PlaywrightError as exc:
                if attempt or not self._tab_closed_under(exc):
                    raise
                self._follow_pages()
        raise AssertionError("unreachable")

    def _capture_rgb(self) -> Image.Image:
        data = self._capture("png")
        image = Image.open(io.BytesIO(data)).convert("RGB")
        if image.size != self.size:
            image = image.resize(self.size, Image.Resampling.BOX if image.width > self.size[0]
                                 else Image.Resampling.BILINEAR)
        return self._mask(image)

    def _mask(self, image: Image.Image) -> Image.Image:
        """Paint over marked fields and fields showing a secret value (viewport CSS pixels)."""
        if not self.settings.mask_selectors and not self.mask_values:
            return image
        try:
            rects = self._page.evaluate(_MASK_RECTS_JS, [list(self.settings.mask_selectors), self.mask_values])
        except PlaywrightError:
            rects = []
        if rects:
            draw = ImageDraw.Draw(image)
            for left, top, width, height in rects:
                draw.rectangle((left, top, left + width, top + height), fill=(40, 40, 40))
        return image

    def _small_gray(self) -> GrayFrame:
        """A cheap capture for settle detection: small grayscale, ``downscale_width`` wide."""
        data = self._capture("jpeg")
        source_width = round(self.size[0] * self.settings.device_scale_factor)
        return gray_from_jpeg(data, self.settings.settle.downscale_width, source_width)

    def _wait_for_load(self, budget_s: float) -> None:
        if budget_s <= 0:
            return
        try:
            self._page.wait_for_load_state("load", timeout=budget_s * 1000)
        except PlaywrightTimeoutError:
            return
        except PlaywrightError as exc:
            if not self._tab_closed_under(exc):
                raise
            self._follow_pages()

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
            case LongPress() | Swipe() | SystemButton() | AndroidKey() | OpenApp():
                raise ActionFailedError(
                    f"{type(action).__name__} is a phone action, not available in the browser",
                    hint="in the browser use click, drag, scroll, type, key, navigate and back instead",
                )
            case Terminate() | AskUser():
                raise ValueError(f"{type(action).__name__} is handled by the loop, not by an executor")
            case _:
                assert_never(action)

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
        self._page.mouse.click(point.x, point.y, button=button, click_count=count)
        self._pointer = point

    def _move(self, at: Point) -> None:
        point = self._checked(at)
        self._page.mouse.move(point.x, point.y)
        self._pointer = point

    def _drag(self, start: Point | None, to: Point) -> None:
        begin = self._checked(start)
        end = self._checked(to)
        mouse = self._page.mouse
        mouse.move(begin.x, begin.y)
        mouse.down()
        try:
            mouse.move(end.x, end.y, steps=drag_steps(begin, end))
        finally:
            mouse.up()
        self._pointer = end

    def _scroll(self, at: Point | None, dx: int, dy: int) -> None:
        point = self._checked(at)
        self._page.mouse.move(point.x, point.y)
        self._pointer = point
        self._page.mouse.wheel(dx, dy)

    def _type(self, text: str) -> None:
        """Type ``text`` key by key: ``\\n`` (``\\r\\n``, ``\\r``) presses Enter and ``\\t`` presses
        Tab (moving focus, as a person's Tab key does); characters off the US layout (accents,
        CJK, emoji, any non-BMP character) are inserted as text. About 2 ms per character."""
        keyboard = self._page.keyboard
        for index, part in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\t")):
            if index:
                keyboard.press("Tab")
            if part:
                keyboard.type(part)

    def _press(self, keys: Sequence[str]) -> None:
        try:
            names = playwright_chord(keys)
        except ValueError as exc:
            raise ActionFailedError(
                f"cannot press {'+'.join(keys) or 'nothing'}: {exc}",
                hint="use key names like ctrl, shift, alt, enter, tab, escape, up, pagedown, f5 or one character",
            ) from None
        keyboard = self._page.keyboard
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
        try:
            target = normalize_url(url)
        except ValueError:
            raise ActionFailedError("cannot navigate to an empty URL",
                                    hint="give a full URL such as https://example.com/") from None
        self._last_blocked = None
        try:
            self._page.goto(target, wait_until="domcontentloaded")
        except PlaywrightTimeoutError as exc:
            raise ActionFailedError(
                f"{target} did not load within {self.settings.navigation_timeout_s:g} s",
                hint="the page is slow or unreachable; look at the screenshot, wait, or try another URL",
            ) from exc
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            raise self._load_failure(target, exc) from exc

    def _load_failure(self, url: str, exc: BaseException) -> ActionFailedError:
        detail = _first_line(exc)
        if self._last_blocked is not None:
            return ActionFailedError(f"navigation to {url} was blocked: {self._last_blocked}",
                                     hint=f"{self._last_blocked} Choose another page.")
        if "invalid url" in detail.lower():
            return ActionFailedError(f"cannot navigate to {url!r}: not a valid URL",
                                     hint="give a full URL such as https://example.com/path")
        code = re.search(r"net::ERR_[A-Z_]+", detail)
        reason = code.group(0) if code else detail
        return ActionFailedError(f"{url} failed to load ({reason})",
                                 hint=f"the page did not load ({reason}); check the address or try another URL")

    def _history_index(self) -> int:
        """The tab's current position in its history (0: nothing to go back to)."""
        for attempt in range(20):
            try:
                reply = self._session().send("Page.getNavigationHistory")
                return int(reply["currentIndex"])
            except PlaywrightError as exc:
                if is_gone_error(exc) or attempt == 19:
                    raise
                time.sleep(0.025)
        return 0

    def _go_back(self) -> None:
        if self._history_index() == 0:
            raise ActionFailedError("there is no previous page in this tab",
                                    hint="this tab has no history to go back to; navigate or click instead")
        try:
            self._page.go_back(wait_until="domcontentloaded")
        except PlaywrightTimeoutError as exc:
            raise ActionFailedError("the previous page did not load in time",
                                    hint="wait and look at the screenshot") from exc
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            raise ActionFailedError(f"went back, but the previous page failed to load ({_first_line(exc)})",
                                    hint="the previous page did not load; navigate to a URL instead") from exc


def _playwright_version() -> str | None:
    try:
        return metadata.version("playwright")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return None


__all__ = [
    "BASE_CHROMIUM_ARGS",
    "CHROMIUM_INSTALL_HINT",
    "PLAYWRIGHT_INSTALL_HINT",
    "BrowserExecutor",
    "BrowserSettings",
    "UrlGuard",
    "chromium_args",
    "drag_steps",
    "find_chromium",
    "gray_from_jpeg",
    "is_gone_error",
    "is_layout_char",
    "normalize_url",
    "playwright_chord",
    "playwright_key",
    "vet_navigation",
]
