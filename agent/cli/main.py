"""The ``screenpilot`` command line: :func:`main` runs the Typer application with every command registered.

Commands: ``run``, ``scenario run|list|schema``, ``eval``, ``calibrate``, ``view``, ``compare``, ``script``,
``export``, ``finetune``, ``mcp`` and ``dev build-tiny-model``. Exit codes are those of
:mod:`screenpilot.agent.cli.exits`. Shell completion: ``screenpilot --install-completion``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
import typer.main
import typer.rich_utils

# Each module registers its commands on the application when imported.
from screenpilot.agent.cli import calibrate, dev, learning, mcp, run, scenarios, script, view
from screenpilot.agent.cli.app import app
from screenpilot.agent.cli.exits import EXIT_INTERRUPTED, EXIT_SUCCESS, EXIT_USAGE
from screenpilot.agent.cli.options import with_optional_values

COMMAND_MODULES = (run, scenarios, calibrate, view, script, learning, mcp, dev)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``screenpilot`` console script: parse ``argv`` (default ``sys.argv[1:]``), run the
    command, return its exit code. Usage errors are shown with the command's usage line and give exit 2."""
    args = with_optional_values(sys.argv[1:] if argv is None else list(argv))
    cli = typer.main.get_command(app)
    try:
        result = cli.main(args=args, prog_name="screenpilot", standalone_mode=False)
    except typer.TyperException as exc:
        typer.rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    except typer.Abort:
        return EXIT_INTERRUPTED
    return result if isinstance(result, int) else EXIT_SUCCESS


if __name__ == "__main__":
    sys.exit(main())
