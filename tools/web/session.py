"""One Chromium browser driven through Playwright's sync API: the single owner of Playwright.

Both web executors (:mod:`screenpilot.tools.web.browser` and :mod:`screenpilot.tools.web.phone`)
hold a :class:`ChromiumSession`; what they share lives here once: finding and launching
Chromium, the per-thread Playwright driver, one browser context, the current tab (new tabs take
over, a closed tab hands over to the newest one left), dialogs, navigation vetting, the liveness
of browser and page, and the translation of Playwright errors into screenpilot's.

Errors. Inside :meth:`ChromiumSession.driving`, a closed or crashed browser or page raises
:class:`ExecutorError` with the reason (and every later call says the same); a Playwright time-out
raises ExecutorError too. :meth:`ChromiumSession.goto` and :meth:`ChromiumSession.go_back` raise
:class:`ActionFailedError` for what the model can fix (a malformed URL, a page that fails to load,
no history, a blocked navigation).

Browsers. By default a fresh Chromium is launched with a new context (closed again on close). With
``LaunchOptions.user_data_dir`` it is launched on that persistent profile (cookies, storage and logins stay for the
next run). With ``LaunchOptions.cdp_url`` the session attaches to a Chromium or Chrome that is already running (started
with ``--remote-debugging-port``) over CDP: it drives that browser's first context, starting on its first tab (a new
tab when it has none), sets the context options' viewport on each tab it makes current (other context options,
such as the device scale factor, are the browser's own), and on close only closes the tabs it opened itself and
disconnects: the browser and the user's tabs stay. The URL guard vets navigations in all three.

Tabs. A page that opens (``target=_blank``, ``window.open``) becomes the current page at the
next :meth:`ChromiumSession.follow_pages`; when the current tab closes, the newest remaining one
takes over (a blank tab is opened when none is left). Dialogs (``alert``/``confirm``/``prompt``)
are dismissed, ``beforeunload`` is accepted. Each such event is queued as one line of text for
the next Frame (:meth:`ChromiumSession.take_events`).

Threads. Playwright's sync API allows one driver per thread and refuses to start inside a running
asyncio loop: sessions created in the same thread share that thread's driver (each has its own
browser), and a session must be used from the thread that created it.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import cv2
import numpy as np
from PIL import Image

from screenpilot.agent.errors import ActionFailedError, ConfigError, ExecutorError
from screenpilot.tools.settle import GrayFrame
from screenpilot.tools.web import DEFAULT_NAVIGATION_TIMEOUT_S

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright

    _PLAYWRIGHT_IMPORT_ERROR: str | None = None
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    _PLAYWRIGHT_IMPORT_ERROR = str(_exc)

    class PlaywrightError(Exception):  # type: ignore[no-redef]
        """Stands in for Playwright's Error while Playwright is missing (nothing raises it)."""

    class PlaywrightTimeoutError(PlaywrightError):  # type: ignore[no-redef]
        """Stands in for Playwright's TimeoutError while Playwright is missing."""

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

_GONE_MARKERS = (
    "target closed", "target crashed", "page crashed", "has been closed", "browser closed",
    "connection closed", "browser has disconnected", "target page, context or browser",
)

_KNOWN_SCHEMES = ("http", "https", "file", "about", "data", "chrome", "view-source", "blob", "ftp")

_BROWSER_GONE = "the browser has closed or crashed (connection lost); start a new run"
_RENDERER_CRASHED = "the page's renderer crashed; start a new run"

UrlGuard = Callable[[str], "str | None"]
"""Called with the URL of every navigation a page starts; returns None to allow it or a reason
to block it (the request is aborted and the reason recorded)."""


# --- pure helpers ----------------------------------------------------------------------------


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


def is_gone_error(exc: BaseException) -> bool:
    """True when a Playwright error means the page, context or browser is closed or crashed."""
    if type(exc).__name__ == "TargetClosedError":
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _GONE_MARKERS)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def rgb_from_png(data: bytes) -> Image.Image:
    """Decode a screenshot's PNG ``data`` to an RGB image with OpenCV (about twice as fast as Pillow). Raises
    ValueError when ``data`` is not a decodable image."""
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a decodable PNG")
    return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


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


def _answered(questions: Sequence[PageQuestion], answers: object) -> None:
    """Give ``questions`` their ``answers`` (an array in the same order, as :func:`_asking_too` asks them)."""
    if isinstance(answers, list) and len(answers) == len(questions):
        for question, answer in zip(questions, answers, strict=True):
            question.answered, question.answer = True, answer


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


def playwright_version() -> str | None:
    """The installed Playwright package's version (None when it is not installed)."""
    try:
        return metadata.version("playwright")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return None


# --- the Playwright driver, shared per thread -------------------------------------------------

_DRIVERS = threading.local()


def _acquire_playwright() -> Playwright:
    """This thread's Playwright driver, started on first use; pair with :func:`_release_playwright`."""
    driver: Playwright | None = getattr(_DRIVERS, "driver", None)
    if driver is None:
        try:
            driver = sync_playwright().start()
        except PlaywrightError as exc:
            raise ExecutorError(f"Playwright could not start: {first_line(exc)}") from exc
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


@dataclass(frozen=True)
class FrameFacts:
    """What the page said about itself for one screenshot: ``boxes`` (left, top, width, height; client CSS px) where
    it shows a secret or a masked element, its ``state`` (see :meth:`ChromiumSession.page_state`) and ``title``."""

    boxes: list[tuple[float, float, float, float]]
    state: dict[str, str] | None
    title: str | None

    @classmethod
    def from_answer(cls, facts: object) -> FrameFacts | None:
        """:data:`FRAME_FACTS_JS`'s answer as FrameFacts (None when it is not one)."""
        if not isinstance(facts, dict):
            return None
        state = facts.get("state")
        return cls(
            boxes=[(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in facts.get("boxes") or ()],
            state={key: str(state.get(key, "")) for key in ("controls", "text")} if isinstance(state, dict) else None,
            title=facts.get("title") if isinstance(facts.get("title"), str) else None)


@dataclass
class PageQuestion:
    """A script for the page (a JavaScript function of one argument, ``arg``) asked together with another
    question, in the same round trip (:meth:`ChromiumSession.page_is_quiet`). ``answered`` and ``answer`` are
    set when the page has run it (``answer`` is None when the script threw)."""

    script: str
    arg: object = None
    answered: bool = False
    answer: Any = None


def _asking_too(questions: Sequence[PageQuestion]) -> str:
    """JavaScript for ``questions``' answers as an array, the argument's ``q`` holding their arguments."""
    return "[" + ", ".join(f"(() => {{ try {{ return ({q.script})(a.q[{i}]); }} catch (e) {{ return null; }} }})()"
                           for i, q in enumerate(questions)) + "]"


# --- the session -----------------------------------------------------------------------------


CDP_CONNECT_TIMEOUT_S = 10.0
"""How long attaching to a running browser (``cdp_url``) may take, in seconds."""


@dataclass(frozen=True)
class LaunchOptions:
    """How Chromium starts. ``executable_path`` None: found by :func:`find_chromium`;
    ``extra_args`` follow :data:`BASE_CHROMIUM_ARGS`; ``navigation_timeout_s`` (seconds) bounds
    every navigation of the context (Navigate, GoBack, the start URL). ``user_data_dir``: launch on that persistent
    profile folder; ``cdp_url`` (``http://127.0.0.1:9222`` or a ``ws://`` endpoint): attach to a running browser
    instead of launching one (see the module docstring). ConfigError for both at once or a URL of another scheme."""

    headless: bool = True
    executable_path: str | None = None
    extra_args: tuple[str, ...] = ()
    navigation_timeout_s: float = DEFAULT_NAVIGATION_TIMEOUT_S
    user_data_dir: Path | None = None
    cdp_url: str | None = None

    def __post_init__(self) -> None:
        if self.cdp_url is not None:
            if self.user_data_dir is not None:
                raise ConfigError("attach to a running browser (cdp_url) or launch one on a profile (user_data_dir), "
                                  "not both")
            if urlsplit(self.cdp_url).scheme not in ("http", "https", "ws", "wss") or not urlsplit(self.cdp_url).netloc:
                raise ConfigError(f"cdp_url must be an http:// or ws:// address such as http://127.0.0.1:9222, "
                                  f"got {self.cdp_url!r}")


ContextOptions = Callable[["Playwright"], Mapping[str, Any]]
"""Given the running driver (for its device descriptors), the keyword arguments of
``browser.new_context`` (viewport, device scale factor, touch, user agent...). It runs before
Chromium launches, so a ConfigError it raises (an unknown device) costs no browser start."""


PAGE_STATE_JS = """() => {
  const hash = (text) => { let h = 2166136261; for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i); h = Math.imul(h, 16777619); } return (h >>> 0).toString(16); };
  const a = document.activeElement;
  const aria = (e) => ["aria-valuenow", "aria-activedescendant", "aria-selected", "aria-checked", "aria-expanded"]
    .map((n) => e.getAttribute(n) || "").join(",");
  const focused = a && a !== document.body ? [a.tagName, a.id, "value" in a ? String(a.value) : "",
    a.selectionStart ?? "", a.selectionEnd ?? "", a.checked ?? "", a.selectedIndex ?? "", a.scrollTop, a.scrollLeft,
    aria(a)].join(",") : "";
  const chosen = Array.from(document.querySelectorAll('[aria-selected="true"], [aria-current], option:checked'))
    .slice(0, 50).map((e) => e.id || (e.textContent || "").slice(0, 40)).join(",");
  const text = document.body ? document.body.textContent || "" : "";
  return {controls: [location.href, scrollX, scrollY, focused, chosen].join("|"), text: text.length + ":" + hash(text)};
}"""
"""Page state for loop detection: ``controls`` (URL, window scroll, the focused element's value, selection, checked
state, scroll and ARIA state, the selected or current elements) and ``text`` (a hash of the page's text), both
strings. No layout is forced."""


ACTIVITY_TRACKER_JS = """(() => {
  if (window.__screenpilotActivity) return;
  const own = {setTimeout: window.setTimeout.bind(window), clearTimeout: window.clearTimeout.bind(window),
               requestAnimationFrame: window.requestAnimationFrame.bind(window)};
  const soon = new Set(), frames = new Set();
  let repeating = 0;
  const SHORT_MS = 250;
  window.setTimeout = function (handler, delay, ...rest) {
    if (typeof handler !== "function" || Number(delay) > SHORT_MS) return own.setTimeout(handler, delay, ...rest);
    const id = own.setTimeout(function () { soon.delete(id); return handler.apply(this, arguments); },
                              delay, ...rest);
    soon.add(id);
    return id;
  };
  window.clearTimeout = function (id) { soon.delete(id); return own.clearTimeout(id); };
  const setIntervalOwn = window.setInterval.bind(window), clearIntervalOwn = window.clearInterval.bind(window);
  const fast = new Set();
  window.setInterval = function (handler, delay, ...rest) {
    const id = setIntervalOwn(handler, delay, ...rest);
    if (!(Number(delay) > SHORT_MS)) { fast.add(id); repeating = fast.size; }
    return id;
  };
  window.clearInterval = function (id) { fast.delete(id); repeating = fast.size; return clearIntervalOwn(id); };
  window.requestAnimationFrame = function (callback) {
    const id = own.requestAnimationFrame(function () { frames.delete(id); return callback.apply(this, arguments); });
    frames.add(id);
    return id;
  };
  const cancelOwn = window.cancelAnimationFrame.bind(window);
  window.cancelAnimationFrame = function (id) { frames.delete(id); return cancelOwn(id); };
  let requests = 0;
  const ownFetch = window.fetch && window.fetch.bind(window);
  if (ownFetch) window.fetch = function () {
    requests++;
    return ownFetch.apply(null, arguments).finally(() => { requests--; });
  };
  const ownSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    requests++;
    this.addEventListener("loadend", () => { requests--; }, {once: true});
    return ownSend.apply(this, arguments);
  };
  let popups = 0;
  const ownOpen = window.open;
  window.open = function () { popups++; return ownOpen.apply(window, arguments); };
  const opensTab = (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[href], area[href]") : null;
    const target = link ? (link.getAttribute("target") || "").toLowerCase() : "";
    if (link && ((target && !["_self", "_parent", "_top"].includes(target)) || event.ctrlKey || event.metaKey
        || event.shiftKey || event.button === 1)) popups++;
  };
  document.addEventListener("click", opensTab, true);
  document.addEventListener("auxclick", opensTab, true);
  Object.defineProperty(window, "__screenpilotActivity", {value: {own: own, requests: () => requests,
    moving: () => soon.size > 0 || frames.size > 0 || repeating > 0,
    takePopups: () => { const n = popups; popups = 0; return n; }}, enumerable: false});
})()"""
"""Installed in every document before its scripts run: counts the page's own pending animation-frame callbacks, its
timeouts due within 250 ms, its intervals of 250 ms or less and its fetch/XMLHttpRequest requests in flight, so
:data:`QUIET_JS` sees a JavaScript animation, a short timer or a response about to change the page (it keeps the
original timer functions for itself); and counts the tabs the page asked for (``window.open``, a click on a link
with a target or with a modifier key), which open some round trips later."""


QUIET_JS = """(untrackedMs, held) => {
  const tracker = window.__screenpilotActivity;
  const own = tracker ? tracker.own : window;
  const windowMs = tracker ? 0 : untrackedMs;
  const busy = () => document.readyState !== "complete"
    || (tracker && tracker.moving())
    || document.getAnimations().some((a) => a.playState === "running" || a.pending)
    || Array.from(document.querySelectorAll("video, audio")).some((m) => !m.paused && !m.ended)
    || document.querySelector("canvas, embed, object") !== null
    || Array.from(document.querySelectorAll("iframe")).some((f) => {
         try { const inner = f.contentWindow.__screenpilotActivity;
               return f.contentDocument === null || f.contentDocument.getAnimations().length > 0
                 || !inner || inner.moving() || inner.requests() > 0; }
         catch (e) { return true; } });
  if (busy()) return false;
  if (tracker && tracker.requests() > 0) return "requests";
  return new Promise((resolve) => {
    let changes = 0;
    const observer = new MutationObserver((records) => { changes += records.length; });
    observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
    let frames = false, waited = false, armed = false;  // the action's own scroll events fire in the first frame
    let released = !held;
    if (held) Object.defineProperty(window, "__screenpilotQuietEnd", {value: () => { released = true; finish(); },
                                                                      configurable: true, enumerable: false});
    const scrolled = () => { if (armed) changes++; };
    document.addEventListener("scroll", scrolled, {capture: true, passive: true});
    const finish = () => {
      if (!(frames && waited && released)) return;
      observer.disconnect();
      document.removeEventListener("scroll", scrolled, {capture: true});
      resolve(changes === 0 && !busy() && (!tracker || tracker.requests() === 0 || "requests"));
    };
    own.setTimeout(() => { waited = true; finish(); }, windowMs);
    own.setTimeout(() => { frames = true; finish(); }, windowMs + 100);  // no animation frames in a hidden tab
    own.requestAnimationFrame(() => {
      armed = true;
      if (held) { frames = true; finish(); } else own.requestAnimationFrame(() => { frames = true; finish(); });
    });
  });
}"""
"""The page's own verdict on whether it has stopped changing: ``false`` at once when something is moving (not
loaded, a running or pending CSS/Web animation or transition, a pending animation-frame callback, timeout due
within 250 ms or fast interval of the page's own (:data:`ACTIVITY_TRACKER_JS`), playing media, or something it
cannot see into: a canvas, a plugin, a cross-origin, animating or untracked frame; those pages are left to the pixel
comparison), ``"requests"`` at once when only the page's requests are in flight, else a promise of the same verdict
after a quiet window: two animation frames without a DOM mutation, and no scroll after the first (a document
without the tracker, a tab that was open before an attach over CDP, must also stay so for ``untrackedMs``
milliseconds). ``held``: the window lasts one animation frame and until ``window.__screenpilotQuietEnd()`` is
called (:data:`QUIET_START_JS`: the caller captures the screen meanwhile, which itself takes a frame or two). A
navigation starting meanwhile destroys the page's context, and the caller hears "cannot tell"."""

_QUIET_ANSWER = ("(quiet) => ({quiet, popups: window.__screenpilotActivity"
                 " ? window.__screenpilotActivity.takePopups() : 0})")

QUIET_ANSWER_JS = "(ms) => Promise.resolve((" + QUIET_JS + ")(ms)).then(" + _QUIET_ANSWER + ")"
""":data:`QUIET_JS`'s verdict wrapped in an object (so a wait for a truthy value returns every answer), with the
number of tabs the page asked for since the last question (:data:`ACTIVITY_TRACKER_JS`)."""

QUIET_START_JS = ("(ms) => { const verdict = (" + QUIET_JS + ")(ms, true); if (!(verdict instanceof Promise)) return ("
                  + _QUIET_ANSWER + ")(verdict); Object.defineProperty(window, '__screenpilotQuiet', {value: "
                  "verdict.then(" + _QUIET_ANSWER + "), configurable: true, enumerable: false}); return {pending: "
                  "true}; }")
"""Starts :data:`QUIET_JS` with a held window: its answer (as :data:`QUIET_ANSWER_JS`) when the verdict is
immediate, else ``{pending: true}``, the quiet window open in the page until :data:`QUIET_AWAIT_JS` closes it."""

QUIET_AWAIT_JS = ("() => { if (!window.__screenpilotQuiet) return {quiet: null, popups: 0};"
                  " window.__screenpilotQuietEnd(); return window.__screenpilotQuiet; }")
"""Closes the quiet window :data:`QUIET_START_JS` opened (it ends once an animation frame has passed, too) and
answers its verdict (``quiet`` null: the document was replaced)."""

POPUP_WAIT_S = 2.0
"""How long settle waits for a tab the page asked for to open (Playwright reports it some round trips later)."""

SECRET_BOXES_JS = """([selectors, values]) => {
  const boxes = [];
  const add = (r, dx, dy) => {
    if (r.width > 0 && r.height > 0) boxes.push([r.left + dx, r.top + dy, r.width, r.height]);
  };
  const shows = (text) => values.some((v) => (text || "").includes(v));
  const visit = (doc, dx, dy) => {
    for (const sel of selectors) {
      try { doc.querySelectorAll(sel).forEach((e) => add(e.getBoundingClientRect(), dx, dy)); } catch (e) {}
    }
    if (values.length) {
      doc.querySelectorAll("input, textarea, select").forEach((e) => {
        const shown = e.tagName === "SELECT" ? Array.from(e.selectedOptions, (o) => o.text).join(" ") : e.value;
        if (shows(shown) || shows(e.placeholder)) add(e.getBoundingClientRect(), dx, dy);
      });
      const nodes = [];
      let text = "";
      const walker = doc.createTreeWalker(doc.body || doc.documentElement, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) { nodes.push([n, text.length]); text += n.data; }
      const at = (pos, end) => {
        let i = nodes.length - 1;
        while (i > 0 && (end ? nodes[i][1] >= pos : nodes[i][1] > pos)) i--;
        return [nodes[i][0], pos - nodes[i][1]];
      };
      for (const v of values) {
        for (let i = text.indexOf(v); i >= 0; i = text.indexOf(v, i + 1)) {
          const range = doc.createRange();
          range.setStart(...at(i, false));
          range.setEnd(...at(i + v.length, true));
          for (const r of range.getClientRects()) add(r, dx, dy);
        }
      }
    }
    doc.querySelectorAll("iframe, frame").forEach((f) => {
      let inner = null;
      try { inner = f.contentDocument; } catch (e) {}
      const r = f.getBoundingClientRect();
      if (inner) visit(inner, dx + r.left + f.clientLeft, dy + r.top + f.clientTop);
    });
  };
  visit(document, 0, 0);
  return boxes;
}"""
"""Where the page shows a secret: boxes ``[left, top, width, height]`` in client CSS px of the top document, of the
elements matching ``selectors``, of form fields whose value, selected option or placeholder contains one of
``values``, and of every run of text containing one (across element boundaries: ``<b>hun</b>ter2`` is found),
in the document and its same-origin frames. Text drawn into a canvas, cross-origin frames and shadow roots are not
seen."""


FRAME_FACTS_JS = ("([selectors, values]) => ({boxes: (" + SECRET_BOXES_JS + ")([selectors, values]), state: ("
                  + PAGE_STATE_JS + ")(), title: document.title})")
"""What a screenshot needs from the page, in one round trip: ``boxes`` (:data:`SECRET_BOXES_JS`), ``state``
(:data:`PAGE_STATE_JS`) and ``title``."""

class ChromiumSession:
    """One Chromium browser, one context and its current tab, for one executor.

    ``owner`` names the executor in messages (``"browser executor"``). Launches (or attaches, see the module
    docstring) in the constructor; raises ConfigError when Playwright or Chromium is missing (or ``context_options``
    refuses, or nothing answers at ``cdp_url``), ExecutorError when Chromium does not start. ``url_guard``
    (optional) vets every navigation the context's pages start, redirect hops included. Close with :meth:`close`.
    """

    def __init__(
        self,
        launch: LaunchOptions,
        context_options: ContextOptions,
        *,
        owner: str,
        url_guard: UrlGuard | None = None,
    ) -> None:
        if _PLAYWRIGHT_IMPORT_ERROR is not None:
            raise ConfigError(f"the {owner} needs Playwright ({_PLAYWRIGHT_IMPORT_ERROR}); {PLAYWRIGHT_INSTALL_HINT}")
        self.owner = owner
        self.launch_options = launch
        self._url_guard = url_guard
        self.navigations = 0
        """Main-frame navigations and tab switches of the current tab so far (settle watches it)."""
        self._events: list[str] = []
        self._opened: list[Page] = []
        self._blocked_pages: list[Page] = []
        self._last_blocked: str | None = None
        self._closed = False
        self._gone: str | None = None
        self._cdp: CDPSession | None = None
        self._cdp_page: Page | None = None
        self._browser: Browser | None = None
        self._watchers: list[Callable[[Page], None]] = []
        self._own_pages: list[Page] = []
        self._tab_viewport: Mapping[str, int] | None = None
        self.executable: str | None = None
        """The Chromium binary launched (None when attached over CDP)."""
        self._playwright: Playwright | None = _acquire_playwright()
        try:
            self.context = self._open_context(self._playwright, dict(context_options(self._playwright)))
            self.page = self.context.pages[0] if self.context.pages else self.open_page()
            for page in self.context.pages:
                self._watch_page(page)
            self._fit_viewport(self.page)
            self.context.on("page", self._on_new_page)
        except PlaywrightError as exc:
            self.close()
            raise ExecutorError(f"the browser could not be set up: {first_line(exc)}") from exc
        except BaseException:
            self.close()
            raise

    # --- set-up ------------------------------------------------------------------------------

    def _open_context(self, playwright: Playwright, options: dict[str, Any]) -> BrowserContext:
        """The context to drive: a new one of a launched browser, a persistent profile's, or a running browser's."""
        launch = self.launch_options
        if launch.cdp_url is not None:
            self._browser = self._connect(playwright, launch.cdp_url)
            if not self._browser.contexts:
                raise ConfigError(f"the browser at {launch.cdp_url} has no browser context to drive")
            self._tab_viewport = options.get("viewport")
            return self._prepared(self._browser.contexts[0])
        self.executable = find_chromium(launch.executable_path, playwright.chromium.executable_path)
        options.setdefault("accept_downloads", True)
        if launch.user_data_dir is not None:
            context = self._launch_persistent(playwright, self.executable, launch.user_data_dir, options)
            self._browser = context.browser
            if self._browser is not None:
                self._browser.on("disconnected", self._on_disconnected)
            return self._prepared(context)
        self._browser = self._launch(playwright, self.executable)
        return self._prepared(self._browser.new_context(**options))

    def _connect(self, playwright: Playwright, url: str) -> Browser:
        """The running browser at ``url``; ConfigError saying how to start one when nothing answers there."""
        try:
            browser = playwright.chromium.connect_over_cdp(url, timeout=CDP_CONNECT_TIMEOUT_S * 1000)
        except PlaywrightError as exc:
            raise ConfigError(
                f"no browser answers at {url} ({first_line(exc)}); start Chrome or Chromium with "
                "--remote-debugging-port=9222 (and a --user-data-dir of its own) and give its address to --cdp-url"
            ) from exc
        browser.on("disconnected", self._on_disconnected)
        return browser

    def _launch_persistent(
        self, playwright: Playwright, executable: str, folder: Path, options: dict[str, Any]
    ) -> BrowserContext:
        launch = self.launch_options
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return playwright.chromium.launch_persistent_context(
                folder, executable_path=executable, headless=launch.headless, args=chromium_args(launch.extra_args),
                **options)
        except OSError as exc:
            raise ConfigError(f"the profile folder {folder} cannot be used: {exc}") from exc
        except PlaywrightError as exc:
            raise ExecutorError(f"Chromium ({executable}) did not start on the profile {folder} (is another browser "
                                f"using it?): {first_line(exc)}") from exc

    def _launch(self, playwright: Playwright, executable: str) -> Browser:
        options = self.launch_options
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=options.headless,
                                                 args=chromium_args(options.extra_args))
        except PlaywrightError as exc:
            display = "" if options.headless else " (a headed browser needs an X display: set DISPLAY)"
            raise ExecutorError(f"Chromium ({executable}) did not start{display}: {first_line(exc)}") from exc
        browser.on("disconnected", self._on_disconnected)
        return browser

    def _prepared(self, context: BrowserContext) -> BrowserContext:
        """``context`` with the navigation time limit, the activity tracker (:data:`ACTIVITY_TRACKER_JS`) and the URL
        guard's route set."""
        context.set_default_navigation_timeout(self.launch_options.navigation_timeout_s * 1000)
        context.add_init_script(ACTIVITY_TRACKER_JS)
        if self._url_guard is not None:
            context.route("**/*", self._route)
        return context

    def open_page(self) -> Page:
        """A new tab of the context, opened by this session (closed on close even when attached over CDP)."""
        page = self.context.new_page()
        self._own_pages.append(page)
        return page

    def watch_pages(self, watcher: Callable[[Page], None]) -> None:
        """Call ``watcher`` on every open tab now and on every tab that opens later."""
        self._watchers.append(watcher)
        for page in self.context.pages:
            watcher(page)

    def _fit_viewport(self, page: Page) -> None:
        """Attached over CDP: give ``page`` the context options' viewport (a launched context has it already)."""
        if self._tab_viewport is not None and not page.is_closed():
            page.set_viewport_size({"width": self._tab_viewport["width"], "height": self._tab_viewport["height"]})

    def open_start_url(self, url: str) -> None:
        """Open the executor's start URL; ConfigError (not ActionFailedError) when it does not load."""
        try:
            self.goto(url)
        except ActionFailedError as exc:
            raise ConfigError(f"the start URL could not be opened: {exc.message}") from exc
        with suppress(PlaywrightError, ExecutorError):  # two frames: the first screenshot shows the page painted
            self.ask("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))",
                     None, 2.0)

    @property
    def browser_version(self) -> str | None:
        """Chromium's version, or None once the browser is gone."""
        return self._browser.version if self._browser is not None and self._gone is None else None

    def close(self) -> None:
        """Close the browser (attached over CDP: only the tabs this session opened, then disconnect) and release the
        driver. Idempotent; never raises for a dead browser."""
        if self._closed:
            return
        self._closed = True
        if self.launch_options.cdp_url is not None:
            for page in self._own_pages:
                with suppress(Exception):
                    page.close()
            with suppress(Exception):
                self.context.unroute_all(behavior="ignoreErrors")
        if self.launch_options.user_data_dir is not None:
            with suppress(Exception):
                self.context.close()
        elif self._browser is not None:
            with suppress(Exception):
                self._browser.close()  # attached over CDP this only disconnects
        if self._playwright is not None:
            self._playwright = None
            _release_playwright()

    # --- errors --------------------------------------------------------------------------------

    @contextmanager
    def driving(self, what: str) -> Iterator[None]:
        """Refuse a closed or gone session, and turn Playwright errors into ExecutorError."""
        if self._closed:
            raise ExecutorError(f"cannot {what}: the {self.owner} is closed")
        if self._gone is not None:
            raise ExecutorError(f"cannot {what}: {self._gone}")
        try:
            yield
        except PlaywrightTimeoutError as exc:
            raise ExecutorError(f"cannot {what}: the browser did not answer in time ({first_line(exc)})") from exc
        except PlaywrightError as exc:
            if self._gone is None and (is_gone_error(exc) or not self.connected()):
                self._gone = self._gone_reason(exc)
            reason = self._gone or f"Playwright error: {first_line(exc)}"
            raise ExecutorError(f"cannot {what}: {reason}") from exc

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def connected(self) -> bool:
        """Whether the browser process is still connected."""
        return self._browser is not None and self._browser.is_connected()

    def tab_closed_under(self, exc: BaseException) -> bool:
        """True when ``exc`` only means the current tab closed (the browser lives on)."""
        return (self.connected() and self.page.is_closed() and is_gone_error(exc)
                and "crash" not in str(exc).lower())

    def _gone_reason(self, exc: BaseException) -> str:
        if not self.connected():
            return _BROWSER_GONE
        if "crash" in str(exc).lower():
            return _RENDERER_CRASHED
        return f"the page or browser was closed ({first_line(exc)}); start a new run"

    def _on_disconnected(self, _browser: object) -> None:
        if not self._closed and self._gone is None:
            self._gone = _BROWSER_GONE

    def _on_crash(self, page: Page) -> None:
        if page is self.page and self._gone is None:
            self._gone = _RENDERER_CRASHED

    # --- tabs, dialogs, events ---------------------------------------------------------------

    def take_events(self) -> list[str]:
        """What happened since the last call (new tabs, dialogs, blocked navigations), oldest first."""
        events, self._events = self._events, []
        return events

    def note(self, event: str) -> None:
        """Queue one line of text for the next Frame's ``extra["events"]``."""
        self._events.append(event)

    def _watch_page(self, page: Page) -> None:
        page.on("crash", self._on_crash)
        page.on("dialog", self._on_dialog)
        page.on("framenavigated", lambda frame: self._on_navigated(page, frame))
        for watcher in self._watchers:
            watcher(page)

    def _on_navigated(self, page: Page, frame: Any) -> None:
        if frame != page.main_frame:
            return
        if page is self.page:
            self.navigations += 1
        if self._url_guard is not None:
            reason = self._url_guard(frame.url)
            if reason is not None:
                self._events.append(f"page {frame.url} blocked after a redirect: {reason}")
                self._blocked_pages.append(page)

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
        are caught when they commit (:meth:`_on_navigated`)."""
        if self._url_guard is None:
            route.fallback()
            return
        vet_navigation(route, self._url_guard, self._block)

    def _block(self, url: str, reason: str) -> None:
        self._events.append(f"navigation to {url} blocked: {reason}")
        self._last_blocked = reason

    def leave_blocked_pages(self) -> None:
        """Close blocked new tabs and take the current tab back from a blocked page."""
        while self._blocked_pages:
            page = self._blocked_pages.pop()
            if page.is_closed():
                continue
            if page is not self.page or len(self.context.pages) > 1:
                page.close()
                continue
            if page.go_back(timeout=self.launch_options.navigation_timeout_s * 1000) is None:
                page.goto("about:blank")

    def follow_pages(self) -> bool:
        """Switch to the newest tab that opened, or away from a closed one; True when switched."""
        opened = [p for p in self._opened if not p.is_closed()]
        self._opened.clear()
        if opened and opened[-1] is not self.page:
            self.switch_to(opened[-1], f"new tab opened: {opened[-1].url}")
            return True
        if self.page.is_closed():
            remaining = self.tabs()
            if remaining:
                self.switch_to(remaining[-1], f"tab closed; now on {remaining[-1].url}")
            else:
                page = self.open_page()
                self._opened.clear()
                self.switch_to(page, "last tab closed; opened a blank tab")
            return True
        return False

    def tabs(self) -> list[Page]:
        """The context's open tabs, oldest first (the order tab numbers count in)."""
        return [p for p in self.context.pages if not p.is_closed()]

    def switch_to(self, page: Page, event: str) -> None:
        """Make ``page`` the current tab (brought to the front) and note ``event`` for the next Frame."""
        self.page = page
        self._events.append(event)
        self.navigations += 1
        if not page.is_closed():
            self._fit_viewport(page)
            page.bring_to_front()

    def title(self) -> str | None:
        """The current tab's title, or None while a navigation replaces the document."""
        try:
            return self.page.title()
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            return None

    def ask(self, script: str, arg: object = None, answer_timeout_s: float = 10.0) -> Any:
        """What ``script`` (a JavaScript function of one argument) returns for ``arg`` (JSON-ready) in the current
        tab's main world, awaited when it is a promise: one CDP round trip (``Runtime.evaluate``), about a quarter of
        ``page.wait_for_function``'s three, and bounded unlike ``page.evaluate`` (a page stuck in a script never
        runs it). ExecutorError when the page does not answer within ``answer_timeout_s`` seconds;
        PlaywrightError when the script throws or the document is replaced meanwhile."""
        try:
            reply = self.cdp().send("Runtime.evaluate", {"expression": f"({script})({json.dumps(arg)})",
                                                         "awaitPromise": True, "returnByValue": True},
                                    timeout=answer_timeout_s * 1000)
        except PlaywrightTimeoutError:
            raise ExecutorError(f"the page has not responded for {answer_timeout_s:g} s (a script stuck in a "
                                "loop?)") from None
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            raise PlaywrightError(f"the page's script failed: {thrown}")
        return reply.get("result", {}).get("value")

    def _ask(self, script: str, arg: object, answer_timeout_s: float) -> dict[str, Any] | None:
        """:meth:`ask` for an object (None when the answer is not one)."""
        answer = self.ask(script, arg, answer_timeout_s)
        return answer if isinstance(answer, dict) else None

    def _ask_quiet(self, window_s: float, answer_timeout_s: float, during: Callable[[], None] | None,
                   first: Sequence[PageQuestion], last: Sequence[PageQuestion]) -> object:
        """:data:`QUIET_JS`'s verdict (see :meth:`page_is_quiet`); waits for a tab the page asked for."""
        arg = {"ms": round(window_s * 1000), "q": [q.arg for q in first]}
        script = QUIET_ANSWER_JS if during is None else QUIET_START_JS
        answer = self._ask(f"(a) => {{ const extra = {_asking_too(first)}; return Promise.resolve(({script})(a.ms))"
                           ".then((answer) => Object.assign(answer, {extra})); }", arg, answer_timeout_s)
        if answer is not None:
            _answered(first, answer.get("extra"))
        if during is not None and answer is not None and answer.get("pending"):
            during()
            answer = self._ask(
                f"(a) => Promise.resolve(({QUIET_AWAIT_JS})()).then((answer) => answer.quiet !== true ? answer : "
                f"Object.assign(answer, {{extra: {_asking_too(last)}}}))", {"q": [q.arg for q in last]},
                answer_timeout_s)
            if answer is not None and answer.get("quiet") is True:
                _answered(last, answer.get("extra"))
        if answer is None:
            return None
        if answer.get("popups") and not self._opened:
            with suppress(PlaywrightTimeoutError):
                self.context.wait_for_event("page", timeout=POPUP_WAIT_S * 1000)
        return answer.get("quiet")

    def page_is_quiet(self, window_s: float, request_wait_s: float = 0.0, answer_timeout_s: float = 10.0,
                      during: Callable[[], None] | None = None, first: Sequence[PageQuestion] = (),
                      last: Sequence[PageQuestion] = ()) -> bool:
        """Whether the current tab says it has stopped changing (:data:`QUIET_JS`; a tab without the activity tracker
        must stay unchanged for ``window_s`` seconds). While the page's own requests are in flight, waits up to
        ``request_wait_s`` seconds for them to end and asks again. ExecutorError when the page does not answer
        within ``answer_timeout_s`` seconds.

        ``during`` is called inside the quiet window, when the page has just said nothing is moving and is watched
        for changes until the window ends (a capture there shows the settled screen when the answer is True; the
        caller drops it otherwise). ``first`` are asked in the same round trip as the question (before the window),
        ``last`` with the answer after a quiet window (only when it is quiet; after ``during``). False when it cannot
        say (a navigation replaced the document while asking, a
        dialog is open, the tab closed: the next one is followed), a request is still in flight or a tab opened."""
        try:
            quiet = self._ask_quiet(window_s, answer_timeout_s, during, first, last)
            if quiet == "requests" and request_wait_s > 0:
                with suppress(PlaywrightTimeoutError):
                    self.page.wait_for_function("() => window.__screenpilotActivity.requests() === 0",
                                                timeout=request_wait_s * 1000, polling=20)
                quiet = self._ask_quiet(window_s, answer_timeout_s, during, (), last)
            return quiet is True and not self._opened
        except PlaywrightError as exc:
            if self.tab_closed_under(exc):
                self.follow_pages()
            elif is_gone_error(exc):
                raise
            return False

    def page_state(self) -> dict[str, str] | None:
        """What the page itself reports about its state (:data:`PAGE_STATE_JS`: ``controls`` and ``text``
        digests), for telling a step that changed something from one that did not; None while a navigation
        replaces the document."""
        try:
            state = self.page.evaluate(PAGE_STATE_JS)
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            return None
        if not isinstance(state, dict):
            return None
        return {key: str(state.get(key, "")) for key in ("controls", "text")}

    def frame_facts(self, selectors: Sequence[str], values: Sequence[str],
                    answer_timeout_s: float = 10.0) -> FrameFacts:
        """Where the current tab shows a secret, its state and its title, asked once (:data:`FRAME_FACTS_JS`).
        Raises PlaywrightError when the page cannot be asked (a navigation replaced the document)."""
        question = self.frame_facts_question(selectors, values)
        facts = FrameFacts.from_answer(self.ask(question.script, question.arg, answer_timeout_s))
        if facts is None:  # not "no secrets shown": the caller paints everything when it cannot tell
            raise PlaywrightError("the page gave no frame facts")
        return facts

    @staticmethod
    def frame_facts_question(selectors: Sequence[str], values: Sequence[str]) -> PageQuestion:
        """:meth:`frame_facts` as a question to ask with another (read it with :meth:`FrameFacts.from_answer`)."""
        return PageQuestion(FRAME_FACTS_JS, [list(selectors), [v for v in values if v]])

    def secret_boxes(self, selectors: Sequence[str], values: Sequence[str],
                     answer_timeout_s: float = 10.0) -> list[tuple[float, float, float, float]]:
        """Where the current tab shows a secret (:data:`SECRET_BOXES_JS`): boxes (left, top, width, height) in
        client CSS px. Raises PlaywrightError when the page cannot be asked (a navigation replaced the document),
        ExecutorError when it does not answer within ``answer_timeout_s`` seconds."""
        boxes = self.ask(SECRET_BOXES_JS, [list(selectors), [v for v in values if v]], answer_timeout_s)
        return [(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in boxes or ()]

    def cdp(self) -> CDPSession:
        """A CDP session attached to the current tab (re-attached when the tab changes)."""
        if self._cdp is None or self._cdp_page is not self.page:
            if self._cdp is not None:
                with suppress(PlaywrightError):
                    self._cdp.detach()
            self._cdp = self.context.new_cdp_session(self.page)
            self._cdp_page = self.page
        return self._cdp

    # --- navigation ----------------------------------------------------------------------------

    def goto(self, url: str) -> None:
        """Open ``url`` (normalised by :func:`normalize_url`) in the current tab, waiting for
        DOMContentLoaded. ActionFailedError for an empty or malformed URL, a page that does not
        load in time or fails to load, and a navigation the URL guard blocked."""
        try:
            target = normalize_url(url)
        except ValueError:
            raise ActionFailedError("cannot navigate to an empty URL",
                                    hint="give a full URL such as https://example.com/") from None
        self._last_blocked = None
        try:
            self.page.goto(target, wait_until="domcontentloaded")
        except PlaywrightTimeoutError as exc:
            raise ActionFailedError(
                f"{target} did not load within {self.launch_options.navigation_timeout_s:g} s",
                hint="the page is slow or unreachable; look at the screenshot, wait, or try another URL",
            ) from exc
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            raise self._load_failure(target, exc) from exc

    def _load_failure(self, url: str, exc: BaseException) -> ActionFailedError:
        detail = first_line(exc)
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

    def history_index(self) -> int:
        """The current tab's position in its history (0: nothing to go back to)."""
        for attempt in range(20):
            try:
                reply = self.cdp().send("Page.getNavigationHistory")
                return int(reply["currentIndex"])
            except PlaywrightError as exc:
                if is_gone_error(exc) or attempt == 19:
                    raise
                time.sleep(0.025)
        return 0

    def go_back(self, no_history_hint: str) -> None:
        """History back in the current tab; ActionFailedError (with ``no_history_hint``) when
        there is nothing to go back to, or when the previous page does not load."""
        if self.history_index() == 0:
            raise ActionFailedError("there is no previous page in this tab", hint=no_history_hint)
        try:
            self.page.go_back(wait_until="domcontentloaded")
        except PlaywrightTimeoutError as exc:
            raise ActionFailedError("the previous page did not load in time",
                                    hint="wait and look at the screenshot") from exc
        except PlaywrightError as exc:
            if is_gone_error(exc):
                raise
            raise ActionFailedError(f"went back, but the previous page failed to load ({first_line(exc)})",
                                    hint="the previous page did not load; navigate to a URL instead") from exc


__all__ = [
    "BASE_CHROMIUM_ARGS",
    "CHROMIUM_INSTALL_HINT",
    "PLAYWRIGHT_INSTALL_HINT",
    "ChromiumSession",
    "ContextOptions",
    "FrameFacts",
    "LaunchOptions",
    "PageQuestion",
    "PlaywrightError",
    "PlaywrightTimeoutError",
    "UrlGuard",
    "chromium_args",
    "find_chromium",
    "first_line",
    "gray_from_jpeg",
    "is_gone_error",
    "normalize_url",
    "playwright_version",
    "vet_navigation",
]
