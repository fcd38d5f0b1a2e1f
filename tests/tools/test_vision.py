"""Screen utilities on synthetic images: template matching, anchors that are unique, OCR boxes;
OCR per frame cached, ``near`` lookups reading a region first, and lone symbols of the Tk test
app's calculator keypad found by text on Xvfb."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from screenpilot.agent.errors import ConfigError
from screenpilot.tools import vision
from screenpilot.tools.vision import (
    WIDE_SCALES,
    TextLine,
    best_image_match,
    best_text_match,
    choose_anchor,
    crop_anchor,
    find_image,
    find_text,
    text_similarity,
)

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if FONT_PATH.is_file():
        return ImageFont.truetype(str(FONT_PATH), size)
    return ImageFont.load_default(size)


def _widget(label: str) -> Image.Image:
    """A 120x44 'button' with a border and a label."""
    image = Image.new("RGB", (120, 44), (47, 95, 208))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 119, 43), outline=(20, 40, 90), width=2)
    draw.text((12, 10), label, fill="white", font=_font(18))
    return image


def _screen(at: tuple[int, int], size: tuple[int, int] = (640, 360)) -> Image.Image:
    """A light screen with some clutter and the 'Search' widget with its top-left at ``at``."""
    screen = Image.new("RGB", size, (238, 242, 248))
    draw = ImageDraw.Draw(screen)
    for i in range(6):
        draw.rectangle((20 + 100 * i, 300, 80 + 100 * i, 330), outline=(150, 160, 190), width=2)
    draw.text((20, 20), "SkyPilot", fill=(23, 50, 92), font=_font(24))
    screen.paste(_widget("Search"), at)
    return screen


def test_template_is_found_where_it_moved() -> None:
    template = _widget("Search")
    match = find_image(_screen((300, 140)), template)
    assert match is not None
    assert match.box == (300, 140, 120, 44) and match.center == (360, 162)
    assert match.score > 0.99 and match.scale == 1.0


def test_below_the_threshold_is_not_found_but_the_best_is_reported() -> None:
    screen = _screen((300, 140))
    other = _widget("Cancel").transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    assert find_image(screen, other, threshold=0.9) is None
    best = best_image_match(screen, other)
    assert best is not None and best.score < 0.9


def test_a_larger_rendering_is_found_with_wide_scales() -> None:
    screen = _screen((300, 140))
    small = _widget("Search").resize((96, 35), Image.Resampling.LANCZOS)  # 0.8 of the widget on screen
    assert find_image(screen, small, threshold=0.85) is None
    match = find_image(screen, small, threshold=0.85, scales=(1.0, *WIDE_SCALES))
    assert match is not None and match.scale == 1.25
    assert abs(match.center[0] - 360) <= 2 and abs(match.center[1] - 162) <= 2


def test_flat_templates_and_arrays() -> None:
    screen = np.asarray(_screen((10, 10)))
    with pytest.raises(ValueError, match="single colour"):
        find_image(screen, np.full((20, 20, 3), 200, np.uint8))
    match = find_image(screen, screen[10:54, 10:130])  # numpy RGB in, same result
    assert match is not None and match.box[:2] == (10, 10)
    assert best_image_match(screen[:20, :20], np.asarray(_widget("x"))) is None  # template larger than screen


def _twin_buttons() -> Image.Image:
    """Two identical buttons, told apart only by the labels on their left."""
    screen = Image.new("RGB", (640, 360), (255, 255, 255))
    draw = ImageDraw.Draw(screen)
    for top, label in ((80, "From"), (200, "To")):
        draw.text((40, top + 10), label, fill="black", font=_font(18))
        screen.paste(_widget("Pick"), (220, top))
    return screen


def test_anchor_grows_until_it_is_unique_and_finds_its_point_again() -> None:
    screen = _twin_buttons()
    point = (280, 222)  # inside the second button
    small = vision._placed_box(point, (96, 40), (0.5, 0.5), screen.size)
    assert vision.best_elsewhere(vision.to_gray(screen), small) > 0.95  # the button alone has a twin
    choice = choose_anchor(screen, point, (96, 40))
    left, top, width, height = choice.box
    assert choice.unique and choice.elsewhere < 0.8
    assert width * height > 96 * 40, "the crop grew"
    assert left <= point[0] < left + width and top <= point[1] < top + height
    crop = crop_anchor(screen, point, (96, 40))
    assert crop.size == (width, height)
    # The same screen moved 30 px right and 50 px down: the anchor finds the point again.
    moved = Image.new("RGB", (640, 360), (255, 255, 255))
    moved.paste(screen.crop((0, 0, 610, 310)), (30, 50))
    match = find_image(moved, crop, threshold=choice.threshold())
    assert match is not None
    dx, dy = choice.offset(point)
    assert (match.center[0] + dx, match.center[1] + dy) == (point[0] + 30, point[1] + 50)


def test_anchor_threshold_rises_with_look_alikes() -> None:
    choice = vision.AnchorChoice((0, 0, 10, 10), elsewhere=0.9, unique=False)
    assert choice.threshold() == 0.95
    assert vision.AnchorChoice((0, 0, 10, 10), elsewhere=0.3, unique=True).threshold() == 0.85
    with pytest.raises(ValueError, match="outside"):
        choose_anchor(_twin_buttons(), (700, 10))


@pytest.mark.parametrize(("query", "text", "score", "part"), [
    ("Search flights", "Search flights", 1.0, "search flights"),
    ("search   FLIGHTS", "Search flights", 1.0, "search flights"),
    ("passenger", "Continue to passenger details", vision.WORD_MATCH, "passenger"),
    ("to", "Summer sale: up to 30% off", vision.WORD_MATCH, "to"),
    ("Serch flights", "Search flights now", None, "search flights"),
])
def test_text_similarity(query: str, text: str, score: float | None, part: str) -> None:
    similarity, start, end = text_similarity(query, text)
    normalised = " ".join(text.lower().split())
    if score is None:
        assert 0.85 < similarity < vision.WORD_MATCH
    else:
        assert similarity == score
    assert normalised[start:end] == part


def test_a_word_inside_a_line_gets_its_part_of_the_box() -> None:
    lines = [TextLine("Continue to passenger details", (100, 50, 290, 20), 0.99),
             TextLine("To", (40, 200, 20, 20), 0.9)]
    match = best_text_match(lines, "passenger")
    assert match is not None and match.text == "passenger" and match.score == vision.WORD_MATCH
    left, top, width, height = match.box
    assert (top, height) == (50, 20)
    assert 100 + 290 * 12 // 29 - 2 <= left <= 100 + 290 * 12 // 29 + 2 and 80 <= width <= 100
    to = best_text_match(lines, "to")
    assert to is not None and to.box == (40, 200, 20, 20) and to.score == 1.0  # the whole line beats the word


def test_missing_rapidocr_is_a_config_error_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    vision._ocr_engine.cache_clear()
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    try:
        with pytest.raises(ConfigError, match="pip install rapidocr"):
            find_text(Image.new("RGB", (64, 64), "white"), "x")
    finally:
        vision._ocr_engine.cache_clear()


def _text_screen() -> tuple[Image.Image, dict[str, tuple[int, int, int, int]]]:
    """A white screen with rendered text; returns it and the drawn boxes (left, top, right, bottom)."""
    screen = Image.new("RGB", (800, 300), "white")
    draw = ImageDraw.Draw(screen)
    font = _font(22)
    boxes = {}
    for xy, text in (((60, 40), "Search flights"), ((60, 140), "Continue to passenger details"),
                     ((480, 40), "Cancel")):
        draw.text(xy, text, fill="black", font=font)
        boxes[text] = draw.textbbox(xy, text, font=font)
    prefix = draw.textbbox((60, 140), "Continue to ", font=font)
    boxes["passenger"] = (prefix[2], prefix[1], draw.textbbox((prefix[2], 140), "passenger", font=font)[2], prefix[3])
    return screen, boxes


def test_ocr_finds_rendered_text() -> None:
    pytest.importorskip("rapidocr")
    pytest.importorskip("onnxruntime")
    screen, boxes = _text_screen()
    for query, expected in (("Search flights", "Search flights"), ("passenger", "passenger"), ("cancel", "Cancel")):
        match = find_text(screen, query)
        assert match is not None, query
        left, top, right, bottom = boxes[expected]
        assert left - 4 <= match.center[0] <= right + 4 and top - 4 <= match.center[1] <= bottom + 4, (query, match)
    assert find_text(screen, "Book now") is None


def _needs_ocr() -> None:
    pytest.importorskip("rapidocr")
    pytest.importorskip("onnxruntime")


def test_ocr_of_one_frame_is_cached_and_a_region_keeps_screen_coordinates(monkeypatch: pytest.MonkeyPatch) -> None:
    _needs_ocr()
    screen, boxes = _text_screen()
    vision.clear_ocr_cache()
    calls: list[tuple[int, int]] = []
    real = vision._run_ocr
    monkeypatch.setattr(vision, "_run_ocr", lambda image, region=False: calls.append(image.size) or real(image, region))
    first = vision.ocr_lines(screen)
    assert vision.ocr_lines(screen.copy()) == first and calls == [(800, 300)]  # same pixels: no second pass
    region = vision.ocr_lines(screen, (400, 0, 400, 120))
    assert calls == [(800, 300), (400, 120)]
    assert [line.text for line in region] == ["Cancel"]
    (whole,) = [line.box for line in first if line.text == "Cancel"]
    (part,) = [line.box for line in region]
    assert all(abs(a - b) <= 3 for a, b in zip(whole, part, strict=True)), (whole, part)  # screen pixels, not crop
    left, top, right, bottom = boxes["Cancel"]
    assert part[0] <= left and part[1] <= top and part[0] + part[2] >= right and part[1] + part[3] >= bottom
    assert vision.ocr_lines(screen, (900, 0, 10, 10)) == []  # off the screen


def test_a_near_lookup_reads_its_region_first_and_falls_back_to_the_whole_screen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _needs_ocr()
    screen = _text_screen()[0].resize((1280, 480))  # wider than NEAR_REGION so that the region is a real crop
    vision.clear_ocr_cache()
    calls: list[tuple[int, int]] = []
    real = vision._run_ocr
    monkeypatch.setattr(vision, "_run_ocr", lambda image, region=False: calls.append(image.size) or real(image, region))
    search = vision.locate_text(screen, "Cancel", near=(900, 80))
    assert search.best is not None and search.best.score == 1.0 and calls == [vision.NEAR_REGION]
    assert "region" in search.searched and "whole" not in search.searched
    # Recorded near the wrong place: the region has no match, the whole screen has it.
    moved = vision.locate_text(screen, "Search flights", near=(1100, 400))
    assert moved.best is not None and moved.best.score == 1.0 and calls[-1] == (1280, 480)
    assert moved.best.center[0] < 640


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed: sudo apt-get install xvfb xauth")
def test_the_calculator_keys_are_found_by_text_on_the_desktop(tmp_path: Path) -> None:
    _needs_ocr()
    from screenpilot.tools.x11.desktop import DesktopExecutor, DesktopSettings
    from screenpilot.tools.x11.xvfb import VirtualDisplay
    from tests.tools.conftest import TK_APP, read_json

    state_path = tmp_path / "calc.json"
    with VirtualDisplay(1024, 768) as display:
        app = display.launch([sys.executable, str(TK_APP), str(state_path), "--calculator"], log_name="calculator")
        deadline = time.monotonic() + 15
        while not (read_json(state_path) or {}).get("ready"):
            assert app.poll() is None and time.monotonic() < deadline, "the calculator did not start"
            time.sleep(0.05)
        geometry = (read_json(state_path) or {})["geometry"]
        executor = DesktopExecutor(DesktopSettings(display=display.display, xauthority=display.xauthority,
                                                   fail_safe=False))
        try:
            executor.settle()
            screen = executor.screenshot().image
        finally:
            executor.close()
            display.stop(app)
    vision.clear_ocr_cache()
    for key, near in (("=", None), ("=", (300, 400)), ("+", None), ("7", None), ("×", None)):
        match = find_text(screen, key, near=near)
        assert match is not None, (key, near)
        x0, y0, x1, y1 = geometry[key]  # the app window sits at the screen's top-left corner
        assert x0 <= match.center[0] < x1 and y0 <= match.center[1] < y1, (key, match, geometry[key])
    assert vision.find_glyph(screen, "%") is None
