"""The UI-TARS-1.5 prompt format: ``Thought: ... / Action: call(...)`` replies in screenshot pixels.

UI-TARS-1.5 is a Qwen2.5-VL fine-tune with its own dialect. The prompt (a user message, after a
one-line system message) lists the action space as Python-like calls and asks for a reply of the
form ``Thought: <reasoning>`` then ``Action: <call>``. Coordinates are absolute pixels of the
image the model saw, which :func:`screenpilot.models.resize.smart_resize` (factor 28) sized within UI-TARS'
own bounds, :data:`MIN_PIXELS` = 100 * 28 * 28 and :data:`MAX_PIXELS` = 16384 * 28 * 28; the
mapping back is Qwen2.5-VL's, ``x_screen = x * W / W'`` (:func:`screenpilot.models.formats.base.map_to_screen`).

*Parsing* (pure; Python's :mod:`ast` reads the call, nothing is ever evaluated):

* The action part starts at the first line beginning with ``Action:``; without one the reply is a
  :class:`~screenpilot.agent.errors.ReplyParseError`. The ``Thought:`` part (if any) is kept as the question
  of ``call_user``.
* The action part holds one or more calls ``name(key='value', ...)``, separated by whitespace
  (UI-TARS puts a blank line between them). Each is cut out by matching its parentheses (quotes
  respected; a raw line break inside a quoted value is read as ``\\n``), then read with
  ``ast.parse(..., mode="eval")``: the expression must be a plain call of a known function whose
  arguments are string or number literals. Anything else — an attribute or nested call
  (``__import__('os')``), a name, an f-string, an operator, text after the last call — is a
  :class:`~screenpilot.agent.errors.ModelError`. At most :data:`MAX_CALLS` calls, :data:`MAX_ACTION_CHARS`
  characters.
* Points: ``point='<point>x y</point>'`` or ``start_box='(x,y)'`` (``<|box_start|>`` /
  ``<|box_end|>`` tags optional; brackets, commas or spaces). A four-number box
  ``(x1,y1,x2,y2)`` means its centre. After rounding, ``0 <= x <= W'`` and ``0 <= y <= H'``;
  anything else is an :class:`~screenpilot.agent.errors.InvalidArgumentError`.

*Verbs* (model space):

* ``click`` (alias ``left_single``) / ``left_double`` / ``right_single`` (``point`` or
  ``start_box``) -> :class:`~screenpilot.agent.actions.Click` with count 1 / 2 / right button.
* ``drag`` (``start_point``/``end_point`` or ``start_box``/``end_box``) -> :class:`~screenpilot.agent.actions.Drag`.
* ``hotkey`` (``key``, also ``hotkey``: names separated by spaces, e.g. ``'ctrl c'``) and ``press``
  (``key``) -> :class:`~screenpilot.agent.actions.PressKeys`.
* ``type`` (``content``) -> :class:`~screenpilot.agent.actions.TypeText`; a trailing line break (a real one
  or the two characters backslash-n) submits: the text is typed, then Enter is pressed
  (``content='\\n'`` alone is just Enter).
* ``scroll`` (optional ``point``/``start_box``; ``direction`` up | down | left | right) ->
  :class:`~screenpilot.agent.actions.Scroll` by half the image side in that direction (:data:`SCROLL_FRACTION`).
* ``wait()`` -> :class:`~screenpilot.agent.actions.Wait` of :data:`WAIT_S` (5 s, as UI-TARS is told).
* ``finished(content=...)`` -> :class:`~screenpilot.agent.actions.Terminate` success with ``content`` as the
  answer (none when empty or absent).
* ``call_user()`` -> :class:`~screenpilot.agent.actions.AskUser` whose question is the reply's thought
  (only when ``ask_user`` is enabled).

Calls after ``finished`` or ``call_user`` are not read.

*Browser extras* (only with ``browser_actions``; UI-TARS has no verbs of its own for tabs and files, so these
extend its action space in its own call syntax, and a browser still navigates with ``hotkey(key='ctrl l')`` then
``type``): ``list_tabs()`` -> :class:`~screenpilot.agent.actions.ListTabs`, ``switch_tab(index=1)`` ->
:class:`~screenpilot.agent.actions.SwitchTab`, ``close_tab()`` or ``close_tab(index=1)`` ->
:class:`~screenpilot.agent.actions.CloseTab`, ``new_tab()`` or ``new_tab(url='https://...')`` ->
:class:`~screenpilot.agent.actions.NewTab`, ``upload(path='report.pdf')`` -> :class:`~screenpilot.agent.actions.Upload`.
``index`` counts from 0, a whole number (quoted or not). Without ``browser_actions`` they are unknown functions.

*History* (UI-TARS' own agents): the system line, the prompt with the task, then per earlier step
its screenshot as a user message (only the last ``keep_images - 1`` steps keep theirs) and its
reply as an assistant message, then the current screenshot. Feedback on a step (an error hint, a
person's answer) opens the next user message.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from screenpilot.agent.actions import (
    Action,
    AskUser,
    Click,
    CloseTab,
    Drag,
    ListTabs,
    NewTab,
    Point,
    PressKeys,
    Scroll,
    SwitchTab,
    Terminate,
    TypeText,
    Upload,
    Wait,
    describe,
)
from screenpilot.agent.errors import InvalidArgumentError, ReplyParseError, UnknownActionError
from screenpilot.agent.keys import normalize_key, split_chord
from screenpilot.models.base import Message, ModelRequest, Turn
from screenpilot.models.formats.base import DialectFormat, image_part, map_to_screen, text_part
from screenpilot.models.formats.toolcall import clip, closing_end, number_value, whole_number
from screenpilot.models.formats.toolformat import FEEDBACK_TEMPLATE

if TYPE_CHECKING:
    from screenpilot.models.base import PromptFormat

NAME = "ui-tars-1.5"
"""The prompt format's name (``--prompt-format ui-tars``, ``run.json``)."""

MIN_PIXELS = 100 * 28 * 28
"""UI-TARS' lower image area bound (78,400 pixels)."""

MAX_PIXELS = 16384 * 28 * 28
"""UI-TARS' upper image area bound (12,845,056 pixels)."""

WAIT_S = 5.0
"""Seconds ``wait()`` pauses (what the prompt tells the model)."""

SCROLL_FRACTION = 0.5
"""A scroll moves this fraction of the model image's height (up/down) or width (left/right)."""

MAX_CALLS = 8
"""At most this many calls are read from one reply."""

MAX_ACTION_CHARS = 4000
"""Longest action part (characters) that is parsed; longer replies are a model error."""

SYSTEM_TEXT = "You are a helpful assistant."

PROMPT_TEMPLATE = """You are a GUI agent operating a computer. You get a task, the actions taken so far and \
screenshots of the screen. Decide the single next action that moves the task forward.

## Output Format
```
Thought: ...
Action: ...
```

## Action Space

{actions}

## Note
- Write the `Thought` part in {language}.
- In `Thought`, make a short plan, then end with one sentence that names the next action and the element it targets.

## User Instruction
{task}"""

ACTION_LINES: tuple[tuple[str, str], ...] = (
    ("click", "click(point='<point>x1 y1</point>')"),
    ("left_double", "left_double(point='<point>x1 y1</point>')"),
    ("right_single", "right_single(point='<point>x1 y1</point>')"),
    ("drag", "drag(start_point='<point>x1 y1</point>', end_point='<point>x2 y2</point>')"),
    ("hotkey", "hotkey(key='ctrl c') # Key names in lower case separated by spaces; three keys at most."),
    ("type", "type(content='xxx') # Escape \\', \\\" and \\n inside content. End content with \\n to submit it."),
    ("scroll", "scroll(point='<point>x1 y1</point>', direction='down or up or right or left') "
     "# Brings more content into view on the `direction` side."),
    ("wait", "wait() # Pause for 5 seconds, then look at a new screenshot."),
    ("finished", "finished(content='xxx') # The task is done; put the answer in content when the task asks "
     "for one (escape it as in type)."),
    ("call_user", "call_user() # Hand over to the user when the task cannot be done or needs their help."),
)
"""The advertised action space, one call signature (and note) per line."""

BROWSER_ACTION_LINES: tuple[tuple[str, str], ...] = (
    ("list_tabs", "list_tabs() # List the open browser tabs; the list comes with the next screenshot."),
    ("switch_tab", "switch_tab(index=1) # Make that browser tab current; tabs are numbered from 0 as list_tabs shows."),
    ("close_tab", "close_tab(index=1) # Close that browser tab; close_tab() closes the current one."),
    ("new_tab", "new_tab(url='https://...') # Open a new browser tab (new_tab() opens a blank one)."),
    ("upload", "upload(path='xxx') # Choose that file in the file chooser the page opened (click its file field "
     "first)."),
)
"""The browser extras, advertised with ``browser_actions`` (this project's extension, see the module doc)."""

BROWSER_VERBS: frozenset[str] = frozenset(verb for verb, _ in BROWSER_ACTION_LINES)

FORMAT_HINT = (
    "Reply as 'Thought: <your reasoning>' then 'Action: <one call>', e.g. Action: click(point='<point>x y</point>')"
)
DEFAULT_QUESTION = "I need your help to continue this task."

# ---------------------------------------------------------------------------------------------
# Cutting calls out of the action text.

_ACTION_LINE = re.compile(r"^[ \t]*Action[ \t]*:[ \t]*", re.MULTILINE)
_THOUGHT = re.compile(r"^[ \t]*Thought[ \t]*:[ \t]*", re.MULTILINE)
_CALL_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*[ \t]*\(")
_SEPARATORS = " \t\r\n;"


def split_reply(text: str) -> tuple[str, str]:
    """``(thought, action_text)`` of a reply; ReplyParseError when it has no ``Action:`` line."""
    if not isinstance(text, str) or not text.strip():
        raise ReplyParseError("the reply is empty", FORMAT_HINT)
    match = _ACTION_LINE.search(text)
    if match is None:
        raise ReplyParseError(f"no 'Action:' line in the reply: {clip(text)}", FORMAT_HINT)
    head, action_text = text[: match.start()], text[match.end():]
    thought = head
    thought_match = _THOUGHT.search(head)
    if thought_match is not None:
        thought = head[thought_match.end():]
    if len(action_text) > MAX_ACTION_CHARS:
        raise ReplyParseError(f"the action part is longer than {MAX_ACTION_CHARS} characters", FORMAT_HINT)
    return thought.strip(), action_text


_QUOTED = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", re.DOTALL)
"""A single- or double-quoted string with backslash escapes, as :func:`closing_end` reads them."""
_ESCAPE_OR_BREAK = re.compile(r"\\.|\n", re.DOTALL)
"""An escape (kept as it is) or a raw line break (written as ``\\n``) inside a quoted string."""


def _call_end(text: str, open_at: int) -> tuple[int, str] | None:
    """``(index after the matching ')', call text from open_at on with raw line breaks inside
    quotes written as \\n)``; None when the parentheses never balance."""
    end = closing_end(text, open_at, "()")
    if end is None:
        return None

    def escape_breaks(quoted: re.Match[str]) -> str:
        return _ESCAPE_OR_BREAK.sub(lambda m: "\\n" if m.group() == "\n" else m.group(), quoted.group())

    return end, _QUOTED.sub(escape_breaks, text[open_at:end])


def split_calls(action_text: str) -> Iterator[str]:
    """The call texts of an action part, in order (at most :data:`MAX_CALLS`), read lazily.

    ReplyParseError (when reached) if there is no call, a call's parentheses do not balance, or
    anything but whitespace or ``;`` stands between or after the calls.
    """
    count = 0
    pos = 0
    while count < MAX_CALLS:
        while pos < len(action_text) and action_text[pos] in _SEPARATORS:
            pos += 1
        if pos >= len(action_text):
            break
        match = _CALL_START.match(action_text, pos)
        if match is None:
            what = "unexpected text after the call" if count else "no call after 'Action:'"
            raise ReplyParseError(f"{what}: {clip(action_text[pos:])}", FORMAT_HINT)
        ended = _call_end(action_text, match.end() - 1)
        if ended is None:
            raise ReplyParseError(
                f"unbalanced parentheses or quotes in {clip(action_text[pos:])}",
                "Close every parenthesis and quote, e.g. Action: click(point='<point>x y</point>')",
            )
        end, body = ended
        count += 1
        yield action_text[pos : match.end() - 1] + body
        pos = end
    if not count:
        raise ReplyParseError("no call after 'Action:'", FORMAT_HINT)


# ---------------------------------------------------------------------------------------------
# Reading one call with ast (never evaluated).


def _literal(node: ast.expr, function: str, key: str) -> str | int | float:
    """The value of a string or number literal node; InvalidArgumentError for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float) and not isinstance(
        node.value, bool
    ):
        return node.value
    raise InvalidArgumentError(
        f"{function}: argument {key!r} is not a plain quoted value",
        f"Write every argument of {function} as a quoted literal, e.g. {function}(point='<point>x y</point>')",
    )


_PRIMARY: dict[str, str] = {
    "click": "point", "left_single": "point", "left_double": "point", "right_single": "point",
    "hotkey": "key", "press": "key", "type": "content", "finished": "content", "scroll": "point",
    "switch_tab": "index", "close_tab": "index", "new_tab": "url", "upload": "path",
}
"""Where a single positional argument of a function goes."""


def read_call(source: str) -> tuple[str, dict[str, str | int | float]]:
    """``(function name, keyword arguments)`` of one call text.

    ReplyParseError when ``source`` is not a Python call expression; UnknownActionError when it
    calls anything but the bare name of a known function; InvalidArgumentError for non-literal arguments, ``**kwargs``,
    repeated keywords or surplus positional arguments.
    """
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ReplyParseError(
            f"the action is not a well-formed call: {clip(source)}",
            "Write one call with quoted arguments, escaping quotes inside them, e.g. type(content='it\\'s')",
        ) from None
    call = tree.body
    if not isinstance(call, ast.Call):
        raise ReplyParseError(f"the action is not a call: {clip(source)}", FORMAT_HINT)
    if not isinstance(call.func, ast.Name):
        raise UnknownActionError(f"unknown function in {clip(source)}", _functions_hint())
    name = call.func.id
    if name.lower() not in _HANDLERS:
        raise UnknownActionError(f"unknown function {clip(name)}", _functions_hint())
    values: dict[str, str | int | float] = {}
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg in values:
            raise InvalidArgumentError(f"{name}: bad or repeated keyword argument", FORMAT_HINT)
        values[keyword.arg] = _literal(keyword.value, name, keyword.arg)
    if call.args:
        primary = _PRIMARY.get(name.lower())
        if len(call.args) > 1 or primary is None or primary in values:
            raise InvalidArgumentError(f"{name}: unexpected positional arguments", "Name every argument: key='...'")
        values[primary] = _literal(call.args[0], name, primary)
    return name, values


# ---------------------------------------------------------------------------------------------
# Turning a call into actions.

_POINT_TAGS = re.compile(r"<\|box_start\|>|<\|box_end\|>|</?point>|</?bbox>")


def _functions_hint(ask_user: bool = True, browser: bool = False) -> str:
    lines = [*ACTION_LINES, *(BROWSER_ACTION_LINES if browser else ())]
    names = [verb for verb, _ in lines if ask_user or verb != "call_user"]
    return "Use one of: " + ", ".join(f"{name}()" for name in names) + "."


@dataclass(frozen=True)
class _Call:
    """One parsed call: its function, arguments, the image size and the reply's thought."""

    function: str
    values: dict[str, str | int | float]
    model_size: tuple[int, int]
    thought: str

    def fail(self, problem: str, hint: str) -> InvalidArgumentError:
        return InvalidArgumentError(f"{self.function}: {problem}", hint)

    def text(self, *keys: str) -> str | None:
        """The first present argument of ``keys`` as text (numbers become text), or None."""
        raw = next((self.values[key] for key in keys if key in self.values), None)
        return None if raw is None else str(raw)

    def point(self, *keys: str) -> Point | None:
        """The point in the first present argument of ``keys`` (None when none is present)."""
        raw = self.text(*keys)
        if raw is None:
            return None
        width, height = self.model_size
        hint = (
            f"Give '{keys[0]}' as '<point>x y</point>': pixels of the {width}x{height} screenshot, "
            f"0 <= x <= {width}, 0 <= y <= {height}."
        )
        numbers = _box_numbers(raw)
        if numbers is None:
            raise self.fail(f"{keys[0]} is not a point or box: {clip(raw)}", hint)
        if len(numbers) == 4:
            numbers = [(numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2]
        x, y = round(numbers[0]), round(numbers[1])
        if not (0 <= x <= width and 0 <= y <= height):
            raise self.fail(f"{keys[0]} ({x}, {y}) is outside the {width}x{height} screenshot", hint)
        return Point(x, y)

    def required_point(self, *keys: str) -> Point:
        point = self.point(*keys)
        if point is None:
            raise self.fail(f"missing {keys[0]}", f"{self.function} needs {keys[0]}='<point>x y</point>'.")
        return point


def _box_numbers(raw: str) -> list[float] | None:
    """Two or four finite numbers from a point or box string, or None."""
    inner = _POINT_TAGS.sub(" ", raw).strip().strip("()[] ").strip()
    parts = [part for part in re.split(r"[,\s]+", inner) if part]
    if len(parts) not in (2, 4):
        return None
    numbers: list[float] = []
    for part in parts:
        value = number_value(part)
        if value is None:
            return None
        numbers.append(value)
    return numbers


def _click(button: str, count: int) -> Callable[[_Call], tuple[Action, ...]]:
    def make(call: _Call) -> tuple[Action, ...]:
        at = call.required_point("point", "start_box", "start_point")
        return (Click(at, "right" if button == "right" else "left", count),)

    return make


def _drag(call: _Call) -> tuple[Action, ...]:
    start = call.required_point("start_point", "start_box")
    end = call.required_point("end_point", "end_box")
    return (Drag(end, start),)


_KEY_HINT = "Write keys in lower case separated by spaces, e.g. hotkey(key='ctrl c') or hotkey(key='enter')."


def _keys(call: _Call) -> tuple[Action, ...]:
    raw = call.text("key", "hotkey", "keys")
    if raw is None or not raw.strip():
        raise call.fail("missing key", _KEY_HINT)
    names = [name for piece in raw.split() for name in ([piece] if len(piece) == 1 else split_chord(piece))]
    canonical = [normalize_key(name) for name in names]
    unknown = [name for name, key in zip(names, canonical, strict=True) if key is None]
    if unknown or not canonical:
        raise call.fail(f"unknown key {clip(unknown[0] if unknown else raw)}", _KEY_HINT)
    return (PressKeys(tuple(key for key in canonical if key is not None)),)


def _type(call: _Call) -> tuple[Action, ...]:
    content = call.text("content", "text")
    if content is None or content == "":
        raise call.fail("missing content", "type needs content='the text'; end it with \\n to submit.")
    submit = content.endswith(("\n", "\\n"))
    if submit:
        content = content[:-1] if content.endswith("\n") else content[:-2]
    typed: tuple[Action, ...] = (TypeText(content),) if content else ()
    return (*typed, PressKeys(("enter",))) if submit else typed


_DIRECTIONS = {"down": (0, 1), "up": (0, -1), "right": (1, 0), "left": (-1, 0)}


def _scroll(call: _Call) -> tuple[Action, ...]:
    direction = (call.text("direction") or "").strip().lower()
    if direction not in _DIRECTIONS:
        raise call.fail(
            f"direction must be up, down, left or right, got {clip(direction)}",
            "scroll(point='<point>x y</point>', direction='down')",
        )
    sign_x, sign_y = _DIRECTIONS[direction]
    width, height = call.model_size
    step_x, step_y = max(1, round(width * SCROLL_FRACTION)), max(1, round(height * SCROLL_FRACTION))
    return (Scroll(dy=sign_y * step_y, dx=sign_x * step_x, at=call.point("point", "start_box")),)


def _index(call: _Call) -> int | None:
    """The tab number ``index`` (None when absent); InvalidArgumentError unless a whole number >= 0."""
    raw = call.text("index")
    value = None if raw is None else whole_number(raw)
    if raw is not None and value is None:
        raise call.fail(f"index must be a whole number >= 0, got {clip(raw)}",
                        f"Give a tab number as list_tabs shows it, e.g. {call.function}(index=1); the first tab is 0.")
    return value


def _switch_tab(call: _Call) -> tuple[Action, ...]:
    index = _index(call)
    if index is None:
        raise call.fail("missing index", "switch_tab(index=1) makes tab 1 current; list_tabs shows the numbers.")
    return (SwitchTab(index),)


def _upload(call: _Call) -> tuple[Action, ...]:
    path = call.text("path", "file")
    if not path:
        raise call.fail("missing path", "upload(path='report.pdf') names the file to choose.")
    return (Upload(path),)


def _finished(call: _Call) -> tuple[Action, ...]:
    content = call.text("content", "answer")
    return (Terminate("success", content if content else None),)


def _call_user(call: _Call) -> tuple[Action, ...]:
    return (AskUser(call.thought or DEFAULT_QUESTION),)


_HANDLERS: dict[str, Callable[[_Call], tuple[Action, ...]]] = {
    "click": _click("left", 1),
    "left_single": _click("left", 1),
    "left_double": _click("left", 2),
    "right_single": _click("right", 1),
    "drag": _drag,
    "select": _drag,
    "hotkey": _keys,
    "press": _keys,
    "type": _type,
    "scroll": _scroll,
    "wait": lambda call: (Wait(WAIT_S),),
    "finished": _finished,
    "call_user": _call_user,
    "list_tabs": lambda call: (ListTabs(),),
    "switch_tab": _switch_tab,
    "close_tab": lambda call: (CloseTab(_index(call)),),
    "new_tab": lambda call: (NewTab(call.text("url") or None),),
    "upload": _upload,
}


def _call_actions(
    source: str, model_size: tuple[int, int], thought: str, ask_user: bool, browser: bool
) -> tuple[Action, ...]:
    name, values = read_call(source)
    function = name.lower()
    handler = _HANDLERS.get(function)
    if handler is None or (function == "call_user" and not ask_user) or (function in BROWSER_VERBS and not browser):
        raise UnknownActionError(f"unknown function {clip(name)}", _functions_hint(ask_user, browser))
    return handler(_Call(function, values, model_size, thought))


# ---------------------------------------------------------------------------------------------
# Canonical replies (the inverse of parse, for scripted replies).


def _point(point: Point | None) -> str:
    if point is None:
        raise ValueError("UI-TARS needs a point for this action")
    return f"'<point>{point.x} {point.y}</point>'"


def _scroll_call(action: Scroll) -> str:
    if (action.dx == 0) == (action.dy == 0):
        raise ValueError(f"UI-TARS scrolls in exactly one direction, got {describe(action)}")
    vertical = "down" if action.dy > 0 else "up"
    direction = vertical if action.dy else "right" if action.dx > 0 else "left"
    where = "" if action.at is None else f"point={_point(action.at)}, "
    return f"scroll({where}direction='{direction}')"


_CLICK_CALLS = {("left", 1): "click", ("left", 2): "left_double", ("right", 1): "right_single"}


def action_call(action: Action) -> str:
    """The UI-TARS call text for a model-space action, e.g. ``click(point='<point>10 20</point>')``.

    Scroll amounts and wait times are not expressible (UI-TARS uses fixed ones). Raises ValueError
    for what UI-TARS cannot say: a click without a point, a middle or triple click, a drag without
    a start, a failure, moves, navigation or phone actions.
    """
    match action:
        case Click(at=at, button=button, count=count) if (button, count) in _CLICK_CALLS:
            return f"{_CLICK_CALLS[(button, count)]}(point={_point(at)})"
        case Drag(to=to, start=start):
            return f"drag(start_point={_point(start)}, end_point={_point(to)})"
        case PressKeys(keys=keys):
            return f"hotkey(key={' '.join(keys)!r})"
        case TypeText(text=text):
            return f"type(content={text!r})"
        case Scroll():
            return _scroll_call(action)
        case Wait():
            return "wait()"
        case Terminate(status="success", answer=answer):
            return "finished()" if answer is None else f"finished(content={answer!r})"
        case AskUser():
            return "call_user()"
        case ListTabs():
            return "list_tabs()"
        case SwitchTab(index=index):
            return f"switch_tab(index={index})"
        case CloseTab(index=index):
            return "close_tab()" if index is None else f"close_tab(index={index})"
        case NewTab(url=url):
            return "new_tab()" if url is None else f"new_tab(url={url!r})"
        case Upload(path=path):
            return f"upload(path={path!r})"
    raise ValueError(f"UI-TARS-1.5 cannot express {describe(action)}")


# ---------------------------------------------------------------------------------------------
# The format.


class UITarsFormat(DialectFormat):
    """UI-TARS-1.5's dialect (implements :class:`screenpilot.models.base.PromptFormat`).

    ``min_pixels`` / ``max_pixels``: smart_resize bounds (UI-TARS' own by default).
    ``keep_images``: screenshots per request, the current one included (UI-TARS' agents keep 5).
    ``max_image_tokens``: optional cap lowering that number. ``ask_user``: offer ``call_user()``.
    ``language``: the language the thought is written in. ``browser_actions``: offer the tab and file calls (see
    the module doc). ``terminate_answer`` is accepted for a uniform signature and changes nothing (``finished``
    always takes an answer). Bad values raise ConfigError.
    """

    name = NAME

    def __init__(
        self,
        *,
        min_pixels: int = MIN_PIXELS,
        max_pixels: int = MAX_PIXELS,
        keep_images: int = 1,
        browser_actions: bool = False,
        ask_user: bool = True,
        terminate_answer: bool = False,
        max_image_tokens: int | None = None,
        language: str = "English",
    ) -> None:
        super().__init__(
            min_pixels=min_pixels, max_pixels=max_pixels, keep_images=keep_images, max_image_tokens=max_image_tokens
        )
        self.ask_user = ask_user
        self.browser_actions = browser_actions
        self.language = language
        del terminate_answer

    def describe(self) -> dict[str, object]:
        """Settings for ``run.json``."""
        own = {"ask_user": self.ask_user, "browser_actions": self.browser_actions, "language": self.language,
               "coordinates": "pixels of the resized screenshot"}
        return {**super().describe(), **own}

    def prompt(self, task: str) -> str:
        """The instruction message: role, output format, action space, notes and the task."""
        lines = [*ACTION_LINES, *(BROWSER_ACTION_LINES if self.browser_actions else ())]
        actions = "\n".join(line for verb, line in lines if self.ask_user or verb != "call_user")
        return PROMPT_TEMPLATE.format(actions=actions, language=self.language, task=task)

    def _size_error(self, size: tuple[int, int]) -> ValueError:
        return ValueError(
            f"model_image is {size[0]}x{size[1]}, not a model-space size for {self.name} (sides multiples "
            f"of 28, area within {self.min_pixels}..{self.max_pixels}); resize it to model_size(screen_size)"
        )

    def build_request(
        self, task: str, history: Sequence[Turn], model_image: Image.Image, feedback: str | None
    ) -> ModelRequest:
        """The request for the next step (see the module doc for the layout).

        ``model_image`` must already be in model space (:meth:`model_size`); another size raises
        ValueError. ``feedback`` (about the last step) goes before the current screenshot and
        is not repeated when it equals the last turn's feedback.
        """
        size = self._checked_size(model_image)
        notes = self._notes(history, feedback)
        split = len(history) - min(self.images_kept(size) - 1, len(history))
        messages: list[Message] = [
            {"role": "system", "content": [text_part(SYSTEM_TEXT)]},
            {"role": "user", "content": [text_part(self.prompt(task))]},
        ]
        pending: list[dict[str, Any]] = []
        for index, turn in enumerate(history):
            if index >= split:
                messages.append({"role": "user", "content": [*pending, image_part(turn.model_image)]})
            elif pending:
                messages.append({"role": "user", "content": pending})
            messages.append({"role": "assistant", "content": [text_part(turn.reply_text)]})
            pending = [text_part(FEEDBACK_TEMPLATE.format(feedback=notes[index]))] if notes[index] else []
        if feedback is not None:
            pending.append(text_part(FEEDBACK_TEMPLATE.format(feedback=feedback)))
        messages.append({"role": "user", "content": [*pending, image_part(model_image)]})
        return ModelRequest(messages, size, self.min_pixels, self.max_pixels, self.resize_factor)

    def parse(self, text: str, model_size: tuple[int, int]) -> list[Action]:
        """The actions of a UI-TARS-1.5 reply, in model space (pixels of ``model_size``), in order.

        See the module doc for the accepted forms. Returns at least one action and stops after
        ``finished`` / ``call_user`` (``call_user`` only when :attr:`ask_user` is on, the tab and file calls only
        with :attr:`browser_actions`); raises
        ReplyParseError, UnknownActionError or InvalidArgumentError, never anything else.
        """
        thought, action_text = split_reply(text)
        actions: list[Action] = []
        for source in split_calls(action_text):
            actions += _call_actions(source, model_size, thought, self.ask_user, self.browser_actions)
            if actions and isinstance(actions[-1], Terminate | AskUser):
                break
        return actions

    def to_screen(
        self, model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]
    ) -> Action:
        """``model_action`` mapped to screen pixels: Qwen2.5-VL's mapping
        (:func:`~screenpilot.models.formats.base.map_to_screen`)."""
        return map_to_screen(model_action, model_size, screen_size)

    @staticmethod
    def format_call(action: Action) -> str:
        """A canonical reply for ``action``: ``Thought: ...`` then ``Action: <call>``.

        The thought is the question for :class:`~screenpilot.agent.actions.AskUser` (so ``call_user`` carries
        it back) and a short description otherwise. ValueError as :func:`action_call`.
        """
        call = action_call(action)
        thought = action.question if isinstance(action, AskUser) else f"Next: {describe(action)}."
        return f"Thought: {' '.join(thought.split())}\nAction: {call}"


if TYPE_CHECKING:
    _satisfies_protocol: PromptFormat = UITarsFormat()
