"""The emulated phone executor against real headless Chromium on local pages
(tests/pages/phone_*.html), plus the pure pixel-space helpers it is built on.

Every gesture test asserts on the page's own state (``window.phoneState``): a tap is seen as
``touchend`` + ``click``, a long press by the page's own timer, a swipe by the carousel's touch
handlers, a vertical swipe by the page scrolling. One Pixel 7 serves the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from screenpilot.agent.actions import (
    AndroidKey,
    Click,
    Drag,
    LongPress,
    MoveTo,
    Navigate,
    OpenApp,
    Point,
    Swipe,
    SystemButton,
    Terminate,
    TypeText,
)
from screenpilot.agent.errors import ActionFailedError, ConfigError
from screenpilot.tools.settle import SettleSettings
from screenpilot.tools.web.phone import (
    PhoneExecutor,
    PhoneSettings,
    VisualViewport,
    android_playwright_key,
    android_system_button,
    app_url,
    client_to_device,
    device_size,
    device_slug,
    device_to_client,
    device_to_viewport_css,
    fit_image,
    resolve_device,
    swipe_steps,
    touch_path,
)
from screenpilot.tools.web.session import find_chromium

PAGES = Path(__file__).resolve().parents[1] / "pages"


def page_url(name: str, query: str = "") -> str:
    return (PAGES / f"{name}.html").as_uri() + query


def _chromium_missing() -> str | None:
    try:
        find_chromium(None, None)
    except ConfigError as exc:
        return exc.message
    return None


needs_chromium = pytest.mark.skipif(_chromium_missing() is not None, reason=str(_chromium_missing()))


# --- pure helpers ----------------------------------------------------------------------------


def test_device_px_divide_by_the_dsf_to_give_viewport_css_px() -> None:
    assert device_to_viewport_css(Point(1050, 2100), 2.625) == (400.0, 800.0)
    assert device_to_viewport_css(Point(0, 0), 3.0) == (0.0, 0.0)


def test_client_css_px_undo_the_visual_viewports_zoom_and_offset() -> None:
    assert device_to_client(Point(1050, 2100), 2.625, VisualViewport()) == (400.0, 800.0)
    zoomed = VisualViewport(scale=0.5, offset_left=10.0, offset_top=20.0)
    assert device_to_client(Point(525, 1050), 2.625, zoomed) == (410.0, 820.0)


@pytest.mark.parametrize("viewport", [VisualViewport(), VisualViewport(0.42, 0, 0), VisualViewport(2.0, 30.5, 100.0)])
@pytest.mark.parametrize("dsf", [1.0, 2.625, 3.0])
def test_client_to_device_inverts_device_to_client(viewport: VisualViewport, dsf: float) -> None:
    for device_px in (Point(0, 0), Point(541, 1101), Point(1081, 2201)):
        assert client_to_device(device_to_client(device_px, dsf, viewport), dsf, viewport) == device_px


def test_device_size_rounds_css_times_dsf() -> None:
    assert device_size((412, 839), 2.625) == (1082, 2202)
    assert device_size((390, 664), 3.0) == (1170, 1992)


def test_fit_image_crops_or_pads_to_the_exact_size() -> None:
    assert fit_image(Image.new("RGB", (1081, 2203), "red"), (1082, 2202)).size == (1082, 2202)
    padded = fit_image(Image.new("RGBA", (3, 3), "red"), (4, 3))
    assert padded.mode == "RGB" and padded.getpixel((3, 0)) == (0, 0, 0) and padded.getpixel((2, 0)) == (255, 0, 0)


def test_touch_path_and_steps() -> None:
    assert touch_path((0.0, 0.0), (10.0, -20.0), 2) == [(5.0, -10.0), (10.0, -20.0)]
    assert swipe_steps(0.5) == 31 and swipe_steps(0.01) == 5 and swipe_steps(10) == 60


DEVICES = ["Pixel 7", "Pixel 7 landscape", "iPhone 13", "Pixel 4a (5G)", "Galaxy S9+", "Desktop Chrome"]


@pytest.mark.parametrize(("name", "expected"), [
    ("Pixel 7", "Pixel 7"), ("pixel-7", "Pixel 7"), ("PIXEL 7", "Pixel 7"), ("iphone-13", "iPhone 13"),
    ("pixel-4a-5g", "Pixel 4a (5G)"), ("galaxy-s9-plus", "Galaxy S9+"), ("pixel-7-landscape", "Pixel 7 landscape"),
])
def test_resolve_device(name: str, expected: str) -> None:
    assert resolve_device(name, DEVICES) == expected


def test_unknown_device_lists_the_phone_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_device("nokia-3310", DEVICES)
    message = caught.value.message
    assert "nokia-3310" in message and "pixel-7, " in message and "iphone-13" in message
    assert "desktop" not in message.split("choose one of:")[1].split("(")[0]
    assert device_slug("Galaxy S9+") == "galaxy-s9-plus"


def test_app_urls_match_names_loosely() -> None:
    apps = {"Notes": "https://notes.example/", "Google Maps": "https://maps.example/"}
    assert app_url(apps, " notes ") == "https://notes.example/"
    assert app_url(apps, "google   MAPS") == "https://maps.example/"
    assert app_url(apps, "Calendar") is None


def test_android_keys_map_to_keyboard_keys_or_buttons() -> None:
    assert android_playwright_key("KEYCODE_ENTER") == "Enter"
    assert android_playwright_key("KEYCODE_DEL") == "Backspace"
    assert android_playwright_key("KEYCODE_FORWARD_DEL") == "Delete"
    assert android_playwright_key("KEYCODE_A") == "a" and android_playwright_key("KEYCODE_7") == "7"
    assert android_playwright_key("KEYCODE_VOLUME_UP") is None
    assert android_system_button("KEYCODE_BACK") == "back" and android_system_button("KEYCODE_APP_SWITCH") == "menu"
    assert android_system_button("KEYCODE_ENTER") is None


# --- the executor on a real page --------------------------------------------------------------

HOME_URL = page_url("phone_next", "?home=1")
APPS = {"Notes": page_url("phone_next", "?app=notes")}


@pytest.fixture(scope="module")
def phone() -> Iterator[PhoneExecutor]:
    if _chromium_missing():
        pytest.skip(str(_chromium_missing()))
    settings = PhoneSettings(device="pixel-7", start_url=page_url("phone_app"), home_url=HOME_URL, apps=APPS,
                             settle=SettleSettings(max_wait_s=1.0))
    with PhoneExecutor(settings) as executor:
        yield executor


@pytest.fixture
def app(phone: PhoneExecutor) -> PhoneExecutor:
    """The phone on a fresh copy of phone_app.html."""
    phone.page.goto(page_url("phone_app"))
    return phone


def state(phone: PhoneExecutor) -> dict[str, Any]:
    value = phone.page.evaluate("window.phoneState")
    assert isinstance(value, dict)
    return value


def center(phone: PhoneExecutor, selector: str) -> Point:
    """The device-px centre of ``selector`` as the screenshot shows it."""
    box = phone.page.locator(selector).bounding_box()
    assert box is not None
    client = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    return client_to_device(client, phone.dsf, phone.visual_viewport())


@needs_chromium
def test_screenshots_are_in_device_pixels_of_a_mobile_browser(app: PhoneExecutor) -> None:
    frame = app.screenshot()
    assert app.size == device_size((412, 839), 2.625) == (1082, 2202)
    assert frame.size == app.size and frame.image.mode == "RGB"
    header_px = frame.image.getpixel((20, 20))
    assert header_px == (0x2B, 0x57, 0x97)  # the header, 56 CSS px tall = 147 device px
    assert frame.image.getpixel((20, 140)) == header_px and frame.image.getpixel((20, 152)) != header_px
    assert frame.url is not None and frame.url.endswith("phone_app.html") and frame.title == "Phone test app"
    assert app.page.evaluate("navigator.maxTouchPoints > 0 && /Android/.test(navigator.userAgent)")
    described = app.describe()
    assert described["kind"] == "phone" and described["device"] == "Pixel 7"
    assert described["screen_device_px"] == [1082, 2202] and described["device_scale_factor"] == 2.625


@needs_chromium
def test_click_is_a_tap(app: PhoneExecutor) -> None:
    app.execute(Click(center(app, "#tap-target")))
    assert state(app)["taps"] == 1 and state(app)["touchTaps"] == 1


@needs_chromium
def test_long_press_fires_the_pages_context_action(app: PhoneExecutor) -> None:
    hold = center(app, "#hold-target")
    app.execute(Click(hold))
    assert state(app)["longPresses"] == 0
    app.execute(LongPress(hold, 0.8))
    current = state(app)
    assert current["longPresses"] == 1 and current["holdMs"] >= 700
    assert app.page.locator("#context-menu").is_visible()


@needs_chromium
def test_swipe_moves_the_carousel_by_touch(app: PhoneExecutor) -> None:
    middle = center(app, "#carousel")
    left, right = Point(150, middle.y), Point(app.size[0] - 150, middle.y)
    app.execute(Swipe(right, left, 0.3))
    current = state(app)
    assert current["slide"] == 1 and current["swipes"][0]["moves"] >= 5 and current["swipes"][0]["dx"] < -250
    app.execute(Swipe(right, left, 0.3))
    app.execute(Drag(right, left))  # a drag is a swipe too: back one slide
    assert state(app)["slide"] == 1


@needs_chromium
def test_vertical_swipe_scrolls_the_page(app: PhoneExecutor) -> None:
    assert app.page.evaluate("window.scrollY") == 0
    app.execute(Swipe(Point(540, 2000), Point(540, 800), 0.4))
    app.page.wait_for_function("window.scrollY > 200", timeout=5000)


@needs_chromium
def test_typing_and_android_keys(app: PhoneExecutor) -> None:
    app.execute(Click(center(app, "#name")))
    app.execute(TypeText("Ada Lovelace ünïcødé"))
    app.execute(AndroidKey("KEYCODE_DEL"))
    app.execute(AndroidKey("KEYCODE_SPACE"))
    app.execute(AndroidKey("KEYCODE_X"))
    assert app.page.input_value("#name") == "Ada Lovelace ünïcød x"


@needs_chromium
def test_back_returns_to_the_previous_page(app: PhoneExecutor) -> None:
    app.execute(Click(center(app, "#next-link")))
    app.page.wait_for_url("**/phone_next.html")
    app.execute(SystemButton("back"))
    app.page.wait_for_url("**/phone_app.html")
    app.execute(Click(center(app, "#next-link")))
    app.page.wait_for_url("**/phone_next.html")
    app.execute(AndroidKey("KEYCODE_BACK"))
    app.page.wait_for_url("**/phone_app.html")


@needs_chromium
def test_home_and_open_app_go_to_their_configured_pages(app: PhoneExecutor) -> None:
    app.execute(SystemButton("home"))
    assert app.page.url == HOME_URL
    app.execute(OpenApp(" notes"))
    assert app.page.url == APPS["Notes"]
    assert app.screenshot().title == "Phone next page"
    with pytest.raises(ActionFailedError) as caught:
        app.execute(OpenApp("Calendar"))
    assert "Notes" in caught.value.hint


@needs_chromium
@pytest.mark.parametrize(("action", "hint_part"), [
    (Click(Point(10, 10), "right"), "long_press"),
    (Click(), "coordinate"),
    (MoveTo(Point(10, 10)), "tap"),
    (SystemButton("menu"), "open"),
    (AndroidKey("KEYCODE_VOLUME_UP"), "volume"),
    (Click(Point(1082, 10)), "1082"),
    (LongPress(Point(10, 2202)), "2202"),
], ids=repr)
def test_what_a_phone_cannot_do_is_feedback_for_the_model(app: PhoneExecutor, action: Any, hint_part: str) -> None:
    with pytest.raises(ActionFailedError) as caught:
        app.execute(action)
    assert hint_part in caught.value.hint


@needs_chromium
def test_loop_actions_are_not_for_the_executor(app: PhoneExecutor) -> None:
    with pytest.raises(ValueError, match="loop"):
        app.execute(Terminate("success"))


@needs_chromium
def test_taps_land_where_the_screenshot_shows_on_a_zoomed_out_page(app: PhoneExecutor) -> None:
    app.execute(Navigate(page_url("phone_wide")))
    viewport = app.visual_viewport()
    assert viewport.scale < 0.6  # laid out 980 CSS px wide, shown on a 412 CSS px screen
    target = center(app, "#target")
    assert app.screenshot().image.getpixel((target.x, target.y)) == (0xFF, 0xEB, 0x3B)
    app.execute(Click(target))
    assert app.page.evaluate("window.hits") == ["target"]


@needs_chromium
def test_fields_showing_a_secret_are_painted_over(app: PhoneExecutor) -> None:
    app.page.fill("#name", "pin 4417-9902")
    point = center(app, "#name")
    assert app.screenshot().image.getpixel((point.x, point.y)) != (0x28, 0x28, 0x28)
    app.hide_values(["4417-9902"])
    try:
        assert app.screenshot().image.getpixel((point.x, point.y)) == (0x28, 0x28, 0x28)
    finally:
        app.hide_values([])
