"""The Qwen3-VL prompt format: Qwen2.5-VL's ``computer_use`` tool on a normalised 0-1000 grid.

What differs from :mod:`screenpilot.models.formats.qwen25` (everything else — the ``<tool_call>`` layout, the
tolerant call finder of :mod:`screenpilot.models.formats.toolcall`, the history layouts, feedback — is shared by
subclassing :class:`~screenpilot.models.formats.qwen25.Qwen25Format`):

* **Coordinates** are thousandths of the screenshot, whatever its size: ``[0, 0]`` is the
  top-left corner, ``[1000, 1000]`` the bottom-right one. The tool description says so and gives
  the screen's resolution as 1000x1000. Model space for this format is that grid
  (:data:`GRID_SIZE`), so :meth:`Qwen3VLFormat.parse` checks ``0 <= x, y <= 1000`` (never
  clamped silently) and :meth:`Qwen3VLFormat.to_screen` maps ``x_screen = x * W / 1000`` and
  ``y_screen = y * H / 1000`` (rounded half up, clamped onto the last pixel). The ``model_size``
  argument of both is the image size the model saw; it does not enter the mapping.
* **Image size**: :func:`screenpilot.models.resize.smart_resize` with factor 32 (ViT patch 16 x spatial
  merge 2), within the bounds of the released ``preprocessor_config.json`` by default
  (:data:`MIN_PIXELS` 65,536 .. :data:`MAX_PIXELS` 16,777,216, its ``size.shortest_edge`` /
  ``size.longest_edge``), so a server resizing with its defaults leaves the image alone. An
  image costs ``(W'/32) * (H'/32)`` tokens (1280x720 -> 1280x704 = 880 tokens).
* **Actions**: Qwen2.5-VL's set plus ``triple_click`` (-> :class:`~screenpilot.agent.actions.Click` with
  ``count=3``), ``hscroll`` (``pixels``: positive scrolls right, negative left ->
  :class:`~screenpilot.agent.actions.Scroll` ``dx``) and ``answer`` (``text`` ->
  :class:`~screenpilot.agent.actions.Terminate` success with that answer), all advertised. ``pixels``
  of ``scroll`` / ``hscroll`` are in grid units too (a thousandth of the screen's height / width),
  scaled by ``H / 1000`` / ``W / 1000``.
* **Canonical calls** (:func:`format_call`): a success with an answer is written as ``answer``, a
  horizontal scroll as ``hscroll``; a scroll that moves both ways cannot be written.

Only :class:`~screenpilot.agent.errors.ModelError` subclasses leave :func:`parse`; nothing is evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from screenpilot.agent.actions import Action, Scroll, Terminate
from screenpilot.agent.errors import UnknownActionError
from screenpilot.models.formats import qwen25
from screenpilot.models.formats.qwen25 import (
    ACTION_DESCRIPTIONS,
    BROWSER_EXTRAS,
    EXTRA_ACTIONS,
    MAX_SCROLL_PIXELS,
    PARAMETER_DESCRIPTIONS,
    SYSTEM_TEMPLATE,
    Qwen25Format,
)
from screenpilot.models.formats.toolcall import CallDialect, clip, parse_calls, read_arguments, read_verb
from screenpilot.models.resize import image_tokens, smart_resize

if TYPE_CHECKING:
    from screenpilot.models.base import PromptFormat

NAME = "qwen3-vl"
"""The prompt format's name (``--prompt-format``, ``run.json``)."""

FUNCTION_NAME = qwen25.FUNCTION_NAME

GRID = 1000
"""Coordinates run from 0 to this value on each axis."""

GRID_SIZE: tuple[int, int] = (GRID, GRID)
"""Model space of this format's actions, as (width, height)."""

PATCH_SIZE = 16
MERGE_SIZE = 2
FACTOR = PATCH_SIZE * MERGE_SIZE
"""Side granularity of Qwen3-VL images: ViT patch 16 times spatial merge 2."""

MIN_PIXELS = 65536
"""Lower area bound of the released Qwen3-VL preprocessor (``size.shortest_edge``, 64 * 32 * 32)."""

MAX_PIXELS = 16777216
"""Upper area bound of the released Qwen3-VL preprocessor (``size.longest_edge``, 16384 * 32 * 32)."""

CORE_ACTIONS: tuple[str, ...] = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
    "double_click", "triple_click", "scroll", "hscroll", "wait", "terminate", "answer",
)
"""The actions of Qwen3-VL's ``computer_use`` tool, in the order the schema lists them."""

DIALECT = CallDialect(FUNCTION_NAME, '{"action": "left_click", "coordinate": [500, 300]}')
"""The function name and example call the model's hints use (grid coordinates)."""

TOOL_DESCRIPTION = """Operate a computer with its mouse and keyboard, looking at screenshots.
* After every action you receive a new screenshot of the screen; there is no separate screenshot action.
* The screen's resolution is 1000x1000, whatever the screenshot's real size in pixels.
* A coordinate [x, y] is in thousandths: x of the width from the left edge, y of the height from the top edge.
* [0, 0] is the top-left corner of the screenshot, [500, 500] its centre and [1000, 1000] its bottom-right corner.
* Aim at the middle of the element you want to use, not at its border.
* If an action seems to have had no effect, study the new screenshot and change your approach instead of repeating it.
* Programs and pages can take a while to respond; wait when the screen is still changing."""

_QWEN3_ACTION_DESCRIPTIONS: dict[str, str] = {
    **ACTION_DESCRIPTIONS,
    "triple_click": "triple-click the left mouse button at `coordinate` (selects a line or paragraph).",
    "scroll": "turn the mouse wheel by `pixels` (positive scrolls up, negative scrolls down), "
    "at `coordinate` when given.",
    "hscroll": "turn the mouse wheel sideways by `pixels` (positive scrolls right, negative scrolls left), "
    "at `coordinate` when given.",
    "answer": "give the final answer `text` to the user's question and end the task.",
}

_QWEN3_PARAMETER_DESCRIPTIONS: dict[str, str] = {
    **PARAMETER_DESCRIPTIONS,
    "text": "Needed by `type`: the text to type; needed by `answer`: the answer.",
    "coordinate": "[x, y]: thousandths (0 to 1000) of the screenshot's width and height from its left and top "
    "edges. Needed by `mouse_move` and `left_click_drag`; optional for the clicks and the scrolls.",
    "pixels": "Needed by `scroll` and `hscroll`: how far to scroll, in thousandths of the screen. Positive "
    "scrolls up (or right), negative scrolls down (or left).",
}


def _action_description(actions: Collection[str]) -> str:
    lines = ["The action to perform. The available actions are:"]
    lines += [f"* `{verb}`: {_QWEN3_ACTION_DESCRIPTIONS[verb]}" for verb in actions]
    return "\n".join(lines)


def tool_schema(extra_actions: Collection[str] = (), terminate_answer: bool = False) -> dict[str, Any]:
    """The Qwen3-VL ``computer_use`` tool as a JSON-ready dict (``{"type": "function", ...}``).

    No screen size goes in: the grid is always 1000x1000. ``extra_actions`` adds ``navigate``
    (``url``), ``back`` and ``ask_user`` (``question``); ``terminate_answer`` adds ``answer``
    as an optional parameter of ``terminate`` (the ``answer`` action is always there).
    """
    actions = [*CORE_ACTIONS, *(verb for verb in EXTRA_ACTIONS if verb in extra_actions)]
    described = _QWEN3_PARAMETER_DESCRIPTIONS
    properties: dict[str, Any] = {
        "action": {"description": _action_description(actions), "enum": actions, "type": "string"},
        "keys": {"description": described["keys"], "type": "array", "items": {"type": "string"}},
        "text": {"description": described["text"], "type": "string"},
        "coordinate": {"description": described["coordinate"], "type": "array"},
        "pixels": {"description": described["pixels"], "type": "number"},
        "time": {"description": described["time"], "type": "number"},
        "status": {"description": described["status"], "type": "string", "enum": ["success", "failure"]},
    }
    optional = {"url": "navigate" in extra_actions, "question": "ask_user" in extra_actions,
                "answer": terminate_answer}
    properties.update({key: {"description": described[key], "type": "string"} for key, on in optional.items() if on})
    return {
        "type": "function",
        "function": {
            "name": FUNCTION_NAME,
            "description": TOOL_DESCRIPTION,
            "parameters": {"properties": properties, "required": ["action"], "type": "object"},
        },
    }


def system_prompt(extra_actions: Collection[str] = (), terminate_answer: bool = False) -> str:
    """The system message text: the assistant line, then the ``# Tools`` section."""
    tools = json.dumps(tool_schema(extra_actions, terminate_answer), ensure_ascii=False)
    return SYSTEM_TEMPLATE.format(tools=tools)


# ---------------------------------------------------------------------------------------------
# Parsing.


class _GridArguments(qwen25._Arguments):
    """Arguments whose points are on the 0-1000 grid (the hint says so)."""

    def _point_hint(self, key: str) -> str:
        return (
            f'"{key}" must be [x, y]: two whole numbers from 0 to {GRID}, thousandths of the screenshot\'s '
            f"width and height ([0, 0] top-left, [{GRID}, {GRID}] bottom-right)."
        )


def _hscroll(args: qwen25._Arguments) -> Action:
    pixels = args.number("pixels")
    amount = round(pixels)
    if not amount or abs(amount) > MAX_SCROLL_PIXELS:
        raise args.fail(
            f'"pixels" must be a non-zero number of at most {MAX_SCROLL_PIXELS} in size, got {pixels:g}',
            '"pixels" scrolls that far: positive scrolls right, negative scrolls left, e.g. "pixels": 300.',
        )
    return Scroll(dy=0, dx=amount, at=args.point())


_HANDLERS: dict[str, Callable[[qwen25._Arguments], Action]] = {**qwen25._HANDLERS, "hscroll": _hscroll}


def _unknown_action(problem: str, extras: Collection[str]) -> UnknownActionError:
    valid = [*CORE_ACTIONS, *(verb for verb in EXTRA_ACTIONS if verb in extras)]
    return UnknownActionError(problem, hint='"action" must be one of: ' + ", ".join(valid) + ".")


def _to_action(call: dict[str, Any], extras: Collection[str]) -> Action:
    values = read_arguments(call, DIALECT)
    verb = read_verb(values, lambda problem: _unknown_action(problem, extras))
    handler = _HANDLERS.get(verb)
    if handler is None or (verb in EXTRA_ACTIONS and verb not in extras):
        raise _unknown_action(f"unknown action {clip(values['action'])}", extras)
    return handler(_GridArguments(verb, values, GRID_SIZE))


def parse(text: str, *, extras: Collection[str] = BROWSER_EXTRAS) -> list[Action]:
    """The actions of a Qwen3-VL reply, on the 0-1000 grid, in order.

    Same tolerance and cut rules as :func:`screenpilot.models.formats.qwen25.parse` (stops after ``terminate``,
    ``answer`` or ``ask_user``); coordinates must lie in ``[0, 1000] x [0, 1000]``. ``extras``
    are the enabled extra actions. Raises ReplyParseError, UnknownActionError or
    InvalidArgumentError, never anything else.
    """
    return parse_calls(text, DIALECT, lambda call: _to_action(call, extras))


def to_screen(model_action: Action, screen_size: tuple[int, int]) -> Action:
    """``model_action`` (grid coordinates) mapped to screen pixels of ``screen_size`` (width, height).

    ``x = round(x' * W / 1000)``, ``y = round(y' * H / 1000)`` (halves up, clamped into the
    screen); scroll amounts scale by ``H / 1000`` (``dy``) and ``W / 1000`` (``dx``).
    """
    return qwen25.to_screen(model_action, GRID_SIZE, screen_size)


# ---------------------------------------------------------------------------------------------
# Canonical calls (the inverse of parse).

_TAG_IN_JSON = re.compile(r"<(?=/?(?:tool_call|think)>)")


def call_arguments(action: Action) -> dict[str, object]:
    """The ``arguments`` of the canonical Qwen3-VL call for a grid-space action.

    Differs from :func:`screenpilot.models.formats.qwen25.call_arguments` for a success with an answer (``answer``)
    and a horizontal scroll (``hscroll``). Raises ValueError for what Qwen3-VL cannot express
    (a scroll in both directions or by zero, a right double-click, phone actions).
    """
    match action:
        case Terminate(status="success", answer=str() as answer):
            return {"action": "answer", "text": answer}
        case Scroll(dx=dx, dy=0, at=at) if dx:
            args: dict[str, object] = {"action": "hscroll", "pixels": dx}
            if at is not None:
                args["coordinate"] = [at.x, at.y]
            return args
        case _:
            return qwen25.call_arguments(action)


def call_json(action: Action) -> str:
    """The call object as one line of JSON (``<`` escaped where it would open a tag)."""
    text = json.dumps({"name": FUNCTION_NAME, "arguments": call_arguments(action)}, ensure_ascii=False)
    return _TAG_IN_JSON.sub(r"\\u003c", text)


def format_call(action: Action) -> str:
    """The canonical ``<tool_call>`` text for a grid-space action: :func:`parse` returns it back."""
    return f"<tool_call>\n{call_json(action)}\n</tool_call>"


# ---------------------------------------------------------------------------------------------
# The format.


class Qwen3VLFormat(Qwen25Format):
    """Qwen3-VL's dialect (implements :class:`screenpilot.models.base.PromptFormat`).

    Options as :class:`~screenpilot.models.formats.qwen25.Qwen25Format` (bounds default to Qwen3-VL's released pair).
    Requests have the same layout; the system prompt, the image size, the token count, the
    parser and the mapping are Qwen3-VL's (see the module doc). Bad values raise ConfigError.
    """

    resize_factor = FACTOR

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
        super().__init__(
            min_pixels=min_pixels, max_pixels=max_pixels, keep_images=keep_images,
            browser_actions=browser_actions, ask_user=ask_user, terminate_answer=terminate_answer,
            max_image_tokens=max_image_tokens,
        )
        self.name = NAME

    def __repr__(self) -> str:
        return f"Qwen3VLFormat({self.describe()})"

    def describe(self) -> dict[str, object]:
        """Settings for ``run.json`` (the coordinate grid and resize factor included)."""
        return {**super().describe(), "coordinates": f"0-{GRID} normalised", "resize_factor": FACTOR}

    def model_size(self, screen_size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) the model sees for ``screen_size``: smart_resize with factor 32."""
        width, height = screen_size
        h_bar, w_bar = smart_resize(height, width, FACTOR, self.min_pixels, self.max_pixels)
        return w_bar, h_bar

    def is_model_size(self, size: tuple[int, int]) -> bool:
        """Whether ``size`` (width, height) has sides that are multiples of 32 and an area in bounds."""
        width, height = size
        return (
            width > 0 and height > 0 and width % FACTOR == 0 and height % FACTOR == 0
            and self.min_pixels <= width * height <= self.max_pixels
        )

    def image_tokens(self, model_size: tuple[int, int]) -> int:
        """Vision tokens one image of ``model_size`` (width, height) costs: (W'/16)(H'/16)/4."""
        return image_tokens(*model_size, patch=PATCH_SIZE, merge=MERGE_SIZE)

    def system_prompt(self, model_size: tuple[int, int]) -> str:
        """The system message text (the same for every image size: the grid is fixed)."""
        return system_prompt(self.extra_actions, self.terminate_answer)

    def parse(self, text: str, model_size: tuple[int, int]) -> list[Action]:
        """Grid-space actions; see :func:`parse`. ``model_size`` is not needed (fixed grid)."""
        return parse(text, extras=self.extra_actions)

    def to_screen(
        self, model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]
    ) -> Action:
        """See :func:`to_screen`; ``model_size`` does not enter the mapping."""
        return to_screen(model_action, screen_size)

    @staticmethod
    def format_call(action: Action) -> str:
        """See :func:`format_call`."""
        return format_call(action)

    @staticmethod
    def history_call(action: Action) -> str:
        """How an earlier step's action is written in the text history (see :func:`call_json`)."""
        return call_json(action)


if TYPE_CHECKING:
    _satisfies_protocol: PromptFormat = Qwen3VLFormat()
