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

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from screenpilot.agent.cli.main import _add_model_options, _positive_int, size_arg, url_arg
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.settings import BrowserTarget, DesktopTarget, ModelSettings, PromptSettings, RunSettings

if TYPE_CHECKING:
    from screenpilot.agent.calibration.calibrate import CalibrationReport, Progress, TargetResult

EXIT_OK = 0
EXIT_FAULT = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``calibrate`` on the ``screenpilot`` subcommand parser ``sub``."""
    parser = sub.add_parser(
        "calibrate", help="check that the model's clicks land on target (coordinates, resize, offsets)",
        description="Ask the model to click numbered targets and measure where the clicks land: hit rate, "
        "median / p95 error in pixels, a fit landed = scale * true + offset per axis and a diagnosis (resize "
        "mismatch, 0-1000 coordinates, constant offset, HiDPI factor). Also checks, without the model, that the "
        "image the backend sends has the size the prompt advertises.",
        epilog="Exit codes: 0 no systematic fault, 1 a fault was diagnosed, 2 usage/configuration error, "
        "3 infrastructure error.")
    where = parser.add_argument_group("where")
    where.add_argument("--url", type=url_arg, default=None,
                       help="browser: a copy of the target page (default: the bundled "
                       "scenarios/calibration/targets.html)")
    where.add_argument("--viewport", type=size_arg, default=(1280, 720), help="browser: WxH (default 1280x720)")
    where.add_argument("--headed", action="store_true", help="browser: show the window")
    where.add_argument("--browser-path", default=None, help="browser: Chromium executable (default: detect)")
    where.add_argument("--desktop", action="store_true", help="calibrate on the X11 desktop (a full-screen Tk window)")
    where.add_argument("--monitor", type=_positive_int, default=1, help="desktop: monitor number (default 1)")
    where.add_argument("--virtual-display", type=size_arg, default=None,
                       help="desktop: start an Xvfb display of WxH for the calibration")
    _add_model_options(parser)
    out = parser.add_argument_group("calibration")
    out.add_argument("--quick", action="store_true", help="a 3x3 grid of circles (9 targets) instead of 28 targets")
    out.add_argument("--no-size-check", action="store_true", help="skip the request image-size check")
    out.add_argument("--out", type=Path, default=Path("calibration"),
                     help="folder for calibration.json and calibration.png (default ./calibration)")
    parser.set_defaults(handler=cmd_calibrate)


def target_from_args(args: argparse.Namespace) -> BrowserTarget | DesktopTarget:
    """Where to calibrate; ConfigError for options of the other kind."""
    if args.desktop:
        if args.url:
            raise ConfigError("--url is for the browser; --desktop shows its own target window")
        return DesktopTarget(monitor=args.monitor, virtual_display=args.virtual_display,
                             fail_safe=args.virtual_display is None)
    if args.virtual_display:
        raise ConfigError("--virtual-display needs --desktop")
    return BrowserTarget(args.url, args.viewport, args.headed, args.browser_path)


def model_settings_from_args(args: argparse.Namespace) -> tuple[ModelSettings, PromptSettings]:
    """Model and prompt settings from the options of ``_add_model_options`` (reads the API
    environment variables, as ``screenpilot run`` does)."""
    if args.min_pixels > args.max_pixels:
        raise ConfigError(f"--min-pixels ({args.min_pixels}) must not exceed --max-pixels ({args.max_pixels})")
    model = ModelSettings(
        spec=args.model,
        api_base=args.api_base or os.environ.get("SCREENPILOT_API_BASE"),
        api_key=os.environ.get("SCREENPILOT_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        max_new_tokens=args.max_new_tokens, device_map=args.device_map, dtype=args.dtype,
        attn_implementation=args.attn_implementation, image_format=args.image_format,
        timeout_s=args.timeout, max_retries=args.retries,
    )
    prompt = PromptSettings(format=args.prompt_format, min_pixels=args.min_pixels, max_pixels=args.max_pixels,
                            keep_images=args.keep_images)
    return model, prompt


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


def cmd_calibrate(args: argparse.Namespace, console: Console) -> int:
    """``screenpilot calibrate``: run, print, write the outputs; exit 1 on a diagnosed fault."""
    from screenpilot.agent.calibration.calibrate import calibrate_target, write_outputs
    from screenpilot.agent.run.runner import build_model, build_prompt_format

    target = target_from_args(args)
    model_settings, prompt_settings = model_settings_from_args(args)
    model = build_model(RunSettings(task="calibrate", model=model_settings))
    try:
        kind = "browser" if isinstance(target, BrowserTarget) else "desktop"
        prompt = build_prompt_format(prompt_settings, kind, model_settings.spec)
        console.print(f"Calibrating {escape(model.name)} ({'quick 3x3 grid' if args.quick else '28 targets'}) ...")
        report = calibrate_target(model, prompt, target, quick=args.quick, check_size=not args.no_size_check,
                                  progress=_progress(console))
    finally:
        model.close()
    print_report(report, console)
    json_path, png_path = write_outputs(report, args.out)
    console.print(f"Wrote {json_path} and {png_path}", soft_wrap=True)
    return EXIT_FAULT if report.verdict == "fault" else EXIT_OK
