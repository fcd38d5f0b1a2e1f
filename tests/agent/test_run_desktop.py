"""``screenpilot run --desktop`` end to end: a private Xvfb, a real xterm, scripted replies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.agent.scenario.file_format import load_scenario
from screenpilot.agent.scenario.script import script_from_run
from screenpilot.agent.scenario.spec import DesktopEnvironment

from .test_loop import call

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xterm") is None,
                                reason="needs Xvfb and xterm (make test installs them)")


def test_cli_types_a_command_into_xterm_that_creates_a_file(tmp_path: Path) -> None:
    target = tmp_path / "made by the agent.txt"
    command = f"printf 'héllo <desktop> & co' > '{target}'\n"
    replies = [call(action="mouse_move", coordinate=[150, 120]), call(action="type", text=command),
               call(action="wait", time=1), call(action="terminate", status="success")]
    replies_file = tmp_path / "replies.json"
    replies_file.write_text(json.dumps(replies))
    out = tmp_path / "runs"
    # xterm -e sh: a shell without rc files, so a slow ~/.bashrc cannot swallow the typed line
    result = subprocess.run(
        [sys.executable, "-m", "screenpilot", "run", "Create the file", "--desktop", "--virtual-display", "1280x720",
         "--launch", "xterm -geometry 100x30+0+0 -e sh", "--model", f"scripted:{replies_file}", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8") == "héllo <desktop> & co"
    (run_dir,) = list(out.iterdir())
    run = read_run(run_dir)
    assert run.executor is not None and "desktop" in json.dumps(run.executor)
    steps = read_steps(run_dir)
    assert steps[0].screen_size == (1280, 720)
    assert steps[1].actions_screen == [{"kind": "TypeText", "text": command}]
    # the replay script starts the desktop the way the run did
    assert run.environment == {"desktop": {"launch": ["xterm -geometry 100x30+0+0 -e sh"],
                                           "virtual_display": "1280x720"}}
    script = tmp_path / "replay.yaml"
    script_from_run(run_dir, script)
    assert "they pass even when the task's result is wrong. Replace them" in script.read_text(encoding="utf-8")
    environment = load_scenario(script).environment
    assert environment == DesktopEnvironment(launch=("xterm -geometry 100x30+0+0 -e sh",), virtual_display=(1280, 720))
