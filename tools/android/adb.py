"""The Android executor: a real phone or emulator driven over ADB (kind ``"phone"``).

Screen space is the device's screen in pixels, exactly as ``screencap`` captures it; ``input``
takes the same pixels, so no conversion happens here. Every device command goes through one
:class:`AdbRunner` (the seam tests replace) with a timeout:

* screenshot: ``adb -s SERIAL exec-out screencap -p`` (PNG on stdout)
* tap: ``shell input tap X Y``; long press: ``shell input swipe X Y X Y MS`` (a swipe that
  stays put); swipe: ``shell input swipe X1 Y1 X2 Y2 MS``
* keys: ``shell input keyevent KEYCODE_...``; a chord: ``shell input keycombination ...``
  (Android 13 and later)
* system buttons: Back ``KEYCODE_BACK``, Home ``KEYCODE_HOME``, Menu ``KEYCODE_APP_SWITCH``
  (the recent-apps overview, which is what ``mobile_use`` describes), Enter ``KEYCODE_ENTER``
* apps: ``shell monkey -p PACKAGE -c android.intent.category.LAUNCHER 1``, the package found by
  name (settings' ``packages``, then a table of common apps, then the installed packages from
  ``shell pm list packages``)
* Navigate: ``shell am start -a android.intent.action.VIEW -d URL`` (the default browser)

Typing (:func:`input_text_commands`). ``input text`` takes one shell word and types printable
ASCII only. Spaces become ``%s`` (``input`` turns ``%s`` into a space), the device shell's
metacharacters are escaped with a backslash, a newline presses ``KEYCODE_ENTER`` and a tab
``KEYCODE_TAB``, and a literal ``%s`` in the text is split across two commands so ``input``
does not turn it into a space. Anything else (accents, CJK, emoji) goes through the ADBKeyboard
IME when it is the active input method: ``shell am broadcast -a ADB_INPUT_B64 --es msg BASE64``
(install it from https://github.com/senzhk/ADBKeyBoard, then
``adb shell ime enable com.android.adbkeyboard/.AdbIME`` and
``adb shell ime set com.android.adbkeyboard/.AdbIME``); without it such text raises
:class:`ActionFailedError` saying so.

Errors. Missing ``adb``, no device, an unauthorised or offline device, several devices without
a serial, or a serial that is not attached raise :class:`ConfigError` when the executor starts;
a command that times out or fails, or a device that goes away, raises :class:`ExecutorError`;
what the model can fix (an unknown app, a point off the screen, untypable text) raises
:class:`ActionFailedError`.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError

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
from screenpilot.agent.android_keys import normalize_android_key
from screenpilot.agent.errors import ActionFailedError, ConfigError, ExecutorError
from screenpilot.agent.frame import Frame
from screenpilot.agent.keys import normalize_key
from screenpilot.tools.base import refuse_web_action
from screenpilot.tools.settle import GrayFrame, SettleSettings, to_small_gray, wait_until_stable

ADB_INSTALL_HINT = (
    "install the Android platform tools (`apt-get install adb` on Debian/Ubuntu, or the SDK's "
    "platform-tools) and make sure `adb` is on PATH"
)
ADB_KEYBOARD_IME = "com.android.adbkeyboard/.AdbIME"
"""The input method whose broadcast types any Unicode text."""

SYSTEM_BUTTON_KEYS: dict[SystemButtonName, str] = {
    "back": "KEYCODE_BACK", "home": "KEYCODE_HOME", "menu": "KEYCODE_APP_SWITCH", "enter": "KEYCODE_ENTER",
}

KNOWN_APPS: dict[str, tuple[str, ...]] = {
    "settings": ("com.android.settings",),
    "chrome": ("com.android.chrome",),
    "browser": ("com.android.chrome", "org.chromium.webview_shell", "com.android.browser"),
    "camera": ("com.google.android.GoogleCamera", "com.android.camera2", "com.android.camera"),
    "clock": ("com.google.android.deskclock", "com.android.deskclock"),
    "calculator": ("com.google.android.calculator", "com.android.calculator2"),
    "calendar": ("com.google.android.calendar", "com.android.calendar"),
    "contacts": ("com.google.android.contacts", "com.android.contacts"),
    "phone": ("com.google.android.dialer", "com.android.dialer"),
    "dialer": ("com.google.android.dialer", "com.android.dialer"),
    "messages": ("com.google.android.apps.messaging", "com.android.messaging", "com.android.mms"),
    "files": ("com.google.android.apps.nbu.files", "com.google.android.documentsui", "com.android.documentsui"),
    "photos": ("com.google.android.apps.photos",),
    "gallery": ("com.google.android.apps.photos", "com.android.gallery3d"),
    "gmail": ("com.google.android.gm",),
    "maps": ("com.google.android.apps.maps",),
    "google maps": ("com.google.android.apps.maps",),
    "youtube": ("com.google.android.youtube",),
    "play store": ("com.android.vending",),
    "google play": ("com.android.vending",),
    "google": ("com.google.android.googlequicksearchbox",),
    "keep": ("com.google.android.keep",),
    "notes": ("com.google.android.keep",),
}
"""Common app names -> candidate packages, most likely first (AOSP emulators and Pixel phones)."""

_SHELL_SPECIAL = frozenset("\\'\"`$&|;<>()[]{}*?!~#^")
_DEVICE_GONE = ("not found", "offline", "no devices", "device unauthorized", "closed", "disconnected")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")


# --- the runner seam ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AdbResult:
    """What one adb invocation returned: exit status and raw output."""

    returncode: int
    stdout: bytes
    stderr: bytes

    def text(self) -> str:
        """stdout decoded (UTF-8, errors replaced)."""
        return self.stdout.decode("utf-8", "replace")

    def error_text(self) -> str:
        """stderr (or stdout when stderr is empty), stripped, for messages."""
        return (self.stderr or self.stdout).decode("utf-8", "replace").strip()


class AdbRunner(Protocol):
    """Runs ``adb ARGS...`` (``args`` without the adb program itself) within ``timeout_s``.

    Raises :class:`ExecutorError` when adb cannot run or times out; a non-zero exit status is
    not an exception (the caller decides).
    """

    def run(self, args: Sequence[str], timeout_s: float) -> AdbResult: ...


class SubprocessAdbRunner:
    """The real runner: ``subprocess.run([adb, *args])``. ``adb`` is a path or a command on
    PATH; ConfigError (with the install command) when it is not found."""

    def __init__(self, adb: str = "adb") -> None:
        found = shutil.which(adb)
        if found is None:
            raise ConfigError(f"adb was not found ({adb!r}); {ADB_INSTALL_HINT}")
        self.adb = found

    def run(self, args: Sequence[str], timeout_s: float) -> AdbResult:
        """See :class:`AdbRunner`."""
        command = [self.adb, *args]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise ExecutorError(f"`adb {' '.join(args)}` did not finish within {timeout_s:g} s") from None
        except OSError as exc:
            raise ExecutorError(f"cannot run {self.adb}: {exc}") from exc
        return AdbResult(done.returncode, done.stdout, done.stderr)


# --- pure helpers ------------------------------------------------------------------------------


def parse_devices(text: str) -> list[tuple[str, str]]:
    """(serial, state) pairs from ``adb devices`` output; states are ``device``,
    ``unauthorized``, ``offline``, ``no permissions``..."""
    pairs = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("List of devices", "*")):
            continue
        parts = line.split("\t") if "\t" in line else line.split(None, 1)
        if len(parts) == 2:
            pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def choose_device(devices: Sequence[tuple[str, str]], serial: str | None) -> str:
    """The serial to drive: ``serial`` when attached and ready, else the only device.

    Raises ConfigError for no device, several devices without ``serial``, a ``serial`` not
    attached, or a device that is unauthorised or otherwise not ready, each with what to do.
    """
    if not devices:
        raise ConfigError("no Android device is attached (`adb devices` lists none): start an emulator or "
                          "connect a phone with USB debugging enabled")
    if serial is None:
        if len(devices) > 1:
            listed = ", ".join(f"{s} ({state})" for s, state in devices)
            raise ConfigError(f"several Android devices are attached ({listed}); choose one with --adb SERIAL")
        serial = devices[0][0]
    states = dict(devices)
    if serial not in states:
        listed = ", ".join(s for s, _ in devices)
        raise ConfigError(f"device {serial!r} is not attached; attached: {listed}")
    state = states[serial]
    if state == "unauthorized":
        raise ConfigError(f"device {serial} is unauthorized: unlock the phone and accept the "
                          "'Allow USB debugging?' prompt, then run again")
    if state != "device":
        raise ConfigError(f"device {serial} is {state}, not ready: reconnect it or restart it "
                          "(`adb reconnect`, `adb kill-server`)")
    return serial


def escape_shell_word(text: str) -> str:
    """``text`` as one word for the device's ``sh``: metacharacters and spaces backslash-escaped."""
    return "".join("\\" + char if char in _SHELL_SPECIAL or char == " " else char for char in text)


def is_input_text_safe(text: str) -> bool:
    """True when ``input text`` can type ``text``: printable ASCII, newlines and tabs."""
    return all(" " <= char <= "~" or char in "\n\t" for char in text)


def _text_chunks(line: str) -> list[str]:
    """``line`` split after each ``%`` that precedes an ``s``, so no chunk holds a literal ``%s``."""
    chunks, start = [], 0
    for index in range(1, len(line)):
        if line[index - 1] == "%" and line[index] == "s":
            chunks.append(line[start:index])
            start = index
    chunks.append(line[start:])
    return [chunk for chunk in chunks if chunk]


def input_text_commands(text: str) -> list[list[str]]:
    """The ``adb shell`` argument lists that type ``text`` (printable ASCII, ``\\n``, ``\\t``).

    Each chunk becomes ``["input", "text", WORD]`` with spaces as ``%s`` and shell
    metacharacters escaped; ``\\n`` gives ``["input", "keyevent", "KEYCODE_ENTER"]`` and ``\\t``
    ``KEYCODE_TAB``. Raises ValueError for other characters (see :func:`is_input_text_safe`).
    """
    if not is_input_text_safe(text):
        raise ValueError("input text types printable ASCII only")
    commands: list[list[str]] = []
    for piece in re.split(r"(\n|\t)", text.replace("\r\n", "\n").replace("\r", "\n")):
        if piece in ("\n", "\t"):
            commands.append(["input", "keyevent", "KEYCODE_ENTER" if piece == "\n" else "KEYCODE_TAB"])
            continue
        for chunk in _text_chunks(piece):
            word = escape_shell_word(chunk.replace(" ", "%s"))
            commands.append(["input", "text", word])
    return commands


def keyboard_broadcast(text: str) -> list[str]:
    """The ``adb shell`` arguments that type any ``text`` through the ADBKeyboard IME."""
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return ["am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg", encoded]


def press_keys_codes(keys: Sequence[str]) -> list[str]:
    """Android key event names for canonical keyboard keys (``ctrl`` -> ``KEYCODE_CTRL_LEFT``,
    ``enter`` -> ``KEYCODE_ENTER``, ``home`` -> ``KEYCODE_MOVE_HOME``, ``a`` -> ``KEYCODE_A``).
    Raises ValueError for a key Android has no event for."""
    codes = []
    for key in keys:
        canonical = normalize_key(key) or key
        code = {"home": "KEYCODE_MOVE_HOME", "menu": "KEYCODE_MENU"}.get(canonical) or normalize_android_key(canonical)
        if code is None:
            raise ValueError(f"Android has no key event for {key!r}")
        codes.append(code)
    return codes


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def resolve_package(name: str, installed: Collection[str], overrides: Mapping[str, str] | None = None) -> str | None:
    """The package to launch for an app called ``name``, or None.

    Order: ``overrides`` (app name -> package, names compared without case and spacing), a
    package name given as such and installed, :data:`KNOWN_APPS` (first installed candidate),
    then the installed packages: one whose dot-separated part equals the squashed name
    (``"WhatsApp"`` -> ``com.whatsapp``), else the only one containing it.
    """
    key = " ".join(name.lower().split())
    for app, package in (overrides or {}).items():
        if " ".join(app.lower().split()) == key:
            return package
    if _PACKAGE.match(name.strip()) and name.strip() in installed:
        return name.strip()
    for candidate in KNOWN_APPS.get(key, ()):
        if candidate in installed:
            return candidate
    squashed = _squash(name)
    if not squashed:
        return None
    exact = sorted(p for p in installed if squashed in (_squash(part) for part in p.split(".")[1:]))
    if exact:
        return min(exact, key=len)
    containing = [p for p in installed if squashed in _squash(p.split(".", 1)[-1])]
    return containing[0] if len(containing) == 1 else None


# --- settings and executor -----------------------------------------------------------------------


@dataclass(frozen=True)
class AdbSettings:
    """How the ADB executor reaches its device. Times in seconds.

    ``serial``: the device (None: the only one attached). ``adb_path``: the adb program.
    ``packages``: app name -> package for ``OpenApp`` (before the built-in table).
    ``settle``: screen-change detection between actions (each check is one screencap).
    """

    serial: str | None = None
    adb_path: str = "adb"
    packages: Mapping[str, str] = field(default_factory=dict)
    command_timeout_s: float = 20.0
    screenshot_timeout_s: float = 20.0
    drag_seconds: float = 0.5
    settle: SettleSettings = field(
        default_factory=lambda: SettleSettings(max_wait_s=3.0, interval_s=0.1, stable_frames=1))


class AdbExecutor:
    """Observe and act on an Android device over ADB (see the module docstring).

    The constructor picks the device (``adb devices``) and takes a first screenshot to learn the
    screen size; it raises ConfigError when adb or a usable device is missing. ``runner``
    replaces how adb is invoked (tests; default :class:`SubprocessAdbRunner`).
    """

    kind: Literal["phone"] = "phone"

    def __init__(self, settings: AdbSettings | None = None, runner: AdbRunner | None = None) -> None:
        self.settings = settings or AdbSettings()
        self.runner: AdbRunner = runner or SubprocessAdbRunner(self.settings.adb_path)
        listing = self.runner.run(["devices"], self.settings.command_timeout_s)
        if listing.returncode != 0:
            raise ConfigError(f"`adb devices` failed: {listing.error_text()}")
        self.serial = choose_device(parse_devices(listing.text()), self.settings.serial)
        self._installed: frozenset[str] | None = None
        self._closed = False
        self._size = self._capture().size

    # --- Executor protocol -------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the device's screen in pixels, as of the latest screenshot."""
        return self._size

    def screenshot(self) -> Frame:
        """The screen as ``screencap`` sees it (RGB, device pixels)."""
        taken_at = time.time()
        start = time.perf_counter()
        image = self._capture()
        return Frame(image=image, taken_at=taken_at, capture_s=time.perf_counter() - start,
                     extra={"serial": self.serial})

    def execute(self, action: Action) -> None:
        """Carry out one screen-pixel ``action`` (see the module docstring for the commands)."""
        match action:
            case Click() | LongPress() | Swipe() | Drag() | Scroll() | MoveTo():
                self._touch_action(action)
            case TypeText(text=text):
                self._type(text)
            case PressKeys(keys=keys):
                self._press(keys)
            case AndroidKey(code=code):
                self.shell(["input", "keyevent", code])
            case SystemButton(name=name):
                self.shell(["input", "keyevent", SYSTEM_BUTTON_KEYS[name]])
            case OpenApp(name=name):
                self._open_app(name)
            case Navigate(url=url):
                self.shell(["am", "start", "-a", "android.intent.action.VIEW", "-d", escape_shell_word(url)])
            case GoBack():
                self.shell(["input", "keyevent", "KEYCODE_BACK"])
            case Wait(seconds=seconds):
                if not seconds >= 0:
                    raise ActionFailedError(f"cannot wait {seconds} seconds", hint="wait a number of seconds >= 0")
                time.sleep(seconds)
            case ListTabs() | SwitchTab() | CloseTab() | NewTab() | Upload():
                refuse_web_action(action, "on the phone", "on the phone, use the apps' own tabs and file pickers "
                                  "with taps and swipes")
            case Terminate() | AskUser():
                raise ValueError(f"{type(action).__name__} is handled by the loop, not by an executor")
            case _:
                assert_never(action)

    def settle(self) -> float:
        """Wait until consecutive screenshots agree (or ``max_wait_s``); seconds spent."""
        return wait_until_stable(self._small_gray, self.settings.settle)

    def describe(self) -> dict[str, object]:
        """What run.json records about this device."""
        return {"kind": self.kind, "emulated": False, "transport": "adb", "serial": self.serial,
                "screen_px": list(self._size), "packages": dict(self.settings.packages)}

    def close(self) -> None:
        """Nothing to release (the device stays as it is); idempotent."""
        self._closed = True

    # --- commands ----------------------------------------------------------------------------

    def adb(self, args: Sequence[str], timeout_s: float | None = None, check: bool = True) -> AdbResult:
        """``adb -s SERIAL ARGS...``. With ``check``, a non-zero exit status raises
        ExecutorError (saying so when the device is gone); without, the caller judges it."""
        if self._closed:
            raise ExecutorError("the adb executor is closed")
        result = self.runner.run(["-s", self.serial, *args], timeout_s or self.settings.command_timeout_s)
        if check and result.returncode != 0:
            raise self._failure(args, result)
        return result

    def shell(self, args: Sequence[str], check: bool = True) -> AdbResult:
        """``adb -s SERIAL shell ARGS...`` (arguments are joined and run by the device's sh)."""
        return self.adb(["shell", *args], check=check)

    def _failure(self, args: Sequence[str], result: AdbResult) -> ExecutorError:
        detail = result.error_text() or f"exit status {result.returncode}"
        gone = any(marker in detail.lower() for marker in _DEVICE_GONE)
        what = f"device {self.serial} is no longer reachable" if gone else f"`adb {' '.join(args)}` failed"
        return ExecutorError(f"{what}: {detail}")

    def _capture(self) -> Image.Image:
        result = self.adb(["exec-out", "screencap", "-p"], self.settings.screenshot_timeout_s)
        try:
            image = Image.open(io.BytesIO(result.stdout))
            image.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise ExecutorError(f"screencap on {self.serial} returned no PNG ({len(result.stdout)} bytes: "
                                f"{result.error_text()[:120]!r})") from exc
        rgb = image.convert("RGB")
        self._size = rgb.size
        return rgb

    def _small_gray(self) -> GrayFrame:
        return to_small_gray(np.asarray(self._capture()), self.settings.settle.downscale_width)

    # --- touch -------------------------------------------------------------------------------

    def _touch_action(self, action: Click | LongPress | Swipe | Drag | Scroll | MoveTo) -> None:
        match action:
            case Click(at=at, button=button, count=count):
                self._tap(at, button, count)
            case LongPress(at=at, seconds=seconds):
                self._swipe(at, at, seconds)
            case Swipe(start=start, end=end, seconds=seconds):
                self._swipe(start, end, seconds)
            case Drag(to=to, start=start):
                if start is None:
                    raise ActionFailedError("a drag needs its start point on a touchscreen",
                                            hint="swipe from the start coordinate to the end coordinate")
                self._swipe(start, to, self.settings.drag_seconds)
            case Scroll(dy=dy, dx=dx, at=at):
                self._scroll(at, dx, dy)
            case MoveTo():
                raise ActionFailedError("a touchscreen has no pointer to move",
                                        hint="tap (click) or long_press the element instead")
            case _:
                assert_never(action)

    def _checked(self, point: Point) -> Point:
        width, height = self._size
        if not (0 <= point.x < width and 0 <= point.y < height):
            raise ActionFailedError(f"point ({point.x}, {point.y}) is outside the {width}x{height} screen",
                                    hint=f"use coordinates with 0 <= x < {width} and 0 <= y < {height}")
        return point

    def _tap(self, at: Point | None, button: str, count: int) -> None:
        if button != "left":
            raise ActionFailedError(f"a touchscreen has no {button} button",
                                    hint="tap (click) the element, or long_press it for its menu")
        if at is None:
            raise ActionFailedError("a tap needs a point", hint="give the coordinate to tap")
        point = self._checked(at)
        for _ in range(max(1, count)):
            self.shell(["input", "tap", str(point.x), str(point.y)])

    def _swipe(self, start: Point, end: Point, seconds: float) -> None:
        if not 0 < seconds <= 60:
            raise ActionFailedError(f"cannot touch for {seconds} seconds", hint="use between 0.1 and 10 seconds")
        a, b = self._checked(start), self._checked(end)
        millis = str(max(1, round(seconds * 1000)))
        self.shell(["input", "swipe", str(a.x), str(a.y), str(b.x), str(b.y), millis])

    def _scroll(self, at: Point | None, dx: int, dy: int) -> None:
        """A swipe against the scroll direction: content follows the finger."""
        width, height = self._size
        start = self._checked(at or Point(width // 2, height // 2))
        end = Point(min(max(start.x - dx, 0), width - 1), min(max(start.y - dy, 0), height - 1))
        if end == start:
            return
        self._swipe(start, end, 0.3)

    # --- text, keys and apps -------------------------------------------------------------------

    def _type(self, text: str) -> None:
        if is_input_text_safe(text):
            for command in input_text_commands(text):
                self.shell(command)
            return
        ime = self.shell(["settings", "get", "secure", "default_input_method"]).text().strip()
        if ime != ADB_KEYBOARD_IME:
            raise ActionFailedError(
                f"cannot type non-ASCII text over adb without the ADBKeyboard input method (active: {ime or 'none'}); "
                f"install ADBKeyboard and run `adb shell ime set {ADB_KEYBOARD_IME}`",
                hint="this phone can only type plain ASCII text: write it without accents or other "
                "non-ASCII characters if that is acceptable, or ask the user")
        self.shell(keyboard_broadcast(text))

    def _press(self, keys: Sequence[str]) -> None:
        try:
            codes = press_keys_codes(keys)
        except ValueError as exc:
            raise ActionFailedError(f"cannot press {'+'.join(keys)}: {exc}",
                                    hint="use Android key events such as KEYCODE_ENTER or KEYCODE_DEL") from None
        if len(codes) == 1:
            self.shell(["input", "keyevent", codes[0]])
        else:
            self.shell(["input", "keycombination", *codes])

    def installed_packages(self, refresh: bool = False) -> frozenset[str]:
        """The device's packages (``pm list packages``), cached until ``refresh``."""
        if self._installed is None or refresh:
            lines = self.shell(["pm", "list", "packages"]).text().splitlines()
            self._installed = frozenset(line.split(":", 1)[1].strip() for line in lines if line.startswith("package:"))
        return self._installed

    def _open_app(self, name: str) -> None:
        package = resolve_package(name, self.installed_packages(), self.settings.packages)
        if package is None:
            package = resolve_package(name, self.installed_packages(refresh=True), self.settings.packages)
        if package is None:
            raise ActionFailedError(f"no app named {name!r} is installed",
                                    hint="open an app that is installed (look at the home screen or app drawer), "
                                    "e.g. Settings, Chrome, Clock")
        command = ["monkey", "-p", package, "-c", "android.intent.category.LAUNCHER", "1"]
        result = self.shell(command, check=False)
        output = (result.text() + result.error_text()).lower()
        if "monkey aborted" in output or "no activities found" in output:
            raise ActionFailedError(f"{package} has no launcher activity to open",
                                    hint=f"{name!r} cannot be opened directly; find it on the home screen")
        if result.returncode != 0:
            raise self._failure(["shell", *command], result)


__all__ = [
    "ADB_INSTALL_HINT",
    "ADB_KEYBOARD_IME",
    "KNOWN_APPS",
    "SYSTEM_BUTTON_KEYS",
    "AdbExecutor",
    "AdbResult",
    "AdbRunner",
    "AdbSettings",
    "SubprocessAdbRunner",
    "choose_device",
    "escape_shell_word",
    "input_text_commands",
    "is_input_text_safe",
    "keyboard_broadcast",
    "parse_devices",
    "press_keys_codes",
    "resolve_package",
]
