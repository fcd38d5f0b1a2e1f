"""The exit codes of every ``screenpilot`` command, and how a run's status maps to one.

0 the task succeeded (every episode, for ``eval``); 1 the task failed (the model gave up, a budget ran out, the
replies ran out, a check failed, calibration diagnosed a fault); 2 bad usage or configuration (an unknown option,
an invalid scenario or policy file); 3 an infrastructure error ended the run (backend down, browser crashed,
display gone); 130 stopped by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3
EXIT_INTERRUPTED = 130

EXIT_BY_STATUS: dict[str, int] = {
    "success": EXIT_SUCCESS, "failure": EXIT_FAILURE, "timeout": EXIT_FAILURE, "error": EXIT_INFRASTRUCTURE,
    "stopped": EXIT_INTERRUPTED,
}
"""A run's or episode's status (:class:`screenpilot.agent.run.loop.RunResult`) -> the exit code."""

EPILOG = ("Exit codes: 0 success, 1 task failed, 2 usage/configuration error, 3 infrastructure error, "
          "130 interrupted.")


def exit_for_status(status: str) -> int:
    """The exit code for a run's status; an unknown status counts as a failure."""
    return EXIT_BY_STATUS.get(status, EXIT_FAILURE)
