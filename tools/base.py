"""The executor contract: what every executor does, and the capabilities some of them declare.

Every executor works in *screen pixels*: the browser's CSS-pixel viewport (device scale
factor 1 by default, so screenshot pixels equal CSS pixels), the desktop monitor's pixels or a
phone's device pixels. :func:`screenpilot.tools.check_executor` tests an executor against this
contract.

Capabilities are protocols an executor satisfies by having the member, checked with
``isinstance`` (they are ``runtime_checkable``), never with ``getattr``:

* :class:`ShowsPage`: the screen is a Playwright page (browser, emulated phone): scenario
  ``js`` setup steps and page checks use it.
* :class:`OnXDisplay`: the screen is an X display: desktop checks run X clients on it.
* :class:`MasksSecrets`: the executor can paint over fields that show secret values, so the
  model never sees a typed password.
* :class:`ProbesElements`: the executor notes what the page's elements held when it acted on them (replay scripts
  check those results).
* :class:`SavesDownloads`: the executor keeps what its screen downloads; the runner hands it the run folder's
  ``downloads/`` (:data:`DOWNLOADS_FOLDER`) as soon as that folder exists.

Executors without tabs or file choosers refuse the browser's tab and file actions with :func:`refuse_web_action`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn, Protocol, TypeAlias, get_args, runtime_checkable

from screenpilot.agent.actions import Action, describe
from screenpilot.agent.errors import ActionFailedError
from screenpilot.agent.frame import Frame

if TYPE_CHECKING:
    from playwright.sync_api import Page

ExecutorKind: TypeAlias = Literal["browser", "desktop", "phone"]
"""What an executor drives; it decides the prompt's extra actions (a browser navigates, a phone
speaks ``mobile_use``)."""

EXECUTOR_KINDS: tuple[str, ...] = get_args(ExecutorKind)


class Executor(Protocol):
    """Observe and act on one screen.

    ``kind`` is one of :data:`ExecutorKind`. ``size`` is (width, height) in screen pixels.
    ``screenshot()`` returns a :class:`Frame` whose image is ``size`` pixels.
    ``execute(action)`` carries out one screen-space action; it raises
    :class:`screenpilot.agent.errors.ExecutorError` when the screen can no longer be driven and
    :class:`screenpilot.agent.errors.ActionFailedError` for a failure the model can fix (a point
    off the screen, an unknown key). It does not handle :class:`screenpilot.agent.actions.Terminate`
    or :class:`screenpilot.agent.actions.AskUser` (the loop does): those raise ValueError.
    ``settle()`` waits until the screen stops changing after an action (bounded), returning
    the seconds spent. ``describe()`` is a JSON-ready dict for run.json. ``close()`` releases
    everything the executor started; it is idempotent, and a closed executor's ``screenshot()``
    raises ExecutorError.
    """

    @property
    def kind(self) -> ExecutorKind: ...

    @property
    def size(self) -> tuple[int, int]: ...

    def screenshot(self) -> Frame: ...

    def execute(self, action: Action) -> None: ...

    def settle(self) -> float: ...

    def describe(self) -> dict[str, object]: ...

    def close(self) -> None: ...


@runtime_checkable
class ShowsPage(Protocol):
    """An executor whose screen is a Playwright page: :attr:`page` is the current tab."""

    @property
    def page(self) -> Page: ...


@runtime_checkable
class OnXDisplay(Protocol):
    """An executor whose screen is an X display: ``display`` (``":99"``) and the
    ``xauthority`` file its clients need (None: none needed)."""

    @property
    def display(self) -> str: ...

    @property
    def xauthority(self) -> str | None: ...


@runtime_checkable
class MasksSecrets(Protocol):
    """An executor that can keep secret values out of its screenshots."""

    def hide_values(self, values: Sequence[str]) -> None:
        """From the next screenshot on, paint over every place the screen shows one of ``values``."""
        ...


@runtime_checkable
class ProbesElements(Protocol):
    """An executor that probes the elements it acts on (:mod:`screenpilot.tools.web.element_probe`)."""

    def take_probes(self) -> list[dict[str, object]]:
        """The probes (JSON-ready) taken since the last call, oldest first."""
        ...


DOWNLOADS_FOLDER = "downloads"
"""The folder of a run folder that downloads are saved in."""


@runtime_checkable
class SavesDownloads(Protocol):
    """An executor that saves the files its screen downloads."""

    def save_downloads_to(self, folder: Path) -> None:
        """Save downloads into ``folder`` (made when the first one arrives), those made before this call included;
        each is reported as an event of the next Frame."""
        ...


def keep_downloads(executor: object, run_dir: Path) -> None:
    """Have ``executor`` save its downloads into ``run_dir``'s :data:`DOWNLOADS_FOLDER` when it
    :class:`SavesDownloads` (others have nothing to keep)."""
    if isinstance(executor, SavesDownloads):
        executor.save_downloads_to(run_dir / DOWNLOADS_FOLDER)


def refuse_web_action(action: Action, where: str, hint: str) -> NoReturn:
    """Raise the ActionFailedError for a browser tab or file action (:data:`~screenpilot.agent.actions.WEB_ACTIONS`)
    on an executor without browser tabs: ``where`` says where (``"on the desktop"``), ``hint`` what to do instead."""
    raise ActionFailedError(f"{describe(action)} is a browser action, not available {where}", hint=hint)


__all__ = ["DOWNLOADS_FOLDER", "EXECUTOR_KINDS", "Executor", "ExecutorKind", "MasksSecrets", "OnXDisplay",
           "ProbesElements", "SavesDownloads", "ShowsPage", "keep_downloads", "refuse_web_action"]
