"""The perception-action loop: observe -> decide -> check -> act -> record, step after step.

The loop receives everything it uses (model, prompt format, executor, policy, person, observers,
limits); it builds no clients and reads no environment. It stops when the model terminates,
when ``max_steps`` is reached, after ``max_consecutive_model_errors`` unusable replies in a row,
on an infrastructure error, when a scripted model runs out of replies, or on Ctrl-C. Whatever
happens, observers get ``on_end`` with the :class:`RunResult`, so the trajectory is finalised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

from PIL import Image

from screenpilot.agent.actions import Action, AskUser, Terminate, TypeText, Wait
from screenpilot.agent.errors import (
    InfrastructureError,
    InvalidArgumentError,
    ModelError,
    ScreenpilotError,
    ScriptExhausted,
    StopRequested,
)
from screenpilot.agent.frame import Frame
from screenpilot.agent.run.interrupts import WaitInterrupted, interruptible_wait
from screenpilot.agent.run.planner import Planner, PlanRecord, actions_in_words
from screenpilot.agent.run.repeats import RepeatDetector, RepeatSettings
from screenpilot.agent.safety.policy import AllowAll, HumanChannel, NobodyAvailable, Policy, Verdict
from screenpilot.agent.safety.secrets import SecretStore
from screenpilot.models.base import ModelBackend, ModelReply, PromptFormat, Turn
from screenpilot.models.resize import resize_image
from screenpilot.tools.base import Executor, ProbesElements

RunStatus = Literal["success", "failure", "error", "stopped"]


DEFAULT_MAX_STEPS = 30
"""Model calls a run may make when no budget is given."""


@dataclass(frozen=True)
class LoopLimits:
    """Budgets of one run: steps (model calls), consecutive unusable replies, and what one reply may ask for: at most
    ``max_actions_per_reply`` actions and ``max_type_chars`` characters per typed text (a reply asking for more is
    refused as a model error with a hint, instead of pinning the run). 10,000 characters take well under 2 s in a
    browser (bulk insertion, ``bench/loop_vs_bare.py``); the desktop types key by key, about 2 ms a character."""

    max_steps: int = DEFAULT_MAX_STEPS
    max_consecutive_model_errors: int = 3
    repeats: RepeatSettings = field(default_factory=RepeatSettings)
    max_actions_per_reply: int = 10
    max_type_chars: int = 10_000


@dataclass(frozen=True)
class StepError:
    """An error that happened in a step. ``family`` is ``model`` or ``infrastructure``."""

    family: Literal["model", "infrastructure", "stop"]
    type: str
    message: str
    hint: str | None = None

    @classmethod
    def from_exception(cls, exc: ScreenpilotError) -> StepError:
        """Classify by exception type, never by message text."""
        if isinstance(exc, ModelError):
            return cls("model", type(exc).__name__, exc.message, exc.hint)
        if isinstance(exc, StopRequested | ScriptExhausted):
            return cls("stop", type(exc).__name__, exc.message)
        return cls("infrastructure", type(exc).__name__, exc.message)


@dataclass
class StepRecord:
    """Everything that happened in one step, in the order it happened.

    ``frame`` is the screen-space observation; ``model_image`` what the model saw (model
    space, ``model_size`` = (width, height)). ``timings`` are seconds keyed by phase:
    capture, planner, model, execute, settle, total. ``plan``: the planner's part of the step (runs with a
    planner only; ``reply`` and ``model_*`` are then the grounder's). ``call`` (Python API sessions only): what
    the step was for, as (kind, text): ``("act", instruction)``, ``("run", task)``, ``("extract", question)``
    or ``("code", action)``. ``probes``: what the page's elements held at the observation and after each pointer or
    typing action (browser and phone; :mod:`screenpilot.tools.web.element_probe`).
    """

    index: int
    started_at: float
    frame: Frame
    model_size: tuple[int, int]
    model_image: Image.Image
    image_tokens: int
    reply: ModelReply | None = None
    model_actions: tuple[Action, ...] = ()
    screen_actions: tuple[Action, ...] = ()
    verdicts: list[Verdict] = field(default_factory=list)
    executed: int = 0
    error: StepError | None = None
    feedback: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    call: tuple[str, str] | None = None
    plan: PlanRecord | None = None
    probes: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    """How a run ended. ``reason``: terminated, max_steps, model_errors, script_exhausted,
    infrastructure, interrupted, stop_requested (a person said stop at a confirmation or hit the
    desktop fail-safe), loop_detected, anchor_lost, or what an ``end_when`` hook reports."""

    status: RunStatus
    reason: str
    steps: int
    answer: str | None = None
    message: str | None = None


class Observer(Protocol):
    """Watches a run: trajectory writing, terminal display, live screenshots."""

    def on_start(self, task: str) -> None: ...

    def on_step(self, step: StepRecord) -> None: ...

    def on_end(self, result: RunResult) -> None: ...


@runtime_checkable
class WatchesModelCalls(Protocol):
    """An observer that also wants to know while the model is being waited for (e.g. to show the time passing)."""

    def model_call(self, index: int) -> AbstractContextManager[None]:
        """A context entered for the model call of step ``index`` and left when the reply (or an error) is in."""
        ...


EndCondition = Callable[[StepRecord], "RunResult | None"]


@dataclass
class Agent:
    """One configured agent; :meth:`run` carries out one task.

    ``end_when`` (optional) is asked after every step whether the environment has ended the
    episode (e.g. a MiniWoB++ page reporting done); a RunResult it returns ends the run.
    ``should_stop`` (optional) is polled between actions: once true (first Ctrl-C), the run
    ends after the action in progress. ``secrets`` fills placeholders into typed text. ``planner`` (optional)
    decides each step in words and ``model`` grounds that instruction (see :mod:`screenpilot.agent.run.planner`).
    """

    model: ModelBackend
    prompt: PromptFormat
    executor: Executor
    observers: Sequence[Observer] = ()
    policy: Policy = field(default_factory=AllowAll)
    human: HumanChannel = field(default_factory=NobodyAvailable)
    limits: LoopLimits = field(default_factory=LoopLimits)
    end_when: EndCondition | None = None
    should_stop: Callable[[], bool] = lambda: False
    secrets: SecretStore | None = None
    planner: Planner | None = None
    _held_events: list[object] = field(default_factory=list, init=False, repr=False)

    def run(self, task: str) -> RunResult:
        """Run ``task`` until it ends; always notifies observers of the end."""
        for observer in self.observers:
            observer.on_start(task)
        history: list[Turn] = []
        feedback: str | None = None
        model_errors = 0
        repeats = RepeatDetector(self.limits.repeats)
        result: RunResult | None = None
        index = 0
        try:
            for index in range(1, self.limits.max_steps + 1):
                step = self._step(index, task, history, feedback, repeats)
                step.feedback = _join(step.feedback, repeats.hint(step.screen_actions))
                self._record(step)
                if self.planner is not None:
                    self.planner.record(step.plan, actions_in_words(step.screen_actions),
                                        _join(None if step.error is None else step.error.message, step.feedback))
                model_errors = model_errors + 1 if _is_model_error(step) else 0
                result = self._outcome(step) or self._budgets(step, model_errors, repeats)
                if result is not None:
                    return result
                feedback = step.feedback
                history.append(Turn(step.model_image, _reply_text(step), step.model_actions, feedback))
            result = RunResult("failure", "max_steps", self.limits.max_steps)
            return result
        except InfrastructureError as exc:  # while observing or recording: no complete step
            result = RunResult("error", "infrastructure", index - 1, message=exc.message)
            return result
        except KeyboardInterrupt:
            result = RunResult("stopped", "interrupted", index - 1, message="stopped by Ctrl-C")
            raise
        finally:
            final = result or RunResult("error", "crash", max(index - 1, 0), message="unexpected error")
            for observer in self.observers:
                observer.on_end(final)

    def _step(self, index: int, task: str, history: list[Turn], feedback: str | None,
              repeats: RepeatDetector) -> StepRecord:
        """One observe -> decide -> check -> act cycle; errors end up in the record. ``repeats`` sees the
        decided actions before they run (it may take a second capture of the unchanged screen then)."""
        started = time.time()
        frame = self._observe()
        events = _events(frame)
        if events:
            feedback = _join(feedback, "Since your last action: " + "; ".join(str(e) for e in events) + ".")
        model_size = self.prompt.model_size(frame.size)
        model_image = resize_image(frame.image, model_size)
        step = StepRecord(index, started, frame, model_size, model_image, self.prompt.image_tokens(model_size))
        step.timings["capture"] = frame.capture_s
        try:
            self._decide(step, task, history, feedback)
        except ScreenpilotError as exc:
            self._failed(step, exc)
        except WaitInterrupted:
            step.error = StepError("stop", "interrupted", "stopped by Ctrl-C or SIGTERM while waiting for the model")
        repeats.observe(step.screen_actions, frame, recapture=self._recapture)
        if step.error is None:
            try:
                self._act(step)
            except ScreenpilotError as exc:
                self._failed(step, exc)
        if isinstance(self.executor, ProbesElements):
            step.probes = self.executor.take_probes()
        step.timings["total"] = time.time() - started
        return step

    @staticmethod
    def _failed(step: StepRecord, exc: ScreenpilotError) -> None:
        step.error = StepError.from_exception(exc)
        step.feedback = exc.hint if isinstance(exc, ModelError) else None

    def _observe(self) -> Frame:
        """The step's observation, with the events a second capture (:meth:`_recapture`) took in the meantime."""
        frame = self.executor.screenshot()
        if self._held_events:
            events = [*self._held_events, *_events(frame)]
            self._held_events.clear()
            frame = replace(frame, extra={**frame.extra, "events": events})
        return frame

    def _recapture(self) -> Frame:
        """A second capture for loop detection; its events are kept for the next observation."""
        frame = self.executor.screenshot()
        self._held_events += _events(frame)
        return frame

    def _decide(self, step: StepRecord, task: str, history: list[Turn], feedback: str | None) -> None:
        if self.planner is not None:
            instruction = self._plan(step, self.planner, task, feedback)
            if instruction is None:
                return
            task, history, feedback = instruction, [], step.plan.grounder_note if step.plan else None
        request = self.prompt.build_request(task, history, step.model_image, feedback)
        t0 = time.perf_counter()
        with ExitStack() as watching:
            for observer in self.observers:
                if isinstance(observer, WatchesModelCalls):
                    watching.enter_context(observer.model_call(step.index))
            with interruptible_wait():
                step.reply = self.model.complete(request)
        step.timings["model"] = time.perf_counter() - t0
        step.model_actions = tuple(self.prompt.parse(step.reply.text, step.model_size))
        self._check_size(step.model_actions)
        step.screen_actions = tuple(
            self.prompt.to_screen(a, step.model_size, step.frame.size) for a in step.model_actions
        )

    def _plan(self, step: StepRecord, planner: Planner, task: str, feedback: str | None) -> str | None:
        """Ask the planner; the grounder's instruction, or None when the planner ended the task or asked the person
        (the step's actions are then set). Raises the planner's ModelError for an unusable answer."""
        step.plan = plan = planner.plan(task, step.frame, feedback)
        step.timings["planner"] = plan.latency_s
        if plan.error is not None:
            raise plan.error
        decision = plan.decision
        if plan.instruction is not None or decision is None:
            return plan.instruction
        ending: Action = (AskUser(decision.text) if decision.kind == "ask_user" else
                          Terminate("success" if decision.kind == "done" else "failure", decision.text or None))
        step.model_actions = step.screen_actions = (ending,)
        return None

    def _check_size(self, actions: Sequence[Action]) -> None:
        """InvalidArgumentError when one reply asks for more than :class:`LoopLimits` allows."""
        limits = self.limits
        if len(actions) > limits.max_actions_per_reply:
            raise InvalidArgumentError(
                f"{len(actions)} actions in one reply; at most {limits.max_actions_per_reply} are carried out",
                hint=f"Give at most {limits.max_actions_per_reply} actions per reply, then look at the screen again.")
        for action in actions:
            if isinstance(action, TypeText) and len(action.text) > limits.max_type_chars:
                raise InvalidArgumentError(
                    f"a type action of {len(action.text)} characters; at most {limits.max_type_chars} are typed at "
                    "once", hint=f"Type at most {limits.max_type_chars} characters per action; split longer text "
                    "over several steps.")

    def _act(self, step: StepRecord) -> None:
        """Check and carry out the step's actions in order; notes go to ``step.feedback``."""
        notes: list[str] = []
        step.timings["execute"] = step.timings["settle"] = 0.0
        for action in step.screen_actions:
            if isinstance(action, Terminate) or self.should_stop():
                break
            verdict = self.policy.check(action, step.frame)
            step.verdicts.append(verdict)
            if verdict.decision == "stop":
                raise StopRequested(verdict.note or f"stopped by policy rule {verdict.rule}")
            if verdict.decision != "allow":
                notes.append(verdict.note or f"The action was not carried out ({verdict.rule}).")
                continue
            if isinstance(action, AskUser):
                answer = self.human.ask(action.question)
                notes.append(f"The user answered: {answer}" if answer else "No user is available to answer.")
            else:
                self._execute(step, action)
            step.executed += 1
        step.feedback = " ".join(notes) or None

    def _execute(self, step: StepRecord, action: Action) -> None:
        if self.secrets:
            action = self.secrets.reveal(action, step.frame.url)
        t0 = time.perf_counter()
        self.executor.execute(action)
        step.timings["execute"] += time.perf_counter() - t0
        if not isinstance(action, Wait):
            step.timings["settle"] += self.executor.settle()

    def _record(self, step: StepRecord) -> None:
        for observer in self.observers:
            observer.on_step(step)

    def _budgets(self, step: StepRecord, model_errors: int, repeats: RepeatDetector) -> RunResult | None:
        """The result when the environment, a budget, loop detection or a stop request ends the run."""
        if self.end_when is not None and (ended := self.end_when(step)) is not None:
            return ended
        if model_errors >= self.limits.max_consecutive_model_errors:
            return RunResult("failure", "model_errors", step.index, message=_message(step))
        if repeats.should_stop:
            return RunResult("failure", "loop_detected", step.index, message=repeats.hint(step.screen_actions))
        if self.should_stop():
            return RunResult("stopped", "interrupted", step.index, message="stopped by Ctrl-C")
        return None

    def _outcome(self, step: StepRecord) -> RunResult | None:
        """The run's result if this step ends it, else None."""
        if step.error is not None and step.error.family == "infrastructure":
            return RunResult("error", "infrastructure", step.index, message=step.error.message)
        if step.error is not None and step.error.type == "ScriptExhausted":
            return RunResult("failure", "script_exhausted", step.index, message=step.error.message)
        if step.error is not None and step.error.family == "stop":
            reason = "interrupted" if step.error.type == "interrupted" else "stop_requested"
            return RunResult("stopped", reason, step.index, message=step.error.message)
        for action in step.screen_actions:
            if isinstance(action, Terminate) and step.error is None:
                status: RunStatus = "success" if action.status == "success" else "failure"
                return RunResult(status, "terminated", step.index, answer=action.answer)
        return None


def _join(first: str | None, second: str | None) -> str | None:
    return " ".join(t for t in (first, second) if t) or None


def _is_model_error(step: StepRecord) -> bool:
    return step.error is not None and step.error.family == "model"


def _message(step: StepRecord) -> str | None:
    return None if step.error is None else step.error.message


def _reply_text(step: StepRecord) -> str:
    return "" if step.reply is None else step.reply.text


__all__ = [
    "Agent",
    "LoopLimits",
    "Observer",
    "RunResult",
    "StepError",
    "StepRecord",
]


def _events(frame: Frame) -> list[object]:
    """What happened since the previous capture (new tabs, dialogs, blocked navigations), as the executor noted."""
    events = frame.extra.get("events")
    return list(events) if isinstance(events, list) else []
