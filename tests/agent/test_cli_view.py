"""``screenpilot view`` / ``compare`` and the live screenshot view (``run --live-screenshots``)."""

from __future__ import annotations

import json
import shutil
import webbrowser
from pathlib import Path

import pytest
from PIL import Image

from screenpilot.agent.cli.main import main
from screenpilot.agent.reports.annotate import CLICK_COLOUR, caption_height
from screenpilot.agent.reports.live import LiveScreenshotObserver
from screenpilot.agent.run.loop import Agent, RunResult, StepRecord
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import Qwen25Format
from screenpilot.tools.recording import RecordingExecutor
from tests.agent.test_eval_report import OUTCOMES_A, OUTCOMES_B
from tests.agent.view_fixtures import (
    BROWSER_REPLIES,
    PAGE,
    TASK,
    call,
    gif_frames,
    make_eval_dir,
    parse_page,
    shared_browser_run,
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-run") / "run"
    shutil.copytree(shared_browser_run(tmp_path_factory.getbasetemp()), path)
    return path


@pytest.fixture(scope="module")
def evals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli-evals")
    return (make_eval_dir(root / "a", OUTCOMES_A, model="model-a"),
            make_eval_dir(root / "b", OUTCOMES_B, model="model-b"))


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def fake_open(url: str, *args: object, **kwargs: object) -> bool:
        calls.append(url)
        return True

    monkeypatch.setattr(webbrowser, "open", fake_open)
    return calls


def test_view_run_writes_report_gif_and_mp4(run_dir: Path, capsys: pytest.CaptureFixture[str],
                                            opened: list[str]) -> None:
    assert main(["view", str(run_dir), "--gif", "--mp4", "--width", "320"]) == 0
    err = capsys.readouterr().err
    report = run_dir / "report.html"
    assert f"Report: {report}" in err
    assert len(parse_page(report).find("section", class_="step")) == len(BROWSER_REPLIES)
    assert gif_frames(run_dir / "run.gif") == len(BROWSER_REPLIES)
    with Image.open(run_dir / "run.gif") as gif:
        assert gif.width == 320
    assert (run_dir / "run.mp4").stat().st_size > 0
    assert opened == [], "never opens a browser unless asked"


def test_view_out_and_open(run_dir: Path, tmp_path: Path, opened: list[str]) -> None:
    out = tmp_path / "elsewhere" / "r.html"
    assert main(["view", str(run_dir), "--out", str(out), "--open"]) == 0
    assert out.is_file()
    assert opened == [out.resolve().as_uri()]


def test_view_evaluation_folder(evals: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(evals[0])]) == 0
    page = parse_page(evals[0] / "report.html")
    assert len(page.find("tr", class_="task-row")) == len({task for task, _ in OUTCOMES_A})
    assert all((evals[0] / "runs" / f"{t}-{s if s is not None else 'x'}" / "report.html").is_file()
               for t, s in OUTCOMES_A)
    assert "Report:" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, "{broken", '{"episodes": "no"}'])
def test_view_rejects_other_folders_with_exit_2(tmp_path: Path, content: str | None,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    assert main(["view", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Error" in err
    if content is None:
        assert "neither a run folder" in err
    assert not (tmp_path / "report.html").exists()


def test_compare_prints_table_and_writes_page(evals: tuple[Path, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(evals[0]), str(evals[1])]) == 0
    err = capsys.readouterr().err
    assert "click-button" in err and "gained" in err and "lost" in err
    assert (evals[1] / "comparison.html").is_file()
    out = tmp_path / "cmp.html"
    assert main(["compare", str(evals[0]), str(evals[1]), "--out", str(out)]) == 0
    rows = parse_page(out).find("tr", class_="flip-row")
    assert len(rows) == 4


def test_compare_rejects_a_non_evaluation(evals: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(evals[0]), str(tmp_path)]) == 2
    assert "not an evaluation folder" in capsys.readouterr().err


class _Peek:
    """Reads the live files right after the live observer wrote them."""

    def __init__(self, live: LiveScreenshotObserver) -> None:
        self.live = live
        self.seen: list[tuple[dict[str, object], tuple[int, int, int]]] = []

    def on_start(self, task: str) -> None:
        pass

    def on_step(self, step: StepRecord) -> None:
        status = json.loads(self.live.status_path.read_text())
        with Image.open(self.live.image_path) as image:
            below_caption = 50 + caption_height((336, 196))  # the click at (100, 50), under the caption strip
            self.seen.append((status, image.convert("RGB").getpixel((100, below_caption))))  # type: ignore[arg-type]

    def on_end(self, result: RunResult) -> None:
        pass


def test_live_observer_keeps_latest_files_current(tmp_path: Path) -> None:
    live = LiveScreenshotObserver(tmp_path / "live")
    peek = _Peek(live)
    replies = [call(action="left_click", coordinate=[100, 50]), call(action="type", text="hi"),
               call(action="terminate", status="success", answer="done")]
    agent = Agent(model=ScriptedModel(replies), prompt=Qwen25Format(), executor=RecordingExecutor((336, 196)),
                  observers=[live, peek])
    result = agent.run("live task")
    assert result.status == "success"
    first_status, first_pixel = peek.seen[0]
    assert first_status["step"] == 1 and first_status["status"] == "running"
    assert first_status["actions"] == ["click (100, 50)"]
    assert first_pixel == CLICK_COLOUR
    assert [s["step"] for s, _ in peek.seen] == [1, 2, 3]
    final = json.loads(live.status_path.read_text())
    assert final["status"] == "success" and final["outcome"]["answer"] == "done" and final["task"] == "live task"
    assert sorted(p.name for p in (tmp_path / "live").iterdir()) == ["latest.json", "latest.png"]


def test_live_observer_never_breaks_a_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    live = LiveScreenshotObserver(blocker / "live")
    agent = Agent(model=ScriptedModel([call(action="terminate", status="success")]), prompt=Qwen25Format(),
                  executor=RecordingExecutor((64, 64)), observers=[live])
    assert agent.run("task").status == "success"
    assert live.last_error is not None


def test_run_command_with_live_screenshots(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([*BROWSER_REPLIES[:2], call(action="terminate", status="success")]))
    live = tmp_path / "live"
    code = main(["run", TASK, "--url", str(PAGE), "--model", f"scripted:{replies}", "--out", str(tmp_path / "runs"),
                 "--live-screenshots", str(live), "--quiet"])
    assert code == 0
    status = json.loads((live / "latest.json").read_text())
    assert status["status"] == "success" and status["step"] == 3
    with Image.open(live / "latest.png") as image:
        assert image.size == (1280, 720 + caption_height((1280, 720)))  # the caption strip above the screen
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert main(["view", str(run_dir)]) == 0
    assert len(parse_page(run_dir / "report.html").find("img")) == 3
