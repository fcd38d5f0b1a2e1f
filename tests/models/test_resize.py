"""smart_resize against qwen-vl-utils, image token counts, and the model <-> screen mapping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from screenpilot.agent.actions import Point
from screenpilot.agent.errors import ConfigError
from screenpilot.models.resize import (
    FAST_MAX_PIXELS,
    FAST_MIN_PIXELS,
    MAX_PIXELS,
    MIN_PIXELS,
    image_tokens,
    is_model_size,
    model_size_for,
    model_to_screen,
    resize_image,
    scale_amount,
    screen_to_model,
    smart_resize,
)

Resize = Callable[[int, int, int, int, int], tuple[int, int]]

BOUNDS = {"released": (MIN_PIXELS, MAX_PIXELS), "fast": (FAST_MIN_PIXELS, FAST_MAX_PIXELS)}

# (screen width, height), bounds, expected model (width, height), expected image tokens
TABLE = [
    ((1280, 720), "released", (1288, 728), 1196),
    ((1920, 1080), "released", (1932, 1092), 2691),
    ((1920, 1080), "fast", (1316, 728), 1222),
    ((3840, 2160), "released", (3836, 2156), 10549),
    ((1366, 768), "released", (1372, 756), 1323),
    ((800, 600), "released", (812, 588), 609),
    ((1080, 2400), "released", (1092, 2408), 3354),
    ((390, 844), "released", (392, 840), 420),
    ((10, 10), "released", (56, 56), 4),
    ((1, 1), "released", (56, 56), 4),
    ((5000, 28), "released", (5012, 28), 179),
    ((28, 5000), "released", (28, 5012), 179),
    ((1280, 720), "fast", (1288, 728), 1196),
    ((800, 600), "fast", (812, 588), 609),
    ((390, 844), "fast", (392, 840), 420),
    ((320, 240), "fast", (532, 392), 266),
]


@pytest.fixture(scope="module")
def qwen_smart_resize() -> Resize:
    vision_process = pytest.importorskip("qwen_vl_utils.vision_process")
    function: Resize = vision_process.smart_resize
    return function


@pytest.mark.parametrize(("screen", "bounds", "expected", "tokens"), TABLE)
def test_table(
    screen: tuple[int, int], bounds: str, expected: tuple[int, int], tokens: int, qwen_smart_resize: Resize
) -> None:
    lo, hi = BOUNDS[bounds]
    width, height = screen
    ours = smart_resize(height, width, 28, lo, hi)
    assert ours == qwen_smart_resize(height, width, 28, lo, hi)
    assert ours == (expected[1], expected[0])
    assert model_size_for(screen, lo, hi) == expected
    assert image_tokens(*expected) == tokens


def test_defaults_are_the_released_bounds() -> None:
    assert (MIN_PIXELS, MAX_PIXELS) == (3136, 12845056)
    assert (FAST_MIN_PIXELS, FAST_MAX_PIXELS) == (256 * 28 * 28, 1280 * 28 * 28)
    assert smart_resize(720, 1280) == (728, 1288)


@settings(max_examples=400, deadline=None)
@given(
    width=st.integers(1, 8000),
    height=st.integers(1, 8000),
    bounds=st.sampled_from(sorted(BOUNDS)),
)
def test_matches_qwen_vl_utils_everywhere(width: int, height: int, bounds: str, qwen_smart_resize: Resize) -> None:
    lo, hi = BOUNDS[bounds]
    if max(width, height) / min(width, height) > 200:
        with pytest.raises(ConfigError, match="aspect ratio"):
            smart_resize(height, width, 28, lo, hi)
        with pytest.raises(ValueError):
            qwen_smart_resize(height, width, 28, lo, hi)
        return
    assert smart_resize(height, width, 28, lo, hi) == qwen_smart_resize(height, width, 28, lo, hi)


@settings(max_examples=300, deadline=None)
@given(width=st.integers(1, 8000), height=st.integers(1, 8000), bounds=st.sampled_from(sorted(BOUNDS)))
def test_a_resized_size_is_a_model_size_and_a_fixed_point(width: int, height: int, bounds: str) -> None:
    lo, hi = BOUNDS[bounds]
    if max(width, height) / min(width, height) > 200:
        return
    size = model_size_for((width, height), lo, hi)
    assert is_model_size(size, lo, hi)
    if max(size) / min(size) <= 200:  # rounding can push e.g. 28x5600 (ratio 200) to 28x5628
        assert model_size_for(size, lo, hi) == size


def test_is_model_size() -> None:
    assert is_model_size((1288, 728))
    assert not is_model_size((1280, 720))
    assert not is_model_size((1932, 1092), FAST_MIN_PIXELS, FAST_MAX_PIXELS)
    assert not is_model_size((28, 28))  # below min_pixels
    assert not is_model_size((0, 28))
    assert is_model_size((28, 5628))


def test_extreme_aspect_ratios() -> None:
    assert smart_resize(5000, 28) == (5012, 28)
    with pytest.raises(ConfigError, match=r"aspect ratio of 300\.0"):
        smart_resize(300, 1)
    with pytest.raises(ConfigError, match="aspect ratio"):
        smart_resize(1, 300)
    with pytest.raises(ConfigError, match="aspect ratio"):
        model_size_for((1, 300))


@pytest.mark.parametrize(
    ("height", "width", "min_pixels", "max_pixels"),
    [
        (0, 10, MIN_PIXELS, MAX_PIXELS),
        (10, -1, MIN_PIXELS, MAX_PIXELS),
        (10, 10, 5000, 4000),
        (10, 10, 0, 4000),
        (28, 5000, 28, 100),
    ],
)
def test_bad_arguments_are_config_errors(height: int, width: int, min_pixels: int, max_pixels: int) -> None:
    with pytest.raises(ConfigError):
        smart_resize(height, width, 28, min_pixels, max_pixels)


def test_image_tokens() -> None:
    assert image_tokens(1288, 728) == 1196
    assert image_tokens(28, 28) == 1
    with pytest.raises(ValueError):
        image_tokens(1280, 720)


def test_model_to_screen_known_points() -> None:
    model, screen = (1288, 728), (1280, 720)
    assert model_to_screen(Point(644, 364), model, screen) == Point(640, 360)
    assert model_to_screen(Point(0, 0), model, screen) == Point(0, 0)
    # The model-space edge W', H' (accepted by the parser) lands on the last screen pixel.
    assert model_to_screen(Point(1288, 728), model, screen) == Point(1279, 719)
    # Far outside is clamped, never off screen.
    assert model_to_screen(Point(-5, 5000), model, screen) == Point(0, 719)
    # Halves round up: 1 * 1920 / 1316 = 1.459 -> 1; 2 * 1080 / 728 = 2.967 -> 3.
    assert model_to_screen(Point(1, 2), (1316, 728), (1920, 1080)) == Point(1, 3)
    assert model_to_screen(Point(1, 1), (2, 2), (1, 1)) == Point(0, 0)
    assert model_to_screen(Point(1, 1), (4, 4), (2, 2)) == Point(1, 1)  # 0.5 rounds up


def test_screen_to_model_known_points() -> None:
    assert screen_to_model(Point(640, 360), (1280, 720), (1288, 728)) == Point(644, 364)
    assert screen_to_model(Point(1279, 719), (1280, 720), (1288, 728)) == Point(1287, 727)
    assert screen_to_model(Point(1919, 1079), (1920, 1080), (1316, 728)) == Point(1315, 727)


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        model_to_screen(Point(1, 1), (0, 10), (10, 10))
    with pytest.raises(ValueError):
        screen_to_model(Point(1, 1), (10, 10), (10, 0))


SCREENS = [(1280, 720), (1920, 1080), (3840, 2160), (1366, 768), (800, 600), (1080, 2400), (390, 844), (10, 10)]


@settings(max_examples=500, deadline=None)
@given(screen=st.sampled_from(SCREENS), bounds=st.sampled_from(sorted(BOUNDS)), data=st.data())
def test_the_smaller_space_round_trips_exactly(screen: tuple[int, int], bounds: str, data: st.DataObject) -> None:
    model = model_size_for(screen, *BOUNDS[bounds])
    for axis in (0, 1):
        small = min(model[axis], screen[axis])
        value = data.draw(st.integers(0, small - 1))
        point = Point(value, 0) if axis == 0 else Point(0, value)
        if model[axis] <= screen[axis]:
            assert screen_to_model(model_to_screen(point, model, screen), screen, model) == point
        else:
            assert model_to_screen(screen_to_model(point, screen, model), model, screen) == point


@settings(max_examples=500, deadline=None)
@given(
    screen=st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    model=st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    x=st.integers(-100, 6000),
    y=st.integers(-100, 6000),
)
def test_mapping_always_lands_on_the_target_grid(
    screen: tuple[int, int], model: tuple[int, int], x: int, y: int
) -> None:
    s = model_to_screen(Point(x, y), model, screen)
    assert 0 <= s.x < screen[0] and 0 <= s.y < screen[1]
    m = screen_to_model(Point(x, y), screen, model)
    assert 0 <= m.x < model[0] and 0 <= m.y < model[1]


@settings(max_examples=300, deadline=None)
@given(
    model=st.tuples(st.integers(1, 4000), st.integers(1, 4000)),
    screen=st.tuples(st.integers(1, 4000), st.integers(1, 4000)),
    data=st.data(),
)
def test_mapping_is_monotonic(model: tuple[int, int], screen: tuple[int, int], data: st.DataObject) -> None:
    a = data.draw(st.integers(0, model[0]))
    b = data.draw(st.integers(a, model[0]))
    assert model_to_screen(Point(a, 0), model, screen).x <= model_to_screen(Point(b, 0), model, screen).x


def test_scale_amount() -> None:
    assert scale_amount(100, 728, 1080) == 148  # 148.35
    assert scale_amount(-100, 728, 1080) == -148
    assert scale_amount(0, 728, 1080) == 0
    assert scale_amount(1, 1000, 10) == 1  # never rounds a real scroll away
    assert scale_amount(-1, 1000, 10) == -1
    assert scale_amount(3, 2, 1) == 2  # 1.5 rounds away from zero
    assert scale_amount(-3, 2, 1) == -2
    with pytest.raises(ValueError):
        scale_amount(1, 0, 1)


def test_resize_image() -> None:
    image = Image.new("RGBA", (1280, 720), (10, 20, 30, 255))
    resized = resize_image(image, (1288, 728))
    assert resized.size == (1288, 728) and resized.mode == "RGB"
    same = Image.new("RGB", (1288, 728))
    assert resize_image(same, (1288, 728)) is same


@pytest.mark.parametrize("viewport", [(1280, 720), (1920, 1080)])
def test_resize_image_stays_within_its_tolerance_of_pillows_bicubic(viewport: tuple[int, int]) -> None:
    from screenpilot.models.resize import RESIZE_TOLERANCE
    from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

    signup = Path(__file__).resolve().parents[2] / "scenarios" / "demo" / "signup.html"
    with BrowserExecutor(BrowserSettings(start_url=signup.as_uri(), viewport=viewport)) as browser:
        screen = browser.screenshot().image
    mean_limit, p99_limit = RESIZE_TOLERANCE
    for size in [(1288, 728), (644, 364), (1932, 1092)]:  # enlarged a little, halved, enlarged by half
        ours = np.asarray(resize_image(screen, size), dtype=np.int16)
        pillow = np.asarray(screen.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        difference = np.abs(ours - pillow)
        assert ours.shape == pillow.shape
        assert difference.mean() <= mean_limit, (viewport, size, difference.mean())
        assert np.percentile(difference, 99) <= p99_limit, (viewport, size, np.percentile(difference, 99))
