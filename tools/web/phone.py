"""The emulated phone executor: a Chromium page with a phone's screen, touch input and user agent.

The phone comes from one of Playwright's device descriptors (``playwright.devices["Pixel 7"]``,
``"iPhone 13"``...; on the command line ``--phone pixel-7``): viewport, device scale factor
(DSF), ``is_mobile``, ``has_touch`` and user agent. Taps, long presses and swipes are touch
events (CDP ``Input.dispatchTouchEvent``), so pages see ``touchstart``/``touchmove``/``touchend``.

Pixel spaces (every variable says which one it holds):

* **device px** -- pixels of the screenshot, ``size`` = viewport CSS size x DSF, rounded
  (Pixel 7: 412x839 CSS x 2.625 = 1082x2202). This is the executor's *screen space*: frames,
  action points and ``size`` are in device px, as a phone's screenshot is.
* **viewport css px** -- the device's CSS pixels: ``viewport_css_px = device_px / DSF``.
* **client css px** -- what input events take. Chromium's input takes layout-viewport (client)
  coordinates, so on a page that is zoomed (a page without ``<meta name="viewport">`` is laid
  out 980 px wide and shown at scale ~0.42) the point is divided by the visual viewport's scale
  and shifted by its offset: ``client_css_px = viewport_css_px / scale + offset``. Without this
  step a tap lands where the screenshot shows something else. :func:`device_to_client` is the
  whole chain; it is a pure function with its own tests.

Phone verbs: Back is the tab's history back; Home opens ``home_url`` (default: the start URL);
``OpenApp`` opens the URL configured for that app name (``apps``); Menu (recent apps) and keys
without a keyboard equivalent (volume, power...) raise :class:`ActionFailedError`. Android key
events map onto keyboard keys (``KEYCODE_ENTER`` -> Enter, ``KEYCODE_DEL`` -> Backspace,
letters, digits, arrows...). Clicks are taps (a right or middle click, or one without a point,
is refused: a touchscreen has neither); a Drag is a swipe; Scroll turns the wheel.

Errors as in :mod:`screenpilot.tools.web.browser`: a closed or crashed browser raises :class:`ExecutorError`,
what the model can fix raises :class:`ActionFailedError`, Terminate/AskUser raise ValueError.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

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
    SystemButtonName,
    Terminate,
    TypeText,
    Upload,
    Wait,
    assert_never,
)
from screenpilot.agent.errors import ActionFailedError, ConfigError
from screenpilot.tools.base import refuse_web_action
from screenpilot.tools.settle import GrayFrame, SettleSettings
from screenpilot.tools.web import DEFAULT_NAVIGATION_TIMEOUT_S, DEFAULT_PHONE
from screenpilot.tools.web.base import Box, WebExecutor
from screenpilot.tools.web.keys import playwright_chord
from screenpilot.tools.web.session import (
    LaunchOptions,
    PlaywrightError,
    UrlGuard,
    gray_from_jpeg,
    is_gone_error,
    rgb_from_png,
)

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

DEFAULT_DEVICE = DEFAULT_PHONE

_ANDROID_TO_PLAYWRIGHT: dict[str, str] = {
    "ENTER": "Enter", "DPAD_CENTER": "Enter", "DEL": "Backspace", "FORWARD_DEL": "Delete", "TAB": "Tab",
    "SPACE": " ", "ESCAPE": "Escape", "DPAD_UP": "ArrowUp", "DPAD_DOWN": "ArrowDown", "DPAD_LEFT": "ArrowLeft",
    "DPAD_RIGHT": "ArrowRight", "PAGE_UP": "PageUp", "PAGE_DOWN": "PageDown", "MOVE_HOME": "Home",
    "MOVE_END": "End", "INSERT": "Insert", "COMMA": ",", "PERIOD": ".", "MINUS": "-", "EQUALS": "=",
    "LEFT_BRACKET": "[", "RIGHT_BRACKET": "]", "BACKSLASH": "\\", "SEMICOLON": ";", "APOSTROPHE": "'",
    "SLASH": "/", "GRAVE": "`", "AT": "@", "PLUS": "+", "STAR": "*", "POUND": "#",
} | {c: c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"} | {d: d for d in "0123456789"}
"""Android key event name (without ``KEYCODE_``) -> Playwright key, for keys a keyboard has."""

_ANDROID_SYSTEM_KEYS: dict[str, SystemButtonName] = {"BACK": "back", "HOME": "home", "MENU": "menu",
                                                     "APP_SWITCH": "menu"}


# --- pure helpers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VisualViewport:
    """The page's visual viewport: ``scale`` (pinch zoom; < 1 for a zoomed-out desktop layout)
    and its offset from the layout viewport, in client css px."""

    scale: float = 1.0
    offset_left: float = 0.0
    offset_top: float = 0.0


def device_to_viewport_css(device_px: Point, dsf: float) -> tuple[float, float]:
    """A screenshot point (device px) in the device's CSS pixels: ``device_px / dsf``."""
    return device_px.x / dsf, device_px.y / dsf


def device_to_client(device_px: Point, dsf: float, viewport: VisualViewport) -> tuple[float, float]:
    """A screenshot point (device px) in the client css px that Chromium's input events take.

    ``viewport_css_px = device_px / dsf``, then ``client_css_px = viewport_css_px / scale + offset``.
    """
    x_css, y_css = device_to_viewport_css(device_px, dsf)
    return x_css / viewport.scale + viewport.offset_left, y_css / viewport.scale + viewport.offset_top


def client_to_device(client_css_px: tuple[float, float], dsf: float, viewport: VisualViewport) -> Point:
    """The inverse of :func:`device_to_client`, rounded to the nearest device px: where a page
    element at ``client_css_px`` (e.g. from a bounding box) appears in the screenshot."""
    x_css = (client_css_px[0] - viewport.offset_left) * viewport.scale
    y_css = (client_css_px[1] - viewport.offset_top) * viewport.scale
    return Point(round(x_css * dsf), round(y_css * dsf))


def device_size(viewport_css_px: tuple[int, int], dsf: float) -> tuple[int, int]:
    """The screenshot size in device px for a viewport of ``viewport_css_px`` (width, height):
    each side times ``dsf``, rounded to nearest. Chromium's own capture can be a pixel off; the
    executor crops or pads its captures to this size so every frame has exactly ``size``."""
    return round(viewport_css_px[0] * dsf), round(viewport_css_px[1] * dsf)


def fit_image(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` as RGB of exactly ``size``: cropped at the right/bottom, or padded there with
    black (captures differ from :func:`device_size` by at most a pixel)."""
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    return rgb if rgb.size == size else rgb.crop((0, 0, *size))


def touch_path(start: tuple[float, float], end: tuple[float, float], steps: int) -> list[tuple[float, float]]:
    """``steps`` evenly spaced points after ``start`` up to and including ``end``."""
    return [(start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps)
            for i in range(1, steps + 1)]


def swipe_steps(seconds: float) -> int:
    """Touch moves in a swipe lasting ``seconds``: one per ~16 ms (a 60 Hz screen), 5 to 60."""
    return max(5, min(60, round(seconds / 0.016)))


def device_slug(name: str) -> str:
    """The command-line spelling of a device name: ``"Pixel 7"`` -> ``pixel-7``,
    ``"Pixel 4a (5G)"`` -> ``pixel-4a-5g``, ``"Galaxy S9+"`` -> ``galaxy-s9-plus``."""
    text = name.lower().replace("+", " plus")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def phone_devices(available: Collection[str]) -> list[str]:
    """The phone and tablet names among Playwright's descriptors (no desktops), sorted."""
    return sorted(name for name in available if not name.startswith("Desktop"))


def resolve_device(name: str, available: Collection[str]) -> str:
    """The Playwright descriptor name for ``name``: exact (``"Pixel 7"``), any case, or its
    slug (``pixel-7``). Raises ConfigError listing the choices (as slugs) when none matches."""
    if name in available:
        return name
    wanted = device_slug(name)
    for candidate in available:
        if device_slug(candidate) == wanted:
            return candidate
    choices = ", ".join(device_slug(n) for n in phone_devices(available) if "landscape" not in n.lower())
    raise ConfigError(f"unknown phone {name!r}; choose one of: {choices} (add -landscape for landscape)")


def app_url(apps: Mapping[str, str], name: str) -> str | None:
    """The URL configured for app ``name`` (case and spacing ignored), or None."""
    def key(text: str) -> str:
        return " ".join(text.lower().split())

    wanted = key(name)
    return next((url for app, url in apps.items() if key(app) == wanted), None)


def android_system_button(code: str) -> SystemButtonName | None:
    """The system button an Android key event presses (``KEYCODE_BACK`` -> back, ``HOME``,
    ``MENU`` and ``APP_SWITCH`` -> menu), or None."""
    return _ANDROID_SYSTEM_KEYS.get(code.removeprefix("KEYCODE_"))


def android_playwright_key(code: str) -> str | None:
    """The Playwright key for an Android key event a keyboard has (``KEYCODE_ENTER`` -> Enter,
    ``KEYCODE_DEL`` -> Backspace, ``KEYCODE_A`` -> a), or None (volume, power, camera...)."""
    return _ANDROID_TO_PLAYWRIGHT.get(code.removeprefix("KEYCODE_"))


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneSettings:
    """How the emulated phone starts. Times in seconds.

    ``device``: a Playwright device descriptor name or its slug (``"Pixel 7"``, ``pixel-7``,
    ``iphone-13``). ``start_url``: opened after launch (None: about:blank). ``home_url``: what
    Home opens (None: ``start_url``). ``apps``: app name -> URL that ``OpenApp`` opens.
    ``executable_path``: a Chromium binary (None: found as :func:`screenpilot.tools.web.browser.find_chromium` does).
    """

    device: str = DEFAULT_DEVICE
    start_url: str | None = None
    home_url: str | None = None
    apps: Mapping[str, str] = field(default_factory=dict)
    headless: bool = True
    executable_path: str | None = None
    settle: SettleSettings = field(default_factory=SettleSettings)
    navigation_timeout_s: float = DEFAULT_NAVIGATION_TIMEOUT_S
    extra_args: tuple[str, ...] = ()


# --- the executor ----------------------------------------------------------------------------


class PhoneExecutor(WebExecutor):
    """Observe and act on an emulated phone (see the module docstring for pixel spaces).

    Launches Chromium in the constructor; raises ConfigError for an unknown device, a missing
    Playwright or Chromium, or a start URL that does not open, ExecutorError when the browser
    does not start. ``url_guard`` (optional) vets every navigation the page starts and may
    block it (see :data:`screenpilot.tools.web.session.UrlGuard`). Screenshots, tabs, secret
    hiding and closing: :class:`~screenpilot.tools.web.base.WebExecutor`.
    """

    kind: Literal["phone"] = "phone"

    def __init__(self, settings: PhoneSettings | None = None, url_guard: UrlGuard | None = None) -> None:
        self.settings = settings = settings or PhoneSettings()
        launch = LaunchOptions(headless=settings.headless, executable_path=settings.executable_path,
                               extra_args=settings.extra_args, navigation_timeout_s=settings.navigation_timeout_s)
        super().__init__(launch, self._context_options, owner="phone executor", url_guard=url_guard,
                         start_url=settings.start_url, settle=settings.settle)

    def _context_options(self, driver: Playwright) -> dict[str, Any]:
        """The device's context options (resolving the device name first: ConfigError if unknown)."""
        self.device = resolve_device(self.settings.device, driver.devices.keys())
        self.descriptor: dict[str, Any] = dict(driver.devices[self.device])
        self.dsf = float(self.descriptor["device_scale_factor"])
        viewport = self.descriptor["viewport"]
        self.viewport_css_px: tuple[int, int] = (int(viewport["width"]), int(viewport["height"]))
        self._size = device_size(self.viewport_css_px, self.dsf)
        d = self.descriptor
        return {"viewport": d["viewport"], "screen": d.get("screen", d["viewport"]), "user_agent": d["user_agent"],
                "device_scale_factor": self.dsf, "is_mobile": bool(d["is_mobile"]),
                "has_touch": bool(d["has_touch"])}

    # --- Executor protocol -------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the screen in device px, equal to every Frame's size."""
        return self._size

    def _capture_png(self) -> bytes:
        """The screen in device px."""
        return self._capture(type="png", scale="device")

    def _image_from_png(self, data: bytes) -> Image.Image:
        return fit_image(rgb_from_png(data), self._size)

    def _image_boxes(self, boxes: Iterable[Box]) -> list[tuple[int, int, int, int]]:
        """Client CSS px to screenshot device px through the visual viewport (pinch zoom and its offset), with one
        device px of margin for rounding."""
        boxes = list(boxes)
        if not boxes:
            return []
        viewport = self._visual_viewport()
        corners = []
        for left, top, width, height in boxes:
            start = client_to_device((left, top), self.dsf, viewport)
            end = client_to_device((left + width, top + height), self.dsf, viewport)
            corners.append((start.x - 1, start.y - 1, end.x + 1, end.y + 1))
        return corners

    def _frame_extra(self) -> dict[str, object]:
        """The device name and its DSF."""
        return {"device": self.device, "device_scale_factor": self.dsf}


    def _act(self, action: Action) -> None:
        match action:
            case Click() | LongPress() | Swipe() | Drag() | Scroll() | MoveTo():
                self._touch_action(action)
            case TypeText(text=text):
                self._type(text)
            case PressKeys(keys=keys):
                self._press(keys)
            case AndroidKey(code=code):
                self._android_key(code)
            case SystemButton(name=name):
                self._system_button(name)
            case OpenApp(name=name):
                self._open_app(name)
            case Navigate(url=url):
                self._session.goto(url)
            case GoBack():
                self._system_button("back")
            case Wait(seconds=seconds):
                self._wait(seconds)
            case ListTabs() | SwitchTab() | CloseTab() | NewTab() | Upload():
                refuse_web_action(action, "on the phone", "on the phone, tap the page's own controls instead")
            case Terminate() | AskUser():
                raise ValueError(f"{type(action).__name__} is handled by the loop, not by an executor")
            case _:
                assert_never(action)
        self._probe.after_action(self.page, action, None, self._hidden_values, dpr=self.dsf, defer=True)

    def _touch_action(self, action: Click | LongPress | Swipe | Drag | Scroll | MoveTo) -> None:
        match action:
            case Click(at=at, button=button, count=count):
                self._tap(at, button, count)
            case LongPress(at=at, seconds=seconds):
                self._long_press(at, seconds)
            case Swipe(start=start, end=end, seconds=seconds):
                self._swipe(start, end, seconds)
            case Drag(to=to, start=start):
                self._swipe(self._require(start, "a drag needs its start point on a touchscreen"), to, 0.5)
            case Scroll(dy=dy, dx=dx, at=at):
                self._scroll(at, dx, dy)
            case MoveTo():
                raise ActionFailedError("a touchscreen has no pointer to move",
                                        hint="tap (click) or long_press the element instead")
            case _:
                assert_never(action)

    def describe(self) -> dict[str, object]:
        """What run.json records about this phone."""
        return {
            "kind": self.kind, "emulated": True, "device": self.device,
            "viewport_css_px": list(self.viewport_css_px), "device_scale_factor": self.dsf,
            "screen_device_px": list(self._size), "user_agent": self.descriptor.get("user_agent"),
            "is_mobile": self.descriptor.get("is_mobile"), "has_touch": self.descriptor.get("has_touch"),
            "home_url": self.home_url, "apps": dict(self.settings.apps),
            "executable": self.executable, "headless": self.settings.headless,
        }

    @property
    def home_url(self) -> str | None:
        """What Home opens: ``home_url``, else the start URL (None: Home is unavailable)."""
        return self.settings.home_url or self.settings.start_url

    # --- capture -------------------------------------------------------------------------------

    def _small_gray(self) -> GrayFrame:
        """A cheap capture for settle detection (small grayscale)."""
        data = self._capture(type="jpeg", quality=40, scale="css")
        return gray_from_jpeg(data, self.settings.settle.downscale_width, self.viewport_css_px[0])

    def _capture(self, **options: Any) -> bytes:
        """``page.screenshot(**options)``. Chromium refuses captures for a moment while a
        navigation swaps the document ("Unable to capture screenshot"): retried a few times."""
        for attempt in range(5):
            try:
                return self.page.screenshot(animations="allow", caret="initial", **options)
            except PlaywrightError as exc:
                if is_gone_error(exc) or attempt == 4:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")

    # --- touch -------------------------------------------------------------------------------

    def visual_viewport(self) -> VisualViewport:
        """The page's current visual viewport (scale and offset, client css px)."""
        with self._session.driving("read the visual viewport"):
            return self._visual_viewport()

    def _visual_viewport(self) -> VisualViewport:
        values = self.page.evaluate(
            "() => { const v = window.visualViewport;"
            " return v ? [v.scale, v.offsetLeft, v.offsetTop] : [1, 0, 0]; }")
        return VisualViewport(float(values[0]), float(values[1]), float(values[2]))

    def _checked(self, device_px: Point) -> Point:
        width, height = self._size
        if not (0 <= device_px.x < width and 0 <= device_px.y < height):
            raise ActionFailedError(f"point ({device_px.x}, {device_px.y}) is outside the {width}x{height} screen",
                                    hint=f"use coordinates with 0 <= x < {width} and 0 <= y < {height}")
        return device_px

    def _client(self, device_px: Point, viewport: VisualViewport | None = None) -> tuple[float, float]:
        return device_to_client(self._checked(device_px), self.dsf, viewport or self._visual_viewport())

    @staticmethod
    def _require(point: Point | None, problem: str) -> Point:
        if point is None:
            raise ActionFailedError(problem, hint="a touchscreen has no pointer: give the coordinate to touch")
        return point

    def _touch(self, kind: str, client_css_px: tuple[float, float] | None) -> None:
        points = [] if client_css_px is None else [{"x": client_css_px[0], "y": client_css_px[1]}]
        self._session.cdp().send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def _tap(self, at: Point | None, button: str, count: int) -> None:
        if button != "left":
            raise ActionFailedError(f"a touchscreen has no {button} button",
                                    hint="tap (click) the element, or long_press it for its context menu")
        if count < 1:
            raise ActionFailedError(f"tap count must be at least 1, got {count}", hint="tap once or twice")
        client_css_px = self._client(self._require(at, "a tap needs a point"))
        for _ in range(count):
            self.page.touchscreen.tap(*client_css_px)

    def _long_press(self, at: Point, seconds: float) -> None:
        if not 0 < seconds <= 60:
            raise ActionFailedError(f"cannot hold for {seconds} seconds", hint="hold between 0.5 and 10 seconds")
        client_css_px = self._client(at)
        self._touch("touchStart", client_css_px)
        try:
            time.sleep(seconds)
        finally:
            self._touch("touchEnd", None)

    def _swipe(self, start: Point, end: Point, seconds: float) -> None:
        if not 0 < seconds <= 60:
            raise ActionFailedError(f"cannot swipe for {seconds} seconds", hint="swipe within 0.1 to 2 seconds")
        viewport = self._visual_viewport()
        begin, finish = self._client(start, viewport), self._client(end, viewport)
        steps = swipe_steps(seconds)
        self._touch("touchStart", begin)
        try:
            for client_css_px in touch_path(begin, finish, steps):
                time.sleep(seconds / steps)
                self._touch("touchMove", client_css_px)
        finally:
            self._touch("touchEnd", None)

    def _scroll(self, at: Point | None, dx: int, dy: int) -> None:
        viewport = self._visual_viewport()
        point = at or Point(self._size[0] // 2, self._size[1] // 2)
        x, y = self._client(point, viewport)
        per_device_px = 1 / (self.dsf * viewport.scale)
        self.page.mouse.move(x, y)
        self.page.mouse.wheel(dx * per_device_px, dy * per_device_px)

    # --- keys, buttons and apps ----------------------------------------------------------------

    def _type(self, text: str) -> None:
        """Type ``text`` as the on-screen keyboard would: Enter for newlines, long lines in
        bulk (:data:`BULK_TYPE_CHARS`)."""
        self._type_text(text, tab_moves_focus=False)

    def _press(self, keys: Sequence[str]) -> None:
        try:
            names = playwright_chord(keys)
        except ValueError as exc:
            raise ActionFailedError(f"cannot press {'+'.join(keys) or 'nothing'}: {exc}",
                                    hint="use a key event such as KEYCODE_ENTER or KEYCODE_DEL") from None
        self.page.keyboard.press("+".join(names))

    def _android_key(self, code: str) -> None:
        button = android_system_button(code)
        if button is not None:
            self._system_button(button)
            return
        key = android_playwright_key(code)
        if key is None:
            raise ActionFailedError(
                f"{code} is not available on an emulated phone",
                hint="the emulated phone has keyboard keys (KEYCODE_ENTER, KEYCODE_DEL, KEYCODE_TAB, letters, "
                "digits, arrows) and the Back and Home buttons, no volume, power or camera keys")
        self.page.keyboard.press(key)

    def _system_button(self, name: SystemButtonName) -> None:
        match name:
            case "back":
                self._go_back()
            case "home":
                if self.home_url is None:
                    raise ActionFailedError("this phone has no home page configured",
                                            hint="open an app or go back instead")
                self._session.goto(self.home_url)
            case "menu":
                raise ActionFailedError("the emulated phone has no recent-apps screen",
                                        hint="use open with the app's name to switch apps")
            case "enter":
                self.page.keyboard.press("Enter")

    def _open_app(self, name: str) -> None:
        url = app_url(self.settings.apps, name)
        if url is None:
            known = ", ".join(sorted(self.settings.apps)) or "none"
            raise ActionFailedError(f"no app named {name!r} on this phone",
                                    hint=f"the apps on this phone are: {known}")
        self._session.goto(url)

    def _wait(self, seconds: float) -> None:
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ActionFailedError(f"cannot wait {seconds} seconds", hint="wait a number of seconds >= 0")
        time.sleep(seconds)

    def _go_back(self) -> None:
        self._session.go_back("use Home or open an app instead")


__all__ = [
    "DEFAULT_DEVICE",
    "PhoneExecutor",
    "PhoneSettings",
    "VisualViewport",
    "android_playwright_key",
    "android_system_button",
    "app_url",
    "client_to_device",
    "device_size",
    "device_slug",
    "device_to_client",
    "device_to_viewport_css",
    "fit_image",
    "phone_devices",
    "resolve_device",
    "swipe_steps",
    "touch_path",
]
