"""screenpilot: a vision-language agent that operates desktops, browsers and phones through their screens.

Use from Python (see the README's "Use from Python")::

    import screenpilot

    result = screenpilot.run("Sign up as Ada", url="signup.html", model="qwen2.5-vl-7b")
    with screenpilot.browser("invoice.html", model="qwen2.5-vl-7b") as s:
        s.act("click Details")
        total = s.extract("the total due", schema={"type": "number"})

The public names below (``run``, ``browser``, ``desktop``, ``phone``, ``Session``, ``TaskResult``,
``ActResult``, the error classes) come from :mod:`screenpilot.agent.api`, loaded on first use.

The repository's top-level folders install as subpackages of this one: ``screenpilot.agent`` (the loop,
safety gate, scenarios, evaluation, reports, CLI, Python API, MCP server), ``screenpilot.models`` (prompt
formats and backends), ``screenpilot.tools`` (executors) and ``screenpilot.scenarios`` (bundled scenario files
and sites). Importing ``screenpilot`` is cheap: it loads no loop, browser or model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API_NAMES = frozenset({
    "run", "browser", "desktop", "phone", "Session", "TaskResult", "ActResult", "ActFailed", "ActionRefused",
    "ExtractionError", "ScreenpilotError", "ConfigError", "InfrastructureError", "BackendError", "ExecutorError",
})

if TYPE_CHECKING:
    from screenpilot.agent.api import (  # noqa: F401 - the names __getattr__ gives
        ActFailed,
        ActionRefused,
        ActResult,
        BackendError,
        ConfigError,
        ExecutorError,
        ExtractionError,
        InfrastructureError,
        ScreenpilotError,
        Session,
        TaskResult,
        browser,
        desktop,
        phone,
        run,
    )


def __getattr__(name: str) -> Any:
    """The Python API's names, imported on first use (so ``import screenpilot`` stays cheap)."""
    if name in _API_NAMES:
        from screenpilot.agent import api

        return getattr(api, name)
    raise AttributeError(f"module 'screenpilot' has no attribute {name!r}")


__all__ = sorted(_API_NAMES)
