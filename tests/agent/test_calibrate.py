"""``screenpilot calibrate``: layout, fit and diagnosis (pure), the oracle through the real loop on
real surfaces (Chromium pages, a Tk window on Xvfb), the request-size check, the CLI, and a quick
calibration of the tiny model behind a real ``transformers serve``.

Browser and desktop runs use the quick 3x3 grid except where the full layout itself is tested.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from screenpilot.agent.actions import Point
from screenpilot.agent.calibration.calibrate import (
    CalibrationReport,
    TargetResult,
    quick_calibration_ok,
    run_calibration,
    summarise,
    write_outputs,
)
from screenpilot.agent.calibration.fit import (
    COMMON_BOUNDS,
    diagnose,
    error_stats,
    fit_axis,
    fit_clicks,
    resize_candidates,
)
from screenpilot.agent.calibration.layout import CIRCLE_DIAMETERS_PX, Target, layout_targets
from screenpilot.agent.calibration.oracle import (
    OracleFault,
    oracle_model,
    oracle_model_xy,
    oracle_replies,
    server_resized_size,
)
from screenpilot.agent.calibration.request import check_request_size
from screenpilot.agent.calibration.surfaces import (
    BrowserSurface,
    DesktopSurface,
    open_browser_surface,
    open_desktop_surface,
)
from screenpilot.agent.cli.main import main
from screenpilot.agent.run.settings import BrowserTarget, DesktopTarget, ModelSettings, PromptSettings
from screenpilot.models.backends.openai_compat import OpenAICompatBackend
from screenpilot.models.backends.scripted import ScriptedModel
from screenpilot.models.formats.qwen25 import Qwen25Format
from screenpilot.models.resize import FAST_MAX_PIXELS, model_size_for, model_to_screen
from screenpilot.scenarios import SCENARIOS_DIR

BROWSER_PROMPT = Qwen25Format(browser_actions=True)
DESKTOP_PROMPT = Qwen25Format()


def _calibrate(surface: BrowserSurface | DesktopSurface, fault: OracleFault, prompt: Qwen25Format) -> CalibrationReport:
    size = surface.executor.size
    model = oracle_model(surface.targets, size, prompt.model_size(size), fault)
    return run_calibration(model, prompt, surface)


def _assert_perfect(report: CalibrationReport) -> None:
    assert report.stats.hit_rate == 1.0, [r.to_json() for r in report.results if not r.hit]
    assert report.stats.max_px is not None and report.stats.max_px <= 1.5
    assert report.verdict == "ok" and report.diagnosis.code == "ok"


# --- layout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1920, 1080), (800, 600)])
def test_layout_covers_corners_and_edges_and_stays_on_screen(size: tuple[int, int]) -> None:
    for quick in (True, False):
        targets = layout_targets(size, quick=quick)
        for t in targets:
            left, top, right, bottom = t.box
            assert left >= 0 and top >= 0 and right <= size[0] and bottom <= size[1], t
        circles = [t for t in targets if t.kind == "circle"]
        assert min(t.box[0] for t in circles) <= 4 and max(t.box[2] for t in circles) >= size[0] - 4
        assert min(t.box[1] for t in circles) <= 4 and max(t.box[3] for t in circles) >= size[1] - 4
    quick_targets = layout_targets(size, quick=True)
    assert len(quick_targets) == 9 and [t.task for t in quick_targets][:1] == ["Click the circle labelled 1"]


def test_full_layout_has_small_icons_and_labelled_buttons() -> None:
    targets = layout_targets((1280, 720))
    assert len(targets) == 28
    assert {t.width for t in targets if t.kind == "circle"} == set(CIRCLE_DIAMETERS_PX)
    buttons = [t for t in targets if t.kind == "button"]
    assert [t.task for t in buttons] == [f"Click the button '{name}'" for name in ("Save", "Open", "Cancel", "Search")]
    assert [t.number for t in targets] == list(range(1, 29))


def test_hit_test_follows_the_shape() -> None:
    circle = Target(1, "circle", "1", Point(100, 100), 10, 10)
    assert circle.contains(Point(105, 100)) and not circle.contains(Point(104, 104))
    button = Target(2, "button", "Save", Point(100, 100), 88, 32)
    assert button.contains(Point(143, 115)) and not button.contains(Point(146, 100))


# --- fit and diagnosis (pure) ----------------------------------------------------------------


def test_fit_axis_recovers_a_line_and_ignores_wrong_target_misses() -> None:
    true = [10.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0]
    landed = [0.5 * t + 40 for t in true]
    landed[3] = 20.0
    fit = fit_axis(true, landed)
    assert fit is not None and fit.dropped == 1
    assert fit.scale == pytest.approx(0.5, abs=1e-6) and fit.offset == pytest.approx(40, abs=1e-3)


def test_single_position_axis_is_fitted_through_the_origin() -> None:
    fit = fit_axis([24.0, 24.0, 24.0], [48.0, 48.0, 48.0])
    assert fit is not None and fit.offset_assumed and fit.scale == pytest.approx(2.0)


def test_resize_candidates_name_the_bounds_behind_1316x728() -> None:
    seen = server_resized_size((1932, 1092), 3136, FAST_MAX_PIXELS)
    assert seen == (1316, 728)
    groups = dict(resize_candidates((1932, 1092)))
    assert {b.max_pixels for b in groups[(1316, 728)]} == {1003520}
    assert all(b in COMMON_BOUNDS for bounds in groups.values() for b in bounds)


def _results(pairs: list[tuple[Point, Point | None]]) -> list[TargetResult]:
    out = []
    for n, (centre, landed) in enumerate(pairs, start=1):
        target = Target(n, "circle", str(n), centre, 28, 28)
        error = None if landed is None else math.hypot(landed.x - centre.x, landed.y - centre.y)
        out.append(TargetResult(target, None, (), (), landed, int(landed is not None), error,
                                landed is not None and target.contains(landed)))
    return out


GRID = [Point(x, y) for y in (30, 360, 690) for x in (30, 640, 1250)]


def test_side_offset_and_inverse_hidpi_are_named() -> None:
    size, model = (1280, 720), (1288, 728)
    shifted = _results([(p, Point(p.x + 120, p.y)) for p in GRID if p.x + 120 < 1279])
    _, fit, diagnosis = summarise(shifted, size, model)
    assert diagnosis.code == "constant_offset" and "origin" in diagnosis.message
    assert fit is not None and fit.x.offset == pytest.approx(120)
    halved = _results([(p, Point(p.x // 2, p.y // 2)) for p in GRID])
    assert summarise(halved, size, model)[2].code == "hidpi_scale"


def test_no_clicks_or_random_clicks_are_inconclusive() -> None:
    size, model = (1280, 720), (1288, 728)
    assert summarise(_results([(p, None) for p in GRID]), size, model)[2].code == "too_few_clicks"
    scattered = [Point(900, 50), Point(100, 600), Point(700, 700), Point(30, 300), Point(1200, 20),
                 Point(500, 100), Point(1000, 650), Point(50, 50), Point(640, 400)]
    stats = error_stats([1.0] * 9, [False] * 9)
    fit = fit_clicks([((p.x, p.y), (q.x, q.y)) for p, q in zip(GRID, scattered, strict=True)], size)
    assert diagnose(fit, stats, size, model).verdict == "inconclusive"


@pytest.mark.parametrize("screen", [(1280, 720), (1366, 768), (1920, 1080), (3840, 2160)])
def test_perfect_oracle_round_trip_is_within_a_pixel(screen: tuple[int, int]) -> None:
    model = model_size_for(screen)
    for t in layout_targets(screen):
        back = model_to_screen(oracle_model_xy(OracleFault.perfect(), t.centre, screen, model), model, screen)
        assert math.hypot(back.x - t.centre.x, back.y - t.centre.y) <= 1.5


# --- request-size check (no model call) -------------------------------------------------------


def test_openai_request_body_carries_the_advertised_size() -> None:
    backend = OpenAICompatBackend("http://127.0.0.1:9/v1", "qwen")
    check = check_request_size(backend, BROWSER_PROMPT, (1920, 1080))
    assert check.status == "pass" and check.advertised == (1932, 1092) and check.sent == ((1932, 1092),)


class _ShrinkingBackend(OpenAICompatBackend):
    """A broken client that shrinks images before sending them."""

    def data_url(self, image: Image.Image) -> str:
        return super().data_url(image.resize((image.width // 2, image.height // 2)))


def test_a_backend_that_resizes_fails_the_check_and_the_verdict() -> None:
    check = check_request_size(_ShrinkingBackend("http://127.0.0.1:9/v1", "qwen"), BROWSER_PROMPT, (1280, 720))
    assert check.status == "fail" and check.sent == ((644, 364),)
    report = CalibrationReport({}, {}, {}, (1280, 720), (1288, 728), [], error_stats([], []), None,
                               summarise([], (1280, 720), (1288, 728))[2], size_check=check)
    assert report.verdict == "fault" and report.faults[0].code == "image_size_mismatch"


def test_scripted_backend_is_skipped() -> None:
    assert check_request_size(ScriptedModel([]), DESKTOP_PROMPT, (1280, 720)).status == "skipped"


@pytest.mark.slow
def test_local_processor_grid_matches_the_advertised_size(tiny_model_dir: Path) -> None:
    from screenpilot.models.backends.local import LocalQwenBackend

    backend = LocalQwenBackend(tiny_model_dir, device_map=None, max_new_tokens=4)
    try:
        check = check_request_size(backend, BROWSER_PROMPT, (1366, 768))
    finally:
        backend.close()
    assert check.status == "pass" and check.sent == (check.advertised,) == (model_size_for((1366, 768)),)


# --- the oracle through the loop in Chromium ---------------------------------------------------


@pytest.fixture(scope="module")
def page_1280() -> Iterator[BrowserSurface]:
    with open_browser_surface(BrowserTarget(viewport=(1280, 720)), quick=True) as surface:
        yield surface


@pytest.fixture(scope="module")
def page_1920() -> Iterator[BrowserSurface]:
    with open_browser_surface(BrowserTarget(viewport=(1920, 1080)), quick=True) as surface:
        yield surface


def test_perfect_oracle_hits_everything_at_1280x720(page_1280: BrowserSurface, tmp_path: Path) -> None:
    report = _calibrate(page_1280, OracleFault.perfect(), BROWSER_PROMPT)
    _assert_perfect(report)
    json_path, png_path = write_outputs(report, tmp_path)
    data = json.loads(json_path.read_text())
    assert data["verdict"] == "ok" and len(data["targets"]) == 9 and data["summary"]["hit_rate"] == 1.0
    assert data["targets"][0]["landed"] == [24, 24]
    with Image.open(png_path) as image:
        assert image.width == 1280 and image.height > 720


def test_perfect_oracle_hits_everything_at_1920x1080(page_1920: BrowserSurface) -> None:
    _assert_perfect(_calibrate(page_1920, OracleFault.perfect(), BROWSER_PROMPT))


def test_full_page_at_1366x768_matches_the_python_layout_and_is_hit(tmp_path: Path) -> None:
    with open_browser_surface(BrowserTarget(viewport=(1366, 768)), quick=False) as surface:
        assert surface.targets == layout_targets((1366, 768))
        _assert_perfect(_calibrate(surface, OracleFault.perfect(), BROWSER_PROMPT))


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        (OracleFault.normalised(), "normalised_coordinates", "0-1000"),
        (OracleFault.offset(0, 85), "constant_offset", "toolbar"),
        (OracleFault.scaled(2.0), "hidpi_scale", "factor 2"),
    ],
)
def test_faulty_oracles_are_diagnosed(page_1280: BrowserSurface, fault: OracleFault, code: str, words: str) -> None:
    report = _calibrate(page_1280, fault, BROWSER_PROMPT)
    assert report.verdict == "fault"
    assert report.diagnosis.code == code and words in report.diagnosis.message
    assert report.stats.hit_rate < 0.5


def test_server_side_resize_is_diagnosed_with_its_bounds(page_1920: BrowserSurface) -> None:
    advertised = BROWSER_PROMPT.model_size((1920, 1080))
    assert advertised == (1932, 1092)
    seen = server_resized_size(advertised, 3136, FAST_MAX_PIXELS)
    report = _calibrate(page_1920, OracleFault.resized(seen), BROWSER_PROMPT)
    assert report.diagnosis.code == "resize_mismatch"
    assert "1316x728" in report.diagnosis.message and "max_pixels=1003520" in report.diagnosis.message
    assert report.fit is not None and report.fit.x.scale == pytest.approx(1316 / 1932, abs=0.01)


# --- the desktop: our Tk window on Xvfb ---------------------------------------------------------


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed: sudo apt-get install xvfb xauth")
def test_desktop_window_on_a_1920x1080_virtual_display() -> None:
    with open_desktop_surface(DesktopTarget(virtual_display=(1920, 1080), fail_safe=False), quick=True) as surface:
        assert surface.executor.size == (1920, 1080)
        assert surface.targets == layout_targets((1920, 1080), quick=True)
        _assert_perfect(_calibrate(surface, OracleFault.perfect(), DESKTOP_PROMPT))
        shifted = _calibrate(surface, OracleFault.offset(0, 30), DESKTOP_PROMPT)
    assert shifted.diagnosis.code == "constant_offset"
    assert shifted.fit is not None and shifted.fit.y.offset == pytest.approx(30, abs=1)


# --- command line and the gate before an evaluation --------------------------------------------


def test_cli_exits_1_on_a_diagnosed_fault(tmp_path: Path) -> None:
    size = (1280, 720)
    targets = layout_targets(size, quick=True)
    replies = oracle_replies(targets, size, BROWSER_PROMPT.model_size(size), OracleFault.offset(0, 85))
    replies_path = tmp_path / "replies.json"
    replies_path.write_text(json.dumps(replies))
    code = main(["calibrate", "--model", f"scripted:{replies_path}", "--quick", "--out", str(tmp_path / "out")])
    assert code == 1
    data = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert data["diagnosis"]["code"] == "constant_offset" and data["size_check"]["status"] == "skipped"


def test_quick_calibration_gate() -> None:
    settings = ModelSettings(spec="scripted:whatever.json")
    ok, message = quick_calibration_ok(settings, PromptSettings())
    assert ok and "skipped" in message
    size = (1280, 720)
    faulty = oracle_model(layout_targets(size, quick=True), size, BROWSER_PROMPT.model_size(size),
                          OracleFault.normalised())
    ok, message = quick_calibration_ok(settings, PromptSettings(), BrowserTarget(viewport=size), model=faulty)
    assert not ok and "0-1000" in message


@pytest.mark.slow
def test_tiny_model_behind_transformers_serve(transformers_server: str, tiny_model_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["calibrate", "--model", str(tiny_model_dir), "--api-base", transformers_server, "--quick",
                 "--viewport", "640x360", "--max-new-tokens", "12", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "calibration.json").read_text())
    assert data["size_check"]["status"] == "pass" and data["size_check"]["sent"] == [[644, 364]]
    assert len(data["targets"]) == 9 and all(t["reply"] is not None for t in data["targets"])
    assert code == (1 if data["verdict"] == "fault" else 0)
    assert "hit " in capsys.readouterr().err


def test_cli_rejects_mixed_browser_and_desktop_options(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html></html>")
    assert main(["calibrate", "--model", "scripted:x.json", "--desktop", "--url", str(page)]) == 2
    assert main(["calibrate", "--model", "scripted:x.json", "--virtual-display", "800x600"]) == 2


def test_eval_calibrate_flag_refuses_to_start_on_a_fault(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import screenpilot.agent.calibration.calibrate

    seen: list[BrowserTarget] = []

    def faulty(model: ModelSettings, prompt: PromptSettings, target: BrowserTarget, **_: object) -> tuple[bool, str]:
        seen.append(target)
        return False, "Constant offset: clicks land (+0.0, +85.0) px away"

    monkeypatch.setattr(screenpilot.agent.calibration.calibrate, "quick_calibration_ok", faulty)
    suite = SCENARIOS_DIR / "form_registration.yaml"
    assert main(["eval", str(suite), "--out", str(tmp_path), "--calibrate", "--model", "qwen2.5-vl-7b",
                 "--viewport", "1024x768"]) == 2
    assert "Constant offset" in capsys.readouterr().err
    assert seen[0].viewport == (1024, 768)
    assert not (tmp_path / "results.json").exists()
