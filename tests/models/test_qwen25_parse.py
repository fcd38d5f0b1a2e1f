"""Reply parsing: every verb, every tolerated variation and every malformation."""

from __future__ import annotations

import json

import pytest

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
from screenpilot.agent.errors import InvalidArgumentError, ModelError, ReplyParseError, UnknownActionError
from screenpilot.models.formats.qwen25 import BROWSER_EXTRAS, DESKTOP_EXTRAS, Qwen25Format

SIZE = (1288, 728)
FORMAT = Qwen25Format(browser_actions=True)
"""Every extra enabled."""


def call(**arguments: object) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"


P = Point(100, 200)

VALID: list[tuple[str, str, list[Action]]] = [
    # every verb
    ("key list", call(action="key", keys=["ctrl", "c"]), [PressKeys(("ctrl", "c"))]),
    ("key aliases", call(action="key", keys=["Control", "Return"]), [PressKeys(("ctrl", "enter"))]),
    ("key chord string", call(action="key", keys="ctrl+shift+t"), [PressKeys(("ctrl", "shift", "t"))]),
    ("key chord in list", call(action="key", keys=["ctrl+c"]), [PressKeys(("ctrl", "c"))]),
    ("key named with space", call(action="key", keys=["Page Down"]), [PressKeys(("pagedown",))]),
    ("key plus", call(action="key", keys="ctrl++"), [PressKeys(("ctrl", "+"))]),
    ("key under 'key'", call(action="key", key="esc"), [PressKeys(("escape",))]),
    ("key under 'text'", call(action="key", text="alt+F4"), [PressKeys(("alt", "f4"))]),
    ("type", call(action="type", text="héllo <b> {x}"), [TypeText("héllo <b> {x}")]),
    ("type number", call(action="type", text=42), [TypeText("42")]),
    ("mouse_move", call(action="mouse_move", coordinate=[100, 200]), [MoveTo(P)]),
    ("left_click", call(action="left_click", coordinate=[100, 200]), [Click(P)]),
    ("left_click at pointer", call(action="left_click"), [Click()]),
    ("left_click_drag", call(action="left_click_drag", coordinate=[100, 200]), [Drag(P)]),
    (
        "drag with start",
        call(action="left_click_drag", start_coordinate=[1, 2], coordinate=[100, 200]),
        [Drag(P, Point(1, 2))],
    ),
    ("right_click", call(action="right_click", coordinate=[100, 200]), [Click(P, "right")]),
    ("middle_click", call(action="middle_click", coordinate=[100, 200]), [Click(P, "middle")]),
    ("double_click", call(action="double_click", coordinate=[100, 200]), [Click(P, count=2)]),
    ("triple_click", call(action="triple_click", coordinate=[100, 200]), [Click(P, count=3)]),
    ("scroll down", call(action="scroll", pixels=-500), [Scroll(dy=500)]),
    ("scroll up at", call(action="scroll", pixels=300, coordinate=[100, 200]), [Scroll(dy=-300, at=P)]),
    ("scroll float", call(action="scroll", pixels=-2.6), [Scroll(dy=3)]),
    ("scroll string", call(action="scroll", pixels="-5"), [Scroll(dy=5)]),
    ("wait", call(action="wait", time=2.5), [Wait(2.5)]),
    ("wait default", call(action="wait"), [Wait(1.0)]),
    ("wait zero", call(action="wait", time=0), [Wait(0.0)]),
    ("wait max", call(action="wait", time=60), [Wait(60.0)]),
    ("terminate success", call(action="terminate", status="success"), [Terminate("success")]),
    ("terminate failure", call(action="terminate", status="failure"), [Terminate("failure")]),
    ("terminate status case", call(action="terminate", status=" Success "), [Terminate("success")]),
    ("terminate answer", call(action="terminate", status="success", answer="42 km"), [Terminate("success", "42 km")]),
    ("terminate numeric answer", call(action="terminate", status="success", answer=42), [Terminate("success", "42")]),
    ("answer verb", call(action="answer", text="Paris"), [Terminate("success", "Paris")]),
    ("navigate", call(action="navigate", url="https://example.com/"), [Navigate("https://example.com/")]),
    ("back", call(action="back"), [GoBack()]),
    ("ask_user", call(action="ask_user", question="Which account?"), [AskUser("Which account?")]),
    ("list_tabs", call(action="list_tabs"), [ListTabs()]),
    ("switch_tab", call(action="switch_tab", index=2), [SwitchTab(2)]),
    ("switch_tab index as text", call(action="switch_tab", index="1"), [SwitchTab(1)]),
    ("switch_tab whole float", call(action="switch_tab", index=0.0), [SwitchTab(0)]),
    ("close_tab current", call(action="close_tab"), [CloseTab()]),
    ("close_tab index", call(action="close_tab", index=0), [CloseTab(0)]),
    ("new_tab blank", call(action="new_tab"), [NewTab()]),
    ("new_tab url", call(action="new_tab", url="https://example.com/"), [NewTab("https://example.com/")]),
    ("upload", call(action="upload", path="reports/q1.pdf"), [Upload("reports/q1.pdf")]),
    ("action case", call(action=" Left_Click ", coordinate=[100, 200]), [Click(P)]),
    # coordinates
    ("string coordinate", call(action="left_click", coordinate="[100, 200]"), [Click(P)]),
    ("paren coordinate", call(action="left_click", coordinate="(100,200)"), [Click(P)]),
    ("bare coordinate string", call(action="left_click", coordinate="100 200"), [Click(P)]),
    ("coordinate of strings", call(action="left_click", coordinate=["100", "200"]), [Click(P)]),
    ("float coordinate", call(action="left_click", coordinate=[99.6, 200.4]), [Click(P)]),
    ("edge coordinate", call(action="left_click", coordinate=[1288, 728]), [Click(Point(1288, 728))]),
    ("origin", call(action="left_click", coordinate=[0, 0]), [Click(Point(0, 0))]),
    ("tiny negative rounds to 0", call(action="left_click", coordinate=[-0.4, 5]), [Click(Point(0, 5))]),
    # surrounding text and syntax
    ("leading prose", "I will click the OK button.\n" + call(action="left_click", coordinate=[100, 200]), [Click(P)]),
    (
        "think block",
        "<think>The button is at the top.\n{not json}</think>\n" + call(action="left_click", coordinate=[100, 200]),
        [Click(P)],
    ),
    (
        "unclosed think before call",
        "<think>hmm, the OK button " + call(action="left_click", coordinate=[100, 200]),
        [Click(P)],
    ),
    ("stray closing think", "reasoning {x} </think>" + call(action="left_click", coordinate=[100, 200]), [Click(P)]),
    (
        "missing closing tag",
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [100, 200]}}',
        [Click(P)],
    ),
    (
        "no newlines",
        '<tool_call>{"name":"computer_use","arguments":{"action":"left_click","coordinate":[100,200]}}</tool_call>',
        [Click(P)],
    ),
    (
        "code fence inside tag",
        '<tool_call>\n```json\n{"name": "computer_use", "arguments": {"action": "left_click",'
        ' "coordinate": [100, 200]}}\n```\n</tool_call>',
        [Click(P)],
    ),
    (
        "code fence without tag",
        'Sure.\n```json\n{"name": "computer_use", "arguments": {"action": "left_click",'
        ' "coordinate": [100, 200]}}\n```',
        [Click(P)],
    ),
    (
        "json5 single quotes and trailing commas",
        "<tool_call>{'name': 'computer_use', 'arguments': {'action': 'left_click', 'coordinate': [100, 200,],},}"
        "</tool_call>",
        [Click(P)],
    ),
    (
        "json5 unquoted keys",
        "<tool_call>{name: 'computer_use', arguments: {action: 'wait', time: 3}}</tool_call>",
        [Wait(3.0)],
    ),
    (
        "arguments as a JSON string",
        '<tool_call>{"name": "computer_use", "arguments": "{\\"action\\": \\"left_click\\", \\"coordinate\\": '
        '[100, 200]}"}</tool_call>',
        [Click(P)],
    ),
    (
        "parameters instead of arguments",
        '<tool_call>{"name": "computer_use", "parameters": {"action": "left_click", "coordinate": [100, 200]}}'
        "</tool_call>",
        [Click(P)],
    ),
    (
        "flat call",
        '<tool_call>{"name": "computer_use", "action": "left_click", "coordinate": [100, 200]}</tool_call>',
        [Click(P)],
    ),
    ("bare action object", '{"action": "left_click", "coordinate": [100, 200]}', [Click(P)]),
    ("bare action object in prose", 'Click it: {"action": "left_click", "coordinate": [100, 200]} done', [Click(P)]),
    ("bare object after a stray brace", 'I\'d {guess {"action": "left_click", "coordinate": [100, 200]}', [Click(P)]),
    ("tag without name", '<tool_call>{"arguments": {"action": "back"}}</tool_call>', [GoBack()]),
    ("braces inside strings", call(action="type", text="a } { b \" c '"), [TypeText("a } { b \" c '")]),
    (
        "tags inside text",
        call(action="type", text="<tool_call> x").replace("<tool_call> x", "\\u003ctool_call> x"),
        [TypeText("<tool_call> x")],
    ),
    # several calls
    (
        "two calls",
        call(action="left_click", coordinate=[100, 200]) + "\n" + call(action="type", text="hi"),
        [Click(P), TypeText("hi")],
    ),
    (
        "two calls in one tag",
        '<tool_call>{"name": "computer_use", "arguments": {"action": "back"}}'
        '{"name": "computer_use", "arguments": {"action": "wait"}}</tool_call>',
        [GoBack(), Wait(1.0)],
    ),
    (
        "nothing after terminate",
        call(action="terminate", status="success") + call(action="left_click") + "<tool_call>{broken",
        [Terminate("success")],
    ),
    ("nothing after answer", call(action="answer", text="7") + call(action="left_click"), [Terminate("success", "7")]),
    ("nothing after ask_user", call(action="ask_user", question="ok?") + call(action="left_click"), [AskUser("ok?")]),
    ("empty tag is skipped", "<tool_call></tool_call>" + call(action="back"), [GoBack()]),
]

ERRORS: list[tuple[str, str, type[ModelError]]] = [
    ("empty reply", "", ReplyParseError),
    ("blank reply", "  \n ", ReplyParseError),
    ("prose only", "I think I should click the OK button.", ReplyParseError),
    ("only thinking", "<think>click OK</think>", ReplyParseError),
    ("unclosed think, no call", '<think>maybe {"action": "left_click"}', ReplyParseError),
    ("empty tag", "<tool_call>\n</tool_call>", ReplyParseError),
    (
        "bad JSON",
        '<tool_call>{"name": "computer_use", "arguments": {"action": left click}}</tool_call>',
        ReplyParseError,
    ),
    (
        "truncated JSON",
        '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordi',
        ReplyParseError,
    ),
    ("unfinished bare JSON", "{not json", ReplyParseError),
    ("bad bare JSON", "{not: json: at all}", ReplyParseError),
    ("non-call object in tag", '<tool_call>{"foo": 1}</tool_call>', ReplyParseError),
    ("list in tag", "<tool_call>[1, 2]</tool_call>", ReplyParseError),
    (
        "arguments string not JSON",
        '<tool_call>{"name": "computer_use", "arguments": "click it"}</tool_call>',
        ReplyParseError,
    ),
    ("second call broken", call(action="back") + "<tool_call>{oops</tool_call>", ReplyParseError),
    (
        "unknown function name",
        '<tool_call>{"name": "click", "arguments": {"action": "left_click"}}</tool_call>',
        UnknownActionError,
    ),
    (
        "function name not a string",
        '<tool_call>{"name": 3, "arguments": {"action": "back"}}</tool_call>',
        UnknownActionError,
    ),
    ("unknown action", call(action="fly", coordinate=[1, 2]), UnknownActionError),
    ("action not a string", call(action=["left_click"]), UnknownActionError),
    ("missing action", call(coordinate=[1, 2]), UnknownActionError),
    (
        "arguments not an object",
        '<tool_call>{"name": "computer_use", "arguments": [1]}</tool_call>',
        InvalidArgumentError,
    ),
    ("missing coordinate for move", call(action="mouse_move"), InvalidArgumentError),
    ("missing coordinate for drag", call(action="left_click_drag"), InvalidArgumentError),
    ("negative coordinate", call(action="left_click", coordinate=[-1, 5]), InvalidArgumentError),
    ("x out of range", call(action="left_click", coordinate=[1289, 5]), InvalidArgumentError),
    ("y out of range", call(action="left_click", coordinate=[5, 729]), InvalidArgumentError),
    ("one-element coordinate", call(action="left_click", coordinate=[5]), InvalidArgumentError),
    ("three-element coordinate", call(action="left_click", coordinate=[5, 6, 7]), InvalidArgumentError),
    ("bool coordinate", call(action="left_click", coordinate=[True, 5]), InvalidArgumentError),
    ("word coordinate", call(action="left_click", coordinate="the OK button"), InvalidArgumentError),
    ("object coordinate", call(action="left_click", coordinate={"x": 1, "y": 2}), InvalidArgumentError),
    (
        "NaN coordinate",
        '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [NaN, 1]}}</tool_call>',
        InvalidArgumentError,
    ),
    ("huge coordinate", call(action="left_click", coordinate=[10**30, 1]), InvalidArgumentError),
    (
        "bad start coordinate",
        call(action="left_click_drag", start_coordinate=[1], coordinate=[1, 1]),
        InvalidArgumentError,
    ),
    ("missing text", call(action="type"), InvalidArgumentError),
    ("empty text", call(action="type", text=""), InvalidArgumentError),
    ("text not a string", call(action="type", text=["a"]), InvalidArgumentError),
    ("missing status", call(action="terminate"), InvalidArgumentError),
    ("bad status", call(action="terminate", status="done"), InvalidArgumentError),
    ("answer not a string", call(action="terminate", status="success", answer=["x"]), InvalidArgumentError),
    ("bad key", call(action="key", keys=["ctrl", "hyperdrive"]), InvalidArgumentError),
    ("missing keys", call(action="key"), InvalidArgumentError),
    ("empty keys", call(action="key", keys=[]), InvalidArgumentError),
    ("keys not strings", call(action="key", keys=[{"k": 1}]), InvalidArgumentError),
    ("missing pixels", call(action="scroll"), InvalidArgumentError),
    ("zero pixels", call(action="scroll", pixels=0), InvalidArgumentError),
    ("word pixels", call(action="scroll", pixels="down"), InvalidArgumentError),
    ("bool pixels", call(action="scroll", pixels=True), InvalidArgumentError),
    ("huge pixels", call(action="scroll", pixels=1e9), InvalidArgumentError),
    (
        "infinite pixels",
        '<tool_call>{"name": "computer_use", "arguments": {"action": "scroll", "pixels": Infinity}}</tool_call>',
        InvalidArgumentError,
    ),
    ("negative wait", call(action="wait", time=-1), InvalidArgumentError),
    ("long wait", call(action="wait", time=61), InvalidArgumentError),
    ("word wait", call(action="wait", time="a while"), InvalidArgumentError),
    ("missing url", call(action="navigate"), InvalidArgumentError),
    ("missing question", call(action="ask_user"), InvalidArgumentError),
    ("switch_tab without index", call(action="switch_tab"), InvalidArgumentError),
    ("negative tab index", call(action="switch_tab", index=-1), InvalidArgumentError),
    ("fractional tab index", call(action="close_tab", index=1.5), InvalidArgumentError),
    ("word tab index", call(action="switch_tab", index="second"), InvalidArgumentError),
    ("upload without path", call(action="upload"), InvalidArgumentError),
    ("missing answer text", call(action="answer"), InvalidArgumentError),
    (
        "bad call before terminate",
        call(action="left_click", coordinate=[-1, 0]) + call(action="terminate", status="success"),
        InvalidArgumentError,
    ),
]


@pytest.mark.parametrize(("reply", "expected"), [(r, e) for _, r, e in VALID], ids=[n for n, _, _ in VALID])
def test_valid_replies(reply: str, expected: list[Action]) -> None:
    assert FORMAT.parse(reply, SIZE) == expected


@pytest.mark.parametrize(("reply", "error"), [(r, e) for _, r, e in ERRORS], ids=[n for n, _, _ in ERRORS])
def test_malformed_replies(reply: str, error: type[ModelError]) -> None:
    with pytest.raises(error) as caught:
        FORMAT.parse(reply, SIZE)
    assert type(caught.value) is error
    assert caught.value.hint.strip() and "\n" not in caught.value.hint
    assert caught.value.message


def test_every_core_verb_is_covered() -> None:
    from screenpilot.models.formats.qwen25 import CORE_ACTIONS, EXTRA_ACTIONS, UNADVERTISED_ACTIONS

    covered = {
        json.loads(r.split("\n")[1])["arguments"]["action"].strip().lower()
        for _, r, _ in VALID
        if r.startswith('<tool_call>\n{"name"')
    }
    assert set(CORE_ACTIONS) | set(EXTRA_ACTIONS) | set(UNADVERTISED_ACTIONS) <= covered


def test_hints_name_what_to_do() -> None:
    with pytest.raises(UnknownActionError) as unknown:
        FORMAT.parse(call(action="fly"), SIZE)
    assert "left_click" in unknown.value.hint and "terminate" in unknown.value.hint
    with pytest.raises(InvalidArgumentError) as coordinate:
        FORMAT.parse(call(action="left_click", coordinate=[2000, 1]), SIZE)
    assert "1288" in coordinate.value.hint and "728" in coordinate.value.hint
    with pytest.raises(InvalidArgumentError) as key:
        FORMAT.parse(call(action="key", keys=["hyperdrive"]), SIZE)
    assert "hyperdrive" in key.value.hint and '"ctrl"' in key.value.hint
    with pytest.raises(ReplyParseError) as nothing:
        FORMAT.parse("hello", SIZE)
    assert "<tool_call>" in nothing.value.hint and "computer_use" in nothing.value.hint
    with pytest.raises(UnknownActionError) as name:
        FORMAT.parse('<tool_call>{"name": "left_click", "arguments": {}}</tool_call>', SIZE)
    assert "computer_use" in name.value.hint


def test_coordinate_range_follows_model_size() -> None:
    assert FORMAT.parse(call(action="left_click", coordinate=[1932, 1092]), (1932, 1092)) == [Click(Point(1932, 1092))]
    with pytest.raises(InvalidArgumentError):
        FORMAT.parse(call(action="left_click", coordinate=[1289, 1]), (1288, 728))


def test_disabled_extras_are_unknown_actions() -> None:
    desktop = Qwen25Format()
    assert desktop.extra_actions == DESKTOP_EXTRAS
    for reply in (call(action="navigate", url="https://a.b/"), call(action="back"), call(action="list_tabs"),
                  call(action="upload", path="a.txt")):
        with pytest.raises(UnknownActionError) as caught:
            desktop.parse(reply, SIZE)
        assert "navigate" not in caught.value.hint and "ask_user" in caught.value.hint
    assert desktop.parse(call(action="ask_user", question="?"), SIZE) == [AskUser("?")]
    browser = Qwen25Format(browser_actions=True)
    assert browser.extra_actions == BROWSER_EXTRAS
    assert browser.parse(call(action="back"), SIZE) == [GoBack()]
    silent = Qwen25Format(browser_actions=True, ask_user=False)
    with pytest.raises(UnknownActionError):
        silent.parse(call(action="ask_user", question="?"), SIZE)
    with pytest.raises(UnknownActionError):
        Qwen25Format(ask_user=False).parse(call(action="back"), SIZE)


def test_answer_and_triple_click_are_always_accepted() -> None:
    bare = Qwen25Format(ask_user=False)
    assert bare.parse(call(action="answer", text="x"), SIZE) == [Terminate("success", "x")]
    assert bare.parse(call(action="triple_click"), SIZE) == [Click(count=3)]


def test_prose_braces_inside_a_tag_are_skipped() -> None:
    reply = "<tool_call>I mean {the button} " + call(action="back")[len("<tool_call>"):]
    assert FORMAT.parse(reply, SIZE) == [GoBack()]
