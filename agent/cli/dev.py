"""``screenpilot dev ...``: developer utilities."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from screenpilot.agent.cli.app import command, dev_app
from screenpilot.agent.cli.exits import EXIT_SUCCESS


@command(dev_app, "build-tiny-model", summary="build a tiny random model folder for tests (offline)",
         help="Build a tiny random model folder for tests (offline, about a second).")
def cmd_build_tiny_model(
    console: Console,
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="folder to create", show_default=False)],
    seed: Annotated[int, typer.Option(help="random seed of the weights")] = 0,
    family: Annotated[Literal["qwen2.5-vl", "qwen3-vl", "ui-tars"], typer.Option(help="model family")] = "qwen2.5-vl",
    head_dim: Annotated[int | None, typer.Option(
        "--head-dim", metavar="N", min=16,
        help="qwen2.5-vl: attention head size, a multiple of 16 (default 16; vLLM's CPU attention needs 32 or more)",
        show_default=False)] = None,
) -> int:
    """Build the model folder and print its size and build time."""
    from screenpilot.agent.errors import ConfigError
    from screenpilot.models.tiny import build_tiny, family_label

    t0 = time.perf_counter()
    try:
        path = build_tiny(family, folder, seed=seed, head_dim=head_dim)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    console.print(f"Built tiny {family_label(family)} in {path} ({size / 1e6:.1f} MB, "
                  f"{time.perf_counter() - t0:.1f} s)")
    return EXIT_SUCCESS
