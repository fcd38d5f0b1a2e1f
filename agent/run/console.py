"""Terminal display of a run as it happens (an observer, attached by the CLI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from screenpilot.agent.actions import describe
from screenpilot.agent.run.loop import RunResult, StepRecord

_STATUS_STYLE = {"success": "bold green", "failure": "bold yellow", "error": "bold red", "stopped": "bold magenta"}


class _Waiting:
    """``step N: waiting for the model, 12 s``: rendered anew at each refresh of a Live display."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.started = time.monotonic()

    def __rich__(self) -> Text:
        return Text(f"step {self.index}: waiting for the model, {time.monotonic() - self.started:.0f} s", style="dim")


class ConsoleObserver:
    """Prints one line per step (action, timings, errors) and the outcome, with rich; on a terminal, a line counting
    the seconds while the model is waited for (gone once the reply is in)."""

    def __init__(self, console: Console | None = None, max_steps: int | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self._max_steps = max_steps

    def on_start(self, task: str) -> None:
        """Print the task."""
        self.console.print(f"[bold]Task:[/bold] {escape(task)}")

    @contextmanager
    def model_call(self, index: int) -> Iterator[None]:
        """While the model answers step ``index``: the live waiting line (terminals only)."""
        if not self.console.is_terminal:
            yield
            return
        with Live(_Waiting(index), console=self.console, refresh_per_second=4, transient=True):
            yield

    def on_step(self, step: StepRecord) -> None:
        """Print the step's actions, timings and any error."""
        of = f"/{self._max_steps}" if self._max_steps else ""
        actions = "; ".join(describe(a) for a in step.screen_actions) or "-"
        t = step.timings
        timing = " ".join(f"{k} {t[k]:.2f}s" for k in ("planner", "model", "execute", "settle") if k in t)
        if step.plan is not None and step.plan.instruction is not None:
            again = " (again)" if step.plan.regrounded else ""
            self.console.print(f"[cyan]step {step.index}{of}[/cyan] [magenta]plan{again}:[/magenta] "
                               f"{escape(step.plan.instruction)}")
        self.console.print(f"[cyan]step {step.index}{of}[/cyan] {escape(actions)}  [dim]{timing}[/dim]")
        for verdict in step.verdicts:
            if verdict.decision != "allow":
                self.console.print(f"  [yellow]{verdict.decision}[/yellow] ({verdict.rule}) {verdict.note or ''}")
        if step.error is not None:
            style = "yellow" if step.error.family == "model" else "red"
            self.console.print(f"  [{style}]{step.error.type}[/{style}]: {escape(step.error.message)}")

    def on_end(self, result: RunResult) -> None:
        """Print the outcome line."""
        style = _STATUS_STYLE.get(result.status, "bold")
        detail = f" — {escape(result.message)}" if result.message else ""
        answer = f"\n[bold]Answer:[/bold] {escape(result.answer)}" if result.answer else ""
        self.console.print(
            f"[{style}]{result.status.upper()}[/{style}] ({result.reason}) after {result.steps} step(s){detail}{answer}"
        )
