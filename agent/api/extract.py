"""``extract``: the model reads the screen and answers JSON that must validate against a schema.

A schema is one of: None (any JSON object or array), a pydantic model class (the answer is validated into an
instance), a JSON Schema as a dict (validated with ``jsonschema``; the answer is the parsed JSON), or any other
type pydantic can validate (``list[str]``, a ``TypedDict``, a dataclass). The request is a plain chat request in
the neutral message shape every backend takes (see :mod:`screenpilot.models.base`): a system text naming the
schema, then the screenshot at the prompt format's model size and the question. A reply that holds no JSON, or
JSON that does not validate, is answered with the problem and asked again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from PIL import Image
from pydantic import BaseModel, TypeAdapter, ValidationError

from screenpilot.agent.errors import ConfigError, ScreenpilotError
from screenpilot.agent.json_text import first_json
from screenpilot.models.base import Message, ModelRequest, PromptFormat
from screenpilot.models.formats.base import image_part, text_part

DEFAULT_EXTRACT_RETRIES = 2
"""Times a reply that does not validate is answered with the problem and asked again."""

SYSTEM_TEXT = (
    "You read a screenshot of a computer screen and answer a question about what it shows. Answer with one JSON "
    "value and nothing else: no prose, no code fence. Copy text exactly as the screen shows it; write numbers as "
    "JSON numbers. The answer must validate against this JSON Schema:\n{schema}"
)


class ExtractionError(ScreenpilotError):
    """The model's answers never validated against the schema. ``reply`` is its last reply and ``problem`` what was
    wrong with it; every attempt is recorded in the session's ``steps.jsonl``."""

    def __init__(self, message: str, reply: str, problem: str) -> None:
        super().__init__(message)
        self.reply = reply
        self.problem = problem


class InvalidAnswer(Exception):
    """A reply without valid JSON for the schema; ``problem`` is written for the model."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class AnswerSchema:
    """A schema as the request shows it (``json_schema``) and as the answer is checked (``validate``: the parsed
    JSON -> the value returned, raising :class:`InvalidAnswer`)."""

    json_schema: dict[str, Any]
    validate: Callable[[Any], Any]


def answer_schema(schema: object) -> AnswerSchema:
    """The :class:`AnswerSchema` for a schema given to ``extract`` (see module doc); ConfigError when it is none of
    the accepted kinds or not a valid JSON Schema."""
    if schema is None:
        return AnswerSchema({"type": ["object", "array"]}, lambda value: value)
    if isinstance(schema, dict):
        return _json_schema(schema)
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        model = schema
        return AnswerSchema(model.model_json_schema(), lambda value: _pydantic(lambda: model.model_validate(value)))
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, schema))
        shown = adapter.json_schema()
    except Exception as exc:
        raise ConfigError(f"schema={schema!r} is neither a pydantic model, a JSON Schema dict nor a type pydantic "
                          f"can validate: {exc}") from None
    return AnswerSchema(shown, lambda value: _pydantic(lambda: adapter.validate_python(value)))


def _pydantic(validate: Callable[[], Any]) -> Any:
    try:
        return validate()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(the answer)'}: {e['msg']}"
                             for e in exc.errors())
        raise InvalidAnswer(problems) from None


def _json_schema(schema: dict[str, Any]) -> AnswerSchema:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"schema is not a valid JSON Schema: {exc.message}") from None
    validator = cls(schema)

    def validate(value: Any) -> Any:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            raise InvalidAnswer("; ".join(f"{'.'.join(str(p) for p in e.absolute_path) or '(the answer)'}: "
                                          f"{e.message}" for e in errors))
        return value

    return AnswerSchema(schema, validate)


def read_answer(text: str, schema: AnswerSchema) -> Any:
    """The validated value in the reply ``text``; :class:`InvalidAnswer` saying what is wrong."""
    try:
        value = first_json(text)
    except ValueError:
        raise InvalidAnswer("the reply holds no JSON object or array") from None
    return schema.validate(value)


def extraction_request(question: str, schema: AnswerSchema, image: Image.Image, prompt: PromptFormat,
                       earlier: list[tuple[str, str]]) -> ModelRequest:
    """The request asking ``question`` about ``image`` (already at the prompt format's model size); ``earlier``
    holds (reply, problem) pairs of attempts that did not validate, replayed so the model can correct itself."""
    messages: list[Message] = [
        {"role": "system", "content": [text_part(SYSTEM_TEXT.format(schema=json.dumps(schema.json_schema)))]},
        {"role": "user", "content": [image_part(image), text_part(question)]},
    ]
    for reply, problem in earlier:
        messages.append({"role": "assistant", "content": [text_part(reply)]})
        messages.append({"role": "user", "content": [text_part(
            f"That answer is not valid: {problem}. Answer again with only the corrected JSON.")]})
    return ModelRequest(messages, image.size, prompt.min_pixels, prompt.max_pixels, prompt.resize_factor)
