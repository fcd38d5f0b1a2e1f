"""Run folders: what is written, and that a killed run stays readable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from screenpilot.agent.run.loop import Agent, LoopLimits
from screenpilot.agent.run.trajectory import TrajectoryWriter, new_run_dir, read_run, read_steps
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import Qwen25Format
from screenpilot.tools.recording import RecordingExecutor

from .test_loop import call


def run_recorded(tmp_path: Path, replies: list[str]) -> Path:
    run_dir = new_run_dir(tmp_path, "Fill in the form!")
    writer = TrajectoryWriter(run_dir, {"model": {"backend": "scripted"}})
    Agent(ScriptedModel(replies), Qwen25Format(), RecordingExecutor((800, 600)), observers=[writer],
          limits=LoopLimits(max_steps=5)).run("Fill in the form!")
    return run_dir


def test_run_folder_holds_run_json_steps_and_screenshots(tmp_path: Path) -> None:
    run_dir = run_recorded(tmp_path, ["nonsense", call(action="left_click", coordinate=[100, 50]),
                                      call(action="terminate", status="success")])
    assert run_dir.name.endswith("fill-in-the-form")
    run = read_run(run_dir)
    assert run["task"] == "Fill in the form!"
    assert run["outcome"]["status"] == "success" and run["outcome"]["steps"] == 3
    assert run["ended_at"] and run["versions"]["python"]
    steps = read_steps(run_dir)
    assert [s["index"] for s in steps] == [1, 2, 3]
    assert steps[0]["error"]["family"] == "model" and steps[0]["error"]["hint"]
    assert steps[1]["actions_model"] == [{"kind": "Click", "at": [100, 50], "button": "left", "count": 1}]
    # 800x600 -> 812x588 in model space; (100, 50) maps to (99, 51) on screen.
    assert steps[1]["model_size"] == [812, 588]
    assert steps[1]["actions_screen"][0]["at"] == [99, 51]
    assert steps[1]["image_tokens"] == 812 * 588 // (28 * 28)
    assert set(steps[1]["timings"]) >= {"capture", "model", "execute", "settle", "total"}
    for step in steps:
        assert (run_dir / step["screenshot"]).stat().st_size > 0


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    run_dir = run_recorded(tmp_path, [call(action="wait", time=0), call(action="terminate", status="success")])
    with (run_dir / "steps.jsonl").open("a") as fh:
        fh.write('{"index": 3, "reply": "half a li')
    assert [s["index"] for s in read_steps(run_dir)] == [1, 2]


KILL_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from screenpilot.agent.run.loop import Agent, LoopLimits
from screenpilot.agent.run.trajectory import TrajectoryWriter
from screenpilot.models.formats.qwen25 import Qwen25Format
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.tools.recording import RecordingExecutor

class SlowExecutor(RecordingExecutor):
    def execute(self, action):
        super().execute(action)
        time.sleep(0.2)

reply = '<tool_call>{"name": "computer_use", "arguments": {"action": "mouse_move", "coordinate": [5, 5]}}</tool_call>'
run_dir = Path(sys.argv[1])
writer = TrajectoryWriter(run_dir, {})
Agent(ScriptedModel([reply] * 1000), Qwen25Format(), SlowExecutor(), observers=[writer],
      limits=LoopLimits(max_steps=1000)).run("slow task")
"""


def test_sigkill_mid_run_leaves_every_finished_step_readable(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(run_dir)], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(read_steps(run_dir)) >= 3:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    steps = read_steps(run_dir)
    assert len(steps) >= 3
    assert [s["index"] for s in steps] == list(range(1, len(steps) + 1))
    run = json.loads((run_dir / "run.json").read_text())
    assert run["outcome"] is None  # killed: no outcome, but still valid JSON


def test_disk_full_ends_the_run_cleanly_and_records_how(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import errno

    from PIL import Image

    real_save = Image.Image.save
    saved: list[str] = []

    def save_until_full(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        if saved:
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append(str(fp))
        real_save(self, fp, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "save", save_until_full)
    run_dir = run_recorded(tmp_path, [call(action="wait", time=0)] * 4)
    run = read_run(run_dir)
    assert run["outcome"]["status"] == "error" and run["outcome"]["reason"] == "infrastructure"
    assert "No space left on device" in run["outcome"]["message"]
    assert [s["index"] for s in read_steps(run_dir)] == [1]
