"""The mobile_use prompt format: every verb, every malformation, the schema, history, mapping,
and a property: whatever the text, only valid phone actions or a ModelError come out."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from screenpilot.agent.actions import (
    Action,
    AndroidKey,
    AskUser,
    Click,
    Drag,
    LongPress,
    OpenApp,
    Point,
    PressKeys,
    Swipe,
    SystemButton,
    Terminate,
    TypeText,
    Wait,
)
from screenpilot.agent.android_keys import ANDROID_KEYCODES
from screenpilot.agent.errors import InvalidArgumentError, ModelError, ReplyParseError, UnknownActionError
from screenpilot.models.base import PromptFormat, Turn
from screenpilot.models.formats.qwen25 import MAX_WAIT_S
from screenpilot.models.formats.qwen25_mobile import (
    CORE_ACTIONS,
    DEFAULT_SWIPE_S,
    FUNCTION_NAME,
    MAX_LONG_PRESS_S,
    MAX_SWIPE_S,
    NAME,
    Qwen25MobileFormat,
    format_call,
    format_calls,
    to_screen,
)

SIZE = (1092, 2212)
"""Model space of a Pixel 7 screenshot (1081x2202 device pixels) at the default bounds."""
SCREEN = (1081, 2202)
FORMAT = Qwen25MobileFormat()


def call(**arguments: object) -> str:
    return "<tool_call>\n" + json.dumps({"name": "mobile_use", "arguments": arguments}) + "\n</tool_call>"


P = Point(100, 200)
Q = Point(100, 1800)

VALID: list[tuple[str, str, list[Action]]] = [
    ("click", call(action="click", coordinate=[100, 200]), [Click(P)]),
    ("click string coordinate", call(action="click", coordinate="(100, 200)"), [Click(P)]),
    ("click float coordinate", call(action="click", coordinate=[99.6, "200.2"]), [Click(P)]),
    ("tap alias", call(action="tap", coordinate=[100, 200]), [Click(P)]),
    ("long_press", call(action="long_press", coordinate=[100, 200], time=2), [LongPress(P, 2.0)]),
    ("long_press default time", call(action="long_press", coordinate=[100, 200]), [LongPress(P, 1.0)]),
    ("long_press max time", call(action="long_press", coordinate=[100, 200], time=MAX_LONG_PRESS_S),
     [LongPress(P, MAX_LONG_PRESS_S)]),
    ("swipe", call(action="swipe", coordinate=[100, 1800], coordinate2=[100, 200]), [Swipe(Q, P, DEFAULT_SWIPE_S)]),
    ("swipe with time", call(action="swipe", coordinate=[100, 1800], coordinate2=[100, 200], time="1.5"),
     [Swipe(Q, P, 1.5)]),
    ("type", call(action="type", text="héllo & 'world' $HOME; <b>"), [TypeText("héllo & 'world' $HOME; <b>")]),
    ("type number", call(action="type", text=42), [TypeText("42")]),
    ("key adb name", call(action="key", text="volume_up"), [AndroidKey("KEYCODE_VOLUME_UP")]),
    ("key with prefix", call(action="key", text="KEYCODE_ENTER"), [AndroidKey("KEYCODE_ENTER")]),
    ("key spaced", call(action="key", text="Volume Down"), [AndroidKey("KEYCODE_VOLUME_DOWN")]),
    ("key alias", call(action="key", text="backspace"), [AndroidKey("KEYCODE_DEL")]),
    ("key letter", call(action="key", text="a"), [AndroidKey("KEYCODE_A")]),
    ("key under 'key'", call(action="key", key="power"), [AndroidKey("KEYCODE_POWER")]),
    ("system_button Back", call(action="system_button", button="Back"), [SystemButton("back")]),
    ("system_button Home", call(action="system_button", button="Home"), [SystemButton("home")]),
    ("system_button Menu", call(action="system_button", button="Menu"), [SystemButton("menu")]),
    ("system_button Enter", call(action="system_button", button="Enter"), [SystemButton("enter")]),
    ("system_button case", call(action="system_button", button=" HOME "), [SystemButton("home")]),
    ("system_button in text", call(action="system_button", text="back"), [SystemButton("back")]),
    ("open", call(action="open", text="Settings"), [OpenApp("Settings")]),
    ("open stripped", call(action="open", text="  Google Maps "), [OpenApp("Google Maps")]),
    ("open under 'app'", call(action="open", app="Clock"), [OpenApp("Clock")]),
    ("wait", call(action="wait", time=2.5), [Wait(2.5)]),
    ("wait default", call(action="wait"), [Wait(1.0)]),
    ("terminate", call(action="terminate", status="success"), [Terminate("success")]),
    ("terminate failure", call(action="terminate", status="Failure"), [Terminate("failure")]),
    ("terminate answer", call(action="terminate", status="success", answer="SP-1"), [Terminate("success", "SP-1")]),
    ("answer verb", call(action="answer", text="Paris"), [Terminate("success", "Paris")]),
    ("ask_user", call(action="ask_user", question="Which seat?"), [AskUser("Which seat?")]),
    ("action case", call(action=" Long_Press ", coordinate=[100, 200], time=1), [LongPress(P, 1.0)]),
    ("far edge", call(action="click", coordinate=list(SIZE)), [Click(Point(*SIZE))]),
    # tolerance shared with computer_use
    ("think block", "<think>the button is low</think>" + call(action="click", coordinate=[100, 200]), [Click(P)]),
    ("no closing tag", '<tool_call>{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [100, 200]}}',
     [Click(P)]),
    ("json5", "<tool_call>{'name': 'mobile_use', 'arguments': {'action': 'click', 'coordinate': [100, 200],},}",
     [Click(P)]),
    ("bare object", 'Tap it: {"action": "click", "coordinate": [100, 200]}', [Click(P)]),
    ("arguments as string", '<tool_call>{"name": "mobile_use", "arguments": "{\\"action\\": \\"open\\", '
     '\\"text\\": \\"Clock\\"}"}</tool_call>', [OpenApp("Clock")]),
    ("several calls", call(action="click", coordinate=[100, 200]) + call(action="type", text="hi"),
     [Click(P), TypeText("hi")]),
    ("stop after terminate", call(action="terminate", status="success") + "<tool_call>{broken", [Terminate("success")]),
    ("stop after ask_user", call(action="ask_user", question="PIN?") + call(action="click", coordinate=[1, 1]),
     [AskUser("PIN?")]),
]


@pytest.mark.parametrize(("text", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_replies(text: str, expected: list[Action]) -> None:
    assert FORMAT.parse(text, SIZE) == expected


INVALID: list[tuple[str, str, type[ModelError], str]] = [
    ("empty", "  ", ReplyParseError, "mobile_use"),
    ("prose only", "I will tap the button.", ReplyParseError, "mobile_use"),
    ("broken json", "<tool_call>{\"name\": \"mobile_use\", \"arguments\": {\"action\": click}}</tool_call>",
     ReplyParseError, "mobile_use"),
    ("truncated", '<tool_call>{"name": "mobile_use", "arguments": {"action": "click"', ReplyParseError, "cut off"),
    ("computer_use name", '<tool_call>{"name": "computer_use", "arguments": {"action": "click"}}</tool_call>',
     UnknownActionError, '"mobile_use"'),
    ("computer verb", call(action="left_click", coordinate=[1, 2]), UnknownActionError, "long_press"),
    ("unknown verb", call(action="fly"), UnknownActionError, "system_button"),
    ("no action", call(coordinate=[1, 2]), UnknownActionError, "click"),
    ("action not string", call(action=3), UnknownActionError, "click"),
    ("ask_user disabled", call(action="ask_user", question="?"), UnknownActionError, "terminate"),
    ("click without coordinate", call(action="click"), InvalidArgumentError, "coordinate"),
    ("click outside", call(action="click", coordinate=[1093, 5]), InvalidArgumentError, "1092"),
    ("click negative", call(action="click", coordinate=[-1, 5]), InvalidArgumentError, "2212"),
    ("click one number", call(action="click", coordinate=[5]), InvalidArgumentError, "[x, y]"),
    ("click words", call(action="click", coordinate="here"), InvalidArgumentError, "[x, y]"),
    ("click NaN", '<tool_call>{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [NaN, 1]}}',
     InvalidArgumentError, "[x, y]"),
    ("long_press zero", call(action="long_press", coordinate=[1, 2], time=0), InvalidArgumentError, "time"),
    ("long_press too long", call(action="long_press", coordinate=[1, 2], time=31), InvalidArgumentError, "30"),
    ("long_press bad time", call(action="long_press", coordinate=[1, 2], time="soon"), InvalidArgumentError, "time"),
    ("long_press no coordinate", call(action="long_press", time=1), InvalidArgumentError, "coordinate"),
    ("swipe no end", call(action="swipe", coordinate=[1, 2]), InvalidArgumentError, "coordinate2"),
    ("swipe no start", call(action="swipe", coordinate2=[1, 2]), InvalidArgumentError, "coordinate"),
    ("swipe same point", call(action="swipe", coordinate=[1, 2], coordinate2=[1, 2]), InvalidArgumentError,
     "long_press"),
    ("swipe end outside", call(action="swipe", coordinate=[1, 2], coordinate2=[1, 9999]), InvalidArgumentError,
     "coordinate2"),
    ("swipe too slow", call(action="swipe", coordinate=[1, 2], coordinate2=[1, 9], time=MAX_SWIPE_S + 1),
     InvalidArgumentError, "time"),
    ("type empty", call(action="type", text=""), InvalidArgumentError, "text"),
    ("type missing", call(action="type"), InvalidArgumentError, "text"),
    ("type list", call(action="type", text=["a"]), InvalidArgumentError, "text"),
    ("key unknown", call(action="key", text="hyperdrive"), InvalidArgumentError, "volume_up"),
    ("key missing", call(action="key"), InvalidArgumentError, "text"),
    ("system_button unknown", call(action="system_button", button="Power"), InvalidArgumentError, "Back"),
    ("system_button missing", call(action="system_button"), InvalidArgumentError, "button"),
    ("open missing", call(action="open"), InvalidArgumentError, "text"),
    ("open blank", call(action="open", text="   "), InvalidArgumentError, "Settings"),
    ("wait negative", call(action="wait", time=-1), InvalidArgumentError, "60"),
    ("wait too long", call(action="wait", time=MAX_WAIT_S + 1), InvalidArgumentError, "60"),
    ("terminate bad status", call(action="terminate", status="done"), InvalidArgumentError, "success"),
    ("arguments not object", '<tool_call>{"name": "mobile_use", "arguments": [1]}</tool_call>',
     InvalidArgumentError, "mobile_use"),
]


@pytest.mark.parametrize(("text", "error", "hint_part"), [v[1:] for v in INVALID], ids=[v[0] for v in INVALID])
def test_invalid_replies_raise_model_errors_with_hints(text: str, error: type[ModelError], hint_part: str) -> None:
    with pytest.raises(error) as caught:
        Qwen25MobileFormat(ask_user=False).parse(text, SIZE)
    hint = caught.value.hint
    assert hint.strip() and "\n" not in hint and hint_part in hint
    assert "computer_use" not in hint


def test_schema_advertises_the_resized_phone_screen_and_every_verb() -> None:
    schema = FORMAT.dialect.tool_schema(SIZE, extra_actions=("ask_user",), terminate_answer=True)
    function = schema["function"]
    assert function["name"] == FUNCTION_NAME == "mobile_use"
    assert "The screen's resolution is 1092x2212." in function["description"]
    props = function["parameters"]["properties"]
    assert props["action"]["enum"] == [*CORE_ACTIONS, "ask_user"]
    assert props["button"]["enum"] == ["Back", "Home", "Menu", "Enter"]
    assert {"coordinate", "coordinate2", "text", "time", "status", "question", "answer"} <= set(props)
    plain = FORMAT.dialect.tool_schema(SIZE)["function"]["parameters"]["properties"]
    assert "ask_user" not in plain["action"]["enum"] and "question" not in plain and "answer" not in plain


def test_format_object_satisfies_the_protocol_and_uses_the_phone_tool() -> None:
    prompt: PromptFormat = Qwen25MobileFormat()
    assert prompt.name == NAME == "qwen2.5-vl-mobile"
    assert prompt.model_size(SCREEN) == SIZE
    request = prompt.build_request("Open the clock", [], Image.new("RGB", SIZE), None)
    system = request.messages[0]["content"][0]["text"]
    assert '"name": "mobile_use"' in system and "1092x2212" in system and "operate the phone" in system
    assert request.image_size == SIZE
    fmt = Qwen25MobileFormat(ask_user=False)
    with pytest.raises(UnknownActionError):
        fmt.parse(call(action="ask_user", question="?"), SIZE)
    assert fmt.describe()["name"] == NAME and "Qwen25MobileFormat" in repr(fmt)


def test_history_writes_earlier_steps_as_mobile_use_calls() -> None:
    fmt = Qwen25MobileFormat()
    image = Image.new("RGB", SIZE)
    history = [
        Turn(image, "reply 1", (OpenApp("Clock"),)),
        Turn(image, "reply 2", (Swipe(Q, P),), feedback="nothing moved"),
        Turn(image, "reply 3", (Drag(P),)),
    ]
    request = fmt.build_request("Set an alarm", history, image, None)
    text = request.messages[-1]["content"][0]["text"]
    assert 'Step 1: {"name": "mobile_use", "arguments": {"action": "open", "text": "Clock"}};' in text
    assert '"action": "swipe", "coordinate": [100, 1800], "coordinate2": [100, 200]' in text
    assert "(feedback: nothing moved)" in text
    assert "Step 3: drag" in text  # not expressible in mobile_use: described instead


def test_to_screen_maps_every_point_and_keeps_times() -> None:
    assert to_screen(Click(Point(1092, 2212)), SIZE, SCREEN) == Click(Point(1080, 2201))
    assert to_screen(LongPress(Point(546, 1106), 2.0), SIZE, SCREEN) == LongPress(Point(541, 1101), 2.0)
    swipe = to_screen(Swipe(Point(0, 2000), Point(0, 200), 0.8), SIZE, SCREEN)
    assert swipe == Swipe(Point(0, 1991), Point(0, 199), 0.8)
    assert to_screen(OpenApp("Clock"), SIZE, SCREEN) == OpenApp("Clock")


@pytest.mark.parametrize("action", [Click(), Click(P, "right"), Click(P, count=2), Drag(P), PressKeys(("ctrl", "c"))],
                         ids=repr)
def test_format_call_refuses_what_mobile_use_cannot_express(action: Action) -> None:
    with pytest.raises(ValueError, match="mobile_use"):
        format_call(action)


# --- properties ----------------------------------------------------------------------------------


def check_point(point: Point) -> None:
    assert type(point.x) is int and type(point.y) is int
    assert 0 <= point.x <= SIZE[0] and 0 <= point.y <= SIZE[1]


def check_action(action: Action) -> None:
    match action:
        case Click(at=Point() as at, button="left", count=1):
            check_point(at)
        case LongPress(at=at, seconds=seconds):
            check_point(at)
            assert 0 < seconds <= MAX_LONG_PRESS_S
        case Swipe(start=start, end=end, seconds=seconds):
            check_point(start)
            check_point(end)
            assert start != end and 0 < seconds <= MAX_SWIPE_S
        case TypeText(text=text):
            assert isinstance(text, str) and text
        case AndroidKey(code=code):
            assert code in ANDROID_KEYCODES
        case SystemButton(name=name):
            assert name in ("back", "home", "menu", "enter")
        case OpenApp(name=name):
            assert isinstance(name, str) and name == name.strip() and name
        case Wait(seconds=seconds):
            assert 0 <= seconds <= MAX_WAIT_S
        case Terminate(status=status, answer=answer):
            assert status in ("success", "failure") and (answer is None or isinstance(answer, str))
        case AskUser(question=question):
            assert isinstance(question, str) and question
        case _:
            raise AssertionError(f"not a mobile action: {action!r}")


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
        screen = to_screen(action, SIZE, SCREEN)
        for point in (getattr(screen, name, None) for name in ("at", "start", "end")):
            if point is not None:
                assert 0 <= point.x < SCREEN[0] and 0 <= point.y < SCREEN[1]


FRAGMENTS = st.sampled_from([
    "<tool_call>", "</tool_call>", "<think>", "</think>", "\n", " ", "{", "}", "[", "]", ",", ":", '"', "'", "\\",
    '"action"', '"name"', '"arguments"', '"mobile_use"', '"computer_use"', '"coordinate"', '"coordinate2"',
    '"text"', '"time"', '"button"', '"status"', '"question"', '"click"', '"long_press"', '"swipe"', '"type"',
    '"key"', '"system_button"', '"open"', '"wait"', '"terminate"', '"ask_user"', '"Back"', '"Menu"',
    '"volume_up"', '"success"', "0", "1", "-1", "1092", "2212", "1e999", "NaN", "null", "true", "[100, 200]",
    '"[1, 2]"', "[1]", "{}", '{"action": "click", "coordinate": [100, 200]}',
    '{"name": "mobile_use", "arguments": {"action": "swipe", "coordinate": [1, 900], "coordinate2": [1, 100]}}',
    "é", "\x00",
])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_adversarial_fragments_give_valid_actions_or_model_errors(text: str) -> None:
    check_reply(text)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
ARGUMENT_KEYS = st.sampled_from(["action", "coordinate", "coordinate2", "text", "time", "button", "status",
                                 "question", "answer", "app"])
VERBS = st.sampled_from([*CORE_ACTIONS, "tap", "answer", "ask_user", "left_click", "fly"])


@settings(max_examples=800, deadline=None)
@given(verb=VERBS, arguments=st.dictionaries(ARGUMENT_KEYS, JSON_VALUES, max_size=5), wrap=st.booleans())
def test_arbitrary_arguments_give_valid_actions_or_model_errors(
    verb: str, arguments: dict[str, object], wrap: bool
) -> None:
    arguments = {**arguments, "action": verb}
    body: object = {"name": "mobile_use", "arguments": arguments} if wrap else arguments
    check_reply("<tool_call>\n" + json.dumps(body) + "\n</tool_call>")


POINTS = st.builds(Point, st.integers(0, SIZE[0]), st.integers(0, SIZE[1]))
TEXT = st.text(min_size=1, max_size=40)
APP_NAMES = TEXT.map(str.strip).filter(bool)
ACTIONS: st.SearchStrategy[Action] = st.one_of(
    st.builds(Click, POINTS),
    st.builds(LongPress, POINTS, st.floats(0.01, MAX_LONG_PRESS_S)),
    st.tuples(POINTS, POINTS, st.floats(0.01, MAX_SWIPE_S)).filter(lambda t: t[0] != t[1]).map(lambda t: Swipe(*t)),
    st.builds(TypeText, TEXT),
    st.builds(AndroidKey, st.sampled_from(sorted(ANDROID_KEYCODES))),
    st.builds(SystemButton, st.sampled_from(["back", "home", "menu", "enter"])),
    st.builds(OpenApp, APP_NAMES),
    st.builds(Wait, st.floats(0, MAX_WAIT_S)),
    st.builds(Terminate, st.sampled_from(["success", "failure"]), st.none() | st.text(max_size=20)),
    st.builds(AskUser, TEXT),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(ACTIONS, min_size=1, max_size=4))
def test_format_calls_then_parse_is_the_identity(actions: list[Action]) -> None:
    cut = next((i + 1 for i, a in enumerate(actions) if isinstance(a, Terminate | AskUser)), len(actions))
    assert FORMAT.parse(format_calls(actions), SIZE) == actions[:cut]
