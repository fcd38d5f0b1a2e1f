"""Run folders: what is written, that it reads back as the same records, that older and killed runs
stay readable, and that invalid files are named with the field at fault."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screenpilot.agent.reports.run_report import load_run, write_run_report
from screenpilot.agent.run.loop import Agent, LoopLimits, RunResult, StepRecord
from screenpilot.agent.run.records import RunLimits, ScenarioRef, StepTimings, dump_record
from screenpilot.agent.run.trajectory import TrajectoryWriter, new_run_dir, read_run, read_steps, step_line
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
    assert run.task == "Fill in the form!"
    assert run.outcome == RunResult("success", "terminated", 3)
    assert run.ended_at and run.versions["python"]
    assert run.recording is not None and run.recording["steps"] == 3 and run.recording["write_ms_median"] > 0
    steps = read_steps(run_dir)
    assert [s.index for s in steps] == [1, 2, 3]
    assert steps[0].error is not None and steps[0].error.family == "model" and steps[0].error.hint
    assert steps[1].actions_model == [{"kind": "Click", "at": [100, 50], "button": "left", "count": 1}]
    # 800x600 -> 812x588 in model space; (100, 50) maps to (99, 51) on screen.
    assert steps[1].model_size == (812, 588)
    assert steps[1].actions_screen[0]["at"] == [99, 51]
    assert steps[1].image_tokens == 812 * 588 // (28 * 28)
    assert steps[1].timings.model_fields_set == {"capture", "model", "execute", "settle", "total"}
    for step in steps:
        assert (run_dir / str(step.screenshot)).stat().st_size > 0


def test_the_step_writer_writes_a_frame_s_own_png_as_is_and_encodes_other_images(tmp_path: Path) -> None:
    import io

    from PIL import Image

    from screenpilot.agent.run.step_writer import StepWriter

    captured = Image.new("RGB", (40, 30), (10, 200, 30))
    encoded = io.BytesIO()
    captured.save(encoded, format="PNG", compress_level=1)  # as a capture comes: not what Pillow would write
    writer = StepWriter(tmp_path, tmp_path / "steps.jsonl")
    writer.submit(1, captured, "step_001.png", '{"index": 1}', png=encoded.getvalue())
    painted = Image.new("RGB", (40, 30), (40, 40, 40))
    writer.submit(2, painted, "step_002.png", '{"index": 2}')
    writer.close()
    assert (tmp_path / "step_001.png").read_bytes() == encoded.getvalue()
    assert Image.open(tmp_path / "step_002.png").convert("RGB").tobytes() == painted.tobytes()
    assert (tmp_path / "steps.jsonl").read_text().splitlines() == ['{"index": 1}', '{"index": 2}']


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    run_dir = run_recorded(tmp_path, [call(action="wait", time=0), call(action="terminate", status="success")])
    with (run_dir / "steps.jsonl").open("a") as fh:
        fh.write('{"index": 3, "reply": "half a li')
    assert [s.index for s in read_steps(run_dir)] == [1, 2]


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
    assert [s.index for s in steps] == list(range(1, len(steps) + 1))
    run = json.loads((run_dir / "run.json").read_text())
    assert run["outcome"] is None  # killed: no outcome, but still valid JSON


NOISY_KILL_SCRIPT = r"""
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from screenpilot.agent.frame import Frame
from screenpilot.agent.run.loop import Agent, LoopLimits
from screenpilot.agent.run.trajectory import TrajectoryWriter
from screenpilot.models.formats.qwen25 import Qwen25Format
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.tools.recording import RecordingExecutor

class NoisyScreen(RecordingExecutor):
    def screenshot(self):
        noise = np.random.default_rng(self.screenshots).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
        self.screenshots += 1
        return Frame(Image.fromarray(noise), taken_at=0.0)

reply = '<tool_call>{"name": "computer_use", "arguments": {"action": "mouse_move", "coordinate": [5, 5]}}</tool_call>'
run_dir = Path(sys.argv[1])
writer = TrajectoryWriter(run_dir, {})
Agent(ScriptedModel([reply] * 1000), Qwen25Format(), NoisyScreen((1280, 720)), observers=[writer],
      limits=LoopLimits(max_steps=1000)).run("noisy task")
"""


@pytest.mark.parametrize("extra_delay_s", [0.0, 0.037, 0.11])
def test_sigkill_while_recording_leaves_no_line_without_its_image(tmp_path: Path, extra_delay_s: float) -> None:
    """Steps are written off the step path (PNG, then line): killed at any moment, every line's PNG is complete."""
    from PIL import Image

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", NOISY_KILL_SCRIPT, str(run_dir)], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(read_steps(run_dir)) < 2:
            time.sleep(0.01)
        time.sleep(extra_delay_s)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    steps = read_steps(run_dir)
    assert len(steps) >= 2
    assert [s.index for s in steps] == list(range(1, len(steps) + 1))
    for step in steps:
        with Image.open(run_dir / str(step.screenshot)) as image:
            image.load()  # raises for a truncated file
            assert image.size == (1280, 720)


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
    outcome = read_run(run_dir).outcome
    assert outcome is not None and (outcome.status, outcome.reason) == ("error", "infrastructure")
    assert "No space left on device" in (outcome.message or "")
    assert [s.index for s in read_steps(run_dir)] == [1]


class StepCollector:
    """Observer keeping the StepRecords the loop hands out, to compare with what was written."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []

    def on_start(self, task: str) -> None:
        pass

    def on_step(self, step: StepRecord) -> None:
        self.steps.append(step)

    def on_end(self, result: RunResult) -> None:
        pass


def test_what_is_read_back_equals_what_was_written(tmp_path: Path) -> None:
    run_dir = new_run_dir(tmp_path, "round trip")
    metadata = {"model": {"backend": "scripted", "replies": 3}, "limits": {"max_steps": 5},
                "scenario": {"id": "form", "seed": 7}, "note": "kept as given"}
    collector = StepCollector()
    result = Agent(ScriptedModel(["nonsense", call(action="left_click", coordinate=[100, 50]),
                                  call(action="terminate", status="success", answer="done")]),
                   Qwen25Format(), RecordingExecutor((800, 600)),
                   observers=[TrajectoryWriter(run_dir, metadata), collector]).run("round trip")
    steps = read_steps(run_dir)
    assert steps == [step_line(s, f"step_{s.index:03d}.png") for s in collector.steps]
    run = read_run(run_dir)
    assert run.outcome == result
    assert run.limits == RunLimits(max_steps=5) and run.scenario == ScenarioRef(id="form", seed=7)
    assert run.model == metadata["model"] and run.model_extra == {"note": "kept as given"}
    written = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert set(written) == {"schema", "task", "model", "limits", "scenario", "note", "versions", "started_at",
                            "ended_at", "outcome", "recording"}
    assert dump_record(run) == written  # re-writing a record read from a file keeps its keys
    first_line = json.loads((run_dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert dump_record(steps[0]) == first_line


OLD_RUN = {  # what an earlier writer made: no resize, executor, limits, policy or secrets entries
    "schema": 1, "task": "Say hello", "model": "scripted", "versions": {"python": "3.11.7"},
    "started_at": "2026-01-02T03:04:05.000+00:00", "ended_at": "2026-01-02T03:04:06.500+00:00",
    "outcome": {"status": "success", "reason": "terminated", "steps": 1},
}
OLD_STEP = {  # no events, usage, model_timings or feedback; a key this version does not know
    "index": 1, "started_at": 1767323045.0, "url": None, "title": None, "screen_size": [640, 480],
    "model_size": [644, 476], "image_tokens": 391, "screenshot": "step_001.png", "reply": "done",
    "actions_model": [{"kind": "Terminate", "status": "success", "answer": None}],
    "actions_screen": [{"kind": "Terminate", "status": "success", "answer": None}],
    "verdicts": [], "executed": 0, "error": None, "timings": {"capture": 0.01, "model": 0.2, "total": 0.25},
    "retired_field": {"anything": 1},
}


def write_folder(run_dir: Path, run: object, lines: list[str]) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps(run), encoding="utf-8")
    (run_dir / "steps.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return run_dir


def test_a_folder_from_an_older_writer_still_reads(tmp_path: Path) -> None:
    run_dir = write_folder(tmp_path / "old", OLD_RUN, [json.dumps(OLD_STEP)])
    run = read_run(run_dir)
    assert (run.task, run.model, run.resize, run.executor, run.secrets) == ("Say hello", "scripted", None, None, None)
    assert run.outcome == RunResult("success", "terminated", 1)
    (step,) = read_steps(run_dir)
    assert (step.index, step.events, step.usage, step.model_timings, step.feedback) == (1, None, None, None, None)
    assert step.timings == StepTimings(capture=0.01, model=0.2, total=0.25) and step.timings.execute is None
    assert step.screen_size == (640, 480) and step.verdicts == []
    assert "retired_field" not in dump_record(step)


def test_an_invalid_run_json_names_the_file_and_the_fields(tmp_path: Path) -> None:
    bad = {**OLD_RUN, "outcome": {"status": "success", "steps": "many"}}
    run_dir = write_folder(tmp_path / "bad", bad, [json.dumps(OLD_STEP)])
    with pytest.raises(ValueError) as caught:
        read_run(run_dir)
    message = str(caught.value)
    assert str(run_dir / "run.json") in message
    assert "outcome.reason: Field required" in message and "outcome.steps:" in message
    (run_dir / "run.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match=r"run\.json is not a valid run record"):
        read_run(run_dir)
    (run_dir / "run.json").unlink()
    with pytest.raises(FileNotFoundError):
        read_run(run_dir)


def test_an_invalid_step_line_names_the_file_line_and_field(tmp_path: Path) -> None:
    wrong = {**OLD_STEP, "index": 2, "verdicts": [{"rule": "default"}]}
    run_dir = write_folder(tmp_path / "bad", OLD_RUN, [json.dumps(OLD_STEP), json.dumps(wrong), json.dumps(OLD_STEP)])
    with pytest.raises(ValueError, match=r"steps\.jsonl:2 is not a valid step: verdicts\.0\.decision: Field required"):
        read_steps(run_dir)
    write_folder(tmp_path / "torn", OLD_RUN, [json.dumps(OLD_STEP), json.dumps(wrong)[:40]])
    assert [s.index for s in read_steps(tmp_path / "torn")] == [1]
    write_folder(tmp_path / "middle", OLD_RUN, [json.dumps(OLD_STEP)[:40], json.dumps(OLD_STEP)])
    with pytest.raises(ValueError, match=r"steps\.jsonl:1 is not valid JSON"):
        read_steps(tmp_path / "middle")


def test_the_report_lists_invalid_records_and_renders_the_rest(tmp_path: Path) -> None:
    wrong = {**OLD_STEP, "index": "second"}
    run_dir = write_folder(tmp_path / "bad", {"task": 3.5}, [json.dumps(OLD_STEP), json.dumps(wrong), "{torn"])
    data = load_run(run_dir)
    assert data.run is None and [s.index for s in data.steps] == [1]
    assert data.problems[0].startswith(f"{run_dir / 'run.json'} is not a valid run record: task:")
    assert data.problems[1:] == ["steps.jsonl line 2 is not a valid step: index: Input should be a valid integer, "
                                 "unable to parse string as an integer (skipped)",
                                 "steps.jsonl line 3 is not valid JSON (skipped)"]
    html = write_run_report(run_dir).read_text(encoding="utf-8")
    assert 'id="step-1"' in html and "(task unknown)" in html and "NO OUTCOME" in html


def test_the_report_keeps_the_valid_part_of_an_invalid_run_json(tmp_path: Path) -> None:
    run_dir = write_folder(tmp_path / "bad", {**OLD_RUN, "outcome": {"status": "won"}}, [json.dumps(OLD_STEP)])
    data = load_run(run_dir)
    assert data.run is not None and data.run.task == "Say hello" and data.run.outcome is None
    assert "outcome.status: Input should be 'success', 'failure', 'error' or 'stopped'" in data.problems[0]
    html = write_run_report(run_dir).read_text(encoding="utf-8")
    assert "Say hello" in html and "NO OUTCOME" in html and "outcome.reason: Field required" in html
