"""Scenario episodes end to end in headless Chromium: setup, the loop, checks on live state."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from screenpilot.agent.cli.main import main
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.agent.scenario.file_format import load_scenario
from screenpilot.agent.scenario.runner import EpisodeOptions, run_scenario
from screenpilot.agent.scenario.spec import ScenarioError
from screenpilot.scenarios import SCENARIOS_DIR

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                                reason="needs Chromium (apt-get install chromium)")

FLIGHTS = SCENARIOS_DIR / "flights_booking.yaml"


def test_flight_booking_passes_with_its_scripted_replies(tmp_path: Path) -> None:
    spec = load_scenario(FLIGHTS)
    episode = run_scenario(spec, EpisodeOptions(out_dir=tmp_path))
    assert episode.success, episode.failure
    assert (episode.status, episode.reason, episode.steps) == ("success", "terminated", len(spec.replies or ()))
    assert episode.answer == "SP-KK990D" and episode.failure is None
    assert all(c.passed for c in episode.checks) and len(episode.checks) == len(spec.checks)
    assert episode.run_dir is not None
    saved = json.loads((episode.run_dir / "checks.json").read_text(encoding="utf-8"))
    assert saved["success"] is True
    assert [c["name"] for c in saved["checks"]] == [c.name for c in spec.checks]
    run = read_run(episode.run_dir)
    assert run.scenario is not None and run.scenario.id == "flights_booking"
    assert run.outcome is not None and run.outcome.status == "success"
    assert len(read_steps(episode.run_dir)) == episode.steps
    assert episode.timings["capture"] > 0 and set(episode.timings) == {"capture", "model", "execute", "settle"}


def test_wrong_replies_fail_and_name_the_failing_check(tmp_path: Path) -> None:
    spec = load_scenario(FLIGHTS)
    replies = spec.replies or ()
    # Search as told, then claim success with the right answer without booking anything.
    wrong = (*replies[:6], replies[-1])
    episode = run_scenario(replace(spec, replies=wrong), EpisodeOptions(out_dir=tmp_path))
    assert not episode.success
    assert (episode.status, episode.reason) == ("failure", "checks_failed")
    failed = [c.name for c in episode.checks if not c.passed]
    assert failed[:2] == ["booking confirmed", "route and date"] and "reference reported" not in failed
    assert episode.failure is not None
    assert episode.failure.startswith("check 'booking confirmed' failed: expected 'confirmed', got null; ")
    assert "check 'confirmation page' failed: expected the URL to match" in episode.failure


def test_setup_files_time_limit_and_inline_replies(tmp_path: Path) -> None:
    scenario = tmp_path / "todo_files.yaml"
    scenario.write_text("""\
instruction: Nothing to do.
environment: {browser: {site: todo}}
setup:
  - file: {path: data/in.txt, content: "ready"}
budget: {max_steps: 3, time_limit_s: 0.001}
checks:
  - file: data/in.txt
    equals: ready
  - selector: "#list li"
    count: 3
replies:
  - '<tool_call>{"name": "computer_use", "arguments": {"action": "wait", "time": 0.01}}</tool_call>'
  - '<tool_call>{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}</tool_call>'
""", encoding="utf-8")
    episode = run_scenario(load_scenario(scenario), EpisodeOptions(out_dir=tmp_path / "runs"))
    assert (episode.status, episode.reason, episode.steps) == ("failure", "time_limit", 1)
    assert all(c.passed for c in episode.checks)
    assert episode.failure == "the run ended with failure (time_limit): time limit of 0.001 s reached"


def test_no_replies_and_no_model_is_a_config_error(tmp_path: Path) -> None:
    scenario = tmp_path / "bare.yaml"
    scenario.write_text("instruction: x\nenvironment: {browser: {site: todo}}\nchecks: [{url: todo}]\n",
                        encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bare\.yaml: replies: this scenario has no scripted replies"):
        run_scenario(load_scenario(scenario), EpisodeOptions(out_dir=tmp_path))


def test_unreachable_url_names_file_and_field(tmp_path: Path) -> None:
    scenario = tmp_path / "offline.yaml"
    scenario.write_text("instruction: x\nenvironment: {browser: {url: 'http://127.0.0.1:9/'}}\n"
                        "checks: [{url: x}]\nreplies: []\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        run_scenario(load_scenario(scenario), EpisodeOptions(out_dir=tmp_path))
    assert info.value.field == "environment.browser.url"
    assert str(scenario) in str(info.value) and "cannot reach http://127.0.0.1:9/" in str(info.value)


def test_cli_scenario_run_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scenario", "run", str(SCENARIOS_DIR / "invoice_extract.yaml"), "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "invoice fields" in err and "SUCCESS" in err
    bad = tmp_path / "broken.yaml"
    bad.write_text("instruction: x\nenvironment: {browser: {site: todo, viewport: huge}}\nchecks: [{url: x}]\n",
                   encoding="utf-8")
    assert main(["scenario", "run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml: environment.browser.viewport: expected WIDTHxHEIGHT" in " ".join(err.split())
    assert main(["scenario", "list", str(tmp_path)]) == 2
    listed = capsys.readouterr().err
    assert "broken" in listed
    assert main(["scenario", "list"]) == 0
    listed = capsys.readouterr().err
    assert "flights_booking" in listed and "todo_manage" in listed


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in ("Xvfb", "xterm", "xdotool")),
                    reason="needs Xvfb, xterm and xdotool (apt-get install xvfb xauth xterm xdotool)")
def test_desktop_scenario_types_into_a_terminal(tmp_path: Path) -> None:
    from screenpilot.agent.actions import Click, Point, Terminate, TypeText, Wait
    from screenpilot.models.formats.qwen25 import Qwen25Format, format_call
    from screenpilot.models.resize import screen_to_model

    screen = (640, 480)
    model_xy = screen_to_model(Point(120, 80), screen, Qwen25Format().model_size(screen))
    replies = [format_call(Click(model_xy)), format_call(TypeText("echo hello > out.txt\n")), format_call(Wait(0.5)),
               format_call(Terminate("success"))]
    scenario = tmp_path / "desktop_terminal.yaml"
    scenario.write_text(f"""\
instruction: In the terminal, write hello into out.txt.
environment:
  desktop:
    launch: ["xterm -T Scratch -geometry 60x15+0+0 -e sh -c 'cd {{workdir}} && exec sh'"]
    virtual_display: 640x480
checks:
  - window_title: ^Scratch$
  - file: out.txt
    equals: hello
replies: {json.dumps(replies)}
""", encoding="utf-8")
    episode = run_scenario(load_scenario(scenario), EpisodeOptions(out_dir=tmp_path / "runs"))
    assert episode.success, [c.detail for c in episode.checks]
    assert episode.run_dir is not None and (episode.run_dir / "work" / "out.txt").is_file()


def test_site_server_serves_a_folder_and_stops(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    from screenpilot.agent.scenario.site_server import SiteServer

    (tmp_path / "index.html").write_text("<p>hi</p>", encoding="utf-8")
    with SiteServer(tmp_path) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/"
        with urllib.request.urlopen(server.url("/index.html?x=1"), timeout=5) as response:
            assert response.read() == b"<p>hi</p>"
            assert response.headers["Cache-Control"] == "no-store"
        port = server.port
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    with pytest.raises(ConfigError, match="site folder not found"):
        SiteServer(tmp_path / "missing")
