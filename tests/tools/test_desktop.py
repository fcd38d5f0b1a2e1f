"""The desktop executor: pure arithmetic, environment checks, and real input on a private Xvfb
against real applications (the Tk test app, xterm), asserting on the applications' state."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from screenpilot.agent.actions import (
    Click,
    Drag,
    GoBack,
    MoveTo,
    Navigate,
    Point,
    PressKeys,
    Scroll,
    SystemButton,
    Terminate,
    TypeText,
    Wait,
)
from screenpilot.agent.errors import ActionFailedError, ConfigError, ExecutorError, StopRequested
from screenpilot.tools.settle import SettleSettings
from screenpilot.tools.x11.desktop import (
    DesktopExecutor,
    DesktopSettings,
    compute_geometry,
    nudge_off_corners,
    open_desktop,
    pyautogui_key_names,
    resolve_display,
    wheel_clicks,
)
from screenpilot.tools.x11.xkeyboard import binding_for, char_keysym, normalize_text
from screenpilot.tools.x11.xvfb import VirtualDisplay
from tests.tools.conftest import SCREEN, TK_APP, AppState, needs_xvfb, read_json

UNICODE_TEXT = "héllo <b> & 日本"

# -- pure functions -------------------------------------------------------------------------

ONE = [{"left": 0, "top": 0, "width": 1280, "height": 720}, {"left": 0, "top": 0, "width": 1280, "height": 720}]
TWO = [
    {"left": 0, "top": 0, "width": 3840, "height": 1080},
    {"left": 0, "top": 0, "width": 1920, "height": 1080},
    {"left": 1920, "top": 0, "width": 1920, "height": 1080},
]


def test_geometry_single_monitor_is_identity() -> None:
    g = compute_geometry(ONE, 1, (1280, 720))
    assert g.size == (1280, 720)
    assert (g.scale_x, g.scale_y) == (1.0, 1.0)
    assert g.to_input(Point(0, 0)) == (0, 0)
    assert g.to_input(Point(1279, 719)) == (1279, 719)


def test_geometry_second_monitor_adds_its_offset() -> None:
    g = compute_geometry(TWO, 2, (3840, 1080))
    assert g.size == (1920, 1080)
    assert g.to_input(Point(10, 20)) == (1930, 20)
    assert g.from_input(1930, 20) == Point(10, 20)
    everything = compute_geometry(TWO, 0, (3840, 1080))
    assert everything.size == (3840, 1080)
    assert everything.to_input(Point(2000, 5)) == (2000, 5)


def test_geometry_hidpi_divides_by_the_scale() -> None:
    capture = [{"left": 0, "top": 0, "width": 2560, "height": 1440}] * 2
    g = compute_geometry(capture, 1, (1280, 720))
    assert (g.scale_x, g.scale_y) == (2.0, 2.0)
    assert g.size == (2560, 1440)
    assert g.to_input(Point(101, 51)) == (51, 26)  # 50.5 rounds half up
    assert g.to_input(Point(2559, 1439)) == (1279, 719)  # clamped into the input space
    assert g.from_input(51, 26) == Point(102, 52)


def test_geometry_fractional_scale() -> None:
    capture = [{"left": 0, "top": 0, "width": 1920, "height": 1200}] * 2
    g = compute_geometry(capture, 1, (1280, 800))
    assert (g.scale_x, g.scale_y) == (1.5, 1.5)
    assert g.to_input(Point(300, 150)) == (200, 100)


def test_geometry_unknown_monitor_is_a_config_error_listing_monitors() -> None:
    with pytest.raises(ConfigError, match=r"monitor 3 does not exist.*1: 1920x1080\+0\+0"):
        compute_geometry(TWO, 3, (3840, 1080))


@pytest.mark.parametrize(
    ("pixels", "clicks"),
    [(0, 0), (1, 1), (-1, -1), (49, 1), (100, 1), (149, 1), (150, 2), (-150, -2), (250, 3), (1000, 10)],
)
def test_wheel_clicks_rounds_half_away_from_zero_and_at_least_one(pixels: int, clicks: int) -> None:
    assert wheel_clicks(pixels, 100) == clicks


def test_nudge_off_corners() -> None:
    assert nudge_off_corners(0, 0, 100, 50) == (1, 1)
    assert nudge_off_corners(99, 49, 100, 50) == (98, 48)
    assert nudge_off_corners(0, 49, 100, 50) == (1, 48)
    assert nudge_off_corners(0, 10, 100, 50) == (0, 10)


def test_key_names_map_to_pyautogui() -> None:
    assert pyautogui_key_names(["ctrl", "A"]) == ["ctrl", "a"]
    assert pyautogui_key_names(["meta"]) == ["win"]
    assert pyautogui_key_names(["escape", "pageup", "menu", "f12"]) == ["esc", "pageup", "apps", "f12"]
    assert pyautogui_key_names(["shift", "A"]) == ["shift", "A"]
    with pytest.raises(ActionFailedError) as info:
        pyautogui_key_names(["hyper"])
    assert "enter" in info.value.hint


def test_keysyms_for_characters() -> None:
    assert char_keysym("a") == ord("a")
    assert char_keysym("é") == 0xE9
    assert char_keysym("日") == 0x01000000 + 0x65E5
    assert char_keysym("\n") == 0xFF0D
    assert binding_for("É") == ((0xE9, 0xC9), 1)
    assert binding_for("ω") == ((0x010003C9, 0x010003A9), 0)
    assert binding_for("ß") == ((0xDF, 0xDF), 0)
    assert normalize_text("a\r\nb\rc") == "a\nb\nc"


def test_missing_display_is_a_config_error_with_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"DISPLAY is not set.*virtual-display.*apt-get install xvfb"):
        resolve_display(DesktopSettings(), {})


def test_missing_xauthority_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=r"does not exist.*touch"):
        resolve_display(DesktopSettings(), {"DISPLAY": ":0", "XAUTHORITY": str(missing)})


def test_executor_without_display_raises_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ConfigError, match="DISPLAY is not set"):
        DesktopExecutor(DesktopSettings())


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError):
        DesktopSettings(monitor=-1)
    with pytest.raises(ConfigError):
        DesktopSettings(scroll_px_per_click=0)
    with pytest.raises(ConfigError):
        DesktopSettings(typing="clipboard")  # type: ignore[arg-type]


# -- the virtual display --------------------------------------------------------------------


def test_missing_xvfb_binary_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="apt-get install xvfb xauth"):
        VirtualDisplay(640, 480, base_env={"PATH": "/nonexistent"}).start()


@needs_xvfb
def test_virtual_display_stops_everything_it_started(tmp_path: Path) -> None:
    vd = VirtualDisplay(320, 240).start()
    child = vd.launch(["sh", "-c", "sleep 60 & sleep 60"])
    pids = vd.pids
    assert len(pids) == 2 and vd.alive
    auth = Path(vd.xauthority)
    assert auth.is_file()
    vd.close()
    vd.close()
    assert child.returncode is not None
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    assert not auth.exists()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@needs_xvfb
def test_virtual_display_requires_its_cookie(xvfb: VirtualDisplay, tmp_path: Path) -> None:
    empty = tmp_path / "empty-xauthority"
    empty.write_bytes(b"")
    env = {**os.environ, "DISPLAY": xvfb.display, "XAUTHORITY": str(empty)}
    code = "from Xlib.display import Display; Display()"
    refused = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "uthoriz" in refused.stderr
    accepted = subprocess.run([sys.executable, "-c", code], env=xvfb.env, capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr


@needs_xvfb
def test_unreachable_display_and_wrong_cookie_are_config_errors(
    xvfb: VirtualDisplay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", xvfb.display)
    monkeypatch.setenv("XAUTHORITY", xvfb.xauthority)
    with pytest.raises(ConfigError, match="cannot connect to the X display :4321"):
        DesktopExecutor(DesktopSettings(display=":4321", xauthority=xvfb.xauthority))
    empty = tmp_path / "empty-xauthority"
    empty.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"refused the connection.*XAUTHORITY"):
        DesktopExecutor(DesktopSettings(display=xvfb.display, xauthority=str(empty)))


# -- actions against the Tk application -----------------------------------------------------


def _rgb(image: Any, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = image.getpixel((x, y))[:3]
    return int(r), int(g), int(b)


@needs_xvfb
def test_screenshot_has_display_size_and_shows_the_app(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.settle()
    frame = desktop.screenshot()
    assert frame.size == desktop.size == SCREEN
    assert frame.image.mode == "RGB"
    assert frame.capture_s >= 0
    assert _rgb(frame.image, 300, 70) == (255, 0, 0)  # the red pad
    assert _rgb(frame.image, 60, 300 + 100) == (255, 255, 224)  # the drag area
    assert _rgb(frame.image, 900, 700) == (0, 0, 0)  # Xvfb's root window, outside the app


@needs_xvfb
def test_click_triggers_the_button(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.execute(Click(Point(80, 40)))
    assert tk_app.wait_for(lambda s: s["button_clicks"] == 1)["button_clicks"] == 1


@needs_xvfb
@pytest.mark.parametrize(("button", "number"), [("left", 1), ("middle", 2), ("right", 3)])
def test_click_buttons_reach_the_handler_at_the_point(
    desktop: DesktopExecutor, tk_app: AppState, button: Any, number: int
) -> None:
    desktop.execute(Click(Point(250, 60), button=button))
    state = tk_app.wait_for(lambda s: len(s["pad_events"]) == 1)
    assert state["pad_events"] == [{"button": number, "count": 1, "x": 250, "y": 60}]


@needs_xvfb
def test_double_click(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.execute(Click(Point(300, 70), count=2))
    state = tk_app.wait_for(lambda s: len(s["pad_events"]) == 2)
    assert [e["count"] for e in state["pad_events"]] == [1, 2]


@needs_xvfb
def test_click_without_point_clicks_where_the_pointer_is(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.execute(MoveTo(Point(320, 90)))
    assert tk_app.wait_for(lambda s: s["last_motion"] == [320, 90])
    desktop.execute(Click(None, button="right"))
    state = tk_app.wait_for(lambda s: len(s["pad_events"]) == 1)
    assert state["pad_events"][0] == {"button": 3, "count": 1, "x": 320, "y": 90}


@needs_xvfb
def test_type_text_any_unicode_exactly(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.execute(Click(Point(100, 165)))
    desktop.execute(TypeText(UNICODE_TEXT))
    assert tk_app.wait_for(lambda s: s["entry"] == UNICODE_TEXT)["entry"] == UNICODE_TEXT
    more = " ÉΩЖ straße ÄÖÜ €"
    desktop.execute(TypeText(more))
    assert tk_app.wait_for(lambda s: s["entry"] == UNICODE_TEXT + more)


@needs_xvfb
def test_press_keys_chord_and_editing_keys(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.execute(Click(Point(100, 165)))
    desktop.execute(TypeText("abc"))
    tk_app.wait_for(lambda s: s["entry"] == "abc")
    desktop.execute(PressKeys(("home",)))
    desktop.execute(TypeText("X"))
    tk_app.wait_for(lambda s: s["entry"] == "Xabc")
    desktop.execute(PressKeys(("end",)))
    desktop.execute(PressKeys(("backspace",)))
    tk_app.wait_for(lambda s: s["entry"] == "Xab")
    desktop.execute(PressKeys(("ctrl", "a")))  # Tk's Entry: start of line (emacs binding)
    desktop.execute(PressKeys(("<",)))  # a lone character is typed exactly
    state = tk_app.wait_for(lambda s: s["entry"] == "<Xab")
    assert "ctrl+a" in state["keys"]
    desktop.execute(PressKeys(("shift", "A")))
    assert tk_app.wait_for(lambda s: s["entry"] == "<AXab")


@needs_xvfb
def test_unknown_key_is_a_model_error(desktop: DesktopExecutor) -> None:
    with pytest.raises(ActionFailedError):
        desktop.execute(PressKeys(("ctrl", "nosuchkey")))
    with pytest.raises(ActionFailedError):
        desktop.execute(PressKeys(()))


@needs_xvfb
def test_scroll_direction_and_amount(desktop: DesktopExecutor, tk_app: AppState) -> None:
    area = Point(600, 150)
    desktop.execute(Scroll(dy=300, at=area))  # 3 wheel clicks down, the app scrolls 20 px each
    assert tk_app.wait_for(lambda s: s["scroll"]["y"] == 60)["wheel"] == ["down"] * 3
    desktop.execute(Scroll(dy=-100, at=area))
    tk_app.wait_for(lambda s: s["scroll"]["y"] == 40)
    desktop.execute(Scroll(dy=0, dx=200, at=area))
    tk_app.wait_for(lambda s: s["scroll"]["x"] == 40)
    desktop.execute(Scroll(dy=0, dx=-1, at=area))  # any nonzero amount is at least one click
    state = tk_app.wait_for(lambda s: s["scroll"]["x"] == 20)
    assert state["wheel"][-3:] == ["right", "right", "left"]


@needs_xvfb
def test_drag_from_a_point_and_from_the_pointer(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.execute(Drag(to=Point(400, 500), start=Point(70, 350)))  # grab the square 10 px in
    tk_app.wait_for(lambda s: s["drag_item"] == [390, 490])
    desktop.execute(MoveTo(Point(400, 500)))
    desktop.execute(Drag(to=Point(200, 420)))
    assert tk_app.wait_for(lambda s: s["drag_item"] == [190, 410])


@needs_xvfb
def test_move_to(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.execute(MoveTo(Point(555, 444)))
    assert tk_app.wait_for(lambda s: s["last_motion"] == [555, 444])


@needs_xvfb
def test_points_off_the_screen_are_model_errors(desktop: DesktopExecutor) -> None:
    with pytest.raises(ActionFailedError) as info:
        desktop.execute(Click(Point(SCREEN[0], 10)))
    assert "0 <= x < 1024" in info.value.hint


@needs_xvfb
def test_wait_sleeps_and_browser_actions_are_refused(desktop: DesktopExecutor) -> None:
    start = time.monotonic()
    desktop.execute(Wait(0.2))
    assert time.monotonic() - start >= 0.2
    for action in (Navigate("https://example.com"), GoBack()):
        with pytest.raises(ActionFailedError, match="not available on the desktop") as info:
            desktop.execute(action)
        assert "address bar" in info.value.hint
    with pytest.raises(ActionFailedError, match="phone action"):
        desktop.execute(SystemButton("home"))
    with pytest.raises(ValueError):
        desktop.execute(Terminate("success"))


@needs_xvfb
def test_settle_is_quick_when_static_and_waits_for_an_animation(desktop: DesktopExecutor, tk_app: AppState) -> None:
    desktop.settle()
    static = desktop.settle()
    assert 0 <= static < desktop.settings.settle.max_wait_s
    # On a loaded CPU the app can stall long enough to look settled; one clean attempt in three
    # shows that settle follows the animation instead of returning at once.
    outcomes = []
    for attempt in range(3):
        tk_app.wait_for(lambda s, n=attempt: s["animations"] == n, timeout=10)
        desktop.execute(Click(Point(80, 100)))  # starts a 300 ms animation
        waited = desktop.settle()
        finished = tk_app.get()["animations"] == attempt + 1
        outcomes.append((round(waited, 3), finished))
        if finished and waited < desktop.settings.settle.max_wait_s:
            return
    pytest.fail(f"settle returned before the animation ended every time: (seconds, finished) {outcomes}")


@needs_xvfb
def test_describe(desktop: DesktopExecutor, xvfb: VirtualDisplay) -> None:
    info = desktop.describe()
    assert info["kind"] == "desktop"
    assert info["display"] == xvfb.display
    assert info["geometry"] == {"left": 0, "top": 0, "width": SCREEN[0], "height": SCREEN[1]}
    assert info["scale"] == [1.0, 1.0]
    assert info["typing"] == "xtest"


@needs_xvfb
def test_fail_safe_corner_stops_the_run(xvfb: VirtualDisplay, desktop: DesktopExecutor, tk_app: AppState) -> None:
    guarded = DesktopExecutor(DesktopSettings(display=xvfb.display, xauthority=xvfb.xauthority, fail_safe=True))
    try:
        guarded.execute(Click(Point(0, 0)))  # the agent's own corner click is nudged, not a trip
        guarded.execute(MoveTo(Point(300, 300)))
        desktop.execute(MoveTo(Point(SCREEN[0] - 1, SCREEN[1] - 1)))  # "a person" throws the mouse
        with pytest.raises(StopRequested, match="corner"):
            guarded.execute(Click(Point(80, 40)))
        assert tk_app.get()["button_clicks"] == 0
    finally:
        guarded.close()
        desktop.execute(MoveTo(Point(500, 500)))


@needs_xvfb
def test_other_typing_backends(xvfb: VirtualDisplay, tk_app: AppState) -> None:
    plain = DesktopExecutor(
        DesktopSettings(display=xvfb.display, xauthority=xvfb.xauthority, fail_safe=False, typing="pyautogui")
    )
    try:
        plain.execute(Click(Point(100, 165)))
        plain.execute(TypeText("a>b&c"))
        tk_app.wait_for(lambda s: s["entry"] == "a>b&c")
        with pytest.raises(ActionFailedError, match="cannot type"):
            plain.execute(TypeText("<é"))
    finally:
        plain.close()
    if shutil.which("xdotool") is None:
        return
    xdo = DesktopExecutor(
        DesktopSettings(display=xvfb.display, xauthority=xvfb.xauthority, fail_safe=False, typing="xdotool")
    )
    try:
        assert xdo.describe()["typing"] == "xdotool"
        xdo.execute(TypeText(" <x> & é"))
        tk_app.wait_for(lambda s: s["entry"] == "a>b&c <x> & é")
    finally:
        xdo.close()


@needs_xvfb
def test_xterm_typing_a_command_and_enter_creates_a_file(
    xvfb: VirtualDisplay, desktop: DesktopExecutor, tmp_path: Path
) -> None:
    if shutil.which("xterm") is None:
        pytest.skip("xterm is not installed: sudo apt-get install xterm")
    before = desktop.screenshot().image
    proc = xvfb.launch(
        ["env", "LC_ALL=C.UTF-8", "xterm", "-u8", "-geometry", "80x20+0+0", "-e", "sh"], cwd=tmp_path, log_name="xterm"
    )
    try:
        deadline = time.monotonic() + 10
        while _rgb(desktop.screenshot().image, 5, 5) == _rgb(before, 5, 5):
            assert time.monotonic() < deadline, "xterm did not appear"
            time.sleep(0.05)
        desktop.settle()
        desktop.execute(Click(Point(100, 100)))
        desktop.execute(TypeText("printf '%s\\n' '<b> & café' > out.txt\n"))
        out = tmp_path / "out.txt"
        deadline = time.monotonic() + 10
        while not (out.exists() and out.read_text(encoding="utf-8") == "<b> & café\n"):
            assert time.monotonic() < deadline, f"out.txt: {out.read_bytes() if out.exists() else 'missing'!r}"
            time.sleep(0.05)
    finally:
        xvfb.stop(proc)


@needs_xvfb
def test_display_that_disappears_is_an_executor_error(desktop: DesktopExecutor) -> None:
    vd = VirtualDisplay(320, 240).start()
    executor = DesktopExecutor(DesktopSettings(display=vd.display, xauthority=vd.xauthority, fail_safe=False))
    try:
        assert executor.screenshot().size == (320, 240)
        vd.close()
        with pytest.raises(ExecutorError, match="stopped answering"):
            executor.screenshot()
        with pytest.raises(ExecutorError, match="stopped answering"):
            executor.execute(Click(Point(10, 10)))
    finally:
        executor.close()
        vd.close()
    desktop.execute(MoveTo(Point(10, 10)))  # the session executor takes PyAutoGUI back


@needs_xvfb
def test_close_is_idempotent_and_final(xvfb: VirtualDisplay) -> None:
    executor = DesktopExecutor(DesktopSettings(display=xvfb.display, xauthority=xvfb.xauthority, fail_safe=False))
    executor.close()
    executor.close()
    with pytest.raises(ExecutorError, match="closed"):
        executor.screenshot()


@needs_xvfb
def test_open_desktop_with_virtual_display_and_launch(tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    settings = DesktopSettings(settle=SettleSettings(max_wait_s=3))
    launch = [[sys.executable, str(TK_APP), str(state_path)]]
    with open_desktop(settings, virtual_display=(900, 650), launch=launch) as ex:
        assert ex.settings.fail_safe is False
        assert ex.size == (900, 650)
        assert (read_json(state_path) or {}).get("ready")
        assert _rgb(ex.screenshot().image, 300, 70) == (255, 0, 0)
        display = ex.display
    assert not Path(f"/tmp/.X11-unix/X{display[1:]}").exists()


@needs_xvfb
def test_open_desktop_on_an_existing_display_stops_what_it_launched(xvfb: VirtualDisplay) -> None:
    settings = DesktopSettings(display=xvfb.display, xauthority=xvfb.xauthority, fail_safe=False)
    with open_desktop(settings, launch=["sleep 61.2345"], launch_wait_s=0.2) as ex:
        assert ex.display == xvfb.display
        sleepers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p) == "sleep\x0061.2345\x00"]
        assert sleepers
    for proc_dir in sleepers:
        assert not proc_dir.exists() or _is_zombie(int(proc_dir.name))


def _cmdline(proc_dir: Path) -> str:
    try:
        return (proc_dir / "cmdline").read_text()
    except OSError:
        return ""


@needs_xvfb
def test_settle_listens_for_x_damage_and_takes_no_capture_on_a_still_screen(
        desktop: DesktopExecutor, tk_app: AppState, monkeypatch: pytest.MonkeyPatch) -> None:
    captures: list[int] = []
    original = desktop._small_capture

    def counted() -> object:
        captures.append(1)
        return original()

    monkeypatch.setattr(desktop, "_small_capture", counted)
    desktop.settle()
    assert desktop.describe()["settle"] == "x-damage"
    assert captures == []
