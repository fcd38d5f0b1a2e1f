"""The ADB executor against a recording stand-in for the ``adb`` program, and optionally a real device.

The stand-in (tests/tools/fake_adb/adb, a small Python script) is copied into a temporary folder
placed first on PATH, so the executor runs it through ``subprocess`` exactly as it runs the real
adb. It appends each argument list to a log that the tests read back, returns PNG screenshots
generated here with Pillow, and simulates no device, an unauthorized device and several devices
from environment variables. The tests assert the exact command lines, text escaping included.

Against a real phone or emulator (``adb devices`` must list it as ``device``)::

    SCREENPILOT_ADB_SERIAL=emulator-5554 pytest tests/tools/test_adb.py -k real

The real-device tests (``TestRealDevice``) are skipped unless that variable is set. They press
Home, take screenshots, open Settings, swipe and go back: harmless on any Android device, but
they do move the phone away from whatever it was showing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from screenpilot.agent.actions import (
    AndroidKey,
    Click,
    Drag,
    GoBack,
    LongPress,
    MoveTo,
    Navigate,
    OpenApp,
    Point,
    PressKeys,
    Scroll,
    Swipe,
    SystemButton,
    Terminate,
    TypeText,
)
from screenpilot.agent.errors import ActionFailedError, ConfigError, ExecutorError
from screenpilot.tools.android.adb import (
    ADB_KEYBOARD_IME,
    AdbExecutor,
    AdbResult,
    AdbSettings,
    SubprocessAdbRunner,
    choose_device,
    escape_shell_word,
    input_text_commands,
    parse_devices,
    press_keys_codes,
    resolve_package,
)
from screenpilot.tools.settle import SettleSettings

FAKE_ADB = Path(__file__).parent / "fake_adb" / "adb"
SCREEN = (1080, 2400)
SERIAL = "emulator-5554"
NO_SETTLE = SettleSettings(fixed_delay_s=0.0)


class FakeAdb:
    """The stand-in on PATH: its environment and the commands it received."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log = folder / "adb_log.jsonl"
        self.screenshot = folder / "screen.png"
        self.monkeypatch = monkeypatch
        Image.new("RGB", SCREEN, (30, 120, 200)).save(self.screenshot)
        monkeypatch.setenv("FAKE_ADB_LOG", str(self.log))
        monkeypatch.setenv("FAKE_ADB_SCREENSHOT", str(self.screenshot))
        monkeypatch.setenv("FAKE_ADB_DEVICES", f"{SERIAL}:device")
        monkeypatch.setenv("FAKE_ADB_PACKAGES", "com.android.settings,com.google.android.deskclock,com.whatsapp,"
                           "com.android.chrome,com.example.notes")
        for name in ("FAKE_ADB_IME", "FAKE_ADB_FAIL_ON", "FAKE_ADB_SLEEP"):
            monkeypatch.delenv(name, raising=False)

    def set(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(f"FAKE_ADB_{name}", value)

    def calls(self) -> list[list[str]]:
        """Every argument list so far, oldest first."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def shell_calls(self) -> list[list[str]]:
        """The ``shell`` commands sent to the device, without ``-s SERIAL shell``."""
        return [c[3:] for c in self.calls() if c[:3] == ["-s", SERIAL, "shell"]]

    def clear(self) -> None:
        self.log.unlink(missing_ok=True)


@pytest.fixture
def fake_adb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAdb:
    """The stand-in adb first on PATH (the venv's Python next, for its ``env python3`` line)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(FAKE_ADB, bin_dir / "adb")
    (bin_dir / "adb").chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent),
                                                os.environ.get("PATH", "")]))
    return FakeAdb(tmp_path, monkeypatch)


@pytest.fixture
def device(fake_adb: FakeAdb) -> AdbExecutor:
    executor = AdbExecutor(AdbSettings(settle=NO_SETTLE, packages={"My Notes": "com.example.notes"}))
    fake_adb.clear()
    return executor


# --- pure helpers ------------------------------------------------------------------------------


def test_parse_devices_and_choose() -> None:
    text = "* daemon started successfully\nList of devices attached\nemulator-5554\tdevice\nR58M\tunauthorized\n\n"
    devices = parse_devices(text)
    assert devices == [("emulator-5554", "device"), ("R58M", "unauthorized")]
    assert choose_device(devices, "emulator-5554") == "emulator-5554"
    assert choose_device([("x", "device")], None) == "x"


@pytest.mark.parametrize(("devices", "serial", "message"), [
    ([], None, "no Android device is attached"),
    ([("a", "device"), ("b", "device")], None, "choose one with --adb SERIAL"),
    ([("a", "device")], "b", "'b' is not attached"),
    ([("a", "unauthorized")], None, "Allow USB debugging"),
    ([("a", "offline")], "a", "is offline"),
])
def test_choose_device_errors_say_what_to_do(devices: list[tuple[str, str]], serial: str | None,
                                             message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        choose_device(devices, serial)


@pytest.mark.parametrize(("text", "commands"), [
    ("hello", [["input", "text", "hello"]]),
    ("hello world", [["input", "text", "hello%sworld"]]),
    ("Tom & Jerry", [["input", "text", "Tom%s\\&%sJerry"]]),
    ("a;b", [["input", "text", "a\\;b"]]),
    ("$HOME", [["input", "text", "\\$HOME"]]),
    ("it's \"quoted\"", [["input", "text", "it\\'s%s\\\"quoted\\\""]]),
    ("(a|b) <c> `d` *?!~#", [["input", "text", "\\(a\\|b\\)%s\\<c\\>%s\\`d\\`%s\\*\\?\\!\\~\\#"]]),
    ("back\\slash", [["input", "text", "back\\\\slash"]]),
    ("50%sale", [["input", "text", "50%"], ["input", "text", "sale"]]),
    ("100%", [["input", "text", "100%"]]),
    ("line1\nline2", [["input", "text", "line1"], ["input", "keyevent", "KEYCODE_ENTER"], ["input", "text", "line2"]]),
    ("a\tb", [["input", "text", "a"], ["input", "keyevent", "KEYCODE_TAB"], ["input", "text", "b"]]),
])
def test_input_text_escaping(text: str, commands: list[list[str]]) -> None:
    assert input_text_commands(text) == commands


def test_input_text_refuses_non_ascii() -> None:
    with pytest.raises(ValueError):
        input_text_commands("café")
    assert escape_shell_word("https://x.org/?a=1&b=2") == "https://x.org/?a=1\\&b=2".replace("?", "\\?")


def test_press_keys_codes() -> None:
    assert press_keys_codes(["enter"]) == ["KEYCODE_ENTER"]
    assert press_keys_codes(["ctrl", "a"]) == ["KEYCODE_CTRL_LEFT", "KEYCODE_A"]
    assert press_keys_codes(["home"]) == ["KEYCODE_MOVE_HOME"] and press_keys_codes(["backspace"]) == ["KEYCODE_DEL"]
    with pytest.raises(ValueError):
        press_keys_codes(["f20"])


INSTALLED = {"com.android.settings", "com.google.android.deskclock", "com.whatsapp", "com.android.chrome",
             "com.spotify.music", "org.example.music.player"}


@pytest.mark.parametrize(("name", "package"), [
    ("Settings", "com.android.settings"), (" clock ", "com.google.android.deskclock"), ("WhatsApp", "com.whatsapp"),
    ("Spotify", "com.spotify.music"), ("com.android.chrome", "com.android.chrome"), ("Chrome", "com.android.chrome"),
    ("Calendar", None), ("", None), ("Music", "com.spotify.music"),
])
def test_resolve_package(name: str, package: str | None) -> None:
    assert resolve_package(name, INSTALLED) == package


def test_resolve_package_prefers_configured_names() -> None:
    assert resolve_package("clock", INSTALLED, {"Clock": "com.example.clock"}) == "com.example.clock"


# --- the executor through the stand-in ---------------------------------------------------------


def test_start_lists_devices_then_takes_a_screenshot(fake_adb: FakeAdb) -> None:
    executor = AdbExecutor(AdbSettings(settle=NO_SETTLE))
    assert fake_adb.calls() == [["devices"], ["-s", SERIAL, "exec-out", "screencap", "-p"]]
    assert executor.serial == SERIAL and executor.size == SCREEN
    frame = executor.screenshot()
    assert frame.size == SCREEN and frame.image.getpixel((5, 5)) == (30, 120, 200)
    assert executor.describe()["serial"] == SERIAL and executor.kind == "phone"


@pytest.mark.parametrize(("devices", "serial", "message"), [
    ("", None, "no Android device is attached"),
    (f"{SERIAL}:unauthorized", None, "unauthorized"),
    (f"{SERIAL}:device,R58M:device", None, "several Android devices"),
    (f"{SERIAL}:device", "R58M", "not attached"),
])
def test_start_errors(fake_adb: FakeAdb, devices: str, serial: str | None, message: str) -> None:
    fake_adb.set("DEVICES", devices)
    with pytest.raises(ConfigError, match=message):
        AdbExecutor(AdbSettings(serial=serial))


def test_serial_selects_one_of_several_devices(fake_adb: FakeAdb) -> None:
    fake_adb.set("DEVICES", f"R58M:device,{SERIAL}:device")
    executor = AdbExecutor(AdbSettings(serial=SERIAL))
    assert executor.serial == SERIAL
    assert fake_adb.calls()[-1] == ["-s", SERIAL, "exec-out", "screencap", "-p"]


def test_missing_adb_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="apt-get install adb"):
        SubprocessAdbRunner(str(tmp_path / "no-adb-here"))


ACTIONS: list[tuple[object, list[list[str]]]] = [
    (Click(Point(100, 200)), [["input", "tap", "100", "200"]]),
    (Click(Point(5, 6), count=2), [["input", "tap", "5", "6"], ["input", "tap", "5", "6"]]),
    (LongPress(Point(300, 400), 1.5), [["input", "swipe", "300", "400", "300", "400", "1500"]]),
    (Swipe(Point(540, 2000), Point(540, 600), 0.4), [["input", "swipe", "540", "2000", "540", "600", "400"]]),
    (Drag(Point(10, 20), Point(30, 40)), [["input", "swipe", "30", "40", "10", "20", "500"]]),
    (Scroll(dy=600, at=Point(540, 1200)), [["input", "swipe", "540", "1200", "540", "600", "300"]]),
    (Scroll(dy=-5000), [["input", "swipe", "540", "1200", "540", "2399", "300"]]),
    (AndroidKey("KEYCODE_VOLUME_UP"), [["input", "keyevent", "KEYCODE_VOLUME_UP"]]),
    (PressKeys(("enter",)), [["input", "keyevent", "KEYCODE_ENTER"]]),
    (PressKeys(("ctrl", "a")), [["input", "keycombination", "KEYCODE_CTRL_LEFT", "KEYCODE_A"]]),
    (SystemButton("back"), [["input", "keyevent", "KEYCODE_BACK"]]),
    (SystemButton("home"), [["input", "keyevent", "KEYCODE_HOME"]]),
    (SystemButton("menu"), [["input", "keyevent", "KEYCODE_APP_SWITCH"]]),
    (SystemButton("enter"), [["input", "keyevent", "KEYCODE_ENTER"]]),
    (GoBack(), [["input", "keyevent", "KEYCODE_BACK"]]),
    (Navigate("https://example.org/a?b=1&c=2"),
     [["am", "start", "-a", "android.intent.action.VIEW", "-d", "https://example.org/a\\?b=1\\&c=2"]]),
    (TypeText("Tom & Jerry's $5; ok"), [["input", "text", "Tom%s\\&%sJerry\\'s%s\\$5\\;%sok"]]),
    (TypeText("50%sale"), [["input", "text", "50%"], ["input", "text", "sale"]]),
]


@pytest.mark.parametrize(("action", "commands"), ACTIONS, ids=[repr(a[0]) for a in ACTIONS])
def test_each_action_sends_exactly_these_commands(fake_adb: FakeAdb, device: AdbExecutor, action: object,
                                                  commands: list[list[str]]) -> None:
    device.execute(action)  # type: ignore[arg-type]
    assert fake_adb.calls() == [["-s", SERIAL, "shell", *command] for command in commands]


def test_open_app_looks_up_the_package_then_starts_its_launcher(fake_adb: FakeAdb, device: AdbExecutor) -> None:
    device.execute(OpenApp("Clock"))
    device.execute(OpenApp("whatsapp"))
    device.execute(OpenApp("my notes"))
    launcher = ["-c", "android.intent.category.LAUNCHER", "1"]
    assert fake_adb.shell_calls() == [
        ["pm", "list", "packages"],
        ["monkey", "-p", "com.google.android.deskclock", *launcher],
        ["monkey", "-p", "com.whatsapp", *launcher],
        ["monkey", "-p", "com.example.notes", *launcher],
    ]


def test_open_unknown_app_is_feedback_after_a_fresh_package_list(fake_adb: FakeAdb, device: AdbExecutor) -> None:
    with pytest.raises(ActionFailedError, match="no app named 'Calendar'"):
        device.execute(OpenApp("Calendar"))
    assert fake_adb.shell_calls() == [["pm", "list", "packages"], ["pm", "list", "packages"]]


def test_open_app_without_launcher_activity(fake_adb: FakeAdb) -> None:
    executor = AdbExecutor(AdbSettings(settle=NO_SETTLE, packages={"Ghost": "com.example.ghost"}))
    with pytest.raises(ActionFailedError, match="no launcher activity"):
        executor.execute(OpenApp("Ghost"))


def test_non_ascii_text_goes_through_adbkeyboard_when_active(fake_adb: FakeAdb, device: AdbExecutor) -> None:
    fake_adb.set("IME", ADB_KEYBOARD_IME)
    device.execute(TypeText("Grüße, 東京 🚆"))
    assert fake_adb.shell_calls() == [
        ["settings", "get", "secure", "default_input_method"],
        ["am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg", "R3LDvMOfZSwg5p2x5LqsIPCfmoY="],
    ]


def test_non_ascii_text_without_adbkeyboard_is_a_clear_error(fake_adb: FakeAdb, device: AdbExecutor) -> None:
    with pytest.raises(ActionFailedError) as caught:
        device.execute(TypeText("café"))
    assert "ADBKeyboard" in caught.value.message and "ime set" in caught.value.message
    assert "ASCII" in caught.value.hint
    assert fake_adb.shell_calls() == [["settings", "get", "secure", "default_input_method"]]


@pytest.mark.parametrize(("action", "hint_part"), [
    (Click(Point(1, 1), "right"), "long_press"), (Click(), "coordinate"), (MoveTo(Point(1, 1)), "tap"),
    (Click(Point(1080, 5)), "1080"), (Swipe(Point(0, 0), Point(0, 2400)), "2400"), (Drag(Point(1, 1)), "swipe"),
    (PressKeys(("f20",)), "KEYCODE"),
], ids=repr)
def test_what_the_model_can_fix_sends_nothing(fake_adb: FakeAdb, device: AdbExecutor, action: object,
                                              hint_part: str) -> None:
    with pytest.raises(ActionFailedError) as caught:
        device.execute(action)  # type: ignore[arg-type]
    assert hint_part in caught.value.hint
    assert fake_adb.calls() == []


def test_loop_actions_are_not_for_the_executor(device: AdbExecutor) -> None:
    with pytest.raises(ValueError, match="loop"):
        device.execute(Terminate("success"))


def test_a_vanished_device_is_an_executor_error(fake_adb: FakeAdb, device: AdbExecutor) -> None:
    fake_adb.set("FAIL_ON", "input")
    with pytest.raises(ExecutorError, match="no longer reachable"):
        device.execute(Click(Point(1, 1)))
    fake_adb.set("FAIL_ON", "screencap")
    with pytest.raises(ExecutorError):
        device.screenshot()


def test_commands_time_out(fake_adb: FakeAdb, device: AdbExecutor) -> None:
    fake_adb.set("SLEEP", "5")
    runner = SubprocessAdbRunner()
    with pytest.raises(ExecutorError, match=r"did not finish within 0\.5 s"):
        runner.run(["devices"], timeout_s=0.5)


def test_settle_compares_screenshots(fake_adb: FakeAdb) -> None:
    executor = AdbExecutor(AdbSettings(settle=SettleSettings(max_wait_s=2.0, interval_s=0.0, stable_frames=1)))
    fake_adb.clear()
    assert executor.settle() < 2.0
    assert fake_adb.calls() == [["-s", SERIAL, "exec-out", "screencap", "-p"]] * 2


def test_bad_screencap_output_is_an_executor_error(fake_adb: FakeAdb, device: AdbExecutor) -> None:
    fake_adb.screenshot.write_bytes(b"not a png")
    with pytest.raises(ExecutorError, match="no PNG"):
        device.screenshot()


class _ScriptedRunner:
    """A runner that answers from a dict (the seam, without any subprocess)."""

    def __init__(self, png: bytes) -> None:
        self.png = png
        self.calls: list[list[str]] = []

    def run(self, args: list[str], timeout_s: float) -> AdbResult:
        self.calls.append(list(args))
        if args == ["devices"]:
            return AdbResult(0, b"List of devices attached\nserial-1\tdevice\n\n", b"")
        if args[-3:] == ["exec-out", "screencap", "-p"]:
            return AdbResult(0, self.png, b"")
        return AdbResult(0, b"", b"")


def test_runner_seam(tmp_path: Path) -> None:
    path = tmp_path / "s.png"
    Image.new("RGB", (720, 1280)).save(path)
    runner = _ScriptedRunner(path.read_bytes())
    executor = AdbExecutor(AdbSettings(settle=NO_SETTLE), runner=runner)
    executor.execute(Click(Point(10, 20)))
    assert executor.size == (720, 1280)
    assert runner.calls[-1] == ["-s", "serial-1", "shell", "input", "tap", "10", "20"]


# --- a real device (opt-in) --------------------------------------------------------------------

REAL_SERIAL = os.environ.get("SCREENPILOT_ADB_SERIAL")


@pytest.mark.skipif(not REAL_SERIAL, reason="set SCREENPILOT_ADB_SERIAL=<serial> to run against a real device")
class TestRealDevice:
    """Harmless actions on the device named by ``SCREENPILOT_ADB_SERIAL``."""

    @pytest.fixture(scope="class")
    def real(self) -> Iterator[AdbExecutor]:
        executor = AdbExecutor(AdbSettings(serial=REAL_SERIAL))
        yield executor
        executor.execute(SystemButton("home"))
        executor.close()

    def test_real_screenshot(self, real: AdbExecutor) -> None:
        frame = real.screenshot()
        assert frame.size == real.size and min(frame.size) > 100

    def test_real_home_open_settings_swipe_back(self, real: AdbExecutor) -> None:
        real.execute(SystemButton("home"))
        real.settle()
        home = real.screenshot().image
        real.execute(OpenApp("Settings"))
        real.settle()
        width, height = real.size
        real.execute(Swipe(Point(width // 2, height * 3 // 4), Point(width // 2, height // 4), 0.4))
        real.settle()
        assert real.screenshot().image.tobytes() != home.tobytes()
        real.execute(SystemButton("back"))
        real.execute(SystemButton("home"))

    def test_real_keys_and_long_press(self, real: AdbExecutor) -> None:
        real.execute(AndroidKey("KEYCODE_HOME"))
        width, height = real.size
        real.execute(LongPress(Point(width // 2, height // 2), 1.0))
        real.execute(SystemButton("back"))


def test_run_over_adb_from_the_command_line(fake_adb: FakeAdb, tmp_path: Path) -> None:
    from screenpilot.agent.cli.main import main

    replies = [
        '<tool_call>{"name": "mobile_use", "arguments": {"action": "open", "text": "Settings"}}</tool_call>',
        '<tool_call>{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [546, 1204]}}</tool_call>',
        '<tool_call>{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}</tool_call>',
    ]
    replies_file = tmp_path / "replies.json"
    replies_file.write_text(json.dumps(replies), encoding="utf-8")
    code = main(["run", "Open the settings", "--adb", SERIAL, "--model", f"scripted:{replies_file}",
                 "--out", str(tmp_path / "runs"), "--quiet"])
    assert code == 0
    shell = fake_adb.shell_calls()
    assert ["monkey", "-p", "com.android.settings", "-c", "android.intent.category.LAUNCHER", "1"] in shell
    assert ["input", "tap", "540", "1200"] in shell  # model 1092x2408 -> screen 1080x2400
