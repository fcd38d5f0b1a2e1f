"""A stand-in executor that records actions instead of carrying them out.

For tests of the loop and for users who want to see what an agent *would* do: it returns
a plain synthetic screenshot of a fixed size and keeps every action it was asked to execute.
It is a test double, not a screen: use :mod:`screenpilot.tools.web.browser` or
:mod:`screenpilot.tools.x11.desktop` for real work.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PIL import Image

from screenpilot.agent.actions import Action, AskUser, Point, Terminate, map_points
from screenpilot.agent.errors import ActionFailedError, ExecutorError
from screenpilot.agent.frame import Frame
from screenpilot.tools.base import ExecutorKind


class RecordingExecutor:
    """Records executed actions in :attr:`actions`; screenshots are the same ``size`` grey image.

    ``kind``: which executor it stands in for (what the prompt offers the model).

    ``fail_on`` (optional) is called with each action before it is recorded; raise from it to
    simulate an executor failure (e.g. ``ExecutorError`` for a crashed browser).
    """

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        fail_on: Callable[[Action], None] | None = None,
        kind: ExecutorKind = "desktop",
    ) -> None:
        self.kind: ExecutorKind = kind
        self._size = size
        self._fail_on = fail_on
        self.actions: list[Action] = []
        self.screenshots = 0
        self.closed = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self._size

    def screenshot(self) -> Frame:
        """A uniform grey image of :attr:`size`; ExecutorError once closed."""
        if self.closed:
            raise ExecutorError("the recording executor is closed")
        self.screenshots += 1
        return Frame(Image.new("RGB", self._size, (128, 128, 128)), taken_at=time.time())

    def execute(self, action: Action) -> None:
        """Record ``action`` (after ``fail_on``, which may raise). As every executor: ValueError
        for Terminate/AskUser, ActionFailedError for a point outside :attr:`size`; ExecutorError
        once closed."""
        if self.closed:
            raise ExecutorError("the recording executor is closed")
        if isinstance(action, Terminate | AskUser):
            raise ValueError(f"{type(action).__name__} is handled by the loop, not by an executor")
        width, height = self._size
        points: list[Point] = []

        def collect(point: Point) -> Point:
            points.append(point)
            return point

        map_points(action, collect)
        for point in points:
            if not (0 <= point.x < width and 0 <= point.y < height):
                raise ActionFailedError(f"point ({point.x}, {point.y}) is outside the {width}x{height} screen",
                                        hint=f"use coordinates with 0 <= x < {width} and 0 <= y < {height}")
        if self._fail_on is not None:
            self._fail_on(action)
        self.actions.append(action)

    def settle(self) -> float:
        """Nothing moves: zero seconds."""
        return 0.0

    def describe(self) -> dict[str, object]:
        """What run.json records."""
        return {"executor": "recording", "size": list(self._size)}

    def close(self) -> None:
        """Mark closed (idempotent)."""
        self.closed = True
