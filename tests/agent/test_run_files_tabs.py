"""Uploads, downloads and tabs end to end: ``screenpilot run`` with scripted replies in headless Chromium on local
pages. The pages report their state in their titles, which steps.jsonl records for every step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screenpilot.agent.actions import (
    Action,
    Click,
    CloseTab,
    ListTabs,
    NewTab,
    Point,
    SwitchTab,
    Terminate,
    Upload,
    Wait,
)
from screenpilot.agent.cli.main import main
from screenpilot.agent.run.records import StepLine
from screenpilot.agent.run.trajectory import read_steps
from screenpilot.agent.scenario.file_format import load_scenario
from screenpilot.agent.scenario.runner import EpisodeOptions, run_scenario
from screenpilot.models.formats.qwen25 import format_call
from screenpilot.models.resize import screen_to_model

PAGES = Path(__file__).resolve().parents[1] / "pages"
SCREEN, MODEL = (1280, 720), (1288, 728)
"""The default viewport and the image Qwen2.5-VL sees of it."""


def click(x: int, y: int) -> Click:
    """A left click at screen (x, y), in model space."""
    return Click(screen_to_model(Point(x, y), SCREEN, MODEL))


def run(tmp_path: Path, page: str, actions: list[Action], *options: str) -> tuple[int, list[StepLine], Path]:
    """``screenpilot run`` on ``page`` with one scripted reply per action: exit code, steps and run folder."""
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([format_call(action) for action in actions]))
    out = tmp_path / "runs"
    code = main(["run", "use the page", "--url", str(PAGES / page), "--model", f"scripted:{replies}",
                 "--out", str(out), "--quiet", *options])
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return code, read_steps(run_dir), run_dir


def test_a_file_inside_the_upload_folder_arrives_and_one_outside_is_refused(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "hello.txt").write_text("hello world")
    (tmp_path / "secret.txt").write_text("keep me")
    code, steps, _ = run(tmp_path, "upload.html", [
        click(100, 150), Upload("../secret.txt"), Upload("hello.txt"), Terminate("success")],
        "--upload-dir", str(uploads))
    assert code == 0
    assert steps[1].events and any("file chooser opened" in e and "hello.txt" in e for e in steps[1].events)
    refused = steps[1].verdicts[0]
    assert (refused.decision, refused.rule) == ("deny", "upload-outside-folder") and steps[1].executed == 0
    assert steps[2].title == "Upload"  # the refused file never reached the page
    assert steps[2].verdicts[0].decision == "allow" and steps[2].executed == 1
    assert steps[3].title == "Upload: hello.txt (11 bytes)"


def test_without_an_upload_folder_every_upload_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello world")
    code, steps, _ = run(tmp_path, "upload.html", [click(100, 150), Upload(str(tmp_path / "hello.txt")),
                                                   Terminate("success")])
    assert code == 0
    verdict = steps[1].verdicts[0]
    assert verdict.decision == "deny" and verdict.note is not None and "--upload-dir" in verdict.note
    assert steps[1].feedback is not None and "--upload-dir" in steps[1].feedback
    assert steps[2].title == "Upload"


def test_a_download_lands_in_the_run_folder_and_in_steps_jsonl(tmp_path: Path) -> None:
    code, steps, run_dir = run(tmp_path, "files_and_tabs.html", [click(100, 60), Wait(0.2), Terminate("success")])
    assert code == 0
    assert (run_dir / "downloads" / "report.csv").read_bytes() == b"name,score\nada,42\n"
    assert steps[1].events == ["downloaded report.csv (18 bytes) to downloads/report.csv"]


def test_tabs_are_opened_listed_switched_and_closed_to_the_expected_page(tmp_path: Path) -> None:
    next_page = (PAGES / "browser_next.html").as_uri()
    code, steps, _ = run(tmp_path, "files_and_tabs.html", [
        click(100, 140), ListTabs(), SwitchTab(0), CloseTab(1), NewTab(next_page), SwitchTab(0), CloseTab(0),
        ListTabs(), Terminate("success")])
    assert code == 0
    assert [s.title for s in steps] == ["Files and tabs", "Next page", "Next page", "Files and tabs",
                                        "Files and tabs", "Next page", "Files and tabs", "Next page", "Next page"]
    assert steps[2].events is not None and steps[2].events[0].startswith("open tabs: [0] Files and tabs")
    assert steps[-1].events == [f"open tabs: [0] Next page ({next_page}) (current)"]
    assert steps[-1].url == next_page


def test_a_scenario_episode_keeps_its_downloads_too(tmp_path: Path) -> None:
    scenario = tmp_path / "download.yaml"
    scenario.write_text(json.dumps({
        "instruction": "Download the report.",
        "environment": {"browser": {"url": (PAGES / "files_and_tabs.html").as_uri()}},
        "checks": [{"selector": "#report", "count": 1}],
        "replies": [format_call(action) for action in (click(100, 60), Wait(0.2), Terminate("success"))],
    }), encoding="utf-8")
    episode = run_scenario(load_scenario(scenario), EpisodeOptions(out_dir=tmp_path / "runs"))
    assert episode.status == "success" and episode.run_dir is not None
    assert (episode.run_dir / "downloads" / "report.csv").read_bytes() == b"name,score\nada,42\n"


def test_run_help_names_the_new_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    shown = capsys.readouterr().out
    for option in ("--cdp-url", "--user-data-dir", "--upload-dir"):
        assert option in shown, option
