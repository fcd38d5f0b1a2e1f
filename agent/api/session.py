"""A session: one screen (browser, desktop or phone), one model and one run folder, driven from a script.

A script mixes model steps (:meth:`Session.act`, :meth:`Session.run`, :meth:`Session.extract`) with its own
actions (:meth:`Session.click`, :meth:`Session.type`, ...; screen pixels). Every step, whoever decided it, goes
through the same safety gate as ``screenpilot run``, has its secrets filled in the same way, and is written to
the session's run folder as it ends: ``steps.jsonl`` numbers the steps across the whole session and each line's
``call`` says what it was for. ``run.json`` records the session's end when it is closed.

A session is not thread-safe: use it from the thread that opened it (Playwright's rule).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from PIL import Image

from screenpilot.agent.actions import (
    Action,
    Click,
    Drag,
    GoBack,
    MoveTo,
    Navigate,
    Point,
    PressKeys,
    Scroll,
    Terminate,
    TypeText,
    Wait,
    describe,
)
from screenpilot.agent.api.extract import (
    DEFAULT_EXTRACT_RETRIES,
    ExtractionError,
    InvalidAnswer,
    answer_schema,
    extraction_request,
    read_answer,
)
from screenpilot.agent.cli.options import RunOutput
from screenpilot.agent.errors import InfrastructureError, ScreenpilotError, StopRequested
from screenpilot.agent.frame import Frame
from screenpilot.agent.keys import split_chord
from screenpilot.agent.run.interrupts import interruptible_wait
from screenpilot.agent.run.loop import LoopLimits, Observer, RunResult, StepError, StepRecord
from screenpilot.agent.run.runner import OpenRun, open_run
from screenpilot.agent.run.settings import RunSettings
from screenpilot.agent.run.trajectory import TrajectoryWriter
from screenpilot.agent.safety.gate import Confirmer, TerminalPerson
from screenpilot.agent.safety.policy import HumanChannel
from screenpilot.models.resize import resize_image
from screenpilot.tools.base import Executor, ShowsPage


class ActionRefused(ScreenpilotError):
    """The safety gate did not let an action the script asked for run; ``rule`` is the rule that decided."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class ActFailed(ScreenpilotError):
    """The model gave no usable action for an instruction within the session's ``max_model_errors`` attempts."""


@dataclass(frozen=True)
class TaskResult:
    """How a task ended (``screenpilot.run`` or :meth:`Session.run`): ``status`` success, failure, error or
    stopped; ``reason`` (terminated, max_steps, model_errors, infrastructure...), ``steps`` (model calls),
    the model's ``answer``, an error ``message``, and the ``run_dir`` holding the trajectory."""

    status: str
    reason: str
    steps: int
    answer: str | None
    message: str | None
    run_dir: Path

    @property
    def ok(self) -> bool:
        """Whether the task succeeded."""
        return self.status == "success"

    @classmethod
    def of(cls, result: RunResult, run_dir: Path) -> TaskResult:
        """From the loop's result and the folder it wrote."""
        return cls(result.status, result.reason, result.steps, result.answer, result.message, run_dir)


@dataclass(frozen=True)
class ActResult:
    """What one :meth:`Session.act` did: the ``actions`` the model decided (screen pixels), how many were
    ``executed`` (the others were refused by the safety gate: see ``notes``), the model's ``reply``, whether it
    said the instruction was already ``done`` (with its ``answer``), and the ``step`` number in steps.jsonl."""

    instruction: str
    actions: tuple[Action, ...]
    executed: int
    reply: str
    notes: str | None
    done: bool
    answer: str | None
    step: int

    def __str__(self) -> str:
        did = "; ".join(describe(a) for a in self.actions if not isinstance(a, Terminate)) or "nothing"
        return did + ("" if self.notes is None else f" ({self.notes})")


class _SessionSteps:
    """Forwards the steps of a session's calls to the run folder's writer (and the console), numbered across the
    whole session and labelled with the call they belong to; the calls' own starts and ends are not the
    session's, so they are not forwarded."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = list(observers)
        self.count = 0
        self.call: tuple[str, str] | None = None
        self.last: StepRecord | None = None

    def on_start(self, task: str) -> None:
        """A call starts: nothing to record (the session started the folder)."""

    def on_step(self, step: StepRecord) -> None:
        """Record ``step`` under its session-wide number."""
        self.count += 1
        numbered = dataclasses.replace(step, index=self.count, call=self.call)
        self.last = numbered
        for observer in self.observers:
            observer.on_step(numbered)

    def on_end(self, result: RunResult) -> None:
        """A call ends: the session goes on, with its steps on disk."""
        self.flush()

    def flush(self) -> None:
        """Wait until the run folder holds every step recorded so far."""
        for observer in self.observers:
            if isinstance(observer, TrajectoryWriter):
                observer.flush()


class _AskFunction:
    """A person's answers from a function of the question (``ask_user=`` of the API)."""

    def __init__(self, ask: Callable[[str], str | None]) -> None:
        self._ask = ask

    def ask(self, question: str) -> str | None:
        return self._ask(question)


def human_channel(ask_user: Callable[[str], str | None] | HumanChannel | None) -> HumanChannel:
    """Who answers the model's questions: the function given, or else the terminal (as ``screenpilot run``)."""
    if ask_user is None:
        return TerminalPerson()
    return _AskFunction(ask_user) if callable(ask_user) else ask_user


class Session:
    """An open screen, model and run folder (see the module doc). Made by ``screenpilot.browser`` /
    ``desktop`` / ``phone``; close it with :meth:`close` or by leaving its ``with`` block.

    Raises, like the CLI: :class:`~screenpilot.agent.errors.ConfigError` for bad options,
    :class:`~screenpilot.agent.errors.InfrastructureError` subclasses when the model, browser or display fails.
    """

    def __init__(self, settings: RunSettings, output: RunOutput, *, human: HumanChannel | None = None,
                 confirmer: Confirmer | None = None, observers: Sequence[Observer] = ()) -> None:
        self._stack = ExitStack()
        self._opened: OpenRun = self._stack.enter_context(open_run(settings, confirmer))
        self._human = human or TerminalPerson()
        self._steps = _SessionSteps([self._opened.writer, *observers])
        self._closed = False
        self._opened.writer.on_start(settings.task)

    # --- the session ---------------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        """The session's run folder."""
        return self._opened.run_dir

    @property
    def executor(self) -> Executor:
        """The executor driving the screen (for what the API does not cover; its actions are not recorded)."""
        return self._opened.executor

    @property
    def page(self) -> Any:
        """The Playwright page of a browser or emulated-phone session (its current tab); AttributeError else."""
        executor = self._opened.executor
        if not isinstance(executor, ShowsPage):
            raise AttributeError(f"a {executor.kind} session has no page")
        return executor.page

    @property
    def steps(self) -> int:
        """Steps recorded so far."""
        return self._steps.count

    def close(self) -> None:
        """Record the session's end in run.json and close the screen and the model (idempotent)."""
        self._finish(RunResult("success", "session_closed", self._steps.count))

    def _finish(self, result: RunResult) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._opened.writer.on_end(result)
        finally:
            self._stack.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
        elif isinstance(exc, KeyboardInterrupt):
            self._finish(RunResult("stopped", "interrupted", self._steps.count, message="stopped by Ctrl-C"))
        else:
            message = exc.message if isinstance(exc, ScreenpilotError) else f"{type(exc).__name__}: {exc}"
            self._finish(RunResult("error", "session_error", self._steps.count, message=message))

    def _check_open(self) -> None:
        if self._closed:
            raise InfrastructureError("the session is closed; open a new one")

    # --- model steps -----------------------------------------------------------------------------------

    def act(self, instruction: str) -> ActResult:
        """The model carries out one step of ``instruction`` (e.g. "click Sign up") on the current screen (the
        grounder alone: a configured planner is not asked).

        An unusable reply is answered with a hint and asked again, up to the session's ``max_model_errors``;
        then :class:`ActFailed`. Actions the gate refuses are reported in ``notes``, not raised.
        """
        self._check_open()
        tries = self._opened.settings.max_model_errors

        def acted(step: StepRecord) -> RunResult | None:
            return None if step.error is not None else RunResult("success", "acted", step.index)

        result = self._call("act", instruction, LoopLimits(max_steps=tries, max_consecutive_model_errors=tries),
                            end_when=acted, plan=False)
        self._raise_if_broken(result)
        step = self._steps.last
        if (result.status == "failure" and result.reason != "terminated") or step is None:
            raise ActFailed(f"no usable action for {instruction!r} ({result.reason}): {result.message}")
        terminate = next((a for a in step.screen_actions if isinstance(a, Terminate)), None)
        return ActResult(instruction, step.screen_actions, step.executed, step.reply.text if step.reply else "",
                         step.feedback, terminate is not None, None if terminate is None else terminate.answer,
                         step.index)

    def run(self, task: str, *, max_steps: int | None = None) -> TaskResult:
        """The model carries out the whole ``task`` from the current screen (at most ``max_steps`` model calls;
        default: the session's), decided step by step by the planner when one is configured. Like
        ``screenpilot run``, a task that fails is a result, not an exception."""
        self._check_open()
        settings = self._opened.settings
        limits = LoopLimits(max_steps or settings.max_steps, settings.max_model_errors)
        return TaskResult.of(self._call("run", task, limits), self.run_dir)

    def _call(self, kind: str, text: str, limits: LoopLimits,
              end_when: Callable[[StepRecord], RunResult | None] | None = None, plan: bool = True) -> RunResult:
        self._steps.call = (kind, text)
        agent = self._opened.agent([self._steps], human=self._human, limits=limits, end_when=end_when, plan=plan)
        return agent.run(self._opened.settings.secrets.with_note(text))

    @staticmethod
    def _raise_if_broken(result: RunResult) -> None:
        if result.status == "error":
            raise InfrastructureError(result.message or result.reason)
        if result.status == "stopped":
            raise StopRequested(result.message or result.reason)

    def extract(self, question: str, schema: object = None, *, retries: int = DEFAULT_EXTRACT_RETRIES) -> Any:
        """The model reads the current screen and answers ``question`` as JSON validating against ``schema``
        (see :mod:`screenpilot.agent.api.extract`): a pydantic model's instance, or the parsed JSON. A reply that
        does not validate is answered with the problem and asked again ``retries`` times; then
        :class:`ExtractionError`. Each attempt is a recorded step."""
        self._check_open()
        self._steps.call = ("extract", question)
        answer = answer_schema(schema)
        opened = self._opened
        frame = opened.executor.screenshot()
        model_size = opened.prompt.model_size(frame.size)
        image = resize_image(frame.image, model_size)
        earlier: list[tuple[str, str]] = []
        for _ in range(retries + 1):
            step = StepRecord(0, time.time(), frame, model_size, image, opened.prompt.image_tokens(model_size))
            started = time.perf_counter()
            with interruptible_wait():
                step.reply = opened.model.complete(extraction_request(question, answer, image, opened.prompt,
                                                                      earlier))
            step.timings["model"] = time.perf_counter() - started
            try:
                value = read_answer(step.reply.text, answer)
            except InvalidAnswer as exc:
                step.error = StepError("model", "InvalidAnswer", exc.problem)
                earlier.append((step.reply.text, exc.problem))
                self._steps.on_step(step)
                continue
            self._steps.on_step(step)
            self._steps.flush()
            return value
        self._steps.flush()
        last_reply, problem = earlier[-1]
        raise ExtractionError(f"the model's answer to {question!r} did not validate after {retries + 1} "
                              f"attempt(s): {problem}", last_reply, problem)

    # --- the script's own actions (screen pixels) -------------------------------------------------------

    def screenshot(self) -> Image.Image:
        """The screen now, as the model would see it before resizing (secret fields masked)."""
        self._check_open()
        return self._opened.executor.screenshot().image

    def click(self, x: int, y: int, *, button: str = "left", count: int = 1) -> None:
        """Click at (x, y) screen pixels; ``button`` left, right or middle; ``count`` 2 for a double click."""
        if button not in ("left", "right", "middle"):
            raise ValueError(f"button must be left, right or middle, got {button!r}")
        self.do(Click(Point(x, y), button, count))  # type: ignore[arg-type]

    def double_click(self, x: int, y: int) -> None:
        """Double-click at (x, y)."""
        self.do(Click(Point(x, y), "left", 2))

    def move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y)."""
        self.do(MoveTo(Point(x, y)))

    def drag(self, x1: int, y1: int, x2: int, y2: int) -> None:
        """Drag with the left button from (x1, y1) to (x2, y2)."""
        self.do(Drag(Point(x2, y2), Point(x1, y1)))

    def scroll(self, dy: int, dx: int = 0, *, at: tuple[int, int] | None = None) -> None:
        """Scroll ``dy`` pixels down (negative: up) and ``dx`` right, at ``at`` (default: the pointer)."""
        self.do(Scroll(dy, dx, None if at is None else Point(*at)))

    def type(self, text: str) -> None:
        """Type ``text`` into the focused field; ``{{NAME}}`` placeholders are filled with the secrets."""
        self.do(TypeText(text))

    def press(self, keys: str | Sequence[str]) -> None:
        """Press a key or chord: ``"enter"``, ``"ctrl+a"`` or ``["ctrl", "a"]``."""
        self.do(PressKeys(tuple(split_chord(keys) if isinstance(keys, str) else keys)))

    def navigate(self, url: str) -> None:
        """Open ``url`` in the current tab (browser and phone sessions), if the policy allows it."""
        self.do(Navigate(url))

    def back(self) -> None:
        """Go back in the tab's history (browser and phone sessions)."""
        self.do(GoBack())

    def wait(self, seconds: float) -> None:
        """Wait ``seconds`` (recorded like the model's waits)."""
        self.do(Wait(seconds))

    def do(self, action: Action) -> None:
        """Carry out one screen-space ``action`` through the safety gate, and record it as a step.

        Raises :class:`ActionRefused` when the gate does not let it run (the refusal is recorded), and the
        executor's errors (e.g. :class:`~screenpilot.agent.errors.ActionFailedError` for a point off the screen).
        """
        self._check_open()
        opened = self._opened
        self._steps.call = ("code", describe(action))
        frame: Frame = opened.executor.screenshot()
        step = StepRecord(0, time.time(), frame, frame.size, frame.image, 0, model_actions=(action,),
                          screen_actions=(action,))
        verdict = opened.policy.check(action, frame)
        step.verdicts.append(verdict)
        try:
            if verdict.decision == "allow":
                secrets = opened.settings.secrets
                started = time.perf_counter()
                opened.executor.execute(secrets.reveal(action, frame.url) if secrets else action)
                step.timings["execute"] = time.perf_counter() - started
                step.timings["settle"] = 0.0 if isinstance(action, Wait) else opened.executor.settle()
                step.executed = 1
        except ScreenpilotError as exc:
            step.error = StepError.from_exception(exc)
            raise
        finally:
            step.timings["total"] = time.time() - step.started_at
            self._steps.on_step(step)
            self._steps.flush()
        if verdict.decision != "allow":
            raise ActionRefused(verdict.note or f"the action was not carried out ({verdict.rule})", verdict.rule)
