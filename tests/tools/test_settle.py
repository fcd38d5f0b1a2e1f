"""The pixel comparison of settle (:func:`screenpilot.tools.settle.wait_until_stable`) on a scripted clock."""

from __future__ import annotations

import numpy as np

from screenpilot.tools.settle import GrayFrame, SettleSettings, wait_until_stable


class Screen:
    """Frames that change on each of the first ``changing`` captures (by 20 grey levels, wrapping), then stay; time
    passes only in ``sleep``."""

    def __init__(self, changing: int) -> None:
        self.changing = changing
        self.captures = 0
        self.now = 0.0

    def capture(self) -> GrayFrame:
        self.captures += 1
        level = (min(self.captures, self.changing + 1) * 20) % 256
        return np.full((10, 10), level, dtype=np.uint8)

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def test_the_wait_ends_after_two_stable_comparisons_or_at_the_limit() -> None:
    settings = SettleSettings(max_wait_s=2.0, interval_s=0.05, stable_frames=2)
    screen = Screen(changing=3)
    spent = wait_until_stable(screen.capture, settings, sleep=screen.sleep, clock=screen.clock)
    assert screen.captures == 6  # first, 3 changed, 2 unchanged
    assert abs(spent - 0.25) < 1e-9
    busy = Screen(changing=10**6)
    assert wait_until_stable(busy.capture, settings, sleep=busy.sleep, clock=busy.clock) >= 2.0


def test_settled_ends_the_wait_before_the_next_capture() -> None:
    settings = SettleSettings(max_wait_s=2.0, interval_s=0.05, stable_frames=2)
    screen = Screen(changing=10**6)
    answers = iter([False, False, True])
    spent = wait_until_stable(screen.capture, settings, sleep=screen.sleep, clock=screen.clock,
                              settled=lambda: next(answers))
    assert screen.captures == 3  # the first and one after each "not yet"
    assert abs(spent - 0.15) < 1e-9
