"""The executor contract as a test anyone can run: :func:`check_executor`.

For authors of executors (as Gymnasium ships ``check_env``): hand it a freshly opened executor on
a screen where a click in the middle is harmless, and it checks every promise of
:class:`screenpilot.tools.base.Executor` and of the capabilities the executor declares, then
closes it. It raises :class:`ExecutorContractError` listing every broken promise at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

from screenpilot.agent.actions import AskUser, Click, Point, Terminate, Wait
from screenpilot.agent.errors import ActionFailedError, ExecutorError
from screenpilot.agent.frame import Frame
from screenpilot.tools.base import EXECUTOR_KINDS, Executor, MasksSecrets, OnXDisplay, ShowsPage


class ExecutorContractError(AssertionError):
    """An executor broke the contract; ``problems`` lists each broken promise in one line."""

    def __init__(self, executor: object, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{type(executor).__name__} breaks the executor contract:\n{listing}")


def _frame_problems(frame: object, size: tuple[int, int]) -> list[str]:
    if not isinstance(frame, Frame):
        return [f"screenshot() returned {type(frame).__name__}, not a Frame"]
    problems = []
    if frame.image.size != size:
        problems.append(f"screenshot() image is {frame.image.size}, not size {size}")
    if frame.image.mode != "RGB":
        problems.append(f"screenshot() image mode is {frame.image.mode}, not RGB")
    if not (isinstance(frame.taken_at, float) and frame.taken_at > 0):
        problems.append(f"Frame.taken_at should be a positive float (time.time()), got {frame.taken_at!r}")
    return problems


def _raises(call: Callable[[], object], expected: type[BaseException], promise: str) -> list[str]:
    try:
        call()
    except expected:
        return []
    except Exception as exc:
        return [f"{promise}: raised {type(exc).__name__} ({exc}) instead of {expected.__name__}"]
    return [f"{promise}: did not raise {expected.__name__}"]


def _capability_problems(executor: Executor) -> list[str]:
    problems = []
    if isinstance(executor, ShowsPage):
        try:
            if executor.page is None:
                problems.append("declares ShowsPage but page is None")
        except Exception as exc:
            problems.append(f"declares ShowsPage but reading page raised {type(exc).__name__}: {exc}")
    if isinstance(executor, OnXDisplay) and not (isinstance(executor.display, str) and executor.display):
        problems.append(f"declares OnXDisplay but display is {executor.display!r}")
    if isinstance(executor, MasksSecrets):
        try:
            executor.hide_values(["screenpilot-contract-check"])
            executor.hide_values([])
        except Exception as exc:
            problems.append(f"declares MasksSecrets but hide_values raised {type(exc).__name__}: {exc}")
    return problems


def _describe_problems(executor: Executor) -> list[str]:
    try:
        described = executor.describe()
        json.dumps(described)
    except (TypeError, ValueError) as exc:
        return [f"describe() is not JSON-ready: {exc}"]
    return [] if isinstance(described, dict) else [f"describe() returned {type(described).__name__}, not a dict"]


def _settle_problems(executor: Executor) -> list[str]:
    spent = executor.settle()
    if not (isinstance(spent, int | float) and math.isfinite(spent) and spent >= 0):
        return [f"settle() should return the seconds spent (>= 0), got {spent!r}"]
    return []


def check_executor(executor: Executor) -> None:
    """Check ``executor`` against the contract, then close it; ExecutorContractError if broken.

    Checked: ``kind`` is one of :data:`~screenpilot.tools.base.EXECUTOR_KINDS`; ``size`` is two
    positive ints; ``screenshot()`` is an RGB Frame of exactly ``size`` with its capture time;
    ``settle()`` returns non-negative seconds; ``describe()`` is a JSON-ready dict; ``Wait(0)`` and
    a click at the centre are carried out; a click outside ``size`` raises ActionFailedError;
    Terminate and AskUser raise ValueError; declared capabilities work (:class:`ShowsPage`,
    :class:`OnXDisplay`, :class:`MasksSecrets`); ``close()`` is idempotent and a closed executor's
    ``screenshot()`` raises ExecutorError. It clicks the centre of the screen: give it a screen
    where that is harmless.
    """
    problems: list[str] = []
    try:
        if executor.kind not in EXECUTOR_KINDS:
            problems.append(f"kind is {executor.kind!r}, not one of {', '.join(EXECUTOR_KINDS)}")
        size = executor.size
        if not (isinstance(size, tuple) and len(size) == 2 and all(isinstance(n, int) and n > 0 for n in size)):
            raise ExecutorContractError(executor, [*problems, f"size should be (width, height) > 0, got {size!r}"])
        width, height = size
        problems += _frame_problems(executor.screenshot(), size)
        problems += _settle_problems(executor)
        problems += _describe_problems(executor)
        executor.execute(Wait(0))
        executor.execute(Click(Point(width // 2, height // 2)))
        problems += _raises(lambda: executor.execute(Click(Point(width + 5, height + 5))), ActionFailedError,
                            "a click outside size")
        problems += _raises(lambda: executor.execute(Terminate("success")), ValueError, "Terminate")
        problems += _raises(lambda: executor.execute(AskUser("?")), ValueError, "AskUser")
        problems += _capability_problems(executor)
        problems += _frame_problems(executor.screenshot(), size)
    finally:
        executor.close()
    executor.close()
    problems += _raises(executor.screenshot, ExecutorError, "screenshot() after close()")
    if problems:
        raise ExecutorContractError(executor, problems)


__all__ = ["ExecutorContractError", "check_executor"]
