"""``screenpilot run TASK``: carry out one task in a browser, on the desktop or on a phone."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from screenpilot.agent.cli.app import app, command
from screenpilot.agent.cli.exits import EPILOG, exit_for_status
from screenpilot.agent.cli.options import RUN_GROUPS, ModelOptions, RunOutput, SafetyOptions, Target, run_settings
from screenpilot.agent.run.settings import BrowserTarget, PhoneTarget, PlannerSettings, PromptSettings


@command(app, "run", groups=RUN_GROUPS, epilog=EPILOG,
         summary="carry out a task in a browser, on the desktop or on a phone",
         help="Carry out TASK: screenshot -> model -> action, until the model terminates or a budget runs out. "
         "The trajectory goes to a new folder in --out.")
def cmd_run(
    console: Console,
    task: Annotated[str, typer.Argument(help="what to do, in plain words", show_default=False)],
    where: Target,
    model: ModelOptions,
    prompt: PromptSettings,
    safety: SafetyOptions,
    output: RunOutput,
    planner: PlannerSettings | None,
) -> int:
    """Run one task and print where its trajectory is; the exit code follows the run's status."""
    from screenpilot.agent.reports.live import LiveScreenshotObserver
    from screenpilot.agent.run.console import ConsoleObserver
    from screenpilot.agent.run.interrupts import StopFlag, graceful_interrupts
    from screenpilot.agent.run.loop import Observer
    from screenpilot.agent.run.runner import run_task

    if isinstance(where, BrowserTarget | PhoneTarget) and not where.url and not output.quiet:
        console.print("[yellow]No --url given: the browser starts on a blank page (about:blank).[/yellow]")
    settings = run_settings(task, where=where, model=model, prompt=prompt, safety=safety, output=output,
                            planner=planner)
    observers: list[Observer] = [] if output.quiet else [ConsoleObserver(console, output.max_steps)]
    if output.live_screenshots is not None:
        observers.append(LiveScreenshotObserver(output.live_screenshots))
    with graceful_interrupts(StopFlag()) as stop:
        outcome = run_task(settings, observers, should_stop=stop)
    if output.quiet:
        console.print(f"{outcome.result.status} ({outcome.result.reason}) after {outcome.result.steps} step(s)")
    console.print(f"Trajectory: {outcome.run_dir}")
    return exit_for_status(outcome.result.status)
