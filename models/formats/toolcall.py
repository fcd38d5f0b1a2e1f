"""Finding Qwen-style tool calls in reply text and reading their arguments.

Shared by the prompt formats that speak Qwen's function-calling dialect: ``computer_use``
(:mod:`screenpilot.models.formats.qwen25`) and ``mobile_use``
(:mod:`screenpilot.models.formats.qwen25_mobile`). A :class:`CallDialect`
names the one function a format offers and an example call; every hint written for the model
is built from it, so a phone model is never told about ``computer_use`` and vice versa.

What is tolerated (each format documents and tests it): ``<think>...</think>`` blocks, text
around the calls, a missing ``</tool_call>``, several calls per reply, JSON that needs json5
leniency (single quotes, trailing commas), ``arguments`` as a JSON string or named
``parameters``, a bare ``{"action": ...}`` object without the name wrapper, coordinates as
strings. Nothing here evaluates model output: JSON is read with :mod:`json`, then
:mod:`json5`. Every failure is a :class:`~screenpilot.agent.errors.ModelError` subclass.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeGuard

import json5

from screenpilot.agent.actions import Action, AskUser, Point, TerminalStatus, Terminate
from screenpilot.agent.errors import InvalidArgumentError, ReplyParseError, UnknownActionError

MAX_JSON_CANDIDATES = 32
"""At most this many ``{`` positions are tried per reply segment (bounds the work on junk)."""


@dataclass(frozen=True)
class CallDialect:
    """A format's one function: ``function_name`` and ``example_arguments``, the JSON text of
    an example ``arguments`` object used in hints (e.g. ``{"action": "click", "coordinate": [x, y]}``)."""

    function_name: str
    example_arguments: str

    @property
    def example_json(self) -> str:
        """The example call as a JSON object with its name."""
        return f'{{"name": "{self.function_name}", "arguments": {self.example_arguments}}}'

    @property
    def example_call(self) -> str:
        """The example call inside ``<tool_call>`` tags."""
        return f"<tool_call>{self.example_json}</tool_call>"

    @property
    def format_hint(self) -> str:
        """The hint for a reply without a usable call."""
        return "Reply with exactly one " + self.example_call


# ---------------------------------------------------------------------------------------------
# Finding the calls in a reply.

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"


def strip_thinking(text: str) -> str:
    """``text`` without ``<think>...</think>`` blocks, without everything up to a stray
    ``</think>`` (the template opened the block), and without an unclosed ``<think>`` block
    (up to a ``<tool_call>`` inside it, if any). Linear in the length of ``text``."""
    kept: list[str] = []
    pos = 0
    while True:
        start = text.find(_THINK_OPEN, pos)
        if start < 0:
            kept.append(text[pos:])
            break
        kept.append(text[pos:start])
        end = text.find(_THINK_CLOSE, start)
        if end < 0:
            call_at = text.find("<tool_call>", start)
            kept.append(text[call_at:] if call_at >= 0 else "")
            break
        pos = end + len(_THINK_CLOSE)
    body = "".join(kept)
    return body.rsplit(_THINK_CLOSE, 1)[1] if _THINK_CLOSE in body else body


_BRACKET_TOKENS = {pair: re.compile("[" + re.escape(pair) + "\"'\\\\]") for pair in ("{}", "()")}


def closing_end(text: str, start: int, pair: str = "{}") -> int | None:
    """Index just past the ``pair[1]`` closing the ``pair[0]`` at ``start`` (None: never closed).

    ``pair`` is ``"{}"`` or ``"()"``. Brackets inside single- or double-quoted strings (with
    backslash escapes) do not count. Linear in the length of ``text``.
    """
    opener, closer = pair[0], pair[1]
    depth = 0
    quote = ""
    escaped_at = -1
    for match in _BRACKET_TOKENS[pair].finditer(text, start):
        pos = match.start()
        char = text[pos]
        if pos == escaped_at:
            continue
        if quote:
            if char == "\\":
                escaped_at = pos + 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return pos + 1
    return None


def _json_candidates(text: str) -> tuple[list[str], bool]:
    """The balanced top-level ``{...}`` substrings of ``text`` in order, and whether some
    ``{`` was never closed (a truncated object)."""
    found: list[str] = []
    unclosed = False
    pos = 0
    for _ in range(MAX_JSON_CANDIDATES):
        start = text.find("{", pos)
        if start < 0:
            break
        end = closing_end(text, start)
        if end is None:
            unclosed = True
            pos = start + 1
        else:
            found.append(text[start:end])
            pos = end
    return found, unclosed


def decode_json(text: str, dialect: CallDialect) -> object:
    """``text`` as JSON, falling back to json5; ReplyParseError (with ``dialect``'s example)
    when neither reads it."""
    try:
        return json.loads(text)
    except Exception:
        pass
    try:
        return json5.loads(text)
    except Exception as exc:
        raise ReplyParseError(
            f"tool call is not valid JSON ({type(exc).__name__}): {clip(text)}",
            hint="Write the call as valid JSON with double quotes, e.g. " + dialect.example_call,
        ) from None


def _is_call(value: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and any(key in value for key in ("name", "action", "arguments"))


def _segment_calls(segment: str, dialect: CallDialect) -> list[dict[str, Any]]:
    """The call objects in ``segment``, in order; [] when it holds no ``{`` at all.

    Objects that are not calls, or not JSON at all (prose in braces), are skipped when some
    call is found; otherwise the first problem is raised as ReplyParseError.
    """
    candidates, unclosed = _json_candidates(segment)
    calls: list[dict[str, Any]] = []
    problem: ReplyParseError | None = None
    for candidate in candidates:
        try:
            value = decode_json(candidate, dialect)
        except ReplyParseError as exc:
            problem = problem or exc
            continue
        if _is_call(value):
            calls.append(value)
        elif problem is None:
            problem = ReplyParseError(f"JSON object is not a call with name and arguments: {clip(candidate)}",
                                      dialect.format_hint)
    if calls:
        return calls
    if problem is not None:
        raise problem
    if unclosed:
        raise ReplyParseError(
            f"tool call JSON is incomplete: {clip(segment)}",
            hint="The call was cut off; close every brace. " + dialect.format_hint,
        )
    return []


def _tagged_calls(text: str, dialect: CallDialect) -> Iterator[dict[str, Any]]:
    """Calls inside ``<tool_call>`` blocks, in order (a missing ``</tool_call>`` is fine).

    Blocks are read lazily, so a broken block after a ``terminate`` is never looked at.
    """
    for segment in text.split("<tool_call>")[1:]:
        yield from _segment_calls(segment.split("</tool_call>", 1)[0], dialect)


def find_calls(text: str, dialect: CallDialect) -> Iterator[dict[str, Any]]:
    """The call objects of a reply, in order (see the module docstring for what is tolerated).

    Lazy with ``<tool_call>`` tags: a block is read only when the previous ones were consumed.
    Raises ReplyParseError for unreadable JSON or a truncated object when no call is found.
    """
    body = strip_thinking(text)
    if "<tool_call>" in body:
        return _tagged_calls(body, dialect)
    return iter(_segment_calls(body, dialect))


# ---------------------------------------------------------------------------------------------
# Reading one call.


def clip(value: object, limit: int = 80) -> str:
    """``value`` as text (repr unless a string), cut to ``limit`` characters for messages."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def number_value(value: object) -> float | None:
    """A finite number from an int, float or numeric string (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < 10**15 else None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def whole_number(value: object) -> int | None:
    """An integer >= 0 from an int, a float without a fraction or such a numeric string; None otherwise."""
    number = number_value(value)
    if number is None or number < 0 or not number.is_integer():
        return None
    return int(number)


def coordinate_parts(raw: object) -> list[object] | None:
    """The two items of a coordinate: a 2-list, or a string like "[1, 2]", "(1,2)", "1 2"."""
    if isinstance(raw, str):
        inner = raw.strip().strip("[]()").strip()
        items: list[object] = [item for item in re.split(r"[,\s]+", inner) if item]
        return items if len(items) == 2 else None
    if isinstance(raw, list | tuple) and len(raw) == 2:
        return list(raw)
    return None


class CallArguments:
    """The ``arguments`` of one call (``verb`` is its action), with readers that raise
    InvalidArgumentError. Points are checked against ``model_size`` (width, height)."""

    def __init__(self, verb: str, values: dict[str, Any], model_size: tuple[int, int]) -> None:
        self.verb = verb
        self.values = values
        self.model_size = model_size

    def fail(self, problem: str, hint: str) -> InvalidArgumentError:
        """The error for a bad argument of this call, ready to raise."""
        return InvalidArgumentError(f"{self.verb}: {problem}", hint)

    def _point_hint(self, key: str) -> str:
        width, height = self.model_size
        return (
            f'"{key}" must be [x, y]: two whole numbers with 0 <= x <= {width} and '
            f"0 <= y <= {height}, pixels of the screenshot."
        )

    def point(self, key: str = "coordinate") -> Point | None:
        """The point under ``key``, in model space and range (None when absent)."""
        width, height = self.model_size
        hint = self._point_hint(key)
        raw = self.values.get(key)
        if raw is None:
            return None
        parts = coordinate_parts(raw)
        numbers = [number_value(part) for part in parts] if parts is not None else []
        if len(numbers) != 2 or numbers[0] is None or numbers[1] is None:
            raise self.fail(f'"{key}" is not [x, y]: {clip(raw)}', hint)
        x, y = round(numbers[0]), round(numbers[1])
        if not (0 <= x <= width and 0 <= y <= height):
            raise self.fail(f'"{key}" [{x}, {y}] is outside the {width}x{height} screenshot', hint)
        return Point(x, y)

    def required_point(self, key: str = "coordinate") -> Point:
        """Like :meth:`point`, but a missing point is an error."""
        point = self.point(key)
        if point is None:
            raise self.fail(f'missing "{key}"', self._point_hint(key))
        return point

    def string(self, *keys: str) -> str:
        """A non-empty string from the first present key (ints and floats become text)."""
        hint = f'"{self.verb}" needs "{keys[0]}": a non-empty string.'
        raw = next((self.values[key] for key in keys if self.values.get(key) is not None), None)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not raw:
            raise self.fail(f'"{keys[0]}" missing or not a non-empty string: {clip(raw)}', hint)
        return raw

    def index(self, key: str = "index") -> int | None:
        """A tab number under ``key`` (see :meth:`required_index`), or None when absent."""
        return None if self.values.get(key) is None else self.required_index(key)

    def required_index(self, key: str = "index") -> int:
        """A whole number >= 0 under ``key`` (numeric strings and whole floats accepted)."""
        raw = self.values.get(key)
        value = whole_number(raw)
        if value is None:
            raise self.fail(f'"{key}" missing or not a whole number >= 0: {clip(raw)}',
                            f'Give "{key}" as a tab number from list_tabs, e.g. "{key}": 1 (the first tab is 0).')
        return value

    def optional_text(self, key: str) -> str | None:
        """The string under ``key`` (numbers become text), or None when absent."""
        raw = self.values.get(key)
        if raw is None or isinstance(raw, str):
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return str(raw)
        raise self.fail(f'"{key}" must be a string, got {clip(raw)}', f'Give "{key}" as a string.')

    def number(self, key: str, default: float | None = None) -> float:
        """A finite number under ``key`` (numeric strings accepted); ``default`` when absent."""
        raw = self.values.get(key)
        if raw is None and default is not None:
            return default
        value = number_value(raw)
        if value is None:
            raise self.fail(f'"{key}" missing or not a number: {clip(raw)}', f'Give "{key}" as a number.')
        return value

    def status(self) -> TerminalStatus:
        """``status`` of ``terminate``: success or failure (case and spaces ignored)."""
        raw = self.values.get("status")
        status = raw.strip().lower() if isinstance(raw, str) else raw
        if status == "success":
            return "success"
        if status == "failure":
            return "failure"
        raise self.fail(
            f'"status" must be "success" or "failure", got {clip(raw)}',
            'End with {"action": "terminate", "status": "success"} or "status": "failure".',
        )


def read_arguments(call: dict[str, Any], dialect: CallDialect) -> dict[str, Any]:
    """The arguments object of a call (name checked; wrapper optional; JSON string decoded).

    Raises UnknownActionError when the call names another function, InvalidArgumentError
    when the arguments are not an object, ReplyParseError when their JSON string is unreadable.
    """
    if "name" in call:
        name = call["name"]
        if not isinstance(name, str) or name.strip() != dialect.function_name:
            raise UnknownActionError(
                f"unknown function {clip(name)} (this prompt format's one function is {dialect.function_name})",
                hint=f'The only function is "{dialect.function_name}"; put the action inside "arguments", '
                f"e.g. {dialect.example_json}",
            )
    if "arguments" in call or "parameters" in call:
        args = call.get("arguments", call.get("parameters"))
    else:
        args = {key: value for key, value in call.items() if key != "name"}
    if isinstance(args, str):
        args = decode_json(args, dialect)
    if not isinstance(args, dict):
        raise InvalidArgumentError(f"arguments is not a JSON object: {clip(args)}", dialect.format_hint)
    return args


def read_verb(values: dict[str, Any], unknown: Callable[[str], UnknownActionError]) -> str:
    """The ``action`` of an arguments object, stripped and lower-cased.

    ``unknown(problem)`` builds the error (with the format's list of actions) when it is
    missing or not a string.
    """
    raw_verb = values.get("action")
    if raw_verb is None:
        raise unknown('the call has no "action"')
    if not isinstance(raw_verb, str):
        raise unknown(f'"action" is not a string: {clip(raw_verb)}')
    return raw_verb.strip().lower()


def parse_calls(text: str, dialect: CallDialect, to_action: Callable[[dict[str, Any]], Action]) -> list[Action]:
    """The actions of a reply, in order: each call found by :func:`find_calls` through ``to_action``.

    Stops after a :class:`~screenpilot.agent.actions.Terminate` or :class:`~screenpilot.agent.actions.AskUser` (later
    calls are not even read). Returns at least one action; raises ReplyParseError for an empty
    reply or one without calls, and lets ``to_action``'s ModelErrors through.
    """
    if not isinstance(text, str) or not text.strip():
        raise ReplyParseError("the reply is empty", dialect.format_hint)
    actions: list[Action] = []
    for call in find_calls(text, dialect):
        action = to_action(call)
        actions.append(action)
        if isinstance(action, Terminate | AskUser):
            break
    if not actions:
        raise ReplyParseError(f"no tool call found in the reply: {clip(text)}", dialect.format_hint)
    return actions
