"""Planner and grounder (``--planner``): the planner's dialect, the stage's re-grounding, and runs end to end with
scripted planners, scripted grounders and the tiny Qwen2.5-VL behind ``transformers serve``."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import screenpilot
from screenpilot.agent.errors import InvalidArgumentError, ReplyParseError
from screenpilot.agent.reports.run_report import write_run_report
from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.models.formats.planner import PlanDecision, PlanTurn, build_planner_request, parse_plan
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SIGNUP = REPO / "scenarios" / "demo" / "signup.html"
GROUNDER = REPO / "scenarios" / "demo" / "signup_replies.json"
FLIGHTS_PLANNER = REPO / "tests" / "data" / "flights_planner_replies.json"


def cost_table(run_dir: Path) -> str:
    """bench/planner_cost.py's table, from the script itself."""
    spec = importlib.util.spec_from_file_location("planner_cost_bench", REPO / "bench" / "planner_cost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.cost_table(run_dir))


def planner_file(tmp_path: Path, *answers: object) -> str:
    path = tmp_path / "planner.json"
    path.write_text(json.dumps([a if isinstance(a, str) else json.dumps(a) for a in answers]))
    return f"scripted:{path}"


def screenpilot_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screenpilot", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


# --- the dialect ---------------------------------------------------------------------------------------------


def test_planner_answers_are_read_with_the_usual_tolerance() -> None:
    assert parse_plan('{"thought": "empty form", "step": "click the From field"}') == PlanDecision(
        "step", "click the From field", None, "empty form")
    assert parse_plan("Sure!\n```json\n{'done': 'SP-KK990D',}\n```") == PlanDecision("done", "SP-KK990D")
    assert parse_plan('{"done": ""}') == PlanDecision("done", "")
    assert parse_plan('{"missed": "it hit the label", "step": "type Ada"}') == PlanDecision(
        "step", "type Ada", "it hit the label")
    assert parse_plan('{"ask_user": "Which seat?"}').kind == "ask_user"


@pytest.mark.parametrize(("text", "error", "hint"), [
    ("I would click the button.", ReplyParseError, "Answer with exactly one JSON object"),
    ('{"thought": "hmm"}', InvalidArgumentError, 'exactly one of "step", "done", "fail" or "ask_user"'),
    ('{"step": "click", "done": "x"}', InvalidArgumentError, 'exactly one of "step", "done", "fail" or "ask_user"'),
    ('{"step": ""}', InvalidArgumentError, 'Write "step" as a string'),
    ('{"fail": 3}', InvalidArgumentError, 'Write "fail" as a string'),
])
def test_unusable_planner_answers_are_model_errors_with_hints_for_the_planner(
        text: str, error: type[Exception], hint: str) -> None:
    with pytest.raises(error) as caught:
        parse_plan(text)
    assert hint in caught.value.hint  # type: ignore[attr-defined]


def test_the_request_holds_the_history_and_the_screen_as_image_or_text() -> None:
    turns = [PlanTurn("click the From field", "click (366, 182)"),
             PlanTurn("type Lisbon", "type 'Lisbon'", "The action was not carried out (dry-run).")]
    vision = build_planner_request("Book a flight", turns, image=Image.new("RGB", (2560, 1440)))
    (image,) = vision.images()
    assert image.size == (1280, 720)
    text = "\n".join(p["text"] for m in vision.messages for p in m["content"] if p["type"] == "text")
    assert "Task: Book a flight" in text
    assert "1. click the From field -> click (366, 182)" in text
    assert "2. type Lisbon -> type 'Lisbon' (The action was not carried out (dry-run).)" in text
    text_only = build_planner_request("Book a flight", [], screen_text="Address: https://x.org/\n- button \"Go\"")
    assert text_only.images() == []
    assert 'The screen now:\nAddress: https://x.org/\n- button "Go"' in text_only.messages[1]["content"][1]["text"]


# --- end to end ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_scripted_planner_and_grounder_book_the_flight(tmp_path: Path) -> None:
    done = screenpilot_cli("scenario", "run", "scenarios/flights_booking.yaml", "--planner",
                           f"scripted:{FLIGHTS_PLANNER}", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "plan: click Select on the 09:45 flight" in done.stderr
    (run_dir,) = tmp_path.iterdir()
    steps = read_steps(run_dir)
    planned = json.loads(FLIGHTS_PLANNER.read_text())
    assert len(steps) == len(planned) == 18
    assert [s.planner.instruction for s in steps if s.planner] == [json.loads(p).get("step") for p in planned]
    grounder = json.loads((REPO / "scenarios" / "replies" / "flights_booking.json").read_text())
    assert [s.reply for s in steps[:-1]] == grounder[:-1]  # the grounder's own replies, one per instruction
    assert steps[-1].reply is None and steps[-1].actions_screen == [
        {"kind": "Terminate", "status": "success", "answer": "SP-KK990D"}]
    run = read_run(run_dir)
    assert run.model_extra is not None and run.model_extra["planner"]["backend"] == "scripted"
    report = write_run_report(run_dir).read_text()
    assert "Grounder instruction:</strong> pick seat 14C" in report
    assert "done: SP-KK990D" in report
    table = cost_table(run_dir)  # scripted models: no token counts, times near 0 (not asserted: a shared machine)
    assert re.search(r"\n   9 +\d+ +- +- +\d+ +- +1196 +-  pick seat 14C\n", table), table
    assert re.fullmatch(r"total: planner [\d.]+ s, 0 tokens; grounder [\d.]+ s, 0 tokens; .*", table.splitlines()[-1])


@pytest.mark.slow
def test_an_evaluation_with_a_planner_records_both_roles(tmp_path: Path) -> None:
    done = screenpilot_cli("eval", "scenarios/flights_booking.yaml", "--planner", f"scripted:{FLIGHTS_PLANNER}",
                           "--out", str(tmp_path / "eval"))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["planner"] == f"scripted:{FLIGHTS_PLANNER}" and results["summary"]["success_rate"] == 1.0
    (episode,) = results["episodes"]
    steps = read_steps(tmp_path / "eval" / episode["run_dir"])
    assert all(s.planner is not None for s in steps)


def test_a_missed_step_is_grounded_again_with_the_planners_note(tmp_path: Path) -> None:
    planner = planner_file(tmp_path, {"step": "click the Name field"},
                           {"missed": "the click landed on the label", "step": "type Ada Lovelace"},
                           {"step": "type Ada Lovelace"}, {"done": ""})
    with screenpilot.browser(str(SIGNUP), model=f"scripted:{GROUNDER}", planner=planner, out=tmp_path / "runs",
                             quiet=True) as s:
        result = s.run("Sign up as Ada")
        grounder_requests = s._opened.model.requests  # type: ignore[attr-defined] - scripted models keep them
    assert (result.status, result.steps) == ("success", 4)
    steps = read_steps(s.run_dir)
    plans = [step.planner for step in steps]
    assert [p.instruction if p else None for p in plans] == ["click the Name field", "click the Name field",
                                                            "type Ada Lovelace", None]
    assert plans[1] is not None and plans[1].regrounded and plans[1].missed == "the click landed on the label"
    second = "\n".join(p["text"] for m in grounder_requests[1].messages for p in m["content"] if p["type"] == "text")
    assert "click the Name field" in second
    assert "Your previous attempt did not work: the click landed on the label Try again." in second
    assert "Sign up as Ada" not in second  # the grounder sees the instruction, not the task


def test_act_uses_the_grounder_alone(tmp_path: Path) -> None:
    planner = planner_file(tmp_path, {"step": "never asked"})
    with screenpilot.browser(str(SIGNUP), model=f"scripted:{GROUNDER}", planner=planner, out=tmp_path / "runs",
                             quiet=True) as s:
        s.act("click the name field")
        focused = s.page.evaluate("document.activeElement.id")
    assert focused == "name"
    assert read_steps(s.run_dir)[0].planner is None


def test_a_planner_that_answers_garbage_ends_the_run_like_a_bad_model(tmp_path: Path) -> None:
    planner = planner_file(tmp_path, "I think we should sign up.", '{"thought": "hm"}', "no")
    done = screenpilot_cli("run", "Sign up", "--url", str(SIGNUP), "--model", f"scripted:{GROUNDER}", "--planner",
                           planner, "--out", str(tmp_path / "runs"))
    assert done.returncode == 1, done.stderr
    assert "FAILURE (model_errors) after 3 step(s)" in done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    steps = read_steps(run_dir)
    assert [s.error.type if s.error else None for s in steps] == ["ReplyParseError", "InvalidArgumentError",
                                                                   "ReplyParseError"]
    assert all(s.reply is None for s in steps)  # the grounder was never asked
    assert steps[1].planner is not None and steps[1].planner.request.endswith("note")


def test_an_unreachable_planner_is_an_infrastructure_error(tmp_path: Path) -> None:
    port = free_port()
    done = screenpilot_cli("run", "Sign up", "--url", str(SIGNUP), "--model", f"scripted:{GROUNDER}", "--planner",
                           "gpt-test", "--planner-api-base", f"http://127.0.0.1:{port}/v1", "--planner-timeout", "1",
                           "--planner-retries", "0", "--out", str(tmp_path / "runs"))
    assert done.returncode == 3, done.stderr
    assert f"the planner: no answer from http://127.0.0.1:{port}/v1/chat/completions" in done.stderr
    assert "after 1 attempts" in done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert read_run(run_dir).outcome is not None


@pytest.mark.slow
def test_tiny_grounder_behind_transformers_serve_with_a_scripted_planner(
        tiny_model_dir: Path, transformers_server: str, tmp_path: Path) -> None:
    planner = planner_file(tmp_path, {"step": "click the Name field"}, {"step": "type Ada Lovelace"})
    done = screenpilot_cli("run", "Sign up", "--url", str(SIGNUP), "--api-base", transformers_server, "--model",
                           str(tiny_model_dir), "--planner", planner, "--max-steps", "2", "--max-new-tokens", "12",
                           "--viewport", "800x600", "--max-pixels", str(256 * 28 * 28), "--out", str(tmp_path / "runs"))
    assert done.returncode == 1, done.stderr  # a random grounder: it fails, cleanly
    (run_dir,) = (tmp_path / "runs").iterdir()
    steps = read_steps(run_dir)
    assert len(steps) == 2
    assert [s.planner.instruction if s.planner else None for s in steps] == ["click the Name field",
                                                                            "type Ada Lovelace"]
    assert all(s.reply is not None and s.image_tokens == 234 for s in steps)  # the real grounder answered each


def test_a_text_only_planner_reads_the_pages_accessibility_text(tmp_path: Path) -> None:
    planner = planner_file(tmp_path, {"step": "click the Name field"}, {"done": ""})
    with screenpilot.browser(str(SIGNUP), model=f"scripted:{GROUNDER}", planner=planner, planner_text_only=True,
                             out=tmp_path / "runs", quiet=True) as s:
        assert s.run("Sign up as Ada").ok
        first = s._opened.planner.requests[0]  # type: ignore[union-attr] - the scripted planner keeps them
    assert first.images() == []
    text = "\n".join(p["text"] for m in first.messages for p in m["content"] if p["type"] == "text")
    assert f"Address: {SIGNUP.as_uri()}" in text
    assert '- textbox "Full name"\n' in text and '- button "Sign up"\n' in text


def test_a_planner_run_exports_grounder_examples(tmp_path: Path) -> None:
    from screenpilot.agent.learning.examples import collect

    planner = planner_file(tmp_path, {"step": "click the Name field"},
                           {"missed": "it hit the label", "step": "type Ada Lovelace"}, {"done": ""})
    done = screenpilot_cli("run", "Sign up as Ada", "--url", str(SIGNUP), "--model", f"scripted:{GROUNDER}",
                           "--planner", planner, "--out", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    examples, (report,) = collect([run_dir])
    assert [e.step for e in examples] == [1, 2] and report.dropped == ["step 3: the planner ended the task"]
    grounder = json.loads(GROUNDER.read_text())
    assert [e.target for e in examples] == grounder[:2]
    notes = (None, "Your previous attempt did not work: it hit the label Try again.")
    for example, note in zip(examples, notes, strict=True):
        text = "\n".join(p["text"] for m in example.request.messages for p in m["content"] if p["type"] == "text")
        assert "click the Name field" in text and "Sign up as Ada" not in text
        assert (note in text) if note else ("previous attempt" not in text)
        assert len(example.request.images()) == 1
