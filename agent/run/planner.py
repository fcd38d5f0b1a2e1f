"""The planner stage: a planner model decides each step in words, the run's model grounds it (``--planner``).

:class:`Planner` asks the planner (any backend: an OpenAI-compatible chat model, or scripted replies) for the next
decision in the dialect of :mod:`screenpilot.models.formats.planner`, keeps the steps it was told about, and
decides what the grounder gets: the new instruction, or — when the planner says the previous step ``missed`` — the
same instruction again with the planner's note, at most ``max_regrounds`` times in a row. The loop
(:class:`screenpilot.agent.run.loop.Agent`) calls :meth:`Planner.plan` before grounding and :meth:`Planner.record`
after each step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from screenpilot.agent.actions import Action, describe
from screenpilot.agent.errors import BackendError, ModelError
from screenpilot.agent.frame import Frame
from screenpilot.agent.run.interrupts import interruptible_wait
from screenpilot.models.base import ModelBackend, Usage
from screenpilot.models.formats.planner import PlanDecision, PlanTurn, build_planner_request, parse_plan
from screenpilot.tools.base import Executor, ShowsPage

DEFAULT_MAX_REGROUNDS = 2
"""Times in a row the grounder is asked again for an instruction the planner says missed."""

SCREEN_TEXT_CHARS = 6000
"""At most this many characters of a page's accessibility text go to a planner without vision."""


@dataclass
class PlanRecord:
    """The planner's part of one step: its ``reply`` text and the ``decision`` read from it (None: unreadable, see
    ``error``), the ``instruction`` the grounder got (None when the planner ended the task or asked a question),
    whether it was a ``regrounded`` repeat of the previous one with ``grounder_note``, what the request held
    (``request``), the call's ``latency_s`` in seconds and its token ``usage``."""

    request: str
    reply: str = ""
    decision: PlanDecision | None = None
    instruction: str | None = None
    regrounded: bool = False
    grounder_note: str | None = None
    latency_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    error: ModelError | None = None


def page_text(executor: Executor, frame: Frame) -> str:
    """The screen in words for a planner without vision: address and title, and for a page its accessibility
    tree (Playwright's ARIA snapshot, at most :data:`SCREEN_TEXT_CHARS` characters)."""
    lines = [f"Address: {frame.url}" if frame.url else "", f"Title: {frame.title}" if frame.title else ""]
    if isinstance(executor, ShowsPage):
        try:
            tree = executor.page.locator("body").aria_snapshot(timeout=2000)
        except Exception as exc:  # a page mid-navigation or gone: the planner gets what there is
            tree = f"(the page's text is not available: {type(exc).__name__})"
        lines.append(tree if len(tree) <= SCREEN_TEXT_CHARS else tree[:SCREEN_TEXT_CHARS] + "\n...")
    return "\n".join(line for line in lines if line) or "(no text description of this screen)"


class Planner:
    """Asks ``backend`` for each step's decision; ``vision``: send the screenshot (else ``screen_text(frame)``)."""

    def __init__(self, backend: ModelBackend, *, vision: bool = True,
                 screen_text: Callable[[Frame], str] | None = None,
                 max_regrounds: int = DEFAULT_MAX_REGROUNDS) -> None:
        self.backend = backend
        self.vision = vision
        self._screen_text = screen_text
        self.max_regrounds = max_regrounds
        self.turns: list[PlanTurn] = []
        self._last_instruction: str | None = None
        self._regrounds = 0
        self._hint: str | None = None

    def plan(self, task: str, frame: Frame, note: str | None) -> PlanRecord:
        """The planner's decision for the screen ``frame``; ``note`` is what happened after the last action. A
        reply that cannot be read is returned with ``error`` set (its hint goes to the planner next time);
        BackendError when the planner cannot be reached."""
        text = None if self.vision or self._screen_text is None else self._screen_text(frame)
        note = " ".join(part for part in (self._hint, note) if part) or None
        request = build_planner_request(task, self.turns, image=frame.image if self.vision else None,
                                        screen_text=text, note=note)
        record = PlanRecord(request=_summary(len(self.turns), self.vision, text, note))
        started = time.perf_counter()
        try:
            with interruptible_wait():
                reply = self.backend.complete(request)
        except BackendError as exc:
            raise BackendError(f"the planner: {exc.message} (the planner's own: --planner-timeout, "
                               "--planner-retries, --planner-api-base)") from exc
        record.latency_s = time.perf_counter() - started
        record.reply, record.usage = reply.text, reply.usage
        try:
            record.decision = parse_plan(reply.text)
        except ModelError as exc:
            record.error, self._hint = exc, "Your previous answer could not be used: " + exc.hint
            return record
        self._hint = None
        self._choose_instruction(record, record.decision)
        return record

    def _choose_instruction(self, record: PlanRecord, decision: PlanDecision) -> None:
        if decision.missed and self._last_instruction and self._regrounds < self.max_regrounds:
            self._regrounds += 1
            record.instruction, record.regrounded = self._last_instruction, True
            record.grounder_note = f"Your previous attempt did not work: {decision.missed} Try again."
            return
        self._regrounds = 0
        record.instruction = decision.text if decision.kind == "step" else None
        self._last_instruction = record.instruction

    def record(self, plan: PlanRecord | None, did: str, outcome: str | None) -> None:
        """Remember a finished step for the next requests: the ``plan`` it followed (None: the planner failed),
        what the grounder ``did`` and the step's ``outcome`` (an error or a note; None: none)."""
        if plan is None or plan.decision is None:
            return
        instruction = plan.instruction
        if instruction is None:
            did = f"{plan.decision.kind}: {plan.decision.text}"
        self.turns.append(PlanTurn(instruction, did, outcome))


def planner_stage(backend: ModelBackend, executor: Executor, *, vision: bool, max_regrounds: int) -> Planner:
    """A fresh planner stage on ``backend`` for a run on ``executor`` (whose page gives a text-only planner its
    screen text)."""
    return Planner(backend, vision=vision, max_regrounds=max_regrounds,
                   screen_text=lambda frame: page_text(executor, frame))


def actions_in_words(actions: Sequence[Action]) -> str:
    """The grounder's actions as the planner is told them (``click (640, 360); type 'x'``; ``nothing``)."""
    return "; ".join(describe(a) for a in actions) or "nothing"


def _summary(steps: int, vision: bool, text: str | None, note: str | None) -> str:
    parts = [f"task + {steps} earlier step(s)", "screenshot" if vision else f"screen text ({len(text or '')} chars)"]
    if note:
        parts.append("note")
    return ", ".join(parts)
