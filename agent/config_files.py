"""Reading our YAML files (scenarios, policies) strictly into pydantic models, with our errors.

One owner for how a file becomes a model and how a mistake becomes a message:

* :func:`read_yaml` parses YAML refusing duplicate keys and keeping dates as strings.
* :class:`FileModel` is the base of every file model: unknown fields are refused naming the
  ones allowed, fields are frozen, scalars are strict (a string field refuses ``true``).
* :func:`validate_file` validates parsed data and turns pydantic's first error into one
  :class:`ConfigFileError` naming the file, the field as a dotted path (``checks[2].selector``)
  and the problem in our words.

Validators raise :func:`problem` errors; its ``field`` (a name or a path of names and indexes)
says where, below the model being validated, the mistake is. Union members tagged with
:func:`union_tag` (the tag is wrapped in parentheses) are not fields and never show in paths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from screenpilot.agent.errors import ConfigError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class ConfigFileError(ConfigError):
    """A file is invalid: ``file``, ``field`` (dotted path, "" for the whole file) and ``problem``."""

    def __init__(self, file: Path | str, field_path: str, problem: str) -> None:
        self.file = str(file)
        self.field = field_path
        self.problem = problem
        where = f"{self.file}: {field_path}" if field_path else self.file
        super().__init__(f"{where}: {problem}")


# --- YAML ------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings and rejects duplicate keys."""


_StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _DuplicateKey(Exception):
    def __init__(self, key: object) -> None:
        super().__init__(key)
        self.key = key


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(loader.construct_pairs(node, deep=deep))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, error: type[ConfigFileError] = ConfigFileError) -> Any:
    """The parsed YAML of ``path`` (None for an empty file); problems raise ``error``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(path, "", f"cannot read the file: {exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKey as exc:
        raise error(path, str(exc.key), "the field appears twice; give it once") from None
    except yaml.YAMLError as exc:
        raise error(path, "", f"not valid YAML: {exc}") from None


# --- models ----------------------------------------------------------------------------------


def problem(text: str, field: str | int | Loc | None = None) -> PydanticCustomError:
    """A validation error worded ``text``, located at ``field`` below the model or value being
    validated (None: the model or value itself). Raise it from validators."""
    where: Loc = () if field is None else field if isinstance(field, tuple) else (field,)
    return PydanticCustomError("screenpilot", "{text}", {"text": text, "below": where})


def union_tag(name: str) -> str:
    """The tag of a union member named ``name``; tags are left out of field paths."""
    return f"({name})"


class FileModel(BaseModel):
    """Base of file models: frozen, strict scalars, unknown fields refused with the allowed ones.

    Field docstrings become descriptions in the JSON Schema (editors show them as help).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _known_fields_only(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            allowed = list(cls.model_fields)
            for key in data:
                if not isinstance(key, str):
                    raise problem(f"field names must be strings, got {key!r}")
                if key not in cls.model_fields:
                    raise problem(f"unknown field; allowed here: {', '.join(allowed)}", key)
            cls.check_shape(data)
        return data

    @classmethod
    def check_shape(cls, data: Mapping[str, Any]) -> None:
        """Raise a :func:`problem` when the mapping's keys (all known) do not fit together; runs
        before any value is validated. Default: any combination fits."""


def _not_blank(text: str) -> str:
    if not text.strip():
        raise problem("expected a non-empty string")
    return text


def _number_as_text(value: Any) -> Any:
    """YAML reads ``42`` as an integer; where text is expected, take it as its digits."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def list_as_tuple(length: int, wording: str) -> Callable[[Any], Any]:
    """A before-validator taking a YAML list of ``length`` items as a tuple (else "expected
    ``wording``, got ..."); the tuple's item types then validate each item."""
    def convert(value: Any) -> Any:
        if not isinstance(value, list) or len(value) != length:
            raise problem(f"expected {wording}, got {value!r}")
        return tuple(value)
    return convert


NonEmpty = Annotated[str, StringConstraints(min_length=1), AfterValidator(_not_blank)]
"""A string with something besides whitespace."""
Text = Annotated[str, BeforeValidator(_number_as_text, json_schema_input_type=str | int | float)]
"""A string; a number written without quotes is taken as its digits."""
Pixels = Annotated[int, Field(ge=0)]


def type_name(value: object) -> str:
    """How an error message names the type of ``value`` ("a string", "a list", ...)."""
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            tuple: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _wording(error: ErrorDetails) -> str:
    """Our words for one pydantic error."""
    kind, got, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "screenpilot":
        return str(ctx["text"])
    if kind == "missing":
        return "missing required field"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value lines), got {type_name(got)}"
    expected = {"string_type": "a string", "int_type": "an integer", "int_from_float": "an integer",
                "float_type": "a number", "bool_type": "true or false", "list_type": "a list",
                "tuple_type": "a list"}.get(kind)
    if expected:
        return f"expected {expected}, got {type_name(got)}"
    bounds = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()))  # an int for integer fields, a float for number fields
        number = "an integer" if isinstance(limit, int) else "a number"
        return f"expected {number} {bounds[kind]} {limit:g}, got {got!r}"
    if kind == "literal_error":
        return f"expected {str(ctx.get('expected')).replace(chr(39), '')}, got {got!r}"
    if kind == "string_too_short":
        return "expected a non-empty string"
    if kind == "too_short":
        return "expected a non-empty list"
    return str(error["msg"])


def dotted(loc: Loc) -> str:
    """``("checks", 2, "selector")`` as ``checks[2].selector``; union tags are dropped."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not (part.startswith("(") and part.endswith(")")):
            text = f"{text}.{part}" if text else part
    return text


def validate_file(model: type[M], data: object, file: Path, error: type[ConfigFileError] = ConfigFileError,
                  context: dict[str, Any] | None = None) -> M:
    """``data`` (parsed from ``file``) as ``model``; the first problem raises ``error``.

    ``context`` reaches validators as ``info.context`` (it always holds ``folder``: the folder
    of ``file``, against which relative paths in the file resolve).
    """
    try:
        return model.model_validate(data, context={"folder": file.parent, **(context or {})})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        below = (first.get("ctx") or {}).get("below", ())
        raise error(file, dotted((*first["loc"], *below)), _wording(first)) from None
