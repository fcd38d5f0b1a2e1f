"""``screenpilot view`` and ``screenpilot compare``: HTML reports of runs and evaluations.

``screenpilot view DIR`` writes ``DIR/report.html`` for a run folder (run.json / steps.jsonl),
optionally with a GIF and an MP4 beside it, or the evaluation page (plus a report per episode)
for an evaluation folder (results.json). ``screenpilot compare A B`` prints a table comparing two
evaluation folders and writes an HTML page. Reports open in a browser only with ``--open``.
Exit codes: 0 written; 2 the folder is neither kind, or its files are malformed.
"""

from __future__ import annotations

import argparse
import webbrowser
from pathlib import Path

from rich.console import Console
from rich.markup import escape

EXIT_OK = 0
EXIT_USAGE = 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``view`` and ``compare`` on the ``screenpilot`` subcommand parser ``sub``."""
    view = sub.add_parser(
        "view", help="write an HTML report of a run or evaluation folder",
        description="Write a self-contained HTML report of a run folder (annotated screenshots, replies, "
        "actions, timings) or of an evaluation folder (success rates, charts, a report per episode).")
    view.add_argument("path", type=Path, metavar="DIR", help="a run folder or an evaluation folder")
    view.add_argument("--out", type=Path, default=None, help="report file (default DIR/report.html)")
    view.add_argument("--gif", action="store_true", help="also write run.gif beside the report (run folders)")
    view.add_argument("--mp4", action="store_true", help="also write run.mp4 beside the report (run folders)")
    view.add_argument("--width", type=int, default=800, help="GIF/MP4 frame width in pixels (default 800)")
    view.add_argument("--seconds-per-step", type=float, default=1.0, help="GIF/MP4: seconds per step (default 1)")
    view.add_argument("--link-images", action="store_true",
                      help="run folders: write screenshots beside the report instead of embedding them")
    view.add_argument("--open", action="store_true", help="open the report in the default web browser")
    view.set_defaults(handler=cmd_view)
    compare = sub.add_parser(
        "compare", help="compare two evaluation folders",
        description="Compare evaluation folders A (baseline) and B (candidate): success rate per task, "
        "the change, and episodes solved on one side only. Prints a table and writes an HTML page.")
    compare.add_argument("eval_a", type=Path, metavar="EVAL_A", help="baseline evaluation folder")
    compare.add_argument("eval_b", type=Path, metavar="EVAL_B", help="candidate evaluation folder")
    compare.add_argument("--out", type=Path, default=None, help="HTML file (default EVAL_B/comparison.html)")
    compare.add_argument("--open", action="store_true", help="open the page in the default web browser")
    compare.set_defaults(handler=cmd_compare)


def _error(console: Console, message: str) -> int:
    console.print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
    return EXIT_USAGE


def _open(path: Path) -> None:
    webbrowser.open(path.resolve().as_uri())


def _view_run(args: argparse.Namespace, console: Console) -> Path:
    from screenpilot.agent.reports.media import write_gif, write_video
    from screenpilot.agent.reports.run_report import write_run_report

    report = write_run_report(args.path, args.out, embed_images=not args.link_images)
    console.print(f"Report: {report}", soft_wrap=True)
    if args.gif:
        gif = write_gif(args.path, report.with_name("run.gif"), args.width, args.seconds_per_step)
        console.print(f"GIF: {gif}", soft_wrap=True)
    if args.mp4:
        try:
            video = write_video(args.path, report.with_name("run.mp4"), args.width, args.seconds_per_step)
            console.print(f"MP4: {video}", soft_wrap=True)
        except RuntimeError as exc:
            console.print(f"[yellow]MP4 not written:[/yellow] {escape(str(exc))}")
    return report


def _view_eval(args: argparse.Namespace, console: Console) -> Path:
    from screenpilot.agent.evaluation.report import write_eval_report

    if args.gif or args.mp4:
        console.print("[yellow]--gif/--mp4 apply to run folders; use them on an episode's run folder[/yellow]")
    report = write_eval_report(args.path, args.out)
    console.print(f"Report: {report}", soft_wrap=True)
    return report


def cmd_view(args: argparse.Namespace, console: Console) -> int:
    """``screenpilot view DIR``: write the report of a run or evaluation folder."""
    from screenpilot.agent.evaluation.report import is_eval_dir
    from screenpilot.agent.reports.run_report import is_run_dir

    path: Path = args.path
    if args.width < 16 or args.seconds_per_step <= 0:
        return _error(console, "--width must be at least 16 and --seconds-per-step positive")
    try:
        if is_eval_dir(path):
            report = _view_eval(args, console)
        elif is_run_dir(path):
            report = _view_run(args, console)
        else:
            return _error(console, f"{path} is neither a run folder (run.json, steps.jsonl) nor an evaluation "
                          "folder (results.json)")
    except (OSError, ValueError) as exc:
        return _error(console, str(exc))
    if args.open:
        _open(report)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    """``screenpilot compare A B``: print the comparison table and write the HTML page."""
    from screenpilot.agent.evaluation.compare import compare_evals, print_comparison, write_comparison_report
    from screenpilot.agent.evaluation.report import is_eval_dir

    for path in (args.eval_a, args.eval_b):
        if not is_eval_dir(path):
            return _error(console, f"{path} is not an evaluation folder (no results.json)")
    try:
        result = compare_evals(args.eval_a, args.eval_b)
        out = write_comparison_report(result, args.out)
    except (OSError, ValueError) as exc:
        return _error(console, str(exc))
    print_comparison(result, console)
    console.print(f"Comparison: {out}", soft_wrap=True)
    if args.open:
        _open(out)
    return EXIT_OK
