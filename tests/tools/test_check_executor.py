"""``screenpilot.tools.check_executor`` against every executor we ship, and against broken ones."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from screenpilot.agent.actions import Action, Terminate
from screenpilot.agent.frame import Frame
from screenpilot.tools import ExecutorContractError, check_executor
from screenpilot.tools.android.adb import AdbExecutor, AdbSettings
from screenpilot.tools.base import Executor, MasksSecrets, OnXDisplay, ShowsPage
from screenpilot.tools.recording import RecordingExecutor
from screenpilot.tools.settle import SettleSettings
from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings
from screenpilot.tools.web.phone import PhoneExecutor, PhoneSettings
from screenpilot.tools.x11.xvfb import VirtualDisplay
from tests.tools.test_adb import FakeAdb, fake_adb  # noqa: F401  (fake_adb is a fixture)

PAGE = (Path(__file__).resolve().parents[1] / "pages" / "browser_controls.html").as_uri()
QUICK = SettleSettings(max_wait_s=1.0, interval_s=0.03)


def test_the_browser_keeps_the_contract() -> None:
    browser = BrowserExecutor(BrowserSettings(viewport=(640, 400), start_url=PAGE, settle=QUICK))
    assert isinstance(browser, ShowsPage) and isinstance(browser, MasksSecrets)
    assert not isinstance(browser, OnXDisplay)
    check_executor(browser)


def test_the_emulated_phone_keeps_the_contract() -> None:
    phone = PhoneExecutor(PhoneSettings(start_url=PAGE, settle=QUICK))
    assert isinstance(phone, ShowsPage) and isinstance(phone, MasksSecrets)
    check_executor(phone)


def test_the_desktop_keeps_the_contract(xvfb: VirtualDisplay) -> None:
    from screenpilot.tools.x11.desktop import DesktopExecutor, DesktopSettings

    desktop = DesktopExecutor(DesktopSettings(display=xvfb.display, xauthority=xvfb.xauthority, fail_safe=False))
    assert isinstance(desktop, OnXDisplay) and not isinstance(desktop, ShowsPage)
    check_executor(desktop)


def test_the_adb_phone_keeps_the_contract(fake_adb: FakeAdb) -> None:  # noqa: F811
    device = AdbExecutor(AdbSettings(settle=SettleSettings(fixed_delay_s=0.0)))
    assert not isinstance(device, ShowsPage | OnXDisplay)
    check_executor(device)


def test_the_recording_stand_in_keeps_the_contract() -> None:
    check_executor(RecordingExecutor((320, 200)))


class _Sloppy(RecordingExecutor):
    """Breaks four promises: an unknown kind, Terminate carried out, a wrong-sized screenshot
    after the first, and screenshots that keep working once closed."""

    def __init__(self) -> None:
        super().__init__((320, 200))
        self.kind = "television"  # type: ignore[assignment]

    def execute(self, action: Action) -> None:
        if isinstance(action, Terminate):
            self.actions.append(action)
            return
        super().execute(action)

    def screenshot(self) -> Frame:
        self.closed = False
        frame = super().screenshot()
        return replace(frame, image=frame.image.resize((10, 10))) if self.screenshots > 1 else frame


def test_a_sloppy_executor_gets_every_broken_promise_named() -> None:
    sloppy = _Sloppy()
    with pytest.raises(ExecutorContractError) as caught:
        check_executor(sloppy)
    problems = caught.value.problems
    assert any("kind is 'television'" in p for p in problems)
    assert any(p.startswith("Terminate: did not raise ValueError") for p in problems)
    assert any("image is (10, 10), not size (320, 200)" in p for p in problems)
    assert any(p.startswith("screenshot() after close()") for p in problems)
    assert len(problems) == 4, problems
    assert "_Sloppy breaks the executor contract" in str(caught.value)


def test_a_closed_executor_is_checked_closed(tmp_path: Path) -> None:
    executor: Executor = RecordingExecutor((64, 64))
    check_executor(executor)
    assert isinstance(executor, RecordingExecutor) and executor.closed
