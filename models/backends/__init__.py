"""Model backends, one module each: local transformers, OpenAI-compatible HTTP, scripted replies."""
