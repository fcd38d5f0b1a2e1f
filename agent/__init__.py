"""screenpilot's agent package: actions, the loop, trajectories and the CLI.

Kept deliberately light: importing ``agent`` (or the value-type modules ``agent.actions``,
``agent.keys``, ``agent.frame`` and ``agent.errors``) pulls in no loop, CLI, browser or model.
"""

__version__ = "0.1.0"
