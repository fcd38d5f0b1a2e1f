"""Prompt formats, one module per model family: system prompt and tool schema, history, reply parsing, mapping."""
