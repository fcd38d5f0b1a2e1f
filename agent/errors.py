"""The two families of errors, chosen by type and never by message text.

*Model errors* (:class:`ModelError`): the reply could not be turned into a valid action. They
become feedback to the model on the next step (``hint`` is written for the model) and count
against a consecutive-failure budget.

*Infrastructure errors* (:class:`InfrastructureError`): something outside the model failed
(backend unreachable after retries, browser crashed, display gone, bad configuration). They end
the run cleanly with the trajectory finalised; ``message`` says what went wrong and what to do.

Exceptions carry data and have no side effects; the CLI maps classes to exit codes.
"""

from __future__ import annotations


class ScreenpilotError(Exception):
    """Base of every error screenpilot raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelError(ScreenpilotError):
    """The model's reply was unusable. ``hint`` is one line for the model's next turn."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class ReplyParseError(ModelError):
    """No tool call could be read from the reply (missing call, broken JSON)."""


class UnknownActionError(ModelError):
    """The call names an action or function that does not exist."""


class InvalidArgumentError(ModelError):
    """An argument is missing, of the wrong type, or out of range."""


class ActionFailedError(ModelError):
    """A well-formed action could not be carried out for a reason the model can fix
    (e.g. navigating to a malformed URL)."""


class InfrastructureError(ScreenpilotError):
    """Something outside the model failed; the run ends cleanly."""


class ConfigError(InfrastructureError):
    """Bad configuration or options: fix the command line or files and run again."""


class BackendError(InfrastructureError):
    """The model backend is unreachable or answers wrongly (after any retries)."""


class ExecutorError(InfrastructureError):
    """The browser or desktop cannot be driven (crashed, closed, display gone)."""


class ScriptExhausted(ScreenpilotError):
    """A scripted model has no replies left: the run ends with that reason (not a crash)."""


class StopRequested(ScreenpilotError):
    """A person asked the run to stop (Ctrl-C, or 'stop' at a confirmation prompt)."""
