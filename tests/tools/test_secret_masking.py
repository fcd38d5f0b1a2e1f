"""Secrets never reach pixels: wherever a page shows a hidden value (text split across elements, a field, a
selected option, a same-origin frame, text that appears after typing), the browser's and the phone's screenshots
are painted over there, and only there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from screenpilot.tools.settle import SettleSettings
from screenpilot.tools.web.base import MASK_COLOR, WebExecutor
from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings
from screenpilot.tools.web.phone import PhoneExecutor, PhoneSettings, client_to_device
from screenpilot.tools.web.session import find_chromium

SECRET = "s3cr3t-Value-42"
PAGE = (Path(__file__).resolve().parents[1] / "pages" / "secret_echo.html").as_uri()

# (selector in the top document, or "#inner >> #code" for the frame) of elements showing only secret text
SECRET_PARTS = ("#part1", "#part2", "#field", "#choice", "#inner >> #code", "#typed")


def _chromium_missing() -> str | None:
    try:
        find_chromium(None, None)
    except Exception as exc:
        return str(exc)
    return None


pytestmark = pytest.mark.skipif(_chromium_missing() is not None, reason=str(_chromium_missing()))


@pytest.fixture(params=["browser", "phone"], scope="module")
def executor(request: pytest.FixtureRequest) -> Iterator[WebExecutor]:
    settle = SettleSettings(max_wait_s=1.0)
    made: WebExecutor
    if request.param == "browser":
        made = BrowserExecutor(BrowserSettings(viewport=(800, 450), start_url=PAGE, settle=settle))
    else:
        made = PhoneExecutor(PhoneSettings(device="pixel-7", start_url=PAGE, settle=settle))
    with made:
        yield made


def image_box(executor: WebExecutor, selector: str, text_only: bool = False) -> tuple[int, int, int, int]:
    """Where ``selector`` appears in the screenshot (x0, y0, x1, y1), shrunk by 2 px against anti-aliasing."""
    frame_selector, _, inner = selector.partition(" >> ")
    locator = executor.page.frame_locator(frame_selector).locator(inner) if inner else executor.page.locator(selector)
    box = locator.bounding_box()  # client CSS px of the top document, frames included
    assert box is not None, selector
    left, top, right, bottom = box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]
    if isinstance(executor, PhoneExecutor):
        viewport = executor.visual_viewport()
        start = client_to_device((left, top), executor.dsf, viewport)
        end = client_to_device((right, bottom), executor.dsf, viewport)
        left, top, right, bottom = start.x, start.y, end.x, end.y
    return round(left) + 2, round(top) + 2, round(right) - 2, round(bottom) - 2


def colours(image: Image.Image, box: tuple[int, int, int, int]) -> set[tuple[int, int, int]]:
    """The distinct RGB colours inside ``box``."""
    return {colour for _count, colour in image.convert("RGB").crop(box).getcolors(maxcolors=1 << 24) or []}


def show_the_secret_everywhere(executor: WebExecutor) -> None:
    executor.page.goto(PAGE)
    executor.page.fill("#field", SECRET)  # the input event writes "You typed <secret>" below it
    executor.page.select_option("#choice", index=1)


def test_every_place_showing_the_secret_is_painted_and_nothing_else(executor: WebExecutor) -> None:
    show_the_secret_everywhere(executor)
    executor.hide_values([])
    clear = executor.screenshot().image
    executor.hide_values([SECRET])
    try:
        masked = executor.screenshot().image
        for part in SECRET_PARTS:
            box = image_box(executor, part)
            assert len(colours(clear, box)) > 1, f"{part} shows nothing to hide in the clear rendering"
            assert colours(masked, box) == {MASK_COLOR}, f"{part} is not painted over"
        plain = image_box(executor, "#plain")
        assert masked.crop(plain).tobytes() == clear.crop(plain).tobytes(), "text without the secret was painted"
        assert executor.page.title() == f"Welcome back, {SECRET}"  # the title is not in pixels; the record redacts it
    finally:
        executor.hide_values([])


def test_text_that_appears_after_typing_is_painted_in_the_next_capture(executor: WebExecutor) -> None:
    executor.page.goto(PAGE)
    executor.hide_values([SECRET])
    try:
        before = executor.screenshot().image
        executor.page.fill("#field", SECRET)
        after = executor.screenshot().image
        assert colours(after, image_box(executor, "#typed")) == {MASK_COLOR}
        assert colours(before, image_box(executor, "#plain")) != {MASK_COLOR}
    finally:
        executor.hide_values([])
