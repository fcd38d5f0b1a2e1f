"""Run folders: ``run.json``, ``steps.jsonl`` and one screenshot per step.

Layout of a run folder::

    run.json        task, model, prompt format, resize bounds, executor, versions, outcome
    steps.jsonl     one JSON object per finished step, appended and flushed as the step ends
    step_001.png    the screenshot the step observed (screen pixels)

``run.json`` is written at the start with ``"outcome": null`` and rewritten atomically (temp
file + rename) at the end, so it is always complete JSON. Steps are written off the step path by
:class:`~screenpilot.agent.run.step_writer.StepWriter`: the PNG first (renamed into place), then
the line, with a flush and fsync: a process killed at any moment leaves every recorded step
complete (no line without its image); :func:`read_steps` ignores a torn last line.

Both files hold the records of :mod:`screenpilot.agent.run.records`: the writer builds them and
the readers return them, validated.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import screenpilot
from screenpilot.agent.actions import to_json
from screenpilot.agent.errors import ConfigError, InfrastructureError
from screenpilot.agent.run.loop import RunResult, StepRecord
from screenpilot.agent.run.planner import PlanRecord
from screenpilot.agent.run.records import (
    PageProbe,
    PlannerLine,
    RunRecord,
    SessionCall,
    StepErrorRecord,
    StepLine,
    StepTimings,
    StepUsage,
    VerdictRecord,
    dump_record,
    validation_message,
)
from screenpilot.agent.run.step_writer import StepWriter

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
STEPS_FILE = "steps.jsonl"


def make_folder(folder: Path) -> Path:
    """Create ``folder`` (and its parents) unless it exists; ConfigError naming it when it cannot be (it is a file,
    a parent is missing and cannot be made, no permission)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_create(f"the folder {folder}", folder, exc) from None
    return folder


def _cannot_create(what: str, folder: Path, exc: OSError) -> ConfigError:
    """The error for ``what`` (e.g. "the folder X"), not created because of ``exc`` in ``folder``."""
    reason = "it is a file" if folder.is_file() else (exc.strerror or str(exc)).lower()
    return ConfigError(f"cannot create {what}: {reason}; give --out a folder you can write to")


def new_run_dir(out_dir: Path, task: str, now: Callable[[], datetime] = datetime.now) -> Path:
    """Create and return a fresh folder ``OUT/YYYYmmdd-HHMMSS-task-slug[-N]``; ConfigError when ``out_dir`` cannot
    hold one (see :func:`make_folder`)."""
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:40] or "run"
    base = f"{now().strftime('%Y%m%d-%H%M%S')}-{slug}"
    make_folder(out_dir)
    for n in range(1000):
        candidate = out_dir / (base if n == 0 else f"{base}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise _cannot_create(f"a run folder in {out_dir}", out_dir, exc) from None
        return candidate
    raise ConfigError(f"cannot create a run folder in {out_dir}: 1000 folders named {base}* exist already")


def library_versions() -> dict[str, str]:
    """Versions of Python, screenpilot and the libraries already imported (no new imports)."""
    versions = {"python": platform.python_version(), "screenpilot": screenpilot.__version__}
    for name in ("playwright", "transformers", "torch", "pyautogui", "mss", "cv2", "PIL"):
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module else None
        if version:
            versions[name] = str(version)
    return versions


def step_line(step: StepRecord, screenshot_name: str) -> StepLine:
    """The steps.jsonl line for ``step`` (pure)."""
    reply = step.reply
    events = step.frame.extra.get("events")
    optional: dict[str, Any] = {}  # written only when there is one, so other runs' lines keep their keys
    if step.call is not None:
        optional["call"] = SessionCall(kind=step.call[0], text=step.call[1])
    if step.plan is not None:
        optional["planner"] = planner_line(step.plan)
    if step.probes:
        optional["probes"] = [PageProbe.model_validate(probe) for probe in step.probes]
    return StepLine(
        index=step.index,
        started_at=step.started_at,
        url=step.frame.url,
        title=step.frame.title,
        events=[str(event) for event in events] if isinstance(events, list) else None,
        screen_size=step.frame.size,
        model_size=step.model_size,
        image_tokens=step.image_tokens,
        screenshot=screenshot_name,
        reply=None if reply is None else reply.text,
        usage=None if reply is None else StepUsage(**asdict(reply.usage)),
        model_timings=None if reply is None else reply.timings,
        actions_model=[to_json(a) for a in step.model_actions],
        actions_screen=[to_json(a) for a in step.screen_actions],
        verdicts=[VerdictRecord.model_validate(v.to_json()) for v in step.verdicts],
        executed=step.executed,
        error=None if step.error is None else StepErrorRecord(**asdict(step.error)),
        feedback=step.feedback,
        timings=StepTimings(**step.timings),
        **optional,
    )


def planner_line(plan: PlanRecord) -> PlannerLine:
    """The steps.jsonl form of a step's planner part (pure)."""
    decision = plan.decision
    return PlannerLine(
        request=plan.request, reply=plan.reply, kind=None if decision is None else decision.kind,
        text=None if decision is None else decision.text, missed=None if decision is None else decision.missed,
        thought=None if decision is None else decision.thought, instruction=plan.instruction,
        regrounded=plan.regrounded, grounder_note=plan.grounder_note, latency_s=plan.latency_s,
        usage=StepUsage(**asdict(plan.usage)))


class TrajectoryWriter:
    """Observer that writes a run folder as the run goes.

    ``metadata`` (model, prompt format, executor, limits...) goes into ``run.json`` as given
    (values JSON cannot hold are written as their ``str()``) and must fit :class:`RunRecord`
    (a ValueError on start otherwise). ``redact`` is applied to every JSON text before it is
    written (secret values become placeholders). A failed write (disk full, folder removed) raises
    :class:`InfrastructureError`, which ends the run; :meth:`on_end` still tries to record
    the outcome.
    """

    def __init__(self, run_dir: Path, metadata: Mapping[str, Any],
                 redact: Callable[[str], str] = lambda text: text) -> None:
        self.run_dir = run_dir
        self._redact = redact
        self._metadata: dict[str, Any] = json.loads(json.dumps(dict(metadata), default=str))
        self._run: RunRecord | None = None
        self._steps_file = run_dir / STEPS_FILE
        self._writer: StepWriter | None = None

    def on_start(self, task: str) -> None:
        """Write run.json with no outcome yet and create an empty steps.jsonl."""
        self._run = RunRecord.model_validate({
            "schema": SCHEMA_VERSION,
            "task": task,
            **self._metadata,
            "versions": library_versions(),
            "started_at": _iso_now(),
            "ended_at": None,
            "outcome": None,
        })
        self._write_run_json(self._run)
        self._steps_file.touch()

    def on_step(self, step: StepRecord) -> None:
        """Hand the step to the writer thread (:class:`StepWriter`): its screenshot is saved, then its line appended
        (flushed and fsynced), while the run goes on. Raises InfrastructureError when an earlier write failed."""
        name = f"step_{step.index:03d}.png"
        line = self._redact(json.dumps(dump_record(step_line(step, name)), ensure_ascii=False))
        if self._writer is None:
            self._writer = StepWriter(self.run_dir, self._steps_file)
        self._writer.submit(step.index, step.frame.image, name, line, step.frame.png)

    def flush(self) -> None:
        """Wait until every step handed over is on disk (readers of the folder see them all); InfrastructureError
        when a write failed."""
        if self._writer is not None:
            self._writer.flush()

    @property
    def write_s(self) -> list[float]:
        """Seconds the writer thread spent on each step written so far (PNG and line): the recording path's cost,
        kept out of the steps' ``total``."""
        return [] if self._writer is None else list(self._writer.write_s)

    def on_end(self, result: RunResult) -> None:
        """Wait for the steps still being written, then record the outcome in run.json (atomically); a failed write
        is reported on stderr. Nothing is written when the run never started."""
        if self._writer is not None:
            try:
                self._writer.close()
            except InfrastructureError as exc:
                sys.stderr.write(f"screenpilot: {exc.message}\n")
                if result.status != "error":
                    result = RunResult("error", "infrastructure", result.steps, message=exc.message)
        if self._run is None:
            return
        update: dict[str, Any] = {"ended_at": _iso_now(), "outcome": result}
        written = self.write_s
        if written:
            update["recording"] = {"steps": len(written),
                                   "write_ms_median": round(statistics.median(written) * 1000, 1),
                                   "write_ms_max": round(max(written) * 1000, 1)}
        self._run = self._run.model_copy(update=update)
        try:
            self._write_run_json(self._run)
        except OSError as exc:
            sys.stderr.write(f"screenpilot: could not record the outcome in {self.run_dir}/run.json: {exc}\n")

    def _write_run_json(self, record: RunRecord) -> None:
        tmp = self.run_dir / (RUN_FILE + ".tmp")
        text = self._redact(json.dumps(dump_record(record), indent=2, ensure_ascii=False))
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.run_dir / RUN_FILE)


def read_run(run_dir: Path) -> RunRecord:
    """The run.json of ``run_dir``. Raises FileNotFoundError when it is missing, and ValueError
    naming the file (and the fields) when it is not valid JSON or not a valid run record."""
    path = run_dir / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path} is not a valid run record: {validation_message(exc)}") from None


def step_from_json(value: object, where: str) -> StepLine:
    """One parsed steps.jsonl line as a :class:`StepLine`; ValueError naming ``where`` (file and
    line) and the fields when it is not a valid step."""
    try:
        return StepLine.model_validate(value)
    except ValidationError as exc:
        raise ValueError(f"{where} is not a valid step: {validation_message(exc)}") from None


def numbered_lines(run_dir: Path) -> list[tuple[int, str]]:
    """The non-blank lines of ``run_dir``'s steps.jsonl with their 1-based line numbers (none
    when the file is missing)."""
    path = run_dir / STEPS_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]


def read_steps(run_dir: Path) -> list[StepLine]:
    """Every complete step of ``run_dir``; a torn final line (killed mid-write) is skipped.
    ValueError naming the file and line for any other line that is not a valid step."""
    path = run_dir / STEPS_FILE
    lines = numbered_lines(run_dir)
    steps: list[StepLine] = []
    for position, (number, line) in enumerate(lines, start=1):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            if position == len(lines):
                break
            raise ValueError(f"{path}:{number} is not valid JSON") from None
        steps.append(step_from_json(value, f"{path}:{number}"))
    return steps


def _iso_now() -> str:
    return datetime.fromtimestamp(time.time(), tz=timezone.utc).isoformat(timespec="milliseconds")
