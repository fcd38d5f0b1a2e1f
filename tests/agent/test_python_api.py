"""The Python API (``import screenpilot``): the README's examples as written, and what each call promises, on a
real headless Chromium with scripted replies."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

import screenpilot
from screenpilot.agent.actions import Click, Point
from screenpilot.agent.api import option_defaults
from screenpilot.agent.cli.main import app
from screenpilot.agent.reports.run_report import write_run_report

REPO = Path(__file__).resolve().parents[2]
SIGNUP = REPO / "scenarios" / "demo" / "signup.html"
INVOICE = REPO / "scenarios" / "sites" / "invoice" / "index.html"
NAME_FIELD = "<tool_call>\n" + json.dumps(
    {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [644, 204]}}) + "\n</tool_call>"


def replies(tmp_path: Path, *texts: str) -> str:
    """A scripted model spec replaying ``texts``."""
    path = tmp_path / f"replies_{len(list(tmp_path.glob('replies_*')))}.json"
    path.write_text(json.dumps(list(texts)), encoding="utf-8")
    return f"scripted:{path}"


def steps_of(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]


def readme_python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Use from Python"):]
    section = section[:section.index("\n## ", 3)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.slow
def test_the_readmes_python_examples_run_as_written(tmp_path: Path) -> None:
    blocks = readme_python_blocks()
    assert len(blocks) == 3
    (tmp_path / "scenarios").symlink_to(REPO / "scenarios")  # the examples' paths, runs/ written in tmp_path
    printed = []
    for block in blocks:
        done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        printed.append(done.stdout)
    assert printed[0].startswith("success 7 runs/")
    assert printed[1].splitlines() == ["click (640, 202)",
                                       "success Thanks, Ada Lovelace! Confirmation sent to ada@example.com."]
    assert printed[2].strip() == "number='INV-2024-0173' total=1231.78 due='2024-04-14'"
    assert len(list((tmp_path / "runs").iterdir())) == 3


def test_act_clicks_the_element_the_model_chose_and_records_the_call(tmp_path: Path) -> None:
    with screenpilot.browser(str(SIGNUP), model=replies(tmp_path, NAME_FIELD), out=tmp_path / "runs",
                             quiet=True) as s:
        did = s.act("click the name field")
        focused = s.page.evaluate("document.activeElement.id")
        run_dir = s.run_dir
    assert focused == "name"
    assert did.actions == (Click(Point(640, 202)),)
    assert (did.executed, did.done, did.step) == (1, False, 1)
    (step,) = steps_of(run_dir)
    assert step["call"] == {"kind": "act", "text": "click the name field"}
    outcome = json.loads((run_dir / "run.json").read_text())["outcome"]
    assert (outcome["status"], outcome["reason"], outcome["steps"]) == ("success", "session_closed", 1)


def test_a_reply_without_an_action_is_retried_then_act_fails(tmp_path: Path) -> None:
    model = replies(tmp_path, "I am not sure.", "Still thinking.", "No idea.")
    with screenpilot.browser(str(SIGNUP), model=model, out=tmp_path / "runs", quiet=True,
                             max_model_errors=3) as s, pytest.raises(screenpilot.ActFailed, match="model_errors"):
        s.act("click the name field")
    assert [step["error"]["family"] for step in steps_of(s.run_dir)] == ["model"] * 3


class Invoice(BaseModel):
    number: str
    total: float
    due: str


def test_extract_answers_a_validated_instance(tmp_path: Path) -> None:
    reply = 'Here it is: {"number": "INV-2024-0173", "total": 1231.78, "due": "2024-04-14"}'
    with screenpilot.browser(str(INVOICE), model=replies(tmp_path, reply), out=tmp_path / "runs", quiet=True) as s:
        invoice = s.extract("the invoice number, total and due date", schema=Invoice)
    assert invoice == Invoice(number="INV-2024-0173", total=1231.78, due="2024-04-14")
    (step,) = steps_of(s.run_dir)
    assert step["call"] == {"kind": "extract", "text": "the invoice number, total and due date"}
    assert step["error"] is None and step["image_tokens"] > 0
    report = write_run_report(s.run_dir).read_text()
    assert "<strong>Session extract:</strong> the invoice number, total and due date" in report


def test_an_answer_that_violates_the_schema_is_retried_with_the_error_then_fails(tmp_path: Path) -> None:
    bad = ["no JSON at all", '{"number": "INV-1", "total": "lots"}', '{"number": "INV-1"}']
    with screenpilot.browser(str(INVOICE), model=replies(tmp_path, *bad), out=tmp_path / "runs", quiet=True) as s:
        with pytest.raises(screenpilot.ExtractionError) as caught:
            s.extract("the invoice", schema=Invoice)
        sent = s._opened.model.requests  # type: ignore[attr-defined] - the scripted model keeps its requests
    assert "after 3 attempt(s)" in caught.value.message
    assert "total: Field required" in caught.value.problem and "due: Field required" in caught.value.problem
    assert caught.value.reply == bad[-1]
    second = [part["text"] for message in sent[1].messages for part in message["content"] if part["type"] == "text"]
    assert second[-1].startswith("That answer is not valid: the reply holds no JSON object or array.")
    third = sent[2].messages[-1]["content"][0]["text"]
    assert "total: Input should be a valid number" in third
    assert [step["error"]["type"] for step in steps_of(s.run_dir)] == ["InvalidAnswer"] * 3


def test_extract_validates_against_a_json_schema_dict(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number", "minimum": 0}}, "required": ["total"]}
    model = replies(tmp_path, '{"total": -5}', "```json\n{'total': 1231.78,}\n```")
    with screenpilot.browser(str(INVOICE), model=model, out=tmp_path / "runs", quiet=True) as s:
        assert s.extract("the total due", schema=schema) == {"total": 1231.78}
        problem = s._opened.model.requests[1].messages[-1]["content"][0]["text"]  # type: ignore[attr-defined]
    assert "total: -5 is less than the minimum of 0" in problem


def test_an_invalid_json_schema_is_a_config_error(tmp_path: Path) -> None:
    with screenpilot.browser(str(INVOICE), model=replies(tmp_path), out=tmp_path / "runs", quiet=True) as s, \
            pytest.raises(screenpilot.ConfigError, match="not a valid JSON Schema"):
        s.extract("the total", schema={"type": "nonsense"})


def test_the_scripts_own_actions_pass_the_gate_and_fill_secrets(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADA_NAME", "Ada S3cret Lovelace")
    with screenpilot.browser(str(SIGNUP), model=replies(tmp_path), out=tmp_path / "runs", quiet=True,
                             secret=["ADA_NAME"], block_domain=["example.com"]) as s:
        s.click(640, 202)
        s.type("{{ADA_NAME}}")
        typed = s.page.input_value("#name")
        with pytest.raises(screenpilot.ActionRefused, match=r"example\.com is blocked") as refused:
            s.navigate("https://www.example.com/")
        still = s.page.url
    assert typed == "Ada S3cret Lovelace"
    assert refused.value.rule == "block-domain:example.com"
    assert still == SIGNUP.as_uri()
    steps = steps_of(s.run_dir)
    assert [step["call"]["kind"] for step in steps] == ["code"] * 3
    assert [step["executed"] for step in steps] == [1, 1, 0]
    assert steps[2]["verdicts"][0]["decision"] == "deny"
    for path in s.run_dir.iterdir():
        if path.suffix in (".json", ".jsonl"):
            assert "S3cret" not in path.read_text(), path


def test_an_error_inside_the_block_is_recorded_and_raised(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), \
            screenpilot.browser(str(SIGNUP), model=replies(tmp_path), out=tmp_path / "runs", quiet=True) as s:
        s.click(640, 202)
        _ = 1 / 0
    outcome = json.loads((s.run_dir / "run.json").read_text())["outcome"]
    assert (outcome["status"], outcome["reason"]) == ("error", "session_error")
    assert outcome["message"] == "ZeroDivisionError: division by zero"
    with pytest.raises(screenpilot.InfrastructureError, match="session is closed"):
        s.screenshot()


def test_options_are_checked_as_the_command_line_checks_them(tmp_path: Path) -> None:
    model = replies(tmp_path)
    with pytest.raises(screenpilot.ConfigError, match=r"unknown option\(s\) max_step;.*max_steps"):
        screenpilot.run("x", model=model, max_step=3)
    with pytest.raises(screenpilot.ConfigError, match="viewport='wide': expected WIDTHxHEIGHT"):
        screenpilot.run("x", model=model, viewport="wide")
    with pytest.raises(screenpilot.ConfigError, match="max_steps=0: must be at least 1"):
        screenpilot.run("x", model=model, max_steps=0)
    with pytest.raises(screenpilot.ConfigError, match="prompt_format='qwen9': choose one of"):
        screenpilot.run("x", model=model, prompt_format="qwen9")
    with pytest.raises(screenpilot.ConfigError, match=r"url='nowhere\.html': .* neither a URL"):
        screenpilot.run("x", model=model, url="nowhere.html")
    with pytest.raises(screenpilot.ConfigError, match="model= is needed"):
        screenpilot.run("x")
    with pytest.raises(screenpilot.ConfigError, match="--virtual-display and --launch need --desktop"):
        screenpilot.run("x", model=model, launch="xterm")


def test_the_api_has_exactly_the_run_commands_options_and_defaults() -> None:
    import typer.main

    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    cli = {p.name: p.default for p in command.params if p.name != "task"}
    api = option_defaults()
    assert set(api) == set(cli)
    for name, default in api.items():
        if name != "model":
            assert str(cli[name]) == str(default), name


def test_importing_screenpilot_loads_no_api_until_used() -> None:
    code = ("import sys, screenpilot; assert 'screenpilot.agent.api' not in sys.modules; "
            "screenpilot.browser; assert 'screenpilot.agent.api' in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xterm") is None, reason="needs Xvfb and xterm")
def test_a_desktop_session_types_a_command_that_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "from the session.txt"
    wait_for_shell = "<tool_call>\n" + json.dumps(
        {"name": "computer_use", "arguments": {"action": "mouse_move", "coordinate": [150, 120]}}) + "\n</tool_call>"
    with screenpilot.desktop(virtual_display="800x600", launch=["xterm -geometry 80x24+0+0 -e sh"],
                             model=replies(tmp_path, wait_for_shell), out=tmp_path / "runs", quiet=True) as s:
        assert s.screenshot().size == (800, 600)
        s.act("point at the terminal")
        s.type(f"printf 'desk top' > '{target}'\n")
        s.wait(1)
    assert target.read_text() == "desk top"
    assert [step["call"]["kind"] for step in steps_of(s.run_dir)] == ["act", "code", "code"]


def test_a_phone_session_taps_in_device_pixels(tmp_path: Path) -> None:
    with screenpilot.phone("pixel-7", url=str(REPO / "tests" / "pages" / "phone_app.html"), model=replies(tmp_path),
                           out=tmp_path / "runs", quiet=True) as s:
        width, height = s.screenshot().size
        box = s.page.locator("#tap-target").bounding_box()
        scale = width / s.page.viewport_size["width"]
        s.click(round((box["x"] + box["width"] / 2) * scale), round((box["y"] + box["height"] / 2) * scale))
        taps = s.page.evaluate("[window.phoneState.taps, window.phoneState.touchTaps]")
    assert s.executor.kind == "phone" and (width, height) != (1280, 720)
    assert taps == [1, 1]
