"""Replay checks generated from what a recording ended with (``screenpilot script`` of a run without a scenario).

Browser and phone runs: :func:`result_checks` turns the run's final element probe (:func:`last_probe`; see
:mod:`screenpilot.tools.web.element_probe`) into scenario ``selector`` checks of the values last typed, the check boxes
clicked, the text of the element clicked last and the text the last actions made the page show.

Desktop runs: :func:`final_screen_region` is the part of the final screen the last actions changed, and
:func:`region_threshold` the correlation a replay's screen must reach there: three quarters of the way from the score of
the screen with one glyph-sized block of that change blanked to a perfect match, so a replay showing a different value
fails where the same screen (1.000 on a deterministic display) passes. What the screenshots taken after the last
actions caught blinking (a caret) is kept out of the region; a blink they did not catch fails a replay.

These checks say the replay ended as the recording did; they do not know whether the recording was right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageChops

from screenpilot.agent.run.records import ElementState, PageProbe, StepLine

MAX_RESULT_CHECKS = 8
"""Selector checks generated from a run's probes, at most."""
REGION_MIN_SIZE = (320, 200)
"""The smallest final-screen region (width, height, screen pixels), unless the screen is smaller."""
GLYPH_SIZE = (6, 10)
"""(width, height) in screen pixels of the block blanked to find :func:`region_threshold`: a small font's glyph."""
CHANGED_LEVEL = 24
"""How far (0-255) a pixel's grey level must move to count as changed."""
MIN_REGION_THRESHOLD = 0.9
"""The lowest threshold :func:`region_threshold` gives."""
_REGION_PAD = 16


def last_probe(steps: Sequence[StepLine]) -> PageProbe | None:
    """The run's latest element probe (the final state of the page as the run recorded it); None for runs
    recorded without probes (the desktop, Android, older versions)."""
    for step in reversed(steps):
        if step.probes:
            return step.probes[-1]
    return None


def result_checks(probe: PageProbe) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """``selector`` checks (scenario file form) of what ``probe`` found, each with a note saying what it compares:
    the value of each field typed into (most recent first), the state of each check box or radio clicked, the text
    of the element clicked last, and the text of each fresh element. At most :data:`MAX_RESULT_CHECKS`. An element
    whose value or text held a secret gets no check (its report would print what the replay found there) but a line
    in the second list, of what is left out."""
    found: list[tuple[dict[str, Any], str]] = []
    unchecked: list[str] = []
    taken: set[str] = set()
    acted = [e for e in reversed(probe.elements) if e.selector]

    def add(element: ElementState, name: str, condition: dict[str, Any], note: str) -> None:
        if element.selector and element.selector not in taken and len(found) < MAX_RESULT_CHECKS:
            taken.add(element.selector)
            found.append(({"name": name, "selector": element.selector, **condition}, note))

    for element in acted:
        if element.how != "type":
            continue
        if element.secret:
            taken.add(str(element.selector))
            unchecked.append(f"Not compared: {element.selector} holds a secret's value, which is never written "
                             "into this file.")
        elif element.value is not None:
            add(element, f"typed into {element.selector}", {"value": element.value},
                f"compares the value of {element.selector}, typed into by the run, with the one the recording "
                "ended with")
        elif element.text:
            add(element, f"typed into {element.selector}", {"text_equals": element.text},
                f"compares the text of {element.selector}, typed into by the run, with the one the recording "
                "ended with")
    for element in acted:
        if element.how == "click" and element.checked is not None:
            add(element, f"{'checked' if element.checked else 'unchecked'} {element.selector}",
                {"checked": element.checked},
                f"compares whether {element.selector}, clicked by the run, is checked, as at the end of the "
                "recording")
    last_clicked = next((e for e in acted if e.how == "click" and e.checked is None), None)
    if last_clicked is not None and last_clicked.text:
        add(last_clicked, f"text of {last_clicked.selector}", {"text_equals": last_clicked.text},
            f"compares the text of {last_clicked.selector}, the element clicked last, with the recording's")
    for element in probe.fresh:
        if element.secret and element.selector and element.selector not in taken:
            taken.add(element.selector)
            unchecked.append(f"Not compared: {element.selector}, shown at the end, showed a secret's value (a check's "
                             "report would print it).")
        elif element.text:
            add(element, f"shown at the end: {element.selector}", {"text_equals": element.text},
                f"compares the text of {element.selector}, which the last actions made the page show, with what the "
                "recording ended with")
    return found, unchecked


def final_screen_region(before: Image.Image, final: Image.Image,
                        settled: Sequence[Image.Image] = ()) -> tuple[int, int, int, int]:
    """The part of ``final`` (left, top, width, height) changed since ``before`` (the screen before the run's last
    actions): the box around every pixel whose grey level moved by more than :data:`CHANGED_LEVEL`, padded by 16
    pixels and grown to at least :data:`REGION_MIN_SIZE` (centred on the change, kept on the screen); the whole
    screen when nothing changed or the sizes differ.

    ``settled``: other screenshots taken after the last actions (a wait step's). Pixels that differ between them and
    ``final`` blink (a caret, an animation); when the box holds such pixels it is cut to the side of them (left,
    right, above or below, 2 pixels off) that keeps the most changed pixels, so a blinking caret cannot fail a
    replay that shows the same result (the cut box may be smaller than the minimum). A run without such a
    screenshot (no wait before it ended) cannot tell what blinks.
    """
    width, height = final.size
    changed = _changed(before, final) if before.size == final.size else None
    box = changed.getbbox() if changed is not None else None
    if changed is None or box is None:
        return (0, 0, width, height)
    left, top = max(0, box[0] - _REGION_PAD), max(0, box[1] - _REGION_PAD)
    right, bottom = min(width, box[2] + _REGION_PAD), min(height, box[3] + _REGION_PAD)
    left, right = _grown(left, right, REGION_MIN_SIZE[0], width)
    top, bottom = _grown(top, bottom, REGION_MIN_SIZE[1], height)
    region = (left, top, right, bottom)
    for other in settled:
        blink = _changed(other, final).crop(region).getbbox() if other.size == final.size else None
        if blink is not None:
            region = _beside(region, (blink[0] + left, blink[1] + top, blink[2] + left, blink[3] + top), changed)
            left, top = region[0], region[1]
    return (region[0], region[1], region[2] - region[0], region[3] - region[1])


def region_threshold(before: Image.Image, final: Image.Image) -> float:
    """The correlation a replay must reach on the region ``final`` (``before``: the same region before the last
    actions): 1 minus a quarter of what blanking the :data:`GLYPH_SIZE` block holding the most changed ink costs,
    rounded down to 6 decimals, at least :data:`MIN_REGION_THRESHOLD`. Ink is distance from the region's median
    grey; without a change in the region, all ink counts."""
    template = np.asarray(final.convert("L"), dtype=np.float32)
    width, height = GLYPH_SIZE
    if template.shape[0] < height or template.shape[1] < width or float(template.std()) == 0.0:
        return MIN_REGION_THRESHOLD
    background = float(np.median(template))
    ink = np.abs(template - background)
    if before.size == final.size:
        moved = np.asarray(_changed(before, final), dtype=bool)
        if moved.any():
            ink = ink * moved
    sums = cv2.integral(ink)
    blocks = sums[height:, width:] - sums[:-height, width:] - sums[height:, :-width] + sums[:-height, :-width]
    y, x = np.unravel_index(int(np.argmax(blocks)), blocks.shape)
    blanked = template.copy()
    blanked[y:y + height, x:x + width] = background
    score = float(cv2.matchTemplate(blanked, template, cv2.TM_CCOEFF_NORMED)[0, 0])
    threshold = 1.0 - (1.0 - score) / 4
    return max(MIN_REGION_THRESHOLD, math.floor(threshold * 1e6) / 1e6)


def _changed(before: Image.Image, final: Image.Image) -> Image.Image:
    """A 0/255 mask of the pixels whose grey level moved by more than :data:`CHANGED_LEVEL`."""
    return ImageChops.difference(before.convert("L"), final.convert("L")).point(
        lambda v: 255 if v > CHANGED_LEVEL else 0)


def _beside(region: tuple[int, int, int, int], blink: tuple[int, int, int, int],
            changed: Image.Image) -> tuple[int, int, int, int]:
    """The part of ``region`` (x0, y0, x1, y1) left of, right of, above or below ``blink`` (2 pixels off) that holds
    the most pixels of the ``changed`` mask; ``region`` itself when none holds any."""
    x0, y0, x1, y1 = region
    sides = [(x0, y0, blink[0] - 2, y1), (blink[2] + 2, y0, x1, y1), (x0, y0, x1, blink[1] - 2),
             (x0, blink[3] + 2, x1, y1)]
    best, most = region, 0
    for side in sides:
        if side[2] - side[0] >= GLYPH_SIZE[0] and side[3] - side[1] >= GLYPH_SIZE[1]:
            count = changed.crop(side).histogram()[255]
            if count > most:
                best, most = side, count
    return best


def _grown(start: int, end: int, least: int, limit: int) -> tuple[int, int]:
    """[start, end) widened around its centre to at least ``least`` (at most ``limit``), inside [0, limit)."""
    size = min(limit, max(least, end - start))
    centre = (start + end) // 2
    begin = min(max(0, centre - size // 2), limit - size)
    return begin, begin + size


__all__ = ["MAX_RESULT_CHECKS", "REGION_MIN_SIZE", "final_screen_region", "last_probe", "region_threshold",
           "result_checks"]
