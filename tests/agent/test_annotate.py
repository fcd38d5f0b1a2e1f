"""Drawing actions on screenshots: markers land on the action's screen pixels, the input is untouched."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from screenpilot.agent.actions import (
    Action,
    Click,
    Drag,
    GoBack,
    MoveTo,
    Navigate,
    Point,
    PressKeys,
    Scroll,
    Terminate,
    TypeText,
    Wait,
    to_json,
)
from screenpilot.agent.reports.annotate import (
    CLICK_COLOUR,
    DRAG_COLOUR,
    MOVE_COLOUR,
    SCROLL_COLOUR,
    actions_from_json,
    annotate,
    caption_height,
    caption_line,
    fit_text,
    font,
    scale_actions,
    step_caption,
)

WHITE = (255, 255, 255)


def colours(image: Image.Image) -> set[object]:
    found = image.getcolors(maxcolors=1 << 20)
    assert found is not None
    return {colour for _, colour in found}


def blank(size: tuple[int, int] = (1280, 720)) -> Image.Image:
    return Image.new("RGB", size, WHITE)


@pytest.mark.parametrize("at", [Point(640, 360), Point(0, 0), Point(1279, 719), Point(3, 700)])
def test_click_dot_covers_the_click_pixel_and_a_ring_surrounds_it(at: Point) -> None:
    image = blank()
    out = annotate(image, [Click(at)])
    assert out.size == image.size and out.mode == "RGB"
    assert out.getpixel((at.x, at.y)) == CLICK_COLOUR
    assert image.getpixel((at.x, at.y)) == WHITE, "the input image must not change"
    if at == Point(640, 360):
        ring = [out.getpixel((640 + dx, 360)) for dx in range(13, 22)]
        assert CLICK_COLOUR in ring
        assert out.getpixel((640 + 10, 360)) == WHITE, "between the dot and the ring stays clear"


def test_click_at_the_edge_is_drawn_on_top_of_the_bottom_bar_and_the_caption_sits_above() -> None:
    out = annotate(blank(), [TypeText("hello"), Click(Point(20, 712))], caption="step 1 · click")
    strip = caption_height((1280, 720))
    assert out.size == (1280, 720 + strip)
    assert out.getpixel((20, 712 + strip)) == CLICK_COLOUR
    assert out.getpixel((1200, 712 + strip)) != WHITE, "the bottom bar is there"
    assert out.getpixel((1200, 5)) != WHITE, "the caption strip is there"
    assert out.getpixel((1200, strip + 5)) == WHITE, "and the screen's top edge is not covered"


def test_right_and_double_clicks_are_labelled() -> None:
    plain = annotate(blank(), [Click(Point(300, 300))])
    right = annotate(blank(), [Click(Point(300, 300), button="right")])
    double = annotate(blank(), [Click(Point(300, 300), count=2)])
    assert right.getpixel((300, 300)) == double.getpixel((300, 300)) == CLICK_COLOUR
    label_area = (325, 270, 400, 300)
    assert plain.crop(label_area).getcolors() == [(75 * 30, WHITE)]
    for labelled in (right, double):
        assert CLICK_COLOUR in colours(labelled.crop(label_area))
    assert right.tobytes() != double.tobytes()


def test_drag_is_an_arrow_from_start_to_end() -> None:
    out = annotate(blank(), [Drag(to=Point(900, 400), start=Point(300, 400))])
    assert out.getpixel((300, 400)) == DRAG_COLOUR
    for x in (400, 600, 850):
        assert out.getpixel((x, 400)) == DRAG_COLOUR
    assert out.getpixel((600, 430)) == WHITE
    assert out.getpixel((899, 400)) == DRAG_COLOUR, "the head reaches the end point"


def test_drag_without_start_marks_the_end() -> None:
    out = annotate(blank(), [Drag(to=Point(500, 300))])
    assert DRAG_COLOUR in colours(out.crop((480, 280, 520, 320)))


@pytest.mark.parametrize(("dx", "dy", "probe"), [(0, 300, (0, 1)), (0, -300, (0, -1)), (300, 0, (1, 0)),
                                                 (-300, 0, (-1, 0))])
def test_scroll_arrow_points_the_scroll_direction(dx: int, dy: int, probe: tuple[int, int]) -> None:
    at = Point(400, 360)
    out = annotate(blank(), [Scroll(dy=dy, dx=dx, at=at)])
    ahead = (at.x + probe[0] * 22, at.y + probe[1] * 22)
    behind_far = (at.x - probe[0] * 40, at.y - probe[1] * 40)
    assert out.getpixel(ahead) == SCROLL_COLOUR
    assert out.getpixel(behind_far) == WHITE


def test_move_is_a_crosshair() -> None:
    out = annotate(blank(), [MoveTo(Point(200, 200))])
    for xy in ((200, 200), (192, 200), (208, 200), (200, 192), (200, 208)):
        assert out.getpixel(xy) == MOVE_COLOUR
    assert out.getpixel((208, 208)) == WHITE


def test_text_and_keys_go_in_the_bottom_bar() -> None:
    plain = annotate(blank(), [])
    typed = annotate(blank(), [TypeText("Ada <b> ünïcode"), PressKeys(("ctrl", "a"))])
    assert plain.tobytes() == blank().tobytes()
    bottom = typed.crop((0, 640, 1280, 720))
    assert bottom.getpixel((1270, 75)) != WHITE
    assert typed.crop((0, 0, 1280, 600)).tobytes() == blank().crop((0, 0, 1280, 600)).tobytes()


@pytest.mark.parametrize("action", [
    TypeText("x"), PressKeys(("enter",)), Wait(1.0), Terminate("success", "42"), Navigate("https://e.org"),
    GoBack(), Click(None), Scroll(dy=100)])
def test_actions_without_a_point_have_a_caption_line(action: object) -> None:
    line = caption_line(action)  # type: ignore[arg-type]
    assert line


def test_pointer_actions_have_no_caption_line() -> None:
    assert caption_line(Click(Point(1, 1))) is None
    assert caption_line(MoveTo(Point(1, 1))) is None


def test_points_outside_the_image_are_clipped_not_errors() -> None:
    out = annotate(blank((200, 100)), [Click(Point(5000, -40)), Drag(Point(-10, -10), Point(900, 900)),
                                       Scroll(dy=5, at=Point(-50, 50)), MoveTo(Point(300, 300))])
    assert out.size == (200, 100)


def test_small_and_rgba_images_work() -> None:
    image = Image.new("RGBA", (160, 210), (0, 0, 0, 0))
    out = annotate(image, [Click(Point(80, 100), count=2), TypeText("a very long text " * 20)], caption="step 9")
    strip = caption_height((160, 210))
    assert out.mode == "RGB" and out.size == (160, 210 + strip)
    assert out.getpixel((80, 100 + strip)) == CLICK_COLOUR


def test_fit_text_cuts_with_an_ellipsis() -> None:
    face = font(14)
    assert fit_text("short", face, 500) == "short"
    cut = fit_text("word " * 200, face, 200)
    assert cut.endswith("…") and face.getlength(cut) <= 200
    assert fit_text("a\nb\tc", face, 500) == "a b c"


def test_step_caption_and_json_round_trip() -> None:
    actions: list[Action] = [Click(Point(1, 2)), TypeText("hi")]
    items = [to_json(a) for a in actions] + [{"kind": "Teleport"}, "junk", {"kind": "Click", "at": [1]}]
    assert actions_from_json(items) == actions
    assert actions_from_json(None) == []
    assert step_caption(3, actions) == "step 3 · click (1, 2); type 'hi'"
    assert step_caption(4, [], "ReplyParseError") == "step 4 · ReplyParseError"
    assert step_caption(5, []) == "step 5 · no action"


def test_scale_actions_moves_points_only() -> None:
    scaled = scale_actions([Click(Point(100, 50)), Scroll(dy=300, at=Point(10, 10)), TypeText("t")], 0.5)
    assert scaled == [Click(Point(50, 25)), Scroll(dy=300, at=Point(5, 5)), TypeText("t")]
    assert math.isclose(0.5, scaled[0].at.x / 100)  # type: ignore[union-attr]
