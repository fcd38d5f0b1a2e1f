"""Model backends (transformers, OpenAI-compatible HTTP, scripted) and prompt formats.

Heavy libraries (torch, transformers, httpx) are imported inside the backend that needs them,
so importing this package stays cheap.
"""
