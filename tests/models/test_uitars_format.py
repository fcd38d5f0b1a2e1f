"""The UI-TARS-1.5 prompt format: Thought/Action replies read with ast, pixels of the resized image."""

from __future__ import annotations

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
    ListTabs,
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
from screenpilot.models.formats.uitars import (
    MAX_CALLS,
    MAX_PIXELS,
    MIN_PIXELS,
    WAIT_S,
    UITarsFormat,
    split_calls,
)

SCREEN = (1280, 720)
IMAGE = (1288, 728)
FORMAT = UITarsFormat()


# --- sizes, bounds, prompt ----------------------------------------------------------------------


def test_bounds_and_sizes_are_uitars_own() -> None:
    prompt = UITarsFormat()
    assert (prompt.min_pixels, prompt.max_pixels) == (MIN_PIXELS, MAX_PIXELS) == (100 * 28 * 28, 16384 * 28 * 28)
    assert prompt.model_size(SCREEN) == IMAGE
    assert prompt.image_tokens(IMAGE) == 1196
    assert prompt.model_size((200, 150)) == (336, 252)
    assert prompt.name == "ui-tars-1.5"
    with pytest.raises(ConfigError):
        UITarsFormat(min_pixels=0)
    with pytest.raises(ConfigError):
        UITarsFormat(keep_images=0)


def test_prompt_has_the_uitars_structure() -> None:
    text = UITarsFormat(language="German").prompt("Book a flight to Lisbon")
    sections = ["## Output Format", "## Action Space", "## Note", "## User Instruction"]
    positions = [text.index(section) for section in sections]
    assert positions == sorted(positions)
    assert "Thought: ...\nAction: ..." in text
    for signature in ("click(point='<point>x1 y1</point>')", "left_double(", "right_single(", "drag(start_point=",
                      "hotkey(key=", "type(content=", "scroll(point=", "wait()", "finished(content=", "call_user()"):
        assert signature in text
    assert "German" in text and text.endswith("Book a flight to Lisbon")
    assert "call_user" not in UITarsFormat(ask_user=False).prompt("x")


def _turn(index: int, feedback: str | None = None) -> Turn:
    reply = f"Thought: step {index}\nAction: click(point='<point>{index} {index}</point>')"
    return Turn(Image.new("RGB", IMAGE, (index, 0, 0)), reply, (Click(Point(index, index)),), feedback)


def test_history_keeps_the_last_images_and_every_reply() -> None:
    prompt = UITarsFormat(keep_images=3)
    history = [_turn(1), _turn(2, "The click did nothing."), _turn(3), _turn(4)]
    request = prompt.build_request("Task", history, Image.new("RGB", IMAGE), "Try again.")
    roles = [message["role"] for message in request.messages]
    assert roles[:2] == ["system", "user"]
    assert request.messages[1]["content"][0]["text"].endswith("Task")
    assistants = [m["content"][0]["text"] for m in request.messages if m["role"] == "assistant"]
    assert assistants == [turn.reply_text for turn in history]
    assert len(request.images()) == 3
    assert [image.getpixel((0, 0))[0] for image in request.images()[:2]] == [3, 4]
    texts = [part["text"] for m in request.messages if m["role"] == "user" for part in m["content"] if "text" in part]
    assert any("The click did nothing." in text for text in texts)
    assert request.messages[-1]["content"][0]["text"].endswith("Try again.")
    assert request.messages[-1]["content"][-1]["type"] == "image"


def test_one_image_means_only_the_current_screenshot() -> None:
    request = UITarsFormat().build_request("Task", [_turn(1), _turn(2)], Image.new("RGB", IMAGE), None)
    assert len(request.images()) == 1
    assert [m["role"] for m in request.messages] == ["system", "user", "assistant", "assistant", "user"]


def test_token_budget_lowers_the_images_kept_and_sizes_are_checked() -> None:
    prompt = UITarsFormat(keep_images=5, max_image_tokens=2500)
    assert prompt.images_kept(IMAGE) == 2
    with pytest.raises(ValueError, match="model-space"):
        prompt.build_request("x", [], Image.new("RGB", (1280, 720)), None)


# --- parsing -------------------------------------------------------------------------------------

VALID: list[tuple[str, list[Action]]] = [
    ("Thought: The search box is at the top.\nAction: click(start_box='(412,118)')", [Click(Point(412, 118))]),
    ("Thought: click it\nAction: click(start_box='<|box_start|>(412,118)<|box_end|>')", [Click(Point(412, 118))]),
    ("Action: click(point='<point>640 360</point>')", [Click(Point(640, 360))]),
    ("Action: click(start_box='[100, 200, 300, 400]')", [Click(Point(200, 300))]),
    ("Action: click(start_box='(0,0)')", [Click(Point(0, 0))]),
    ("Action: click(start_box='(1288,728)')", [Click(Point(1288, 728))]),
    ("Action: click(start_box='(10.6, 20.4)')", [Click(Point(11, 20))]),
    ("Action: left_double(start_box='(5,6)')", [Click(Point(5, 6), count=2)]),
    ("Action: right_single(point='<point>7 8</point>')", [Click(Point(7, 8), "right")]),
    ("Action: drag(start_box='(1,2)', end_box='(30,40)')", [Drag(Point(30, 40), Point(1, 2))]),
    ("Action: drag(start_point='<point>1 2</point>', end_point='<point>30 40</point>')",
     [Drag(Point(30, 40), Point(1, 2))]),
    ("Action: hotkey(key='ctrl c')", [PressKeys(("ctrl", "c"))]),
    ("Action: hotkey(key='Ctrl+Shift+T')", [PressKeys(("ctrl", "shift", "T"))]),
    ("Action: hotkey(key='enter')", [PressKeys(("enter",))]),
    ("Action: type(content='hello world')", [TypeText("hello world")]),
    ("Action: type(content='weather in Lisbon\\n')", [TypeText("weather in Lisbon"), PressKeys(("enter",))]),
    ("Action: type(content='abc\\\\n')", [TypeText("abc"), PressKeys(("enter",))]),
    ("Action: type(content='line one\nline two')", [TypeText("line one\nline two")]),
    ("Action: type(content='it\\'s \"quoted\"')", [TypeText("it's \"quoted\"")]),
    ("Action: type(content='\\n')", [PressKeys(("enter",))]),
    ("Action: scroll(point='<point>640 360</point>', direction='down')", [Scroll(dy=364, at=Point(640, 360))]),
    ("Action: scroll(start_box='(640,360)', direction='up')", [Scroll(dy=-364, at=Point(640, 360))]),
    ("Action: scroll(direction='Right')", [Scroll(dy=0, dx=644)]),
    ("Action: scroll(direction='left')", [Scroll(dy=0, dx=-644)]),
    ("Action: wait()", [Wait(WAIT_S)]),
    ("Action: finished(content='The cheapest flight costs 89 EUR.')",
     [Terminate("success", "The cheapest flight costs 89 EUR.")]),
    ("Action: finished()", [Terminate("success")]),
    ("Action: finished(content='')", [Terminate("success")]),
    ("Thought: I need the user's password.\nAction: call_user()", [AskUser("I need the user's password.")]),
    ("Action: call_user()", [AskUser("I need your help to continue this task.")]),
    ("Action: click(start_box='(1,2)')\n\ntype(content='x')", [Click(Point(1, 2)), TypeText("x")]),
    ("Action: finished(content='ok')\n\n this is never read ((", [Terminate("success", "ok")]),
    ("Action: CLICK(start_box='(1,2)')", [Click(Point(1, 2))]),
    ("Action: click('<point>3 4</point>')", [Click(Point(3, 4))]),
    ("Reflection: the last step failed.\nThought: retry\nAction: left_single(start_box='(9,9)')",
     [Click(Point(9, 9))]),
]


@pytest.mark.parametrize(("reply", "expected"), VALID)
def test_published_replies_parse(reply: str, expected: list[Action]) -> None:
    assert FORMAT.parse(reply, IMAGE) == expected
    assert UITarsFormat().parse(reply, IMAGE) == expected


MALFORMED: list[tuple[str, type[ModelError]]] = [
    ("", ReplyParseError),
    ("Thought: I will click the button.", ReplyParseError),
    ("click(start_box='(1,2)')", ReplyParseError),
    ("Action:", ReplyParseError),
    ("Action: click(start_box='(1,2)'", ReplyParseError),
    ("Action: click(start_box='(1,2)))", ReplyParseError),
    ("Action: click(start_box='(1,2)') and then more", ReplyParseError),
    ("Action: click start_box='(1,2)'", ReplyParseError),
    ("Action: fly(to='moon')", UnknownActionError),
    ("Action: __import__('os').system('rm -rf /')", UnknownActionError),
    ("Action: eval('1+1')", UnknownActionError),
    ("Action: os.system('ls')", ReplyParseError),
    ("Action: click(start_box=__import__('os').getcwd())", InvalidArgumentError),
    ("Action: type(content=open('/etc/passwd').read())", InvalidArgumentError),
    ("Action: type(content=f'{secret}')", InvalidArgumentError),
    ("Action: type(content='a' + 'b')", InvalidArgumentError),
    ("Action: click(start_box=x)", InvalidArgumentError),
    ("Action: click(**{'start_box': '(1,2)'})", InvalidArgumentError),
    ("Action: click(start_box='(1,2)', start_box='(3,4)')", InvalidArgumentError),
    ("Action: click(start_box='(abc)')", InvalidArgumentError),
    ("Action: click(start_box='(1,2,3)')", InvalidArgumentError),
    ("Action: click(start_box='(nan, 1)')", InvalidArgumentError),
    ("Action: click(start_box='')", InvalidArgumentError),
    ("Action: click()", InvalidArgumentError),
    ("Action: click(start_box='(1289,10)')", InvalidArgumentError),
    ("Action: click(start_box='(-1,10)')", InvalidArgumentError),
    ("Action: click(start_box='(10,729)')", InvalidArgumentError),
    ("Action: drag(start_box='(1,2)')", InvalidArgumentError),
    ("Action: scroll(direction='sideways')", InvalidArgumentError),
    ("Action: hotkey(key='hyper c')", InvalidArgumentError),
    ("Action: hotkey()", InvalidArgumentError),
    ("Action: type()", InvalidArgumentError),
    ("Action: click('(1,2)', '(3,4)')", InvalidArgumentError),
    ("Action: " + "(" * 400 + ")" * 400, ReplyParseError),
    ("Action: click(start_box='" + "9" * 5000 + "')", ReplyParseError),
]


@pytest.mark.parametrize(("reply", "error"), MALFORMED)
def test_malformed_replies_are_model_errors_with_hints(reply: str, error: type[ModelError]) -> None:
    with pytest.raises(error) as caught:
        FORMAT.parse(reply, IMAGE)
    assert caught.value.hint.strip()


def test_call_user_is_unknown_when_asking_is_off() -> None:
    with pytest.raises(UnknownActionError):
        UITarsFormat(ask_user=False).parse("Action: call_user()", IMAGE)


def test_calls_per_reply_are_bounded() -> None:
    reply = "\n".join(["wait()"] * (MAX_CALLS + 5))
    assert len(list(split_calls(reply))) == MAX_CALLS


def test_never_evaluates(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    assert FORMAT.parse("Action: click(start_box='(1,2)')", IMAGE) == [Click(Point(1, 2))]


# --- mapping and canonical replies ---------------------------------------------------------------


def test_to_screen_uses_the_pixel_ratio() -> None:
    assert FORMAT.to_screen(Click(Point(644, 364)), IMAGE, SCREEN) == Click(Point(640, 360))
    assert FORMAT.to_screen(Click(Point(1288, 728)), IMAGE, SCREEN) == Click(Point(1279, 719))
    assert FORMAT.to_screen(Scroll(dy=364), IMAGE, SCREEN) == Scroll(dy=360)
    assert UITarsFormat().to_screen(Drag(Point(0, 0), Point(1288, 0)), IMAGE, SCREEN) == Drag(
        Point(0, 0), Point(1279, 0)
    )


ROUND_TRIP: list[Action] = [
    Click(Point(10, 20)), Click(Point(10, 20), count=2), Click(Point(5, 5), "right"),
    Drag(Point(30, 40), Point(1, 2)), PressKeys(("ctrl", "shift", "t")), TypeText("it's \"fine\"\tok"),
    TypeText("multi\nline"), Wait(WAIT_S), Terminate("success"), Terminate("success", "42\nlines"),
    AskUser("Which card should I use?"),
]


@pytest.mark.parametrize("action", ROUND_TRIP)
def test_format_call_round_trips(action: Action) -> None:
    text = FORMAT.format_call(action)
    assert text.startswith("Thought: ") and "\nAction: " in text
    assert FORMAT.parse(text, IMAGE) == [action]


@pytest.mark.parametrize(
    "action",
    [Click(None), Click(Point(1, 1), "middle"), Click(Point(1, 1), count=3), Drag(Point(1, 1)),
     Terminate("failure"), Scroll(dy=1, dx=1), Scroll(dy=0)],
)
def test_format_call_refuses_what_uitars_cannot_say(action: Action) -> None:
    with pytest.raises(ValueError):
        FORMAT.format_call(action)


def test_scroll_canonical_call_keeps_the_direction() -> None:
    assert FORMAT.parse(FORMAT.format_call(Scroll(dy=-10, at=Point(3, 3))), IMAGE) == [Scroll(dy=-364, at=Point(3, 3))]


# --- properties ---------------------------------------------------------------------------------

MANY = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_point(point: Point | None) -> None:
    if point is not None:
        assert type(point.x) is int and type(point.y) is int
        assert 0 <= point.x <= IMAGE[0] and 0 <= point.y <= IMAGE[1]


def _check_action(action: Action) -> None:
    match action:
        case Click(at=at, button=button, count=count):
            assert at is not None
            _check_point(at)
            assert button in ("left", "right") and count in (1, 2)
        case Drag(to=to, start=start):
            assert start is not None
            _check_point(to)
            _check_point(start)
        case Scroll(dy=dy, dx=dx, at=at):
            assert (dy == 0) != (dx == 0)
            _check_point(at)
        case TypeText(text=text):
            assert isinstance(text, str) and text
        case PressKeys(keys=keys):
            assert keys and all(len(k) == 1 or k in NAMED_KEYS for k in keys)
        case Wait(seconds=seconds):
            assert seconds == WAIT_S
        case Terminate(status=status, answer=answer):
            assert status == "success" and (answer is None or (isinstance(answer, str) and answer))
        case AskUser(question=question):
            assert question
        case _:
            raise AssertionError(f"unexpected action {action}")


def _check_reply(text: str) -> None:
    try:
        actions = FORMAT.parse(text, IMAGE)
    except ModelError as exc:
        assert exc.hint.strip()
        return
    assert actions
    for index, action in enumerate(actions):
        _check_action(action)
        if isinstance(action, Terminate | AskUser):
            assert index == len(actions) - 1


@MANY
@given(st.text(max_size=200).map(lambda text: "Action: " + text))
def test_any_action_text_gives_valid_actions_or_a_model_error(text: str) -> None:
    _check_reply(text)


_names = st.sampled_from(["click", "left_double", "right_single", "drag", "hotkey", "type", "scroll", "wait",
                          "finished", "call_user", "press", "__import__", "eval", "x"])
_keys = st.sampled_from(["point", "start_box", "end_box", "start_point", "end_point", "key", "content",
                         "direction", "hotkey"])
_literals = st.one_of(
    st.integers(-2000, 2000).map(str),
    st.text(max_size=15).map(repr),
    st.tuples(st.integers(-50, 1400), st.integers(-50, 800)).map(lambda p: repr(f"({p[0]},{p[1]})")),
    st.tuples(st.integers(-50, 1400), st.integers(-50, 800)).map(lambda p: repr(f"<point>{p[0]} {p[1]}</point>")),
    st.sampled_from(["'down'", "'up'", "'left'", "'right'", "'ctrl c'", "x", "__import__('os')", "f'{x}'",
                     "'a' + 'b'", "[1, 2]", "None", "True"]),
)
_calls = st.builds(
    lambda name, pairs: f"{name}(" + ", ".join(f"{k}={v}" for k, v in pairs) + ")",
    _names, st.lists(st.tuples(_keys, _literals), max_size=3),
)


@MANY
@given(st.lists(_calls, min_size=1, max_size=3), st.sampled_from(["", "Thought: plan\n", "Thought: a\nb\n"]),
       st.sampled_from(["\n\n", "\n", " ", "; "]))
def test_call_shaped_replies_give_valid_actions_or_a_model_error(calls: list[str], thought: str, sep: str) -> None:
    _check_reply(thought + "Action: " + sep.join(calls))


_points = st.builds(Point, st.integers(0, IMAGE[0]), st.integers(0, IMAGE[1]))
_actions = st.one_of(
    st.builds(Click, _points, st.just("left"), st.sampled_from([1, 2])),
    st.builds(Click, _points, st.just("right"), st.just(1)),
    st.builds(Drag, _points, _points),
    st.builds(TypeText, st.text(min_size=1, max_size=30).filter(lambda t: not t.endswith(("\n", "\\n")))),
    st.builds(Terminate, st.just("success"), st.one_of(st.none(), st.text(min_size=1, max_size=30))),
    st.builds(AskUser, st.text(min_size=1, max_size=30).map(lambda t: " ".join(t.split())).filter(bool)),
)


@settings(max_examples=300, deadline=None)
@given(_actions)
def test_format_call_then_parse_is_the_identity(action: Action) -> None:
    assert FORMAT.parse(FORMAT.format_call(action), IMAGE) == [action]


# ---------------------------------------------------------------- browser extras: tabs and files

BROWSER = UITarsFormat(browser_actions=True)

WEB_REPLIES: list[tuple[str, list[Action]]] = [
    ("Thought: which tabs are open?\nAction: list_tabs()", [ListTabs()]),
    ("Action: switch_tab(index=1)", [SwitchTab(1)]),
    ("Action: switch_tab(index='2')", [SwitchTab(2)]),
    ("Action: switch_tab('0')", [SwitchTab(0)]),
    ("Action: close_tab()", [CloseTab()]),
    ("Action: close_tab(index=3)", [CloseTab(3)]),
    ("Action: new_tab()", [NewTab()]),
    ("Action: new_tab(url='https://example.com/a')", [NewTab("https://example.com/a")]),
    ("Action: upload(path='reports/q1.pdf')", [Upload("reports/q1.pdf")]),
    ("Action: list_tabs()\n\nswitch_tab(index=1)", [ListTabs(), SwitchTab(1)]),
]


@pytest.mark.parametrize(("reply", "expected"), WEB_REPLIES)
def test_tab_and_file_calls_parse_with_browser_actions(reply: str, expected: list[Action]) -> None:
    assert BROWSER.parse(reply, IMAGE) == expected


@pytest.mark.parametrize(("reply", "_"), WEB_REPLIES)
def test_tab_and_file_calls_are_unknown_without_browser_actions(reply: str, _: object) -> None:
    with pytest.raises(UnknownActionError) as caught:
        FORMAT.parse(reply, IMAGE)
    assert "list_tabs" not in caught.value.hint


@pytest.mark.parametrize("reply", ["Action: switch_tab()", "Action: switch_tab(index=-1)",
                                   "Action: close_tab(index='1.5')", "Action: upload()", "Action: upload(path='')"])
def test_bad_tab_and_file_arguments_are_invalid(reply: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        BROWSER.parse(reply, IMAGE)
    assert caught.value.hint


def test_the_prompt_lists_tab_and_file_calls_only_for_browsers() -> None:
    assert "switch_tab(index=1)" in BROWSER.prompt("t") and "upload(path=" in BROWSER.prompt("t")
    assert "switch_tab" not in FORMAT.prompt("t") and "upload" not in FORMAT.prompt("t")


_web_actions = st.one_of(
    st.just(ListTabs()), st.builds(SwitchTab, st.integers(0, 99)),
    st.builds(CloseTab, st.none() | st.integers(0, 99)),
    st.builds(NewTab, st.none() | st.text(min_size=1, max_size=30)),
    st.builds(Upload, st.text(min_size=1, max_size=30)),
)


@settings(max_examples=200, deadline=None)
@given(_web_actions)
def test_tab_and_file_calls_round_trip(action: Action) -> None:
    assert BROWSER.parse(BROWSER.format_call(action), IMAGE) == [action]
