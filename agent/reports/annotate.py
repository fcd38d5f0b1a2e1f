"""Drawing what an agent did onto the screenshot it acted on.

Everything here is pure: functions take a PIL image and *screen-space* actions (the pixel space
of the screenshot, see :mod:`screenpilot.agent.actions`) and return a new RGB image of the same size; the
input is never modified. Markers are drawn after the caption bars, so a click near an edge is
still visible, and the centre of a click marker is exactly the click's pixel.

Marker vocabulary (colours are RGB constants below):

* click: a ring in :data:`CLICK_COLOUR` with a filled dot of the same colour centred on the
  click point; right/middle/double/triple clicks carry a short label (``right``, ``2x`` ...);
* drag: an arrow in :data:`DRAG_COLOUR` from the start (or, when unknown, only a ring at the end);
* scroll: an arrow in :data:`SCROLL_COLOUR` at the point, pointing the way the content moves
  into view (down for positive ``dy``), labelled with the amount;
* move: a small crosshair in :data:`MOVE_COLOUR`;
* typed text, key presses and every action without a point: a caption bar at the bottom;
* the step caption (e.g. ``step 3 · click (640, 360)``): a bar at the top.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from screenpilot.agent.actions import (
    WEB_ACTIONS,
    Action,
    AndroidKey,
    AskUser,
    Click,
    Drag,
    GoBack,
    LongPress,
    MoveTo,
    Navigate,
    OpenApp,
    Point,
    PressKeys,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
    TypeText,
    Wait,
    describe,
    from_json,
    map_points,
)

RGB = tuple[int, int, int]

CLICK_COLOUR: RGB = (255, 0, 0)
DRAG_COLOUR: RGB = (0, 140, 255)
SCROLL_COLOUR: RGB = (255, 140, 0)
MOVE_COLOUR: RGB = (255, 0, 255)
LABEL_TEXT: RGB = (255, 255, 255)
BAR_FILL = (0, 0, 0, 190)
BAR_TEXT: RGB = (255, 255, 255)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=16)
def font(size: int) -> Font:
    """A sans-serif font of ``size`` pixels: DejaVu Sans when installed (wide Unicode coverage),
    else Pillow's bundled default font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _scale(image: Image.Image) -> float:
    """Marker scale factor: 1.0 for a 720-pixel-high screen, never below 0.5."""
    return max(0.5, min(image.size) / 720)


def _text_width(text: str, face: Font) -> float:
    return float(face.getlength(text))


def fit_text(text: str, face: Font, max_width: float) -> str:
    """``text`` on one line, cut with an ellipsis so that it fits in ``max_width`` pixels."""
    text = " ".join(text.split())
    if _text_width(text, face) <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if _text_width(text[:mid] + "…", face) <= max_width:
            low = mid
        else:
            high = mid - 1
    return text[:low] + "…"


def _bar(canvas: Image.Image, lines: Sequence[str], *, top: bool) -> None:
    """Draw a translucent bar holding ``lines`` at the top or bottom of ``canvas`` (in place)."""
    if not lines:
        return
    width, height = canvas.size
    size = max(13, round(18 * _scale(canvas)))
    face = font(size)
    pad = max(3, size // 3)
    line_h = size + pad
    bar_h = min(height, line_h * len(lines) + pad)
    y0 = 0 if top else height - bar_h
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, y0, width, y0 + bar_h), fill=BAR_FILL)
    for n, line in enumerate(lines):
        draw.text((pad * 2, y0 + pad + n * line_h), fit_text(line, face, width - pad * 4), font=face, fill=BAR_TEXT)
    canvas.alpha_composite(overlay)


def _label(draw: ImageDraw.ImageDraw, at: tuple[float, float], text: str, colour: RGB, size: int) -> None:
    """A small filled tag with ``text`` whose top-left corner is near ``at``, kept on the canvas."""
    face = font(size)
    width, height = draw.im.size
    w = _text_width(text, face) + size * 0.6
    h = size * 1.35
    x = min(max(0.0, at[0]), max(0.0, width - w))
    y = min(max(0.0, at[1]), max(0.0, height - h))
    draw.rectangle((x, y, x + w, y + h), fill=colour)
    draw.text((x + size * 0.3, y + size * 0.15), text, font=face, fill=LABEL_TEXT)


def _click_label(action: Click) -> str | None:
    parts: list[str] = []
    if action.button != "left":
        parts.append(action.button)
    if action.count != 1:
        parts.append(f"{action.count}x")
    return " ".join(parts) or None


def draw_click(draw: ImageDraw.ImageDraw, at: Point, scale: float, label: str | None = None) -> None:
    """Ring + filled centre dot in :data:`CLICK_COLOUR`; the dot covers ``at`` exactly."""
    radius = 18 * scale
    ring = max(2, round(4 * scale))
    dot = max(2.0, 4.5 * scale)
    draw.ellipse((at.x - radius, at.y - radius, at.x + radius, at.y + radius), outline=CLICK_COLOUR, width=ring)
    draw.ellipse((at.x - dot, at.y - dot, at.x + dot, at.y + dot), fill=CLICK_COLOUR)
    draw.point((at.x, at.y), fill=CLICK_COLOUR)
    if label:
        _label(draw, (at.x + radius + 2, at.y - radius), label, CLICK_COLOUR, max(10, round(14 * scale)))


def draw_arrow(
    draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], colour: RGB, scale: float
) -> None:
    """A straight arrow from ``start`` to ``end`` with a filled head at ``end``."""
    width = max(2, round(4 * scale))
    head = 14 * scale
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    back = (end[0] - head * 0.8 * math.cos(angle), end[1] - head * 0.8 * math.sin(angle))
    draw.line((start, back), fill=colour, width=width)
    left = (end[0] - head * math.cos(angle - 0.45), end[1] - head * math.sin(angle - 0.45))
    right = (end[0] - head * math.cos(angle + 0.45), end[1] - head * math.sin(angle + 0.45))
    draw.polygon((end, left, right), fill=colour)


def draw_drag(draw: ImageDraw.ImageDraw, action: Drag, scale: float) -> None:
    """Arrow from the drag's start to its end; a start dot; only an end ring when the start is unknown."""
    end = (action.to.x, action.to.y)
    r = 6 * scale
    if action.start is not None:
        start = (action.start.x, action.start.y)
        draw.ellipse((start[0] - r, start[1] - r, start[0] + r, start[1] + r), fill=DRAG_COLOUR)
        draw_arrow(draw, start, end, DRAG_COLOUR, scale)
    else:
        ring = 14 * scale
        draw.ellipse((end[0] - ring, end[1] - ring, end[0] + ring, end[1] + ring), outline=DRAG_COLOUR,
                     width=max(2, round(3 * scale)))
        _label(draw, (end[0] + ring + 2, end[1] - ring), "drag to", DRAG_COLOUR, max(10, round(14 * scale)))


def _scroll_words(action: Scroll) -> str:
    parts: list[str] = []
    if action.dy:
        parts.append(f"{abs(action.dy)} {'down' if action.dy > 0 else 'up'}")
    if action.dx:
        parts.append(f"{abs(action.dx)} {'right' if action.dx > 0 else 'left'}")
    return "scroll " + (", ".join(parts) or "0")


def draw_scroll(draw: ImageDraw.ImageDraw, action: Scroll, centre: Point, scale: float) -> None:
    """An arrow at ``centre`` pointing the scroll direction (sign of ``dx``/``dy``) and its amount."""
    length = 50 * scale
    norm = math.hypot(action.dx, action.dy) or 1.0
    ux, uy = action.dx / norm, action.dy / norm
    start = (centre.x - ux * length / 2, centre.y - uy * length / 2)
    end = (centre.x + ux * length / 2, centre.y + uy * length / 2)
    r = 5 * scale
    draw.ellipse((centre.x - r, centre.y - r, centre.x + r, centre.y + r), outline=SCROLL_COLOUR,
                 width=max(2, round(2 * scale)))
    if action.dx or action.dy:
        draw_arrow(draw, start, end, SCROLL_COLOUR, scale)
    _label(draw, (centre.x + 12 * scale, centre.y + length / 2 + 4 * scale), _scroll_words(action), SCROLL_COLOUR,
           max(10, round(14 * scale)))


def draw_move(draw: ImageDraw.ImageDraw, at: Point, scale: float) -> None:
    """A small crosshair centred on ``at``."""
    arm = 10 * scale
    width = max(1, round(2 * scale))
    draw.line(((at.x - arm, at.y), (at.x + arm, at.y)), fill=MOVE_COLOUR, width=width)
    draw.line(((at.x, at.y - arm), (at.x, at.y + arm)), fill=MOVE_COLOUR, width=width)


def caption_line(action: Action) -> str | None:
    """The bottom-bar text of an action without a drawable point, or None for pointer actions."""
    match action:
        case TypeText(text=text):
            return f"type: {text!r}"
        case PressKeys(keys=keys):
            return "keys: " + "+".join(keys)
        case Click(at=None) | Scroll(at=None):
            return describe(action)
        case Wait() | Terminate() | Navigate() | GoBack() | AskUser() | SystemButton() | AndroidKey() | OpenApp():
            return describe(action)
        case _ if isinstance(action, WEB_ACTIONS):
            return describe(action)
        case _:
            return None


def _draw_marker(draw: ImageDraw.ImageDraw, action: Action, scale: float) -> None:
    """The point marker of ``action``; actions without a point (listed in the bottom bar) get none."""
    match action:
        case Click(at=Point() as at):
            draw_click(draw, at, scale, _click_label(action))
        case MoveTo(at=at):
            draw_move(draw, at, scale)
        case Drag():
            draw_drag(draw, action, scale)
        case Scroll(at=Point() as at):
            draw_scroll(draw, action, at, scale)
        case LongPress(at=at, seconds=seconds):
            draw_click(draw, at, scale, f"hold {seconds:g}s")
        case Swipe(start=start, end=end):
            draw_drag(draw, Drag(end, start), scale)
        case _:
            pass


def caption_height(size: tuple[int, int]) -> int:
    """Height in pixels (even, for video) of the caption strip :func:`annotate` adds above an image of ``size``."""
    text = max(13, round(18 * max(0.5, min(size) / 720)))
    height = text + 2 * max(3, text // 3)
    return height + height % 2


def annotate(image: Image.Image, screen_actions: Iterable[Action], caption: str | None = None) -> Image.Image:
    """A copy of ``image`` (RGB) with ``screen_actions`` drawn in screen pixels.

    ``caption`` (e.g. ``"step 3 · click (640, 360)"``) goes in a strip of :func:`caption_height` pixels added
    *above* the image, so it never hides part of the screen; without it the copy has ``image``'s size. Typed
    text, key presses and actions without a point are listed in a bar at the bottom. Point markers are drawn
    last, on top of that bar. Coordinates outside the image are clipped, not an error.
    """
    actions = list(screen_actions)
    canvas = image.convert("RGBA")
    _bar(canvas, [line for a in actions if (line := caption_line(a)) is not None], top=False)
    draw = ImageDraw.Draw(canvas)
    scale = _scale(canvas)
    for action in actions:
        _draw_marker(draw, action, scale)
    if not caption:
        return canvas.convert("RGB")
    strip = caption_height(image.size)
    framed = Image.new("RGBA", (canvas.width, canvas.height + strip), (0, 0, 0, 255))
    framed.paste(canvas, (0, strip))
    _bar(framed, [caption], top=True)
    return framed.convert("RGB")


def actions_from_json(items: object) -> list[Action]:
    """Actions from a steps.jsonl list (``actions_screen``/``actions_model``); bad entries are skipped."""
    actions: list[Action] = []
    if not isinstance(items, list):
        return actions
    for item in items:
        if isinstance(item, dict):
            try:
                actions.append(from_json(item))
            except (ValueError, TypeError):
                continue
    return actions


def step_caption(index: int, actions: Sequence[Action], error_type: str | None = None) -> str:
    """One line for a step: ``step N · what it did``, followed by ``error_type`` (the error's
    class name) when the step failed."""
    what = "; ".join(describe(a) for a in actions)
    if error_type is not None:
        what = f"{what} · " if what else ""
        what += error_type or "error"
    return f"step {index} · {what or 'no action'}"


def scale_actions(actions: Iterable[Action], factor: float) -> list[Action]:
    """``actions`` with every point multiplied by ``factor`` (for drawing on a resized screenshot)."""
    def convert(p: Point) -> Point:
        return Point(round(p.x * factor), round(p.y * factor))

    return [map_points(a, convert) for a in actions]


__all__ = [
    "CLICK_COLOUR",
    "DRAG_COLOUR",
    "MOVE_COLOUR",
    "SCROLL_COLOUR",
    "actions_from_json",
    "annotate",
    "caption_line",
    "fit_text",
    "scale_actions",
    "step_caption",
]
