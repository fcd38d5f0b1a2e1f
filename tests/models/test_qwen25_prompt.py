"""System prompt, tool schema, history layout, image budget, mapping and canonical calls."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from PIL import Image

from screenpilot.agent.actions import (
    Action,
    AskUser,
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
)
from screenpilot.agent.errors import ConfigError
from screenpilot.models.base import ModelRequest, PromptFormat, Turn
from screenpilot.models.formats.qwen25 import (
    CORE_ACTIONS,
    FUNCTION_NAME,
    Qwen25Format,
    format_call,
)
from screenpilot.models.resize import FAST_MAX_PIXELS, FAST_MIN_PIXELS

SCREEN = (1280, 720)
MODEL = (1288, 728)
FORMAT = Qwen25Format(browser_actions=True)
"""Every extra enabled."""


def image(size: tuple[int, int] = MODEL, shade: int = 0) -> Image.Image:
    return Image.new("RGB", size, (shade, shade, shade))


def tools_from(prompt: str) -> list[dict[str, Any]]:
    match = re.search(r"<tools>\n(.*)\n</tools>", prompt, re.DOTALL)
    assert match is not None
    return [json.loads(line) for line in match.group(1).splitlines()]


def texts(message: dict[str, Any]) -> str:
    return "\n".join(part["text"] for part in message["content"] if part["type"] == "text")


def kinds(request: ModelRequest) -> list[tuple[str, list[str]]]:
    return [(m["role"], [p["type"] for p in m["content"]]) for m in request.messages]


def turn(step: int, feedback: str | None = None) -> Turn:
    actions = (Click(Point(step, step)),)
    return Turn(image(shade=step), format_call(actions[0]), actions, feedback)


def test_satisfies_the_prompt_format_protocol() -> None:
    fmt: PromptFormat = Qwen25Format()
    assert fmt.name == "qwen2.5-vl"
    assert fmt.model_size(SCREEN) == MODEL
    assert fmt.image_tokens(MODEL) == 1196
    assert (fmt.min_pixels, fmt.max_pixels) == (3136, 12845056)


def test_system_prompt_holds_the_tool_schema() -> None:
    prompt = Qwen25Format().system_prompt(MODEL)
    assert prompt.startswith("You are a helpful assistant.\n\n# Tools\n")
    assert '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' in prompt
    (tool,) = tools_from(prompt)
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == FUNCTION_NAME
    assert "The screen's resolution is 1288x728." in function["description"]
    params = function["parameters"]
    assert params["type"] == "object" and params["required"] == ["action"]
    props = params["properties"]
    assert props["action"]["enum"] == [*CORE_ACTIONS, "ask_user"]
    assert props["action"]["type"] == "string"
    assert props["keys"]["type"] == "array"
    assert props["text"]["type"] == "string"
    assert props["coordinate"]["type"] == "array"
    assert props["pixels"]["type"] == "number"
    assert props["time"]["type"] == "number"
    assert props["status"]["enum"] == ["success", "failure"]
    assert "question" in props
    assert "url" not in props and "answer" not in props
    for verb in props["action"]["enum"]:
        assert f"`{verb}`" in props["action"]["description"]


def test_extras_change_the_schema() -> None:
    browser = Qwen25Format(browser_actions=True, terminate_answer=True)
    props = tools_from(browser.system_prompt(MODEL))[0]["function"]["parameters"]["properties"]
    assert props["action"]["enum"] == [*CORE_ACTIONS, "navigate", "back", "ask_user", "list_tabs", "switch_tab",
                                       "close_tab", "new_tab", "upload"]
    assert {"url", "question", "answer", "index", "path"} <= set(props)
    assert props["index"]["type"] == "integer" and props["path"]["type"] == "string"
    for verb in ("list_tabs", "switch_tab", "close_tab", "new_tab", "upload"):
        assert f"`{verb}`" in props["action"]["description"]
    plain = Qwen25Format(ask_user=False)
    props = tools_from(plain.system_prompt(MODEL))[0]["function"]["parameters"]["properties"]
    assert props["action"]["enum"] == list(CORE_ACTIONS)
    assert not {"url", "question", "answer", "index", "path"} & set(props)


def test_resolution_is_the_resized_size_and_filled_per_call() -> None:
    fmt = Qwen25Format(min_pixels=FAST_MIN_PIXELS, max_pixels=FAST_MAX_PIXELS)
    size = fmt.model_size((1920, 1080))
    assert size == (1316, 728)
    request = fmt.build_request("t", [], image(size), None)
    assert "The screen's resolution is 1316x728." in texts(request.messages[0])
    other = fmt.build_request("t", [], image(MODEL), None)
    assert "The screen's resolution is 1288x728." in texts(other.messages[0])
    assert (request.min_pixels, request.max_pixels) == (FAST_MIN_PIXELS, FAST_MAX_PIXELS)
    assert request.image_size == size


def test_first_step_request() -> None:
    current = image()
    request = Qwen25Format().build_request("Open the settings", [], current, None)
    assert kinds(request) == [("system", ["text"]), ("user", ["text", "image"])]
    assert texts(request.messages[1]) == "Task: Open the settings"
    assert request.images() == [current]
    assert request.image_size == MODEL


def test_history_as_text_with_one_image() -> None:
    history = [turn(1), turn(2, feedback="The user answered: blue"), turn(3, feedback="Coordinate out of range.")]
    current = image(shade=9)
    request = Qwen25Format().build_request("Paint it", history, current, "Coordinate out of range.")
    assert kinds(request) == [("system", ["text"]), ("user", ["text", "image"])]
    assert request.images() == [current]
    text = texts(request.messages[1])
    step = '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [%d, %d]}}'
    assert text == (
        "Task: Paint it\n\n"
        "Previous actions:\n"
        f"Step 1: {step % (1, 1)};\n"
        f"Step 2: {step % (2, 2)} (feedback: The user answered: blue);\n"
        f"Step 3: {step % (3, 3)};\n\n"
        "Feedback on your last action: Coordinate out of range."
    )


def test_failed_step_and_several_actions_in_history() -> None:
    history = [
        Turn(image(), "garbage", (), "Reply with exactly one <tool_call>"),
        Turn(image(), "...", (Click(Point(1, 2)), TypeText("hi")), None),
    ]
    text = texts(Qwen25Format().build_request("t", history, image(), None).messages[1])
    assert "Step 1: (no valid tool call) (feedback: Reply with exactly one <tool_call>);" in text
    assert (
        'Step 2: {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1, 2]}}, '
        '{"name": "computer_use", "arguments": {"action": "type", "text": "hi"}};'
    ) in text
    assert "Feedback on your last action" not in text


def test_keep_images_three_gives_turns() -> None:
    history = [turn(1), turn(2, "note two"), turn(3), turn(4, "note four")]
    current = image(shade=99)
    request = Qwen25Format(keep_images=3).build_request("Paint it", history, current, "note four")
    assert kinds(request) == [
        ("system", ["text"]),
        ("user", ["image"]),
        ("assistant", ["text"]),
        ("user", ["image"]),
        ("assistant", ["text"]),
        ("user", ["text", "image"]),
    ]
    assert request.images() == [history[2].model_image, history[3].model_image, current]
    assert texts(request.messages[2]) == history[2].reply_text
    assert texts(request.messages[4]) == history[3].reply_text
    final = texts(request.messages[5])
    assert final.startswith("Task: Paint it\n\nPrevious actions:\nStep 1: ")
    assert "Step 2: " in final and "(feedback: note two);" in final and "Step 3" not in final
    assert final.endswith("Feedback on your last action: note four")
    assert final.count("note four") == 1


def test_keep_images_feedback_between_turns() -> None:
    history = [turn(1, "first note"), turn(2)]
    request = Qwen25Format(keep_images=3).build_request("t", history, image(), None)
    assert kinds(request) == [
        ("system", ["text"]),
        ("user", ["image"]),
        ("assistant", ["text"]),
        ("user", ["text", "image"]),
        ("assistant", ["text"]),
        ("user", ["text", "image"]),
    ]
    assert texts(request.messages[3]) == "Feedback on your last action: first note"
    assert texts(request.messages[5]) == "Task: t"


def test_keep_images_with_short_history() -> None:
    request = Qwen25Format(keep_images=3).build_request("t", [turn(1)], image(), None)
    assert len(request.images()) == 2
    assert kinds(request)[1:] == [("user", ["image"]), ("assistant", ["text"]), ("user", ["text", "image"])]
    first = Qwen25Format(keep_images=3).build_request("t", [], image(), None)
    assert kinds(first) == [("system", ["text"]), ("user", ["text", "image"])]


def test_image_token_budget_limits_images() -> None:
    history = [turn(i) for i in range(1, 6)]
    fmt = Qwen25Format(keep_images=5, max_image_tokens=3 * 1196)
    assert fmt.images_kept(MODEL) == 3
    assert len(fmt.build_request("t", history, image(), None).images()) == 3
    tiny = Qwen25Format(keep_images=5, max_image_tokens=10)
    assert len(tiny.build_request("t", history, image(), None).images()) == 1


def test_model_image_must_be_in_model_space() -> None:
    fmt = Qwen25Format()
    with pytest.raises(ValueError, match="1280x720"):
        fmt.build_request("t", [], image(SCREEN), None)
    with pytest.raises(ValueError):
        fmt.build_request("t", [], image((1, 300)), None)
    fast = Qwen25Format(min_pixels=FAST_MIN_PIXELS, max_pixels=FAST_MAX_PIXELS)
    with pytest.raises(ValueError):
        fast.build_request("t", [], image((1932, 1092)), None)


@pytest.mark.parametrize(
    "kwargs",
    [{"min_pixels": 0}, {"min_pixels": 5000, "max_pixels": 4000}, {"keep_images": 0}, {"max_image_tokens": 0}],
)
def test_bad_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        Qwen25Format(**kwargs)  # type: ignore[arg-type]


def test_describe() -> None:
    info = Qwen25Format(browser_actions=True, keep_images=2).describe()
    assert info["name"] == "qwen2.5-vl" and info["keep_images"] == 2
    assert info["extra_actions"] == ["ask_user", "back", "close_tab", "list_tabs", "navigate", "new_tab", "switch_tab",
                                     "upload"]
    assert json.dumps(info)


def test_to_screen_maps_points_and_scales_scrolls() -> None:
    fmt = Qwen25Format()
    assert fmt.to_screen(Click(Point(644, 364)), MODEL, SCREEN) == Click(Point(640, 360))
    assert FORMAT.to_screen(Drag(Point(1288, 728), Point(0, 0)), MODEL, SCREEN) == Drag(Point(1279, 719), Point(0, 0))
    assert FORMAT.to_screen(MoveTo(Point(644, 364)), MODEL, SCREEN) == MoveTo(Point(640, 360))
    big_screen, big_model = (3840, 2160), (1316, 728)
    assert FORMAT.to_screen(Scroll(dy=-100, at=Point(658, 364)), big_model, big_screen) == Scroll(
        dy=-297, at=Point(1920, 1080)
    )
    assert FORMAT.to_screen(Scroll(dy=5, dx=3), big_model, big_screen) == Scroll(dy=15, dx=9)
    assert FORMAT.to_screen(TypeText("x"), MODEL, SCREEN) == TypeText("x")


CANONICAL: list[Action] = [
    Click(Point(1, 2)),
    Click(),
    Click(Point(3, 4), "right"),
    Click(None, "middle"),
    Click(Point(5, 6), count=2),
    Click(Point(5, 6), count=3),
    MoveTo(Point(1288, 728)),
    Drag(Point(10, 20)),
    Drag(Point(10, 20), Point(0, 0)),
    Scroll(dy=500),
    Scroll(dy=-3, at=Point(7, 8)),
    TypeText("quotes \" ' braces {} tags <tool_call></tool_call> <think> é \\ \n"),
    PressKeys(("ctrl", "shift", "t")),
    PressKeys(("+",)),
    Wait(0.25),
    Wait(60),
    Terminate("success"),
    Terminate("failure", "not found"),
    Terminate("success", ""),
    Navigate("https://example.com/?q={x}"),
    GoBack(),
    AskUser("Which one?"),
]


@pytest.mark.parametrize("action", CANONICAL, ids=[repr(a) for a in CANONICAL])
def test_format_call_round_trips(action: Action) -> None:
    text = format_call(action)
    assert text.startswith("<tool_call>\n{") and text.endswith("}\n</tool_call>")
    assert FORMAT.parse(text, MODEL) == [action]
    assert Qwen25Format.format_call(action) == text
    assert json.loads(FORMAT.history_call(action))["name"] == "computer_use"


def test_format_calls_round_trips_a_sequence() -> None:
    actions = CANONICAL[:6]
    assert FORMAT.parse(FORMAT.format_calls(actions), MODEL) == actions


def test_format_call_example() -> None:
    assert format_call(Click(Point(100, 200))) == (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [100, 200]}}'
        "\n</tool_call>"
    )
    assert format_call(Scroll(dy=-300)) == (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "scroll", "pixels": 300}}\n</tool_call>'
    )


@pytest.mark.parametrize("action", [Click(Point(1, 1), "right", 2), Scroll(dy=0), Scroll(dy=1, dx=1)])
def test_format_call_refuses_what_qwen_cannot_say(action: Action) -> None:
    with pytest.raises(ValueError):
        format_call(action)
