"""The desktop executor: input through PyAutoGUI, screenshots through mss, on an X11 display.

Pixel spaces. *Screen pixels* are the pixels of the captured monitor: the Frame is
``size`` = (width, height) of the chosen mss monitor, (0, 0) at its top-left corner. *Input
units* are what PyAutoGUI takes: positions on the whole virtual screen. An action point is
moved by the monitor's offset and divided by the capture scale (capture pixels per input unit,
1.0 on X11; above 1 where screenshots are taken in physical pixels and input is in logical
units, HiDPI). :class:`ScreenGeometry` is that mapping, a pure value with its own tests.

Environment. PyAutoGUI connects to the X server when it is imported and reads ``DISPLAY``
and (through python-xlib) ``XAUTHORITY`` from ``os.environ``. The executor therefore checks
the display first (variables set, XAUTHORITY file present, server reachable, credentials
accepted) and raises :class:`ConfigError` with what to install or set, and only then sets
``os.environ["DISPLAY"]`` / ``["XAUTHORITY"]`` and imports PyAutoGUI. PyAutoGUI is a
process-wide singleton: an executor re-binds it to its own display when another executor
used it last. PyAutoGUI's per-call ``PAUSE`` is set to 0 (it sleeps 0.1 s after every call
otherwise); waiting is the job of :meth:`DesktopExecutor.settle`.

Fail-safe. With ``fail_safe`` on (the default) PyAutoGUI refuses to act while the pointer is
in a screen corner: a person can stop the run by throwing the mouse into a corner. That
becomes :class:`StopRequested`. So that the agent itself never trips it, an action point that
falls exactly on a corner is moved one pixel inwards. Virtual displays have no person at the
mouse: :func:`open_desktop` turns the fail-safe off for them.

Typing. ``typing="auto"`` uses :class:`screenpilot.tools.x11.xkeyboard.XTestTypist` (any Unicode, the active
layout respected; see that module for measurements of PyAutoGUI and xdotool). ``"xdotool"``
runs ``xdotool type --delay N -- TEXT`` per line (needs the ``xdotool`` program);
``"pyautogui"`` uses ``pyautogui.write`` and accepts printable ASCII except ``<`` only.

Secrets. After :meth:`DesktopExecutor.hide_values` (opt-in: ``run --desktop --mask-secrets-ocr``),
every screenshot is OCR'd (:func:`screenpilot.tools.vision.ocr_lines`) and each text line that
shows one of the values is painted over in the browser's mask colour before the Frame is made.
It covers what OCR reads on the screen at capture time, nothing else (see the README).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol, TypeAlias

import numpy as np
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
from screenpilot.agent.errors import (
    ActionFailedError,
    ConfigError,
    ExecutorError,
    ScreenpilotError,
    StopRequested,
)
from screenpilot.agent.frame import Frame
from screenpilot.tools.base import refuse_web_action
from screenpilot.tools.settle import GrayFrame, SettleSettings, to_small_gray, wait_until_stable
from screenpilot.tools.x11.damage import DamageUnavailable, ScreenDamage
from screenpilot.tools.x11.xkeyboard import check_typable, normalize_text

TypingBackend: TypeAlias = Literal["auto", "xtest", "xdotool", "pyautogui"]

DESKTOP_EXTRA_HINT = "pip install 'screenpilot[desktop]' (pyautogui, mss, python-xlib)"
XVFB_HINT = "--virtual-display 1280x720 (needs: sudo apt-get install xvfb xauth)"


@dataclass(frozen=True)
class DesktopSettings:
    """How the desktop executor connects and acts. Built once at the edge (CLI or API).

    ``display``: X display name such as ``":0"``; None takes ``$DISPLAY`` when the executor
    starts. ``xauthority``: the X authority (cookie) file; None takes ``$XAUTHORITY``, else
    python-xlib's default ``~/.Xauthority``. ``monitor``: which mss monitor is the screen,
    1-based (1 = first monitor); 0 = all monitors as one screen. ``fail_safe``: PyAutoGUI's
    corner fail-safe (see the module docstring). ``typing``: ``"auto"`` (currently the same as
    ``"xtest"``: any Unicode, needs nothing beyond python-xlib), ``"xdotool"`` (needs the
    program) or ``"pyautogui"`` (printable ASCII without ``<``).
    ``type_char_delay_s``: pause after each typed character (xtest backend), seconds.
    ``xdotool_delay_ms``: ``xdotool type --delay`` in milliseconds. ``settle``: settle
    detection. ``scroll_px_per_click``: screen pixels one wheel click is taken to scroll, used
    to turn a Scroll's pixels into wheel clicks (see :func:`wheel_clicks`; 100 is Chromium's
    step on Windows, GTK and Chromium on Linux scroll 50-60 px). ``drag_duration_s``: time the
    pointer takes from drag start to end (intermediate motion events, so applications see a
    real drag). ``drag_hold_s``: pause after pressing and before releasing the button in a
    drag. ``click_interval_s``: pause between the clicks of a double/triple click.
    """

    display: str | None = None
    xauthority: str | None = None
    monitor: int = 1
    fail_safe: bool = True
    typing: TypingBackend = "auto"
    type_char_delay_s: float = 0.0
    xdotool_delay_ms: int = 12
    settle: SettleSettings = field(default_factory=SettleSettings)
    scroll_px_per_click: int = 100
    drag_duration_s: float = 0.25
    drag_hold_s: float = 0.05
    click_interval_s: float = 0.0

    def __post_init__(self) -> None:
        if self.monitor < 0:
            raise ConfigError(f"monitor must be 0 (all) or a 1-based monitor index, got {self.monitor}")
        if self.scroll_px_per_click < 1:
            raise ConfigError(f"scroll_px_per_click must be at least 1, got {self.scroll_px_per_click}")
        if self.typing not in ("auto", "xtest", "xdotool", "pyautogui"):
            raise ConfigError(f"unknown typing backend {self.typing!r}; use auto, xtest, xdotool or pyautogui")
        for name in ("type_char_delay_s", "drag_duration_s", "drag_hold_s", "click_interval_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.xdotool_delay_ms < 0:
            raise ConfigError(f"xdotool_delay_ms must be >= 0, got {self.xdotool_delay_ms}")


# -- pure arithmetic ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenGeometry:
    """The chosen monitor and how its screen pixels map to input units.

    ``left``, ``top``, ``width``, ``height``: the monitor in capture pixels (mss's
    coordinates, the virtual screen's origin at (``origin_left``, ``origin_top``)).
    ``scale_x``, ``scale_y``: capture pixels per input unit (1.0 unless HiDPI).
    ``input_width``, ``input_height``: the input space (PyAutoGUI's ``size()``).
    """

    left: int
    top: int
    width: int
    height: int
    scale_x: float = 1.0
    scale_y: float = 1.0
    origin_left: int = 0
    origin_top: int = 0
    input_width: int = 0
    input_height: int = 0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the screen in screen pixels."""
        return self.width, self.height

    def contains(self, p: Point) -> bool:
        """Whether ``p`` (screen pixels) lies on the monitor."""
        return 0 <= p.x < self.width and 0 <= p.y < self.height

    def to_input(self, p: Point) -> tuple[int, int]:
        """Screen pixels on this monitor -> PyAutoGUI input units (rounded to the nearest unit,
        clamped to the input space when it is known)."""
        x = math.floor((self.left - self.origin_left + p.x) / self.scale_x + 0.5)
        y = math.floor((self.top - self.origin_top + p.y) / self.scale_y + 0.5)
        if self.input_width > 0:
            x = min(max(x, 0), self.input_width - 1)
        if self.input_height > 0:
            y = min(max(y, 0), self.input_height - 1)
        return x, y

    def from_input(self, x: float, y: float) -> Point:
        """PyAutoGUI input units -> screen pixels on this monitor (may lie off the monitor)."""
        return Point(
            math.floor(x * self.scale_x + self.origin_left - self.left + 0.5),
            math.floor(y * self.scale_y + self.origin_top - self.top + 0.5),
        )


def compute_geometry(
    monitors: Sequence[Mapping[str, int]], monitor: int, input_size: tuple[int, int]
) -> ScreenGeometry:
    """Geometry of ``monitors[monitor]`` (mss's list: index 0 is the bounding box of all).

    The scale is the ratio of the all-monitors capture size to ``input_size`` (PyAutoGUI's
    ``size()``), per axis, rounded to 1/1000 (so 2560/1280 gives exactly 2.0). Raises
    :class:`ConfigError` for a monitor index that does not exist.
    """
    if not 0 <= monitor < len(monitors):
        have = ", ".join(
            f"{i}: {m['width']}x{m['height']}+{m['left']}+{m['top']}" for i, m in enumerate(monitors)
        )
        raise ConfigError(f"monitor {monitor} does not exist; monitors are {have} (0 = all)")
    whole, chosen = monitors[0], monitors[monitor]
    in_w, in_h = input_size
    scale_x = round(whole["width"] / in_w, 3) if in_w > 0 else 1.0
    scale_y = round(whole["height"] / in_h, 3) if in_h > 0 else 1.0
    return ScreenGeometry(
        left=chosen["left"], top=chosen["top"], width=chosen["width"], height=chosen["height"],
        scale_x=scale_x or 1.0, scale_y=scale_y or 1.0,
        origin_left=whole["left"], origin_top=whole["top"], input_width=in_w, input_height=in_h,
    )


def wheel_clicks(pixels: int, px_per_click: int) -> int:
    """Wheel clicks for a scroll of ``pixels`` (sign kept): ``|pixels| / px_per_click`` rounded
    to the nearest whole click (halves away from zero), at least 1 for any nonzero amount."""
    if pixels == 0:
        return 0
    clicks = max(1, math.floor(abs(pixels) / px_per_click + 0.5))
    return clicks if pixels > 0 else -clicks


def nudge_off_corners(x: int, y: int, width: int, height: int) -> tuple[int, int]:
    """Move a point that sits exactly on a corner of a ``width`` x ``height`` input space one
    unit inwards on each axis (PyAutoGUI's fail-safe points); other points are unchanged."""
    corners = {(0, 0), (0, height - 1), (width - 1, 0), (width - 1, height - 1)}
    if (x, y) not in corners:
        return x, y
    return (x + 1 if x == 0 else x - 1), (y + 1 if y == 0 else y - 1)


PYAUTOGUI_KEYS: dict[str, str] = {
    "ctrl": "ctrl", "shift": "shift", "alt": "alt", "meta": "win",
    "enter": "enter", "tab": "tab", "space": "space", "backspace": "backspace", "delete": "delete",
    "escape": "esc", "insert": "insert", "home": "home", "end": "end", "pageup": "pageup",
    "pagedown": "pagedown", "up": "up", "down": "down", "left": "left", "right": "right",
    "capslock": "capslock", "printscreen": "printscreen", "menu": "apps",
    **{f"f{i}": f"f{i}" for i in range(1, 25)},
}
"""Canonical key names (:mod:`screenpilot.agent.keys`) -> PyAutoGUI key names. ``meta`` is the Super
(Windows) key, PyAutoGUI's ``win`` (Super_L on X11). Single characters map to themselves."""


def pyautogui_key_names(keys: Sequence[str]) -> list[str]:
    """PyAutoGUI names for a chord of canonical keys, in the same order.

    A letter pressed together with ctrl, alt or meta is lower-cased (``ctrl+A`` is ctrl+a, as
    in browsers; add ``shift`` explicitly for ctrl+shift+a). Raises
    :class:`ActionFailedError` for a name that is neither canonical nor a single character.
    """
    with_command = any(k in ("ctrl", "alt", "meta") for k in keys)
    out: list[str] = []
    for key in keys:
        if key in PYAUTOGUI_KEYS:
            out.append(PYAUTOGUI_KEYS[key])
        elif len(key) == 1:
            out.append(key.lower() if with_command and key.isalpha() else key)
        else:
            raise ActionFailedError(
                f"unknown key {key!r}",
                hint="use key names such as ctrl, shift, alt, meta, enter, tab, escape, pagedown, f5 or one character",
            )
    return out


# -- environment ----------------------------------------------------------------------------


def resolve_display(settings: DesktopSettings, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """The display name and XAUTHORITY path to use: the settings', else the environment's.

    Raises :class:`ConfigError` when no display is known or an XAUTHORITY file is named but
    missing.
    """
    display = settings.display or environ.get("DISPLAY") or ""
    if not display:
        raise ConfigError(
            "no X display: DISPLAY is not set. Run inside a desktop session, set DISPLAY (e.g. "
            f"DISPLAY=:0), or let screenpilot start a private one with {XVFB_HINT}"
        )
    xauthority = settings.xauthority or environ.get("XAUTHORITY") or None
    if xauthority is not None and not Path(xauthority).is_file():
        raise ConfigError(
            f"the X authority file {xauthority} (XAUTHORITY) does not exist. Point XAUTHORITY at "
            "the file your X session uses (e.g. `xauth info`), or create an empty one with "
            f"`touch {xauthority}` if the display needs no cookie"
        )
    return display, xauthority


def connect_x(display: str) -> Any:
    """Open a python-xlib connection to ``display`` (credentials from ``os.environ``).

    Raises :class:`ConfigError` naming the cause: python-xlib missing, authorization refused,
    or the server not answering.
    """
    try:
        from Xlib import error as xerror
        from Xlib.display import Display
    except ImportError:
        raise ConfigError(f"python-xlib is not installed: {DESKTOP_EXTRA_HINT}") from None
    try:
        return Display(display)
    except xerror.DisplayConnectionError as exc:
        reason = str(exc)
        if "uthoriz" in reason:
            raise ConfigError(
                f"the X server {display} refused the connection ({reason.strip()}). Set XAUTHORITY "
                "to the file holding its cookie (`xauth list` shows what you have)"
            ) from None
        raise ConfigError(
            f"cannot connect to the X display {display} ({reason.strip()}). Is an X server "
            f"running there? Check DISPLAY, or use {XVFB_HINT}"
        ) from None
    except (xerror.DisplayError, OSError) as exc:
        raise ConfigError(f"cannot connect to the X display {display}: {exc}") from None


_pyautogui_owner: object | None = None


def bind_pyautogui(display: str, xauthority: str | None, owner: object, rebind: bool) -> ModuleType:
    """PyAutoGUI connected to ``display``.

    PyAutoGUI opens its X connection at import from ``os.environ``; this sets ``DISPLAY`` (and
    ``XAUTHORITY`` when given) first. An already imported PyAutoGUI is re-connected (its X11
    module reloaded) when ``rebind`` is set or another ``owner`` bound it last, so that
    executors on different displays, or on a display restarted under the same name, work in
    one process. Sets ``PAUSE = 0`` and the fail-safe corners for the display's size.
    """
    global _pyautogui_owner
    os.environ["DISPLAY"] = display
    if xauthority is not None:
        os.environ["XAUTHORITY"] = xauthority
    imported = "pyautogui" in sys.modules
    try:
        import pyautogui
    except ImportError:
        raise ConfigError(f"PyAutoGUI is not installed: {DESKTOP_EXTRA_HINT}") from None
    x11 = sys.modules.get("pyautogui._pyautogui_x11")
    if imported and x11 is not None and (rebind or _pyautogui_owner is not owner):
        with contextlib.suppress(Exception):
            x11._display.close()
        importlib.reload(x11)
    _pyautogui_owner = owner
    pyautogui.PAUSE = 0.0
    width, height = pyautogui.size()
    pyautogui.FAILSAFE_POINTS = [(0, 0), (0, height - 1), (width - 1, 0), (width - 1, height - 1)]
    return pyautogui


# -- typing backends ------------------------------------------------------------------------


class Typist(Protocol):
    """Types text into whatever has keyboard focus."""

    name: str

    def type(self, text: str) -> None: ...

    def close(self) -> None: ...


class XdotoolTypist:
    """``xdotool type --delay N -- LINE`` per line, Return between lines."""

    name = "xdotool"

    def __init__(self, binary: str, env: Mapping[str, str], delay_ms: int) -> None:
        self.binary = binary
        self.env = dict(env)
        self.delay_ms = delay_ms

    def type(self, text: str) -> None:
        """Type ``text``; raises ExecutorError when xdotool fails."""
        text = normalize_text(text)
        check_typable(text)
        for i, line in enumerate(text.split("\n")):
            if i > 0:
                self._run(["key", "Return"])
            if line:
                self._run(["type", "--delay", str(self.delay_ms), "--", line])

    def _run(self, args: list[str]) -> None:
        proc = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ExecutorError(f"xdotool {args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")

    def close(self) -> None:
        """Nothing to release."""


PYAUTOGUI_TYPABLE = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"<"} | {"\n", "\t"}
"""Characters ``pyautogui.write`` types correctly on X11 with a US layout (measured on Xvfb)."""


class PyAutoGUITypist:
    """``pyautogui.write``: printable ASCII except ``<``, newline and tab only."""

    name = "pyautogui"

    def __init__(self, pyautogui: ModuleType) -> None:
        self._pyautogui = pyautogui

    def type(self, text: str) -> None:
        """Type ``text``; raises ActionFailedError for characters PyAutoGUI cannot type."""
        text = normalize_text(text)
        bad = sorted({ch for ch in text if ch not in PYAUTOGUI_TYPABLE})
        if bad:
            raise ActionFailedError(
                f"the pyautogui typing backend cannot type {''.join(bad)!r}",
                hint="this desktop can only type plain ASCII text without '<'",
            )
        self._pyautogui.write(text)

    def close(self) -> None:
        """Nothing to release."""


# -- the executor ---------------------------------------------------------------------------


class DesktopExecutor:
    """Drives one monitor of an X11 display (see the module docstring for the contract).

    Construction checks the environment and raises :class:`ConfigError` (nothing to drive,
    missing packages or programs) before PyAutoGUI is imported. ``execute`` raises
    :class:`ActionFailedError` for actions the model can fix (points off the screen, unknown
    keys, browser-only actions), :class:`StopRequested` when the fail-safe trips and
    :class:`ExecutorError` when the display stops answering.
    """

    kind: Literal["desktop"] = "desktop"

    def __init__(self, settings: DesktopSettings | None = None) -> None:
        self.settings = settings = settings or DesktopSettings()
        self._closed = False
        self._typist: Typist | None = None
        self._mss: Any = None
        self._damage: ScreenDamage | None = None
        self._hidden_values: list[str] = []
        if not sys.platform.startswith("linux"):
            raise ConfigError(f"the desktop executor drives X11 displays (Linux); this is {sys.platform}")
        display, xauthority = resolve_display(settings, os.environ)
        self.display = display
        self.xauthority = xauthority
        saved = {key: os.environ.get(key) for key in ("DISPLAY", "XAUTHORITY")}
        os.environ["DISPLAY"] = display
        if xauthority is not None:
            os.environ["XAUTHORITY"] = xauthority
        try:
            connect_x(display).close()
            self._setup()
        except BaseException:
            self.close()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            raise

    def _setup(self) -> None:
        settings = self.settings
        self._typist = self._make_typist_early()
        try:
            import mss
        except ImportError:
            raise ConfigError(f"mss is not installed: {DESKTOP_EXTRA_HINT}") from None
        self._token = object()
        self._pyautogui = bind_pyautogui(self.display, self.xauthority, self._token, rebind=True)
        factory = getattr(mss, "MSS", None) if _mss_version(mss) >= (10, 2) else None
        self._mss = (factory or mss.mss)(display=self.display)
        input_size = tuple(self._pyautogui.size())
        monitors = [dict(m) for m in self._mss.monitors]
        self.geometry = compute_geometry(monitors, settings.monitor, (input_size[0], input_size[1]))
        self._monitor_box = {
            "left": self.geometry.left, "top": self.geometry.top,
            "width": self.geometry.width, "height": self.geometry.height,
        }
        if self._typist is None:
            self._typist = PyAutoGUITypist(self._pyautogui)
        try:
            self._damage = ScreenDamage(self.display)
        except DamageUnavailable:
            self._damage = None  # settle compares pixels

    def _make_typist_early(self) -> Typist | None:
        """The typist that needs no PyAutoGUI (None: PyAutoGUI's own, made after import)."""
        backend = self.settings.typing
        if backend == "pyautogui":
            return None
        if backend == "xdotool":
            binary = shutil.which("xdotool")
            if binary is None:
                raise ConfigError(
                    "typing='xdotool' needs the xdotool program: sudo apt-get install xdotool "
                    "(or use typing='auto')"
                )
            return XdotoolTypist(binary, os.environ, self.settings.xdotool_delay_ms)
        from screenpilot.tools.x11.xkeyboard import XTestTypist

        return XTestTypist(self.display, char_delay_s=self.settings.type_char_delay_s)

    # -- protocol ----------------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the monitor in screen pixels; equals every screenshot's size."""
        return self.geometry.size

    def screenshot(self) -> Frame:
        """Capture the monitor (mss); the image is RGB, ``size`` pixels. With values to hide
        (:meth:`hide_values`) the text lines showing one are painted over first; ``extra`` then
        has ``masked_lines`` (how many) and ``mask_ocr_s`` (seconds the OCR took)."""
        self._check_open()
        with self._guard("screenshot"):
            start = time.perf_counter()
            shot = self._mss.grab(self._monitor_box)
            image = Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")
            capture_s = time.perf_counter() - start
        extra: dict[str, object] = {"display": self.display, "monitor": self.settings.monitor}
        if self._hidden_values:
            started = time.perf_counter()
            extra["masked_lines"] = paint_secret_text(image, self._hidden_values)
            extra["mask_ocr_s"] = round(time.perf_counter() - started, 3)
        return Frame(image=image, taken_at=time.time(), capture_s=capture_s, extra=extra)

    def hide_values(self, values: Sequence[str]) -> None:
        """From the next screenshot on, OCR each capture and paint over every text line showing
        one of ``values`` (:func:`paint_secret_text`); an empty list turns it off. Without OCR
        (rapidocr) installed, :meth:`screenshot` then raises ConfigError rather than return an
        unmasked image (check first with :func:`screenpilot.tools.vision.require_ocr`)."""
        self._hidden_values = [value for value in values if value]

    def execute(self, action: Action) -> None:
        """Carry out one screen-space action (see the class docstring for errors)."""
        self._check_open()
        with self._guard(type(action).__name__):
            self._pyautogui = bind_pyautogui(self.display, self.xauthority, self._token, rebind=False)
            self._pyautogui.FAILSAFE = self.settings.fail_safe  # type: ignore[attr-defined]
            self._dispatch(action)

    def _dispatch(self, action: Action) -> None:
        gui = self._pyautogui
        match action:
            case Click(at=at, button=button, count=count):
                self._click(at, button, count)
            case MoveTo(at=at):
                gui.moveTo(*self._input_point(at))
            case Drag(to=to, start=start):
                self._drag(to, start)
            case Scroll(dy=dy, dx=dx, at=at):
                self._scroll(dy, dx, at)
            case TypeText(text=text):
                assert self._typist is not None
                self._typist.type(text)
            case PressKeys(keys=keys):
                self._press_keys(keys)
            case Wait(seconds=seconds):
                self._wait(seconds)
            case Navigate() | GoBack():
                raise ActionFailedError(
                    f"{type(action).__name__.lower()} is not available on the desktop",
                    hint="on the desktop, open a browser window and use its address bar or back button instead",
                )
            case LongPress() | Swipe() | SystemButton() | AndroidKey() | OpenApp():
                raise ActionFailedError(
                    f"{type(action).__name__} is a phone action, not available on the desktop",
                    hint="on the desktop use click, drag, scroll, type and key instead",
                )
            case ListTabs() | SwitchTab() | CloseTab() | NewTab() | Upload():
                refuse_web_action(action, "on the desktop", "on the desktop, use the browser window's own tabs and "
                                  "file dialogs with click, key and type")
            case Terminate() | AskUser():
                raise ValueError(f"{type(action).__name__} is handled by the loop, not by an executor")
            case _:
                assert_never(action)

    def _click(self, at: Point | None, button: MouseButton, count: int) -> None:
        if count < 1:
            raise ActionFailedError(
                f"click count must be at least 1, got {count}", hint="use count 1 (click), 2 (double) or 3 (triple)"
            )
        interval = self.settings.click_interval_s
        if at is None:
            self._pyautogui.click(clicks=count, interval=interval, button=button)
        else:
            x, y = self._input_point(at)
            self._pyautogui.click(x, y, clicks=count, interval=interval, button=button)

    @staticmethod
    def _wait(seconds: float) -> None:
        if seconds < 0 or not math.isfinite(seconds):
            raise ActionFailedError(f"cannot wait {seconds} seconds", hint="wait a positive number of seconds")
        time.sleep(seconds)

    def _input_point(self, p: Point) -> tuple[int, int]:
        if not self.geometry.contains(p):
            width, height = self.size
            raise ActionFailedError(
                f"point ({p.x}, {p.y}) is outside the {width}x{height} screen",
                hint=f"use coordinates with 0 <= x < {width} and 0 <= y < {height}",
            )
        x, y = self.geometry.to_input(p)
        if self.settings.fail_safe:
            width, height = self._pyautogui.size()
            x, y = nudge_off_corners(x, y, width, height)
        return x, y

    def _drag(self, to: Point, start: Point | None) -> None:
        gui = self._pyautogui
        end = self._input_point(to)
        if start is not None:
            gui.moveTo(*self._input_point(start))
        gui.mouseDown(button="left")
        try:
            time.sleep(self.settings.drag_hold_s)
            gui.moveTo(*end, duration=self.settings.drag_duration_s)
            time.sleep(self.settings.drag_hold_s)
        finally:
            gui.mouseUp(button="left")

    def _scroll(self, dy: int, dx: int, at: Point | None) -> None:
        """Vertical: wheel buttons 4/5 (``pyautogui.scroll``, positive = up, hence ``-clicks``).
        Horizontal: buttons 6/7 (``pyautogui.hscroll``, positive = right); toolkits without
        them (Tk 8.6) see Shift+wheel, which is what they scroll sideways with."""
        gui = self._pyautogui
        if at is not None:
            gui.moveTo(*self._input_point(at))
        vertical = wheel_clicks(dy, self.settings.scroll_px_per_click)
        horizontal = wheel_clicks(dx, self.settings.scroll_px_per_click)
        if vertical:
            gui.scroll(-vertical)
        if horizontal:
            gui.hscroll(horizontal)

    def _press_keys(self, keys: Sequence[str]) -> None:
        """Press in order, release in reverse. A lone printable character is typed instead
        (exact on any layout: PyAutoGUI presses shift+``<`` for ``<``, for instance)."""
        if not keys:
            raise ActionFailedError("no keys to press", hint="give at least one key, e.g. ['enter']")
        if len(keys) == 1 and len(keys[0]) == 1 and keys[0].isprintable() and not keys[0].isspace():
            assert self._typist is not None
            self._typist.type(keys[0])
            return
        names = pyautogui_key_names(keys)
        unknown = [k for k in names if not self._pyautogui.isValidKey(k)]
        if unknown:
            raise ActionFailedError(f"this desktop has no key {unknown[0]!r}",
                                    hint="press keys that exist on a standard keyboard")
        pressed: list[str] = []
        try:
            for name in names:
                self._pyautogui.keyDown(name)
                pressed.append(name)
        finally:
            for name in reversed(pressed):
                self._pyautogui.keyUp(name)

    def settle(self) -> float:
        """Wait until the screen stops changing, at most ``settings.settle.max_wait_s``; returns seconds.

        With the X server's DAMAGE extension (:class:`~screenpilot.tools.x11.damage.ScreenDamage`): until nothing
        has been drawn anywhere for ``quiet_window_s``, with no capture at all. Without it: downscaled grey captures
        compared until stable (:func:`screenpilot.tools.settle.wait_until_stable`). ``fixed_delay_s`` sleeps."""
        self._check_open()
        settings = self.settings.settle
        with self._guard("settle"):
            if self._damage is None or settings.fixed_delay_s is not None:
                return wait_until_stable(self._small_capture, settings)
            start = time.monotonic()
            self._damage.wait_quiet(settings.quiet_window_s, settings.max_wait_s)
            return time.monotonic() - start

    def _small_capture(self) -> GrayFrame:
        shot = self._mss.grab(self._monitor_box)
        pixels = np.frombuffer(shot.bgra, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        return to_small_gray(pixels, self.settings.settle.downscale_width)

    def describe(self) -> dict[str, object]:
        """Display, monitor geometry, scale, input size, typing backend and fail-safe state."""
        g = self.geometry
        return {
            "kind": self.kind,
            "display": self.display,
            "monitor": self.settings.monitor,
            "geometry": {"left": g.left, "top": g.top, "width": g.width, "height": g.height},
            "scale": [g.scale_x, g.scale_y],
            "input_size": [g.input_width, g.input_height],
            "typing": self._typist.name if self._typist is not None else self.settings.typing,
            "fail_safe": self.settings.fail_safe,
            "scroll_px_per_click": self.settings.scroll_px_per_click,
            "settle": "x-damage" if self._damage is not None else "pixels",
        }

    def close(self) -> None:
        """Release the capture, typing and X connections. Starts and stops no processes.
        Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        if self._damage is not None:
            self._damage.close()
            self._damage = None
        for resource in (self._typist, self._mss):
            if resource is None:
                continue
            with contextlib.suppress(Exception):
                resource.close()
        self._typist = self._mss = None

    # -- helpers -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ExecutorError("the desktop executor is closed")

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Translate library failures: the fail-safe -> StopRequested; a lost display ->
        ExecutorError; anything else is re-raised unless the display stopped answering."""
        try:
            yield
        except ScreenpilotError:
            raise
        except Exception as exc:
            failsafe = getattr(self._pyautogui, "FailSafeException", None) if hasattr(self, "_pyautogui") else None
            if failsafe is not None and isinstance(exc, failsafe):
                raise StopRequested(
                    "stopped: the pointer was moved into a screen corner (PyAutoGUI fail-safe). "
                    "Move it away to run again; virtual displays run with the fail-safe off"
                ) from None
            if _is_connection_error(exc) or not self._display_alive():
                raise ExecutorError(
                    f"the X display {self.display} stopped answering during {what}: {type(exc).__name__}: {exc}"
                ) from exc
            raise

    def _display_alive(self) -> bool:
        """Whether a fresh connection to the display succeeds (used only after a failure)."""
        try:
            from Xlib.display import Display

            Display(self.display).close()
        except Exception:
            return False
        return True


def _is_connection_error(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ConnectionClosedError", "DisplayConnectionError", "ScreenShotError"}) or isinstance(
        exc, (BrokenPipeError, ConnectionError)
    )


def _mss_version(mss: ModuleType) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in str(getattr(mss, "__version__", "0")).split(".")[:2]:
        parts.append(int(piece) if piece.isdigit() else 0)
    return tuple(parts)


def paint_secret_text(image: Image.Image, values: Sequence[str]) -> int:
    """Paint (in place, in the browser's mask colour) every text line OCR finds on ``image``
    that shows one of ``values`` (:func:`screenpilot.tools.vision.lines_showing`); returns how
    many lines were painted."""
    from PIL import ImageDraw

    from screenpilot.tools.vision import lines_showing, ocr_lines
    from screenpilot.tools.web.base import MASK_COLOR

    boxes = lines_showing(ocr_lines(image), values)
    draw = ImageDraw.Draw(image)
    for left, top, width, height in boxes:
        draw.rectangle((left, top, left + width - 1, top + height - 1), fill=MASK_COLOR)
    return len(boxes)


# -- CLI entry ------------------------------------------------------------------------------


@contextmanager
def open_desktop(
    settings: DesktopSettings,
    virtual_display: tuple[int, int] | None = None,
    launch: Sequence[str | Sequence[str]] = (),
    launch_wait_s: float = 10.0,
) -> Iterator[DesktopExecutor]:
    """The desktop for a run, as a context manager yielding a :class:`DesktopExecutor`.

    ``virtual_display`` (width, height): start a private Xvfb of that size and use it, with
    the fail-safe off (no person at its mouse); ``settings.display``/``xauthority`` are
    replaced. ``launch``: commands (a string is split like a shell would, without a shell)
    started on the display before the executor is yielded; the call waits until the screen
    shows something new and settles, at most ``launch_wait_s`` seconds. On exit the executor
    is closed, launched applications are stopped (their process groups) and the virtual
    display is shut down.
    """
    from screenpilot.tools.x11.xvfb import VirtualDisplay, stop_process_group

    vd: VirtualDisplay | None = None
    started: list[subprocess.Popen[bytes]] = []
    executor: DesktopExecutor | None = None
    try:
        if virtual_display is not None:
            vd = VirtualDisplay(*virtual_display).start()
            settings = dataclasses.replace(settings, display=vd.display, xauthority=vd.xauthority, fail_safe=False)
        executor = DesktopExecutor(settings)
        if launch:
            before = executor._small_capture()
            for cmd in launch:
                argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
                if vd is not None:
                    started.append(vd.launch(argv))
                else:
                    started.append(_launch_on(argv, executor.display))
            _wait_for_change(executor, before, launch_wait_s)
        yield executor
    finally:
        if executor is not None:
            executor.close()
        for proc in reversed(started):
            stop_process_group(proc)
        if vd is not None:
            vd.close()


def _launch_on(argv: list[str], display: str) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            argv, env={**os.environ, "DISPLAY": display}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
    except FileNotFoundError:
        raise ConfigError(f"cannot launch {argv[0]!r}: no such program") from None


def _wait_for_change(executor: DesktopExecutor, before: GrayFrame, timeout_s: float) -> None:
    """Poll until the screen differs from ``before`` (an application appeared), then settle."""
    from screenpilot.tools.settle import frame_difference

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if frame_difference(before, executor._small_capture()) > 0:
            break
        time.sleep(0.05)
    executor.settle()
