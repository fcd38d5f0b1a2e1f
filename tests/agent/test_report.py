"""Run reports, GIFs and videos from real recorded runs (headless Chromium on a local test page)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from screenpilot.agent.actions import Click
from screenpilot.agent.reports.annotate import CLICK_COLOUR, actions_from_json, caption_height
from screenpilot.agent.reports.media import even_rgb, run_frames, write_gif, write_video
from screenpilot.agent.reports.run_report import load_run, write_run_report
from screenpilot.agent.run.records import dump_record
from screenpilot.agent.run.trajectory import read_run, read_steps
from tests.agent.view_fixtures import (
    BROWSER_REPLIES,
    TASK,
    ParsedPage,
    call,
    data_uri_image,
    gif_frames,
    parse_page,
    recording_run,
    shared_browser_run,
)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real browser run shared by the tests (copy it before changing it)."""
    run_dir = shared_browser_run(tmp_path_factory.getbasetemp())
    outcome = read_run(run_dir).outcome
    assert outcome is not None and outcome.reason == "terminated"
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


def _step_sections(page: ParsedPage) -> list[dict[str, str]]:
    return page.find("section", class_="step")


def test_the_recorded_run_really_acted_on_the_page(browser_run_dir: Path) -> None:
    steps = read_steps(browser_run_dir)
    first, second = (Image.open(browser_run_dir / str(s.screenshot)).convert("RGB") for s in steps[:2])
    assert first.getpixel((100, 100)) == (0xDD, 0xDD, 0xDD)
    assert second.getpixel((100, 100)) == (0x2A, 0x9D, 0x8F), "the Go click turned the panel green"
    assert [type(a) for a in actions_from_json(steps[0].actions_screen)] == [Click]


def test_report_has_every_step_with_its_annotated_screenshot(browser_run_dir: Path, tmp_path: Path) -> None:
    run_dir = _copy(browser_run_dir, tmp_path)
    out = write_run_report(run_dir)
    assert out == run_dir / "report.html"
    page = parse_page(out)
    steps = read_steps(run_dir)
    assert [s["id"] for s in _step_sections(page)] == [f"step-{s.index}" for s in steps]
    images = page.find("img")
    assert [i["data-step"] for i in images] == [str(s.index) for s in steps]
    for image, step in zip(images, steps, strict=True):
        decoded = data_uri_image(image["src"])
        assert decoded.size == step.screen_size
        assert image["alt"].startswith(f"Step {step.index} screenshot")
        for action in actions_from_json(step.actions_screen):
            if isinstance(action, Click) and action.at is not None:
                assert decoded.getpixel((action.at.x, action.at.y)) == CLICK_COLOUR
                assert f"click ({action.at.x}, {action.at.y})" in image["alt"]
    assert TASK in page.text and "SUCCESS" in page.text and "terminated" in page.text


def test_click_annotation_lands_on_the_click_point(browser_run_dir: Path, tmp_path: Path) -> None:
    run_dir = _copy(browser_run_dir, tmp_path)
    step = read_steps(run_dir)[0]
    (click,) = actions_from_json(step.actions_screen)
    assert isinstance(click, Click) and click.at is not None
    assert (click.at.x, click.at.y) == (660, 300)
    page = parse_page(write_run_report(run_dir))
    annotated = data_uri_image(page.find("img", **{"data-step": "1"})[0]["src"])
    raw = Image.open(run_dir / str(step.screenshot)).convert("RGB")
    assert raw.getpixel((660, 300)) != CLICK_COLOUR
    assert annotated.getpixel((660, 300)) == CLICK_COLOUR


def test_model_text_is_escaped_everywhere(browser_run_dir: Path, tmp_path: Path) -> None:
    run_dir = _copy(browser_run_dir, tmp_path)
    out = write_run_report(run_dir)
    html_text = out.read_text(encoding="utf-8")
    page = parse_page(out)
    assert "<script" not in html_text and "<h1>injected" not in html_text and "<img src=x" not in html_text
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html_text
    assert page.tags() <= {"html", "head", "meta", "title", "style", "body", "header", "main", "div", "h1", "h2",
                           "h3", "p", "span", "strong", "dl", "dt", "dd", "code", "ul", "ol", "li", "a", "details",
                           "summary", "pre", "section", "figure", "figcaption", "img", "table", "tr", "th", "td",
                           "i"}
    error_step = read_steps(run_dir)[3]
    assert error_step.error is not None and error_step.error.family == "model"
    assert (error_step.error.hint or "(no hint)") in page.text
    assert "default-src 'none'" in page.find("meta", **{"http-equiv": "Content-Security-Policy"})[0]["content"]


def test_report_renders_in_chromium(browser_run_dir: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    run_dir = _copy(browser_run_dir, tmp_path)
    out = write_run_report(run_dir)
    shots = [tmp_path / "report.png"]
    flag = os.environ.get("SCREENPILOT_ARTIFACTS")
    if flag:
        base = REPO / "artifacts" if flag.lower() in ("1", "true", "yes", "on") else Path(flag)
        shots.append(base / "report.png")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(out.as_uri())
            loaded = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth)")
            sections = page.locator("section.step").count()
            for shot in shots:
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert sections == len(BROWSER_REPLIES)
    assert loaded == [1280] * len(BROWSER_REPLIES), "every embedded screenshot decodes (CSP allows data: images)"
    assert all(Image.open(shot).size == (1280, 900) for shot in shots)


def test_a_replay_is_labelled_as_a_replay_not_as_a_model(browser_run_dir: Path, tmp_path: Path) -> None:
    run_dir = _copy(browser_run_dir, tmp_path)
    model_page = parse_page(write_run_report(run_dir)).text
    assert "Feedback to the model" in model_page and "(model error)" in model_page
    run = read_run(run_dir).model_copy(update={"model": {"backend": "replay", "source": "flow.yaml", "steps": 5}})
    (run_dir / "run.json").write_text(json.dumps(dump_record(run)))
    page = parse_page(write_run_report(run_dir)).text
    assert "Feedback to the model" not in page and "(model error)" not in page and "Model reply" not in page
    assert "Replay step" in page and "(replay)" in page


def test_torn_and_unfinished_run_still_renders(browser_run_dir: Path, tmp_path: Path) -> None:
    run_dir = _copy(browser_run_dir, tmp_path)
    run = read_run(run_dir).model_copy(update={"outcome": None, "ended_at": None})
    (run_dir / "run.json").write_text(json.dumps(dump_record(run)))
    lines = (run_dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    (run_dir / "steps.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][: len(lines[4]) // 2],
                                         encoding="utf-8")
    (run_dir / "step_002.png").unlink()
    page = parse_page(write_run_report(run_dir))
    assert [s["id"] for s in _step_sections(page)] == ["step-1", "step-2", "step-3", "step-4"]
    assert [i["data-step"] for i in page.find("img")] == ["1", "3", "4"]
    assert page.find("div", class_="missing-image")[0]["data-step"] == "2"
    assert "NO OUTCOME" in page.text


def test_corrupt_middle_line_and_missing_run_json_are_reported(browser_run_dir: Path, tmp_path: Path) -> None:
    run_dir = _copy(browser_run_dir, tmp_path)
    lines = (run_dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    lines[1] = "{garbage"
    (run_dir / "steps.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (run_dir / "run.json").unlink()
    data = load_run(run_dir)
    assert len(data.steps) == len(BROWSER_REPLIES) - 1
    page = parse_page(write_run_report(run_dir))
    assert len(_step_sections(page)) == len(BROWSER_REPLIES) - 1
    assert "steps.jsonl line 2 is not valid JSON" in page.text and "run.json is missing" in page.text


def test_steps_without_a_reply_and_linked_images(tmp_path: Path) -> None:
    run_dir = tmp_path / "exhausted"
    result = recording_run(run_dir, [call(action="left_click", coordinate=[100, 50])])
    assert result.reason == "script_exhausted"
    out = write_run_report(run_dir, tmp_path / "out" / "page.html", embed_images=False)
    page = parse_page(out)
    assert len(_step_sections(page)) == 2
    assert "no reply" in page.text and "ScriptExhausted" in page.text
    sources = [i["src"] for i in page.find("img")]
    assert sources == ["page_files/step_001.png", "page_files/step_002.png"]
    assert all((out.parent / s).is_file() for s in sources)


def test_gif_has_one_frame_per_step(browser_run_dir: Path, tmp_path: Path) -> None:
    run_dir = _copy(browser_run_dir, tmp_path)
    (run_dir / "step_003.png").unlink()
    gif = write_gif(run_dir, tmp_path / "run.gif", width=640, seconds_per_step=0.5)
    assert gif_frames(gif) == len(BROWSER_REPLIES)
    strip = caption_height((640, 360))  # the caption sits above the screenshot, never over it
    with Image.open(gif) as image:
        assert image.size == (640, 360 + strip)
        assert image.info["duration"] == 500
    frames = run_frames(run_dir, width=640)
    first = frames[0]
    assert first.getpixel((330, 150 + strip)) == CLICK_COLOUR, "the click at (660, 300) drawn at half scale"
    clean = Image.open(run_dir / "step_001.png").convert("RGB").resize((640, 360), Image.Resampling.LANCZOS)
    corner = (0, strip, 200, strip + 20)  # the screenshot's top-left corner shows the page, not a banner
    assert first.crop(corner).tobytes() == clean.crop((0, 0, 200, 20)).tobytes()


def _mp4_facts(path: Path) -> dict[str, object]:
    """What PyAV reads back from the MP4 ``path``: codec, pixel format, size, frames and their durations (s)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.time_base is not None and stream.duration is not None
        return {
            "codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
            "size": (stream.codec_context.width, stream.codec_context.height),
            "starts": [float(f.time or 0.0) for f in frames],
            "durations": [float(f.duration * stream.time_base) for f in frames],
            "stream_s": float(stream.duration * stream.time_base),
            "first": frames[0].to_image() if frames else None,
        }


def test_video_is_h264_with_one_frame_per_step(browser_run_dir: Path, tmp_path: Path) -> None:
    video = write_video(browser_run_dir, tmp_path / "run.mp4", width=480, seconds_per_step=0.5, fps=4)
    facts = _mp4_facts(video)
    steps = len(BROWSER_REPLIES)
    assert (facts["codec"], facts["pix_fmt"]) == ("h264", "yuv420p")
    assert facts["size"] == (480, 270 + caption_height((480, 270)))
    assert facts["durations"] == [0.5] * steps, "one frame per step, no repeats, each shown 0.5 s"
    assert facts["starts"] == [0.5 * n for n in range(steps)]
    assert facts["stream_s"] == 0.5 * steps
    first = facts["first"]
    assert isinstance(first, Image.Image)
    expected = run_frames(browser_run_dir, width=480)[0]
    strip = caption_height((480, 270))
    probe = (100, strip + 100)  # the untouched grey page, inside the screenshot (lossy codec: near, not equal)
    assert max(abs(a - b) for a, b in zip(first.getpixel(probe), expected.getpixel(probe), strict=True)) <= 8
    assert not list(tmp_path.glob(".*partial*")), "the temporary file is moved into place"


def test_video_of_a_run_without_steps_and_odd_sides(browser_run_dir: Path, tmp_path: Path) -> None:
    run_dir = _copy(browser_run_dir, tmp_path)
    (run_dir / "steps.jsonl").write_text("", encoding="utf-8")
    facts = _mp4_facts(write_video(run_dir, tmp_path / "empty.mp4", width=320, seconds_per_step=1.25))
    assert facts["durations"] == [1.25], "one placeholder frame, like the GIF"
    odd = Image.new("RGB", (5, 3), (10, 20, 30))
    odd.putpixel((4, 2), (200, 100, 50))
    padded = even_rgb(odd)
    assert padded.shape == (4, 6, 3)
    assert padded[3, 5].tolist() == [200, 100, 50], "the extra row and column repeat the edge"
    assert padded[:3, :5].tobytes() == odd.tobytes()


def test_video_to_an_unwritable_path_fails_clearly(browser_run_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"cannot write the MP4 .*a-file/run\.mp4.*pick a writable path"):
        write_video(browser_run_dir, blocker / "run.mp4", width=320)
    with pytest.raises(ValueError, match="seconds_per_step must be positive"):
        write_video(browser_run_dir, tmp_path / "run.mp4", seconds_per_step=0)


_PLAY_VIDEO = """() => new Promise(done => {
  const video = document.querySelector("video");
  const result = {};
  const finish = () => done(Object.assign(result, {
    error: video.error && `${video.error.code} ${video.error.message}`, readyState: video.readyState}));
  video.addEventListener("error", finish);
  video.addEventListener("ended", () => { result.ended = true; finish(); });
  const start = () => {
    result.duration = video.duration;
    result.width = video.videoWidth;
    result.canPlay = video.canPlayType('video/mp4; codecs="avc1.640028"');
    video.playbackRate = 4;
    video.play().catch(e => { result.playError = String(e); finish(); });
  };
  if (video.readyState >= 1) start(); else video.addEventListener("loadedmetadata", start);
  setTimeout(() => { result.timedOut = true; finish(); }, 30000);
})"""


def test_video_plays_in_chromium(browser_run_dir: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    video = write_video(browser_run_dir, tmp_path / "run.mp4", width=480, seconds_per_step=0.5)
    page_file = tmp_path / "video.html"
    page_file.write_text(f'<!doctype html><video src="{video.name}" muted preload="auto"></video>', encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            result = page.evaluate(_PLAY_VIDEO)
        finally:
            browser.close()
    assert result["error"] is None, f"Chromium could not play the MP4: {result}"
    assert result["duration"] == 0.5 * len(BROWSER_REPLIES)
    assert result["width"] == 480 and result["canPlay"] == "probably"
    assert result.get("ended") is True, f"played to the end (every frame decoded): {result}"


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        write_run_report(tmp_path)
