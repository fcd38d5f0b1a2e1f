"""A live view of a run: the latest annotated screenshot and a small status file, kept current.

:class:`LiveScreenshotObserver` is an :class:`screenpilot.agent.run.loop.Observer`. After each step it replaces
``DIR/latest.png`` (the step's screenshot with its screen-space actions drawn on) and
``DIR/latest.json`` (task, step, actions, url, error, timings, status). Both are written to a
temporary file in ``DIR`` and renamed over the old one (``os.replace``), so a reader polling the
files (an image viewer, a web page, a script) never sees a half-written file.

``latest.json``::

    {"task": str, "status": "running" | "success" | "failure" | "error" | "stopped",
     "step": int | null, "actions": [str], "url": str | null, "title": str | null,
     "error": {"type", "message", "hint"} | null, "timings": {phase: seconds},
     "updated_at": unix seconds, "outcome": {"status", "reason", "steps", "answer", "message"} | null}
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from screenpilot.agent.actions import describe
from screenpilot.agent.reports.annotate import annotate, step_caption
from screenpilot.agent.run.loop import RunResult, StepRecord

IMAGE_NAME = "latest.png"
STATUS_NAME = "latest.json"


class LiveScreenshotObserver:
    """Keeps ``directory/latest.png`` and ``directory/latest.json`` up to date during a run.

    The folder is created on start. Writing errors (a full disk, a removed folder) are swallowed
    after the first one is noted in :attr:`last_error`: a live view must never end a run.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.last_error: OSError | None = None
        self._status: dict[str, Any] = {}

    @property
    def image_path(self) -> Path:
        """Where the latest annotated screenshot is."""
        return self.directory / IMAGE_NAME

    @property
    def status_path(self) -> Path:
        """Where the latest status JSON is."""
        return self.directory / STATUS_NAME

    def on_start(self, task: str) -> None:
        """Create the folder and write a ``running`` status with no step yet."""
        self._status = {"task": task, "status": "running", "step": None, "actions": [], "url": None,
                        "title": None, "error": None, "timings": {}, "outcome": None}
        self._guarded(self._write_status)

    def on_step(self, step: StepRecord) -> None:
        """Write the annotated screenshot, then the status describing it."""
        error = None if step.error is None else {"type": step.error.type, "message": step.error.message,
                                                  "hint": step.error.hint}
        self._status.update(step=step.index, actions=[describe(a) for a in step.screen_actions],
                            url=step.frame.url, title=step.frame.title, error=error, timings=dict(step.timings))
        caption = step_caption(step.index, step.screen_actions, None if step.error is None else step.error.type)

        def write() -> None:
            image = annotate(step.frame.image, step.screen_actions, caption)
            self._replace(self.image_path, lambda tmp: image.save(tmp, format="PNG"))
            self._write_status()

        self._guarded(write)

    def on_end(self, result: RunResult) -> None:
        """Record the outcome in the status file."""
        self._status.update(status=result.status, outcome=asdict(result))
        self._guarded(self._write_status)

    def _write_status(self) -> None:
        self._status["updated_at"] = time.time()
        text = json.dumps(self._status, ensure_ascii=False, default=str, indent=2)
        self._replace(self.status_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def _replace(self, target: Path, write: Callable[[Path], object]) -> None:
        """Call ``write(tmp_path)`` then rename the temporary file over ``target`` atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except OSError as exc:
            self.last_error = exc


__all__ = ["IMAGE_NAME", "STATUS_NAME", "LiveScreenshotObserver"]
