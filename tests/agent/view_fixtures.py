"""Real recorded runs and evaluation folders for the report, GIF, evaluation-page and CLI tests.

Runs are produced the way users produce them: :class:`screenpilot.agent.run.loop.Agent` with a scripted model,
the Qwen2.5-VL prompt format and a real executor (headless Chromium on ``tests/pages/report_page.html``,
or the recording executor where only the folder's shape matters), written by TrajectoryWriter.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from PIL import Image, ImageSequence

from screenpilot.agent.run.loop import Agent, RunResult
from screenpilot.agent.run.trajectory import TrajectoryWriter, read_run, read_steps
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import Qwen25Format
from screenpilot.tools.recording import RecordingExecutor

PAGE = Path(__file__).resolve().parents[1] / "pages" / "report_page.html"
VIEWPORT = (1280, 720)
TASK = "Press Go, then type a name <b>bold</b> & scroll"


def call(**arguments: object) -> str:
    """One Qwen2.5-VL tool call as the model writes it."""
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"


# Model space for a 1280x720 viewport is 1288x728: (664, 303) maps to the Go button's centre (660, 300),
# (664, 445) to the name field (660, 440).
BROWSER_REPLIES: list[str] = [
    call(action="left_click", coordinate=[664, 303]),
    call(action="left_click", coordinate=[664, 445]),
    call(action="type", text='Ada <img src=x onerror=alert(1)> & "Lovelace"'),
    "<script>alert('pwned')</script> I am not sure what to do </pre><h1>injected</h1>",
    call(action="scroll", coordinate=[644, 600], pixels=-300),
    call(action="terminate", status="success"),
]


def record_run(run_dir: Path, replies: Sequence[str], executor: Any, task: str = TASK) -> RunResult:
    """Run ``task`` with scripted ``replies`` on ``executor``, writing the run folder ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    model = ScriptedModel(replies, source="tests")
    prompt = Qwen25Format()
    writer = TrajectoryWriter(run_dir, {
        "model": model.describe(),
        "prompt_format": {"name": prompt.name},
        "executor": executor.describe(),
    })
    return Agent(model=model, prompt=prompt, executor=executor, observers=[writer]).run(task)


def browser_run(run_dir: Path, replies: Sequence[str] = tuple(BROWSER_REPLIES), task: str = TASK) -> RunResult:
    """A real run in headless Chromium on the test page (viewport 1280x720)."""
    from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

    executor = BrowserExecutor(BrowserSettings(viewport=VIEWPORT, start_url=PAGE.as_uri()))
    try:
        return record_run(run_dir, replies, executor, task)
    finally:
        executor.close()


_SHARED: dict[str, Path] = {}


def shared_browser_run(base: Path) -> Path:
    """The browser run of :data:`BROWSER_REPLIES`, recorded once per test session under ``base``.

    Callers must not change it: copy it first (browser runs cost seconds; tests share one)."""
    if "run" not in _SHARED:
        run_dir = base / "shared-browser-run"
        result = browser_run(run_dir)
        if (result.status, result.steps) != ("success", len(BROWSER_REPLIES)):
            raise AssertionError(f"the shared browser run did not succeed: {result}")
        _SHARED["run"] = run_dir
    return _SHARED["run"]


def recording_run(run_dir: Path, replies: Sequence[str], task: str = "a recorded task",
                  size: tuple[int, int] = (320, 200)) -> RunResult:
    """A cheap run on the recording executor (grey screenshots of ``size``)."""
    return record_run(run_dir, replies, RecordingExecutor(size), task)


def _ci95(successes: int, n: int) -> list[float]:
    if n == 0:
        return [0.0, 1.0]
    z = 1.959964
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _summary_entry(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    wins = sum(1 for e in episodes if e["success"])
    n = len(episodes)
    return {"episodes": n, "successes": wins, "success_rate": wins / n if n else 0.0, "ci95": _ci95(wins, n)}


def _episode(eval_dir: Path, run_dir: Path, task: str, seed: int | None, result: RunResult) -> dict[str, Any]:
    steps = read_steps(run_dir)
    phases = {p: sum(getattr(s.timings, p) or 0.0 for s in steps) for p in ("capture", "model", "execute", "settle")}
    wall = sum(s.timings.total or 0.0 for s in steps)
    success = result.status == "success"
    return {
        "task": task, "seed": seed, "success": success, "reward": 1.0 if success else -1.0,
        "status": result.status, "reason": result.reason, "steps": result.steps, "wall_s": wall,
        "model_s": phases["model"], "tokens": None, "failure": None if success else f"{result.reason}",
        "run_dir": run_dir.relative_to(eval_dir).as_posix(), "timings": phases,
    }


def make_eval_dir(eval_dir: Path, outcomes: Mapping[tuple[str, int | None], bool], *, suite: str = "unit-suite",
                  model: str | None = "scripted") -> Path:
    """An evaluation folder: one real recorded run per (task, seed) that succeeds or fails as
    ``outcomes`` says (a click, then terminate), with results.json and results.csv."""
    episodes = []
    for (task, seed), success in outcomes.items():
        run_dir = eval_dir / "runs" / f"{task}-{seed if seed is not None else 'x'}"
        replies = [call(action="left_click", coordinate=[100, 80]),
                   call(action="terminate", status="success" if success else "failure")]
        result = recording_run(run_dir, replies, task=f"task {task}")
        episodes.append(_episode(eval_dir, run_dir, task, seed, result))
    per_task: dict[str, list[dict[str, Any]]] = {}
    for episode in episodes:
        per_task.setdefault(episode["task"], []).append(episode)
    first_run = read_run(eval_dir / episodes[0]["run_dir"]) if episodes else None
    results = {
        "suite": suite, "model": model,
        "started_at": first_run and first_run.started_at, "ended_at": first_run and first_run.ended_at,
        "episodes": episodes,
        "summary": {**_summary_entry(episodes), "per_task": {t: _summary_entry(e) for t, e in per_task.items()}},
    }
    (eval_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    with (eval_dir / "results.csv").open("w", newline="", encoding="utf-8") as fh:
        columns = [k for k in episodes[0] if k != "timings"] if episodes else ["task"]
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(episodes)
    return eval_dir


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


class ParsedPage:
    """An HTML page parsed with the standard library: start tags with attributes, and all text."""

    def __init__(self, html_text: str) -> None:
        collector = _Collector()
        collector.feed(html_text)
        collector.close()
        self.elements = collector.elements
        self.text = "".join(collector.text)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """Attributes of every ``tag`` element; ``class_`` matches one class among several."""
        found = []
        for name, values in self.elements:
            if name != tag:
                continue
            wanted_class = attrs.get("class_")
            if wanted_class is not None and wanted_class not in values.get("class", "").split():
                continue
            if all(values.get(k) == v for k, v in attrs.items() if k != "class_"):
                found.append(values)
        return found

    def tags(self) -> set[str]:
        """Names of every element in the page."""
        return {name for name, _ in self.elements}


def parse_page(path: Path) -> ParsedPage:
    """Parse the HTML file at ``path``."""
    return ParsedPage(path.read_text(encoding="utf-8"))


def data_uri_image(src: str) -> Image.Image:
    """Decode a ``data:image/png;base64,...`` URI into an RGB image."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    return Image.open(io.BytesIO(base64.b64decode(src[len(prefix):]))).convert("RGB")


def gif_frames(path: Path) -> int:
    """How many frames the GIF at ``path`` holds."""
    with Image.open(path) as image:
        return sum(1 for _ in ImageSequence.Iterator(image))
