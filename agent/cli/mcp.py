"""``screenpilot mcp``: serve screenpilot's tools to MCP clients (see :mod:`screenpilot.agent.mcp.server`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from screenpilot.agent.cli.app import app, command
from screenpilot.agent.cli.exits import EXIT_SUCCESS
from screenpilot.agent.cli.options import RUN_GROUPS, ModelOptions, RunOutput, SafetyOptions, Target
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.settings import PlannerSettings, PromptSettings

MCP_INSTALL_HINT = "pip install 'screenpilot[mcp]'  (or: pip install mcp)"


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``127.0.0.1:8765``) as a (host, port) pair."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"expected HOST:PORT such as 127.0.0.1:8765, got {text!r}")
    return host.strip("[]"), int(port)


@command(app, "mcp", groups=RUN_GROUPS, summary="serve screenpilot to MCP clients (Claude Desktop, IDE agents...)",
         help="Serve the tools run_task, open_session, act, extract, screenshot and close_session over MCP: on "
         "stdin/stdout (default), or streamable HTTP at http://HOST:PORT/mcp with --http. The model, prompt, browser, "
         "safety policy and secrets are this command's options, fixed for every client call; --url is the default "
         "start page of sessions.")
def cmd_mcp(
    console: Console,
    where: Target,
    model: ModelOptions,
    prompt: PromptSettings,
    safety: SafetyOptions,
    output: RunOutput,
    planner: PlannerSettings | None,
    http: Annotated[Any, typer.Option(  # (host, port); typed Any: a tuple would make Typer take 2 values
        parser=parse_host_port, metavar="HOST:PORT",
        help="serve streamable HTTP on HOST:PORT (path /mcp) instead of stdio")] = None,
) -> int:
    """Serve until the client disconnects (stdio) or the process is stopped (HTTP)."""
    try:
        from screenpilot.agent.mcp.server import ServerSettings, serve
    except ImportError as exc:
        raise ConfigError(f"screenpilot mcp needs the MCP SDK ({exc}); {MCP_INSTALL_HINT}") from None
    model.required()
    settings = ServerSettings(where=where, model=model, prompt=prompt, safety=safety, output=output,
                              planner=planner)
    if http is not None:
        console.print(f"screenpilot MCP server on http://{http[0]}:{http[1]}/mcp (Ctrl-C stops it)")
    serve(settings, http)
    return EXIT_SUCCESS
