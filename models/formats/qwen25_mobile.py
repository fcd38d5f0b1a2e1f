"""The Qwen2.5-VL phone prompt format: the ``mobile_use`` tool, its parser and mapping.

The sibling of :mod:`screenpilot.models.formats.qwen25` (``computer_use``) for phone executors (``executor.kind ==
"phone"``): the same function-calling layout, resize rules, history layouts and tolerance
(:mod:`screenpilot.models.formats.toolcall`), with the phone's verbs. The tool description advertises the phone
screenshot's *resized* size ``(W', H')``; coordinates the model writes are pixels of that image
and :meth:`Qwen25MobileFormat.to_screen` maps them to the executor's screen pixels (for the emulated phone: device
pixels of its screenshot; for adb: the device's screen).

Verbs and what they become (model space):

* ``click`` (``coordinate``, required) -> :class:`~screenpilot.agent.actions.Click` (a tap).
* ``long_press`` (``coordinate``; ``time`` seconds, default :data:`DEFAULT_LONG_PRESS_S`, in
  ``(0, MAX_LONG_PRESS_S]``) -> :class:`~screenpilot.agent.actions.LongPress`.
* ``swipe`` (``coordinate`` -> ``coordinate2``, which must differ; optional ``time``, default
  :data:`DEFAULT_SWIPE_S`, in ``(0, MAX_SWIPE_S]``) -> :class:`~screenpilot.agent.actions.Swipe`.
* ``type`` (``text``) -> :class:`~screenpilot.agent.actions.TypeText`.
* ``key`` (``text``: an Android key event name, see :mod:`screenpilot.agent.android_keys`) ->
  :class:`~screenpilot.agent.actions.AndroidKey` with the canonical ``KEYCODE_`` name.
* ``system_button`` (``button``: Back | Home | Menu | Enter, any case; ``text`` accepted too)
  -> :class:`~screenpilot.agent.actions.SystemButton`.
* ``open`` (``text``: the app's name) -> :class:`~screenpilot.agent.actions.OpenApp`.
* ``wait`` (``time``, default 1 s, at most 60 s) and ``terminate`` (``status``, optional
  ``answer``) as in ``computer_use``; ``ask_user`` (``question``) when enabled.
* Accepted but never advertised: ``tap`` (= click) and Qwen3-style ``answer`` (``text``) =
  terminate success with that answer.

Several calls in one reply are all returned in order, up to and including a ``terminate`` or
``ask_user``; coordinates must lie in ``[0, W'] x [0, H']`` (never clamped silently). Only
:class:`~screenpilot.agent.errors.ModelError` subclasses leave :meth:`Qwen25MobileFormat.parse`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from screenpilot.agent.actions import (
    Action,
    AndroidKey,
    Click,
    LongPress,
    OpenApp,
    Swipe,
    SystemButton,
    SystemButtonName,
    map_points,
)
from screenpilot.agent.android_keys import EXAMPLES as KEY_EXAMPLES
from screenpilot.agent.android_keys import normalize_android_key
from screenpilot.agent.errors import ConfigError
from screenpilot.models.formats.base import SHARED_HANDLERS, shared_arguments, xy
from screenpilot.models.formats.toolcall import CallArguments, CallDialect, clip
from screenpilot.models.formats.toolformat import ToolCallFormat, ToolDialect
from screenpilot.models.resize import MAX_PIXELS, MIN_PIXELS, model_to_screen

if TYPE_CHECKING:
    from screenpilot.models.base import PromptFormat

NAME = "qwen2.5-vl-mobile"
"""The prompt format's name (``PromptSettings.format``, ``run.json``)."""

FUNCTION_NAME = "mobile_use"

CORE_ACTIONS: tuple[str, ...] = (
    "key", "click", "long_press", "swipe", "type", "system_button", "open", "wait", "terminate",
)
"""The actions of Qwen2.5-VL's ``mobile_use`` tool, in the order the schema lists them."""

EXTRA_ACTIONS: tuple[str, ...] = ("ask_user",)
"""Optional actions a run may enable."""

UNADVERTISED_ACTIONS: tuple[str, ...] = ("tap", "answer")
"""Accepted from the model but never advertised."""

SYSTEM_BUTTONS: dict[str, SystemButtonName] = {"back": "back", "home": "home", "menu": "menu", "enter": "enter"}
BUTTON_LABELS: tuple[str, ...] = ("Back", "Home", "Menu", "Enter")
"""How the schema spells the system buttons."""

DEFAULT_LONG_PRESS_S = 1.0
MAX_LONG_PRESS_S = 30.0
DEFAULT_SWIPE_S = 0.5
MAX_SWIPE_S = 10.0

DIALECT = CallDialect(FUNCTION_NAME, '{"action": "click", "coordinate": [x, y]}')
"""The function name and example call the model's hints use."""

# ---------------------------------------------------------------------------------------------
# The tool as the prompt describes it (filled per call; nothing here depends on the time or the run).

TOOL_DESCRIPTION_TEMPLATE = """Operate a mobile phone through its touchscreen, looking at screenshots.
* After every action you receive a new screenshot of the phone; there is no separate screenshot action.
* The screen's resolution is {width}x{height}.
* A coordinate is a pixel position in that screenshot: x counts from the left edge, y from the top edge.
* Touch the middle of the element you want to use, not its edge.
* Apps can take a moment to open or to respond; wait when the screen is still changing.
* If an action seems to have had no effect, study the new screenshot and try something else instead of repeating it."""

ACTION_DESCRIPTIONS: dict[str, str] = {
    "key": f"send the Android key event named in `text` (adb keyevent names, e.g. {KEY_EXAMPLES}).",
    "click": "tap the screen at `coordinate`.",
    "long_press": "touch `coordinate` and hold it for `time` seconds.",
    "swipe": "slide one finger from `coordinate` to `coordinate2`; the content follows the finger, "
    "so swipe upwards to see what is further down.",
    "type": "type `text` into the input field that has focus.",
    "system_button": "press the system `button`: Back returns to the previous screen, Home goes to the "
    "home screen, Menu shows the recent apps, Enter presses enter.",
    "open": "open the app whose name is `text`.",
    "wait": "do nothing for `time` seconds while the screen changes.",
    "terminate": "end the task and report `status`.",
    "ask_user": "ask the person a `question` when you need information or a decision only they can give.",
}

PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "coordinate": "(x, y): pixels from the left and the top edge of the screenshot. Needed by `click`, "
    "`long_press` and `swipe` (where the finger starts).",
    "coordinate2": "(x, y): where the finger ends. Needed by `swipe`.",
    "text": "Needed by `key` (the key event name), `type` (the text) and `open` (the app's name).",
    "time": "Seconds. Needed by `long_press` (how long to hold) and `wait`; optional for `swipe` "
    f"(how long the movement takes, default {DEFAULT_SWIPE_S:g}).",
    "button": "Needed by `system_button`: Back, Home, Menu or Enter.",
    "status": "Needed by `terminate`: whether the task was completed.",
    "question": "Needed by `ask_user`: the question for the person.",
    "answer": "Optional for `terminate`: the final answer, when the task asks for one.",
}


PARAMETERS: tuple[tuple[str, Mapping[str, object]], ...] = (
    ("coordinate", {"type": "array"}),
    ("coordinate2", {"type": "array"}),
    ("text", {"type": "string"}),
    ("time", {"type": "number"}),
    ("button", {"type": "string", "enum": list(BUTTON_LABELS)}),
    ("status", {"type": "string", "enum": ["success", "failure"]}),
)
"""The parameters every schema lists, with their JSON-schema types, in order."""


# ---------------------------------------------------------------------------------------------
# Canonical calls (the inverse of parse).

def _click_arguments(action: Click) -> dict[str, object]:
    if action.at is None or action.button != "left" or action.count != 1:
        raise ValueError(f"mobile_use taps once at a point; it cannot express {action}")
    return {"action": "click", "coordinate": xy(action.at)}


def _swipe_arguments(action: Swipe) -> dict[str, object]:
    args: dict[str, object] = {"action": "swipe", "coordinate": xy(action.start), "coordinate2": xy(action.end)}
    if action.seconds != DEFAULT_SWIPE_S:
        args["time"] = action.seconds
    return args


def call_arguments(action: Action) -> dict[str, object]:
    """The ``arguments`` object of the canonical ``mobile_use`` call for a model-space action.

    Raises ValueError for actions ``mobile_use`` cannot express (pointer moves, drags,
    scrolls, keyboard chords, navigation, clicks other than one left tap at a point).
    """
    shared = shared_arguments(action)
    if shared is not None:
        return shared
    match action:
        case Click():
            return _click_arguments(action)
        case LongPress(at=at, seconds=seconds):
            return {"action": "long_press", "coordinate": xy(at), "time": seconds}
        case Swipe():
            return _swipe_arguments(action)
        case AndroidKey(code=code):
            return {"action": "key", "text": code}
        case SystemButton(name=name):
            return {"action": "system_button", "button": name.capitalize()}
        case OpenApp(name=name):
            return {"action": "open", "text": name}
        case _:
            raise ValueError(f"mobile_use cannot express {type(action).__name__}: {action}")


# ---------------------------------------------------------------------------------------------
# Turning one call into an action.


class _Arguments(CallArguments):
    """:class:`~screenpilot.models.formats.toolcall.CallArguments` plus the readers of ``mobile_use``."""

    def seconds(self, default: float, maximum: float) -> float:
        """``time`` in ``(0, maximum]`` seconds; ``default`` when absent."""
        seconds = self.number("time", default)
        if not 0 < seconds <= maximum:
            raise self.fail(
                f'"time" must be more than 0 and at most {maximum:g} seconds, got {seconds:g}',
                f'Give "time" in seconds, more than 0 and at most {maximum:g}, e.g. "time": {default:g}.',
            )
        return seconds

    def key_code(self) -> str:
        raw = self.string("text", "key", "keys")
        code = normalize_android_key(raw)
        if code is None:
            raise self.fail(f"unknown Android key {clip(raw)}",
                            f"Unknown key {clip(raw)}. Name an Android key event in \"text\", e.g. {KEY_EXAMPLES}.")
        return code

    def app_name(self) -> str:
        """The app's name from ``text`` (or ``app``/``name``), without surrounding spaces."""
        name = self.string("text", "app", "name").strip()
        if not name:
            raise self.fail('"text" is blank', '"open" needs the app\'s name in "text", e.g. "text": "Settings".')
        return name

    def button(self) -> SystemButtonName:
        raw = self.string("button", "text")
        name = SYSTEM_BUTTONS.get(raw.strip().lower())
        if name is None:
            raise self.fail(f'"button" must be Back, Home, Menu or Enter, got {clip(raw)}',
                            '"button" is one of "Back", "Home", "Menu", "Enter", e.g. "button": "Back".')
        return name


def _long_press(args: _Arguments) -> LongPress:
    return LongPress(args.required_point(), args.seconds(DEFAULT_LONG_PRESS_S, MAX_LONG_PRESS_S))


def _swipe(args: _Arguments) -> Swipe:
    start, end = args.required_point(), args.required_point("coordinate2")
    if start == end:
        raise args.fail("coordinate2 equals coordinate", 'A swipe needs "coordinate2" away from "coordinate"; '
                        "to hold one point use long_press.")
    return Swipe(start, end, args.seconds(DEFAULT_SWIPE_S, MAX_SWIPE_S))


def _tap(args: _Arguments) -> Click:
    return Click(args.required_point())


_HANDLERS: dict[str, Callable[[_Arguments], Action]] = {
    **SHARED_HANDLERS,
    "key": lambda a: AndroidKey(a.key_code()),
    "click": _tap,
    "tap": _tap,
    "long_press": _long_press,
    "swipe": _swipe,
    "system_button": lambda a: SystemButton(a.button()),
    "open": lambda a: OpenApp(a.app_name()),
}


TOOL = ToolDialect(
    call=DIALECT, device="phone", description=TOOL_DESCRIPTION_TEMPLATE, actions=CORE_ACTIONS, extras=EXTRA_ACTIONS,
    parameters=PARAMETERS, action_descriptions=ACTION_DESCRIPTIONS, parameter_descriptions=PARAMETER_DESCRIPTIONS,
    arguments=_Arguments, handlers=_HANDLERS, write=call_arguments,
)
"""Qwen2.5-VL's ``mobile_use`` tool."""


def to_screen(model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]) -> Action:
    """``model_action`` with every point mapped to screen pixels; sizes are (width, height).

    Points go through :func:`screenpilot.models.resize.model_to_screen`; times and names are unchanged.
    """
    return map_points(model_action, lambda point: model_to_screen(point, model_size, screen_size))


# ---------------------------------------------------------------------------------------------
# The format object.


class Qwen25MobileFormat(ToolCallFormat):
    """Qwen2.5-VL's phone dialect (implements :class:`screenpilot.models.base.PromptFormat`).

    Requests, history layouts and the image budget behave exactly as in
    :class:`~screenpilot.models.formats.qwen25.Qwen25Format` (``min_pixels``, ``max_pixels``, ``keep_images``,
    ``max_image_tokens``); the tool, the parser, the mapping and the calls written into the
    history are ``mobile_use``'s. ``ask_user`` enables the hand-off action;
    ``terminate_answer`` advertises ``terminate``'s optional ``answer``.
    """

    name = NAME
    dialect = TOOL

    def __init__(
        self,
        *,
        min_pixels: int = MIN_PIXELS,
        max_pixels: int = MAX_PIXELS,
        keep_images: int = 1,
        ask_user: bool = True,
        terminate_answer: bool = False,
        max_image_tokens: int | None = None,
    ) -> None:
        super().__init__(
            min_pixels=min_pixels, max_pixels=max_pixels, keep_images=keep_images, max_image_tokens=max_image_tokens,
            extra_actions=("ask_user",) if ask_user else (), terminate_answer=terminate_answer,
        )

    def to_screen(
        self, model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]
    ) -> Action:
        """See :func:`to_screen`."""
        return to_screen(model_action, model_size, screen_size)


format_call = Qwen25MobileFormat.format_call
"""The canonical ``<tool_call>`` text of a model-space action (scripted phone replies)."""

format_calls = Qwen25MobileFormat.format_calls
"""Several canonical calls, one ``<tool_call>`` block each."""


def phone_prompt_format(
    requested: str,
    model: str | None,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    keep_images: int = 1,
    ask_user: bool = True,
    terminate_answer: bool = False,
) -> Qwen25MobileFormat:
    """The prompt format for a phone executor (``kind == "phone"``).

    ``requested`` is the configured format: ``qwen2.5-vl-mobile`` itself, or any name
    :func:`screenpilot.models.formats.registry.choose_format` accepts (``auto`` detects it from the ``model`` string)
    that resolves to Qwen2.5-VL, whose phone dialect this is. Another family (Qwen3-VL,
    UI-TARS) raises ConfigError: it has no phone format here. Bounds None: Qwen2.5-VL's own.
    """
    if requested.strip().lower() != NAME:
        from screenpilot.models.formats.registry import QWEN25, choose_format

        choice = choose_format(requested, model)
        if choice.name != QWEN25:
            raise ConfigError(f"phones use Qwen2.5-VL's mobile_use format, but the prompt format is "
                              f"{choice.name} ({choice.reason}); use a Qwen2.5-VL model or --prompt-format qwen2.5-vl")
    return Qwen25MobileFormat(min_pixels=MIN_PIXELS if min_pixels is None else min_pixels,
                              max_pixels=MAX_PIXELS if max_pixels is None else max_pixels, keep_images=keep_images,
                              ask_user=ask_user, terminate_answer=terminate_answer)


if TYPE_CHECKING:
    _satisfies_protocol: PromptFormat = Qwen25MobileFormat()
