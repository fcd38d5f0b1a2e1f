"""The user's own browser: ``screenpilot run --cdp-url`` on a Chromium this test starts itself (with
``--remote-debugging-port``), and ``--user-data-dir`` profiles that keep cookies and storage between runs. Real
Chromium, the real CLI, scripted replies."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from screenpilot.agent.actions import Action, NewTab, Terminate
from screenpilot.agent.cli.main import main
from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.models.formats.qwen25 import format_call
from screenpilot.tools.web.session import find_chromium

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo"
PAGES = ROOT / "tests" / "pages"
DEMO_TASK = "Sign up for the newsletter as Ada Lovelace with the email ada@example.com"


@dataclass
class RunningChromium:
    """A Chromium started outside screenpilot, as a user starts theirs: its process and CDP address."""

    process: subprocess.Popen[bytes]
    cdp_url: str

    def pages(self) -> list[dict[str, str]]:
        """The browser's tabs as its DevTools endpoint lists them (it answers only while the browser runs)."""
        with urllib.request.urlopen(f"{self.cdp_url}/json/list", timeout=5) as reply:
            return [t for t in json.loads(reply.read()) if t["type"] == "page"]


@pytest.fixture
def own_chromium(tmp_path: Path) -> Iterator[RunningChromium]:
    """Chromium on the demo page with ``--remote-debugging-port=0`` (the port it picks is read from its profile's
    DevToolsActivePort file), headless, on a profile of its own."""
    profile = tmp_path / "own-profile"
    process = subprocess.Popen(
        [find_chromium(None, None), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,720",
         (DEMO / "signup.html").as_uri()],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None and time.monotonic() < deadline, "Chromium did not start"
            time.sleep(0.05)
        chromium = RunningChromium(process, f"http://127.0.0.1:{port_file.read_text().split()[0]}")
        while not chromium.pages():
            time.sleep(0.05)
        yield chromium
    finally:
        process.terminate()
        process.wait(timeout=10)


def replies_file(tmp_path: Path, actions: list[Action]) -> Path:
    file = tmp_path / "replies.json"
    file.write_text(json.dumps([format_call(action) for action in actions]))
    return file


def only_run(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_a_run_on_the_users_browser_completes_and_leaves_it_running(own_chromium: RunningChromium,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "runs"
    code = main(["run", DEMO_TASK, "--cdp-url", own_chromium.cdp_url, "--allow-file-urls",
                 "--model", f"scripted:{DEMO / 'signup_replies.json'}", "--out", str(out), "--quiet"])
    assert code == 0
    run = read_run(only_run(out))
    assert run.outcome is not None and run.outcome.status == "success"
    assert run.executor is not None and run.executor["cdp_url"] == own_chromium.cdp_url
    assert read_steps(only_run(out))[-1].title == "Signed up"
    assert own_chromium.process.poll() is None  # still running
    assert [page["title"] for page in own_chromium.pages()] == ["Signed up"]  # its own tab, driven and kept


def test_tabs_the_run_opened_are_closed_and_the_users_tab_stays(own_chromium: RunningChromium,
                                                               tmp_path: Path) -> None:
    next_page = (PAGES / "browser_next.html").as_uri()
    replies = replies_file(tmp_path, [NewTab(next_page), Terminate("success")])
    code = main(["run", "open the next page in a new tab", "--cdp-url", own_chromium.cdp_url, "--allow-file-urls",
                 "--model", f"scripted:{replies}", "--out", str(tmp_path / "runs"), "--quiet"])
    assert code == 0
    assert read_steps(only_run(tmp_path / "runs"))[-1].url == next_page
    assert own_chromium.process.poll() is None
    assert [page["url"] for page in own_chromium.pages()] == [(DEMO / "signup.html").as_uri()]


def test_the_policy_still_vets_navigations_in_the_users_browser(own_chromium: RunningChromium,
                                                               tmp_path: Path) -> None:
    replies = replies_file(tmp_path, [NewTab((PAGES / "browser_next.html").as_uri()), Terminate("success")])
    assert main(["run", "open a file", "--cdp-url", own_chromium.cdp_url, "--model", f"scripted:{replies}",
                 "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    verdict = read_steps(only_run(tmp_path / "runs"))[0].verdicts[0]
    assert (verdict.decision, verdict.rule) == ("deny", "file-urls")
    assert own_chromium.process.poll() is None


@pytest.mark.parametrize(("options", "message"), [
    (["--cdp-url", "http://127.0.0.1:9"], "--remote-debugging-port=9222"),
    (["--cdp-url", "http://127.0.0.1:9222", "--user-data-dir", "profile"], "--cdp-url attaches"),
    (["--cdp-url", "http://127.0.0.1:9222", "--headed"], "--cdp-url attaches"),
    (["--cdp-url", "http://127.0.0.1:9222", "--browser-path", "chromium"], "--cdp-url attaches"),
    (["--cdp-url", "chrome:9222"], "http:// or ws://"),
    (["--user-data-dir", "profile", "--phone", "pixel-7"], "are for the browser"),
])
def test_bad_browser_options_are_configuration_errors(options: list[str], message: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    replies = replies_file(tmp_path, [Terminate("success")])
    code = main(["run", "task", *options, "--model", f"scripted:{replies}", "--out", str(tmp_path / "runs"),
                 "--quiet"])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def pages_site() -> Iterator[str]:
    """tests/pages over HTTP on one port for the whole test (a profile keeps storage per origin)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(PAGES)))
    server.RequestHandlerClass.log_message = lambda *_: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_persistent_profile_keeps_cookies_and_storage_for_the_next_run(pages_site: str, tmp_path: Path) -> None:
    replies = replies_file(tmp_path, [Terminate("success")])
    titles = []
    for number in (1, 2):
        out = tmp_path / f"runs{number}"
        assert main(["run", "look", "--url", f"{pages_site}/profile.html", "--user-data-dir", str(tmp_path / "me"),
                     "--model", f"scripted:{replies}", "--out", str(out), "--quiet"]) == 0
        titles.append(read_steps(only_run(out))[0].title)
    assert titles == ["visit 1, no cookie", "visit 2, cookie"]
    fresh = tmp_path / "fresh"
    assert main(["run", "look", "--url", f"{pages_site}/profile.html", "--model", f"scripted:{replies}",
                 "--out", str(fresh), "--quiet"]) == 0
    assert read_steps(only_run(fresh))[0].title == "visit 1, no cookie"
