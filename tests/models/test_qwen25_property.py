"""Properties of the parser: whatever the text, only valid actions or a ModelError come out."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from screenpilot.agent.errors import ModelError
from screenpilot.agent.keys import NAMED_KEYS
from screenpilot.models.formats.qwen25 import MAX_SCROLL_PIXELS, MAX_WAIT_S, Qwen25Format

SIZE = (1288, 728)
FORMAT = Qwen25Format(browser_actions=True)
"""Every extra enabled."""
SCREEN = (1280, 720)


def check_point(point: Point | None, size: tuple[int, int] = SIZE) -> None:
    if point is not None:
        assert type(point.x) is int and type(point.y) is int
        assert 0 <= point.x <= size[0] and 0 <= point.y <= size[1]


def check_action(action: Action) -> None:
    match action:
        case Click(at=at, button=button, count=count):
            check_point(at)
            assert button in ("left", "right", "middle") and count in (1, 2, 3)
        case MoveTo(at=at):
            check_point(at)
        case Drag(to=to, start=start):
            check_point(to)
            check_point(start)
        case Scroll(dy=dy, dx=dx, at=at):
            assert type(dy) is int and 0 < abs(dy) <= MAX_SCROLL_PIXELS and dx == 0
            check_point(at)
        case TypeText(text=text):
            assert isinstance(text, str) and text
        case PressKeys(keys=keys):
            assert keys and all(isinstance(k, str) and (len(k) == 1 or k in NAMED_KEYS) for k in keys)
        case Wait(seconds=seconds):
            assert 0 <= seconds <= MAX_WAIT_S
        case Terminate(status=status, answer=answer):
            assert status in ("success", "failure") and (answer is None or isinstance(answer, str))
        case Navigate(url=url):
            assert isinstance(url, str) and url
        case GoBack():
            pass
        case AskUser(question=question):
            assert isinstance(question, str) and question


def check_reply(text: str) -> None:
    try:
        actions = FORMAT.parse(text, SIZE)
    except ModelError as exc:
        assert isinstance(exc.hint, str) and exc.hint.strip()
        return
    assert actions
    for index, action in enumerate(actions):
        check_action(action)
        if isinstance(action, Terminate | AskUser):
            assert index == len(actions) - 1
        screen = FORMAT.to_screen(action, SIZE, SCREEN)
        for point in (getattr(screen, name, None) for name in ("at", "to", "start")):
            if point is not None:
                assert 0 <= point.x < SCREEN[0] and 0 <= point.y < SCREEN[1]


FRAGMENTS = st.sampled_from(
    [
        "<tool_call>",
        "</tool_call>",
        "<think>",
        "</think>",
        "\n",
        " ",
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        ",",
        ":",
        '"',
        "'",
        "\\",
        "```",
        "```json",
        '"action"',
        '"name"',
        '"arguments"',
        '"computer_use"',
        "computer_use",
        '"coordinate"',
        '"keys"',
        '"text"',
        '"pixels"',
        '"time"',
        '"status"',
        '"url"',
        '"question"',
        '"answer"',
        '"left_click"',
        '"key"',
        '"type"',
        '"scroll"',
        '"wait"',
        '"terminate"',
        '"navigate"',
        '"back"',
        '"ask_user"',
        '"triple_click"',
        '"left_click_drag"',
        '"mouse_move"',
        '"success"',
        '"failure"',
        '"ctrl+c"',
        '"enter"',
        '"hyperdrive"',
        "0",
        "1",
        "-1",
        "100",
        "1288",
        "728",
        "1e999",
        "NaN",
        "Infinity",
        "-0.5",
        "99.5",
        "true",
        "null",
        "[100, 200]",
        '"[100, 200]"',
        '"(1,2)"',
        "[1]",
        "[]",
        "{}",
        '{"action": "left_click", "coordinate": [100, 200]}',
        '{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}',
        '{"name": "computer_use", "arguments": {"action": "wait", "time": 3}}',
        '{"name": "computer_use", "arguments": "{\\"action\\": \\"back\\"}"}',
        "é",
        "\x00",
        "\u2028",
    ]
)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_adversarial_fragments_give_valid_actions_or_model_errors(text: str) -> None:
    check_reply(text)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_valid_actions_or_model_errors(text: str) -> None:
    check_reply(text)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
ARGUMENT_KEYS = st.sampled_from(
    [
        "action",
        "coordinate",
        "start_coordinate",
        "keys",
        "key",
        "text",
        "pixels",
        "time",
        "status",
        "url",
        "question",
        "answer",
    ]
)
VERBS = st.sampled_from(
    [
        "key",
        "type",
        "mouse_move",
        "left_click",
        "left_click_drag",
        "right_click",
        "middle_click",
        "double_click",
        "triple_click",
        "scroll",
        "wait",
        "terminate",
        "answer",
        "navigate",
        "back",
        "ask_user",
        "fly",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(verb=VERBS, arguments=st.dictionaries(ARGUMENT_KEYS, JSON_VALUES, max_size=5), wrap=st.booleans())
def test_arbitrary_arguments_give_valid_actions_or_model_errors(
    verb: str, arguments: dict[str, object], wrap: bool
) -> None:
    arguments = {**arguments, "action": verb}
    body: object = {"name": "computer_use", "arguments": arguments} if wrap else arguments
    check_reply("<tool_call>\n" + json.dumps(body) + "\n</tool_call>")


POINTS = st.builds(Point, st.integers(0, SIZE[0]), st.integers(0, SIZE[1]))
TEXT = st.text(min_size=1, max_size=40)
KEYS = st.lists(st.sampled_from(sorted(NAMED_KEYS)) | st.characters(codec="utf-8"), min_size=1, max_size=4)
ACTIONS: st.SearchStrategy[Action] = st.one_of(
    st.builds(Click, st.none() | POINTS, st.just("left"), st.sampled_from([1, 2, 3])),
    st.builds(Click, st.none() | POINTS, st.sampled_from(["right", "middle"]), st.just(1)),
    st.builds(MoveTo, POINTS),
    st.builds(Drag, POINTS, st.none() | POINTS),
    st.builds(
        Scroll, st.integers(1, MAX_SCROLL_PIXELS) | st.integers(-MAX_SCROLL_PIXELS, -1), st.just(0), st.none() | POINTS
    ),
    st.builds(TypeText, TEXT),
    st.builds(PressKeys, KEYS.map(tuple)),
    st.builds(Wait, st.floats(0, MAX_WAIT_S)),
    st.builds(Terminate, st.sampled_from(["success", "failure"]), st.none() | st.text(max_size=20)),
    st.builds(Navigate, TEXT),
    st.just(GoBack()),
    st.builds(AskUser, TEXT),
    st.just(ListTabs()),
    st.builds(SwitchTab, st.integers(0, 50)),
    st.builds(CloseTab, st.none() | st.integers(0, 50)),
    st.builds(NewTab, st.none() | TEXT),
    st.builds(Upload, TEXT),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(ACTIONS, min_size=1, max_size=4))
def test_format_calls_then_parse_is_the_identity(actions: list[Action]) -> None:
    cut = next((i + 1 for i, a in enumerate(actions) if isinstance(a, Terminate | AskUser)), len(actions))
    assert FORMAT.parse(FORMAT.format_calls(actions), SIZE) == actions[:cut]
