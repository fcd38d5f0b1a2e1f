"""Qwen2.5-VL image sizing and the mapping between model space and screen space.

Pure functions, no heavy imports (PIL, NumPy and OpenCV only for :func:`resize_image`).

Sizes are ``(width, height)`` tuples everywhere in screenpilot's API, with one exception kept on
purpose: :func:`smart_resize` takes and returns ``(height, width)``, exactly like
``qwen_vl_utils.vision_process.smart_resize``, so that the two can be compared line for line.

*Model space* is the pixel grid of the resized image the model sees (size ``(W', H')``, both
multiples of 28); *screen space* is the grid an executor clicks in (size ``(W, H)``). The
mapping is a plain scale, ``x_screen = x_model * W / W'`` and ``y_screen = y_model * H / H'``,
rounded to the nearest pixel (halves up) and clamped onto the target grid.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from screenpilot.agent.actions import Point
from screenpilot.agent.errors import ConfigError

FACTOR: int = 28
"""Side granularity of Qwen2.5-VL images: ViT patch 14 times spatial merge 2."""

PATCH_SIZE: int = 14
MERGE_SIZE: int = 2

MIN_PIXELS: int = 3136
"""Lower area bound of the released preprocessor_config.json and qwen-vl-utils (4 * 28 * 28)."""

MAX_PIXELS: int = 12845056
"""Upper area bound of the released preprocessor_config.json and qwen-vl-utils (16384 * 28 * 28)."""

FAST_MIN_PIXELS: int = 256 * 28 * 28
"""Lower area bound the Qwen2.5-VL README suggests for speed (200,704 pixels)."""

FAST_MAX_PIXELS: int = 1280 * 28 * 28
"""Upper area bound the Qwen2.5-VL README suggests for speed (1,003,520 pixels)."""

MAX_ASPECT_RATIO: float = 200
"""Longest side over shortest side above which Qwen's image processor refuses an image."""


def _round_by_factor(number: float, factor: int) -> int:
    """The multiple of ``factor`` nearest ``number`` (Python ``round``: halves go to even)."""
    return round(number / factor) * factor


def _ceil_by_factor(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def _floor_by_factor(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def _check_resize_args(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> None:
    if height <= 0 or width <= 0:
        raise ConfigError(f"image size must be positive, got width {width} and height {height}")
    if factor <= 0:
        raise ConfigError(f"resize factor must be positive, got {factor}")
    if not 0 < min_pixels <= max_pixels:
        raise ConfigError(
            f"need 0 < min_pixels <= max_pixels, got min_pixels={min_pixels} and max_pixels={max_pixels}"
        )
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise ConfigError(
            f"image {width}x{height} has an aspect ratio of {ratio:.1f}, above the limit of "
            f"{MAX_ASPECT_RATIO:g} that Qwen2.5-VL accepts; capture a less elongated screen or region"
        )


def smart_resize(
    height: int,
    width: int,
    factor: int = FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
) -> tuple[int, int]:
    """The ``(height, width)`` Qwen2.5-VL resizes an image of ``(height, width)`` pixels to.

    Note the order: height first, as in qwen-vl-utils (the rest of screenpilot uses
    ``(width, height)``). The result matches ``qwen_vl_utils.vision_process.smart_resize``
    exactly, including Python's round-half-to-even: each side is rounded to a multiple of
    ``factor`` (at least ``factor``); if the area then exceeds ``max_pixels`` both sides are
    scaled down by ``sqrt(h * w / max_pixels)`` and floored to multiples of ``factor``; if it
    falls below ``min_pixels`` both are scaled up and ceiled.

    Raises :class:`screenpilot.agent.errors.ConfigError` for a non-positive side or factor, bounds with
    ``min_pixels > max_pixels``, an aspect ratio above 200, or bounds so tight that a side
    would become 0 (where qwen-vl-utils would return an unusable size).
    """
    _check_resize_args(height, width, factor, min_pixels, max_pixels)
    h_bar = max(factor, _round_by_factor(height, factor))
    w_bar = max(factor, _round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = _floor_by_factor(height / beta, factor)
        w_bar = _floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by_factor(height * beta, factor)
        w_bar = _ceil_by_factor(width * beta, factor)
    if h_bar <= 0 or w_bar <= 0:
        raise ConfigError(
            f"max_pixels={max_pixels} is too small for a {width}x{height} image: a side would be 0"
        )
    return h_bar, w_bar


def model_size_for(
    screen_size: tuple[int, int], min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """``(width, height)`` of the model-space image for a screen of ``screen_size`` (width, height)."""
    width, height = screen_size
    h_bar, w_bar = smart_resize(height, width, FACTOR, min_pixels, max_pixels)
    return w_bar, h_bar


def is_model_size(size: tuple[int, int], min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> bool:
    """Whether ``size`` (width, height) can be a model-space image for these bounds.

    True when both sides are positive multiples of 28 and the area lies in
    ``[min_pixels, max_pixels]``: every :func:`model_size_for` result passes, and
    :func:`smart_resize` leaves such a size unchanged (aspect ratio permitting).
    """
    width, height = size
    return (
        width > 0 and height > 0 and width % FACTOR == 0 and height % FACTOR == 0
        and min_pixels <= width * height <= max_pixels
    )


def image_tokens(model_w: int, model_h: int, patch: int = PATCH_SIZE, merge: int = MERGE_SIZE) -> int:
    """Number of image tokens Qwen2.5-VL spends on a ``model_w`` x ``model_h`` image.

    ``(model_w / patch) * (model_h / patch) / merge**2``; both sides must be multiples of
    ``patch * merge`` (as :func:`smart_resize` makes them), otherwise ValueError.
    """
    unit = patch * merge
    if model_w <= 0 or model_h <= 0 or model_w % unit or model_h % unit:
        raise ValueError(f"image size {model_w}x{model_h} is not a positive multiple of {unit}")
    return (model_w // patch) * (model_h // patch) // (merge * merge)


def _map_axis(value: int, source: int, target: int) -> int:
    """``value * target / source`` rounded to nearest (halves up), clamped into [0, target - 1]."""
    mapped = (2 * value * target + source) // (2 * source)
    return min(max(mapped, 0), target - 1)


def _check_size(size: tuple[int, int], what: str) -> None:
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"{what} must be positive (width, height), got {size}")


def model_to_screen(point: Point, model_size: tuple[int, int], screen_size: tuple[int, int]) -> Point:
    """Map a model-space ``point`` to screen pixels.

    ``model_size`` = ``(W', H')`` and ``screen_size`` = ``(W, H)``, both (width, height).
    ``x = round(x' * W / W')`` (halves up), clamped into ``[0, W - 1]``; likewise for y. The
    clamp is what makes the model-space edge ``x' = W'`` (which the parser accepts) land on
    the last screen pixel.
    """
    _check_size(model_size, "model_size")
    _check_size(screen_size, "screen_size")
    return Point(
        _map_axis(point.x, model_size[0], screen_size[0]),
        _map_axis(point.y, model_size[1], screen_size[1]),
    )


def screen_to_model(point: Point, screen_size: tuple[int, int], model_size: tuple[int, int]) -> Point:
    """Map a screen-space ``point`` to model space: the inverse of :func:`model_to_screen`.

    Arguments go from-space first: ``screen_size`` = ``(W, H)``, then ``model_size`` =
    ``(W', H')``. ``x' = round(x * W' / W)`` (halves up), clamped into ``[0, W' - 1]``. Used by
    tests, calibration and scripted replays that know a target in screen pixels. Whichever
    space is the smaller one round-trips exactly through the larger one.
    """
    _check_size(model_size, "model_size")
    _check_size(screen_size, "screen_size")
    return Point(
        _map_axis(point.x, screen_size[0], model_size[0]),
        _map_axis(point.y, screen_size[1], model_size[1]),
    )


def scale_amount(amount: int, source: int, target: int) -> int:
    """Scale a signed length ``amount`` (e.g. scroll pixels) by ``target / source``.

    Rounded to nearest with halves away from zero; a non-zero amount never becomes 0 (it keeps
    at least one pixel in its direction).
    """
    if source <= 0 or target <= 0:
        raise ValueError(f"sizes must be positive, got source={source} and target={target}")
    magnitude = (2 * abs(amount) * target + source) // (2 * source)
    if amount and not magnitude:
        magnitude = 1
    return magnitude if amount >= 0 else -magnitude


RESIZE_TOLERANCE = (0.2, 5)
"""How far :func:`resize_image` may be from Pillow's bicubic resize (what it used before OpenCV): at most this mean
and this 99th percentile of the absolute difference per channel, in levels of 0-255 (``tests/models/test_resize.py``
checks it on real screenshots, enlarged and reduced)."""


def resize_image(image: Image.Image, model_size: tuple[int, int]) -> Image.Image:
    """``image`` resized to ``model_size`` (width, height), as RGB: OpenCV's bicubic filter when a side grows, its
    pixel-area filter when both shrink (it keeps text legible like Pillow's antialiased bicubic, and is 3-4x faster
    than Pillow; see :data:`RESIZE_TOLERANCE`).

    Returns the image unchanged (converted to RGB if needed) when it already has that size.
    This is the one place a screenshot becomes a model-space image, so no backend resizes again.
    """
    _check_size(model_size, "model_size")
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if rgb.size == tuple(model_size):
        return rgb
    shrinks = model_size[0] < rgb.width and model_size[1] < rgb.height
    resized = cv2.resize(np.asarray(rgb), tuple(model_size),
                         interpolation=cv2.INTER_AREA if shrinks else cv2.INTER_CUBIC)
    return Image.fromarray(resized)
