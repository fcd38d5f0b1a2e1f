"""What every prompt format shares: settings, image sizes, the image budget, message parts.

:class:`DialectFormat` holds the machinery once (option checks, smart_resize sizes for the
format's factor, token counts, how many screenshots a request keeps, the model-image check, the
feedback notes of a history); each family (:mod:`.qwen25`, :mod:`.qwen25_mobile`, :mod:`.qwen3`,
:mod:`.uitars`) supplies its dialect. The Qwen function-calling families share more through
:class:`screenpilot.models.formats.toolformat.ToolCallFormat`.

Also here, for every family: :func:`text_part` / :func:`image_part` (message parts),
:func:`map_to_screen` (model pixels to screen pixels) and :class:`ComputerArguments`, the
``computer_use`` argument reader (keys as lists or chords, scroll amounts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from PIL import Image

from screenpilot.agent.actions import Action, AskUser, Point, Scroll, Terminate, TypeText, Wait, map_points
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.keys import normalize_key, split_chord
from screenpilot.models.base import Turn
from screenpilot.models.formats.toolcall import CallArguments, clip
from screenpilot.models.resize import MERGE_SIZE, image_tokens, model_to_screen, scale_amount, smart_resize

DEFAULT_WAIT_S = 1.0
"""Seconds ``wait`` pauses when the call gives no ``time``."""

MAX_WAIT_S = 60.0
"""Longest ``wait`` one call may ask for, in seconds."""

KEY_EXAMPLES = '"ctrl", "shift", "alt", "meta", "enter", "tab", "escape", "backspace", "pagedown", "up", "f5", "a"'
"""Key names the ``keys`` hint offers as examples."""


def text_part(text: str) -> dict[str, Any]:
    """A text part of a message's content."""
    return {"type": "text", "text": text}


def image_part(image: Image.Image) -> dict[str, Any]:
    """An image part of a message's content (the image must already be in model space)."""
    return {"type": "image", "image": image}


def map_to_screen(model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]) -> Action:
    """``model_action`` mapped to screen pixels; sizes are (width, height).

    Points go through :func:`screenpilot.models.resize.model_to_screen`; a scroll's ``dy`` is scaled by
    ``H / H'`` and ``dx`` by ``W / W'`` (see :func:`screenpilot.models.resize.scale_amount`), so a scroll
    covers the same fraction of the screen the model saw.
    """
    action = map_points(model_action, lambda point: model_to_screen(point, model_size, screen_size))
    if isinstance(action, Scroll):
        return Scroll(
            dy=scale_amount(action.dy, model_size[1], screen_size[1]),
            dx=scale_amount(action.dx, model_size[0], screen_size[0]),
            at=action.at,
        )
    return action


def _wait(args: CallArguments) -> Wait:
    seconds = args.number("time", DEFAULT_WAIT_S)
    if not 0 <= seconds <= MAX_WAIT_S:
        raise args.fail(
            f'"time" must be between 0 and {MAX_WAIT_S:g} seconds, got {seconds:g}',
            f'Wait at most {MAX_WAIT_S:g} seconds per action, e.g. "time": 2.',
        )
    return Wait(seconds)


SHARED_HANDLERS: dict[str, Callable[[CallArguments], Action]] = {
    "type": lambda a: TypeText(a.string("text")),
    "wait": _wait,
    "terminate": lambda a: Terminate(a.status(), a.optional_text("answer")),
    "answer": lambda a: Terminate("success", a.string("text", "answer")),
    "ask_user": lambda a: AskUser(a.string("question", "text")),
}
"""The verbs ``computer_use`` and ``mobile_use`` read alike: ``type`` (``text``), ``wait`` (``time``
seconds in ``[0, MAX_WAIT_S]``, default :data:`DEFAULT_WAIT_S`), ``terminate`` (``status``, optional
``answer``), Qwen3-style ``answer`` (``text``: a success with that answer) and ``ask_user`` (``question``)."""


def shared_arguments(action: Action) -> dict[str, object] | None:
    """The call arguments of ``action`` for the verbs of :data:`SHARED_HANDLERS` (their inverse),
    or None for any other action."""
    match action:
        case TypeText(text=text):
            return {"action": "type", "text": text}
        case Wait(seconds=seconds):
            return {"action": "wait", "time": seconds}
        case Terminate(status=status, answer=answer):
            return {"action": "terminate", "status": status, **({} if answer is None else {"answer": answer})}
        case AskUser(question=question):
            return {"action": "ask_user", "question": question}
    return None


def xy(point: Point) -> list[int]:
    """A point as the ``[x, y]`` list a call's ``coordinate`` holds."""
    return [point.x, point.y]


def _key_names(item: str) -> list[str]:
    """One list item of ``keys`` as key names: a whole name ("Page Down") or a chord ("ctrl+c")."""
    if len(item) == 1 or normalize_key(item) is not None:
        return [item]
    return split_chord(item)


class ComputerArguments(CallArguments):
    """:class:`~screenpilot.models.formats.toolcall.CallArguments` plus the readers of ``computer_use``
    (Qwen2.5-VL and Qwen3-VL): ``keys`` and scroll ``pixels``. Every reader raises
    :class:`~screenpilot.agent.errors.InvalidArgumentError` with a hint for the model."""

    def keys(self) -> tuple[str, ...]:
        """Canonical key names from a list or a chord string under keys / key / text."""
        hint = f'"keys" must list key names such as {KEY_EXAMPLES}, e.g. "keys": ["ctrl", "c"].'
        raw = next((self.values[k] for k in ("keys", "key", "text") if self.values.get(k) is not None), None)
        if raw is None:
            raise self.fail('missing "keys"', hint)
        items = raw if isinstance(raw, list) else [raw]
        names: list[str] = []
        for item in items:
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str):
                raise self.fail(f'"keys" is not a list of key names: {clip(raw)}', hint)
            names += _key_names(item)
        if not names:
            raise self.fail('missing "keys"', hint)
        canonical = [normalize_key(name) for name in names]
        unknown = [name for name, key in zip(names, canonical, strict=True) if key is None]
        if unknown:
            raise self.fail(f"unknown key {clip(unknown[0])}", f"Unknown key {clip(unknown[0])}. " + hint)
        return tuple(key for key in canonical if key is not None)

    def scroll_pixels(self, limit: int, hint: str) -> int:
        """``pixels`` rounded to a whole, non-zero amount of at most ``limit`` in size (model units);
        ``hint`` (which way the sign scrolls) goes with the error otherwise."""
        pixels = self.number("pixels")
        amount = round(pixels)
        if not amount or abs(amount) > limit:
            raise self.fail(f'"pixels" must be a non-zero number of at most {limit} in size, got {pixels:g}', hint)
        return amount


class DialectFormat:
    """The settings and sizes every prompt format shares (a base for the families' classes).

    ``min_pixels`` / ``max_pixels``: the smart_resize bounds used for the advertised size, the
    image sent and the mapping back. ``keep_images``: screenshots per request, the current one
    included. ``max_image_tokens``: optional cap on one request's image tokens, which lowers the
    number of images kept (never below the current one). Bad values raise
    :class:`~screenpilot.agent.errors.ConfigError`. A family sets :attr:`name` and
    :attr:`resize_factor` and writes prompts, requests, parsing and canonical calls.
    """

    name: str
    """The format's canonical name (``run.json``, ``--prompt-format``)."""

    resize_factor: ClassVar[int] = 28
    """Side granularity of model-space images in pixels: ViT patch times spatial merge (2)."""

    def __init__(self, *, min_pixels: int, max_pixels: int, keep_images: int, max_image_tokens: int | None) -> None:
        if not 0 < min_pixels <= max_pixels:
            raise ConfigError(f"need 0 < min_pixels <= max_pixels, got {min_pixels} and {max_pixels}")
        if keep_images < 1:
            raise ConfigError(f"keep_images must be at least 1, got {keep_images}")
        if max_image_tokens is not None and max_image_tokens < 1:
            raise ConfigError(f"max_image_tokens must be positive, got {max_image_tokens}")
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.keep_images = keep_images
        self.max_image_tokens = max_image_tokens

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    def describe(self) -> dict[str, object]:
        """Settings for ``run.json`` (families add theirs)."""
        return {
            "name": self.name,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            "keep_images": self.keep_images,
            "max_image_tokens": self.max_image_tokens,
        }

    def model_size(self, screen_size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) the model sees for ``screen_size`` (width, height): smart_resize with
        :attr:`resize_factor` within the bounds."""
        width, height = screen_size
        h_bar, w_bar = smart_resize(height, width, self.resize_factor, self.min_pixels, self.max_pixels)
        return w_bar, h_bar

    def is_model_size(self, size: tuple[int, int]) -> bool:
        """Whether ``size`` (width, height) is a model-space size for this format: sides positive
        multiples of :attr:`resize_factor`, area within the bounds."""
        width, height = size
        factor = self.resize_factor
        return (
            width > 0 and height > 0 and width % factor == 0 and height % factor == 0
            and self.min_pixels <= width * height <= self.max_pixels
        )

    def image_tokens(self, model_size: tuple[int, int]) -> int:
        """Vision tokens one image of ``model_size`` (width, height) costs:
        ``(W'/patch)(H'/patch)/4`` with ``patch = resize_factor / 2``."""
        return image_tokens(*model_size, patch=self.resize_factor // MERGE_SIZE, merge=MERGE_SIZE)

    def images_kept(self, model_size: tuple[int, int]) -> int:
        """How many screenshots a request carries at most (the current one included)."""
        if self.max_image_tokens is None:
            return self.keep_images
        return max(1, min(self.keep_images, self.max_image_tokens // self.image_tokens(model_size)))

    def _size_error(self, size: tuple[int, int]) -> ValueError:
        """The error for a model image whose ``size`` is not a model-space size."""
        return ValueError(
            f"model_image is {size[0]}x{size[1]}, not a model-space size for {self.name} "
            f"(sides multiples of {self.resize_factor}, area within min_pixels={self.min_pixels} and "
            f"max_pixels={self.max_pixels}); resize the screenshot to model_size(screen_size) first"
        )

    def _checked_size(self, model_image: Image.Image) -> tuple[int, int]:
        """``model_image``'s size; ValueError unless it is a model-space size (:meth:`is_model_size`)."""
        if not self.is_model_size(model_image.size):
            raise self._size_error(model_image.size)
        return model_image.size

    @staticmethod
    def _notes(history: Sequence[Turn], feedback: str | None) -> list[str | None]:
        """Each turn's feedback, with the last one dropped when ``feedback`` repeats it."""
        notes = [turn.feedback for turn in history]
        if history and feedback is not None and notes[-1] == feedback:
            notes[-1] = None
        return notes
