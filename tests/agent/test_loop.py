"""The loop's control flow: termination, budgets, feedback, errors, and observers."""

from __future__ import annotations

import json
import re

import pytest

from screenpilot.agent.actions import Click, Point, PressKeys, Terminate, TypeText
from screenpilot.agent.errors import ActionFailedError, ExecutorError
from screenpilot.agent.run.loop import Agent, LoopLimits, RunResult, StepRecord
from screenpilot.agent.safety.policy import Verdict
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import Qwen25Format
from screenpilot.tools.recording import RecordingExecutor


def call(**arguments: object) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"


class ListObserver:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.steps: list[StepRecord] = []
        self.results: list[RunResult] = []

    def on_start(self, task: str) -> None:
        self.started.append(task)

    def on_step(self, step: StepRecord) -> None:
        self.steps.append(step)

    def on_end(self, result: RunResult) -> None:
        self.results.append(result)


def make_agent(replies: list[str], executor: RecordingExecutor | None = None, **limits: int) -> tuple[
    Agent, ScriptedModel, RecordingExecutor, ListObserver
]:
    model = ScriptedModel(replies)
    executor = executor or RecordingExecutor((1280, 720))
    observer = ListObserver()
    agent = Agent(model=model, prompt=Qwen25Format(), executor=executor, observers=[observer],
                  limits=LoopLimits(**limits))
    return agent, model, executor, observer


def test_terminate_success_ends_the_run_with_mapped_actions() -> None:
    agent, _, executor, observer = make_agent([
        call(action="left_click", coordinate=[644, 364]),
        call(action="type", text="héllo <b>"),
        call(action="terminate", status="success"),
    ])
    result = agent.run("do it")
    assert result == RunResult("success", "terminated", 3)
    # 1280x720 is shown to the model as 1288x728; (644, 364) maps back to the centre (640, 360).
    assert executor.actions == [Click(Point(640, 360)), TypeText("héllo <b>")]
    assert observer.results == [result]
    assert [s.index for s in observer.steps] == [1, 2, 3]
    assert observer.steps[0].model_size == (1288, 728)
    assert observer.steps[0].image_tokens == 1196


def test_terminate_failure_and_answer_are_reported() -> None:
    agent, *_ = make_agent([call(action="terminate", status="failure", answer="no such flight")])
    result = agent.run("find a flight")
    assert (result.status, result.reason, result.answer) == ("failure", "terminated", "no such flight")


def test_model_error_hint_is_fed_back_on_the_next_turn() -> None:
    agent, model, executor, observer = make_agent([
        "I think I should click somewhere.",
        call(action="key", keys=["ctrl", "a"]),
        call(action="terminate", status="success"),
    ])
    result = agent.run("task")
    assert result.status == "success"
    first = observer.steps[0]
    assert first.error is not None and first.error.family == "model" and first.error.hint
    second_prompt = json.dumps([p.get("text") for m in model.requests[1].messages for p in m["content"]])
    assert first.error.hint[:30] in second_prompt
    assert executor.actions == [PressKeys(("ctrl", "a"))]


def test_consecutive_model_errors_end_the_run() -> None:
    agent, *_ = make_agent(["garbage", "more garbage", "{not json", call(action="wait", time=1)],
                           max_consecutive_model_errors=3)
    result = agent.run("task")
    assert (result.status, result.reason, result.steps) == ("failure", "model_errors", 3)


def test_a_good_reply_resets_the_model_error_count() -> None:
    replies = ["bad", "bad", call(action="mouse_move", coordinate=[10, 10]), "bad", "bad",
               call(action="terminate", status="success")]
    agent, *_ = make_agent(replies, max_consecutive_model_errors=3)
    assert agent.run("task").status == "success"


def test_max_steps_budget() -> None:
    agent, *_ = make_agent([call(action="mouse_move", coordinate=[10, 10])] * 5, max_steps=2)
    assert agent.run("task") == RunResult("failure", "max_steps", 2)


def test_script_exhausted_ends_cleanly() -> None:
    agent, _, _, observer = make_agent([call(action="mouse_move", coordinate=[10, 10])])
    result = agent.run("task")
    assert (result.status, result.reason) == ("failure", "script_exhausted")
    assert observer.results == [result]


def test_executor_crash_ends_the_run_as_infrastructure_error() -> None:
    def crash_on_typing(action: object) -> None:
        if isinstance(action, TypeText):
            raise ExecutorError("browser crashed")

    agent, _, _, observer = make_agent(
        [call(action="left_click", coordinate=[1, 1]), call(action="type", text="x"), call(action="wait", time=1)],
        executor=RecordingExecutor(fail_on=crash_on_typing),
    )
    result = agent.run("task")
    assert (result.status, result.reason, result.steps, result.message) == (
        "error", "infrastructure", 2, "browser crashed")
    assert len(observer.steps) == 2 and observer.steps[1].error is not None


def test_action_failure_the_model_can_fix_is_feedback() -> None:
    def refuse_typing(action: object) -> None:
        if isinstance(action, TypeText):
            raise ActionFailedError("nothing focused", hint="Click a text field before typing.")

    agent, model, _, _ = make_agent(
        [call(action="type", text="x"), call(action="terminate", status="success")],
        executor=RecordingExecutor(fail_on=refuse_typing),
    )
    assert agent.run("task").status == "success"
    assert "Click a text field before typing." in json.dumps(
        [p.get("text") for m in model.requests[1].messages for p in m["content"]])


def test_several_calls_in_one_reply_run_in_order() -> None:
    agent, _, executor, _ = make_agent([
        call(action="left_click", coordinate=[644, 364]) + "\n" + call(action="type", text="a"),
        call(action="terminate", status="success"),
    ])
    agent.run("task")
    assert executor.actions == [Click(Point(640, 360)), TypeText("a")]


def test_policy_denial_skips_the_action_and_tells_the_model() -> None:
    class NoTyping:
        def check(self, action: object, frame: object) -> Verdict:
            if isinstance(action, TypeText):
                return Verdict("deny", "no-typing", "Typing is not allowed here.")
            return Verdict("allow")

        def describe(self) -> dict[str, object]:
            return {}

    agent, model, executor, observer = make_agent(
        [call(action="type", text="x"), call(action="terminate", status="success")])
    agent.policy = NoTyping()
    agent.run("task")
    assert executor.actions == []
    assert observer.steps[0].verdicts[0].decision == "deny"
    assert "Typing is not allowed here." in json.dumps(
        [p.get("text") for m in model.requests[1].messages for p in m["content"]])


def test_keyboard_interrupt_still_notifies_observers() -> None:
    def interrupt(action: object) -> None:
        raise KeyboardInterrupt

    agent, _, _, observer = make_agent(
        [call(action="left_click", coordinate=[1, 1]), call(action="left_click", coordinate=[1, 1])],
        executor=RecordingExecutor(fail_on=interrupt))
    with pytest.raises(KeyboardInterrupt):
        agent.run("task")
    assert observer.results and observer.results[0].status == "stopped"


def test_terminate_is_never_sent_to_the_executor() -> None:
    agent, _, executor, _ = make_agent([call(action="terminate", status="success")])
    agent.run("task")
    assert not any(isinstance(a, Terminate) for a in executor.actions)


class SlowModel(ScriptedModel):
    """Scripted replies that take ``seconds`` each, like a model thinking."""

    def __init__(self, replies: list[str], seconds: float) -> None:
        super().__init__(replies)
        self.seconds = seconds

    def complete(self, request):  # type: ignore[no-untyped-def]
        import time

        time.sleep(self.seconds)
        return super().complete(request)


@pytest.mark.parametrize("terminal", [True, False])
def test_a_terminal_shows_the_wait_for_the_model_and_a_log_does_not(terminal: bool) -> None:
    import io

    from rich.console import Console

    from screenpilot.agent.run.console import ConsoleObserver

    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100)
    model = SlowModel([call(action="terminate", status="success")], seconds=0.8)
    agent = Agent(model=model, prompt=Qwen25Format(), executor=RecordingExecutor((1280, 720)),
                  observers=[ConsoleObserver(console, 5)])
    assert agent.run("wait").status == "success"
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # without colours and cursor moves
    assert ("step 1: waiting for the model, 0 s" in shown) is terminal
    assert "step 1/5" in shown and "terminate success" in shown


def test_a_reply_asking_for_too_much_is_refused_with_a_hint_and_nothing_runs() -> None:
    huge = call(action="type", text="x" * 200_000)
    many = "".join(call(action="left_click", coordinate=[10, 10]) for _ in range(50))
    agent, _, executor, observer = make_agent([huge, many, call(action="terminate", status="success")])
    assert agent.run("type a lot").status == "success"
    first, second = observer.steps[0], observer.steps[1]
    assert first.error is not None and first.error.type == "InvalidArgumentError"
    assert "200000 characters; at most 10000" in first.error.message and "split longer text" in (first.feedback or "")
    assert second.error is not None and "50 actions in one reply; at most 10" in second.error.message
    assert executor.actions == []  # neither the text nor any of the 50 clicks was carried out
