"""Where the calibration targets go: numbered circles on a grid and a few text buttons.

Pure and import-light (no browser, no Tk, no model). The browser page
``scenarios/calibration/targets.html`` builds the same layout in JavaScript from its query
parameters, and the desktop window ``scenarios/calibration/tk_targets.py`` draws a layout written
by :func:`layout_json`; the centres a run compares against are always the ones the page or the
window reports back, so a drift between the two builders cannot fake an error.

All positions and sizes are integer *screen pixels* of the surface the executor clicks in (CSS
pixels of the browser viewport, or pixels of the desktop monitor), origin top-left.

Layout (``layout_targets``):

* a grid of ``cols`` x ``rows`` circles (3 x 3 quick, 6 x 4 full) spanning the whole surface:
  the first and last row and column touch the edges (``EDGE_GAP_PX`` away), so the corners and
  every edge are covered; diameters cycle through :data:`CIRCLE_DIAMETERS_PX` (44 px down to
  10 px icons); circles are numbered 1, 2, ... row by row;
* the full layout adds :data:`BUTTON_LABELS` as ``BUTTON_SIZE_PX`` buttons in the middle of
  four grid cells, numbered after the circles.

Every diameter is even and every centre an integer, so the geometric centre of a target is
exactly the pixel an executor clicks for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from screenpilot.agent.actions import Point

TargetKind = Literal["circle", "button"]

CIRCLE_DIAMETERS_PX: tuple[int, ...] = (44, 28, 18, 10)
"""Diameters cycled over the grid, by ``(column + row) % 4``."""

BUTTON_LABELS: tuple[str, ...] = ("Save", "Open", "Cancel", "Search")
BUTTON_SIZE_PX: tuple[int, int] = (88, 32)
EDGE_GAP_PX = 2
QUICK_GRID: tuple[int, int] = (3, 3)
FULL_GRID: tuple[int, int] = (6, 4)
HIT_TOLERANCE_PX = 0.5
"""A landed click this far outside a target's outline still counts as a hit (pixel rounding)."""


@dataclass(frozen=True)
class Target:
    """One calibration target.

    ``number``: 1-based id shown for circles. ``kind``: ``circle`` (diameter ``width`` ==
    ``height``) or ``button`` (a ``width`` x ``height`` rectangle showing ``label``).
    ``centre``: screen pixels. ``label``: the text the task refers to (the number for circles).
    """

    number: int
    kind: TargetKind
    label: str
    centre: Point
    width: int
    height: int

    @property
    def task(self) -> str:
        """The instruction given to the model for this target."""
        if self.kind == "button":
            return f"Click the button '{self.label}'"
        return f"Click the circle labelled {self.label}"

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` in screen pixels; right and bottom are exclusive."""
        left = self.centre.x - self.width // 2
        top = self.centre.y - self.height // 2
        return left, top, left + self.width, top + self.height

    def contains(self, screen_xy: Point) -> bool:
        """Whether a click at ``screen_xy`` lands on this target (:data:`HIT_TOLERANCE_PX` slack)."""
        dx = screen_xy.x - self.centre.x
        dy = screen_xy.y - self.centre.y
        if self.kind == "circle":
            return math.hypot(dx, dy) <= self.width / 2 + HIT_TOLERANCE_PX
        return abs(dx) <= self.width / 2 + HIT_TOLERANCE_PX and abs(dy) <= self.height / 2 + HIT_TOLERANCE_PX

    def shifted(self, dx: int, dy: int) -> Target:
        """This target moved by ``(dx, dy)`` pixels (e.g. from window to screen coordinates)."""
        return Target(self.number, self.kind, self.label, Point(self.centre.x + dx, self.centre.y + dy),
                      self.width, self.height)

    def to_json(self) -> dict[str, object]:
        """``{"number", "kind", "label", "x", "y", "width", "height", "task"}`` (x, y: the centre)."""
        return {"number": self.number, "kind": self.kind, "label": self.label, "x": self.centre.x,
                "y": self.centre.y, "width": self.width, "height": self.height, "task": self.task}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Target:
        """Inverse of :meth:`to_json` (``task`` is ignored); ValueError on missing or bad fields."""
        try:
            kind = str(data["kind"])
            if kind not in ("circle", "button"):
                raise ValueError(f"unknown target kind {kind!r}")
            return cls(
                number=_int(data["number"]), kind="button" if kind == "button" else "circle",
                label=str(data["label"]), centre=Point(_int(data["x"]), _int(data["y"])),
                width=_int(data["width"]), height=_int(data["height"]),
            )
        except KeyError as exc:
            raise ValueError(f"calibration target without {exc}: {data!r}") from None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {value!r}")
    return round(float(value))


def grid_for(quick: bool) -> tuple[int, int]:
    """``(columns, rows)`` of the circle grid."""
    return QUICK_GRID if quick else FULL_GRID


def _spread(index: int, count: int, extent: int, diameter: int) -> int:
    """Centre of item ``index`` of ``count`` spread over ``extent`` px, the first and last at the edges.

    Halves round up (``floor(v + 0.5)``), as JavaScript's ``Math.round`` does for positive values.
    """
    half = diameter // 2
    if count == 1:
        return extent // 2
    room = max(extent - diameter - 2 * EDGE_GAP_PX, 0)
    return EDGE_GAP_PX + half + math.floor(index * room / (count - 1) + 0.5)


def _grid_coordinate(index: int, count: int, extent: int) -> float:
    """Where grid line ``index`` lies for a mid-sized target (used to place buttons between lines)."""
    return EDGE_GAP_PX + CIRCLE_DIAMETERS_PX[0] / 2 + index * (extent - CIRCLE_DIAMETERS_PX[0] - 2 * EDGE_GAP_PX) / (
        max(count - 1, 1)
    )


def _circles(size: tuple[int, int], cols: int, rows: int) -> list[Target]:
    width, height = size
    targets: list[Target] = []
    for row in range(rows):
        for col in range(cols):
            diameter = CIRCLE_DIAMETERS_PX[(col + row) % len(CIRCLE_DIAMETERS_PX)]
            number = len(targets) + 1
            centre = Point(_spread(col, cols, width, diameter), _spread(row, rows, height, diameter))
            targets.append(Target(number, "circle", str(number), centre, diameter, diameter))
    return targets


def _button_cells(cols: int, rows: int) -> list[tuple[int, int]]:
    """Grid cells (column, row) whose middles hold the buttons: the four corner-most cells."""
    last_col, last_row = max(cols - 2, 0), max(rows - 2, 0)
    cells = [(0, 0), (last_col, 0), (0, last_row), (last_col, last_row)]
    unique: list[tuple[int, int]] = []
    for cell in cells:
        if cell not in unique:
            unique.append(cell)
    return unique


def _buttons(size: tuple[int, int], cols: int, rows: int, first_number: int) -> list[Target]:
    width, height = size
    bw, bh = BUTTON_SIZE_PX
    targets: list[Target] = []
    for (col, row), label in zip(_button_cells(cols, rows), BUTTON_LABELS, strict=False):
        x = (_grid_coordinate(col, cols, width) + _grid_coordinate(col + 1, cols, width)) / 2
        y = (_grid_coordinate(row, rows, height) + _grid_coordinate(row + 1, rows, height)) / 2
        centre = Point(math.floor(x), math.floor(y))
        targets.append(Target(first_number + len(targets), "button", label, centre, bw, bh))
    return targets


def layout_targets(size: tuple[int, int], *, quick: bool = False) -> list[Target]:
    """The targets for a surface of ``size`` (width, height) screen pixels, in task order.

    ``quick``: the 3 x 3 circle grid only; otherwise the 6 x 4 grid plus four buttons.
    The JavaScript in ``targets.html`` computes exactly the same numbers.
    """
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"surface size must be positive, got {size}")
    cols, rows = grid_for(quick)
    targets = _circles(size, cols, rows)
    if not quick:
        targets += _buttons(size, cols, rows, len(targets) + 1)
    return targets


def layout_json(targets: Sequence[Target], size: tuple[int, int]) -> str:
    """The layout file the desktop target window reads: ``{"width", "height", "targets": [...]}``."""
    return json.dumps({"width": size[0], "height": size[1], "targets": [t.to_json() for t in targets]})


def targets_from_json(items: object) -> list[Target]:
    """Targets from a JSON list of :meth:`Target.to_json` objects; ValueError when malformed."""
    if not isinstance(items, list) or not items:
        raise ValueError(f"expected a non-empty list of calibration targets, got {items!r}")
    return [Target.from_json(item) for item in items if isinstance(item, dict)]


__all__ = [
    "BUTTON_LABELS",
    "CIRCLE_DIAMETERS_PX",
    "Target",
    "grid_for",
    "layout_json",
    "layout_targets",
    "targets_from_json",
]
