"""screenpilot: a vision-language agent that operates desktops, browsers and phones through their screens.

The repository's top-level folders install as subpackages of this one: ``screenpilot.agent`` (the loop,
safety gate, scenarios, evaluation, reports, CLI), ``screenpilot.models`` (prompt formats and backends),
``screenpilot.tools`` (executors) and ``screenpilot.scenarios`` (bundled scenario files and sites).
Importing ``screenpilot`` is cheap: it loads no loop, browser or model.
"""

__version__ = "0.1.0"
