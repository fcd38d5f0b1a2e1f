"""The Python API: ``screenpilot.run`` for a whole task, sessions for scripts that mix code and model steps.

Options are ``screenpilot run``'s, by the same names and with the same defaults (see
:mod:`screenpilot.agent.api.options`); every run and session writes its run folder and obeys the safety policy
and the secrets exactly as the CLI does. Errors are the project's own classes: :class:`ConfigError` for options
that do not work, :class:`InfrastructureError` subclasses (:class:`BackendError`, :class:`ExecutorError`) when the
model, browser or display fails, :class:`ActFailed`, :class:`ActionRefused` and :class:`ExtractionError` for the
session calls; all derive from :class:`ScreenpilotError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from screenpilot.agent.api.extract import ExtractionError
from screenpilot.agent.api.options import OPTIONS, option_defaults, run_settings_from
from screenpilot.agent.api.session import ActFailed, ActionRefused, ActResult, Session, TaskResult, human_channel
from screenpilot.agent.cli.options import RunOutput
from screenpilot.agent.errors import (
    BackendError,
    ConfigError,
    ExecutorError,
    InfrastructureError,
    ScreenpilotError,
)
from screenpilot.agent.run.loop import Observer
from screenpilot.tools.web import DEFAULT_PHONE

AskUser = Callable[[str], "str | None"]
"""A function answering the model's questions (``ask_user`` actions): the question in, the answer (None: nobody
can answer) out. Without one, questions go to the terminal as with ``screenpilot run``."""


def _observers(output: RunOutput) -> list[Observer]:
    from screenpilot.agent.reports.live import LiveScreenshotObserver
    from screenpilot.agent.run.console import ConsoleObserver

    observers: list[Observer] = [] if output.quiet else [ConsoleObserver(max_steps=output.max_steps)]
    if output.live_screenshots is not None:
        observers.append(LiveScreenshotObserver(output.live_screenshots))
    return observers


def run(task: str, *, ask_user: AskUser | None = None, **options: Any) -> TaskResult:
    """Carry out ``task`` end to end, like ``screenpilot run TASK`` with ``options`` (``url=``, ``model=``,
    ``max_steps=``, ``allow_domain=[...]``, ``desktop=True``...; progress goes to stderr unless ``quiet=True``).

    Returns the :class:`TaskResult` (status, reason, steps, answer, run folder): a task that fails is a result,
    not an exception. Raises ConfigError for bad options, InfrastructureError when the run cannot start.
    """
    from screenpilot.agent.run.runner import run_task

    settings, output = run_settings_from(task, options)
    outcome = run_task(settings, _observers(output), human=human_channel(ask_user))
    return TaskResult.of(outcome.result, outcome.run_dir)


def _session(label: str, ask_user: AskUser | None, options: dict[str, Any]) -> Session:
    settings, output = run_settings_from(label, options)
    return Session(settings, output, human=human_channel(ask_user), observers=_observers(output))


def browser(url: str | None = None, *, ask_user: AskUser | None = None, **options: Any) -> Session:
    """A session on a Chromium page at ``url`` (a URL or a local file; default a blank page), with ``run``'s
    options (``model=`` is needed). Use it in a ``with`` block, or close it."""
    return _session("session browser", ask_user, {"url": url, **options})


def desktop(*, ask_user: AskUser | None = None, **options: Any) -> Session:
    """A session on the X11 desktop (``virtual_display="1280x720"`` starts an Xvfb for it; ``launch=[...]`` starts
    programs on it), with ``run``'s options."""
    return _session("session desktop", ask_user, {**options, "desktop": True})


def phone(device: str = DEFAULT_PHONE, *, ask_user: AskUser | None = None, **options: Any) -> Session:
    """A session on an emulated phone (``device``: pixel-7, iphone-13...; the start page from ``url=``), with
    ``run``'s options. ``adb=SERIAL`` instead drives a real Android device."""
    if "adb" in options:
        return _session("session phone", ask_user, options)
    return _session("session phone", ask_user, {**options, "phone": device})


__all__ = [
    "OPTIONS",
    "ActFailed",
    "ActResult",
    "ActionRefused",
    "AskUser",
    "BackendError",
    "ConfigError",
    "ExecutorError",
    "ExtractionError",
    "InfrastructureError",
    "ScreenpilotError",
    "Session",
    "TaskResult",
    "browser",
    "desktop",
    "option_defaults",
    "phone",
    "run",
]
