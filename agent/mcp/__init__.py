"""The MCP server: ``screenpilot mcp`` (see :mod:`screenpilot.agent.mcp.server`)."""
