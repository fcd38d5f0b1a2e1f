"""Mistakes a new user makes get one line saying what is wrong, exit 2 and no traceback; odd but valid requests
say what they do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screenpilot.agent.cli.main import main
from screenpilot.agent.run.trajectory import read_steps
from screenpilot.scenarios import SCENARIOS_DIR

from .test_loop import call

DEMO = SCENARIOS_DIR / "demo"
SCRIPTED = f"scripted:{DEMO / 'signup_replies.json'}"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["run", "Sign up", "--model", SCRIPTED, *args])
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in err
    return code, err


def test_out_on_a_file_or_an_impossible_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder", encoding="utf-8")
    url = str(DEMO / "signup.html")
    code, err = run(capsys, "--url", url, "--out", str(a_file))
    assert code == 2 and f"cannot create the folder {a_file}: it is a file; give --out a folder" in err
    code, err = run(capsys, "--url", url, "--out", str(a_file / "below"))
    assert code == 2 and "cannot create the folder" in err and "not a directory" in err
    code = main(["eval", str(SCENARIOS_DIR), "--out", str(a_file)])
    assert code == 2 and "it is a file" in capsys.readouterr().err


def test_a_screen_bigger_than_the_documented_maximum_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "--url", str(DEMO / "signup.html"), "--viewport", "100000x100000")
    assert code == 2 and "at most 8192 pixels a side" in err


def test_no_url_says_the_browser_starts_blank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([call(action="terminate", status="success")]), encoding="utf-8")
    code = main(["run", "Look", "--model", f"scripted:{replies}", "--out", str(tmp_path / "runs")])
    assert code == 0
    assert "No --url given: the browser starts on a blank page" in " ".join(capsys.readouterr().err.split())


def test_desktop_replies_on_a_phone_name_the_phone_format(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([call(action="left_click", coordinate=[10, 10])]), encoding="utf-8")
    out = tmp_path / "runs"
    code = main(["run", "Tap", "--phone", "pixel-7", "--url", str(DEMO / "signup.html"), "--model",
                 f"scripted:{replies}", "--out", str(out), "--max-steps", "1", "--quiet"])
    assert code == 1
    (run_dir,) = list(out.iterdir())
    error = read_steps(run_dir)[0].error
    assert error is not None and "unknown function computer_use" in error.message
    assert "mobile_use" in error.message
