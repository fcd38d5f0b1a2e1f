"""Phones from the command line: ``--phone DEVICE`` and ``--adb [SERIAL]`` options, the automatic
choice of the mobile_use prompt format, the phone actions' value types, and one emulated-phone
run end to end with scripted mobile_use replies."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from screenpilot.agent.actions import (
    AndroidKey,
    Click,
    LongPress,
    OpenApp,
    Point,
    Swipe,
    SystemButton,
    Terminate,
    describe,
    from_json,
    map_points,
    to_json,
)
from screenpilot.agent.cli.main import main
from screenpilot.agent.cli.options import target_options
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.runner import build_prompt_format, target_kind
from screenpilot.agent.run.settings import AdbTarget, BrowserTarget, PhoneTarget, PromptSettings, RunSettings
from screenpilot.models.formats.qwen25_mobile import NAME as MOBILE
from screenpilot.models.formats.qwen25_mobile import Qwen25MobileFormat, format_calls
from screenpilot.models.resize import model_size_for, screen_to_model
from screenpilot.tools.web.session import find_chromium

PAGES = Path(__file__).resolve().parents[1] / "pages"

PHONE_ACTIONS = [LongPress(Point(1, 2), 1.5), Swipe(Point(1, 2), Point(3, 4), 0.25), SystemButton("home"),
                 AndroidKey("KEYCODE_VOLUME_UP"), OpenApp("Clock")]


@pytest.mark.parametrize("action", PHONE_ACTIONS, ids=repr)
def test_phone_actions_round_trip_and_describe(action: object) -> None:
    assert from_json(to_json(action)) == action  # type: ignore[arg-type]
    assert describe(action)  # type: ignore[arg-type]


def test_map_points_moves_phone_points() -> None:
    def double(p: Point) -> Point:
        return Point(p.x * 2, p.y * 2)

    assert map_points(LongPress(Point(1, 2), 3.0), double) == LongPress(Point(2, 4), 3.0)
    assert map_points(Swipe(Point(1, 2), Point(3, 4), 0.5), double) == Swipe(Point(2, 4), Point(6, 8), 0.5)
    assert map_points(OpenApp("x"), double) == OpenApp("x")


def args_for(*extra: str) -> list[str]:
    return ["run", "Do it", "--model", "scripted:replies.json", *extra]


def test_phone_options_build_phone_targets(run_settings_of: Callable[[list[str]], RunSettings]) -> None:
    phone = run_settings_of(args_for("--phone", "pixel-7", "--url", "https://example.org/"))
    assert phone.target == PhoneTarget(device="pixel-7", url="https://example.org/")
    assert run_settings_of(args_for("--adb")).target == AdbTarget()
    assert run_settings_of(args_for("--adb", "--quiet")).target == AdbTarget()
    assert run_settings_of(args_for("--adb", "R58M")).target == AdbTarget(serial="R58M")
    assert isinstance(run_settings_of(args_for()).target, BrowserTarget)
    assert target_kind(PhoneTarget()) == target_kind(AdbTarget()) == "phone"


@pytest.mark.parametrize(("extra", "message"), [
    (("--phone", "pixel-7", "--adb"), "choose one of --phone"),
    (("--phone", "pixel-7", "--desktop"), "do not go with --phone"),
    (("--adb", "--url", "https://example.org/"), "--url is for the browser and --phone"),
])
def test_conflicting_phone_options(extra: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args_for(*extra)) == 2
    assert message in " ".join(capsys.readouterr().err.split())



def test_the_target_option_group_refuses_a_phone_with_an_adb_device() -> None:
    with pytest.raises(ConfigError, match="choose one of --phone"):  # as the Python API would call it
        target_options(phone="pixel-7", adb="")


def test_phones_get_the_mobile_use_format_automatically() -> None:
    prompt = build_prompt_format(PromptSettings(), "phone", "qwen2.5-vl-7b")
    assert isinstance(prompt, Qwen25MobileFormat) and prompt.name == MOBILE
    assert build_prompt_format(PromptSettings(format=MOBILE), "phone").name == MOBILE
    assert build_prompt_format(PromptSettings(), "browser").name == "qwen2.5-vl"
    with pytest.raises(ConfigError, match="mobile_use"):
        build_prompt_format(PromptSettings(format="qwen3-vl"), "phone")


def _chromium_missing() -> bool:
    try:
        find_chromium(None, None)
    except ConfigError:
        return True
    return False


@pytest.mark.skipif(_chromium_missing(), reason="no Chromium: apt-get install chromium")
def test_run_on_an_emulated_phone_end_to_end(tmp_path: Path) -> None:
    screen = (1082, 2202)  # Pixel 7: 412x839 CSS px at DSF 2.625
    model = model_size_for(screen)
    link = screen_to_model(Point(300, 1312), screen, model)  # the "Next page" link of phone_app.html

    def reply(*actions: object) -> str:
        return format_calls(actions)  # type: ignore[arg-type]

    replies = [reply(Click(link)), reply(SystemButton("back")), reply(Terminate("success"))]
    replies_file = tmp_path / "replies.json"
    replies_file.write_text(json.dumps(replies), encoding="utf-8")
    out = tmp_path / "runs"
    code = main(["run", "Open the next page and come back", "--phone", "pixel-7", "--url",
                 str(PAGES / "phone_app.html"), "--model", f"scripted:{replies_file}", "--out", str(out), "--quiet"])
    assert code == 0
    (run_dir,) = out.iterdir()
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["prompt_format"]["name"] == MOBILE and run["executor"]["kind"] == "phone"
    assert run["executor"]["screen_device_px"] == list(screen)
    steps = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [s["url"].rsplit("/", 1)[-1] for s in steps] == ["phone_app.html", "phone_next.html", "phone_app.html"]
    assert steps[0]["actions_screen"] == [{"kind": "Click", "at": [300, 1312], "button": "left", "count": 1}]


def test_the_safety_gate_covers_phone_gestures() -> None:
    from PIL import Image

    from screenpilot.agent.frame import Frame
    from screenpilot.agent.safety.gate import Confirmer, PolicyConfig, Region, SafetyPolicy

    frame = Frame(Image.new("RGB", (1082, 2202)), taken_at=0.0)
    blocked = SafetyPolicy(PolicyConfig(blocked_regions=(Region(0, 0, 100, 100),)), executor_kind="phone")
    assert blocked.check(LongPress(Point(50, 50)), frame).decision == "deny"
    assert blocked.check(Swipe(Point(50, 50), Point(500, 500)), frame).decision == "deny"
    assert blocked.check(Swipe(Point(500, 500), Point(50, 50)), frame).decision == "allow"
    confirming = SafetyPolicy(PolicyConfig(confirm=("navigate",)), Confirmer(interactive=False), "phone")
    assert confirming.check(OpenApp("Bank"), frame).decision == "deny"  # nobody at the terminal to confirm
    assert confirming.check(SystemButton("home"), frame).decision == "allow"


def test_phone_scenario_loads_and_phone_excludes_viewport(tmp_path: Path) -> None:
    from screenpilot.agent.scenario.file_format import load_scenario
    from screenpilot.agent.scenario.spec import BrowserEnvironment, ScenarioError
    from screenpilot.scenarios import SCENARIOS_DIR

    spec = load_scenario(SCENARIOS_DIR / "phone_groceries.yaml")
    assert isinstance(spec.environment, BrowserEnvironment) and spec.environment.phone == "pixel-7"
    bad = tmp_path / "bad.yaml"
    bad.write_text("instruction: x\nenvironment:\n  browser: {url: 'https://example.org/', phone: pixel-7, "
                   "viewport: 800x600}\nchecks: [{answer: x}]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="give phone or viewport"):
        load_scenario(bad)


@pytest.mark.skipif(_chromium_missing(), reason="no Chromium: apt-get install chromium")
def test_bundled_phone_scenario_passes_with_its_scripted_replies(tmp_path: Path) -> None:
    from screenpilot.agent.scenario.file_format import load_scenario
    from screenpilot.agent.scenario.runner import EpisodeOptions, run_scenario
    from screenpilot.scenarios import SCENARIOS_DIR

    episode = run_scenario(load_scenario(SCENARIOS_DIR / "phone_groceries.yaml"), EpisodeOptions(out_dir=tmp_path))
    assert episode.success, episode.failure
    assert all(check.passed for check in episode.checks) and episode.steps == 9
    run = json.loads((episode.run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["prompt_format"]["name"] == MOBILE and run["executor"]["device"] == "Pixel 7"
