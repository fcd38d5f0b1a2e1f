"""Loop detection tells a stuck agent from one moving a control a notch at a time: the rule on synthetic frames,
then real runs in Chromium on tests/pages/progress_controls.html at three viewports."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screenpilot.agent.actions import Action, Click, Point, PressKeys
from screenpilot.agent.frame import Frame
from screenpilot.agent.run.loop import Agent, LoopLimits, RunResult
from screenpilot.agent.run.repeats import RepeatDetector, RepeatSettings
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import Qwen25Format, format_call
from screenpilot.models.resize import screen_to_model
from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

PAGE = Path(__file__).parents[1] / "pages" / "progress_controls.html"
VIEWPORTS = [(1280, 720), (1920, 1080), (800, 600)]
CLICK = (Click(Point(5, 5)),)
STILL_PAGE = RepeatSettings(recapture_after_s=0.1)  # nothing on ?still=1 changes by itself: no need to wait long


def frame(pixels: np.ndarray, controls: str | None = None, text: str = "") -> Frame:
    extra: dict[str, object] = {} if controls is None else {"page_state": {"controls": controls, "text": text}}
    return Frame(Image.fromarray(pixels), taken_at=time.time(), extra=extra)


def blank(width: int = 1920, height: int = 1080) -> np.ndarray:
    return np.full((height, width, 3), 255, np.uint8)


def counts(frames: list[Frame], again: list[Frame] | None = None, actions: tuple[Action, ...] = CLICK) -> list[int]:
    detector = RepeatDetector(RepeatSettings())
    seen = []
    for index, observed in enumerate(frames):
        recapture = (lambda i=index: again[i]) if again else None  # type: ignore[misc]
        seen.append(detector.observe(actions, observed, recapture))
    return seen


# ---------------------------------------------------------------- the rule on synthetic frames


def test_an_unchanged_screen_counts_up_and_a_new_action_resets() -> None:
    assert counts([frame(blank())] * 5) == [1, 2, 3, 4, 5]
    detector = RepeatDetector(RepeatSettings())
    detector.observe(CLICK, frame(blank()))
    assert detector.observe((PressKeys(("up",)),), frame(blank())) == 1


def test_a_small_change_on_a_large_screen_is_progress() -> None:
    frames = []
    for step in range(5):  # a 6 x 6 px handle moving 4 px per step on a 1920 x 1080 screen
        pixels = blank()
        pixels[500:506, 300 + 4 * step:306 + 4 * step] = (0, 90, 200)
        frames.append(frame(pixels))
    assert counts(frames) == [1, 1, 1, 1, 1]


def test_a_blinking_caret_alone_is_not_progress() -> None:
    frames = []
    for step in range(5):
        pixels = blank()
        if step % 2:
            pixels[400:418, 700:701] = 0  # a 1 px wide caret, on every other observation
        frames.append(frame(pixels))
    assert counts(frames) == [1, 2, 3, 4, 5]


def test_a_spinner_elsewhere_is_not_progress_but_a_change_beside_it_is() -> None:
    rng = np.random.default_rng(0)

    def spinning(extra_change: int | None = None) -> Frame:
        pixels = blank()
        pixels[100:130, 100:130] = rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)  # changes by itself
        if extra_change is not None:
            pixels[600:610, 600 + 10 * extra_change:610 + 10 * extra_change] = 0
        return frame(pixels)

    still = [spinning() for _ in range(5)]
    assert counts(still, again=[spinning() for _ in range(5)]) == [1, 2, 3, 4, 5]
    assert counts(still) == [1, 1, 1, 1, 1], "without the second capture the spinner would pass for progress"
    moving = [spinning(step) for step in range(5)]
    assert counts(moving, again=[spinning(step) for step in range(5)]) == [1, 1, 1, 1, 1]


def test_the_page_state_decides_unless_its_text_changes_by_itself() -> None:
    pixels = blank()
    stepped = [frame(pixels, f"value={n}") for n in range(5)]
    assert counts(stepped) == [1, 1, 1, 1, 1]
    counted = [frame(pixels, "focus=plus", text=f"count {n}") for n in range(5)]
    assert counts(counted, again=counted) == [1, 1, 1, 1, 1]
    ticking = [frame(pixels, "focus=none", text=f"clock {n}") for n in range(5)]
    assert counts(ticking, again=[frame(pixels, "focus=none", text=f"clock {n}.5") for n in range(5)]) == \
        [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- real runs in Chromium


def model_click(browser: BrowserExecutor, selector: str, viewport: tuple[int, int]) -> Click:
    box = browser.page.locator(selector).bounding_box()
    assert box is not None
    centre = Point(round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2))
    fmt = Qwen25Format(browser_actions=True)
    return Click(screen_to_model(centre, viewport, fmt.model_size(viewport)))


class PixelsOnly:
    """A browser whose frames carry no page state, so loop detection has only the pixels (as on a desktop)."""

    def __init__(self, browser: BrowserExecutor) -> None:
        self.browser = browser

    def screenshot(self) -> Frame:
        frame = self.browser.screenshot()
        return dataclasses.replace(frame, extra={k: v for k, v in frame.extra.items() if k != "page_state"})

    def __getattr__(self, name: str) -> object:
        return getattr(self.browser, name)


def run_same_action(browser: BrowserExecutor | PixelsOnly, action: Action, times: int,
                    repeats: RepeatSettings | None = None) -> tuple[RunResult, list[str]]:
    done = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}' \
        '\n</tool_call>'
    model = ScriptedModel([format_call(action)] * times + [done])
    agent = Agent(model, Qwen25Format(browser_actions=True), browser,  # type: ignore[arg-type]
                  limits=LoopLimits(max_steps=times + 1, repeats=repeats or RepeatSettings()))
    result = agent.run("Move the control")
    prompts = [repr([m["content"] for m in request.messages]) for request in model.requests]
    return result, prompts


Prepare = Callable[[BrowserExecutor, tuple[int, int]], Action]


def _slider(browser: BrowserExecutor, viewport: tuple[int, int]) -> Action:
    browser.page.focus("#slider")
    return PressKeys(("up",))


def _list(browser: BrowserExecutor, viewport: tuple[int, int]) -> Action:
    browser.page.focus("#list")
    browser.page.evaluate("document.getElementById('list').selectedIndex = 0")
    return PressKeys(("down",))


def _counter(browser: BrowserExecutor, viewport: tuple[int, int]) -> Action:
    return model_click(browser, "#plus", viewport)


CONTROLS: dict[str, tuple[Prepare, str]] = {
    "slider": (_slider, "document.getElementById('slider').value"),
    "list": (_list, "document.getElementById('list').selectedIndex"),
    "counter": (_counter, "document.getElementById('count').textContent"),
}


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_ten_one_notch_steps_are_not_a_loop(viewport: tuple[int, int]) -> None:
    with BrowserExecutor(BrowserSettings(viewport=viewport, start_url=PAGE.as_uri() + "?still=1")) as browser:
        for name, (prepare, read_value) in CONTROLS.items():
            browser.page.reload()
            action = prepare(browser, viewport)
            result, prompts = run_same_action(browser, action, times=10, repeats=STILL_PAGE)
            assert (result.status, result.reason) == ("success", "terminated"), (name, result)
            assert not any("repeated the same action" in p for p in prompts), name
            assert str(browser.page.evaluate(read_value)) == "10", name  # every step really moved the control


def test_the_pixels_alone_see_one_notch_steps(viewport: tuple[int, int] = (1280, 720)) -> None:
    with BrowserExecutor(BrowserSettings(viewport=viewport, start_url=PAGE.as_uri() + "?still=1")) as browser:
        for name, (prepare, read_value) in CONTROLS.items():
            browser.page.reload()
            action = prepare(browser, viewport)
            result, _ = run_same_action(PixelsOnly(browser), action, times=6, repeats=STILL_PAGE)
            assert (result.status, result.reason) == ("success", "terminated"), (name, result)
            assert str(browser.page.evaluate(read_value)) == "6", name


def test_a_click_that_does_nothing_hints_at_three_and_stops_at_five_despite_a_spinner_and_a_caret() -> None:
    viewport = (1280, 720)
    with BrowserExecutor(BrowserSettings(viewport=viewport, start_url=PAGE.as_uri())) as browser:
        browser.page.focus("#name")  # a blinking caret in the text field, the spinner and the clock keep going
        result, prompts = run_same_action(browser, model_click(browser, "#dead", viewport), times=10)
    assert (result.status, result.reason, result.steps) == ("failure", "loop_detected", 5)
    hinted = ["repeated the same action" in p for p in prompts]
    assert hinted == [False, False, False, True, True], "the hint reaches the model after the third repeat"
