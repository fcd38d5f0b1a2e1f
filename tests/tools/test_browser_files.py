"""The browser executor's file choosers, downloads and tabs, in headless Chromium on local pages (real DOM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from screenpilot.agent.actions import Click, CloseTab, ListTabs, NewTab, Point, SwitchTab, Upload
from screenpilot.agent.errors import ActionFailedError
from screenpilot.tools.base import SavesDownloads
from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings
from screenpilot.tools.web.phone import PhoneExecutor, PhoneSettings
from screenpilot.tools.web.transfers import free_name

PAGES = Path(__file__).resolve().parents[1] / "pages"
FILE_FIELD = Point(100, 150)
"""The middle of upload.html's file field."""
REPORT_LINK = Point(100, 60)
NEXT_LINK = Point(100, 140)
"""files_and_tabs.html: the download link and the target=_blank link."""
REPORT = b"name,score\nada,42\n"


def events(browser: BrowserExecutor) -> list[str]:
    found = browser.screenshot().extra.get("events")
    return [str(e) for e in found] if isinstance(found, list) else []


def act(browser: BrowserExecutor, *actions: object) -> list[str]:
    for action in actions:
        browser.execute(action)  # type: ignore[arg-type]
        browser.settle()
    return events(browser)


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "hello.txt").write_text("hello world")
    (tmp_path / "outside.txt").write_text("not for the page")
    return folder


def test_upload_answers_the_chooser_the_page_opened(uploads: Path) -> None:
    settings = BrowserSettings(start_url=(PAGES / "upload.html").as_uri(), upload_dir=uploads)
    with BrowserExecutor(settings) as browser:
        with pytest.raises(ActionFailedError) as early:
            browser.execute(Upload("hello.txt"))
        assert "click" in early.value.hint and "file" in early.value.hint
        chooser = act(browser, Click(FILE_FIELD))
        chooser += act(browser, Upload("hello.txt"))  # on a loaded machine the chooser is reported late
        assert any("file chooser opened" in e and "hello.txt" in e for e in chooser), chooser
        assert browser.page.inner_text("#chosen") == "hello.txt (11 bytes)"


def test_the_executor_refuses_files_outside_the_upload_folder_and_missing_ones(uploads: Path) -> None:
    settings = BrowserSettings(start_url=(PAGES / "upload.html").as_uri(), upload_dir=uploads)
    with BrowserExecutor(settings) as browser:
        act(browser, Click(FILE_FIELD))
        for path in ("../outside.txt", str(uploads.parent / "outside.txt"), "missing.txt"):
            with pytest.raises(ActionFailedError):
                browser.execute(Upload(path))
        assert browser.page.inner_text("#chosen") == "no file"
        act(browser, Upload(str(uploads / "hello.txt")))  # the chooser is still there for a good file
        assert browser.page.inner_text("#chosen") == "hello.txt (11 bytes)"


def test_a_download_waits_for_the_folder_then_lands_in_it(tmp_path: Path) -> None:
    with BrowserExecutor(BrowserSettings(start_url=(PAGES / "files_and_tabs.html").as_uri())) as browser:
        assert isinstance(browser, SavesDownloads)
        early = act(browser, Click(REPORT_LINK))
        assert any(e.startswith("downloaded report.csv (18 bytes)") for e in early), early
        folder = tmp_path / "run" / "downloads"
        browser.save_downloads_to(folder)
        assert (folder / "report.csv").read_bytes() == REPORT
        later = act(browser, Click(REPORT_LINK))
        assert "downloaded report.csv (18 bytes) to downloads/report-2.csv" in later
        assert (folder / "report-2.csv").read_bytes() == REPORT


def test_free_name_keeps_downloads_apart_and_inside(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    assert free_name(tmp_path, "a.csv") == tmp_path / "a-2.csv"
    assert free_name(tmp_path, "../../etc/passwd") == tmp_path / "passwd"
    assert free_name(tmp_path, "..") == tmp_path / "download"


def test_tabs_are_listed_switched_opened_and_closed() -> None:
    next_url = (PAGES / "browser_next.html").as_uri()
    with BrowserExecutor(BrowserSettings(start_url=(PAGES / "files_and_tabs.html").as_uri())) as browser:
        assert any("new tab opened" in e for e in act(browser, Click(NEXT_LINK)))
        assert browser.page.url == next_url
        listed = act(browser, ListTabs())
        assert listed == [f"open tabs: [0] Files and tabs ({(PAGES / 'files_and_tabs.html').as_uri()}); "
                          f"[1] Next page ({next_url}) (current)"]
        act(browser, SwitchTab(0))
        assert browser.page.title() == "Files and tabs"
        act(browser, CloseTab(1))
        assert len(browser.page.context.pages) == 1
        act(browser, NewTab(next_url))
        assert browser.page.url == next_url and len(browser.page.context.pages) == 2
        closed = act(browser, CloseTab())
        assert browser.page.title() == "Files and tabs" and any("now on" in e for e in closed), closed
        with pytest.raises(ActionFailedError) as bad:
            browser.execute(SwitchTab(3))
        assert "0 to 0" in bad.value.hint


def test_the_phone_refuses_tab_and_file_actions() -> None:
    with PhoneExecutor(PhoneSettings(start_url=(PAGES / "phone_app.html").as_uri())) as phone:
        for action in (ListTabs(), SwitchTab(0), CloseTab(), NewTab(), Upload("a.txt")):
            with pytest.raises(ActionFailedError) as refused:
                phone.execute(action)
            assert "browser action" in refused.value.message and refused.value.hint
