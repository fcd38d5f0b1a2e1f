"""Loop detection: the same actions on an unchanged screen, again and again.

:class:`RepeatDetector` sees each step's screen-space actions and the frame they were chosen
on. When a step repeats the previous step's actions and the screen has not changed between the
two observations (mean grey-level difference of downscaled frames at most ``threshold``), the
repeat count grows; anything else resets it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from screenpilot.agent.actions import Action, describe
from screenpilot.tools.settle import GrayFrame, frame_difference, to_small_gray


@dataclass(frozen=True)
class RepeatSettings:
    """After ``hint_after`` identical steps the model gets a hint; after ``stop_after`` the run ends."""

    hint_after: int = 3
    stop_after: int = 5
    threshold: float = 0.5


class RepeatDetector:
    """Counts consecutive identical steps on an unchanged screen."""

    def __init__(self, settings: RepeatSettings) -> None:
        self.settings = settings
        self._last_actions: tuple[Action, ...] | None = None
        self._last_frame: GrayFrame | None = None
        self.count = 1

    def observe(self, actions: tuple[Action, ...], image: Image.Image) -> int:
        """Record one step; returns how many identical steps in a row this makes (1 = new)."""
        small = to_small_gray(np.asarray(image.convert("RGB")), width=160)
        previous = self._last_frame
        unchanged = previous is not None and frame_difference(previous, small) <= self.settings.threshold
        if actions and actions == self._last_actions and unchanged:
            self.count += 1
        else:
            self.count = 1
        self._last_actions, self._last_frame = actions, small
        return self.count

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
