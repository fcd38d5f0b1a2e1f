"""``screenpilot run TASK``: carry out one task in a browser, on the desktop or on a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from screenpilot.agent.cli.app import app, command
from screenpilot.agent.cli.exits import EPILOG, exit_for_status
from screenpilot.agent.cli.options import (
    MODEL,
    OUTPUT_PANEL,
    PROMPT,
    SAFETY,
    WHERE,
    ModelOptions,
    SafetyOptions,
    Target,
)
from screenpilot.agent.run.loop import DEFAULT_MAX_STEPS
from screenpilot.agent.run.settings import BrowserTarget, PhoneTarget, PromptSettings, RunSettings


@command(app, "run", groups={"where": WHERE, "model": MODEL, "prompt": PROMPT, "safety": SAFETY}, epilog=EPILOG,
         summary="carry out a task in a browser, on the desktop or on a phone",
         help="Carry out TASK: screenshot -> model -> action, until the model terminates or a budget runs out. "
         "The trajectory goes to a new folder in --out.")
def cmd_run(  # noqa: PLR0913 - one parameter per option or option group
    console: Console,
    task: Annotated[str, typer.Argument(help="what to do, in plain words", show_default=False)],
    where: Target,
    model: ModelOptions,
    prompt: PromptSettings,
    safety: SafetyOptions,
    max_steps: Annotated[int, typer.Option(min=1, help="model calls at most",
                                           rich_help_panel=OUTPUT_PANEL)] = DEFAULT_MAX_STEPS,
    max_model_errors: Annotated[int, typer.Option(min=1, help="consecutive unusable replies before giving up",
                                                  rich_help_panel=OUTPUT_PANEL)] = RunSettings.max_model_errors,
    out: Annotated[Path, typer.Option(help="folder for run folders", rich_help_panel=OUTPUT_PANEL)] = Path("runs"),
    quiet: Annotated[bool, typer.Option(help="print only the outcome", rich_help_panel=OUTPUT_PANEL)] = False,
    live_screenshots: Annotated[Path | None, typer.Option(
        metavar="DIR", help="keep DIR/latest.png (annotated) and DIR/latest.json updated after each step",
        rich_help_panel=OUTPUT_PANEL)] = None,
) -> int:
    """Run one task and print where its trajectory is; the exit code follows the run's status."""
    from screenpilot.agent.reports.live import LiveScreenshotObserver
    from screenpilot.agent.run.console import ConsoleObserver
    from screenpilot.agent.run.interrupts import StopFlag, graceful_interrupts
    from screenpilot.agent.run.loop import Observer
    from screenpilot.agent.run.runner import run_task

    start_url = where.url if isinstance(where, BrowserTarget | PhoneTarget) else None
    if isinstance(where, BrowserTarget | PhoneTarget) and not start_url and not quiet:
        console.print("[yellow]No --url given: the browser starts on a blank page (about:blank).[/yellow]")
    settings = RunSettings(task=task, model=model.required(), target=where, prompt=prompt, max_steps=max_steps,
                           max_model_errors=max_model_errors, out_dir=out, quiet=quiet, policy=safety.policy,
                           secrets=safety.secret_store(start_url))
    observers: list[Observer] = [] if quiet else [ConsoleObserver(console, max_steps)]
    if live_screenshots is not None:
        observers.append(LiveScreenshotObserver(live_screenshots))
    with graceful_interrupts(StopFlag()) as stop:
        outcome = run_task(settings, observers, should_stop=stop)
    if quiet:
        console.print(f"{outcome.result.status} ({outcome.result.reason}) after {outcome.result.steps} step(s)")
    console.print(f"Trajectory: {outcome.run_dir}")
    return exit_for_status(outcome.result.status)
