"""The ``screenpilot`` command line (entry point :func:`screenpilot.agent.cli.main.main`)."""
