"""The Qwen3-VL prompt format: 0-1000 grid, factor-32 sizes, extra verbs, tolerant parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from screenpilot.agent.actions import (
    Action,
    AskUser,
    Click,
    CloseTab,
    Drag,
    GoBack,
    ListTabs,
    MoveTo,
    Navigate,
    NewTab,
    Point,
    PressKeys,
    Scroll,
    SwitchTab,
    Terminate,
    TypeText,
    Upload,
    Wait,
)
from screenpilot.agent.errors import ConfigError, InvalidArgumentError, ModelError, ReplyParseError, UnknownActionError
from screenpilot.agent.keys import NAMED_KEYS
from screenpilot.models.base import Turn
from screenpilot.models.formats.qwen3 import (
    CORE_ACTIONS,
    MAX_PIXELS,
    MIN_PIXELS,
    Qwen3VLFormat,
    call_arguments,
)
from screenpilot.models.formats.qwen25 import MAX_SCROLL_PIXELS, MAX_WAIT_S

SCREEN = (1280, 720)
IMAGE = (1280, 704)
FORMAT = Qwen3VLFormat(browser_actions=True)
"""Every extra enabled."""


def call(**arguments: object) -> str:
    """A reply in the published layout: one ``<tool_call>`` with ``computer_use``."""
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"


# --- sizes and tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("screen", "model", "tokens"),
    [
        ((1280, 720), (1280, 704), 880),
        ((1920, 1080), (1920, 1088), 2040),
        ((1366, 768), (1376, 768), 1032),
        ((3840, 2160), (3840, 2176), 8160),
    ],
)
def test_model_size_uses_factor_32_and_tokens_are_patch_16_merge_2(
    screen: tuple[int, int], model: tuple[int, int], tokens: int
) -> None:
    prompt = Qwen3VLFormat()
    assert prompt.model_size(screen) == model
    assert model[0] % 32 == 0 and model[1] % 32 == 0
    assert prompt.image_tokens(model) == tokens == (model[0] // 32) * (model[1] // 32)


def test_defaults_are_the_released_preprocessor_bounds() -> None:
    prompt = Qwen3VLFormat()
    assert (prompt.min_pixels, prompt.max_pixels) == (MIN_PIXELS, MAX_PIXELS) == (64 * 32 * 32, 16384 * 32 * 32)
    assert prompt.name == "qwen3-vl"
    assert prompt.describe()["resize_factor"] == 32


def test_small_max_pixels_caps_the_image_and_bad_bounds_are_config_errors() -> None:
    prompt = Qwen3VLFormat(min_pixels=4096, max_pixels=1280 * 32 * 32)
    width, height = prompt.model_size((1920, 1080))
    assert width * height <= 1280 * 32 * 32 and width % 32 == 0 and height % 32 == 0
    with pytest.raises(ConfigError):
        Qwen3VLFormat(min_pixels=10, max_pixels=5)
    with pytest.raises(ConfigError):
        Qwen3VLFormat(keep_images=0)


# --- system prompt and requests ---------------------------------------------------------------


def test_system_prompt_advertises_the_grid_and_the_qwen3_actions() -> None:
    text = Qwen3VLFormat(browser_actions=True).system_prompt(IMAGE)
    tools = json.loads(text.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0])
    function = tools["function"]
    assert function["name"] == "computer_use"
    assert "The screen's resolution is 1000x1000" in function["description"]
    assert "1280x704" not in text
    enum = function["parameters"]["properties"]["action"]["enum"]
    assert enum[: len(CORE_ACTIONS)] == list(CORE_ACTIONS)
    assert {"triple_click", "hscroll", "answer", "navigate", "back", "ask_user"} <= set(enum)
    assert "<tool_call>" in text


def test_ask_user_and_browser_verbs_follow_the_options() -> None:
    text = Qwen3VLFormat(ask_user=False).system_prompt(IMAGE)
    assert "ask_user" not in text and "navigate" not in text
    with pytest.raises(UnknownActionError):
        Qwen3VLFormat(ask_user=False).parse(call(action="ask_user", question="?"), IMAGE)


def test_request_accepts_factor_32_images_and_refuses_others() -> None:
    prompt = Qwen3VLFormat()
    request = prompt.build_request("Open the menu", [], Image.new("RGB", IMAGE), None)
    assert request.image_size == IMAGE
    assert [image.size for image in request.images()] == [IMAGE]
    assert request.messages[0]["role"] == "system"
    with pytest.raises(ValueError, match="multiples of 32"):
        prompt.build_request("x", [], Image.new("RGB", (1288, 728)), None)


def test_history_text_uses_qwen3_calls() -> None:
    prompt = Qwen3VLFormat()
    turns = [
        Turn(Image.new("RGB", IMAGE), "r1", (Scroll(dy=0, dx=120, at=Point(500, 500)),)),
        Turn(Image.new("RGB", IMAGE), "r2", (Click(Point(10, 20), count=3),), feedback="nothing changed"),
    ]
    request = prompt.build_request("Task", turns, Image.new("RGB", IMAGE), None)
    text = request.messages[-1]["content"][0]["text"]
    assert '"action": "hscroll", "pixels": 120' in text
    assert '"action": "triple_click", "coordinate": [10, 20]' in text
    assert "nothing changed" in text


# --- parsing -------------------------------------------------------------------------------------

VALID: list[tuple[str, list[Action]]] = [
    (call(action="left_click", coordinate=[500, 500]), [Click(Point(500, 500))]),
    (call(action="left_click", coordinate=[0, 1000]), [Click(Point(0, 1000))]),
    (call(action="right_click", coordinate=["120", "80.4"]), [Click(Point(120, 80), "right")]),
    (call(action="middle_click"), [Click(None, "middle")]),
    (call(action="double_click", coordinate=[10, 10]), [Click(Point(10, 10), count=2)]),
    (call(action="triple_click", coordinate=[250, 750]), [Click(Point(250, 750), count=3)]),
    (call(action="mouse_move", coordinate=[999, 1]), [MoveTo(Point(999, 1))]),
    (call(action="left_click_drag", coordinate=[900, 900]), [Drag(Point(900, 900))]),
    (call(action="type", text="hello"), [TypeText("hello")]),
    (call(action="key", keys=["ctrl", "c"]), [PressKeys(("ctrl", "c"))]),
    (call(action="scroll", pixels=-300, coordinate=[500, 500]), [Scroll(dy=300, at=Point(500, 500))]),
    (call(action="hscroll", pixels=200), [Scroll(dy=0, dx=200)]),
    (call(action="hscroll", pixels=-50, coordinate=[1, 2]), [Scroll(dy=0, dx=-50, at=Point(1, 2))]),
    (call(action="wait", time=2), [Wait(2.0)]),
    (call(action="terminate", status="success"), [Terminate("success")]),
    (call(action="terminate", status="failure"), [Terminate("failure")]),
    (call(action="answer", text="42 items"), [Terminate("success", "42 items")]),
    (call(action="ask_user", question="Which account?"), [AskUser("Which account?")]),
    ("<think>\nThe Submit button is at the bottom.\n</think>\n" + call(action="left_click", coordinate=[480, 910]),
     [Click(Point(480, 910))]),
    ("I will click it.\n<tool_call>\n" + json.dumps({"name": "computer_use",
     "arguments": {"action": "left_click", "coordinate": [1, 1]}}), [Click(Point(1, 1))]),
    (call(action="type", text="a") + call(action="answer", text="done") + call(action="nonsense"),
     [TypeText("a"), Terminate("success", "done")]),
]


@pytest.mark.parametrize(("reply", "expected"), VALID)
def test_published_replies_parse(reply: str, expected: list[Action]) -> None:
    assert FORMAT.parse(reply, IMAGE) == expected
    assert Qwen3VLFormat(browser_actions=True).parse(reply, IMAGE) == expected


MALFORMED: list[tuple[str, type[ModelError]]] = [
    ("", ReplyParseError),
    ("I would click the button.", ReplyParseError),
    ("<tool_call>\n{\"name\": \"computer_use\", \"arguments\": {\"action\": \"left_click\"", ReplyParseError),
    (call(action="left_click", coordinate=[1001, 5]), InvalidArgumentError),
    (call(action="left_click", coordinate=[-1, 5]), InvalidArgumentError),
    (call(action="left_click", coordinate=[1280, 700]), InvalidArgumentError),
    (call(action="left_click", coordinate="somewhere"), InvalidArgumentError),
    (call(action="left_click", coordinate=[1, 2, 3]), InvalidArgumentError),
    (call(action="hscroll"), InvalidArgumentError),
    (call(action="hscroll", pixels=0), InvalidArgumentError),
    (call(action="answer"), InvalidArgumentError),
    (call(action="answer", text=""), InvalidArgumentError),
    (call(action="fly"), UnknownActionError),
    (call(action="__import__('os').system('ls')"), UnknownActionError),
    ('<tool_call>{"name": "__import__", "arguments": {"action": "left_click"}}</tool_call>', UnknownActionError),
    ('<tool_call>{"name": "python", "arguments": {"code": "import os"}}</tool_call>', UnknownActionError),
    (call(action="terminate", status="maybe"), InvalidArgumentError),
    (call(action="key", keys=["hyperkey"]), InvalidArgumentError),
]


@pytest.mark.parametrize(("reply", "error"), MALFORMED)
def test_malformed_replies_are_model_errors_with_hints(reply: str, error: type[ModelError]) -> None:
    with pytest.raises(error) as caught:
        Qwen3VLFormat().parse(reply, IMAGE)
    assert caught.value.hint.strip()


def test_out_of_range_hint_speaks_of_thousandths() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        FORMAT.parse(call(action="left_click", coordinate=[1288, 728]), IMAGE)
    assert "1000" in caught.value.hint and "thousandths" in caught.value.hint


def test_browser_verbs_need_browser_actions() -> None:
    assert Qwen3VLFormat(browser_actions=True).parse(call(action="navigate", url="https://a.example/"), IMAGE) == [
        Navigate("https://a.example/")
    ]
    with pytest.raises(UnknownActionError):
        Qwen3VLFormat().parse(call(action="back"), IMAGE)
    assert Qwen3VLFormat(browser_actions=True).parse(call(action="back"), IMAGE) == [GoBack()]


# --- mapping -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "screen", "expected"),
    [
        ((500, 500), (1280, 720), (640, 360)),
        ((0, 0), (1280, 720), (0, 0)),
        ((1000, 1000), (1280, 720), (1279, 719)),
        ((250, 125), (1920, 1080), (480, 135)),
        ((333, 667), (1000, 1000), (333, 667)),
        ((1, 1), (1280, 720), (1, 1)),
    ],
)
def test_to_screen_scales_thousandths(
    grid: tuple[int, int], screen: tuple[int, int], expected: tuple[int, int]
) -> None:
    mapped = Qwen3VLFormat().to_screen(Click(Point(*grid)), IMAGE, screen)
    assert mapped == Click(Point(*expected))


def test_scroll_amounts_scale_with_the_screen() -> None:
    assert FORMAT.to_screen(Scroll(dy=500, dx=0), IMAGE, (1280, 720)) == Scroll(dy=360, dx=0)
    assert FORMAT.to_screen(Scroll(dy=0, dx=-250, at=Point(500, 500)), IMAGE, (1280, 720)) == Scroll(
        dy=0, dx=-320, at=Point(640, 360)
    )


# --- canonical calls ----------------------------------------------------------------------------

ROUND_TRIP: list[Action] = [
    Click(Point(500, 500)), Click(None, "right"), Click(Point(1, 2), count=2), Click(Point(3, 4), count=3),
    MoveTo(Point(10, 990)), Drag(Point(900, 100)), Drag(Point(900, 100), Point(100, 900)),
    Scroll(dy=-120, at=Point(500, 500)), Scroll(dy=0, dx=77), TypeText("héllo <tool_call>"),
    PressKeys(("ctrl", "shift", "t")), Wait(1.5), Terminate("success"), Terminate("failure", "no such file"),
    Terminate("success", "42"), AskUser("Which one?"),
]


@pytest.mark.parametrize("action", ROUND_TRIP)
def test_format_call_round_trips(action: Action) -> None:
    assert FORMAT.parse(FORMAT.format_call(action), IMAGE) == [action]
    assert Qwen3VLFormat.format_call(action) == FORMAT.format_call(action)


def test_canonical_verbs() -> None:
    assert call_arguments(Terminate("success", "x")) == {"action": "answer", "text": "x"}
    assert call_arguments(Scroll(dy=0, dx=-5)) == {"action": "hscroll", "pixels": -5}
    with pytest.raises(ValueError):
        FORMAT.format_call(Scroll(dy=3, dx=4))


# --- properties -------------------------------------------------------------------------------

GRID = (1000, 1000)
MANY = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_point(point: Point | None) -> None:
    if point is not None:
        assert type(point.x) is int and type(point.y) is int
        assert 0 <= point.x <= GRID[0] and 0 <= point.y <= GRID[1]


def _check_action(action: Action) -> None:
    match action:
        case Click(at=at, button=button, count=count):
            _check_point(at)
            assert button in ("left", "right", "middle") and count in (1, 2, 3)
        case MoveTo(at=at):
            _check_point(at)
        case Drag(to=to, start=start):
            _check_point(to)
            _check_point(start)
        case Scroll(dy=dy, dx=dx, at=at):
            assert (dy == 0) != (dx == 0) and max(abs(dy), abs(dx)) <= MAX_SCROLL_PIXELS
            _check_point(at)
        case TypeText(text=text):
            assert isinstance(text, str) and text
        case PressKeys(keys=keys):
            assert keys and all(len(k) == 1 or k in NAMED_KEYS for k in keys)
        case Wait(seconds=seconds):
            assert 0 <= seconds <= MAX_WAIT_S
        case Terminate(status=status, answer=answer):
            assert status in ("success", "failure") and (answer is None or isinstance(answer, str))
        case Navigate() | GoBack():
            pass
        case AskUser(question=question):
            assert question
        case _:
            raise AssertionError(f"unexpected action {action}")


def _check_reply(text: str) -> None:
    try:
        actions = Qwen3VLFormat(browser_actions=True).parse(text, IMAGE)
    except ModelError as exc:
        assert exc.hint.strip()
        return
    assert actions
    for index, action in enumerate(actions):
        _check_action(action)
        if isinstance(action, Terminate | AskUser):
            assert index == len(actions) - 1
        screen = FORMAT.to_screen(action, IMAGE, SCREEN)
        for point in (getattr(screen, name, None) for name in ("at", "to", "start")):
            assert point is None or (0 <= point.x < SCREEN[0] and 0 <= point.y < SCREEN[1])


@MANY
@given(st.text(max_size=300))
def test_any_text_gives_valid_actions_or_a_model_error(text: str) -> None:
    _check_reply(text)


_values = st.one_of(
    st.none(), st.booleans(), st.integers(-2000, 2000), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(-50, 1200), max_size=3),
    st.lists(st.one_of(st.text(max_size=6), st.floats(-5, 1100)), max_size=3),
)
_arguments = st.fixed_dictionaries(
    {"action": st.one_of(st.sampled_from([*CORE_ACTIONS, "navigate", "back", "ask_user"]), st.text(max_size=10))},
    optional={key: _values for key in ("coordinate", "start_coordinate", "pixels", "text", "keys", "time", "status",
                                       "url", "question", "answer")},
)


@MANY
@given(st.lists(_arguments, min_size=1, max_size=3), st.sampled_from(["", "<think>hm</think>", "Sure. "]))
def test_call_shaped_replies_give_valid_actions_or_a_model_error(calls: list[dict[str, object]], prefix: str) -> None:
    _check_reply(prefix + "".join(call(**arguments) for arguments in calls))


_grid_points = st.builds(Point, st.integers(0, 1000), st.integers(0, 1000))
_actions = st.one_of(
    st.builds(Click, st.one_of(st.none(), _grid_points), st.just("left"), st.sampled_from([1, 2, 3])),
    st.builds(MoveTo, _grid_points),
    st.builds(Drag, _grid_points, st.one_of(st.none(), _grid_points)),
    st.builds(Scroll, st.integers(1, 5000).map(lambda v: -v), st.just(0), st.one_of(st.none(), _grid_points)),
    st.builds(Scroll, st.just(0), st.integers(-5000, 5000).filter(bool)),
    st.builds(TypeText, st.text(min_size=1, max_size=30)),
    st.builds(Terminate, st.just("success"), st.one_of(st.none(), st.text(min_size=1, max_size=20))),
)


@settings(max_examples=300, deadline=None)
@given(_actions)
def test_format_call_then_parse_is_the_identity(action: Action) -> None:
    assert FORMAT.parse(FORMAT.format_call(action), IMAGE) == [action]


# ---------------------------------------------------------------- browser extras: tabs and files

WEB_CALLS: list[tuple[dict[str, object], Action]] = [
    ({"action": "list_tabs"}, ListTabs()),
    ({"action": "switch_tab", "index": 1}, SwitchTab(1)),
    ({"action": "close_tab"}, CloseTab()),
    ({"action": "close_tab", "index": "0"}, CloseTab(0)),
    ({"action": "new_tab", "url": "https://example.com/"}, NewTab("https://example.com/")),
    ({"action": "upload", "path": "q1.pdf"}, Upload("q1.pdf")),
]


@pytest.mark.parametrize(("arguments", "expected"), WEB_CALLS)
def test_tab_and_file_verbs_parse_emit_and_need_browser_actions(arguments: dict[str, object], expected: Action) -> None:
    assert FORMAT.parse(call(**arguments), (1280, 704)) == [expected]
    assert FORMAT.parse(FORMAT.format_call(expected), (1280, 704)) == [expected]
    assert FORMAT.to_screen(expected, (1280, 704), (1280, 720)) == expected
    with pytest.raises(UnknownActionError):
        Qwen3VLFormat().parse(call(**arguments), (1280, 704))
    schema = FORMAT.system_prompt((1280, 704))
    assert f"`{arguments['action']}`" in schema and '"index"' in schema and '"path"' in schema
