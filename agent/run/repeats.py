"""Loop detection: the same actions on a screen they do not change, again and again.

:class:`RepeatDetector` sees each step's screen-space actions with the frame they were chosen on. When a step
repeats the previous step's actions and those actions made no progress, the repeat count grows; anything else
resets it to 1. After ``hint_after`` the model is told; after ``stop_after`` the run ends as ``loop_detected``.

What counts as progress (the previous step's actions changed something) between the previous observation ``A``
and this one ``B``:

1. **The page says so** (browser and phone frames carry ``extra["page_state"]``: ``controls``, a digest of the
   URL, the scroll positions, the focused element's value, selection, ARIA state and scroll, and the selected
   elements; ``text``, a hash of the page's text): the controls digest changed, or the text hash changed and
   stays put while nobody acts (a clock or a ticker changes it by itself; that text is not trusted).
2. **The pixels say so**: at full resolution, pixels whose grey level changed by more than ``level`` (24 of
   255), grouped into 8-connected regions; a region counts when it is at least 3 px wide and 3 px tall, and
   the counted regions together hold at least ``min_changed_px`` (16) pixels. Pixels that change by themselves
   are left out: the areas (:func:`moving_areas`) of the pixels that differ between ``B`` and a second capture
   ``R`` taken just before this step's actions run (``B`` and ``R`` are the model's thinking time apart, at least
   ``recapture_after_s`` = 0.5 s, with nothing done in between), gathered over the run.

Changed regions reaching within :data:`POINTER_REACH_PX` of a point the actions pointed at are left out too: the
pointer's own feedback (the hover or pressed style of the button under it) is not the control doing something; a
value shown beside the button is a region of its own and counts.

The cases this tells apart: a slider moved one notch, a list selection moved one row, a counter's digit, a
scrolled page (progress, however small against the screen: one changed region is enough); a click that does
nothing (no region, or only the hover style of the button under the pointer); a blinking caret (a region 1-2 px
wide, too thin to count, and usually also caught by ``R``); a spinner, a video or a clock elsewhere on the page
(their pixels change between ``B`` and ``R`` and are left out, and so does their text in the digest). The second
capture is taken only when the actions repeat, so ordinary steps pay nothing; with a fast model such a step
waits up to ``recapture_after_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from screenpilot.agent.actions import Action, Point, describe, map_points
from screenpilot.agent.frame import Frame

Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class RepeatSettings:
    """After ``hint_after`` identical steps without progress the model gets a hint; after ``stop_after`` the run
    ends. ``level``: grey levels (0-255) a pixel must change by; ``min_changed_px``: changed pixels (screen pixels,
    in regions at least 3 x 3) that make progress; ``recapture_after_s``: the least time, in seconds, between an
    observation and its second capture (a fast model would otherwise leave no time for a spinner to move)."""

    hint_after: int = 3
    stop_after: int = 5
    level: int = 24
    min_changed_px: int = 16
    recapture_after_s: float = 0.5


_MIN_REGION_SIDE = 3
_SELF_CHANGE_MARGIN = 3
POINTER_REACH_PX = 24
"""Half the side of the square around a pointed-at point, in screen pixels: changed regions reaching into it are
the pointer's own feedback (hover, press and focus styles of the control under it)."""


def pointer_area(actions: tuple[Action, ...], shape: tuple[int, int]) -> Mask:
    """The squares of :data:`POINTER_REACH_PX` around every point ``actions`` point at, as a mask of ``shape``."""
    points: list[Point] = []
    for action in actions:
        map_points(action, lambda p: points.append(p) or p)  # type: ignore[func-returns-value]
    area = np.zeros(shape, dtype=bool)
    r = POINTER_REACH_PX
    for p in points:
        area[max(0, p.y - r):max(0, p.y + r + 1), max(0, p.x - r):max(0, p.x + r + 1)] = True
    return area


def _gray(frame: Frame) -> NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(np.asarray(frame.image.convert("RGB")), cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def _page_state(frame: Frame) -> dict[str, str] | None:
    state = frame.extra.get("page_state")
    return state if isinstance(state, dict) else None


def changed_pixels(a: NDArray[np.uint8], b: NDArray[np.uint8], level: int) -> Mask:
    """Pixels whose grey level differs by more than ``level`` between two same-size grey images."""
    return np.asarray(cv2.absdiff(a, b) > level)


def moving_areas(moving: Mask) -> Mask:
    """The areas around pixels that changed by themselves: each 8-connected region's bounding box, grown by its own
    height (at least 3 px) above and below and three times that to the sides, so a ticking clock's whole text is
    covered, not only the digits that happened to change between two captures."""
    areas = np.zeros_like(moving)
    if not moving.any():
        return areas
    _, _, stats, _ = cv2.connectedComponentsWithStats(moving.astype(np.uint8), connectivity=8)
    height, width = moving.shape
    for x, y, w, h, _area in stats[1:]:
        grow = max(_SELF_CHANGE_MARGIN, int(h))
        areas[max(0, y - grow):min(height, y + h + grow), max(0, x - 3 * grow):min(width, x + w + 3 * grow)] = True
    return areas


def progress_pixels(changed: Mask, ignore: Mask | None = None, pointer: Mask | None = None) -> int:
    """How many of the ``changed`` pixels outside ``ignore`` lie in regions at least 3 px wide and 3 px tall and not
    touching ``pointer`` (the control under the pointer restyling itself): the size of the change that counts as
    progress."""
    if ignore is not None:
        changed = changed & ~ignore
    if not changed.any():
        return 0
    _, labels, stats, _ = cv2.connectedComponentsWithStats(changed.astype(np.uint8), connectivity=8)
    counted = (stats[:, cv2.CC_STAT_WIDTH] >= _MIN_REGION_SIDE) & (stats[:, cv2.CC_STAT_HEIGHT] >= _MIN_REGION_SIDE)
    counted[0] = False  # the background
    if pointer is not None and pointer.any():
        counted[np.unique(labels[pointer])] = False
    return int(stats[counted, cv2.CC_STAT_AREA].sum())


class RepeatDetector:
    """Counts consecutive identical steps that made no progress (see the module docstring for the rule)."""

    def __init__(self, settings: RepeatSettings) -> None:
        self.settings = settings
        self._last_actions: tuple[Action, ...] | None = None
        self._last_frame: Frame | None = None
        self._moving: Mask | None = None
        self.count = 1

    def observe(self, actions: tuple[Action, ...], frame: Frame,
                recapture: Callable[[], Frame] | None = None) -> int:
        """Record one step: its ``actions``, chosen on ``frame``, not yet carried out. ``recapture`` takes a second
        frame now (called only when the actions repeat). Returns how many identical steps in a row without
        progress this makes (1 = new)."""
        previous = self._last_frame
        repeated = bool(actions) and actions == self._last_actions and previous is not None
        if repeated and previous is not None and not self._progress(previous, frame, recapture):
            self.count += 1
        else:
            self.count = 1
        self._last_actions, self._last_frame = actions, frame
        return self.count

    def _progress(self, previous: Frame, frame: Frame, recapture: Callable[[], Frame] | None) -> bool:
        if previous.image.size != frame.image.size:
            return True
        before, now = _page_state(previous), _page_state(frame)
        if before and now and before["controls"] != now["controls"]:
            return True
        again = self._second_capture(frame, recapture)
        text_moves = again is not None and (_page_state(again) or {}).get("text") != (now or {}).get("text")
        if before and now and before["text"] != now["text"] and not text_moves:
            return True
        return self._pixels_changed(previous, frame, again)

    def _second_capture(self, frame: Frame, recapture: Callable[[], Frame] | None) -> Frame | None:
        """A capture at least ``recapture_after_s`` after ``frame``, with nothing done in between."""
        if recapture is None:
            return None
        time.sleep(max(0.0, frame.taken_at + self.settings.recapture_after_s - time.time()))
        return recapture()

    def _pixels_changed(self, previous: Frame, frame: Frame, again: Frame | None) -> bool:
        """The pixel rule of the module docstring; ``again`` adds to the areas that change by themselves."""
        gray = _gray(frame)
        changed = changed_pixels(_gray(previous), gray, self.settings.level)
        if not changed.any():
            return False
        if again is not None and again.image.size == frame.image.size:
            moving = moving_areas(changed_pixels(gray, _gray(again), self.settings.level))
            known = self._moving is not None and self._moving.shape == moving.shape
            self._moving = moving | self._moving if known and self._moving is not None else moving
        pointer = pointer_area(self._last_actions or (), changed.shape)
        return progress_pixels(changed, self._moving, pointer) >= self.settings.min_changed_px

    def hint(self, actions: tuple[Action, ...]) -> str | None:
        """A hint for the model once the repeat count reaches ``hint_after``."""
        if self.count < self.settings.hint_after:
            return None
        done = "; ".join(describe(a) for a in actions)
        return (f"You have repeated the same action ({done}) {self.count} times and the screen did not change. "
                "It is not working: try a different element, scroll, or a different approach.")

    @property
    def should_stop(self) -> bool:
        """True once the repeat count reaches ``stop_after``."""
        return self.count >= self.settings.stop_after
