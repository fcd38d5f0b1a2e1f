"""The executor contract shared by the browser and the desktop.

Every executor works in *screen pixels*: the browser's CSS-pixel viewport (device scale
factor 1 by default, so screenshot pixels equal CSS pixels) or the desktop monitor's pixels.
"""

from __future__ import annotations

from typing import Protocol

from screenpilot.agent.actions import Action
from screenpilot.agent.frame import Frame


class Executor(Protocol):
    """Observe and act on one screen.

    ``screenshot()`` returns a :class:`Frame` whose image is ``size`` (width, height) pixels.
    ``execute(action)`` carries out one screen-space action; it raises
    :class:`screenpilot.agent.errors.ExecutorError` when the screen can no longer be driven and
    :class:`screenpilot.agent.errors.ActionFailedError` for a failure the model can fix. It does not
    handle :class:`screenpilot.agent.actions.Terminate` or :class:`screenpilot.agent.actions.AskUser` (the loop does).
    ``settle()`` waits until the screen stops changing after an action (bounded), returning
    the seconds spent. ``close()`` releases everything the executor started; it is idempotent.
    """

    kind: str

    @property
    def size(self) -> tuple[int, int]: ...

    def screenshot(self) -> Frame: ...

    def execute(self, action: Action) -> None: ...

    def settle(self) -> float: ...

    def describe(self) -> dict[str, object]: ...

    def close(self) -> None: ...
