"""The Python API's options: exactly ``screenpilot run``'s, by the same names, with the same defaults and checks.

There is no second list of options here. :data:`screenpilot.agent.cli.options.RUN_GROUPS` declares every option
once (a Typer ``Annotated`` parameter with its default, its value parser and its bounds); :func:`run_settings_from`
reads those declarations, checks and converts the keyword arguments a caller gave as the command line would
(``url="page.html"`` becomes a ``file://`` URL, ``viewport="800x600"`` a size, a ``min=1`` bound is enforced,
a choice outside a ``Literal`` is refused), fills in the rest from the declared defaults, and builds the one
:class:`~screenpilot.agent.run.settings.RunSettings` the CLI builds. The names are the options' without dashes:
``--allow-domain`` is ``allow_domain`` (a list, or one string), ``--max-steps`` is ``max_steps``.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import typer.models

from screenpilot.agent.cli.options import RUN_GROUPS, RunOutput, run_settings
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.settings import RunSettings


@dataclass(frozen=True)
class _Option:
    """One declared option: its parameter, value parser and lower bound (None: none)."""

    parameter: inspect.Parameter
    parser: typing.Callable[[Any], Any] | None
    minimum: float | None

    @property
    def name(self) -> str:
        return self.parameter.name

    @property
    def value_type(self) -> Any:
        return typing.get_args(self.parameter.annotation)[0]


def _declared() -> dict[str, _Option]:
    options: dict[str, _Option] = {}
    for group in RUN_GROUPS.values():
        for parameter in group.parameters:
            info = next(e for e in typing.get_args(parameter.annotation)[1:]
                        if isinstance(e, typer.models.OptionInfo))
            options[parameter.name] = _Option(parameter, info.parser, info.min)
    return options


OPTIONS: Mapping[str, _Option] = _declared()
"""Every option a run or session takes, by keyword name (``screenpilot run``'s options without the dashes)."""


def option_defaults() -> dict[str, Any]:
    """Each option's default as the CLI declares it (``model`` has none: it must be given)."""
    return {name: (None if o.parameter.default is inspect.Parameter.empty else o.parameter.default)
            for name, o in OPTIONS.items()}


def _plain_types(value_type: Any) -> list[Any]:
    """The types of a declared value without None: ``int | None`` -> [int], ``list[str] | None`` -> [list[str]]."""
    if isinstance(value_type, types.UnionType) or typing.get_origin(value_type) is typing.Union:
        return [t for t in typing.get_args(value_type) if t is not type(None)]
    return [value_type]


def _is_a(value: Any, kind: type) -> bool:
    """Whether ``value`` is of ``kind`` (bool, int, float or str), as the command line means it: a bool is no number,
    an int is a float."""
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, kind) or (kind is float and isinstance(value, int))


def _convert_one(option: _Option, value: Any, element: Any) -> Any:
    """One value (or list item) parsed, typed and bounded as the command line would be; ConfigError otherwise."""
    shown = f"{option.name}={value!r}"
    if option.parser is not None:
        try:
            value = option.parser(value)
        except typer.BadParameter as exc:
            raise ConfigError(f"{shown}: {exc.message}") from None
    elif typing.get_origin(element) is typing.Literal:
        if value not in typing.get_args(element):
            choices = ", ".join(repr(c) for c in typing.get_args(element))
            raise ConfigError(f"{shown}: choose one of {choices}")
    elif element is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{shown}: expected a path (str or pathlib.Path)")
        value = Path(value)
    elif element in (bool, int, float, str) and not _is_a(value, element):
        raise ConfigError(f"{shown}: expected {element.__name__}, got {type(value).__name__}")
    if option.minimum is not None and isinstance(value, int | float) and value < option.minimum:
        raise ConfigError(f"{shown}: must be at least {option.minimum}")
    return value


def _convert(option: _Option, value: Any) -> Any:
    if value is None:
        return None
    plain = _plain_types(option.value_type)
    declared = plain[0] if len(plain) == 1 else Any
    if typing.get_origin(declared) is list:
        element = typing.get_args(declared)[0]
        items = [value] if isinstance(value, str | Path) else list(value)
        return [_convert_one(option, item, element) for item in items]
    return _convert_one(option, value, declared)


def option_values(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every option's value: the given ones converted (see module doc), the others their defaults.

    ConfigError for an unknown name (listing the known ones), a bad value, or no ``model``.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; the options are those of `screenpilot run`: "
                          + ", ".join(OPTIONS))
    values = option_defaults()
    values.update({name: _convert(OPTIONS[name], value) for name, value in options.items()})
    if not values.get("model"):
        raise ConfigError("model= is needed: scripted:REPLIES.json, an alias such as qwen2.5-vl-7b, a local model "
                          "folder, or the name a server serves (with api_base=)")
    return values


def run_settings_from(task: str, options: Mapping[str, Any]) -> tuple[RunSettings, RunOutput]:
    """The settings of a run of ``task`` with ``options`` (keyword names of ``screenpilot run``'s options), and the
    run's output options (quiet, live screenshots). ConfigError as the CLI gives it for values that do not go
    together, and see :func:`option_values`."""
    values = option_values(options)
    built = {key: group(values) for key, group in RUN_GROUPS.items()}
    output: RunOutput = built["output"]
    return run_settings(task, **built), output
