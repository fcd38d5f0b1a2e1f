"""The closed set of actions screenpilot can carry out.

Every action is a small frozen dataclass. Coordinates are integer pixels; which pixel space
(the model's resized image or the real screen) is decided by who holds the value and is said in
variable names (``model_action``, ``screen_action``). The parser of a prompt format produces
actions in *model space*; :func:`map_points` turns them into *screen space* for an executor.

Executors dispatch with ``match``; ``assert_never`` in the fallback makes a missing case a type
error in mypy rather than a silent no-op. The phone-only types (:data:`PHONE_ACTIONS`: long press,
swipe, system buttons, Android key events, opening apps) are refused by the browser and desktop
executors with an :class:`~screenpilot.agent.errors.ActionFailedError`; the browser-only tab and file types
(:data:`WEB_ACTIONS`: listing, switching, closing and opening tabs, uploading a file into an open file chooser) by
the desktop, phone and ADB executors. An upload's ``path`` is resolved with :func:`upload_path` by both the safety
gate and the executor, so both judge and use the same file.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn, TypeAlias

if sys.version_info >= (3, 11):
    from typing import assert_never
else:  # pragma: no cover - Python 3.10

    def assert_never(value: object) -> NoReturn:
        """Unreachable: mypy reports a call here when a ``match`` misses an action type."""
        raise AssertionError(f"unhandled value: {value!r}")

MouseButton: TypeAlias = Literal["left", "right", "middle"]
TerminalStatus: TypeAlias = Literal["success", "failure"]


@dataclass(frozen=True)
class Point:
    """A pixel position: ``x`` to the right and ``y`` down from the top-left corner."""

    x: int
    y: int


@dataclass(frozen=True)
class Click:
    """Press and release ``button`` ``count`` times at ``at`` (None: where the pointer is)."""

    at: Point | None = None
    button: MouseButton = "left"
    count: int = 1


@dataclass(frozen=True)
class MoveTo:
    """Move the pointer to ``at`` without pressing anything."""

    at: Point


@dataclass(frozen=True)
class Drag:
    """Hold the left button from ``start`` (None: the current pointer position) to ``to``."""

    to: Point
    start: Point | None = None


@dataclass(frozen=True)
class Scroll:
    """Scroll by ``dy`` pixels down and ``dx`` pixels right (negative: up / left) at ``at``.

    The sign follows the web's ``deltaY``: positive ``dy`` reveals content further down the
    page. Qwen's ``pixels`` argument has the opposite sign (positive = up); its parser flips it.
    ``at`` None means wherever the pointer is.
    """

    dy: int
    dx: int = 0
    at: Point | None = None


@dataclass(frozen=True)
class TypeText:
    """Type ``text`` (any Unicode) into whatever has keyboard focus."""

    text: str


@dataclass(frozen=True)
class PressKeys:
    """Press ``keys`` in order and release them in reverse order (a chord such as ctrl+c).

    Names are canonical (see :mod:`screenpilot.agent.keys`): ``ctrl``, ``shift``, ``alt``, ``meta``,
    ``enter``, ``pagedown``, ``f5``, single characters and so on.
    """

    keys: tuple[str, ...]


@dataclass(frozen=True)
class Wait:
    """Do nothing for ``seconds`` (a float, >= 0)."""

    seconds: float


@dataclass(frozen=True)
class Terminate:
    """End the task with ``status``; ``answer`` carries a final answer when the task asks for one."""

    status: TerminalStatus
    answer: str | None = None


@dataclass(frozen=True)
class Navigate:
    """Browser only: open ``url`` in the current tab."""

    url: str


@dataclass(frozen=True)
class GoBack:
    """Browser only: go back one entry in the tab's history."""


@dataclass(frozen=True)
class AskUser:
    """Hand off to a person: pause, show ``question`` and send the answer back to the model."""

    question: str


@dataclass(frozen=True)
class LongPress:
    """Phone only: touch ``at`` and hold for ``seconds`` (a float, > 0) before lifting."""

    at: Point
    seconds: float = 1.0


@dataclass(frozen=True)
class Swipe:
    """Phone only: touch ``start``, slide to ``end`` over ``seconds`` (a float, > 0) and lift.

    Content follows the finger: swiping up (``end`` above ``start``) reveals what is below.
    """

    start: Point
    end: Point
    seconds: float = 0.5


SystemButtonName: TypeAlias = Literal["back", "home", "menu", "enter"]


@dataclass(frozen=True)
class SystemButton:
    """Phone only: press a system button: back, home, menu (the recent-apps overview) or enter."""

    name: SystemButtonName


@dataclass(frozen=True)
class AndroidKey:
    """Phone only: send one Android key event; ``code`` is a ``KEYCODE_`` name such as
    ``KEYCODE_VOLUME_UP`` (upper case, prefix included)."""

    code: str


@dataclass(frozen=True)
class OpenApp:
    """Phone only: start (or bring to the front) the app called ``name`` as a person names it."""

    name: str


@dataclass(frozen=True)
class ListTabs:
    """Browser only: report the open tabs (index from 0, title, URL, which is current) as the next step's event."""


@dataclass(frozen=True)
class SwitchTab:
    """Browser only: make the tab at ``index`` (0-based, as :class:`ListTabs` reports it) the current one."""

    index: int


@dataclass(frozen=True)
class CloseTab:
    """Browser only: close the tab at ``index`` (0-based; None: the current tab). The newest tab left takes over."""

    index: int | None = None


@dataclass(frozen=True)
class NewTab:
    """Browser only: open a new tab, which becomes the current one, at ``url`` (None: a blank page)."""

    url: str | None = None


@dataclass(frozen=True)
class Upload:
    """Browser only: answer the file chooser the page has opened with the file at ``path`` (absolute, or relative to
    the upload folder: see :func:`upload_path`)."""

    path: str


Action: TypeAlias = (
    Click | MoveTo | Drag | Scroll | TypeText | PressKeys | Wait | Terminate | Navigate | GoBack | AskUser
    | LongPress | Swipe | SystemButton | AndroidKey | OpenApp | ListTabs | SwitchTab | CloseTab | NewTab | Upload
)

PHONE_ACTIONS: tuple[type, ...] = (LongPress, Swipe, SystemButton, AndroidKey, OpenApp)
"""The action types only a phone executor carries out; other executors refuse them."""

WEB_ACTIONS: tuple[type, ...] = (ListTabs, SwitchTab, CloseTab, NewTab, Upload)
"""The tab and file action types only the browser executor carries out; other executors refuse them."""


def upload_path(path: str, upload_dir: Path | None) -> Path:
    """The file an :class:`Upload` of ``path`` means: ``~`` expanded, a relative path taken inside ``upload_dir``
    (without one: the working folder), then made absolute with every symlink and ``..`` resolved, so that checking
    the result against a folder cannot be escaped."""
    given = Path(path).expanduser()
    if not given.is_absolute() and upload_dir is not None:
        given = upload_dir / given
    return given.resolve()


def map_points(action: Action, convert: Callable[[Point], Point]) -> Action:
    """Return ``action`` with every Point passed through ``convert`` (scroll amounts unchanged).

    Used to move an action between pixel spaces; actions without points come back unchanged.
    """
    match action:
        case Click(at=Point() as at) | Scroll(at=Point() as at):
            return dataclasses.replace(action, at=convert(at))
        case MoveTo(at=at):
            return MoveTo(convert(at))
        case Drag(to=to, start=start):
            return Drag(convert(to), None if start is None else convert(start))
        case LongPress(at=at):
            return dataclasses.replace(action, at=convert(at))
        case Swipe(start=start, end=end):
            return dataclasses.replace(action, start=convert(start), end=convert(end))
        case _:
            return action


def describe(action: Action) -> str:
    """A short human-readable description, e.g. ``click (640, 360)`` or ``type 'hello'``."""

    def where(p: Point | None) -> str:
        return "at pointer" if p is None else f"({p.x}, {p.y})"

    match action:
        case Click(at=at, button=button, count=count):
            verb = {1: "click", 2: "double-click", 3: "triple-click"}.get(count, f"{count}x click")
            prefix = "" if button == "left" else f"{button} "
            return f"{prefix}{verb} {where(at)}"
        case MoveTo(at=at):
            return f"move to {where(at)}"
        case Drag(to=to, start=start):
            return f"drag {where(start)} -> {where(to)}"
        case Scroll(dy=dy, dx=dx, at=at):
            return f"scroll dy={dy} dx={dx} {where(at)}"
        case TypeText(text=text):
            shown = text if len(text) <= 40 else text[:37] + "..."
            return f"type {shown!r}"
        case PressKeys(keys=keys):
            return "key " + "+".join(keys)
        case Wait(seconds=seconds):
            return f"wait {seconds:g}s"
        case Terminate(status=status, answer=answer):
            return f"terminate {status}" + ("" if answer is None else f" answer={answer!r}")
        case AskUser(question=question):
            return f"ask user {question!r}"
        case LongPress() | Swipe() | SystemButton() | AndroidKey() | OpenApp():
            return _describe_phone(action)
        case Navigate() | GoBack() | ListTabs() | SwitchTab() | CloseTab() | NewTab() | Upload():
            return _describe_browser(action)


def _describe_phone(action: LongPress | Swipe | SystemButton | AndroidKey | OpenApp) -> str:
    match action:
        case LongPress(at=at, seconds=seconds):
            return f"long-press ({at.x}, {at.y}) {seconds:g}s"
        case Swipe(start=start, end=end, seconds=seconds):
            return f"swipe ({start.x}, {start.y}) -> ({end.x}, {end.y}) {seconds:g}s"
        case SystemButton(name=name):
            return f"system button {name}"
        case AndroidKey(code=code):
            return f"android key {code}"
        case OpenApp(name=name):
            return f"open app {name!r}"


def _describe_browser(action: Navigate | GoBack | ListTabs | SwitchTab | CloseTab | NewTab | Upload) -> str:
    match action:
        case Navigate(url=url):
            return f"navigate {url}"
        case GoBack():
            return "go back"
        case ListTabs():
            return "list tabs"
        case SwitchTab(index=index):
            return f"switch to tab {index}"
        case CloseTab(index=index):
            return "close the current tab" if index is None else f"close tab {index}"
        case NewTab(url=url):
            return "new tab" + ("" if url is None else f" {url}")
        case Upload(path=path):
            return f"upload {path!r}"


def to_json(action: Action) -> dict[str, object]:
    """A JSON-ready dict: ``{"kind": "Click", ...fields}`` with points as ``[x, y]``."""
    out: dict[str, object] = {"kind": type(action).__name__}
    for field in dataclasses.fields(action):
        value = getattr(action, field.name)
        if isinstance(value, Point):
            value = [value.x, value.y]
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


_KINDS: dict[str, type] = {
    cls.__name__: cls
    for cls in (Click, MoveTo, Drag, Scroll, TypeText, PressKeys, Wait, Terminate, Navigate, GoBack, AskUser,
                *PHONE_ACTIONS, *WEB_ACTIONS)
}


def from_json(data: dict[str, object]) -> Action:
    """Inverse of :func:`to_json`. Raises ValueError on an unknown kind or bad fields."""
    kind = data.get("kind")
    cls = _KINDS.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown action kind {kind!r}; expected one of {sorted(_KINDS)}")
    kwargs: dict[str, object] = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value = data[field.name]
        if field.name in ("at", "to", "start", "end") and value is not None:
            if not (isinstance(value, list | tuple) and len(value) == 2):
                raise ValueError(f"{kind}.{field.name} must be [x, y], got {value!r}")
            value = Point(int(value[0]), int(value[1]))
        elif field.name == "keys" and isinstance(value, list):
            value = tuple(str(k) for k in value)
        kwargs[field.name] = value
    try:
        action: Action = cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad fields for {kind}: {exc}") from None
    return action
