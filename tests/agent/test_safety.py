"""The safety gate, secrets, loop detection and two-stage stopping, without a browser."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import pytest

from screenpilot.agent.actions import (
    Click,
    CloseTab,
    ListTabs,
    Navigate,
    NewTab,
    Point,
    PressKeys,
    SwitchTab,
    TypeText,
    Upload,
)
from screenpilot.agent.errors import ActionFailedError, ConfigError
from screenpilot.agent.frame import Frame
from screenpilot.agent.run.interrupts import StopFlag, WaitInterrupted, graceful_interrupts, interruptible_wait
from screenpilot.agent.run.loop import Agent, LoopLimits
from screenpilot.agent.run.repeats import RepeatSettings
from screenpilot.agent.run.trajectory import TrajectoryWriter, new_run_dir
from screenpilot.agent.safety.gate import (
    Confirmer,
    PolicyConfig,
    Region,
    SafetyPolicy,
    TerminalPerson,
    load_policy_file,
    parse_confirmation,
    policy_from_mapping,
    url_verdict,
)
from screenpilot.agent.safety.secrets import Secret, SecretStore, load_secrets
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import Qwen25Format
from screenpilot.tools.recording import RecordingExecutor

from .test_loop import call

FRAME = Frame(image=__import__("PIL.Image", fromlist=["Image"]).new("RGB", (100, 100)), taken_at=0.0)


@pytest.mark.parametrize(("url", "config", "decision", "rule"), [
    ("https://example.org/a", PolicyConfig(), "allow", "url"),
    ("https://shop.evil.com/x", PolicyConfig(block_domains=("evil.com",)), "deny", "block-domain:evil.com"),
    ("https://evil.com.example.org/", PolicyConfig(block_domains=("evil.com",)), "allow", "url"),
    ("https://a.example.org", PolicyConfig(allow_domains=("*.example.org",)), "allow", "url"),
    ("https://example.org", PolicyConfig(allow_domains=("*.example.org",)), "deny", "not-allow-listed"),
    ("https://other.net", PolicyConfig(allow_domains=("example.org",)), "deny", "not-allow-listed"),
    ("file:///etc/passwd", PolicyConfig(), "deny", "file-urls"),
    ("file:///etc/passwd", PolicyConfig(allow_file_urls=True), "allow", "file-urls-allowed"),
    ("http://192.168.1.1/admin", PolicyConfig(), "deny", "private-network"),
    ("http://127.0.0.1:8080/", PolicyConfig(), "deny", "private-network"),
    ("http://localhost/", PolicyConfig(), "deny", "private-network"),
    ("http://[::1]/", PolicyConfig(), "deny", "private-network"),
    ("http://10.0.0.5/", PolicyConfig(allow_private_network=True), "allow", "url"),
    ("http://127.0.0.1:8080/next", PolicyConfig().trusting("http://127.0.0.1:8080/start"), "allow",
     "start-url-origin"),
    ("http://127.0.0.1:9999/", PolicyConfig().trusting("http://127.0.0.1:8080/start"), "deny", "private-network"),
    ("about:blank", PolicyConfig(allow_domains=("x.org",)), "allow", "internal-page"),
    ("javascript:alert(1)", PolicyConfig(), "deny", "scheme"),
])
def test_url_verdicts(url: str, config: PolicyConfig, decision: str, rule: str) -> None:
    verdict = url_verdict(url, config)
    assert (verdict.decision, verdict.rule) == (decision, rule)


def test_blocked_chords_regions_and_dry_run() -> None:
    policy = SafetyPolicy(PolicyConfig(blocked_regions=(Region(0, 0, 50, 50),)), Confirmer(interactive=False))
    assert policy.check(PressKeys(("ctrl", "alt", "delete")), FRAME).decision == "deny"
    assert policy.check(PressKeys(("alt", "ctrl", "f2")), FRAME).decision == "deny"
    assert policy.check(PressKeys(("ctrl", "c")), FRAME).decision == "allow"
    assert policy.check(Click(Point(10, 10)), FRAME).rule == "blocked-region"
    assert policy.check(Click(Point(60, 10)), FRAME).decision == "allow"
    dry = SafetyPolicy(PolicyConfig(dry_run=True))
    assert dry.check(Click(Point(60, 10)), FRAME).decision == "skip"


@pytest.mark.parametrize(("answer", "decision", "note_part"), [
    ("y", "allow", None), ("yes", "allow", None), ("n too risky", "deny", "too risky"), ("", "deny", None),
    ("t", "skip", "took over"), ("s", "stop", "stopped"),
])
def test_confirmation_answers(answer: str, decision: str, note_part: str | None) -> None:
    verdict = parse_confirmation(answer)
    assert verdict.decision == decision
    if note_part:
        assert verdict.note is not None and note_part in verdict.note


def test_confirmation_asks_a_person_only_for_configured_kinds() -> None:
    out = io.StringIO()
    answers = iter(["n not that one\n"])
    confirmer = Confirmer(read=lambda: next(answers), out=out, interactive=True)
    policy = SafetyPolicy(PolicyConfig(confirm=("type",)), confirmer)
    assert policy.check(Click(Point(1, 1)), FRAME).decision == "allow"
    verdict = policy.check(TypeText("hello"), FRAME)
    assert verdict.decision == "deny" and "not that one" in (verdict.note or "")
    assert "type 'hello'" in out.getvalue()


def test_no_terminal_applies_the_default() -> None:
    deny = SafetyPolicy(PolicyConfig(confirm=("all",)), Confirmer("deny", interactive=False))
    assert deny.check(Click(Point(1, 1)), FRAME).decision == "deny"
    approve = SafetyPolicy(PolicyConfig(confirm=("all",)), Confirmer("approve", interactive=False))
    assert approve.check(Click(Point(1, 1)), FRAME).decision == "allow"


def test_navigate_action_is_checked_against_domains() -> None:
    policy = SafetyPolicy(PolicyConfig(block_domains=("evil.com",)))
    assert policy.check(Navigate("https://evil.com/"), FRAME).decision == "deny"


def test_uploads_come_only_from_inside_the_upload_folder(tmp_path: Path) -> None:
    allowed = tmp_path / "uploads"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "a.txt").write_text("a")
    (tmp_path / "secret.txt").write_text("s")
    (allowed / "link.txt").symlink_to(tmp_path / "secret.txt")
    policy = SafetyPolicy(PolicyConfig(upload_dir=allowed), Confirmer(interactive=False))
    for inside in ("a.txt", str(allowed / "a.txt"), "sub/../a.txt", "sub/new.txt"):
        assert policy.check(Upload(inside), FRAME).decision == "allow", inside
    for outside in ("../secret.txt", str(tmp_path / "secret.txt"), "link.txt", "/etc/passwd", "sub/../../secret.txt"):
        verdict = policy.check(Upload(outside), FRAME)
        assert (verdict.decision, verdict.rule) == ("deny", "upload-outside-folder"), outside
        assert verdict.note is not None and str(allowed) in verdict.note
    refused = SafetyPolicy(PolicyConfig(), Confirmer(interactive=False)).check(Upload(str(allowed / "a.txt")), FRAME)
    assert (refused.decision, refused.rule) == ("deny", "upload-not-allowed")
    assert refused.note is not None and "--upload-dir" in refused.note
    assert policy.describe()["upload_dir"] == str(allowed)


def test_tab_actions_are_checked_and_confirmed_like_others() -> None:
    policy = SafetyPolicy(PolicyConfig(block_domains=("evil.com",)), Confirmer(interactive=False))
    assert policy.check(NewTab("https://evil.com/x"), FRAME).decision == "deny"
    for action in (NewTab(), NewTab("https://ok.org/"), ListTabs(), SwitchTab(1), CloseTab()):
        assert policy.check(action, FRAME).decision == "allow", action
    asking = SafetyPolicy(PolicyConfig(confirm=("all",)), Confirmer(interactive=False))
    for action in (ListTabs(), SwitchTab(0), CloseTab(), Upload("a.txt")):
        assert policy.check(action, FRAME).decision == "allow" or isinstance(action, Upload)
        assert asking.check(action, FRAME).rule in ("confirm:no-terminal", "upload-not-allowed")
    navigating = SafetyPolicy(PolicyConfig(confirm=("navigate",)), Confirmer(interactive=False))
    assert navigating.check(NewTab("https://ok.org/"), FRAME).rule == "confirm:no-terminal"


def test_policy_file_upload_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("upload_dir: files\n")
    assert load_policy_file(tmp_path / "policy.yaml").upload_dir == tmp_path / "files"
    assert load_policy_file(tmp_path / "policy.yaml").upload_dir is not None
    (tmp_path / "abs.yaml").write_text(f"upload_dir: {tmp_path / 'elsewhere'}\n")
    assert load_policy_file(tmp_path / "abs.yaml").upload_dir == tmp_path / "elsewhere"


def test_policy_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("allow_domains: example.org\n")
    with pytest.raises(ConfigError, match=r"policy.yaml: allow_domains: expected a list, got a string"):
        load_policy_file(bad)
    bad.write_text("dry_run: true\ndry_run: false\n")
    with pytest.raises(ConfigError, match=r"policy.yaml: dry_run: the field appears twice"):
        load_policy_file(bad)
    with pytest.raises(ConfigError, match=r"p.yaml: alow_domains: unknown field; allowed here: allow_domains, "):
        policy_from_mapping({"alow_domains": []}, "p.yaml")
    with pytest.raises(ConfigError, match=r"p.yaml: blocked_regions\[0\]: expected \[left, top, width, height\]"):
        policy_from_mapping({"blocked_regions": [[1, 2, 3]]}, "p.yaml")
    with pytest.raises(ConfigError, match=r"confirm\[0\]: expected type, key, navigate, click or all, got"):
        policy_from_mapping({"confirm": ["everything"]}, "p.yaml")
    with pytest.raises(ConfigError, match=r"dry_run: expected true or false, got a string"):
        policy_from_mapping({"dry_run": "yes please"}, "p.yaml")
    assert load_policy_file(_empty(tmp_path)) == PolicyConfig()
    good = tmp_path / "good.yaml"
    good.write_text("block_domains: [evil.com]\nblocked_keys: ['alt+f4']\nconfirm: [type]\n")
    config = load_policy_file(good)
    assert ("alt", "f4") in config.blocked_chords and ("ctrl", "alt", "delete") in config.blocked_chords
    assert config.block_domains == ("evil.com",) and config.confirm == ("type",)
    only_mine = policy_from_mapping({"blocked_keys": ["alt+F4"], "add_default_blocked_keys": False,
                                     "blocked_regions": [[0, 0, 10, 5]]}, "p.yaml")
    assert only_mine.blocked_chords == (("alt", "f4"),) and only_mine.blocked_regions == (Region(0, 0, 10, 5),)


def _empty(folder: Path) -> Path:
    file = folder / "empty.yaml"
    file.write_text("# nothing set\n", encoding="utf-8")
    return file


def test_secrets_are_revealed_only_on_their_domains_and_redacted() -> None:
    store = SecretStore([Secret("PASSWORD", "hunter2-xyz", ("example.org",))])
    typed = store.reveal(TypeText("{{PASSWORD}}\n"), "https://login.example.org/")
    assert typed == TypeText("hunter2-xyz\n")
    with pytest.raises(ActionFailedError) as info:
        store.reveal(TypeText("{{PASSWORD}}"), "https://phish.net/")
    assert "example.org" in info.value.hint and "hunter2" not in info.value.message
    with pytest.raises(ActionFailedError, match="unknown secret"):
        store.reveal(TypeText("{{OTHER}}"), "https://example.org/")
    assert store.redact("the password is hunter2-xyz!") == "the password is {{PASSWORD}}!"
    assert "hunter2" not in repr(store._secrets)


def test_secrets_come_from_environment_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_TOKEN", "tok-123")
    assert load_secrets(["SP_TOKEN"], None).reveal(TypeText("{{SP_TOKEN}}"), None) == TypeText("tok-123")
    with pytest.raises(ConfigError, match="set the environment variable SP_MISSING"):
        load_secrets(["SP_MISSING"], None)
    file = tmp_path / "secrets.env"
    file.write_text("# comment\nAPI_KEY=abc=def\n")
    assert load_secrets([], file).reveal(TypeText("{{API_KEY}}"), None) == TypeText("abc=def")


def test_secret_values_never_reach_prompts_or_the_run_folder(tmp_path: Path) -> None:
    store = SecretStore([Secret("PIN", "9137-5521")])
    model = ScriptedModel([call(action="type", text="{{PIN}}"), call(action="terminate", status="success")])
    executor = RecordingExecutor()
    run_dir = new_run_dir(tmp_path, "login")
    writer = TrajectoryWriter(run_dir, {"note": "pin"}, redact=store.redact)
    agent = Agent(model, Qwen25Format(), executor, observers=[writer], secrets=store)
    assert agent.run("Log in with PIN" + store.prompt_note()).status == "success"
    assert executor.actions == [TypeText("9137-5521")]
    prompts = repr([m["content"] for r in model.requests for m in r.messages])
    assert "{{PIN}}" in prompts and "9137-5521" not in prompts
    for path in run_dir.iterdir():
        assert b"9137-5521" not in path.read_bytes(), path


def test_repeated_action_on_unchanged_screen_hints_then_stops() -> None:
    same = call(action="left_click", coordinate=[10, 10])
    model = ScriptedModel([same] * 10)
    agent = Agent(model, Qwen25Format(), RecordingExecutor(),
                  limits=LoopLimits(max_steps=10, repeats=RepeatSettings(hint_after=2, stop_after=4)))
    result = agent.run("task")
    assert (result.status, result.reason, result.steps) == ("failure", "loop_detected", 4)
    third_prompt = repr([m["content"] for m in model.requests[2].messages])
    assert "repeated the same action" in third_prompt


def test_stop_flag_ends_the_run_after_the_current_action() -> None:
    flag = StopFlag()
    executor = RecordingExecutor(fail_on=lambda action: flag.set())
    agent = Agent(ScriptedModel([call(action="left_click", coordinate=[1, 1]) + call(action="type", text="x")] * 3),
                  Qwen25Format(), executor, should_stop=flag)
    result = agent.run("task")
    assert (result.status, result.reason, result.steps) == ("stopped", "interrupted", 1)
    assert executor.actions == [Click(Point(1, 1))]  # the second action of the step never ran


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_two_stage_stop_and_the_handlers_before_come_back(signum: int) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}  # whatever the shell left
    flag = StopFlag()
    with graceful_interrupts(flag, announce=False):
        os.kill(os.getpid(), signum)
        assert flag.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signum)
            signal.sigtimedwait([], 0.1) if hasattr(signal, "sigtimedwait") else None
    assert {s: signal.getsignal(s) for s in before} == before


def test_the_first_stop_cuts_an_interruptible_wait_short() -> None:
    flag = StopFlag()
    with graceful_interrupts(flag, announce=False), pytest.raises(WaitInterrupted), interruptible_wait():
        os.kill(os.getpid(), signal.SIGINT)
        signal.sigtimedwait([], 5) if hasattr(signal, "sigtimedwait") else time.sleep(5)
    assert flag.is_set()


def test_terminal_person_answers_questions() -> None:
    person = TerminalPerson(read=lambda: "window seat\n", out=io.StringIO(), interactive=True)
    assert person.ask("Which seat?") == "window seat"
    assert TerminalPerson(interactive=False).ask("Which seat?") is None
