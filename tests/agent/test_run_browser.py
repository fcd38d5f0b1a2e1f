"""End to end in headless Chromium: the demo, coordinates, the safety gate, secrets and stopping.

Everything here drives a real browser on local pages and asserts on real state: the DOM,
what a local server received, the run folder, exit codes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
from PIL import Image

from screenpilot.agent.actions import Click, Point
from screenpilot.agent.cli.main import main
from screenpilot.agent.run.loop import Agent, LoopLimits
from screenpilot.agent.run.trajectory import TrajectoryWriter, new_run_dir, read_run, read_steps
from screenpilot.agent.safety.gate import PolicyConfig
from screenpilot.agent.safety.secrets import Secret, SecretStore
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import Qwen25Format, format_call
from screenpilot.models.resize import screen_to_model
from screenpilot.tools.web.base import MASK_COLOR
from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

from .test_loop import call

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo"
PAGES = ROOT / "tests" / "pages" / "safety"
DEMO_TASK = "Sign up for the newsletter as Ada Lovelace with the email ada@example.com"


def screenpilot(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screenpilot", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=timeout, stdin=None if stdin is not None else subprocess.DEVNULL)


def only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


# ---------------------------------------------------------------- the demo and the CLI


def test_demo_through_the_cli_succeeds_and_records_every_step(tmp_path: Path) -> None:
    code = main(["run", DEMO_TASK, "--url", str(DEMO / "signup.html"),
                 "--model", f"scripted:{DEMO / 'signup_replies.json'}", "--out", str(tmp_path), "--quiet"])
    assert code == 0
    run_dir = only_run(tmp_path)
    run = read_run(run_dir)
    assert run.outcome is not None and run.outcome.status == "success" and run.outcome.steps == 7
    assert run.resize is not None and (run.resize.min_pixels, run.resize.max_pixels) == (3136, 12845056)
    assert run.executor is not None and run.executor.get("viewport") is not None
    steps = read_steps(run_dir)
    assert [s.index for s in steps] == list(range(1, 8))
    assert all(s.image_tokens == 1196 and s.model_size == (1288, 728) for s in steps)
    assert steps[-1].title == "Signed up"  # the page's own state after the submit click


def test_demo_replies_fill_in_the_real_form() -> None:
    replies = json.loads((DEMO / "signup_replies.json").read_text())
    settings = BrowserSettings(start_url=(DEMO / "signup.html").as_uri())
    with BrowserExecutor(settings) as browser:
        result = Agent(ScriptedModel(replies), Qwen25Format(browser_actions=True), browser).run(DEMO_TASK)
        assert result.status == "success"
        state = browser.page.evaluate(
            "() => ['name', 'email', 'subscribe', 'result'].map(id => document.getElementById(id))"
            ".map((e, i) => i === 2 ? e.checked : i === 3 ? e.textContent : e.value)")
    assert state == ["Ada Lovelace", "ada@example.com", True,
                     "Thanks, Ada Lovelace! Confirmation sent to ada@example.com."]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--model", "scripted:/no/such/file.json"], 2, "not found"),
    (["--model", "no-such-model"], 2, "unknown model"),
    (["--model", "scripted:SHORT"], 1, "script_exhausted"),
    (["--model", "scripted:BAD"], 1, "model_errors"),
])
def test_exit_codes(tmp_path: Path, args: list[str], code: int, message: str,
                    capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short.json"
    short.write_text(json.dumps([call(action="left_click", coordinate=[644, 204])]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(["no idea", "{broken", "<tool_call>{\"name\": \"fly\"}</tool_call>"]))
    args = [a.replace("SHORT", str(short)).replace("BAD", str(bad)) for a in args]
    out = tmp_path / "runs"
    assert main(["run", "task", "--url", str(DEMO / "signup.html"), "--out", str(out), "--quiet", *args]) == code
    captured = capsys.readouterr()
    assert message in captured.err + (read_run(only_run(out)).model_dump_json() if out.exists() else "")


def test_help_is_complete() -> None:
    result = screenpilot("run", "--help")
    assert result.returncode == 0
    for option in ("--url", "--model", "--api-base", "--max-steps", "--out", "--headed", "--viewport",
                   "--min-pixels", "--max-pixels", "--keep-images", "--desktop", "--dry-run", "--confirm",
                   "--secret", "--block-domain", "--allow-domain"):
        assert option in result.stdout, option


# ---------------------------------------------------------------- coordinates


@pytest.mark.parametrize("viewport", [(1280, 720), (1366, 768), (800, 600)])
def test_model_space_click_on_an_element_centre_lands_on_it(viewport: tuple[int, int]) -> None:
    page = (DEMO / "signup.html").as_uri()
    fmt = Qwen25Format(browser_actions=True)
    with BrowserExecutor(BrowserSettings(viewport=viewport, start_url=page)) as browser:
        box = browser.page.locator("#subscribe").bounding_box()
        assert box is not None
        centre = Point(round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2))
        model_size = fmt.model_size(viewport)
        model_xy = screen_to_model(centre, viewport, model_size)
        replies = [format_call(Click(model_xy)), call(action="terminate", status="success")]
        Agent(ScriptedModel(replies), fmt, browser).run("tick the box")
        assert browser.page.evaluate("() => subscribe.checked") is True


# ---------------------------------------------------------------- the safety gate in the browser


class SiteState:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.port = 0


@pytest.fixture
def safety_site() -> Iterator[SiteState]:
    state = SiteState()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.hits.append(f"{self.headers.get('Host', '').split(':')[0]}{self.path}")
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{state.port}/target.html")
                self.end_headers()
                return
            file = PAGES / self.path.lstrip("/").split("?")[0]
            if not file.is_file():
                self.send_error(404)
                return
            body = file.read_text().replace("__OTHER__", f"http://localhost:{state.port}").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def click_reply(x: int, y: int) -> str:
    """A left click at screen (x, y) of a 1280x720 viewport, in model space."""
    model_xy = screen_to_model(Point(x, y), (1280, 720), (1288, 728))
    return format_call(Click(model_xy))


def run_cli_on_site(site: SiteState, tmp_path: Path, replies: list[str], *extra: str,
                    stdin: str | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    file = tmp_path / "replies.json"
    file.write_text(json.dumps(replies))
    out = tmp_path / "runs"
    result = screenpilot("run", "use the site", "--url", f"http://127.0.0.1:{site.port}/start.html",
                         "--model", f"scripted:{file}", "--out", str(out), *extra, stdin=stdin)
    return result, only_run(out)


def test_redirect_to_a_blocked_host_never_loads(safety_site: SiteState, tmp_path: Path) -> None:
    replies = [click_reply(250, 120), call(action="terminate", status="success")]
    result, run_dir = run_cli_on_site(safety_site, tmp_path, replies)
    assert result.returncode == 0, result.stderr
    assert "127.0.0.1/redirect" in safety_site.hits
    assert not any(hit.startswith("localhost") for hit in safety_site.hits), safety_site.hits
    steps = read_steps(run_dir)
    assert any("blocked" in e and "private-network" in e for e in steps[1].events or []), steps[1].events
    assert (steps[1].url or "").startswith(f"http://127.0.0.1:{safety_site.port}/")


def test_new_tab_to_a_blocked_domain_never_loads(safety_site: SiteState, tmp_path: Path) -> None:
    replies = [click_reply(250, 220), call(action="terminate", status="success")]
    result, run_dir = run_cli_on_site(safety_site, tmp_path, replies, "--block-domain", "localhost")
    assert result.returncode == 0, result.stderr
    assert not any(hit.startswith("localhost") for hit in safety_site.hits), safety_site.hits
    events = " ".join(read_steps(run_dir)[1].events or [])
    assert "block-domain:localhost" in events
    assert "localhost" in (read_run(run_dir).policy or {})["block_domains"]


def test_same_origin_navigation_is_allowed(safety_site: SiteState, tmp_path: Path) -> None:
    replies = [click_reply(250, 320), call(action="terminate", status="success")]
    _, run_dir = run_cli_on_site(safety_site, tmp_path, replies)
    assert read_steps(run_dir)[1].title == "Target reached"


def test_blocked_start_url_is_refused_before_anything_opens(safety_site: SiteState, tmp_path: Path) -> None:
    result = screenpilot("run", "x", "--url", f"http://127.0.0.1:{safety_site.port}/start.html",
                         "--model", f"scripted:{DEMO / 'signup_replies.json'}", "--block-domain", "127.0.0.1",
                         "--out", str(tmp_path))
    assert result.returncode == 2
    assert "not allowed by the policy" in result.stderr
    assert safety_site.hits == []


def test_secret_reaches_the_page_and_nowhere_else(safety_site: SiteState, tmp_path: Path) -> None:
    value = "s3cr3t-Value-42"
    replies = [click_reply(250, 198), call(action="type", text="{{LOGIN_PASSWORD}}"),
               click_reply(250, 278), call(action="type", text="{{LOGIN_PASSWORD}}"),
               call(action="terminate", status="success")]
    model = ScriptedModel(replies)
    store = SecretStore([Secret("LOGIN_PASSWORD", value, ("127.0.0.1",))])
    run_dir = new_run_dir(tmp_path, "log in")
    writer = TrajectoryWriter(run_dir, {"secrets": store.names}, redact=store.redact)
    url = f"http://127.0.0.1:{safety_site.port}/login.html"
    with BrowserExecutor(BrowserSettings(start_url=url)) as browser:
        browser.hide_values(store.values)
        agent = Agent(model, Qwen25Format(browser_actions=True), browser, observers=[writer], secrets=store)
        assert agent.run("Log in" + store.prompt_note()).status == "success"
        assert browser.page.evaluate("() => [password.value, token.value]") == [value, value]
        frame = browser.screenshot()
    prompts = repr([r.messages for r in model.requests])
    assert value not in prompts and "{{LOGIN_PASSWORD}}" in prompts
    for path in run_dir.rglob("*"):
        assert value.encode() not in path.read_bytes(), path
    # the marked token field is painted over in what the model sees and what is saved
    assert frame.image.getpixel((250, 278)) == (40, 40, 40)


def test_a_secret_the_page_echoes_reaches_neither_the_model_nor_the_saved_screenshots(tmp_path: Path) -> None:
    value = "s3cr3t-Value-42"  # the value secret_echo.html also shows, split across elements and in a frame
    replies = [click_reply(150, 136), call(action="type", text="{{CODE}}"), call(action="terminate", status="success")]
    model = ScriptedModel(replies)
    store = SecretStore([Secret("CODE", value)])
    run_dir = new_run_dir(tmp_path, "echo")
    writer = TrajectoryWriter(run_dir, {"secrets": store.names}, redact=store.redact)
    page = (ROOT / "tests" / "pages" / "secret_echo.html").as_uri()
    with BrowserExecutor(BrowserSettings(start_url=page)) as browser:
        browser.hide_values(store.values)
        agent = Agent(model, Qwen25Format(browser_actions=True), browser, observers=[writer], secrets=store)
        assert agent.run("Type the code" + store.prompt_note()).status == "success"
        assert browser.page.evaluate("() => document.querySelector('#typed').textContent") == value
        box = browser.page.locator("#typed").bounding_box()
    assert box is not None
    last_seen = model.requests[-1].images()[-1]  # the model's view after the page echoed the value (resized)
    saved = Image.open(run_dir / "step_003.png").convert("RGB")
    for image in (last_seen, saved):
        sx, sy = image.width / 1280, image.height / 720
        inside = (round(box["x"] * sx) + 3, round(box["y"] * sy) + 3, round((box["x"] + box["width"]) * sx) - 3,
                  round((box["y"] + box["height"]) * sy) - 3)
        assert {colour for _count, colour in image.crop(inside).getcolors(maxcolors=1 << 24) or []} == {MASK_COLOR}
    for path in run_dir.rglob("*"):
        assert value.encode() not in path.read_bytes(), path  # the title "Welcome back, <value>" is redacted


def test_a_run_that_typed_a_secret_replays_only_with_the_secret(tmp_path: Path) -> None:
    value = "s3cr3t-Value-42"
    env = {**os.environ, "CODE": value}
    page = ROOT / "tests" / "pages" / "secret_echo.html"
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([click_reply(150, 136), call(action="type", text="{{CODE}}"),
                                   call(action="terminate", status="success")]), encoding="utf-8")
    first = subprocess.run([sys.executable, "-m", "screenpilot", "run", "Type the code", "--url", str(page), "--model",
                            f"scripted:{replies}", "--secret", "CODE", "--out", str(tmp_path / "runs")],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert first.returncode == 0, first.stderr
    run_dir = only_run(tmp_path / "runs")
    assert read_run(run_dir).environment == {"browser": {"url": page.as_uri(), "viewport": "1280x720"}}
    script = tmp_path / "replay.yaml"
    assert main(["script", str(run_dir), "--out", str(script)]) == 0
    text = script.read_text(encoding="utf-8")
    assert "type: '{{CODE}}'" in text and value not in text
    # the typed value must be the secret's 15 characters, not the 8 of its placeholder
    script.write_text(text.replace("checks:\n", "checks:\n- name: the secret was typed\n"
                                   "  js: document.querySelector('#field').value.length\n  equals: 15\n", 1),
                      encoding="utf-8")
    without = subprocess.run([sys.executable, "-m", "screenpilot", "scenario", "run", str(script), "--out",
                              str(tmp_path / "replays")], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120, stdin=subprocess.DEVNULL)
    assert without.returncode == 2 and "types the secret {{CODE}}, which was not given: pass --secret CODE" in \
        " ".join(without.stderr.split())
    replay = subprocess.run([sys.executable, "-m", "screenpilot", "scenario", "run", str(script), "--secret", "CODE",
                             "--out", str(tmp_path / "replays"), "--quiet"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert replay.returncode == 0, replay.stderr
    assert "the secret was typed" in replay.stderr and "SUCCESS" in replay.stderr
    for path in (tmp_path / "replays").rglob("*"):
        assert path.is_dir() or value.encode() not in path.read_bytes(), path


def test_secret_is_refused_on_another_domain(safety_site: SiteState) -> None:
    store = SecretStore([Secret("LOGIN_PASSWORD", "xyz-123", ("example.org",))])
    replies = [click_reply(250, 198), call(action="type", text="{{LOGIN_PASSWORD}}"),
               call(action="terminate", status="success")]
    with BrowserExecutor(BrowserSettings(start_url=f"http://127.0.0.1:{safety_site.port}/login.html")) as browser:
        agent = Agent(ScriptedModel(replies), Qwen25Format(browser_actions=True), browser, secrets=store)
        agent.run("Log in")
        assert browser.page.evaluate("() => password.value") == ""


def test_dry_run_carries_out_nothing(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = screenpilot("run", DEMO_TASK, "--url", str(DEMO / "signup.html"), "--model",
                         f"scripted:{DEMO / 'signup_replies.json'}", "--out", str(out), "--dry-run")
    assert result.returncode == 0, result.stderr
    steps = read_steps(only_run(out))
    verdicts = [v.decision for s in steps for v in s.verdicts]
    assert verdicts and set(verdicts) == {"skip"}
    assert steps[-1].title == "Newsletter sign-up"  # the form was never submitted


def test_confirm_answers_come_from_standard_input(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    answers = "y\ny\ny\nn not this address\ny\ny\n"
    result = screenpilot("run", DEMO_TASK, "--url", str(DEMO / "signup.html"), "--model",
                         f"scripted:{DEMO / 'signup_replies.json'}", "--out", str(out), "--confirm",
                         stdin=answers)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("The agent wants to:") == 6
    steps = read_steps(only_run(out))
    decisions = [s.verdicts[0].decision for s in steps[:6]]
    assert decisions == ["allow", "allow", "allow", "deny", "allow", "allow"]
    assert "not this address" in (steps[3].feedback or "")


def test_confirm_without_a_terminal_applies_the_default(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = screenpilot("run", DEMO_TASK, "--url", str(DEMO / "signup.html"), "--model",
                         f"scripted:{DEMO / 'signup_replies.json'}", "--out", str(out), "--confirm", "type")
    assert result.returncode == 0
    steps = read_steps(only_run(out))
    typed = [s for s in steps if s.actions_screen and s.actions_screen[0]["kind"] == "TypeText"]
    assert [s.verdicts[0].rule for s in typed] == ["confirm:no-terminal"] * 2
    assert all(s.verdicts[0].decision == "deny" for s in typed)


# ---------------------------------------------------------------- stopping and faults


def slow_replies(tmp_path: Path, count: int = 200) -> Path:
    file = tmp_path / "slow.json"
    file.write_text(json.dumps([call(action="wait", time=0.3)] * count))
    return file


def start_run(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "screenpilot", "run", "wait a lot", "--url", str(DEMO / "signup.html"),
         "--model", f"scripted:{slow_replies(tmp_path)}", "--out", str(out), "--max-steps", "200"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = list(out.glob("*/steps.jsonl")) if out.exists() else []
        if runs and len(read_steps(runs[0].parent)) >= 2:
            return proc, runs[0].parent
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the run did not get going: " + (proc.stderr.read() if proc.stderr else ""))


def test_first_ctrl_c_stops_after_the_current_action(tmp_path: Path) -> None:
    proc, run_dir = start_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = read_run(run_dir)
    assert run.outcome is not None and (run.outcome.status, run.outcome.reason) == ("stopped", "interrupted")
    assert run.outcome.steps == len(read_steps(run_dir)) >= 2


def test_sigterm_stops_like_the_first_ctrl_c(tmp_path: Path) -> None:
    proc, run_dir = start_run(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Terminated: stopping after the current action" in err
    run = read_run(run_dir)
    assert run.outcome is not None and (run.outcome.status, run.outcome.reason) == ("stopped", "interrupted")


class SilentServer:
    """Accepts connections and reads requests, never answers: a hung model server."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = threading.Event()
        self.held: list[object] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            conn.recv(65536)
            self.requests.set()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_one_stop_ends_a_run_waiting_on_a_hung_server(tmp_path: Path, signum: int) -> None:
    server = SilentServer()
    out = tmp_path / "runs"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "screenpilot", "run", "wait", "--url", str(DEMO / "signup.html"),
             "--api-base", f"http://127.0.0.1:{server.port}/v1", "--model", "qwen2.5-vl-7b", "--timeout", "300",
             "--out", str(out)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.requests.wait(60), "the run never asked the model"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)  # far below the 300 s the request would otherwise wait
    finally:
        server.close()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    (run_dir,) = list(out.iterdir())
    run = read_run(run_dir)
    assert run.outcome is not None and (run.outcome.status, run.outcome.reason) == ("stopped", "interrupted")
    (step,) = read_steps(run_dir)  # the step that was waiting is recorded, with its screenshot
    assert step.error is not None and step.error.type == "interrupted"
    assert (run_dir / "step_001.png").is_file()


def test_second_ctrl_c_stops_at_once_and_files_stay_whole(tmp_path: Path) -> None:
    proc, run_dir = start_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    run = read_run(run_dir)  # valid JSON, outcome recorded
    assert run.outcome is not None and run.outcome.status == "stopped"
    assert len(read_steps(run_dir)) >= 2


def chromium_children() -> list[psutil.Process]:
    me = psutil.Process()
    return [p for p in me.children(recursive=True) if "chrom" in p.name().lower()]


def test_browser_killed_mid_run_ends_cleanly_with_every_step(tmp_path: Path) -> None:
    class KillAfterTwo(ScriptedModel):
        def complete(self, request):  # type: ignore[no-untyped-def]
            if len(self.requests) == 2:
                for proc in chromium_children():
                    proc.kill()
                time.sleep(0.5)
            return super().complete(request)

    run_dir = new_run_dir(tmp_path, "crash")
    model = KillAfterTwo([call(action="left_click", coordinate=[644, 204])] * 10)
    with BrowserExecutor(BrowserSettings(start_url=(DEMO / "signup.html").as_uri())) as browser:
        result = Agent(model, Qwen25Format(), browser, observers=[TrajectoryWriter(run_dir, {})],
                       limits=LoopLimits(max_steps=10)).run("click")
    assert (result.status, result.reason) == ("error", "infrastructure")
    assert result.message and ("closed" in result.message or "crash" in result.message)
    outcome = read_run(run_dir).outcome
    assert outcome is not None and outcome.reason == "infrastructure"
    assert len(read_steps(run_dir)) >= 2


def test_policy_defaults_trust_only_the_start_origin() -> None:
    config = PolicyConfig().trusting("http://127.0.0.1:8000/start")
    assert config.trusted_origins == ("http://127.0.0.1:8000",)
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
