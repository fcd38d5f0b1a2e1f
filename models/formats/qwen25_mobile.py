"""The Qwen2.5-VL phone prompt format: the ``mobile_use`` tool, its parser and mapping.

The sibling of :mod:`screenpilot.models.formats.qwen25` (``computer_use``) for phone executors (``executor.kind ==
"phone"``): the same function-calling layout, resize rules, history layouts and tolerance
(:mod:`screenpilot.models.formats.toolcall`), with the phone's verbs. The tool description advertises the phone
screenshot's *resized* size ``(W', H')``; coordinates the model writes are pixels of that image
and :func:`to_screen` maps them to the executor's screen pixels (for the emulated phone: device
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
:class:`~screenpilot.agent.errors.ModelError` subclasses leave :func:`parse`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from screenpilot.agent.actions import (
    Action,
    AndroidKey,
    AskUser,
    Click,
    LongPress,
    OpenApp,
    Point,
    Swipe,
    SystemButton,
    SystemButtonName,
    Terminate,
    TypeText,
    Wait,
    map_points,
)
from screenpilot.agent.android_keys import EXAMPLES as KEY_EXAMPLES
from screenpilot.agent.android_keys import normalize_android_key
from screenpilot.agent.errors import ConfigError, UnknownActionError
from screenpilot.models.formats.qwen25 import DEFAULT_WAIT_S, MAX_WAIT_S, Qwen25Format
from screenpilot.models.formats.toolcall import CallArguments, CallDialect, clip, parse_calls, read_arguments, read_verb
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
# Prompt templates (filled per call; nothing here depends on the time or the run).

SYSTEM_TEMPLATE = """You are a helpful assistant.

# Tools

You can use the function described below to operate the phone; its signature is inside <tools></tools> XML tags:
<tools>
{tools}
</tools>

To call it, write one JSON object with the function name and its arguments inside <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""

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


def _action_description(actions: Sequence[str]) -> str:
    lines = ["The action to perform. The available actions are:"]
    lines += [f"* `{verb}`: {ACTION_DESCRIPTIONS[verb]}" for verb in actions]
    return "\n".join(lines)


def _parameter(name: str, kind: str, **extra: object) -> dict[str, Any]:
    return {"description": PARAMETER_DESCRIPTIONS[name], "type": kind, **extra}


def tool_schema(
    model_size: tuple[int, int], extra_actions: Collection[str] = (), terminate_answer: bool = False
) -> dict[str, Any]:
    """The ``mobile_use`` tool as a JSON-ready dict (OpenAI/Qwen ``{"type": "function", ...}``).

    ``model_size`` (width, height) is the *resized* screenshot size written into the
    description. ``extra_actions`` may add ``ask_user`` (param ``question``);
    ``terminate_answer`` adds the optional ``answer`` parameter.
    """
    actions = [*CORE_ACTIONS, *(verb for verb in EXTRA_ACTIONS if verb in extra_actions)]
    properties: dict[str, Any] = {
        "action": {"description": _action_description(actions), "enum": actions, "type": "string"},
        "coordinate": _parameter("coordinate", "array"),
        "coordinate2": _parameter("coordinate2", "array"),
        "text": _parameter("text", "string"),
        "time": _parameter("time", "number"),
        "button": _parameter("button", "string", enum=list(BUTTON_LABELS)),
        "status": _parameter("status", "string", enum=["success", "failure"]),
    }
    if "ask_user" in extra_actions:
        properties["question"] = _parameter("question", "string")
    if terminate_answer:
        properties["answer"] = _parameter("answer", "string")
    return {
        "type": "function",
        "function": {
            "name": FUNCTION_NAME,
            "description": TOOL_DESCRIPTION_TEMPLATE.format(width=model_size[0], height=model_size[1]),
            "parameters": {"properties": properties, "required": ["action"], "type": "object"},
        },
    }


def system_prompt(
    model_size: tuple[int, int], extra_actions: Collection[str] = (), terminate_answer: bool = False
) -> str:
    """The system message text: the assistant line, then the ``# Tools`` section."""
    tools = json.dumps(tool_schema(model_size, extra_actions, terminate_answer), ensure_ascii=False)
    return SYSTEM_TEMPLATE.format(tools=tools)


# ---------------------------------------------------------------------------------------------
# Canonical calls (the inverse of parse).

_TAG_IN_JSON = re.compile(r"<(?=/?(?:tool_call|think)>)")


def _xy(point: Point) -> list[int]:
    return [point.x, point.y]


def _click_arguments(action: Click) -> dict[str, object]:
    if action.at is None or action.button != "left" or action.count != 1:
        raise ValueError(f"mobile_use taps once at a point; it cannot express {action}")
    return {"action": "click", "coordinate": _xy(action.at)}


def _swipe_arguments(action: Swipe) -> dict[str, object]:
    args: dict[str, object] = {"action": "swipe", "coordinate": _xy(action.start), "coordinate2": _xy(action.end)}
    if action.seconds != DEFAULT_SWIPE_S:
        args["time"] = action.seconds
    return args


def call_arguments(action: Action) -> dict[str, object]:
    """The ``arguments`` object of the canonical ``mobile_use`` call for a model-space action.

    Raises ValueError for actions ``mobile_use`` cannot express (pointer moves, drags,
    scrolls, keyboard chords, navigation, clicks other than one left tap at a point).
    """
    match action:
        case Click():
            return _click_arguments(action)
        case LongPress(at=at, seconds=seconds):
            return {"action": "long_press", "coordinate": _xy(at), "time": seconds}
        case Swipe():
            return _swipe_arguments(action)
        case TypeText(text=text):
            return {"action": "type", "text": text}
        case AndroidKey(code=code):
            return {"action": "key", "text": code}
        case SystemButton(name=name):
            return {"action": "system_button", "button": name.capitalize()}
        case OpenApp(name=name):
            return {"action": "open", "text": name}
        case Wait(seconds=seconds):
            return {"action": "wait", "time": seconds}
        case Terminate(status=status, answer=answer):
            args: dict[str, object] = {"action": "terminate", "status": status}
            if answer is not None:
                args["answer"] = answer
            return args
        case AskUser(question=question):
            return {"action": "ask_user", "question": question}
        case _:
            raise ValueError(f"mobile_use cannot express {type(action).__name__}: {action}")


def call_json(action: Action) -> str:
    """The call as one line of JSON, ``{"name": "mobile_use", "arguments": {...}}``.

    ``<`` is written as ``\\u003c`` where it would start a ``tool_call`` or ``think`` tag, so
    the text survives being parsed again whatever the action's strings contain.
    """
    text = json.dumps({"name": FUNCTION_NAME, "arguments": call_arguments(action)}, ensure_ascii=False)
    return _TAG_IN_JSON.sub(r"\\u003c", text)


def format_call(action: Action) -> str:
    """The canonical ``<tool_call>`` text for a model-space action: :func:`parse` returns it back.

    Raises ValueError for actions ``mobile_use`` cannot express (see :func:`call_arguments`).
    """
    return f"<tool_call>\n{call_json(action)}\n</tool_call>"


def format_calls(actions: Sequence[Action]) -> str:
    """Several canonical calls, one ``<tool_call>`` block each, separated by newlines."""
    return "\n".join(format_call(action) for action in actions)


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


def _wait(args: _Arguments) -> Wait:
    seconds = args.number("time", DEFAULT_WAIT_S)
    if not 0 <= seconds <= MAX_WAIT_S:
        raise args.fail(
            f'"time" must be between 0 and {MAX_WAIT_S:g} seconds, got {seconds:g}',
            f'Wait at most {MAX_WAIT_S:g} seconds per action, e.g. "time": 2.',
        )
    return Wait(seconds)


def _tap(args: _Arguments) -> Click:
    return Click(args.required_point())


_HANDLERS: dict[str, Callable[[_Arguments], Action]] = {
    "key": lambda a: AndroidKey(a.key_code()),
    "click": _tap,
    "tap": _tap,
    "long_press": _long_press,
    "swipe": _swipe,
    "type": lambda a: TypeText(a.string("text")),
    "system_button": lambda a: SystemButton(a.button()),
    "open": lambda a: OpenApp(a.app_name()),
    "wait": _wait,
    "terminate": lambda a: Terminate(a.status(), a.optional_text("answer")),
    "answer": lambda a: Terminate("success", a.string("text", "answer")),
    "ask_user": lambda a: AskUser(a.string("question", "text")),
}


def _unknown_action(problem: str, extras: Collection[str]) -> UnknownActionError:
    valid = [*CORE_ACTIONS, *(verb for verb in EXTRA_ACTIONS if verb in extras)]
    return UnknownActionError(problem, hint='"action" must be one of: ' + ", ".join(valid) + ".")


def _to_action(call: dict[str, Any], model_size: tuple[int, int], extras: Collection[str]) -> Action:
    values = read_arguments(call, DIALECT)
    verb = read_verb(values, lambda problem: _unknown_action(problem, extras))
    handler = _HANDLERS.get(verb)
    if handler is None or (verb in EXTRA_ACTIONS and verb not in extras):
        raise _unknown_action(f"unknown action {clip(values['action'])}", extras)
    return handler(_Arguments(verb, values, model_size))


def parse(text: str, model_size: tuple[int, int], *, extras: Collection[str] = EXTRA_ACTIONS) -> list[Action]:
    """The actions of a ``mobile_use`` reply, in model space, in order.

    ``model_size`` is (width, height) of the image the model saw; coordinates must lie in
    ``[0, W'] x [0, H']``. ``extras``: the enabled extra actions (default: ``ask_user``).
    Returns at least one action; stops after ``terminate``/``answer``/``ask_user``. Raises
    :class:`~screenpilot.agent.errors.ReplyParseError`, :class:`~screenpilot.agent.errors.UnknownActionError` or
    :class:`~screenpilot.agent.errors.InvalidArgumentError`; never anything else.
    """
    return parse_calls(text, DIALECT, lambda call: _to_action(call, model_size, extras))


def to_screen(model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]) -> Action:
    """``model_action`` with every point mapped to screen pixels; sizes are (width, height).

    Points go through :func:`screenpilot.models.resize.model_to_screen`; times and names are unchanged.
    """
    return map_points(model_action, lambda point: model_to_screen(point, model_size, screen_size))


# ---------------------------------------------------------------------------------------------
# The format object.


class Qwen25MobileFormat(Qwen25Format):
    """Qwen2.5-VL's phone dialect (implements :class:`screenpilot.models.base.PromptFormat`).

    Requests, history layouts and the image budget behave exactly as in
    :class:`~screenpilot.models.formats.qwen25.Qwen25Format` (``min_pixels``, ``max_pixels``, ``keep_images``,
    ``max_image_tokens``); the tool, the parser, the mapping and the calls written into the
    history are ``mobile_use``'s. ``ask_user`` enables the hand-off action;
    ``terminate_answer`` advertises ``terminate``'s optional ``answer``.
    """

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
        super().__init__(min_pixels=min_pixels, max_pixels=max_pixels, keep_images=keep_images,
                         browser_actions=False, ask_user=ask_user, terminate_answer=terminate_answer,
                         max_image_tokens=max_image_tokens)
        self.name = NAME

    def __repr__(self) -> str:
        return f"Qwen25MobileFormat({self.describe()})"

    def system_prompt(self, model_size: tuple[int, int]) -> str:
        """The system message text for a phone screenshot of ``model_size`` (width, height)."""
        return system_prompt(model_size, self.extra_actions, self.terminate_answer)

    def parse(self, text: str, model_size: tuple[int, int]) -> list[Action]:
        """Actions in model space; see :func:`parse` (only this format's extras are accepted)."""
        return parse(text, model_size, extras=self.extra_actions)

    def to_screen(
        self, model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]
    ) -> Action:
        """See :func:`to_screen`."""
        return to_screen(model_action, model_size, screen_size)

    @staticmethod
    def format_call(action: Action) -> str:
        """See :func:`format_call`."""
        return format_call(action)

    @staticmethod
    def history_call(action: Action) -> str:
        """How an earlier step's action is written in the text history (see :func:`call_json`)."""
        return call_json(action)


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
