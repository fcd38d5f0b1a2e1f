"""The safety gate's contract: every action is checked before it is carried out.

A :class:`Policy` looks at one screen-space action (and the frame it will act on) and returns
a :class:`Verdict`. The loop records every verdict in the trajectory, skips denied actions and
sends the verdict's ``note`` back to the model. :class:`AllowAll` is the permissive default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from screenpilot.agent.actions import Action
from screenpilot.agent.frame import Frame

Decision = Literal["allow", "deny", "skip", "stop"]


@dataclass(frozen=True)
class Verdict:
    """``decision``: allow (carry out), deny (do not; tell the model ``note``), skip (dry run:
    record but do not carry out), stop (end the run). ``rule`` names what decided."""

    decision: Decision
    rule: str = "default"
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        """JSON-ready form for steps.jsonl."""
        return {"decision": self.decision, "rule": self.rule, "note": self.note}


class Policy(Protocol):
    """Decides whether one screen-space action may run."""

    def check(self, action: Action, frame: Frame) -> Verdict: ...

    def describe(self) -> dict[str, object]: ...


class AllowAll:
    """Allows every action (no safety gate configured)."""

    def check(self, action: Action, frame: Frame) -> Verdict:
        """Always allow."""
        return Verdict("allow")

    def describe(self) -> dict[str, object]:
        """What run.json records."""
        return {"policy": "allow-all"}


class HumanChannel(Protocol):
    """Where a question for a person goes (the model's ask-user action)."""

    def ask(self, question: str) -> str | None:
        """The person's answer, or None when nobody can answer."""
        ...


class NobodyAvailable:
    """No person attached: every question gets None."""

    def ask(self, question: str) -> str | None:
        """Nobody answers."""
        return None
