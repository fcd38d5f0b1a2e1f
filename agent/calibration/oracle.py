"""Scripted "oracle" replies for calibration: perfect, or with one deliberate, known fault.

The oracle knows every target centre (screen pixels) and writes, per target, the reply a model
would give: ``format_call(Click(model_xy))`` of the Qwen2.5-VL prompt format. Perfect replies
map the centre into the advertised model space with :func:`screenpilot.models.resize.screen_to_model`;
faulty ones reproduce a real misconfiguration, so tests (and people who doubt the diagnosis)
can check that ``screenpilot calibrate`` names it:

* ``resized(seen_size)``: the model saw an image of ``seen_size`` model pixels, not the advertised
  one (a server that resized again), and answers in its pixels;
* ``normalised()``: the model answers on a 0-1000 scale (Qwen3-VL's convention); values above
  the advertised size are written as they are (and the parser rejects them, as it would);
* ``offset(dx, dy)``: the model's view is shifted by ``(dx, dy)`` screen pixels (e.g. ``(0, 85)``,
  a browser toolbar that was in the screenshot but not in the click space);
* ``scaled(factor)``: positions are ``factor`` times too large (HiDPI: device pixels taken for
  logical ones); points beyond the screen are clamped onto its last pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from screenpilot.agent.actions import Click, Point
from screenpilot.agent.calibration.layout import Target
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import format_call
from screenpilot.models.resize import model_size_for, screen_to_model

FaultKind = Literal["perfect", "resized", "normalised", "offset", "scaled"]


@dataclass(frozen=True)
class OracleFault:
    """Which fault the oracle plays (see module doc). ``seen_size``: model pixels (width, height);
    ``offset_px``: screen pixels; ``factor``: a plain ratio."""

    kind: FaultKind = "perfect"
    seen_size: tuple[int, int] | None = None
    offset_px: tuple[int, int] = (0, 0)
    factor: float = 1.0

    @classmethod
    def perfect(cls) -> OracleFault:
        """No fault."""
        return cls()

    @classmethod
    def resized(cls, seen_size: tuple[int, int]) -> OracleFault:
        """The model saw ``seen_size`` (width, height) model pixels."""
        return cls("resized", seen_size=seen_size)

    @classmethod
    def normalised(cls) -> OracleFault:
        """0-1000 coordinates."""
        return cls("normalised")

    @classmethod
    def offset(cls, dx: int, dy: int) -> OracleFault:
        """Every answer shifted by ``(dx, dy)`` screen pixels."""
        return cls("offset", offset_px=(dx, dy))

    @classmethod
    def scaled(cls, factor: float = 2.0) -> OracleFault:
        """Every answer ``factor`` times the true position (HiDPI)."""
        return cls("scaled", factor=factor)


def server_resized_size(
    model_size: tuple[int, int], min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """What a server resizing with ``(min_pixels, max_pixels)`` makes of the advertised
    ``model_size`` image (width, height), e.g. 1932x1092 -> 1316x728 under 1280*28*28."""
    return model_size_for(model_size, min_pixels, max_pixels)


def _clamped(point: Point, screen_size: tuple[int, int]) -> Point:
    return Point(min(max(point.x, 0), screen_size[0] - 1), min(max(point.y, 0), screen_size[1] - 1))


def oracle_model_xy(
    fault: OracleFault, screen_xy: Point, screen_size: tuple[int, int], model_size: tuple[int, int]
) -> Point:
    """The model-space coordinate the oracle answers for a target at ``screen_xy`` (screen px)."""
    match fault.kind:
        case "perfect":
            return screen_to_model(screen_xy, screen_size, model_size)
        case "resized":
            return screen_to_model(screen_xy, screen_size, fault.seen_size or model_size)
        case "normalised":
            return Point(math.floor(screen_xy.x * 1000 / screen_size[0] + 0.5),
                         math.floor(screen_xy.y * 1000 / screen_size[1] + 0.5))
        case "offset":
            shifted = Point(screen_xy.x + fault.offset_px[0], screen_xy.y + fault.offset_px[1])
            return screen_to_model(_clamped(shifted, screen_size), screen_size, model_size)
        case "scaled":
            scaled = Point(math.floor(screen_xy.x * fault.factor + 0.5), math.floor(screen_xy.y * fault.factor + 0.5))
            return screen_to_model(_clamped(scaled, screen_size), screen_size, model_size)


def oracle_replies(
    targets: Sequence[Target],
    screen_size: tuple[int, int],
    model_size: tuple[int, int],
    fault: OracleFault | None = None,
) -> list[str]:
    """One Qwen2.5-VL reply per target, in order: a ``left_click`` at the oracle's coordinate."""
    chosen = fault or OracleFault.perfect()
    return [format_call(Click(oracle_model_xy(chosen, t.centre, screen_size, model_size))) for t in targets]


def oracle_model(
    targets: Sequence[Target],
    screen_size: tuple[int, int],
    model_size: tuple[int, int],
    fault: OracleFault | None = None,
) -> ScriptedModel:
    """A :class:`ScriptedModel` replaying :func:`oracle_replies` (source ``oracle:<kind>``)."""
    chosen = fault or OracleFault.perfect()
    return ScriptedModel(oracle_replies(targets, screen_size, model_size, chosen), source=f"oracle:{chosen.kind}")


__all__ = ["OracleFault", "oracle_model", "oracle_model_xy", "oracle_replies", "server_resized_size"]
