"""The Qwen2.5-VL prompt format: tool prompt, history, reply parsing and coordinate mapping.

The model sees one function tool, ``computer_use``, described in the system prompt in the
Qwen/Hermes function-calling layout (tool JSON inside ``<tools></tools>``, calls written as
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``). Coordinates it writes are absolute
pixels of the screenshot it saw, which :func:`screenpilot.models.resize.smart_resize` has resized to
``model_size`` = ``(W', H')``; :meth:`Qwen25Format.to_screen` maps them to the real screen.

Decisions this module makes (each one tested):

* **Several calls in one reply** are all returned, in order; the loop executes them in turn.
  Everything after a ``terminate`` (or ``answer``) is dropped, and so is everything after an
  ``ask_user``, since later actions could not depend on the person's answer. Calls after such a
  cut are not even validated.
* **Coordinate range**: after rounding (floats and numeric strings are accepted and rounded with
  Python's ``round``), ``0 <= x <= W'`` and ``0 <= y <= H'``. The far edge ``W'`` / ``H'`` is
  accepted because models do write it for the last row or column; mapping clamps it onto the
  last screen pixel. Anything else out of range is an :class:`~screenpilot.agent.errors.InvalidArgumentError`
  (never silently clamped: a wild coordinate usually means a wrong guess about the screen).
* **wait**: ``time`` defaults to :data:`DEFAULT_WAIT_S` (1 s) when missing and must lie in
  ``[0, MAX_WAIT_S]`` (60 s).
* **scroll**: ``pixels`` is required, must be a non-zero finite number with magnitude at most
  :data:`MAX_SCROLL_PIXELS`; Qwen's positive = up becomes :class:`~screenpilot.agent.actions.Scroll` ``dy``
  positive = down (``dy = -pixels``). :meth:`Qwen25Format.to_screen` scales ``dy`` by ``H / H'`` and ``dx``
  by ``W / W'``, the same factors as points, so a scroll covers the same fraction of the screen
  the model saw.
* **Extras** (``navigate``/``back`` and the tab and file verbs for browsers, ``ask_user`` anywhere) are advertised
  and accepted only when enabled for the executor; using a disabled one is an
  :class:`~screenpilot.agent.errors.UnknownActionError`.
* **Tabs and files** (browser extras, an extension of the ``computer_use`` schema like ``navigate``, which Qwen's
  released tool lacks): ``list_tabs`` -> :class:`~screenpilot.agent.actions.ListTabs` (the list arrives with the next
  screenshot), ``switch_tab`` (``index``, required) -> :class:`~screenpilot.agent.actions.SwitchTab`, ``close_tab``
  (``index`` optional: the current tab) -> :class:`~screenpilot.agent.actions.CloseTab`, ``new_tab`` (``url``
  optional) -> :class:`~screenpilot.agent.actions.NewTab`, ``upload`` (``path``, required) ->
  :class:`~screenpilot.agent.actions.Upload` into the file chooser the page opened. ``index`` counts tabs from 0: a
  whole number (``1``, ``1.0`` or ``"1"``), never negative. ``terminate`` always accepts an optional ``answer``;
  the schema advertises it only with ``terminate_answer=True``.
* **Accepted but not advertised** for robustness: ``triple_click``; Qwen3-style
  ``answer`` (``text``) = ``terminate`` success with that answer; ``start_coordinate`` on
  ``left_click_drag`` (drag from there instead of the pointer); ``keys`` given as one chord
  string (``"ctrl+c"``), or the keys under ``key``/``text``; ``arguments`` as a JSON string or
  named ``parameters``; a bare ``{"action": ...}`` object without the name wrapper.

* **Finding calls**: ``<think>...</think>`` blocks are removed, as is everything before a stray
  ``</think>`` and an unclosed ``<think>`` block (up to a ``<tool_call>`` inside it). With
  ``<tool_call>`` tags present, each tag's text up to ``</tool_call>`` (or the next tag, or the
  end: a missing closing tag is fine) is searched for JSON objects; prose and code fences
  around them are ignored. Without tags, call-like objects (with ``name``, ``action`` or
  ``arguments``) anywhere in the text are used.
* **History** layouts and the request: :mod:`screenpilot.models.formats.toolformat`, shared with
  ``mobile_use`` and Qwen3-VL.

Parsing is pure and never evaluates model output: JSON is read with :mod:`json`, then with
:mod:`json5` for lenient syntax (single quotes, trailing commas). Only
:class:`~screenpilot.agent.errors.ModelError` subclasses leave :meth:`Qwen25Format.parse`, whatever the text.
Finding calls and reading their arguments lives in :mod:`screenpilot.models.formats.toolcall`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from screenpilot.agent.actions import (
    Action,
    Click,
    CloseTab,
    Drag,
    GoBack,
    ListTabs,
    MouseButton,
    MoveTo,
    Navigate,
    NewTab,
    PressKeys,
    Scroll,
    SwitchTab,
    Upload,
    describe,
)
from screenpilot.models.formats.base import DEFAULT_WAIT_S as DEFAULT_WAIT_S
from screenpilot.models.formats.base import MAX_WAIT_S as MAX_WAIT_S
from screenpilot.models.formats.base import SHARED_HANDLERS, ComputerArguments, shared_arguments, xy
from screenpilot.models.formats.toolcall import CallDialect
from screenpilot.models.formats.toolformat import ToolCallFormat, ToolDialect
from screenpilot.models.resize import MAX_PIXELS, MIN_PIXELS

if TYPE_CHECKING:
    from screenpilot.models.base import PromptFormat

FUNCTION_NAME = "computer_use"

CORE_ACTIONS: tuple[str, ...] = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
    "middle_click", "double_click", "scroll", "wait", "terminate",
)
"""The actions of Qwen2.5-VL's ``computer_use`` tool, in the order the schema lists them."""

WEB_VERBS: tuple[str, ...] = ("list_tabs", "switch_tab", "close_tab", "new_tab", "upload")
"""The tab and file verbs this project adds to ``computer_use`` for browsers (Qwen's tool has none)."""

EXTRA_ACTIONS: tuple[str, ...] = ("navigate", "back", "ask_user", *WEB_VERBS)
"""Optional actions an executor may enable."""

BROWSER_EXTRAS: frozenset[str] = frozenset(EXTRA_ACTIONS)
"""The extras a browser executor enables (all of them)."""

DESKTOP_EXTRAS: frozenset[str] = frozenset({"ask_user"})
"""The extras a desktop executor enables."""

UNADVERTISED_ACTIONS: tuple[str, ...] = ("triple_click", "answer")
"""Accepted from the model (other Qwen generations use them) but never advertised."""

MAX_SCROLL_PIXELS = 100_000
DIALECT = CallDialect(FUNCTION_NAME, '{"action": "left_click", "coordinate": [x, y]}')
"""The function name and example call the model's hints use."""

FORMAT_HINT = DIALECT.format_hint

# ---------------------------------------------------------------------------------------------
# The tool as the prompt describes it (filled per call; nothing here depends on the time or the run).

TOOL_DESCRIPTION_TEMPLATE = """Operate a computer with its mouse and keyboard, looking at screenshots.
* After every action you receive a new screenshot of the screen; there is no separate screenshot action.
* The screen's resolution is {width}x{height}.
* A coordinate is a pixel position in that screenshot: x counts from the left edge, y from the top edge.
* Aim at the middle of the element you want to use, not at its border.
* If an action seems to have had no effect, study the new screenshot and change your approach instead of repeating it.
* Programs and pages can take a while to respond; wait when the screen is still changing."""

ACTION_DESCRIPTIONS: dict[str, str] = {
    "key": "press the keys in `keys` in order, then release them in reverse order (a shortcut).",
    "type": "type the string `text` with the keyboard into the focused element.",
    "mouse_move": "move the mouse pointer to `coordinate`.",
    "left_click": "click the left mouse button at `coordinate` (or where the pointer is).",
    "left_click_drag": "hold the left button down and drag from the pointer's position to `coordinate`.",
    "right_click": "click the right mouse button at `coordinate` (or where the pointer is).",
    "middle_click": "click the middle mouse button at `coordinate` (or where the pointer is).",
    "double_click": "double-click the left mouse button at `coordinate` (or where the pointer is).",
    "scroll": "turn the mouse wheel by `pixels` (positive scrolls up, negative scrolls down), "
    "at `coordinate` when given.",
    "wait": "do nothing for `time` seconds while the screen changes.",
    "terminate": "end the task and report `status`.",
    "navigate": "open the web address `url` in the current browser tab.",
    "back": "go back to the previous page in the browser tab.",
    "ask_user": "ask the person a `question` when you need information or a decision only they can give.",
    "list_tabs": "list the open browser tabs (number, title, address, which is current); the list comes with the "
    "next screenshot.",
    "switch_tab": "make the browser tab number `index` (from `list_tabs`; the first tab is 0) the current one.",
    "close_tab": "close the browser tab number `index` (the current tab when `index` is left out).",
    "new_tab": "open a new browser tab, at the web address `url` when given, and make it the current one.",
    "upload": "choose the file at `path` in the file chooser the page has opened (click the page's file field "
    "first).",
}

PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "keys": 'Needed by `key`: key names, e.g. ["ctrl", "c"], ["enter"] or ["alt", "tab"].',
    "text": "Needed by `type`: the text to type.",
    "coordinate": "(x, y): pixels from the left and the top edge of the screenshot. Needed by "
    "`mouse_move` and `left_click_drag`; optional for the clicks and `scroll`.",
    "pixels": "Needed by `scroll`: how far to scroll. Positive scrolls up, negative scrolls down.",
    "time": "Needed by `wait`: seconds to wait.",
    "status": "Needed by `terminate`: whether the task was completed.",
    "url": "Needed by `navigate`, optional for `new_tab`: the full address to open, e.g. https://example.com/.",
    "index": "Needed by `switch_tab`, optional for `close_tab`: a tab's number from `list_tabs` (0 is the first).",
    "path": "Needed by `upload`: the file's path, e.g. report.pdf (inside the folder the user allows uploads from).",
    "question": "Needed by `ask_user`: the question for the person.",
    "answer": "Optional for `terminate`: the final answer, when the task asks for one.",
}

PARAMETERS: tuple[tuple[str, Mapping[str, object]], ...] = (
    ("keys", {"type": "array", "items": {"type": "string"}}),
    ("text", {"type": "string"}),
    ("coordinate", {"type": "array"}),
    ("pixels", {"type": "number"}),
    ("time", {"type": "number"}),
    ("status", {"type": "string", "enum": ["success", "failure"]}),
)
"""The parameters every schema lists, with their JSON-schema types, in order."""


# ---------------------------------------------------------------------------------------------
# Canonical calls (the inverse of parse).

_CLICK_VERBS: dict[tuple[str, int], str] = {
    ("left", 1): "left_click",
    ("right", 1): "right_click",
    ("middle", 1): "middle_click",
    ("left", 2): "double_click",
    ("left", 3): "triple_click",
}

def _click_arguments(action: Click) -> dict[str, object]:
    verb = _CLICK_VERBS.get((action.button, action.count))
    if verb is None:
        raise ValueError(f"Qwen2.5-VL has no action for {action.count} {action.button} click(s)")
    args: dict[str, object] = {"action": verb}
    if action.at is not None:
        args["coordinate"] = xy(action.at)
    return args


def _scroll_arguments(action: Scroll) -> dict[str, object]:
    if action.dx or not action.dy:
        raise ValueError(f"Qwen2.5-VL scrolls only vertically by a non-zero amount, got {action}")
    args: dict[str, object] = {"action": "scroll", "pixels": -action.dy}
    if action.at is not None:
        args["coordinate"] = xy(action.at)
    return args


def _drag_arguments(action: Drag) -> dict[str, object]:
    args: dict[str, object] = {"action": "left_click_drag"}
    if action.start is not None:
        args["start_coordinate"] = xy(action.start)
    args["coordinate"] = xy(action.to)
    return args


def call_arguments(action: Action) -> dict[str, object]:
    """The ``arguments`` object of the canonical ``computer_use`` call for a model-space action.

    Raises ValueError for actions Qwen2.5-VL cannot express (a right double-click, a
    horizontal or zero scroll, the phone actions of :mod:`screenpilot.models.formats.qwen25_mobile`).
    """
    shared = shared_arguments(action)
    if shared is not None:
        return shared
    match action:
        case Click():
            return _click_arguments(action)
        case Scroll():
            return _scroll_arguments(action)
        case Drag():
            return _drag_arguments(action)
        case MoveTo(at=at):
            return {"action": "mouse_move", "coordinate": xy(at)}
        case PressKeys(keys=keys):
            return {"action": "key", "keys": list(keys)}
        case Navigate(url=url):
            return {"action": "navigate", "url": url}
        case GoBack():
            return {"action": "back"}
        case ListTabs() | SwitchTab() | CloseTab() | NewTab() | Upload():
            return web_arguments(action)
        case _:  # the phone actions; the shared verbs were written above
            raise ValueError(f"computer_use cannot express the phone action {describe(action)}")


def web_arguments(action: ListTabs | SwitchTab | CloseTab | NewTab | Upload) -> dict[str, object]:
    """The ``arguments`` of a tab or file action (the :data:`WEB_VERBS`), shared with Qwen3-VL."""
    match action:
        case ListTabs():
            return {"action": "list_tabs"}
        case SwitchTab(index=index):
            return {"action": "switch_tab", "index": index}
        case CloseTab(index=index):
            return {"action": "close_tab", **({} if index is None else {"index": index})}
        case NewTab(url=url):
            return {"action": "new_tab", **({} if url is None else {"url": url})}
        case Upload(path=path):
            return {"action": "upload", "path": path}


# ---------------------------------------------------------------------------------------------
# Turning one call into an action.


def _scroll(args: ComputerArguments) -> Scroll:
    hint = '"pixels" scrolls that far: positive scrolls up, negative scrolls down, e.g. "pixels": -500.'
    return Scroll(dy=-args.scroll_pixels(MAX_SCROLL_PIXELS, hint), at=args.point())


def _click(button: MouseButton, count: int = 1) -> Callable[[ComputerArguments], Action]:
    def make(args: ComputerArguments) -> Action:
        return Click(args.point(), button, count)

    return make


HANDLERS: dict[str, Callable[[ComputerArguments], Action]] = {
    **SHARED_HANDLERS,
    "key": lambda a: PressKeys(a.keys()),
    "mouse_move": lambda a: MoveTo(a.required_point()),
    "left_click": _click("left"),
    "left_click_drag": lambda a: Drag(a.required_point(), a.point("start_coordinate")),
    "right_click": _click("right"),
    "middle_click": _click("middle"),
    "double_click": _click("left", 2),
    "triple_click": _click("left", 3),
    "scroll": _scroll,
    "navigate": lambda a: Navigate(a.string("url")),
    "back": lambda a: GoBack(),
    "list_tabs": lambda a: ListTabs(),
    "switch_tab": lambda a: SwitchTab(a.required_index()),
    "close_tab": lambda a: CloseTab(a.index()),
    "new_tab": lambda a: NewTab(a.optional_text("url") or None),
    "upload": lambda a: Upload(a.string("path", "file")),
}
"""Verb -> action for every verb ``computer_use`` accepts (Qwen3-VL extends it)."""

TOOL = ToolDialect(
    call=DIALECT,
    device="computer",
    description=TOOL_DESCRIPTION_TEMPLATE,
    actions=CORE_ACTIONS,
    extras=EXTRA_ACTIONS,
    parameters=PARAMETERS,
    action_descriptions=ACTION_DESCRIPTIONS,
    parameter_descriptions=PARAMETER_DESCRIPTIONS,
    arguments=ComputerArguments,
    handlers=HANDLERS,
    write=call_arguments,
)
"""Qwen2.5-VL's ``computer_use`` tool."""


def browser_extras(browser_actions: bool, ask_user: bool) -> frozenset[str]:
    """The enabled extras for the ``browser_actions`` / ``ask_user`` options of a format: ``browser_actions``
    enables ``navigate``, ``back`` and the :data:`WEB_VERBS`."""
    browser = ("navigate", "back", *WEB_VERBS) if browser_actions else ()
    return frozenset({*browser, *(("ask_user",) if ask_user else ())})


class Qwen25Format(ToolCallFormat):
    """Qwen2.5-VL's dialect (implements :class:`screenpilot.models.base.PromptFormat`).

    ``min_pixels`` / ``max_pixels``: the smart_resize bounds used for the advertised size, the
    image sent and the mapping back (None: :attr:`default_bounds`). ``keep_images``: how many of
    the most recent screenshots go to the model as images (1: the cookbook layout, one user
    message with the history as text; N > 1: OSWorld-style, the last N - 1 steps as user-image /
    assistant-reply turns before the final user message, older steps as text in it). ``max_image_tokens``: optional
    cap on the image tokens of one request, which lowers the number of images kept (never
    below the current one). ``browser_actions``: enable ``navigate``, ``back`` and the tab and file verbs (browser
    executors). ``ask_user``: enable ``ask_user`` (default on; the loop answers it through its
    human channel). ``terminate_answer``: advertise the optional ``answer`` of ``terminate``.
    Bad values raise :class:`screenpilot.agent.errors.ConfigError`.
    """

    name = "qwen2.5-vl"
    dialect: ClassVar[ToolDialect[Any]] = TOOL
    default_bounds: ClassVar[tuple[int, int]] = (MIN_PIXELS, MAX_PIXELS)
    """``(min_pixels, max_pixels)`` used where the options give None."""

    def __init__(
        self,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        keep_images: int = 1,
        browser_actions: bool = False,
        ask_user: bool = True,
        terminate_answer: bool = False,
        max_image_tokens: int | None = None,
    ) -> None:
        low, high = self.default_bounds
        super().__init__(
            min_pixels=low if min_pixels is None else min_pixels, max_pixels=high if max_pixels is None else max_pixels,
            keep_images=keep_images, max_image_tokens=max_image_tokens,
            extra_actions=browser_extras(browser_actions, ask_user), terminate_answer=terminate_answer,
        )


format_call = Qwen25Format.format_call
"""The canonical ``<tool_call>`` text of a model-space action (scripted replies, calibration)."""


if TYPE_CHECKING:
    _satisfies_protocol: PromptFormat = Qwen25Format()
