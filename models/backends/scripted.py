"""A model that replays a fixed list of reply strings.

Used by tests, the demo and scenario files: no GPU, fully repeatable. Its replies go through
the same prompt-format parser as a real model's. When the list runs out, :meth:`complete`
raises :class:`screenpilot.agent.errors.ScriptExhausted` and the loop ends the run with that reason.

The requests it received are kept in :attr:`requests` so tests can inspect the prompts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from screenpilot.agent.errors import ConfigError, ScriptExhausted
from screenpilot.models.base import ModelReply, ModelRequest, Usage


class ScriptedModel:
    """Replays ``replies`` in order, one per call."""

    def __init__(self, replies: Sequence[str], *, source: str = "<list>") -> None:
        self.name = f"scripted:{source}"
        self._replies = list(replies)
        self._source = source
        self._next = 0
        self.requests: list[ModelRequest] = []

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedModel:
        """Load a JSON file holding a list of strings. Raises ConfigError when it does not."""
        file = Path(path)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"scripted replies file not found: {file}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read scripted replies from {file}: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise ConfigError(
                f"{file} must hold a JSON list of reply strings, e.g. "
                '["<tool_call>\\n{\\"name\\": \\"computer_use\\", ...}\\n</tool_call>"]'
            )
        return cls(data, source=str(file))

    @property
    def remaining(self) -> int:
        """How many replies are left."""
        return len(self._replies) - self._next

    def complete(self, request: ModelRequest) -> ModelReply:
        """Return the next reply; raise ScriptExhausted when none is left."""
        self.requests.append(request)
        if self._next >= len(self._replies):
            raise ScriptExhausted(
                f"the scripted model has no replies left after {len(self._replies)} "
                f"(from {self._source})"
            )
        text = self._replies[self._next]
        self._next += 1
        return ModelReply(text=text, usage=Usage(prompt_tokens=None, completion_tokens=None), timings={})

    def describe(self) -> dict[str, object]:
        """What run.json records about this model."""
        return {"backend": "scripted", "source": self._source, "replies": len(self._replies)}

    def close(self) -> None:
        """Nothing to release."""
