"""One scenario, three dialects: replies in Qwen2.5-VL pixels, Qwen3-VL thousandths and UI-TARS-1.5
pixels (its own resize bounds) drive the loop to the very same screen actions.

The replies are written by hand in each family's published format (not by ``format_call``), from
model-space coordinates computed for each family's own image size.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from screenpilot.agent.actions import Action, Click, Drag, Point, PressKeys, TypeText
from screenpilot.agent.errors import ConfigError, ExecutorError
from screenpilot.agent.run.loop import Agent
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.base import PromptFormat
from screenpilot.models.formats.registry import make_format
from screenpilot.models.resize import model_to_screen, screen_to_model
from screenpilot.tools.recording import RecordingExecutor

SCREEN = (1280, 720)

# Screen targets on the 0-1000 grid's exact pixels for 1280x720 (x = 1.28 * k, y = 0.72 * k).
CLICK = Point(640, 360)
DOUBLE = Point(192, 90)
RIGHT = Point(1024, 630)
DRAG_FROM, DRAG_TO = Point(320, 180), Point(960, 540)

EXPECTED: list[Action] = [
    Click(CLICK),
    Click(DOUBLE, count=2),
    Click(RIGHT, "right"),
    Drag(DRAG_TO, DRAG_FROM),
    TypeText("Ada Lovelace"),
    PressKeys(("enter",)),
    PressKeys(("ctrl", "a")),
]
"""What the executor carries out (the final answer ends the run in the loop, not the executor)."""

Mapper = Callable[[Point], tuple[int, int]]


def _qwen_call(action: str, **arguments: object) -> str:
    body = json.dumps({"name": "computer_use", "arguments": {"action": action, **arguments}})
    return f"<tool_call>\n{body}\n</tool_call>"


def qwen_replies(xy: Mapper, answer_action: str) -> list[str]:
    """The scenario as Qwen ``computer_use`` replies; ``xy`` maps a screen point to the model's numbers."""
    final = (_qwen_call("answer", text="done") if answer_action == "answer"
             else _qwen_call("terminate", status="success", answer="done"))
    return [
        "I will click the centre.\n" + _qwen_call("left_click", coordinate=list(xy(CLICK))),
        _qwen_call("double_click", coordinate=list(xy(DOUBLE))),
        _qwen_call("right_click", coordinate=list(xy(RIGHT))),
        _qwen_call("left_click_drag", start_coordinate=list(xy(DRAG_FROM)), coordinate=list(xy(DRAG_TO))),
        _qwen_call("type", text="Ada Lovelace") + "\n" + _qwen_call("key", keys=["enter"]),
        _qwen_call("key", keys=["ctrl", "a"]),
        final,
    ]


def uitars_replies(xy: Mapper) -> list[str]:
    """The scenario as UI-TARS-1.5 replies (both point syntaxes appear)."""
    cx, cy = xy(CLICK)
    dx, dy = xy(DOUBLE)
    rx, ry = xy(RIGHT)
    (fx, fy), (tx, ty) = xy(DRAG_FROM), xy(DRAG_TO)
    return [
        f"Thought: The target is in the middle of the page.\nAction: click(start_box='({cx},{cy})')",
        f"Thought: Open the item.\nAction: left_double(point='<point>{dx} {dy}</point>')",
        f"Thought: Open its menu.\nAction: right_single(start_box='<|box_start|>({rx},{ry})<|box_end|>')",
        f"Thought: Move it.\nAction: drag(start_point='<point>{fx} {fy}</point>', "
        f"end_point='<point>{tx} {ty}</point>')",
        "Thought: Enter the name and submit.\nAction: type(content='Ada Lovelace\\n')",
        "Thought: Select everything.\nAction: hotkey(key='ctrl a')",
        "Thought: All done.\nAction: finished(content='done')",
    ]


def pixel_mapper(model_size: tuple[int, int], screen: tuple[int, int]) -> Mapper:
    """Screen point -> model pixels, checked to map back exactly (else the test is ill-posed)."""

    def xy(point: Point) -> tuple[int, int]:
        model = screen_to_model(point, screen, model_size)
        assert model_to_screen(model, model_size, screen) == point
        return model.x, model.y

    return xy


def grid_mapper(screen: tuple[int, int]) -> Mapper:
    """Screen point -> thousandths, checked to map back exactly."""
    return pixel_mapper((1000, 1000), screen)


def family_formats() -> list[tuple[str, PromptFormat]]:
    """(format name, prompt format with that family's own bounds) for each family."""
    return [(name, make_format(name)) for name in ("qwen2.5-vl", "qwen3-vl", "ui-tars-1.5")]


def family_cases(screen: tuple[int, int]) -> list[tuple[str, PromptFormat, list[str]]]:
    """(format name, prompt format, scenario replies) for each family on ``screen``."""
    cases: list[tuple[str, PromptFormat, list[str]]] = []
    for name, prompt in family_formats():
        if name == "qwen3-vl":
            replies = qwen_replies(grid_mapper(screen), "answer")
        elif name == "qwen2.5-vl":
            replies = qwen_replies(pixel_mapper(prompt.model_size(screen), screen), "terminate")
        else:
            replies = uitars_replies(pixel_mapper(prompt.model_size(screen), screen))
        cases.append((name, prompt, replies))
    return cases


@pytest.mark.parametrize("case", family_cases(SCREEN), ids=lambda case: case[0])
def test_each_family_lands_the_same_screen_actions(case: tuple[str, PromptFormat, list[str]]) -> None:
    name, prompt, replies = case
    executor = RecordingExecutor(SCREEN)
    result = Agent(model=ScriptedModel(replies), prompt=prompt, executor=executor).run("Fill in the form")
    assert prompt.name == name
    assert result.status == "success" and result.answer == "done"
    assert executor.actions == EXPECTED


def test_the_model_numbers_really_differ_between_families() -> None:
    cases = {name: replies[0] for name, _, replies in family_cases(SCREEN)}
    assert "[644, 364]" in cases["qwen2.5-vl"]
    assert "[500, 500]" in cases["qwen3-vl"]
    assert "(644,364)" in cases["ui-tars-1.5"]


def test_uitars_bounds_change_the_image_of_a_small_screen() -> None:
    small = (200, 150)
    sizes = {name: prompt.model_size(small) for name, prompt in family_formats()}
    assert sizes == {"qwen2.5-vl": (196, 140), "qwen3-vl": (320, 224), "ui-tars-1.5": (336, 252)}
    target = Point(150, 75)
    for name, prompt in family_formats():
        model_size = sizes[name]
        space = (1000, 1000) if name == "qwen3-vl" else model_size
        model_point = screen_to_model(target, small, space)
        landed = prompt.to_screen(Click(model_point), model_size, small)
        assert landed == Click(target), name


# --- the same, in a real browser ----------------------------------------------------------------

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; } #name { position: absolute; left: 300px; top: 150px; width: 400px; height: 60px; }
#go { position: absolute; left: 600px; top: 420px; width: 200px; height: 60px; }
</style></head><body>
<input id="name"><button id="go">Go</button>
<script>
window.clicks = [];
window.submitted = [];
document.addEventListener("click", (e) => window.clicks.push([e.clientX, e.clientY, e.target.id]));
document.getElementById("name").addEventListener("keydown", (e) => {
  if (e.key === "Enter") window.submitted.push(e.target.value);
});
</script></body></html>"""

VIEWPORT = (1000, 600)
FIELD, BUTTON = Point(500, 180), Point(700, 450)


def browser_replies(name: str, prompt: PromptFormat) -> list[str]:
    """Click the field, type and submit, click the button, finish: in ``name``'s dialect."""
    xy = grid_mapper(VIEWPORT) if name == "qwen3-vl" else pixel_mapper(prompt.model_size(VIEWPORT), VIEWPORT)
    if name == "ui-tars-1.5":
        return [
            f"Thought: Focus the field.\nAction: click(start_box='{xy(FIELD)}')",
            "Thought: Type and submit.\nAction: type(content='Grace\\n')",
            "Thought: Press Go.\nAction: click(point='<point>{} {}</point>')".format(*xy(BUTTON)),
            "Thought: Done.\nAction: finished(content='ok')",
        ]
    finish = _qwen_call("answer", text="ok") if name == "qwen3-vl" else _qwen_call(
        "terminate", status="success", answer="ok")
    return [
        _qwen_call("left_click", coordinate=list(xy(FIELD))),
        _qwen_call("type", text="Grace") + _qwen_call("key", keys=["enter"]),
        _qwen_call("left_click", coordinate=list(xy(BUTTON))),
        finish,
    ]


@pytest.mark.slow
def test_each_family_clicks_the_same_pixels_in_a_real_browser(tmp_path: Path) -> None:
    from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

    page = tmp_path / "form.html"
    page.write_text(PAGE, encoding="utf-8")
    try:
        browser = BrowserExecutor(BrowserSettings(viewport=VIEWPORT, start_url=page.as_uri()))
    except (ConfigError, ExecutorError) as exc:
        pytest.skip(f"no usable Chromium here: {exc}")
    try:
        for name, prompt in family_formats():
            browser.page.goto(page.as_uri())
            agent = Agent(model=ScriptedModel(browser_replies(name, prompt)), prompt=prompt, executor=browser)
            result = agent.run("Submit the name Grace")
            assert result.status == "success" and result.answer == "ok", name
            assert browser.page.evaluate("window.clicks") == [[500, 180, "name"], [700, 450, "go"]], name
            assert browser.page.evaluate("window.submitted") == ["Grace"], name
    finally:
        browser.close()
