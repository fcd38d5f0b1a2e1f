"""The Typer application every ``screenpilot`` command registers on, and how a command is registered.

:func:`command` registers a function ``fn(console, ...) -> exit code`` whose parameters are Typer options and
:class:`~screenpilot.agent.cli.options.OptionGroup` results: the groups' options are spliced into the signature
Typer reads, the function gets a console (stderr) and the built objects, and our errors become exit codes
(:mod:`screenpilot.agent.cli.exits`) with one clear line, in one place.
"""

from __future__ import annotations

import copy
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import typer
import typer.core
import typer.models
from rich.console import Console
from rich.markup import escape

from screenpilot.agent.cli.exits import EPILOG, EXIT_FAILURE, EXIT_INFRASTRUCTURE, EXIT_INTERRUPTED, EXIT_USAGE
from screenpilot.agent.cli.options import OptionGroup
from screenpilot.agent.errors import ConfigError, InfrastructureError, ScreenpilotError

CommandFunction = TypeVar("CommandFunction", bound=Callable[..., int])

COMMAND_ORDER = ("run", "scenario", "eval", "calibrate", "view", "compare", "script", "export", "finetune", "mcp",
                 "dev")
"""The order commands are listed in ``screenpilot --help``."""

_METAVARS: dict[object, str] = {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH"}


class _ListedInOrder(typer.core.TyperGroup):
    """A command group listing its commands in :data:`COMMAND_ORDER`, the others after them."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(super().list_commands(ctx))
        return sorted(names, key=lambda n: COMMAND_ORDER.index(n) if n in COMMAND_ORDER else len(COMMAND_ORDER))

_TYPER_SETTINGS: dict[str, Any] = {
    "no_args_is_help": True, "rich_markup_mode": "rich", "pretty_exceptions_show_locals": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}

app = typer.Typer(
    cls=_ListedInOrder, name="screenpilot", epilog=EPILOG, **_TYPER_SETTINGS,
    help="A vision-language agent (Qwen2.5-VL) that operates browsers, desktops and phones through their screens.")
scenario_app = typer.Typer(name="scenario", help="run, list or describe scenario files", **_TYPER_SETTINGS)
dev_app = typer.Typer(name="dev", help="developer utilities", **_TYPER_SETTINGS)
app.add_typer(scenario_app)
app.add_typer(dev_app)


def make_console() -> Console:
    """The console commands print to: stderr, no syntax highlighting, long lines kept whole."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def guarded(body: Callable[[], int], console: Console) -> int:
    """Run ``body`` and turn our errors into their exit codes, each with one line on ``console``."""
    try:
        return body()
    except ConfigError as exc:
        console.print(f"[bold red]Configuration error:[/bold red] {escape(exc.message)}")
        return EXIT_USAGE
    except InfrastructureError as exc:
        console.print(f"[bold red]Error:[/bold red] {escape(exc.message)}")
        return EXIT_INFRASTRUCTURE
    except ScreenpilotError as exc:
        console.print(f"[bold red]Error:[/bold red] {escape(exc.message)}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        console.print("[bold magenta]Interrupted[/bold magenta]: the trajectory holds every finished step.")
        return EXIT_INTERRUPTED


def _presented(parameter: inspect.Parameter) -> inspect.Parameter:
    """``parameter`` as the command line shows it: a flag for a boolean option (``--quiet``, no ``--no-quiet``),
    a metavar from the type where none is given (``N``, ``PATH``...; an argument's own name in capitals)."""
    annotated, *extras = typing.get_args(parameter.annotation) or (parameter.annotation,)
    info = next((e for e in extras if isinstance(e, typer.models.ParameterInfo)), None)
    if info is None:
        return parameter
    info = copy.copy(info)
    plain = [a for a in typing.get_args(annotated) if a is not type(None)] if isinstance(
        annotated, types.UnionType) else [annotated]
    if isinstance(info, typer.models.ArgumentInfo):
        info.metavar = info.metavar or parameter.name.upper()
    elif plain == [bool] and not info.param_decls:
        info.param_decls = ("--" + parameter.name.replace("_", "-"),)
        info.show_default = False
    elif info.metavar is None and len(plain) == 1:
        element = (typing.get_args(plain[0]) or (plain[0],))[0] if typing.get_origin(plain[0]) is list else plain[0]
        info.metavar = _METAVARS.get(element)
    return parameter.replace(annotation=typing.Annotated[annotated, info])


def command(
    on: typer.Typer, name: str, *, summary: str, help: str | None = None,
    groups: Mapping[str, OptionGroup[Any]] | None = None, **settings: Any,
) -> Callable[[CommandFunction], CommandFunction]:
    """Register ``fn(console, **options) -> exit code`` as the command ``name`` of ``on``.

    ``summary`` is the one line listed in the parent's help, ``help`` the command's own description (default: the
    summary). ``groups`` maps a parameter of ``fn`` to the option group that builds it. ``settings`` go to
    :meth:`typer.Typer.command` (``epilog``...). The function is returned unchanged, so tests and other modules can
    call it directly.
    """
    groups = dict(groups or {})

    def register(fn: CommandFunction) -> CommandFunction:
        own = list(inspect.signature(fn, eval_str=True).parameters.values())
        if not own or own[0].name != "console":
            raise TypeError(f"{fn.__name__}: the first parameter must be console")
        parameters: list[inspect.Parameter] = []
        for parameter in own[1:]:
            group = groups.get(parameter.name)
            parameters += group.parameters if group else [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)]
        parameters = [_presented(p) for p in parameters]
        names = [p.name for p in parameters]
        if len(names) != len(set(names)):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise TypeError(f"{fn.__name__}: options declared twice: {twice}")
        grouped = {p.name for group in groups.values() for p in group.parameters}

        @functools.wraps(fn)
        def invoke(**values: Any) -> int:
            console = make_console()

            def body() -> int:
                built = {key: group(values) for key, group in groups.items()}
                return fn(console, **built, **{k: v for k, v in values.items() if k not in grouped})

            return guarded(body, console)

        del invoke.__wrapped__  # Typer reads the signature below, not fn's
        invoke.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        invoke.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": int}
        on.command(name, help=help or summary, short_help=summary, **settings)(invoke)
        return fn

    return register
