"""Model backends (transformers, OpenAI-compatible HTTP, scripted) and prompt formats.

Heavy libraries (torch, transformers, qwen-vl-utils) are imported inside the backend that needs them,
so importing this package stays cheap.
"""
