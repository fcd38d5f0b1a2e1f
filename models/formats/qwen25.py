"""The Qwen2.5-VL prompt format: tool prompt, history, reply parsing and coordinate mapping.

The model sees one function tool, ``computer_use``, described in the system prompt in the
Qwen/Hermes function-calling layout (tool JSON inside ``<tools></tools>``, calls written as
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``). Coordinates it writes are absolute
pixels of the screenshot it saw, which :func:`screenpilot.models.resize.smart_resize` has resized to
``model_size`` = ``(W', H')``; :func:`to_screen` maps them to the real screen.

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
  positive = down (``dy = -pixels``). :func:`to_screen` scales ``dy`` by ``H / H'`` and ``dx``
  by ``W / W'``, the same factors as points, so a scroll covers the same fraction of the screen
  the model saw.
* **Extras** (``navigate``/``back`` for browsers, ``ask_user`` anywhere) are advertised and
  accepted only when enabled for the executor; using a disabled one is an
  :class:`~screenpilot.agent.errors.UnknownActionError`. ``terminate`` always accepts an optional ``answer``;
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
* **History**: with ``keep_images=1`` one user message holds the task, every earlier step as
  ``Step n: {call json};`` (with that step's feedback, e.g. a person's answer, in brackets),
  the feedback on the last step, then the screenshot. With ``keep_images=N > 1`` the last
  N - 1 steps come first as user (screenshot) / assistant (raw reply) turns, and the final user
  message holds the task, the older steps as text, the feedback and the current screenshot.

Parsing is pure and never evaluates model output: JSON is read with :mod:`json`, then with
:mod:`json5` for lenient syntax (single quotes, trailing commas). Only
:class:`~screenpilot.agent.errors.ModelError` subclasses leave :func:`parse`, whatever the text. Finding
calls and reading their arguments lives in :mod:`screenpilot.models.formats.toolcall`, shared with ``mobile_use``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image

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
    describe,
    map_points,
)
from screenpilot.agent.errors import ConfigError, UnknownActionError
from screenpilot.agent.keys import normalize_key, split_chord
from screenpilot.models.base import Message, ModelRequest, Turn
from screenpilot.models.formats.toolcall import CallArguments, CallDialect, clip, parse_calls, read_arguments, read_verb
from screenpilot.models.resize import (
    FACTOR,
    MAX_PIXELS,
    MIN_PIXELS,
    image_tokens,
    is_model_size,
    model_size_for,
    model_to_screen,
    scale_amount,
)

if TYPE_CHECKING:
    from screenpilot.models.base import PromptFormat

FUNCTION_NAME = "computer_use"

CORE_ACTIONS: tuple[str, ...] = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
    "middle_click", "double_click", "scroll", "wait", "terminate",
)
"""The actions of Qwen2.5-VL's ``computer_use`` tool, in the order the schema lists them."""

EXTRA_ACTIONS: tuple[str, ...] = ("navigate", "back", "ask_user")
"""Optional actions an executor may enable."""

BROWSER_EXTRAS: frozenset[str] = frozenset({"navigate", "back", "ask_user"})
"""The extras a browser executor enables (all of them)."""

DESKTOP_EXTRAS: frozenset[str] = frozenset({"ask_user"})
"""The extras a desktop executor enables."""

UNADVERTISED_ACTIONS: tuple[str, ...] = ("triple_click", "answer")
"""Accepted from the model (other Qwen generations use them) but never advertised."""

DEFAULT_WAIT_S = 1.0
MAX_WAIT_S = 60.0
MAX_SCROLL_PIXELS = 100_000
DIALECT = CallDialect(FUNCTION_NAME, '{"action": "left_click", "coordinate": [x, y]}')
"""The function name and example call the model's hints use."""

FORMAT_HINT = DIALECT.format_hint

# ---------------------------------------------------------------------------------------------
# Prompt templates (filled per call; nothing here depends on the time or the run).

SYSTEM_TEMPLATE = """You are a helpful assistant.

# Tools

You can use the function described below to operate the computer; its signature is inside <tools></tools> XML tags:
<tools>
{tools}
</tools>

To call it, write one JSON object with the function name and its arguments inside <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""

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
}

PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "keys": 'Needed by `key`: key names, e.g. ["ctrl", "c"], ["enter"] or ["alt", "tab"].',
    "text": "Needed by `type`: the text to type.",
    "coordinate": "(x, y): pixels from the left and the top edge of the screenshot. Needed by "
    "`mouse_move` and `left_click_drag`; optional for the clicks and `scroll`.",
    "pixels": "Needed by `scroll`: how far to scroll. Positive scrolls up, negative scrolls down.",
    "time": "Needed by `wait`: seconds to wait.",
    "status": "Needed by `terminate`: whether the task was completed.",
    "url": "Needed by `navigate`: the full address to open, e.g. https://example.com/.",
    "question": "Needed by `ask_user`: the question for the person.",
    "answer": "Optional for `terminate`: the final answer, when the task asks for one.",
}

TASK_TEMPLATE = "Task: {task}"
HISTORY_TEMPLATE = "Previous actions:\n{steps}"
STEP_TEMPLATE = "Step {number}: {calls};"
STEP_NOTE_TEMPLATE = "Step {number}: {calls} (feedback: {note});"
NO_CALL_TEXT = "(no valid tool call)"
FEEDBACK_TEMPLATE = "Feedback on your last action: {feedback}"


def _action_description(actions: Sequence[str]) -> str:
    lines = ["The action to perform. The available actions are:"]
    lines += [f"* `{verb}`: {ACTION_DESCRIPTIONS[verb]}" for verb in actions]
    return "\n".join(lines)


def tool_schema(
    model_size: tuple[int, int],
    extra_actions: Collection[str] = (),
    terminate_answer: bool = False,
) -> dict[str, Any]:
    """The ``computer_use`` tool as a JSON-ready dict (OpenAI/Qwen ``{"type": "function", ...}``).

    ``model_size`` (width, height) is the resized screenshot size written into the description.
    ``extra_actions`` adds ``navigate`` (param ``url``), ``back`` and ``ask_user`` (``question``);
    ``terminate_answer`` adds the optional ``answer`` parameter.
    """
    actions = [*CORE_ACTIONS, *(verb for verb in EXTRA_ACTIONS if verb in extra_actions)]
    properties: dict[str, Any] = {
        "action": {"description": _action_description(actions), "enum": actions, "type": "string"},
        "keys": {"description": PARAMETER_DESCRIPTIONS["keys"], "type": "array", "items": {"type": "string"}},
        "text": {"description": PARAMETER_DESCRIPTIONS["text"], "type": "string"},
        "coordinate": {"description": PARAMETER_DESCRIPTIONS["coordinate"], "type": "array"},
        "pixels": {"description": PARAMETER_DESCRIPTIONS["pixels"], "type": "number"},
        "time": {"description": PARAMETER_DESCRIPTIONS["time"], "type": "number"},
        "status": {
            "description": PARAMETER_DESCRIPTIONS["status"],
            "type": "string",
            "enum": ["success", "failure"],
        },
    }
    if "navigate" in extra_actions:
        properties["url"] = {"description": PARAMETER_DESCRIPTIONS["url"], "type": "string"}
    if "ask_user" in extra_actions:
        properties["question"] = {"description": PARAMETER_DESCRIPTIONS["question"], "type": "string"}
    if terminate_answer:
        properties["answer"] = {"description": PARAMETER_DESCRIPTIONS["answer"], "type": "string"}
    description = TOOL_DESCRIPTION_TEMPLATE.format(width=model_size[0], height=model_size[1])
    return {
        "type": "function",
        "function": {
            "name": FUNCTION_NAME,
            "description": description,
            "parameters": {"properties": properties, "required": ["action"], "type": "object"},
        },
    }


def system_prompt(
    model_size: tuple[int, int],
    extra_actions: Collection[str] = (),
    terminate_answer: bool = False,
) -> str:
    """The system message text: the assistant line, then the ``# Tools`` section."""
    tools = json.dumps(tool_schema(model_size, extra_actions, terminate_answer), ensure_ascii=False)
    return SYSTEM_TEMPLATE.format(tools=tools)


# ---------------------------------------------------------------------------------------------
# Canonical calls (the inverse of parse).

_CLICK_VERBS: dict[tuple[str, int], str] = {
    ("left", 1): "left_click",
    ("right", 1): "right_click",
    ("middle", 1): "middle_click",
    ("left", 2): "double_click",
    ("left", 3): "triple_click",
}

_TAG_IN_JSON = re.compile(r"<(?=/?(?:tool_call|think)>)")


def _xy(point: Point) -> list[int]:
    return [point.x, point.y]


def _click_arguments(action: Click) -> dict[str, object]:
    verb = _CLICK_VERBS.get((action.button, action.count))
    if verb is None:
        raise ValueError(f"Qwen2.5-VL has no action for {action.count} {action.button} click(s)")
    args: dict[str, object] = {"action": verb}
    if action.at is not None:
        args["coordinate"] = _xy(action.at)
    return args


def _scroll_arguments(action: Scroll) -> dict[str, object]:
    if action.dx or not action.dy:
        raise ValueError(f"Qwen2.5-VL scrolls only vertically by a non-zero amount, got {action}")
    args: dict[str, object] = {"action": "scroll", "pixels": -action.dy}
    if action.at is not None:
        args["coordinate"] = _xy(action.at)
    return args


def _drag_arguments(action: Drag) -> dict[str, object]:
    args: dict[str, object] = {"action": "left_click_drag"}
    if action.start is not None:
        args["start_coordinate"] = _xy(action.start)
    args["coordinate"] = _xy(action.to)
    return args


def call_arguments(action: Action) -> dict[str, object]:
    """The ``arguments`` object of the canonical ``computer_use`` call for a model-space action.

    Raises ValueError for actions Qwen2.5-VL cannot express (a right double-click, a
    horizontal or zero scroll, the phone actions of :mod:`screenpilot.models.formats.qwen25_mobile`).
    """
    match action:
        case Click():
            return _click_arguments(action)
        case Scroll():
            return _scroll_arguments(action)
        case Drag():
            return _drag_arguments(action)
        case MoveTo(at=at):
            return {"action": "mouse_move", "coordinate": _xy(at)}
        case TypeText(text=text):
            return {"action": "type", "text": text}
        case PressKeys(keys=keys):
            return {"action": "key", "keys": list(keys)}
        case Wait(seconds=seconds):
            return {"action": "wait", "time": seconds}
        case Terminate(status=status, answer=answer):
            args: dict[str, object] = {"action": "terminate", "status": status}
            if answer is not None:
                args["answer"] = answer
            return args
        case Navigate(url=url):
            return {"action": "navigate", "url": url}
        case GoBack():
            return {"action": "back"}
        case AskUser(question=question):
            return {"action": "ask_user", "question": question}
        case LongPress() | Swipe() | SystemButton() | AndroidKey() | OpenApp():
            raise ValueError(f"computer_use cannot express the phone action {describe(action)}")


def call_json(action: Action) -> str:
    """The call object as one line of JSON, ``{"name": "computer_use", "arguments": {...}}``.

    ``<`` is written as ``\\u003c`` where it would start a ``tool_call`` or ``think`` tag, so
    the text survives being parsed again whatever the action's strings contain.
    """
    text = json.dumps({"name": FUNCTION_NAME, "arguments": call_arguments(action)}, ensure_ascii=False)
    return _TAG_IN_JSON.sub(r"\\u003c", text)


def format_call(action: Action) -> str:
    """The canonical ``<tool_call>`` text for a model-space action: ``parse`` returns it back.

    Used by scripted replies, recorders and calibration. Raises ValueError for actions
    Qwen2.5-VL cannot express (see :func:`call_arguments`).
    """
    return f"<tool_call>\n{call_json(action)}\n</tool_call>"


def format_calls(actions: Sequence[Action]) -> str:
    """Several canonical calls, one ``<tool_call>`` block each, separated by newlines."""
    return "\n".join(format_call(action) for action in actions)


# ---------------------------------------------------------------------------------------------
# Turning one call into an action.


_KEY_EXAMPLES = '"ctrl", "shift", "alt", "meta", "enter", "tab", "escape", "backspace", "pagedown", "up", "f5", "a"'


class _Arguments(CallArguments):
    """:class:`~screenpilot.models.formats.toolcall.CallArguments` plus the ``keys`` of ``computer_use``."""

    def keys(self) -> tuple[str, ...]:
        """Canonical key names from a list or a chord string under keys / key / text."""
        hint = f'"keys" must list key names such as {_KEY_EXAMPLES}, e.g. "keys": ["ctrl", "c"].'
        raw = next((self.values[k] for k in ("keys", "key", "text") if self.values.get(k) is not None), None)
        if raw is None:
            raise self.fail('missing "keys"', hint)
        items = raw if isinstance(raw, list) else [raw]
        names: list[str] = []
        for item in items:
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str):
                raise self.fail(f'"keys" is not a list of key names: {clip(raw)}', hint)
            names += _key_names(item)
        if not names:
            raise self.fail('missing "keys"', hint)
        canonical = [normalize_key(name) for name in names]
        unknown = [name for name, key in zip(names, canonical, strict=True) if key is None]
        if unknown:
            raise self.fail(f"unknown key {clip(unknown[0])}", f"Unknown key {clip(unknown[0])}. " + hint)
        return tuple(key for key in canonical if key is not None)



def _key_names(item: str) -> list[str]:
    """One list item of ``keys`` as key names: a whole name ("Page Down") or a chord ("ctrl+c")."""
    if len(item) == 1 or normalize_key(item) is not None:
        return [item]
    return split_chord(item)


def _scroll(args: _Arguments) -> Scroll:
    pixels = args.number("pixels")
    amount = round(pixels)
    if not amount or abs(amount) > MAX_SCROLL_PIXELS:
        raise args.fail(
            f'"pixels" must be a non-zero number of at most {MAX_SCROLL_PIXELS} in size, got {pixels:g}',
            '"pixels" scrolls that far: positive scrolls up, negative scrolls down, e.g. "pixels": -500.',
        )
    return Scroll(dy=-amount, at=args.point())


def _wait(args: _Arguments) -> Wait:
    seconds = args.number("time", DEFAULT_WAIT_S)
    if not 0 <= seconds <= MAX_WAIT_S:
        raise args.fail(
            f'"time" must be between 0 and {MAX_WAIT_S:g} seconds, got {seconds:g}',
            f'Wait at most {MAX_WAIT_S:g} seconds per action, e.g. "time": 2.',
        )
    return Wait(seconds)


def _click(button: MouseButton, count: int = 1) -> Callable[[_Arguments], Action]:
    def make(args: _Arguments) -> Action:
        return Click(args.point(), button, count)

    return make


_HANDLERS: dict[str, Callable[[_Arguments], Action]] = {
    "key": lambda a: PressKeys(a.keys()),
    "type": lambda a: TypeText(a.string("text")),
    "mouse_move": lambda a: MoveTo(a.required_point()),
    "left_click": _click("left"),
    "left_click_drag": lambda a: Drag(a.required_point(), a.point("start_coordinate")),
    "right_click": _click("right"),
    "middle_click": _click("middle"),
    "double_click": _click("left", 2),
    "triple_click": _click("left", 3),
    "scroll": _scroll,
    "wait": _wait,
    "terminate": lambda a: Terminate(a.status(), a.optional_text("answer")),
    "answer": lambda a: Terminate("success", a.string("text", "answer")),
    "navigate": lambda a: Navigate(a.string("url")),
    "back": lambda a: GoBack(),
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


def parse(
    text: str, model_size: tuple[int, int], *, extras: Collection[str] = BROWSER_EXTRAS
) -> list[Action]:
    """The actions of a Qwen2.5-VL reply, in model space, in order.

    ``model_size`` is (width, height) of the image the model saw; coordinates must lie in
    ``[0, W'] x [0, H']``. ``extras`` are the enabled extra actions (default: all of them).
    Returns at least one action; stops after ``terminate``/``answer``/``ask_user``. Raises
    :class:`~screenpilot.agent.errors.ReplyParseError` (no call, empty reply, unreadable JSON),
    :class:`~screenpilot.agent.errors.UnknownActionError` (wrong function or action) or
    :class:`~screenpilot.agent.errors.InvalidArgumentError`; never anything else.
    """
    return parse_calls(text, DIALECT, lambda call: _to_action(call, model_size, extras))


def to_screen(model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]) -> Action:
    """``model_action`` mapped to screen pixels; sizes are (width, height).

    Points go through :func:`screenpilot.models.resize.model_to_screen`; a scroll's ``dy`` is scaled by
    ``H / H'`` and ``dx`` by ``W / W'`` (see :func:`screenpilot.models.resize.scale_amount`).
    """
    action = map_points(model_action, lambda point: model_to_screen(point, model_size, screen_size))
    if isinstance(action, Scroll):
        return Scroll(
            dy=scale_amount(action.dy, model_size[1], screen_size[1]),
            dx=scale_amount(action.dx, model_size[0], screen_size[0]),
            at=action.at,
        )
    return action


# ---------------------------------------------------------------------------------------------
# History and requests.


def _step_calls(turn: Turn, render: Callable[[Action], str]) -> str:
    if not turn.model_actions:
        return NO_CALL_TEXT
    parts = []
    for action in turn.model_actions:
        try:
            parts.append(render(action))
        except ValueError:
            parts.append(describe(action))
    return ", ".join(parts)


def _history_text(
    turns: Sequence[Turn], notes: Sequence[str | None], render: Callable[[Action], str] = call_json
) -> str:
    """The text history: ``Step n: {call};`` per turn, calls written by ``render``
    (falling back to :func:`~screenpilot.agent.actions.describe` where it raises ValueError)."""
    lines = []
    for number, (turn, note) in enumerate(zip(turns, notes, strict=True), start=1):
        template = STEP_TEMPLATE if note is None else STEP_NOTE_TEMPLATE
        lines.append(template.format(number=number, calls=_step_calls(turn, render), note=note))
    return HISTORY_TEMPLATE.format(steps="\n".join(lines))


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _image(image: Image.Image) -> dict[str, Any]:
    return {"type": "image", "image": image}


class Qwen25Format:
    """Qwen2.5-VL's dialect (implements :class:`screenpilot.models.base.PromptFormat`).

    ``min_pixels`` / ``max_pixels``: the smart_resize bounds used for the advertised size, the
    image sent and the mapping back. ``keep_images``: how many of the most recent screenshots
    go to the model as images (1: the cookbook layout, one user message with the history as
    text; N > 1: OSWorld-style, the last N - 1 steps as user-image / assistant-reply turns
    before the final user message, older steps as text in it). ``max_image_tokens``: optional
    cap on the image tokens of one request, which lowers the number of images kept (never
    below the current one). ``browser_actions``: enable ``navigate`` and ``back`` (browser
    executors). ``ask_user``: enable ``ask_user`` (default on; the loop answers it through its
    human channel). ``terminate_answer``: advertise the optional ``answer`` of ``terminate``.
    Bad values raise :class:`screenpilot.agent.errors.ConfigError`.
    """

    resize_factor: int = FACTOR
    """Side granularity of model-space images in pixels (28 = patch 14 x merge 2)."""

    def __init__(
        self,
        *,
        min_pixels: int = MIN_PIXELS,
        max_pixels: int = MAX_PIXELS,
        keep_images: int = 1,
        browser_actions: bool = False,
        ask_user: bool = True,
        terminate_answer: bool = False,
        max_image_tokens: int | None = None,
    ) -> None:
        if not 0 < min_pixels <= max_pixels:
            raise ConfigError(f"need 0 < min_pixels <= max_pixels, got {min_pixels} and {max_pixels}")
        if keep_images < 1:
            raise ConfigError(f"keep_images must be at least 1, got {keep_images}")
        if max_image_tokens is not None and max_image_tokens < 1:
            raise ConfigError(f"max_image_tokens must be positive, got {max_image_tokens}")
        self.name = "qwen2.5-vl"
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.keep_images = keep_images
        self.max_image_tokens = max_image_tokens
        self.terminate_answer = terminate_answer
        extras = {"navigate", "back"} if browser_actions else set()
        if ask_user:
            extras.add("ask_user")
        self.extra_actions: frozenset[str] = frozenset(extras)

    def __repr__(self) -> str:
        return f"Qwen25Format({self.describe()})"

    def describe(self) -> dict[str, object]:
        """Settings for ``run.json``."""
        return {
            "name": self.name,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            "keep_images": self.keep_images,
            "max_image_tokens": self.max_image_tokens,
            "extra_actions": sorted(self.extra_actions),
            "terminate_answer": self.terminate_answer,
        }

    def model_size(self, screen_size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) the model sees for a screen of ``screen_size`` (width, height)."""
        return model_size_for(screen_size, self.min_pixels, self.max_pixels)

    def image_tokens(self, model_size: tuple[int, int]) -> int:
        """Vision tokens one image of ``model_size`` (width, height) costs: (W'/14)(H'/14)/4."""
        return image_tokens(*model_size)

    def is_model_size(self, size: tuple[int, int]) -> bool:
        """Whether ``size`` (width, height) is a model-space size for this format: sides multiples
        of :attr:`resize_factor`, area within the bounds (:func:`screenpilot.models.resize.is_model_size`)."""
        return is_model_size(size, self.min_pixels, self.max_pixels)

    def system_prompt(self, model_size: tuple[int, int]) -> str:
        """The system message text for a screenshot of ``model_size`` (width, height)."""
        return system_prompt(model_size, self.extra_actions, self.terminate_answer)

    def images_kept(self, model_size: tuple[int, int]) -> int:
        """How many screenshots a request carries at most (the current one included)."""
        if self.max_image_tokens is None:
            return self.keep_images
        per_image = self.image_tokens(model_size)
        return max(1, min(self.keep_images, self.max_image_tokens // per_image))

    def build_request(
        self, task: str, history: Sequence[Turn], model_image: Image.Image, feedback: str | None
    ) -> ModelRequest:
        """The request for the next step.

        ``model_image`` must already be in model space (resized to :meth:`model_size`, e.g. by
        :func:`screenpilot.models.resize.resize_image`): a size that is not a model-space size for this
        format's bounds (:func:`screenpilot.models.resize.is_model_size`) raises ValueError.
        Each turn's ``feedback`` is kept next to its step; ``feedback`` (about the last step)
        ends the final user text, and is not repeated when it equals the last turn's feedback.
        """
        size = model_image.size
        if not self.is_model_size(size):
            raise ValueError(
                f"model_image is {size[0]}x{size[1]}, not a model-space size for {self.name} "
                f"(sides multiples of {self.resize_factor}, area within min_pixels={self.min_pixels} and "
                f"max_pixels={self.max_pixels}); resize the screenshot to model_size(screen_size) first"
            )
        notes = [turn.feedback for turn in history]
        if history and feedback is not None and notes[-1] == feedback:
            notes[-1] = None
        recent = min(self.images_kept(size) - 1, len(history))
        split = len(history) - recent
        messages: list[Message] = [{"role": "system", "content": [_text(self.system_prompt(size))]}]
        messages += self._turn_messages(history[split:], notes[split:])
        final_note = notes[-1] if recent else None
        sections = [TASK_TEMPLATE.format(task=task)]
        if split:
            sections.append(_history_text(history[:split], notes[:split], self.history_call))
        sections += [FEEDBACK_TEMPLATE.format(feedback=f) for f in (final_note, feedback) if f is not None]
        messages.append({"role": "user", "content": [_text("\n\n".join(sections)), _image(model_image)]})
        return ModelRequest(messages, size, self.min_pixels, self.max_pixels, self.resize_factor)

    @staticmethod
    def _turn_messages(turns: Sequence[Turn], notes: Sequence[str | None]) -> list[Message]:
        """User-image / assistant-reply pairs; a step's feedback opens the next user message."""
        messages: list[Message] = []
        for index, turn in enumerate(turns):
            content: list[dict[str, Any]] = []
            if index and notes[index - 1] is not None:
                content.append(_text(FEEDBACK_TEMPLATE.format(feedback=notes[index - 1])))
            content.append(_image(turn.model_image))
            messages.append({"role": "user", "content": content})
            messages.append({"role": "assistant", "content": [_text(turn.reply_text)]})
        return messages

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


if TYPE_CHECKING:
    _satisfies_protocol: PromptFormat = Qwen25Format()
