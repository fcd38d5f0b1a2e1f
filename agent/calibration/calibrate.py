"""``screenpilot calibrate``: does a click land where the model points?

For each calibration target (see :mod:`screenpilot.agent.calibration.layout`) the model gets one short run of
the normal loop (:class:`screenpilot.agent.run.loop.Agent`, same prompt format, resize and mapping as a real run)
with the task "Click the circle labelled 17"; the surface (:mod:`screenpilot.agent.calibration.surfaces`)
reports where the click really landed. The report compares landed clicks with target centres:
hit rate, median and 95th-percentile error, a per-axis fit ``landed = scale * true + offset`` and
a plain-words diagnosis (:mod:`screenpilot.agent.calibration.fit`). Beside it, a check that needs no model
compares the advertised image size with the image the backend really sends
(:mod:`screenpilot.agent.calibration.request`).

Pixel spaces: ``centre``, ``landed`` and every error are *screen pixels* of the surface (viewport
CSS pixels or monitor pixels); ``model_size`` and model actions are *model space*.

Outputs (:func:`write_outputs`): ``calibration.json`` and ``calibration.png`` (the targets, each
landed click, and a line from centre to click) in the output folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from screenpilot.agent.actions import Action, Click, Point, to_json
from screenpilot.agent.calibration.fit import (
    Diagnosis,
    ErrorStats,
    Fit,
    diagnose,
    error_stats,
    fit_clicks,
    size_mismatch,
)
from screenpilot.agent.calibration.layout import Target
from screenpilot.agent.calibration.request import SizeCheck
from screenpilot.agent.calibration.surfaces import CLICK_WAIT_S, CalibrationSurface
from screenpilot.agent.errors import InfrastructureError
from screenpilot.agent.run.loop import Agent, LoopLimits, RunResult, StepRecord
from screenpilot.agent.run.settings import BrowserTarget, DesktopTarget, ModelSettings, PromptSettings
from screenpilot.models.base import ModelBackend, PromptFormat

STEPS_PER_TARGET = 1
"""Model calls per target: one reply, one click (a second call would only invite a terminate)."""


@dataclass(frozen=True)
class TargetResult:
    """One target's outcome. ``landed``: the first click that landed (screen px), None when no
    click arrived; ``clicks``: how many arrived; ``error_px``: distance from the centre (screen px);
    ``problem``: why nothing was clicked (the parser's message, an exhausted script ...)."""

    target: Target
    reply: str | None
    model_actions: tuple[Action, ...]
    screen_actions: tuple[Action, ...]
    landed: Point | None
    clicks: int
    error_px: float | None
    hit: bool
    problem: str | None = None
    rejected: bool = False

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (target, reply, actions in both spaces, landed click, error, hit)."""
        return {
            "target": self.target.to_json(),
            "reply": self.reply,
            "model_actions": [to_json(a) for a in self.model_actions],
            "screen_actions": [to_json(a) for a in self.screen_actions],
            "landed": None if self.landed is None else [self.landed.x, self.landed.y],
            "clicks": self.clicks,
            "error_px": self.error_px,
            "hit": self.hit,
            "problem": self.problem,
        }


@dataclass
class CalibrationReport:
    """Everything a calibration found. ``screen_size`` (screen px) and ``model_size`` (model px)
    are (width, height). ``screenshot``: the clean target surface, screen pixels (not in JSON)."""

    surface: dict[str, object]
    model: dict[str, object]
    prompt: dict[str, object]
    screen_size: tuple[int, int]
    model_size: tuple[int, int]
    results: list[TargetResult]
    stats: ErrorStats
    fit: Fit | None
    diagnosis: Diagnosis
    size_check: SizeCheck | None = None
    screenshot: Image.Image | None = field(default=None, repr=False)

    @property
    def faults(self) -> list[Diagnosis]:
        """Every fault found: the request-size check's first, then the clicks'."""
        found: list[Diagnosis] = []
        check = self.size_check
        if check is not None and check.status == "fail":
            sent = check.sent[0] if check.sent else None
            if check.server_image_tokens is not None:
                found.append(Diagnosis("fault", "image_size_mismatch", check.message,
                                       {"advertised_size": list(check.advertised or ()),
                                        "server_image_tokens": check.server_image_tokens,
                                        "expected_image_tokens": check.expected_image_tokens}))
            elif check.advertised is not None and sent is not None:
                found.append(size_mismatch(check.advertised, sent, "in the request"))
            else:
                found.append(Diagnosis("fault", "image_size_mismatch", check.message))
        if self.diagnosis.verdict == "fault":
            found.append(self.diagnosis)
        return found

    @property
    def verdict(self) -> str:
        """``fault`` when any fault was found, else the click diagnosis' verdict (ok | inconclusive)."""
        return "fault" if self.faults else self.diagnosis.verdict

    def to_json(self) -> dict[str, object]:
        """The content of ``calibration.json``."""
        return {
            "verdict": self.verdict,
            "diagnosis": {**asdict(self.diagnosis), "details": dict(self.diagnosis.details)},
            "faults": [f.code for f in self.faults],
            "size_check": None if self.size_check is None else self.size_check.to_json(),
            "summary": asdict(self.stats),
            "fit": None if self.fit is None else asdict(self.fit),
            "screen_size": list(self.screen_size),
            "model_size": list(self.model_size),
            "surface": self.surface,
            "model": self.model,
            "prompt": self.prompt,
            "targets": [r.to_json() for r in self.results],
        }


class _StepCatcher:
    """An observer that keeps the last step of a run."""

    def __init__(self) -> None:
        self.step: StepRecord | None = None

    def on_start(self, task: str) -> None:
        self.step = None

    def on_step(self, step: StepRecord) -> None:
        self.step = step

    def on_end(self, result: RunResult) -> None:
        """Nothing to do: the caller reads :attr:`step`."""


def _problem(step: StepRecord | None, result: RunResult, clicked: bool) -> str | None:
    if clicked:
        return None
    if step is not None and step.error is not None:
        return f"{step.error.type}: {step.error.message}"
    if step is not None and not any(isinstance(a, Click) for a in step.screen_actions):
        return "the reply held no click"
    return result.message or result.reason


def run_target(model: ModelBackend, prompt: PromptFormat, surface: CalibrationSurface, target: Target) -> TargetResult:
    """Ask the model to click ``target`` through one short loop run and see where it landed.

    Raises :class:`InfrastructureError` when the run ended on one (backend down, browser gone).
    """
    surface.reset_clicks()
    catcher = _StepCatcher()
    agent = Agent(model=model, prompt=prompt, executor=surface.executor, observers=[catcher],
                  limits=LoopLimits(max_steps=STEPS_PER_TARGET, max_consecutive_model_errors=STEPS_PER_TARGET))
    result = agent.run(target.task)
    if result.status == "error":
        raise InfrastructureError(f"calibration stopped at target {target.number}: {result.message}")
    step = catcher.step
    executed_click = step is not None and step.executed > 0 and any(isinstance(a, Click) for a in step.screen_actions)
    clicks = surface.new_clicks(CLICK_WAIT_S if executed_click else 0.0)
    landed = clicks[0] if clicks else None
    error = None if landed is None else round(math.hypot(landed.x - target.centre.x, landed.y - target.centre.y), 3)
    return TargetResult(
        target=target,
        reply=None if step is None or step.reply is None else step.reply.text,
        model_actions=() if step is None else step.model_actions,
        screen_actions=() if step is None else step.screen_actions,
        landed=landed, clicks=len(clicks), error_px=error,
        hit=landed is not None and target.contains(landed),
        problem=_problem(step, result, landed is not None),
        rejected=step is not None and step.error is not None and step.error.type == "InvalidArgumentError",
    )


def summarise(
    results: Sequence[TargetResult], screen_size: tuple[int, int], model_size: tuple[int, int]
) -> tuple[ErrorStats, Fit | None, Diagnosis]:
    """Statistics, fit and diagnosis of ``results`` (pure)."""
    stats = error_stats([r.error_px for r in results], [r.hit for r in results])
    pairs = [((r.target.centre.x, r.target.centre.y), (r.landed.x, r.landed.y)) for r in results if r.landed]
    fit = fit_clicks(pairs, screen_size)
    rejected = sum(r.rejected for r in results)
    return stats, fit, diagnose(fit, stats, screen_size, model_size, rejected=rejected)


Progress = Callable[[TargetResult, int, int], None]


def run_calibration(
    model: ModelBackend,
    prompt: PromptFormat,
    surface: CalibrationSurface,
    *,
    size_check: SizeCheck | None = None,
    progress: Progress | None = None,
) -> CalibrationReport:
    """Calibrate ``model`` with ``prompt`` on ``surface``: every target once, then the report.

    ``size_check``: the result of :func:`screenpilot.agent.calibration.request.check_request_size`, folded
    into the verdict. ``progress(result, index, total)`` is called after each target.
    """
    screen_size = surface.executor.size
    model_size = prompt.model_size(screen_size)
    screenshot = surface.executor.screenshot().image
    results: list[TargetResult] = []
    for index, target in enumerate(surface.targets, start=1):
        results.append(run_target(model, prompt, surface, target))
        if progress is not None:
            progress(results[-1], index, len(surface.targets))
    stats, fit, diagnosis = summarise(results, screen_size, model_size)
    return CalibrationReport(
        surface=surface.describe(), model=model.describe(),
        prompt={"name": prompt.name, "min_pixels": prompt.min_pixels, "max_pixels": prompt.max_pixels},
        screen_size=screen_size, model_size=model_size, results=results, stats=stats, fit=fit,
        diagnosis=diagnosis, size_check=size_check, screenshot=screenshot,
    )


# --- outputs ---------------------------------------------------------------------------------

HIT_COLOUR = (0, 170, 0)
MISS_COLOUR = (220, 0, 0)
NO_CLICK_COLOUR = (255, 140, 0)


def _outline(draw: ImageDraw.ImageDraw, target: Target, colour: tuple[int, int, int]) -> None:
    left, top, right, bottom = target.box
    pad = 3
    box = (left - pad, top - pad, right + pad, bottom + pad)
    if target.kind == "circle":
        draw.ellipse(box, outline=colour, width=2)
    else:
        draw.rectangle(box, outline=colour, width=2)


def _cross(draw: ImageDraw.ImageDraw, at: Point, colour: tuple[int, int, int]) -> None:
    arm = 6
    draw.line((at.x - arm, at.y - arm, at.x + arm, at.y + arm), fill=colour, width=2)
    draw.line((at.x - arm, at.y + arm, at.x + arm, at.y - arm), fill=colour, width=2)


def summary_line(report: CalibrationReport) -> str:
    """One line: hits, errors and the fit."""
    s = report.stats
    line = f"hit {s.hits}/{s.targets} ({s.hit_rate:.0%})"
    if s.median_px is not None:
        line += f", median error {s.median_px:.1f} px, p95 {s.p95_px:.1f} px"
    if report.fit is not None:
        fx, fy = report.fit.x, report.fit.y
        line += f"; fit x' = {fx.scale:.3f}x {fx.offset:+.1f}, y' = {fy.scale:.3f}y {fy.offset:+.1f}"
    return line


def annotate_report(report: CalibrationReport) -> Image.Image:
    """The clean screenshot with every target ringed (green hit, red miss, orange no click), each
    landed click as a cross and a line from the centre to it, and a caption strip added *below*
    the screenshot (so image pixels above it are still screen pixels)."""
    from screenpilot.agent.reports.annotate import font

    base = report.screenshot or Image.new("RGB", report.screen_size, (255, 255, 255))
    caption = [f"{report.verdict.upper()}: {report.diagnosis.code}", summary_line(report)]
    strip = 20 * len(caption) + 8
    canvas = Image.new("RGB", (base.width, base.height + strip), (0, 0, 0))
    canvas.paste(base.convert("RGB"), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for result in report.results:
        colour = HIT_COLOUR if result.hit else (MISS_COLOUR if result.landed else NO_CLICK_COLOUR)
        _outline(draw, result.target, colour)
        if result.landed is not None:
            centre = result.target.centre
            draw.line((centre.x, centre.y, result.landed.x, result.landed.y), fill=colour, width=2)
            _cross(draw, result.landed, colour)
    face = font(14)
    for n, line in enumerate(caption):
        draw.text((6, base.height + 5 + 20 * n), line, font=face, fill=(255, 255, 255))
    return canvas


def write_outputs(report: CalibrationReport, out_dir: Path) -> tuple[Path, Path]:
    """Write ``calibration.json`` and ``calibration.png`` into ``out_dir`` (created); their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out_dir / "calibration.json", out_dir / "calibration.png"
    json_path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    annotate_report(report).save(png_path)
    return json_path, png_path


# --- the gate before an evaluation -----------------------------------------------------------


def calibrate_target(
    model: ModelBackend,
    prompt: PromptFormat,
    target: BrowserTarget | DesktopTarget,
    *,
    quick: bool,
    check_size: bool = True,
    progress: Progress | None = None,
) -> CalibrationReport:
    """Open the calibration surface for ``target``, check the request size (and an OpenAI-compatible
    server's own image-token count), run, close."""
    from screenpilot.agent.calibration.request import check_request_size, check_server_image_tokens
    from screenpilot.agent.calibration.surfaces import open_surface

    with open_surface(target, quick=quick) as surface:
        size = surface.executor.size
        check = check_server_image_tokens(model, prompt, size, check_request_size(model, prompt, size)) \
            if check_size else None
        return run_calibration(model, prompt, surface, size_check=check, progress=progress)


def verdict_message(report: CalibrationReport) -> str:
    """The diagnosis in words, preceded by any request-size fault."""
    parts = [f.message for f in report.faults if f is not report.diagnosis]
    parts.append(report.diagnosis.message)
    return " ".join(parts)


def quick_calibration_ok(
    model_settings: ModelSettings,
    prompt_settings: PromptSettings,
    target: BrowserTarget | DesktopTarget | None = None,
    *,
    model: ModelBackend | None = None,
    out_dir: Path | None = None,
) -> tuple[bool, str]:
    """A quick (3 x 3) calibration before an evaluation: ``(ok, message)``.

    ``ok`` is False only when a systematic fault was diagnosed (a request-size mismatch or a
    click pattern); an inconclusive result (e.g. a weak model that clicks nothing) is ok with a
    message saying so. A ``scripted:`` model spec is not calibrated (its replies belong to the
    scenario). ``model``: calibrate this already built backend (left open) instead of building
    one from ``model_settings`` (and closing it). ``out_dir``: also write calibration.json / .png there.
    Raises InfrastructureError when the calibration cannot run (browser missing, server down).
    """
    from screenpilot.agent.run.runner import build_model, build_prompt_format
    from screenpilot.models.select import SCRIPTED_PREFIX

    if model is None and model_settings.spec.strip().startswith(SCRIPTED_PREFIX):
        return True, "calibration skipped: a scripted model replays fixed replies"
    chosen = target or BrowserTarget()
    kind = "browser" if isinstance(chosen, BrowserTarget) else "desktop"
    backend = model or build_model(model_settings)
    try:
        prompt = build_prompt_format(prompt_settings, kind, model_settings.spec)
        report = calibrate_target(backend, prompt, chosen, quick=True)
    finally:
        if model is None:
            backend.close()
    if out_dir is not None:
        write_outputs(report, out_dir)
    return report.verdict != "fault", f"{summary_line(report)}. {verdict_message(report)}"


__all__ = [
    "CalibrationReport",
    "TargetResult",
    "annotate_report",
    "calibrate_target",
    "quick_calibration_ok",
    "run_calibration",
    "run_target",
    "summarise",
    "summary_line",
    "verdict_message",
    "write_outputs",
]
