"""What every model backend receives and returns, and the backend and prompt-format contracts.

Messages use one neutral shape, the one ``qwen_vl_utils`` reads: a list of
``{"role": "system" | "user" | "assistant", "content": [part, ...]}`` where a part is
``{"type": "text", "text": str}`` or ``{"type": "image", "image": PIL.Image.Image}``. Every
image in a request is already resized to model space by the prompt format; backends must send
it at exactly that size (no second resize anywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from PIL import Image

from screenpilot.agent.actions import Action

Message: TypeAlias = dict[str, Any]

DEFAULT_MAX_NEW_TOKENS = 256
"""Reply length cap (tokens) when none is given: ample for one tool call with its thought."""

DEFAULT_TIMEOUT_S = 15.0
"""Seconds an HTTP backend gives one attempt of a request in all (connecting, sending and reading the answer)."""
DEFAULT_MAX_RETRIES = 3
"""Attempts an HTTP backend repeats after the first. With :data:`DEFAULT_TIMEOUT_S` and the backoff between attempts,
a server that never answers costs a run about a minute, not more."""


@dataclass(frozen=True)
class ModelRequest:
    """One call to a model.

    ``messages``: the neutral chat messages (see module doc). ``image_size``: (width, height)
    of the current screenshot in model space, as the prompt advertised it. ``min_pixels`` /
    ``max_pixels``: the resize bounds used, so a backend can keep its processor from resizing.
    ``resize_factor``: pixels per vision token side (28 = patch 14 x merge 2 for Qwen2.5-VL,
    32 for Qwen3-VL), for backends that must compute image tokens themselves.
    """

    messages: list[Message]
    image_size: tuple[int, int]
    min_pixels: int
    max_pixels: int
    resize_factor: int = 28

    def images(self) -> list[Image.Image]:
        """Every image in the request, in message order."""
        return [
            part["image"]
            for message in self.messages
            for part in message["content"]
            if isinstance(part, dict) and part.get("type") == "image"
        ]


@dataclass(frozen=True)
class Usage:
    """Token counts of one call. ``image_tokens`` is part of ``prompt_tokens`` (None: unknown)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    image_tokens: int | None = None


@dataclass(frozen=True)
class ModelReply:
    """The raw reply text with its usage and timings (seconds, keyed by phase name,
    e.g. ``preprocess``, ``prefill``, ``decode``, ``request``)."""

    text: str
    usage: Usage = field(default_factory=Usage)
    timings: dict[str, float] = field(default_factory=dict)


class ModelBackend(Protocol):
    """A model that turns a request into reply text.

    ``complete`` raises :class:`screenpilot.agent.errors.BackendError` when the model cannot be reached
    or answers wrongly after any retries, and :class:`screenpilot.agent.errors.ScriptExhausted` when a
    scripted model has nothing left to say. ``describe()`` is recorded in ``run.json``.
    """

    name: str

    def complete(self, request: ModelRequest) -> ModelReply: ...

    def describe(self) -> dict[str, object]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Turn:
    """One finished step as a prompt format needs it to build history.

    ``model_image``: the screenshot the model saw (model space). ``reply_text``: what it said.
    ``model_actions``: the actions parsed from it (model space; empty when parsing failed).
    ``feedback``: text for the model about this step's outcome (an error hint, a person's
    answer, a note from the safety gate), or None.
    """

    model_image: Image.Image
    reply_text: str
    model_actions: tuple[Action, ...]
    feedback: str | None = None


class PromptFormat(Protocol):
    """A model family's dialect: prompt, history, reply parsing and coordinate mapping.

    Coordinates in actions returned by :meth:`parse` are in *model space*; :meth:`to_screen`
    maps them to *screen space* given the real screen size. ``resize_factor``: pixels per vision token side
    (see :class:`ModelRequest`).
    """

    name: str
    min_pixels: int
    max_pixels: int

    @property
    def resize_factor(self) -> int: ...

    def model_size(self, screen_size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the image the model sees for a screen of ``screen_size``."""
        ...

    def image_tokens(self, model_size: tuple[int, int]) -> int:
        """Vision tokens one image of ``model_size`` (width, height) costs this model family."""
        ...

    def build_request(
        self, task: str, history: Sequence[Turn], model_image: Image.Image, feedback: str | None
    ) -> ModelRequest:
        """The request for the next step. ``model_image`` is already at :meth:`model_size`."""
        ...

    def parse(self, text: str, model_size: tuple[int, int]) -> list[Action]:
        """Actions in model space, in order; raises :class:`screenpilot.agent.errors.ModelError`."""
        ...

    def to_screen(
        self, model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]
    ) -> Action:
        """``model_action`` with coordinates mapped to screen pixels."""
        ...
