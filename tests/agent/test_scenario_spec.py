"""Scenario files: the bundled ones load, and every kind of mistake gets one clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screenpilot.agent.scenario.file_format import load_scenario, scenario_files
from screenpilot.agent.scenario.spec import (
    AnswerCheck,
    BrowserEnvironment,
    DesktopEnvironment,
    FileStep,
    JsCheck,
    JsStep,
    NavigateStep,
    ScenarioError,
    SelectorCheck,
    UrlCheck,
    WaitStep,
)
from screenpilot.scenarios import SCENARIOS_DIR

MINIMAL = """\
instruction: Do the thing.
environment:
  browser:
    site: todo
checks:
  - js: window.appState.todos.length
    equals: 3
"""


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ScenarioError:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    return info.value


def test_every_bundled_scenario_loads_with_replies() -> None:
    files = scenario_files(SCENARIOS_DIR)
    ids = {load_scenario(f).id for f in files}
    assert {"flights_booking", "invoice_extract", "form_registration", "todo_manage"} <= ids
    for file in files:
        spec = load_scenario(file)
        assert spec.replies, f"{file} has no scripted replies"
        assert spec.site and spec.id.startswith(spec.site), "bundled scenarios are named <site>_*.yaml"


def test_flights_scenario_is_the_full_booking_flow() -> None:
    spec = load_scenario(SCENARIOS_DIR / "flights_booking.yaml")
    env = spec.environment
    assert isinstance(env, BrowserEnvironment) and env.site == "flights" and env.viewport == (1280, 720)
    assert env.site_root is not None and (env.site_root / "confirmation.html").is_file()
    assert spec.needs_answer
    kinds = {type(c) for c in spec.checks}
    assert {JsCheck, UrlCheck, SelectorCheck, AnswerCheck} <= kinds
    assert spec.budget.max_steps == 25


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    spec = load_scenario(write(tmp_path, MINIMAL, "my-case.yaml"))
    assert spec.id == "my-case"
    assert spec.budget.max_steps == 30 and spec.budget.time_limit_s == 300
    assert spec.replies is None and spec.setup == ()
    check = spec.checks[0]
    assert isinstance(check, JsCheck) and check.has_expected and check.expected == 3
    assert check.name == "js window.appState.todos.length"


def test_full_file_parses_every_part(tmp_path: Path) -> None:
    (tmp_path / "replies.json").write_text(json.dumps(["a", "b"]), encoding="utf-8")
    (tmp_path / "button.png").write_bytes(b"not read at load time")
    spec = load_scenario(write(tmp_path, """\
id: full
instruction: Everything.
environment:
  browser: {url: "https://example.org/x", viewport: [800, 600]}
setup:
  - navigate: https://example.org/y
  - js: localStorage.clear()
  - file: {path: notes.txt, content: hello}
  - wait: 0.5
budget: {max_steps: 7, time_limit_s: 12.5}
checks:
  - url: example\\.org
  - selector: "#a"
    text_contains: hi
    checked: true
    count: 1
  - file: notes.txt
    contains: hell
  - screen_region: button.png
    region: [0, 0, 100, 50]
    threshold: 0.8
  - answer: {total: 12.5}
    match: json_fields
  - name: date stays a string
    js: "'2024-06-14'"
    equals: 2024-06-14
replies: replies.json
"""))
    assert spec.environment == BrowserEnvironment(url="https://example.org/x", viewport=(800, 600))
    assert spec.setup == (NavigateStep("https://example.org/y"), JsStep("localStorage.clear()"),
                          FileStep("notes.txt", "hello"), WaitStep(0.5))
    assert spec.budget.max_steps == 7 and spec.budget.time_limit_s == 12.5
    assert spec.replies == ("a", "b")
    assert spec.checks[-1].expected == "2024-06-14"  # type: ignore[union-attr]


def test_desktop_environment(tmp_path: Path) -> None:
    spec = load_scenario(write(tmp_path, """\
instruction: Open a terminal.
environment:
  desktop: {launch: "xterm -T Hello", virtual_display: 1024x768}
checks:
  - window_title: ^Hello$
"""))
    assert spec.environment == DesktopEnvironment(launch=("xterm -T Hello",), virtual_display=(1024, 768))


def test_unknown_field_names_field_and_allowed(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL + "budgett: {max_steps: 3}\n")
    assert exc.field == "budgett"
    assert "unknown field" in exc.problem and "budget" in exc.problem and "instruction" in exc.problem


def test_unknown_nested_field(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL.replace("    equals: 3", "    equals: 3\n    contains: x"))
    assert exc.field == "checks[0].contains"
    assert "allowed here: name, js, equals" in exc.problem


def test_wrong_type(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL + "budget: {max_steps: many}\n")
    assert exc.field == "budget.max_steps"
    assert "expected an integer, got a string" in exc.problem


def test_missing_required_field(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL.replace("instruction: Do the thing.\n", ""))
    assert exc.field == "instruction" and "missing required field" in exc.problem


def test_unknown_site_lists_the_available_ones(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL.replace("site: todo", "site: nowhere"))
    assert exc.field == "environment.browser.site"
    assert "unknown site 'nowhere'" in exc.problem and "flights" in exc.problem and "todo" in exc.problem


def test_missing_replies_file(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL + "replies: missing.json\n")
    assert exc.field == "replies" and "replies file not found" in exc.problem


def test_check_needs_exactly_one_kind(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL.replace("  - js: window.appState.todos.length\n    equals: 3\n",
                                             "  - name: nothing\n"))
    assert exc.field == "checks[0]" and "exactly one kind" in exc.problem


def test_browser_check_in_desktop_scenario(tmp_path: Path) -> None:
    exc = error_of(tmp_path, "instruction: x\nenvironment: {desktop: {}}\nchecks:\n  - url: x\n")
    assert exc.field == "checks[0].url" and "browser environment" in exc.problem


def test_bad_regex_and_duplicate_key(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL + "  - url: '(unclosed'\n")
    assert exc.field == "checks[1].url" and "regular expression" in exc.problem
    exc = error_of(tmp_path, MINIMAL + "instruction: again\n")
    assert exc.field == "instruction" and "twice" in exc.problem


def test_url_without_scheme_must_be_a_local_file(tmp_path: Path) -> None:
    exc = error_of(tmp_path, MINIMAL.replace("site: todo", "url: pages/none.html"))
    assert exc.field == "environment.browser.url" and "does not exist" in exc.problem
    (tmp_path / "page.html").write_text("<p>hi</p>", encoding="utf-8")
    spec = load_scenario(write(tmp_path, MINIMAL.replace("site: todo", "url: page.html")))
    assert spec.environment.url == (tmp_path / "page.html").resolve().as_uri()  # type: ignore[union-attr]


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    exc = error_of(tmp_path, "instruction: [unclosed\n")
    assert "not valid YAML" in exc.problem
    exc = error_of(tmp_path, "- a list\n")
    assert "expected a mapping" in exc.problem
