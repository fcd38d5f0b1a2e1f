"""``screenpilot script RUN_DIR``: turn a recorded run into a replay script (a scenario with steps).

Exit codes follow :mod:`screenpilot.agent.cli.main`: 0 written, 2 bad usage (not a run folder, an action a script
cannot express, the output exists without ``--force``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from screenpilot.agent.cli.main import EXIT_SUCCESS, size_arg


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``script``."""
    script = sub.add_parser(
        "script", help="turn a recorded run into a replay script (a scenario with steps and image anchors)",
        description="Write a scenario whose steps: replay RUN_DIR's executed actions without a model. Every click, "
        "drag start and scroll position is found again by an image anchor cropped from that step's screenshot "
        "(saved in anchors/<script name>/ next to the script). Replay it with `screenpilot scenario run FILE`.")
    script.add_argument("run_dir", type=Path, help="a run folder (run.json, steps.jsonl, step_NNN.png)")
    script.add_argument("--out", type=Path, default=None, help="the script file to write (default RUN_DIR/script.yaml)")
    script.add_argument("--anchor-size", type=size_arg, default=(96, 64), metavar="WxH",
                        help="smallest anchor crop in screen pixels; crops grow until distinctive (default 96x64)")
    script.add_argument("--force", action="store_true", help="replace an existing script file and its anchors")
    script.set_defaults(handler=cmd_script)


def cmd_script(args: argparse.Namespace, console: Console) -> int:
    """Write the script, print what it holds and how to replay it."""
    from screenpilot.agent.scenario.script import script_from_run

    result = script_from_run(args.run_dir, args.out, anchor_size=args.anchor_size, force=args.force)
    source = f" (environment and checks from {escape(str(result.source))})" if result.source else ""
    console.print(f"Wrote {escape(str(result.path))}: {result.steps} step(s), {result.anchors} image anchor(s){source}")
    for warning in result.warnings:
        console.print(f"[yellow]note[/yellow]: {escape(warning)}")
    console.print(f"Replay: screenpilot scenario run {escape(str(result.path))}")
    return EXIT_SUCCESS
