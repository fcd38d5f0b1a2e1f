"""Scripted replay with visual anchors: script files, the replay driver, and the flights booking
recorded, turned into a script and replayed on the shifted layout without a model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from screenpilot.agent.actions import Click, Drag, Point, PressKeys, Scroll, Terminate, TypeText, Wait, to_json
from screenpilot.agent.cli.main import main
from screenpilot.agent.run.records import StepErrorRecord, StepLine, VerdictRecord
from screenpilot.agent.run.settings import ModelSettings
from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.agent.scenario.file_format import load_scenario
from screenpilot.agent.scenario.replay import Lookup, LostAnchor, ReplayFormat, fallback_note, reply_text
from screenpilot.agent.scenario.runner import EpisodeOptions, run_scenario
from screenpilot.agent.scenario.script import executed_actions, relative_url, script_from_run
from screenpilot.agent.scenario.spec import (
    DragStep,
    ImageTarget,
    KeyStep,
    PointerStep,
    ScenarioError,
    ScriptStep,
    ScrollStep,
    SelectorCheck,
    SelectorTarget,
    TerminateStep,
    TextTarget,
)
from screenpilot.models.formats.qwen25 import Qwen25Format, format_call
from screenpilot.models.resize import screen_to_model
from screenpilot.scenarios import SCENARIOS_DIR
from screenpilot.tools.vision import Match

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                                    reason="needs Chromium (apt-get install chromium)")

SEARCH_BUTTON = (154, 403)
"""Centre of the flights site's search button in screen pixels (unshifted layout)."""


# --- script files ----------------------------------------------------------------------------------


def _scenario(tmp_path: Path, steps: str, environment: str = "{browser: {site: flights}}") -> Path:
    Image.new("RGB", (40, 30), "white").save(tmp_path / "anchor.png")
    file = tmp_path / "script.yaml"
    file.write_text(f"instruction: x\nenvironment: {environment}\nchecks: [{{answer: x}}]\nsteps:\n{steps}",
                    encoding="utf-8")
    return file


def test_steps_parse_into_typed_actions(tmp_path: Path) -> None:
    spec = load_scenario(_scenario(tmp_path, """\
  - click: {image: anchor.png, offset: [12, -3], near: [100, 50], threshold: 0.9}
    note: the search button
  - type: 42
  - double_click: {text: Search flights, threshold: 0.7}
  - right_click: {selector: "#x", offset: [0, 5]}
  - move: {at: [10, 20]}
  - drag: {image: anchor.png, by: [120, 0]}
  - scroll: {dy: -300, text: Results}
  - key: ctrl+A
  - wait: 0.5
  - navigate: /results.html
  - back
  - terminate: {status: success, answer: SP-1}
"""))
    assert spec.steps is not None and len(spec.steps) == 12 and spec.replies is None
    first = spec.steps[0]
    assert first == ScriptStep(PointerStep("click", ImageTarget(tmp_path / "anchor.png", 0.9, (12, -3), (100, 50))),
                               "the search button")
    assert spec.steps[1].action.text == "42"  # type: ignore[union-attr]
    assert spec.steps[2].action == PointerStep("double_click", TextTarget("Search flights", 0.7))
    assert spec.steps[3].action == PointerStep("right_click", SelectorTarget("#x", (0, 5)))
    assert isinstance(spec.steps[5].action, DragStep) and spec.steps[5].action.by == (120, 0)
    assert spec.steps[6].action == ScrollStep(-300, 0, TextTarget("Results"))
    assert spec.steps[7].action == KeyStep(("ctrl", "A"))
    assert spec.steps[11].action == TerminateStep("success", "SP-1")


@pytest.mark.parametrize(("steps", "field", "problem"), [
    ("  - tap: {at: [1, 2]}\n", "steps[0].tap", "unknown field"),
    ("  - click: {at: [1, 2]}\n    type: x\n", "steps[0]", "exactly one action"),
    ("  - click: {}\n", "steps[0].click", "needs a target"),
    ("  - click: {at: [1, 2], image: anchor.png}\n", "steps[0].click", "one target"),
    ("  - click: {image: missing.png}\n", "steps[0].click.image", "file not found"),
    ("  - click: {at: [1, 2], offset: [3, 4]}\n", "steps[0].click.offset", "fixed point"),
    ("  - click: {image: anchor.png, threshold: 2}\n", "steps[0].click.threshold", "<= 1"),
    ("  - click: {at: [1]}\n", "steps[0].click.at", "expected [x, y]"),
    ("  - drag: {by: [1, 2]}\n", "steps[0].drag.by", "give a target"),
    ("  - scroll: {dy: 0}\n", "steps[0].scroll", "not both zero"),
    ("  - key: ctrl+hyper\n", "steps[0].key", "unknown key"),
    ("  - terminate: maybe\n", "steps[0].terminate", "success or failure"),
    ("  - jump\n", "steps[0]", "expected a mapping"),
])
def test_bad_steps_name_file_and_field(tmp_path: Path, steps: str, field: str, problem: str) -> None:
    file = _scenario(tmp_path, steps)
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    assert info.value.field == field and problem in info.value.problem, str(info.value)
    assert str(file) in str(info.value)


def test_browser_only_steps_and_replies_with_steps(tmp_path: Path) -> None:
    desktop = "{desktop: {virtual_display: 640x480}}"
    for steps, field in (("  - click: {selector: '#a'}\n", "steps[0].click.selector"),
                         ("  - navigate: /x\n", "steps[0].navigate")):
        with pytest.raises(ScenarioError, match="need a browser environment") as info:
            load_scenario(_scenario(tmp_path, steps, desktop))
        assert info.value.field == field
    file = _scenario(tmp_path, "  - back\n")
    file.write_text(file.read_text(encoding="utf-8") + "replies: []\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not both"):
        load_scenario(file)


# --- the replay format and pieces ----------------------------------------------------------------


def test_replay_format_is_screen_space_and_round_trips_actions() -> None:
    fmt = ReplayFormat()
    actions = [Click(Point(5, 6), button="right"), Drag(Point(9, 9), Point(1, 2)), Scroll(-40, 3, Point(1, 1)),
               TypeText("a <tool_call> b\nc"), PressKeys(("ctrl", "a")), Wait(0.5), Terminate("success", "x")]
    assert fmt.model_size((1366, 768)) == (1366, 768) and fmt.image_tokens((1366, 768)) == 0
    assert fmt.parse(reply_text("script step 1/7: whatever", actions), (10, 10)) == actions
    assert fmt.to_screen(actions[0], (10, 10), (20, 20)) == actions[0]
    request = fmt.build_request("task", [], Image.new("RGB", (30, 20)), "feedback")
    assert request.image_size == (30, 20) and request.images()[0].size == (30, 20)


def test_fallback_note_gives_the_point_in_the_models_space() -> None:
    step = ScriptStep(PointerStep("click", ImageTarget(Path("a.png"), near=SEARCH_BUTTON)), note="the search button")
    lost = LostAnchor(6, 18, "click", "image a.png", Lookup(None, Match((1, 1), (0, 0, 2, 2), 0.4), 0.85, "x"), 7, 2)
    fmt = Qwen25Format()
    model_size = fmt.model_size((1280, 720))
    note = fallback_note(step, lost, fmt, model_size, (1280, 720))
    expected = screen_to_model(Point(*SEARCH_BUTTON), (1280, 720), model_size)
    assert f"({expected.x}, {expected.y})" in note and "the search button" in note and "terminate" in note
    assert "best score 0.400 at (1, 1)" in lost.message() and "script step 6/18" in lost.message()


def test_executed_actions_leave_out_refused_and_failed_ones() -> None:
    click, typed = to_json(Click(Point(1, 2))), to_json(TypeText("x"))
    allow, deny = VerdictRecord(decision="allow"), VerdictRecord(decision="deny")
    step = StepLine(index=1, actions_screen=[click, typed, to_json(Terminate("success", "a"))],
                    verdicts=[deny, allow], executed=1)
    assert executed_actions(step) == [TypeText("x"), Terminate("success", "a")]
    failed = StepLine(index=2, actions_screen=[click, typed], verdicts=[allow, allow], executed=1,
                      error=StepErrorRecord(family="model", type="X", message="failed"))
    assert executed_actions(failed) == [Click(Point(1, 2))]
    assert relative_url("http://127.0.0.1:4000/results.html?q=1", "http://127.0.0.1:4000/index.html") == \
        "/results.html?q=1"
    assert relative_url("https://example.org/a", "http://127.0.0.1:4000/") == "https://example.org/a"


# --- record, script, replay ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def flights_script(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The bundled flights booking run with its scripted replies, and the script made from it."""
    if shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Chromium (apt-get install chromium)")
    base = tmp_path_factory.mktemp("flights")
    episode = run_scenario(load_scenario(SCENARIOS_DIR / "flights_booking.yaml"), EpisodeOptions(out_dir=base / "runs"))
    assert episode.success and episode.run_dir is not None, episode.failure
    script = base / "scripts" / "flights_script.yaml"
    assert main(["script", str(episode.run_dir), "--out", str(script)]) == 0
    return episode.run_dir, script


def _variant(script: Path, name: str, change: dict[str, Any]) -> Path:
    """A copy of ``script`` beside it (same anchors) with top-level fields replaced."""
    data = yaml.safe_load(script.read_text(encoding="utf-8"))
    data.update(change)
    file = script.parent / f"{name}.yaml"
    file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return file


@needs_chromium
def test_script_holds_anchors_text_and_the_source_checks(flights_script: tuple[Path, Path]) -> None:
    run_dir, script = flights_script
    spec = load_scenario(script)
    source = load_scenario(SCENARIOS_DIR / "flights_booking.yaml")
    assert spec.steps is not None and len(spec.steps) == len(read_steps(run_dir)) == 18
    assert [c.name for c in spec.checks] == [c.name for c in source.checks]
    assert spec.environment == source.environment and spec.instruction == source.instruction
    clicks = [s.action for s in spec.steps if isinstance(s.action, PointerStep)]
    assert len(clicks) == 12 and all(isinstance(c.target, ImageTarget) for c in clicks)
    first = clicks[0].target
    assert isinstance(first, ImageTarget) and first.near == (364, 180)
    assert first.path.parent == script.parent / "anchors" / "flights_script" and first.path.is_file()
    with Image.open(first.path) as anchor:
        assert anchor.width >= 96 and anchor.height >= 64
    typed = [s.action.text for s in spec.steps if hasattr(s.action, "text")]
    assert typed == ["Lisbon", "Paris", "Ada", "Lovelace", "ada@example.com"]
    assert spec.steps[-1].action == TerminateStep("success", "SP-KK990D")
    assert main(["script", str(run_dir), "--out", str(script)]) == 2  # exists: needs --force


@needs_chromium
def test_a_run_without_a_scenario_gets_its_start_url_and_outcome_checks(flights_script: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    run_dir, _ = flights_script
    plain = tmp_path / "plain_run"
    shutil.copytree(run_dir, plain)
    recorded = json.loads((plain / "run.json").read_text(encoding="utf-8"))
    del recorded["scenario"]
    (plain / "run.json").write_text(json.dumps(recorded), encoding="utf-8")
    result = script_from_run(plain)
    assert result.path == plain / "script.yaml" and result.source is None and result.steps == 18
    spec = load_scenario(result.path)
    assert getattr(spec.environment, "url", "") == read_steps(plain)[0].url
    assert [c.name for c in spec.checks][:2] == ["same answer", "same final page"]
    assert getattr(spec.checks[1], "pattern", "") == r"/confirmation\.html$"
    # and selector checks of what the run's last actions made the page show (the element probes)
    assert SelectorCheck("shown at the end: #booking-ref", "#booking-ref", text_equals="SP-KK990D") in spec.checks


@needs_chromium
def test_replay_on_the_shifted_layout_books_the_flight(flights_script: tuple[Path, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run_dir, script = flights_script
    shifted = _variant(script, "flights_script_shifted", {
        "environment": {"browser": {"site": "flights", "path": "/index.html?shift=1"}},
        "checks": [*yaml.safe_load(script.read_text(encoding="utf-8"))["checks"],
                   {"name": "layout shifted", "js": "document.documentElement.classList.contains('shifted')"}]})
    assert main(["scenario", "run", str(shifted), "--out", str(tmp_path), "--quiet"]) == 0, capsys.readouterr().err
    err = " ".join(capsys.readouterr().err.split())
    assert "SUCCESS" in err and "12/12 target lookup(s) found" in err
    replay_dir = next(tmp_path.iterdir())
    report = json.loads((replay_dir / "replay.json").read_text(encoding="utf-8"))
    assert report["lost"] is None and report["played"] == 18 and all(item["found"] for item in report["lookups"])
    checks = json.loads((replay_dir / "checks.json").read_text(encoding="utf-8"))
    assert checks["success"] and {c["name"] for c in checks["checks"] if c["passed"]} >= {
        "booking confirmed", "seat", "passenger", "reference reported", "layout shifted"}
    recorded, replayed = read_steps(run_dir), read_steps(replay_dir)
    assert len(replayed) == 18
    assert replayed[0].model_fields_set == recorded[0].model_fields_set  # the same steps.jsonl keys
    assert all((replay_dir / str(s.screenshot)).is_file() for s in replayed)
    recorded_x, recorded_y = recorded[0].actions_screen[0]["at"]
    assert replayed[0].actions_screen[0]["at"] == [recorded_x + 120, recorded_y + 96]
    run = read_run(replay_dir)
    assert isinstance(run.model, dict) and run.model["backend"] == "replay"
    assert run.prompt_format is not None and run.prompt_format["name"] == "replay"


@needs_chromium
def test_a_lost_anchor_stops_the_replay_with_a_report(flights_script: tuple[Path, Path], tmp_path: Path) -> None:
    _, script = flights_script
    remove = "document.getElementById('search-button').remove()"
    lost = _variant(script, "flights_script_lost", {"setup": [{"js": remove}]})
    episode = run_scenario(load_scenario(lost), EpisodeOptions(out_dir=tmp_path))
    assert (episode.status, episode.reason) == ("failure", "anchor_lost")
    assert episode.failure is not None and episode.run_dir is not None
    for part in ("script step 6/18", "image anchors/flights_script/step_006.png", "best score", "threshold",
                 "searched the whole 1280x720 screen"):
        assert part in episode.failure
    report = json.loads((episode.run_dir / "replay.json").read_text(encoding="utf-8"))
    assert report["lost"]["step"] == 6 and report["lost"]["best_score"] < report["lost"]["threshold"]
    assert report["outcome"]["reason"] == "anchor_lost" and report["played"] == 5
    assert (episode.run_dir / "replay_lost_step_006.png").is_file()
    last = read_steps(episode.run_dir)[-1]
    assert last.error is not None and last.error.type == "AnchorNotFound" and last.actions_screen == []


@needs_chromium
def test_a_fallback_model_does_the_lost_step_and_the_replay_carries_on(flights_script: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    _, script = flights_script
    restyle = ("const b = document.getElementById('search-button'); b.textContent = 'Find my flight'; "
               "Object.assign(b.style, {background: '#ffffff', color: '#17325c', border: '3px solid #17325c', "
               "width: '180px', padding: '0'})")
    restyled = _variant(script, "flights_script_restyled", {"setup": [{"js": restyle}]})
    model_xy = screen_to_model(Point(*SEARCH_BUTTON), (1280, 720), Qwen25Format().model_size((1280, 720)))
    replies = tmp_path / "fallback.json"
    replies.write_text(json.dumps([format_call(Click(model_xy))]), encoding="utf-8")
    options = EpisodeOptions(out_dir=tmp_path / "runs", fallback_model=ModelSettings(spec=f"scripted:{replies}"))
    episode = run_scenario(load_scenario(restyled), options)
    assert episode.success, episode.failure
    assert episode.run_dir is not None
    report = json.loads((episode.run_dir / "replay.json").read_text(encoding="utf-8"))
    assert len(report["fallbacks"]) == 1 and report["played"] == 18
    fallback = report["fallbacks"][0]
    assert fallback["step"] == 6 and fallback["actions_screen"][0]["at"] == list(SEARCH_BUTTON)
    assert f"({model_xy.x}, {model_xy.y})" in fallback["note"]
    model = read_run(episode.run_dir).model
    assert isinstance(model, dict) and model["fallback"]["backend"] == "scripted"


@needs_chromium
def test_text_and_selector_targets_on_the_shifted_layout(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr")
    pytest.importorskip("onnxruntime")
    scenario = tmp_path / "search.yaml"
    scenario.write_text("""\
instruction: Search flights from Lisbon to Paris on 14 June.
environment: {browser: {site: flights, path: "/index.html?shift=1"}}
checks:
  - js: window.appState.search
    equals: {from: Lisbon, to: Paris, date: "2024-06-14"}
steps:
  - click: {selector: "#from"}
  - type: Lisbon
  - click: {text: "To", offset: [200, 0]}
  - type: Paris
  - click: {selector: '[data-date="2024-06-14"]'}
  - click: {text: Search flights}
  - terminate
""", encoding="utf-8")
    episode = run_scenario(load_scenario(scenario), EpisodeOptions(out_dir=tmp_path / "runs"))
    assert episode.success, episode.failure


@needs_chromium
def test_eval_runs_replay_scripts_without_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "from_field.yaml").write_text("""\
instruction: Type Lisbon into From.
environment: {browser: {site: flights}}
checks:
  - selector: "#from"
    value: Lisbon
steps:
  - click: {selector: "#from"}
  - type: Lisbon
  - terminate
""", encoding="utf-8")
    assert main(["scenario", "list", str(suite)]) == 0
    assert "script (3 steps)" in capsys.readouterr().err
    assert main(["eval", str(suite), "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    [episode] = results["episodes"]
    assert episode["success"] and episode["steps"] == 3
