"""The Qwen3-VL prompt format: Qwen2.5-VL's ``computer_use`` tool on a normalised 0-1000 grid.

What differs from :mod:`screenpilot.models.formats.qwen25` (everything else — the ``<tool_call>`` layout, the
tolerant call finder of :mod:`screenpilot.models.formats.toolcall`, the history layouts, feedback — is shared
through :class:`~screenpilot.models.formats.toolformat.ToolCallFormat`):

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
* **Browser extras**: as Qwen2.5-VL's, the same verbs and arguments: ``navigate``, ``back`` and the tab and file verbs
  ``list_tabs``, ``switch_tab`` (``index``), ``close_tab`` (optional ``index``), ``new_tab`` (optional ``url``) and
  ``upload`` (``path``), an extension of the released tool schema (:data:`screenpilot.models.formats.qwen25.WEB_VERBS`).
* **Canonical calls** (:meth:`Qwen3VLFormat.format_call`): a success with an answer is written as ``answer``, a
  horizontal scroll as ``hscroll``; a scroll that moves both ways cannot be written.

Only :class:`~screenpilot.agent.errors.ModelError` subclasses leave :meth:`Qwen3VLFormat.parse`; nothing is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from screenpilot.agent.actions import Action, Scroll, Terminate
from screenpilot.models.formats import qwen25
from screenpilot.models.formats.base import ComputerArguments
from screenpilot.models.formats.qwen25 import (
    ACTION_DESCRIPTIONS,
    MAX_SCROLL_PIXELS,
    PARAMETER_DESCRIPTIONS,
    Qwen25Format,
)
from screenpilot.models.formats.toolcall import CallDialect

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


# ---------------------------------------------------------------------------------------------
# Parsing.


class _GridArguments(ComputerArguments):
    """Arguments whose points are on the 0-1000 grid (the hint says so)."""

    def _point_hint(self, key: str) -> str:
        return (
            f'"{key}" must be [x, y]: two whole numbers from 0 to {GRID}, thousandths of the screenshot\'s '
            f"width and height ([0, 0] top-left, [{GRID}, {GRID}] bottom-right)."
        )


def _hscroll(args: ComputerArguments) -> Action:
    hint = '"pixels" scrolls that far: positive scrolls right, negative scrolls left, e.g. "pixels": 300.'
    return Scroll(dy=0, dx=args.scroll_pixels(MAX_SCROLL_PIXELS, hint), at=args.point())


_HANDLERS: dict[str, Callable[[ComputerArguments], Action]] = {**qwen25.HANDLERS, "hscroll": _hscroll}


# ---------------------------------------------------------------------------------------------
# Canonical calls (the inverse of parse).

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


TOOL = replace(
    qwen25.TOOL, call=DIALECT, description=TOOL_DESCRIPTION, actions=CORE_ACTIONS,
    action_descriptions=_QWEN3_ACTION_DESCRIPTIONS, parameter_descriptions=_QWEN3_PARAMETER_DESCRIPTIONS,
    arguments=_GridArguments, handlers=_HANDLERS, write=call_arguments,
)
"""Qwen3-VL's ``computer_use`` tool (the description names no size: the grid is fixed)."""


# ---------------------------------------------------------------------------------------------
# The format.


class Qwen3VLFormat(Qwen25Format):
    """Qwen3-VL's dialect (implements :class:`screenpilot.models.base.PromptFormat`).

    Options as :class:`~screenpilot.models.formats.qwen25.Qwen25Format` (bounds default to Qwen3-VL's released pair).
    Requests have the same layout; the system prompt, the image size (factor 32), the token count,
    the parser and the mapping are Qwen3-VL's (see the module doc): points of :meth:`parse` lie on
    the 0-1000 grid whatever ``model_size``, and :meth:`to_screen` maps
    ``x = round(x' * W / 1000)``, ``y = round(y' * H / 1000)`` (halves up, clamped into the screen),
    scroll amounts by ``H / 1000`` (``dy``) and ``W / 1000`` (``dx``). Bad values raise ConfigError.
    """

    name = NAME
    dialect = TOOL
    resize_factor = FACTOR
    default_bounds = (MIN_PIXELS, MAX_PIXELS)

    def describe(self) -> dict[str, object]:
        """Settings for ``run.json`` (the coordinate grid and resize factor included)."""
        return {**super().describe(), "coordinates": f"0-{GRID} normalised", "resize_factor": FACTOR}

    def action_space(self, model_size: tuple[int, int]) -> tuple[int, int]:
        """The 0-1000 grid, whatever the image size."""
        return GRID_SIZE


if TYPE_CHECKING:
    _satisfies_protocol: PromptFormat = Qwen3VLFormat()
