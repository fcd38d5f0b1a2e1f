"""``screenpilot script RUN_DIR``: turn a recorded run into a replay script (a scenario with steps).

Exit codes follow :mod:`screenpilot.agent.cli.main`: 0 written, 2 bad usage (not a run folder, an action a script
cannot express, the output exists without ``--force``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from screenpilot.agent.cli.app import app, command
from screenpilot.agent.cli.exits import EXIT_SUCCESS
from screenpilot.agent.cli.options import parse_size


@command(app, "script", summary="turn a recorded run into a replay script (a scenario with steps)",
         help="Turn a recorded run into a replay script: a scenario whose steps: replay RUN_DIR's "
         "executed actions without a model. Every click, drag start and scroll position is found again by an image "
         "anchor cropped from that step's screenshot (saved in anchors/<script name>/ next to the script). Replay it "
         "with `screenpilot scenario run FILE`.")
def cmd_script(
    console: Console,
    run_dir: Annotated[Path, typer.Argument(help="a run folder (run.json, steps.jsonl, step_NNN.png)",
                                            show_default=False)],
    out: Annotated[Path | None, typer.Option(help="the script file to write (default RUN_DIR/script.yaml)")] = None,
    anchor_size: Annotated[Any, typer.Option(
        parser=parse_size, metavar="WxH",
        help="smallest anchor crop in screen pixels; crops grow until distinctive")] = "96x64",
    force: Annotated[bool, typer.Option("--force", help="replace an existing script file and its anchors")] = False,
) -> int:
    """Write the script, print what it holds and how to replay it."""
    from screenpilot.agent.scenario.script import script_from_run

    result = script_from_run(run_dir, out, anchor_size=parse_size(anchor_size), force=force)
    source = f" (environment and checks from {escape(str(result.source))})" if result.source else ""
    console.print(f"Wrote {escape(str(result.path))}: {result.steps} step(s), {result.anchors} image anchor(s){source}")
    for warning in result.warnings:
        console.print(f"[yellow]note[/yellow]: {escape(warning)}")
    console.print(f"Replay: screenpilot scenario run {escape(str(result.path))}")
    return EXIT_SUCCESS
