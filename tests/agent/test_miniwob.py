"""MiniWoB++ through the browser executor: the page protocol, cropping, scripted episodes, eval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from screenpilot.agent.actions import Click, Point, Scroll, TypeText
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.evaluation.miniwob import (
    TASK_REGION_VIEWPORT_PX,
    CroppedExecutor,
    MiniWobOptions,
    parse_suite,
    read_outcome,
    run_miniwob_episode,
    start_episode,
    task_url,
)
from screenpilot.agent.run.settings import BrowserTarget, ModelSettings
from screenpilot.agent.scenario.runner import EpisodeOptions
from screenpilot.models.formats.qwen25 import Qwen25Format, format_call
from screenpilot.models.resize import screen_to_model
from screenpilot.tools.recording import RecordingExecutor

pytest.importorskip("miniwob", reason="pip install miniwob")
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                                    reason="needs Chromium (apt-get install chromium)")
SEED = 7


def test_suite_names_and_task_pages() -> None:
    assert parse_suite("miniwob:click-button, enter-text") == ["click-button", "enter-text"]
    assert len(parse_suite("miniwob:all")) > 100
    assert task_url("click-button").startswith("file://") and task_url("click-button").endswith("click-button.html")
    with pytest.raises(ConfigError, match="did you mean click-button"):
        task_url("click-buton")
    with pytest.raises(ConfigError, match="names no task"):
        parse_suite("miniwob:")


def test_cropped_executor_maps_crop_pixels_to_the_viewport() -> None:
    inner = RecordingExecutor((1280, 720))
    cropped = CroppedExecutor(inner, (0, 50, 160, 210), zoom=3)
    assert cropped.size == (480, 630)
    frame = cropped.screenshot()
    assert frame.size == (480, 630) and frame.extra["zoom"] == 3
    cropped.execute(Click(Point(300, 3)))
    cropped.execute(Scroll(dy=-300, at=Point(479, 629)))
    cropped.execute(TypeText("hi"))
    assert inner.actions == [Click(Point(100, 51)), Scroll(dy=-100, at=Point(159, 259)), TypeText("hi")]
    assert cropped.describe()["crop_viewport_px"] == [0, 50, 160, 210]


def _right_click_replies(tmp_path: Path, zoom: int | None) -> Path:
    """Open click-button at SEED, find the button the utterance asks for, and write a reply
    clicking its centre in model space (through the crop when ``zoom`` is given)."""
    from screenpilot.agent.run.runner import open_executor

    with open_executor(BrowserTarget(url=task_url("click-button"))) as browser:
        page = browser.page  # type: ignore[attr-defined]
        utterance = start_episode(page, SEED, 60)
        wanted = utterance.split('"')[1]
        box = page.locator("#area button", has_text=wanted).first.bounding_box()
        viewport_xy = Point(round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2))
    screen_size, screen_xy = browser.size, viewport_xy
    if zoom:
        left, top, width, height = TASK_REGION_VIEWPORT_PX
        screen_size = (width * zoom, height * zoom)
        screen_xy = Point((viewport_xy.x - left) * zoom + zoom // 2, (viewport_xy.y - top) * zoom + zoom // 2)
    model_size = Qwen25Format().model_size(screen_size)
    model_xy = screen_to_model(screen_xy, screen_size, model_size)
    path = tmp_path / f"click-button-zoom{zoom}.json"
    path.write_text(json.dumps([format_call(Click(model_xy)), format_call(Click(model_xy))]), encoding="utf-8")
    return path


@needs_chromium
@pytest.mark.parametrize("zoom", [None, 3])
def test_scripted_right_click_scores_one(tmp_path: Path, zoom: int | None) -> None:
    replies = _right_click_replies(tmp_path, zoom)
    options = EpisodeOptions(model=ModelSettings(spec=f"scripted:{replies}"), out_dir=tmp_path / "runs", seed=SEED)
    episode = run_miniwob_episode("click-button", options, MiniWobOptions(episode_s=60, zoom=zoom))
    assert episode.success, episode.failure
    assert episode.reward == 1.0
    assert (episode.status, episode.reason, episode.steps) == ("success", "env_done", 1)
    assert episode.run_dir is not None
    saved = json.loads((episode.run_dir / "checks.json").read_text(encoding="utf-8"))
    assert saved["miniwob"]["done"] is True and 0.9 < saved["miniwob"]["reward"] <= 1.0


@needs_chromium
def test_wrong_click_fails_and_timer_is_lengthened(tmp_path: Path) -> None:
    from screenpilot.agent.run.runner import open_executor

    with open_executor(BrowserTarget(url=task_url("click-button"))) as browser:
        page = browser.page  # type: ignore[attr-defined]
        assert start_episode(page, SEED, 42).startswith("Click on the")
        assert page.evaluate("() => core.EPISODE_MAX_TIME") == 42000
        assert read_outcome(page).done is False
    replies = tmp_path / "miss.json"
    replies.write_text(json.dumps([format_call(Click(Point(1200, 700))),
                                   '<tool_call>{"name": "computer_use", "arguments": '
                                   '{"action": "terminate", "status": "success"}}</tool_call>']), encoding="utf-8")
    options = EpisodeOptions(model=ModelSettings(spec=f"scripted:{replies}"), out_dir=tmp_path, seed=SEED)
    episode = run_miniwob_episode("click-button", options, MiniWobOptions(episode_s=60))
    assert not episode.success and episode.reward == 0.0
    assert (episode.status, episode.reason) == ("failure", "terminated")
    assert episode.failure is not None
    assert episode.failure.startswith("check 'miniwob reward' failed: the page did not report the episode done")


def test_miniwob_needs_a_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="need a model"):
        run_miniwob_episode("click-button", EpisodeOptions(out_dir=tmp_path))
