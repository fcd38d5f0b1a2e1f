"""``screenpilot view`` and ``screenpilot compare``: HTML reports of runs and evaluations.

``screenpilot view DIR`` writes ``DIR/report.html`` for a run folder (run.json / steps.jsonl),
optionally with a GIF and an MP4 beside it, or the evaluation page (plus a report per episode)
for an evaluation folder (results.json). ``screenpilot compare A B`` prints a table comparing two
evaluation folders and writes an HTML page. Reports open in a browser only with ``--open``.
Exit codes: 0 written; 2 the folder is neither kind, or its files are malformed.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from screenpilot.agent.cli.app import app, command
from screenpilot.agent.cli.exits import EXIT_SUCCESS as EXIT_OK
from screenpilot.agent.cli.exits import EXIT_USAGE

OpenOption = Annotated[bool, typer.Option("--open", help="open the page in the default web browser")]


def _error(console: Console, message: str) -> int:
    console.print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
    return EXIT_USAGE


def _open(path: Path) -> None:
    webbrowser.open(path.resolve().as_uri())


def _view_run(
    path: Path, out: Path | None, console: Console, *, gif: bool, mp4: bool, width: int, seconds_per_step: float,
    link_images: bool,
) -> Path:
    from screenpilot.agent.reports.media import write_gif, write_video
    from screenpilot.agent.reports.run_report import write_run_report

    report = write_run_report(path, out, embed_images=not link_images)
    console.print(f"Report: {report}", soft_wrap=True)
    if gif:
        gif_file = write_gif(path, report.with_name("run.gif"), width, seconds_per_step)
        console.print(f"GIF: {gif_file}", soft_wrap=True)
    if mp4:
        try:
            video = write_video(path, report.with_name("run.mp4"), width, seconds_per_step)
            console.print(f"MP4: {video}", soft_wrap=True)
        except RuntimeError as exc:
            console.print(f"[yellow]MP4 not written:[/yellow] {escape(str(exc))}")
    return report


def _view_eval(path: Path, out: Path | None, console: Console, *, media: bool) -> Path:
    from screenpilot.agent.evaluation.report import write_eval_report

    if media:
        console.print("[yellow]--gif/--mp4 apply to run folders; use them on an episode's run folder[/yellow]")
    report = write_eval_report(path, out)
    console.print(f"Report: {report}", soft_wrap=True)
    return report


@command(app, "view", summary="write an HTML report of a run or evaluation folder",
         help="Write a self-contained HTML report of a run folder (annotated screenshots, replies, "
         "actions, timings) or of an evaluation folder (success rates, charts, a report per episode).")
def cmd_view(  # noqa: PLR0913 - one parameter per option
    console: Console,
    path: Annotated[Path, typer.Argument(metavar="DIR", help="a run folder or an evaluation folder",
                                         show_default=False)],
    out: Annotated[Path | None, typer.Option(help="report file (default DIR/report.html)")] = None,
    gif: Annotated[bool, typer.Option("--gif", help="also write run.gif beside the report (run folders)")] = False,
    mp4: Annotated[bool, typer.Option("--mp4", help="also write run.mp4 beside the report (run folders)")] = False,
    width: Annotated[int, typer.Option(help="GIF/MP4 frame width in pixels")] = 800,
    seconds_per_step: Annotated[float, typer.Option(help="GIF/MP4: seconds per step")] = 1.0,
    link_images: Annotated[bool, typer.Option(
        "--link-images", help="run folders: write screenshots beside the report instead of embedding them")] = False,
    open_report: OpenOption = False,
) -> int:
    """Write the report of a run or evaluation folder."""
    from screenpilot.agent.evaluation.report import is_eval_dir
    from screenpilot.agent.reports.run_report import is_run_dir

    if width < 16 or seconds_per_step <= 0:
        return _error(console, "--width must be at least 16 and --seconds-per-step positive")
    try:
        if is_eval_dir(path):
            report = _view_eval(path, out, console, media=gif or mp4)
        elif is_run_dir(path):
            report = _view_run(path, out, console, gif=gif, mp4=mp4, width=width,
                               seconds_per_step=seconds_per_step, link_images=link_images)
        else:
            return _error(console, f"{path} is neither a run folder (run.json, steps.jsonl) nor an evaluation "
                          "folder (results.json)")
    except (OSError, ValueError) as exc:
        return _error(console, str(exc))
    if open_report:
        _open(report)
    return EXIT_OK


@command(app, "compare", summary="compare two evaluation folders",
         help="Compare evaluation folders EVAL_A (baseline) and EVAL_B (candidate): success rate "
         "per task, the change, and episodes solved on one side only. Prints a table and writes an HTML page.")
def cmd_compare(
    console: Console,
    eval_a: Annotated[Path, typer.Argument(metavar="EVAL_A", help="baseline evaluation folder", show_default=False)],
    eval_b: Annotated[Path, typer.Argument(metavar="EVAL_B", help="candidate evaluation folder", show_default=False)],
    out: Annotated[Path | None, typer.Option(help="HTML file (default EVAL_B/comparison.html)")] = None,
    open_page: OpenOption = False,
) -> int:
    """Print the comparison table and write the HTML page."""
    from screenpilot.agent.evaluation.compare import compare_evals, print_comparison, write_comparison_report
    from screenpilot.agent.evaluation.report import is_eval_dir

    for path in (eval_a, eval_b):
        if not is_eval_dir(path):
            return _error(console, f"{path} is not an evaluation folder (no results.json)")
    try:
        result = compare_evals(eval_a, eval_b)
        page = write_comparison_report(result, out)
    except (OSError, ValueError) as exc:
        return _error(console, str(exc))
    print_comparison(result, console)
    console.print(f"Comparison: {page}", soft_wrap=True)
    if open_page:
        _open(page)
    return EXIT_OK
