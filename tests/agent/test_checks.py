"""Checks against real state: a live Chromium page, files, X11 window titles and the screen."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from screenpilot.agent.scenario.checks import (
    CheckContext,
    fuzzy_equal,
    normalize_text,
    parse_json_answer,
    run_check,
    values_equal,
)
from screenpilot.agent.scenario.spec import (
    AnswerCheck,
    FileCheck,
    JsCheck,
    ScreenRegionCheck,
    SelectorCheck,
    UrlCheck,
    WindowTitleCheck,
)

PAGE = Path(__file__).resolve().parent.parent / "pages" / "scenario_checks_page.html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        tab = browser.new_page(viewport={"width": 640, "height": 360})
        tab.goto(PAGE.as_uri())
        yield tab
        browser.close()


def context(page: Any = None, answer: str | None = None, workdir: Path = Path("."), **kw: Any) -> CheckContext:
    def shot() -> Image.Image:
        return Image.open(io.BytesIO(page.screenshot()))

    return CheckContext(page=page, screenshot=shot, answer=answer, workdir=workdir, **kw)


def test_url_check(page: Any) -> None:
    assert run_check(UrlCheck("on page", r"scenario_checks_page\.html$"), context(page)).passed
    result = run_check(UrlCheck("elsewhere", r"/other\.html"), context(page))
    assert not result.passed and r"expected the URL to match //other\.html/, got 'file://" in result.detail
    assert result.failure_message().startswith("check 'elsewhere' failed: expected the URL")


@pytest.mark.parametrize(("check", "passed", "detail"), [
    (SelectorCheck("t", "#title", text_equals="Hello, checks"), True, ""),
    (SelectorCheck("t", "#title", text_equals="Hello"), False, "to equal 'Hello', got 'Hello, checks'"),
    (SelectorCheck("t", "#title", text_contains="checks"), True, ""),
    (SelectorCheck("v", "#name", value="Ada"), True, ""),
    (SelectorCheck("v", "#name", value="Bob"), False, "to be 'Bob', got 'Ada'"),
    (SelectorCheck("c", "#agree", checked=True), True, ""),
    (SelectorCheck("c", "#agree", checked=False), False, "to be unchecked"),
    (SelectorCheck("h", "#hidden", visible=False), True, ""),
    (SelectorCheck("h", "#go", visible=True), True, ""),
    (SelectorCheck("n", ".item", count=2), True, ""),
    (SelectorCheck("n", ".item", count=3), False, "expected 3 element(s) matching '.item', found 2"),
    (SelectorCheck("m", "#missing", text_contains="x"), False, "no element matches '#missing'"),
    (SelectorCheck("m", "#missing", count=0), True, ""),
])
def test_selector_checks(page: Any, check: SelectorCheck, passed: bool, detail: str) -> None:
    result = run_check(check, context(page))
    assert result.passed is passed, result.detail
    assert detail in result.detail


@pytest.mark.parametrize(("check", "passed", "detail"), [
    (JsCheck("truthy", "window.appState.count"), True, "truthy: 2"),
    (JsCheck("falsy", "window.appState.count - 2"), False, "expected a truthy value"),
    (JsCheck("eq", "window.appState.nested", {"list": [1, 2.5, "x"], "flag": True}, True), True, ""),
    (JsCheck("eq", "window.appState.nested.list", [1, 2.5], True), False, 'expected [1, 2.5], got [1, 2.5, "x"]'),
    (JsCheck("bool is not 1", "window.appState.nested.flag", 1, True), False, "expected 1, got true"),
    (JsCheck("throws", "window.appState.missing.deeper", None, True), False, "threw TypeError"),
])
def test_js_checks(page: Any, check: JsCheck, passed: bool, detail: str) -> None:
    result = run_check(check, context(page))
    assert result.passed is passed, result.detail
    assert detail in result.detail


def test_browser_checks_without_a_page_fail_clearly() -> None:
    result = run_check(UrlCheck("u", "x"), context())
    assert not result.passed and "needs a browser environment" in result.detail


def test_screen_region_template_match(page: Any, tmp_path: Path) -> None:
    screen = Image.open(io.BytesIO(page.screenshot()))
    template = tmp_path / "button.png"
    screen.crop((100, 100, 240, 144)).save(template)
    found = run_check(ScreenRegionCheck("button", template, (50, 50, 300, 200), 0.95), context(page))
    assert found.passed and "found at (100, 100)" in found.detail
    elsewhere = run_check(ScreenRegionCheck("button", template, (300, 200, 300, 150), 0.95), context(page))
    assert not elsewhere.passed and "below the threshold 0.95" in elsewhere.detail
    too_small = run_check(ScreenRegionCheck("button", template, (0, 0, 50, 50)), context(page))
    assert not too_small.passed and "larger than the searched area" in too_small.detail


def test_file_checks(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("total: 42\n", encoding="utf-8")
    ctx = context(workdir=tmp_path)
    assert run_check(FileCheck("f", "out.txt", equals="total: 42"), ctx).passed
    assert run_check(FileCheck("f", "out.txt", contains="42"), ctx).passed
    assert run_check(FileCheck("f", str(tmp_path / "out.txt"), regex=r"total: \d+"), ctx).passed
    wrong = run_check(FileCheck("f", "out.txt", equals="total: 41"), ctx)
    assert not wrong.passed and "to hold 'total: 41'" in wrong.detail
    missing = run_check(FileCheck("f", "nope.txt"), ctx)
    assert not missing.passed and "to exist" in missing.detail


def test_answer_checks() -> None:
    assert run_check(AnswerCheck("a", "SP-KK990D", "exact"), context(answer="SP-KK990D")).passed
    assert not run_check(AnswerCheck("a", "SP-KK990D", "exact"), context(answer="sp-kk990d")).passed
    assert run_check(AnswerCheck("a", "SP-KK990D"), context(answer="  sp kk990d. ")).passed
    none = run_check(AnswerCheck("a", "x"), context())
    assert not none.passed and "no final answer" in none.detail
    expected = {"number": "INV-1", "total": 1231.78, "items.1.qty": 2}
    answer = 'Here it is: ```json\n{"number": "inv-1", "total": "€1,231.78", "items": [{}, {"qty": 2}]}\n```'
    assert run_check(AnswerCheck("j", expected, "json_fields"), context(answer=answer)).passed
    wrong = run_check(AnswerCheck("j", {"total": 10}, "json_fields"), context(answer='{"total": 11}'))
    assert not wrong.passed and "expected field 'total' = 10, got 11" in wrong.detail
    missing = run_check(AnswerCheck("j", {"vendor": "x"}, "json_fields"), context(answer='{"total": 11}'))
    assert "no field 'vendor'" in missing.detail
    not_json = run_check(AnswerCheck("j", {"a": 1}, "json_fields"), context(answer="no json here"))
    assert "expected a JSON object" in not_json.detail


def test_comparison_helpers() -> None:
    assert normalize_text(" Hello,  WORLD! ") == "hello world"
    assert values_equal({"a": [1, 2.0]}, {"a": [1.0, 2]}) and not values_equal(True, 1)
    assert fuzzy_equal([{"d": "Chair"}], [{"d": "chair", "extra": 1}])
    assert not fuzzy_equal(5, "five")
    assert parse_json_answer("x {'a': 1,} y") == {"a": 1}


@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xterm") is None or shutil.which("xdotool") is None,
                    reason="needs Xvfb, xterm and xdotool (apt-get install xvfb xauth xterm xdotool)")
def test_window_title_check_on_a_virtual_display() -> None:
    from screenpilot.tools.x11.xvfb import VirtualDisplay

    with VirtualDisplay(640, 480) as display:
        display.launch(["xterm", "-T", "Budget 2024 - Editor"])
        ctx = context(display_env=display.env)
        check = WindowTitleCheck("editor open", r"^Budget \d{4} - Editor$")
        for _ in range(100):
            result = run_check(check, ctx)
            if result.passed:
                break
            time.sleep(0.05)
        assert result.passed, result.detail
        other = run_check(WindowTitleCheck("mail open", "Mail"), ctx)
        assert not other.passed and "Budget 2024 - Editor" in other.detail
