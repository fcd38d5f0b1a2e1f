"""The Qwen function-calling formats, driven by each family's :class:`ToolDialect`.

``computer_use`` (:mod:`.qwen25`, :mod:`.qwen3`) and ``mobile_use`` (:mod:`.qwen25_mobile`) share
the system prompt layout (tool JSON inside ``<tools></tools>``, calls inside ``<tool_call>``),
the tolerant call finder of :mod:`screenpilot.models.formats.toolcall`, the history layouts and the
canonical call text. A family says only what differs: its tool (name, description, actions,
parameters), its handlers (verb -> action) and how an action is written back as arguments.

*History*: with ``keep_images=1`` one user message holds the task, every earlier step as
``Step n: {call json};`` (with that step's feedback in brackets), the feedback on the last step,
then the screenshot. With ``keep_images=N > 1`` the last N - 1 steps come first as user
(screenshot) / assistant (raw reply) turns, and the final user message holds the task, the older
steps as text, the feedback and the current screenshot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from PIL import Image

from screenpilot.agent.actions import Action, describe
from screenpilot.agent.errors import UnknownActionError
from screenpilot.models.base import Message, ModelRequest, Turn
from screenpilot.models.formats.base import DialectFormat, image_part, map_to_screen, text_part
from screenpilot.models.formats.toolcall import CallArguments, CallDialect, clip, parse_calls, read_arguments, read_verb

SYSTEM_TEMPLATE = """You are a helpful assistant.

# Tools

You can use the function described below to operate the {device}; its signature is inside <tools></tools> XML tags:
<tools>
{tools}
</tools>

To call it, write one JSON object with the function name and its arguments inside <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""
"""The system message; ``{device}`` is ``computer`` or ``phone``, ``{tools}`` the tool JSON."""

TASK_TEMPLATE = "Task: {task}"
HISTORY_TEMPLATE = "Previous actions:\n{steps}"
STEP_TEMPLATE = "Step {number}: {calls};"
STEP_NOTE_TEMPLATE = "Step {number}: {calls} (feedback: {note});"
NO_CALL_TEXT = "(no valid tool call)"
FEEDBACK_TEMPLATE = "Feedback on your last action: {feedback}"

OPTIONAL_PARAMETERS: tuple[tuple[str, tuple[str, ...], Mapping[str, object]], ...] = (
    ("url", ("navigate", "new_tab"), {"type": "string"}),
    ("question", ("ask_user",), {"type": "string"}),
    ("index", ("switch_tab", "close_tab"), {"type": "integer", "minimum": 0}),
    ("path", ("upload",), {"type": "string"}),
)
"""Parameters advertised only when one of the actions that take them is enabled: (name, those actions, the JSON-schema
type fields), in schema order."""

_TAG_IN_JSON = re.compile(r"<(?=/?(?:tool_call|think)>)")

ArgumentsT = TypeVar("ArgumentsT", bound=CallArguments)


@dataclass(frozen=True)
class ToolDialect(Generic[ArgumentsT]):
    """One family's tool: everything :class:`ToolCallFormat` needs to prompt, parse and write calls.

    ``call``: the function name and the example call of hints. ``device``: what the system prompt
    says the tool operates. ``description``: the tool description, with ``{width}`` / ``{height}``
    for the advertised (resized) screenshot size. ``actions`` / ``extras``: the advertised core
    actions and the optional ones, in schema order. ``parameters``: the always-advertised
    parameters with their JSON-schema type fields, in order (``url``, ``question`` and ``answer``
    follow when enabled). ``action_descriptions`` / ``parameter_descriptions``: the schema texts.
    ``arguments``: the reader class; ``handlers``: verb -> action (unadvertised verbs included).
    ``write``: a model-space action as call arguments (ValueError for what the tool cannot say).
    """

    call: CallDialect
    device: str
    description: str
    actions: tuple[str, ...]
    extras: tuple[str, ...]
    parameters: tuple[tuple[str, Mapping[str, object]], ...]
    action_descriptions: Mapping[str, str]
    parameter_descriptions: Mapping[str, str]
    arguments: type[ArgumentsT]
    handlers: Mapping[str, Callable[[ArgumentsT], Action]]
    write: Callable[[Action], dict[str, object]]

    def advertised(self, enabled: Collection[str]) -> list[str]:
        """The actions the schema lists when the extras ``enabled`` are on."""
        return [*self.actions, *(verb for verb in self.extras if verb in enabled)]

    def tool_schema(
        self, model_size: tuple[int, int], extra_actions: Collection[str] = (), terminate_answer: bool = False
    ) -> dict[str, Any]:
        """The tool as a JSON-ready dict (OpenAI/Qwen ``{"type": "function", ...}``) for a screenshot of
        ``model_size`` (width, height), with the enabled ``extra_actions`` and, with ``terminate_answer``,
        the optional ``answer`` of ``terminate``."""
        actions = self.advertised(extra_actions)
        lines = ["The action to perform. The available actions are:"]
        lines += [f"* `{verb}`: {self.action_descriptions[verb]}" for verb in actions]
        properties: dict[str, Any] = {"action": {"description": "\n".join(lines), "enum": actions, "type": "string"}}
        for name, fields in self.parameters:
            properties[name] = {"description": self.parameter_descriptions[name], **fields}
        optional = [(name, fields) for name, verbs, fields in OPTIONAL_PARAMETERS if set(verbs) & set(extra_actions)]
        for name, fields in [*optional, *([("answer", {"type": "string"})] if terminate_answer else [])]:
            properties[name] = {"description": self.parameter_descriptions[name], **fields}
        return {
            "type": "function",
            "function": {
                "name": self.call.function_name,
                "description": self.description.format(width=model_size[0], height=model_size[1]),
                "parameters": {"properties": properties, "required": ["action"], "type": "object"},
            },
        }

    def call_json(self, action: Action) -> str:
        """The call as one line of JSON, ``{"name": ..., "arguments": {...}}``.

        ``<`` is written as ``\\u003c`` where it would start a ``tool_call`` or ``think`` tag, so the
        text survives being parsed again whatever the action's strings contain. ValueError as ``write``.
        """
        text = json.dumps({"name": self.call.function_name, "arguments": self.write(action)}, ensure_ascii=False)
        return _TAG_IN_JSON.sub(r"\\u003c", text)

    def parse(self, text: str, model_size: tuple[int, int], enabled: Collection[str]) -> list[Action]:
        """The actions of a reply, in model space (points within ``model_size``), in order.

        Stops after ``terminate``/``answer``/``ask_user``; an extra that is not ``enabled`` is unknown.
        Raises ReplyParseError, UnknownActionError or InvalidArgumentError, never anything else.
        """

        def unknown(problem: str) -> UnknownActionError:
            hint = '"action" must be one of: ' + ", ".join(self.advertised(enabled)) + "."
            return UnknownActionError(problem, hint=hint)

        def to_action(call: dict[str, Any]) -> Action:
            values = read_arguments(call, self.call)
            verb = read_verb(values, unknown)
            handler = self.handlers.get(verb)
            if handler is None or (verb in self.extras and verb not in enabled):
                raise unknown(f"unknown action {clip(values['action'])}")
            return handler(self.arguments(verb, values, model_size))

        return parse_calls(text, self.call, to_action)


class ToolCallFormat(DialectFormat):
    """A Qwen function-calling format (implements :class:`screenpilot.models.base.PromptFormat`).

    Options as :class:`~screenpilot.models.formats.base.DialectFormat`, plus ``extra_actions`` (the
    enabled extras) and ``terminate_answer`` (advertise ``terminate``'s optional ``answer``). A
    family sets :attr:`dialect`, and :meth:`action_space` where its coordinates are not pixels of
    the image the model saw.
    """

    dialect: ClassVar[ToolDialect[Any]]

    def __init__(
        self, *, min_pixels: int, max_pixels: int, keep_images: int, max_image_tokens: int | None,
        extra_actions: Collection[str], terminate_answer: bool,
    ) -> None:
        super().__init__(
            min_pixels=min_pixels, max_pixels=max_pixels, keep_images=keep_images, max_image_tokens=max_image_tokens
        )
        self.terminate_answer = terminate_answer
        self.extra_actions: frozenset[str] = frozenset(extra_actions)

    def describe(self) -> dict[str, object]:
        """Settings for ``run.json``."""
        extras = {"extra_actions": sorted(self.extra_actions), "terminate_answer": self.terminate_answer}
        return {**super().describe(), **extras}

    def action_space(self, model_size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the space the model's coordinates live in for an image of ``model_size``."""
        return model_size

    def system_prompt(self, model_size: tuple[int, int]) -> str:
        """The system message text for a screenshot of ``model_size`` (width, height)."""
        schema = self.dialect.tool_schema(model_size, self.extra_actions, self.terminate_answer)
        return SYSTEM_TEMPLATE.format(device=self.dialect.device, tools=json.dumps(schema, ensure_ascii=False))

    def parse(self, text: str, model_size: tuple[int, int]) -> list[Action]:
        """Actions in model space (see :meth:`ToolDialect.parse`; only this format's extras are accepted)."""
        return self.dialect.parse(text, self.action_space(model_size), self.extra_actions)

    def to_screen(
        self, model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]
    ) -> Action:
        """``model_action`` mapped to screen pixels (:func:`~screenpilot.models.formats.base.map_to_screen`
        from :meth:`action_space`)."""
        return map_to_screen(model_action, self.action_space(model_size), screen_size)

    @classmethod
    def history_call(cls, action: Action) -> str:
        """How an earlier step's action is written in the text history (:meth:`ToolDialect.call_json`)."""
        return cls.dialect.call_json(action)

    @classmethod
    def format_call(cls, action: Action) -> str:
        """The canonical ``<tool_call>`` text for a model-space action: :meth:`parse` returns it back.

        Used by scripted replies, recorders and calibration. ValueError for what the tool cannot say.
        """
        return f"<tool_call>\n{cls.dialect.call_json(action)}\n</tool_call>"

    @classmethod
    def format_calls(cls, actions: Sequence[Action]) -> str:
        """Several canonical calls, one ``<tool_call>`` block each, separated by newlines."""
        return "\n".join(cls.format_call(action) for action in actions)

    def build_request(
        self, task: str, history: Sequence[Turn], model_image: Image.Image, feedback: str | None
    ) -> ModelRequest:
        """The request for the next step (layouts in the module doc).

        ``model_image`` must already be in model space (resized to :meth:`model_size`); another size
        raises ValueError. Each turn's ``feedback`` is kept next to its step; ``feedback`` (about the
        last step) ends the final user text, and is not repeated when it equals the last turn's.
        """
        size = self._checked_size(model_image)
        notes = self._notes(history, feedback)
        recent = min(self.images_kept(size) - 1, len(history))
        split = len(history) - recent
        messages: list[Message] = [{"role": "system", "content": [text_part(self.system_prompt(size))]}]
        messages += _turn_messages(history[split:], notes[split:])
        final_note = notes[-1] if recent else None
        sections = [TASK_TEMPLATE.format(task=task)]
        if split:
            sections.append(self._history_text(history[:split], notes[:split]))
        sections += [FEEDBACK_TEMPLATE.format(feedback=f) for f in (final_note, feedback) if f is not None]
        messages.append({"role": "user", "content": [text_part("\n\n".join(sections)), image_part(model_image)]})
        return ModelRequest(messages, size, self.min_pixels, self.max_pixels, self.resize_factor)

    def _history_text(self, turns: Sequence[Turn], notes: Sequence[str | None]) -> str:
        """``Step n: {call};`` per turn, calls written by :meth:`history_call` (falling back to
        :func:`~screenpilot.agent.actions.describe` for what the tool cannot say)."""
        lines = []
        for number, (turn, note) in enumerate(zip(turns, notes, strict=True), start=1):
            template = STEP_TEMPLATE if note is None else STEP_NOTE_TEMPLATE
            lines.append(template.format(number=number, calls=self._step_calls(turn), note=note))
        return HISTORY_TEMPLATE.format(steps="\n".join(lines))

    def _step_calls(self, turn: Turn) -> str:
        if not turn.model_actions:
            return NO_CALL_TEXT
        parts = []
        for action in turn.model_actions:
            try:
                parts.append(self.history_call(action))
            except ValueError:
                parts.append(describe(action))
        return ", ".join(parts)


def _turn_messages(turns: Sequence[Turn], notes: Sequence[str | None]) -> list[Message]:
    """User-image / assistant-reply pairs; a step's feedback opens the next user message."""
    messages: list[Message] = []
    for index, turn in enumerate(turns):
        content: list[dict[str, Any]] = []
        if index and notes[index - 1] is not None:
            content.append(text_part(FEEDBACK_TEMPLATE.format(feedback=notes[index - 1])))
        content.append(image_part(turn.model_image))
        messages.append({"role": "user", "content": content})
        messages.append({"role": "assistant", "content": [text_part(turn.reply_text)]})
    return messages
