"""Waiting for the screen to settle after an action, instead of a fixed sleep.

The screen counts as settled when ``stable_frames`` consecutive captures differ from the
previous one by at most ``threshold`` (mean absolute difference of grey levels 0-255 in the
most-changed tile of a downscaled frame), or when ``max_wait_s`` has passed. Comparing small grayscale frames keeps
each check to a few milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

GrayFrame = NDArray[np.uint8]


@dataclass(frozen=True)
class SettleSettings:
    """How settle detection behaves. Times in seconds.

    ``fixed_delay_s``: when not None, sleep exactly this long instead of detecting (the
    user option for applications whose changes frame comparison cannot see). ``quiet_window_s``:
    how long a web page without the activity tracker (a tab that was open before an attach over CDP)
    must report no DOM change to count as settled; a tracked page needs two quiet animation frames
    (see :data:`screenpilot.tools.web.session.QUIET_JS`).
    """

    max_wait_s: float = 2.0
    interval_s: float = 0.05
    threshold: float = 0.5
    stable_frames: int = 2
    downscale_width: int = 320
    fixed_delay_s: float | None = None
    quiet_window_s: float = 0.1


def to_small_gray(rgb_or_bgra: NDArray[np.uint8], width: int = 320) -> GrayFrame:
    """Downscale a HxWx3 (RGB) or HxWx4 (BGRA) frame to ``width`` pixels wide, grayscale."""
    code = cv2.COLOR_BGRA2GRAY if rgb_or_bgra.shape[2] == 4 else cv2.COLOR_RGB2GRAY
    gray = cv2.cvtColor(rgb_or_bgra, code)
    h, w = gray.shape
    if w > width:
        gray = cv2.resize(gray, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return np.asarray(gray, dtype=np.uint8)


def frame_difference(a: GrayFrame, b: GrayFrame, tiles: int = 8) -> float:
    """The largest mean absolute grey-level difference (0-255) over a ``tiles`` x ``tiles`` grid.

    Taking the worst tile rather than the whole-frame mean keeps a small change (a spinner, a
    progress bar) visible: averaged over the full screen it would vanish below the threshold.
    Infinite when the shapes differ.
    """
    if a.shape != b.shape:
        return float("inf")
    diff = cv2.absdiff(a, b)
    h, w = diff.shape
    th, tw = max(1, h // tiles), max(1, w // tiles)
    cropped = diff[: (h // th) * th, : (w // tw) * tw].astype(np.float32)
    per_tile = cropped.reshape(h // th, th, w // tw, tw).mean(axis=(1, 3))
    return float(max(per_tile.max(), diff.mean()))


def wait_until_stable(
    capture: Callable[[], GrayFrame],
    settings: SettleSettings,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    settled: Callable[[], bool] | None = None,
) -> float:
    """Poll ``capture`` until the screen is stable or ``max_wait_s`` passes.

    Returns the seconds spent. ``capture`` returns a small grayscale frame (see
    :func:`to_small_gray`). ``settled``, when given, is asked after each interval before the capture; True ends the
    wait at once (the application itself says it has stopped changing, before the pixels could show it).
    """
    start = clock()
    if settings.fixed_delay_s is not None:
        sleep(settings.fixed_delay_s)
        return clock() - start
    previous = capture()
    stable = 0
    while clock() - start < settings.max_wait_s:
        sleep(settings.interval_s)
        if settled is not None and settled():
            break
        current = capture()
        if frame_difference(previous, current) <= settings.threshold:
            stable += 1
            if stable >= settings.stable_frames:
                break
        else:
            stable = 0
        previous = current
    return clock() - start
