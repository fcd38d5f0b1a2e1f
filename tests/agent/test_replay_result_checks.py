"""Generated replay checks that look at the result: element probes recorded in browser and phone runs, the
``selector`` checks ``screenpilot script`` makes of them, and the desktop's final-screen region. Each replay passes
on the page as recorded and fails, naming what differed, when the page's result is changed."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from screenpilot.agent.actions import Click, Point, TypeText
from screenpilot.agent.cli.main import main
from screenpilot.agent.run.records import ElementState, PageProbe
from screenpilot.agent.run.trajectory import read_steps
from screenpilot.agent.scenario.file_format import load_scenario
from screenpilot.agent.scenario.result_checks import final_screen_region, last_probe, region_threshold, result_checks
from screenpilot.agent.scenario.script import script_from_run
from screenpilot.agent.scenario.spec import ScreenRegionCheck, SelectorCheck
from screenpilot.tools.web.element_probe import without_secrets

from .test_loop import call

ROOT = Path(__file__).resolve().parents[2]
SIGNUP = ROOT / "scenarios" / "demo" / "signup.html"
REPLIES = ROOT / "scenarios" / "demo" / "signup_replies.json"
RESULT = "Thanks, Ada Lovelace! Confirmation sent to ada@example.com."

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                                    reason="needs Chromium (apt-get install chromium)")
needs_xterm = pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xterm") is None,
                                 reason="needs Xvfb and xterm (make test installs them)")


# --- pure parts ------------------------------------------------------------------------------------


def test_secret_values_and_texts_are_left_out_of_a_probe() -> None:
    probe = {"mode": "type", "target": {"selector": "#code", "value": "pre-hunter2"},
             "elements": [{"selector": "#code", "how": "type", "value": "pre-hunter2"},
                          {"selector": "#name", "how": "type", "value": "Ada"}],
             "fresh": [{"selector": "#out", "text": "Your code hunter2 was accepted"},
                       {"selector": "#hunter2", "text": "x"}, {"selector": "#short", "text": "hunter2!"}]}
    cleaned = without_secrets(probe, ["hunter2"])
    assert "hunter2" not in json.dumps({k: v for k, v in cleaned.items()})
    assert cleaned["target"] == {"selector": "#code", "secret": True}
    assert cleaned["elements"][1] == {"selector": "#name", "how": "type", "value": "Ada"}
    assert cleaned["fresh"] == [{"selector": "#out", "secret": True}, {"selector": "#short", "secret": True}]


def test_checks_come_from_the_final_probe_and_leave_secret_fields_out() -> None:
    probe = PageProbe(mode="observe", elements=[
        ElementState(selector="#name", tag="input", how="type", value="Ada"),
        ElementState(selector="#pin", tag="input", how="type", secret=True),
        ElementState(selector="#agree", tag="input", type="checkbox", how="click", checked=True),
        ElementState(selector="#send", tag="button", how="click", text="Send")],
        fresh=[ElementState(selector="#out", tag="p", secret=True),
               ElementState(selector="#done", tag="p", text="Done"),
               ElementState(selector="#send", tag="button", text="Send")])
    found, unchecked = result_checks(probe)
    assert [check for check, _ in found] == [
        {"name": "typed into #name", "selector": "#name", "value": "Ada"},
        {"name": "checked #agree", "selector": "#agree", "checked": True},
        {"name": "text of #send", "selector": "#send", "text_equals": "Send"},
        {"name": "shown at the end: #done", "selector": "#done", "text_equals": "Done"}]
    assert all(note.startswith("compares") for _, note in found)
    assert unchecked == ["Not compared: #pin holds a secret's value, which is never written into this file.",
                         "Not compared: #out, shown at the end, showed a secret's value (a check's report would "
                         "print it)."]


def test_the_final_screen_region_is_the_changed_part_grown_to_the_minimum() -> None:
    first = Image.new("RGB", (1280, 720), "white")
    final = first.copy()
    ImageDraw.Draw(final).rectangle((600, 300, 640, 310), fill="black")
    assert final_screen_region(first, final) == (460, 205, 320, 200)
    ImageDraw.Draw(final).rectangle((0, 0, 5, 5), fill="black")  # a change in the corner: kept on the screen
    assert final_screen_region(first, final) == (0, 0, 657, 327)
    assert final_screen_region(first, first) == (0, 0, 1280, 720)
    # a caret blinking right of the change: the region is cut to keep it out
    blinked = final.copy()
    ImageDraw.Draw(final).rectangle((650, 300, 651, 312), fill="black")
    assert final_screen_region(first, final, [blinked]) == (0, 0, 648, 329)


def test_the_region_threshold_lies_between_the_same_screen_and_one_glyph_changed() -> None:
    before = Image.new("RGB", (320, 200), "white")
    final = before.copy()
    ImageDraw.Draw(final).text((20, 90), "RESULT-4217", fill="black")
    other = before.copy()
    ImageDraw.Draw(other).text((20, 90), "RESULT-4218", fill="black")
    threshold = region_threshold(before, final)
    same = float(cv2.matchTemplate(_gray(final), _gray(final), cv2.TM_CCOEFF_NORMED)[0, 0])
    changed = float(cv2.matchTemplate(_gray(other), _gray(final), cv2.TM_CCOEFF_NORMED)[0, 0])
    assert changed < threshold <= same


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


# --- browser -------------------------------------------------------------------------------------------


def _record(tmp_path: Path, page: Path, replies: Path, *extra: str) -> Path:
    out = tmp_path / "runs"
    assert main(["run", "Sign up as Ada", "--url", str(page), "--model", f"scripted:{replies}", "--out", str(out),
                 "--quiet", *extra]) == 0
    (run_dir,) = list(out.iterdir())
    return run_dir


def _record_with_secret_email(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """The demo sign-up recorded with its e-mail typed as the secret SIGNUP_EMAIL: (the value, the run folder)."""
    value = "ada@example.com"
    monkeypatch.setenv("SIGNUP_EMAIL", value)
    replies = json.loads(REPLIES.read_text(encoding="utf-8"))
    replies[3] = call(action="type", text="{{SIGNUP_EMAIL}}")
    replies_file = tmp_path / "replies.json"
    replies_file.write_text(json.dumps(replies), encoding="utf-8")
    return value, _record(tmp_path, SIGNUP, replies_file, "--secret", "SIGNUP_EMAIL")


def _replay(script: Path, out: Path, *extra: str) -> tuple[int, dict[str, dict[str, object]]]:
    code = main(["scenario", "run", str(script), "--out", str(out), "--quiet", *extra])
    (replay_dir,) = [p for p in out.iterdir() if p.is_dir()]
    checks = json.loads((replay_dir / "checks.json").read_text(encoding="utf-8"))["checks"]
    shutil.rmtree(out)
    return code, {c["name"]: c for c in checks}


@needs_chromium
def test_signup_script_checks_the_result_and_fails_when_the_page_shows_another(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    page = site / "signup.html"
    shutil.copy(SIGNUP, page)
    run_dir = _record(tmp_path, page, REPLIES)
    probes = [p for s in read_steps(run_dir) for p in s.probes or ()]
    clicked = [p.target.selector for p in probes if p.mode == "click" and p.target is not None]
    assert clicked == ["#name", "#email", "#subscribe", "#submit"]
    final = last_probe(read_steps(run_dir))
    assert final is not None and [f.text for f in final.fresh] == [RESULT]

    script = tmp_path / "signup_replay.yaml"
    result = script_from_run(run_dir, script)
    assert result.source is None
    checks = {c.name: c for c in load_scenario(script).checks}
    assert checks["typed into #name"] == SelectorCheck("typed into #name", "#name", value="Ada Lovelace")
    assert checks["typed into #email"] == SelectorCheck("typed into #email", "#email", value="ada@example.com")
    assert checks["checked #subscribe"] == SelectorCheck("checked #subscribe", "#subscribe", checked=True)
    assert checks["shown at the end: #result"] == SelectorCheck("shown at the end: #result", "#result",
                                                                text_equals=RESULT)
    text = script.read_text(encoding="utf-8")
    assert ("# generated, compares the text of #result, which the last actions made the page show, with what the "
            "recording ended with; replace with a check of the result\n- name: 'shown at the end: #result'") in text

    code, passed = _replay(script, tmp_path / "replays")
    assert code == 0 and all(c["passed"] for c in passed.values()), passed

    # the same page with a wrong final value: the generated check fails and says what it found
    page.write_text(SIGNUP.read_text(encoding="utf-8").replace("Thanks, ${name}!", "Thanks, ${name.toUpperCase()}!"),
                    encoding="utf-8")
    code, failed = _replay(script, tmp_path / "replays")
    assert code == 1
    assert [name for name, c in failed.items() if not c["passed"]] == ["shown at the end: #result"]
    detail = str(failed["shown at the end: #result"]["detail"])
    assert "'Thanks, Ada Lovelace! Confirmation" in detail and "got 'Thanks, ADA LOVELACE! Confirmation" in detail


@needs_chromium
def test_a_secret_run_scripts_without_the_value_and_its_replay_holds(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    value, run_dir = _record_with_secret_email(tmp_path, monkeypatch)
    for path in run_dir.rglob("*"):
        assert path.is_dir() or value.encode() not in path.read_bytes(), path
    script = tmp_path / "secret_replay.yaml"
    script_from_run(run_dir, script)
    text = script.read_text(encoding="utf-8")
    assert value not in text and "type: '{{SIGNUP_EMAIL}}'" in text
    assert "# Not compared: #email holds a secret's value, which is never written into this file." in text
    assert "# Not compared: #result, shown at the end, showed a secret's value" in text
    checks = {c.name: c for c in load_scenario(script).checks}
    assert "typed into #email" not in checks and "shown at the end: #result" not in checks
    out = tmp_path / "replays"
    code = main(["scenario", "run", str(script), "--out", str(out), "--quiet", "--secret", "SIGNUP_EMAIL"])
    (replay_dir,) = list(out.iterdir())
    results = {c["name"]: c for c in json.loads((replay_dir / "checks.json").read_text(encoding="utf-8"))["checks"]}
    assert code == 0 and all(c["passed"] for c in results.values()), results
    assert {"same final page", "typed into #name", "checked #subscribe", "text of #submit"} <= set(results)
    for path in out.rglob("*"):
        assert path.is_dir() or value.encode() not in path.read_bytes(), path


@needs_chromium
def test_a_failing_check_that_reads_a_secret_names_its_placeholder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-written check of an element showing a secret: checks.json and the report say ``{{NAME}}``."""
    import yaml

    value, run_dir = _record_with_secret_email(tmp_path, monkeypatch)
    script = tmp_path / "secret_replay.yaml"
    script_from_run(run_dir, script)
    document = yaml.safe_load(script.read_text(encoding="utf-8"))
    document["checks"].append({"name": "greeting", "selector": "#result", "text_equals": "Thanks!"})
    script.write_text(yaml.safe_dump(document), encoding="utf-8")
    out = tmp_path / "replays"
    code = main(["scenario", "run", str(script), "--out", str(out), "--quiet", "--secret", "SIGNUP_EMAIL"])
    (replay_dir,) = list(out.iterdir())
    greeting = {c["name"]: c for c in json.loads((replay_dir / "checks.json").read_text())["checks"]}["greeting"]
    assert code == 1 and not greeting["passed"] and "{{SIGNUP_EMAIL}}" in str(greeting["detail"]), greeting
    for path in out.rglob("*"):
        assert path.is_dir() or value.encode() not in path.read_bytes(), path


@needs_chromium
def test_a_run_recorded_without_probes_scripts_as_before(tmp_path: Path) -> None:
    run_dir = _record(tmp_path, SIGNUP, REPLIES)
    lines = (run_dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    old = [json.dumps({k: v for k, v in json.loads(line).items() if k != "probes"}) for line in lines]
    (run_dir / "steps.jsonl").write_text("\n".join(old) + "\n", encoding="utf-8")
    assert last_probe(read_steps(run_dir)) is None
    script_from_run(run_dir, tmp_path / "old.yaml")
    assert [c.name for c in load_scenario(tmp_path / "old.yaml").checks] == ["same final page"]


# --- phone ------------------------------------------------------------------------------------------


@needs_chromium
def test_the_phone_probes_what_it_taps_and_types_into() -> None:
    from screenpilot.tools.web.phone import PhoneExecutor, PhoneSettings

    page = (ROOT / "tests" / "pages" / "phone_app.html").as_uri()
    with PhoneExecutor(PhoneSettings(device="Pixel 7", start_url=page)) as phone:
        box = phone.page.locator("#name").bounding_box()
        assert box is not None
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        point = Point(round(centre[0] * phone.dsf), round(centre[1] * phone.dsf))
        phone.screenshot()
        phone.execute(Click(point))
        phone.execute(TypeText("Grace"))
        probes = [PageProbe.model_validate(p) for p in phone.take_probes()]
    assert [p.mode for p in probes] == ["observe", "click", "type"]
    assert probes[1].target is not None and probes[1].target.selector == "#name"
    assert probes[2].elements == [ElementState(selector="#name", tag="input", type="text", how="type", value="Grace")]


# --- desktop ----------------------------------------------------------------------------------------


@needs_xterm
def test_a_desktop_script_checks_the_changed_screen_part_and_fails_on_another_value(tmp_path: Path) -> None:
    value_file = tmp_path / "value.txt"
    value_file.write_text("RESULT-4217\n", encoding="utf-8")
    replies = [call(action="mouse_move", coordinate=[150, 120]), call(action="type", text=f"cat {value_file}\n"),
               call(action="wait", time=1), call(action="terminate", status="success")]
    replies_file = tmp_path / "replies.json"
    replies_file.write_text(json.dumps(replies), encoding="utf-8")
    out = tmp_path / "runs"
    assert main(["run", "Show the result", "--desktop", "--virtual-display", "1280x720", "--launch",
                 "xterm -geometry 100x30+0+0 -e sh", "--model", f"scripted:{replies_file}", "--out", str(out),
                 "--quiet"]) == 0
    (run_dir,) = list(out.iterdir())
    script = tmp_path / "desktop_replay.yaml"
    script_from_run(run_dir, script)
    (check,) = load_scenario(script).checks
    assert isinstance(check, ScreenRegionCheck) and check.region is not None and 0.99 < check.threshold < 1
    with Image.open(check.template) as template:
        assert template.width >= 320 and template.height >= 200
    assert "# generated, compares the part of the final screen the run changed" in script.read_text(encoding="utf-8")

    code, results = _replay(script, tmp_path / "replays")
    assert code == 0, results
    # the same replay where the program shows another value (one digit): the region check fails
    value_file.write_text("RESULT-4218\n", encoding="utf-8")
    code, results = _replay(script, tmp_path / "replays")
    assert code == 1
    detail = str(results["same final screen"]["detail"])
    assert f"below the threshold {check.threshold:g}" in detail, detail


@needs_xterm
def test_a_tk_entry_replays_and_another_value_fails(tmp_path: Path) -> None:
    app = ROOT / "tests" / "tools" / "apps" / "tk_app.py"
    # Tab moves the focus on, so no caret blinks in the final screen (a blink the recording's screenshots after the
    # last action did not catch would fail the replay: see final_screen_region)
    replies = [call(action="left_click", coordinate=[200, 165]), call(action="type", text="RESULT-4217"),
               call(action="key", keys=["Tab"]), call(action="wait", time=1),
               call(action="terminate", status="success")]
    replies_file = tmp_path / "replies.json"
    replies_file.write_text(json.dumps(replies), encoding="utf-8")
    out = tmp_path / "runs"
    assert main(["run", "Enter the result", "--desktop", "--virtual-display", "1280x720", "--launch",
                 f"{sys.executable} {app} {tmp_path / 'state.json'}", "--model", f"scripted:{replies_file}",
                 "--out", str(out), "--quiet"]) == 0
    (run_dir,) = list(out.iterdir())
    script = tmp_path / "tk_replay.yaml"
    script_from_run(run_dir, script)
    code, results = _replay(script, tmp_path / "replays")
    assert code == 0, results
    changed = tmp_path / "tk_changed.yaml"
    changed.write_text(script.read_text(encoding="utf-8").replace("type: RESULT-4217", "type: RESULT-4218"),
                       encoding="utf-8")
    code, results = _replay(changed, tmp_path / "replays")
    assert code == 1 and "below the threshold" in str(results["same final screen"]["detail"])
