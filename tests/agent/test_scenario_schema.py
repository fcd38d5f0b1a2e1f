"""The scenario file format as JSON Schema: bundled files validate, typos fail, and the loader says where."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from screenpilot.agent.cli.main import main
from screenpilot.agent.config_files import read_yaml
from screenpilot.agent.scenario.file_format import load_scenario, scenario_files, scenario_json_schema
from screenpilot.agent.scenario.spec import ScenarioError
from screenpilot.scenarios import SCENARIOS_DIR

REPLAY_SCRIPT = """\
instruction: Replay everything.
environment: {browser: {site: flights, viewport: 1280x720}}
tags: smoke
checks:
  - url: results
  - selector: "#ref"
    text_equals: 42
steps:
  - click: {image: anchor.png, offset: [12, -3], near: [100, 50], threshold: 0.9}
    note: the search button
  - type: 42
  - double_click: {text: Search flights}
  - right_click: {selector: "#x"}
  - move: {at: [10, 20]}
  - drag: {image: anchor.png, by: [120, 0]}
  - scroll: {dy: -300}
  - key: [ctrl, a]
  - wait: 0.5
  - navigate: /results.html
  - back
  - terminate: success
"""


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = scenario_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def test_every_bundled_scenario_and_a_full_replay_script_validate(validator: Draft202012Validator,
                                                                   tmp_path: Path) -> None:
    files = scenario_files(SCENARIOS_DIR)
    assert len(files) >= 5
    for file in files:
        assert schema_errors(validator, read_yaml(file)) == [], file
    (tmp_path / "anchor.png").write_bytes(b"read later")
    script = tmp_path / "script.yaml"
    script.write_text(REPLAY_SCRIPT, encoding="utf-8")
    assert len(load_scenario(script).steps or ()) == 12  # the loader takes it too
    assert schema_errors(validator, read_yaml(script)) == []


@pytest.mark.parametrize("change", [
    ("instruction:", "instrution:"),          # a typo'd top-level field
    ("    text_equals:", "    text_equls:"),  # a typo'd check option
    ("  - back\n", "  - bakc\n"),             # an unknown bare step
    ("  - wait: 0.5\n", "  - wait: 0.5\n    type: x\n"),  # two actions in one step
    ("  - url: results\n", "  - url: results\n    js: x\n"),  # two kinds in one check
    ("viewport: 1280x720", "viewport: big"),
])
def test_schema_refuses_what_the_loader_refuses(validator: Draft202012Validator, tmp_path: Path,
                                                change: tuple[str, str]) -> None:
    (tmp_path / "anchor.png").write_bytes(b"read later")
    file = tmp_path / "broken.yaml"
    file.write_text(REPLAY_SCRIPT.replace(*change), encoding="utf-8")
    assert schema_errors(validator, read_yaml(file)) != []
    with pytest.raises(ScenarioError):
        load_scenario(file)


def test_a_typo_gets_one_error_with_file_path_and_allowed_names(tmp_path: Path) -> None:
    (tmp_path / "anchor.png").write_bytes(b"read later")
    file = tmp_path / "typo.yaml"
    file.write_text(REPLAY_SCRIPT.replace("    text_equals:", "    text_equls:"), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    assert info.value.field == "checks[1].text_equls"
    assert info.value.problem == ("unknown field; allowed here: name, selector, text_equals, text_contains, value, "
                                  "checked, visible, count")
    assert str(info.value).startswith(f"{file}: checks[1].text_equls: unknown field")
    file.write_text(REPLAY_SCRIPT.replace("  - type: 42\n", "  - type: 42\n    nte: x\n"), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    assert info.value.field == "steps[1].nte" and "allowed here: click, double_click," in info.value.problem
    assert info.value.problem.endswith("terminate, note")


def test_schema_carries_help_for_editors() -> None:
    schema = scenario_json_schema()
    assert schema["title"] == "screenpilot scenario" and schema["required"] == ["instruction", "environment", "checks"]
    assert "model reads" in schema["properties"]["instruction"]["description"]
    browser = schema["$defs"]["BrowserFile"]
    assert browser["oneOf"] == [{"required": ["url"]}, {"required": ["site"]}]
    assert "WIDTHxHEIGHT" in browser["properties"]["viewport"]["description"]
    undescribed = [name for name, part in schema["$defs"].items() if not part.get("description")]
    assert undescribed == [], "every part of the format says what it is"


def test_cli_prints_and_writes_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == scenario_json_schema()
    out = tmp_path / "scenario.schema.json"
    assert main(["scenario", "schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == printed
    assert main(["scenario", "schema", "--out", str(tmp_path / "missing" / "x.json")]) == 2
    assert "cannot write" in capsys.readouterr().err
