"""``screenpilot calibrate``: check that clicks land where the model points.

Shows numbered targets (the bundled page in Chromium, or a full-screen Tk window with
``--desktop``), asks the model to click each one through the normal loop, and reports the hit
rate, the pixel errors, a per-axis fit and a diagnosis; first it checks, without the model, that
the image the backend sends has the size the prompt advertises. Writes ``calibration.json`` and
``calibration.png`` into ``--out``.

Exit codes: 0 no systematic fault (all good, scattered misses, or too few clicks to tell);
1 a systematic fault was diagnosed; 2 usage or configuration error; 3 infrastructure error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from screenpilot.agent.cli.app import app, command
from screenpilot.agent.cli.options import MODEL, OUTPUT_PANEL, PROMPT, WHERE, ModelOptions, Target
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.settings import BrowserTarget, DesktopTarget, PromptSettings

if TYPE_CHECKING:
    from screenpilot.agent.calibration.calibrate import CalibrationReport, Progress, TargetResult

EXIT_OK = 0
EXIT_FAULT = 1

CALIBRATION_WHERE = WHERE.without("launch", "no_fail_safe", "phone", "adb")
"""Browser and desktop options; calibration shows its own targets, so nothing is launched."""


def _calibration_target(where: Target) -> BrowserTarget | DesktopTarget:
    """The browser or desktop target (the only kinds :data:`CALIBRATION_WHERE` makes)."""
    if not isinstance(where, BrowserTarget | DesktopTarget):
        raise ConfigError("calibrate runs in a browser or on the desktop")
    return where


def _progress(console: Console) -> Progress:
    def show(result: TargetResult, index: int, total: int) -> None:
        t = result.target
        if result.landed is None:
            problem = " ".join((result.problem or "no reason given").split())
            problem = problem if len(problem) <= 70 else problem[:69] + "…"
            outcome = f"[yellow]no click[/yellow] ({escape(problem)})"
        else:
            mark = "[green]hit[/green]" if result.hit else "[red]miss[/red]"
            outcome = f"landed ({result.landed.x}, {result.landed.y}), {result.error_px:.1f} px, {mark}"
        console.print(f"  {index:>2}/{total} {escape(t.task):<32} at ({t.centre.x}, {t.centre.y}): {outcome}",
                      soft_wrap=True)

    return show


def print_report(report: CalibrationReport, console: Console) -> None:
    """The size check, the summary line and the diagnosis."""
    from screenpilot.agent.calibration.calibrate import summary_line, verdict_message

    if report.size_check is not None:
        colour = {"pass": "green", "fail": "red", "skipped": "yellow"}[report.size_check.status]
        console.print(f"Image size check: [{colour}]{report.size_check.status}[/{colour}] - "
                      f"{escape(report.size_check.message)}", soft_wrap=True)
    console.print(f"Screen {report.screen_size[0]}x{report.screen_size[1]} px, model image "
                  f"{report.model_size[0]}x{report.model_size[1]} px: {summary_line(report)}", soft_wrap=True)
    colour = {"ok": "green", "fault": "bold red", "inconclusive": "yellow"}[report.verdict]
    console.print(f"[{colour}]{report.verdict.upper()}[/{colour}] {escape(verdict_message(report))}", soft_wrap=True)


@command(app, "calibrate", groups={"where": CALIBRATION_WHERE, "model": MODEL, "prompt": PROMPT},
         epilog="Exit codes: 0 no systematic fault, 1 a fault was diagnosed, 2 usage/configuration error, "
         "3 infrastructure error.",
         summary="check that the model's clicks land on target (coordinates, resize, offsets)",
         help="Check that the model's clicks land on target (coordinates, resize, offsets): ask the model to click "
         "numbered targets and measure where the clicks land: hit rate, median / p95 error in pixels, a fit "
         "landed = scale * true + offset per axis and a diagnosis (resize mismatch, 0-1000 coordinates, constant "
         "offset, HiDPI factor). Also checks, without the model, that the image the backend sends has the size the "
         "prompt advertises. --url defaults to the bundled scenarios/calibration/targets.html.")
def cmd_calibrate(
    console: Console,
    where: Target,
    model: ModelOptions,
    prompt: PromptSettings,
    quick: Annotated[bool, typer.Option(help="a 3x3 grid of circles (9 targets) instead of 28 targets",
                                        rich_help_panel=OUTPUT_PANEL)] = False,
    no_size_check: Annotated[bool, typer.Option(help="skip the request image-size check",
                                                rich_help_panel=OUTPUT_PANEL)] = False,
    out: Annotated[Path, typer.Option(help="folder for calibration.json and calibration.png",
                                      rich_help_panel=OUTPUT_PANEL)] = Path("calibration"),
) -> int:
    """Run, print, write the outputs; exit 1 on a diagnosed fault."""
    from screenpilot.agent.calibration.calibrate import calibrate_target, write_outputs
    from screenpilot.agent.run.runner import build_model, build_prompt_format

    target = _calibration_target(where)
    model_settings = model.required()
    backend = build_model(model_settings)
    try:
        kind = "browser" if isinstance(target, BrowserTarget) else "desktop"
        prompt_format = build_prompt_format(prompt, kind, model_settings.spec)
        console.print(f"Calibrating {escape(backend.name)} ({'quick 3x3 grid' if quick else '28 targets'}) ...")
        report = calibrate_target(backend, prompt_format, target, quick=quick, check_size=not no_size_check,
                                  progress=_progress(console))
    finally:
        backend.close()
    print_report(report, console)
    json_path, png_path = write_outputs(report, out)
    console.print(f"Wrote {json_path} and {png_path}", soft_wrap=True)
    return EXIT_FAULT if report.verdict == "fault" else EXIT_OK
