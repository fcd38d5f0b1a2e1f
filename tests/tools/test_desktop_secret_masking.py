"""``run --desktop --mask-secrets-ocr``: the text lines OCR reads a secret's value in are painted over in the saved
step screenshots (a real run on a private Xvfb, the Tk test app showing the value); the option's usage errors; the
line matching rule."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screenpilot.agent.cli.main import main
from screenpilot.tools import vision
from screenpilot.tools.vision import TextLine, lines_showing
from screenpilot.tools.web.base import MASK_COLOR
from tests.agent.test_loop import call
from tests.tools.conftest import TK_APP, read_json

VALUE = "Hunter2-s3cret"


def test_lines_showing_a_value_exactly_or_with_other_spaces() -> None:
    lines = [TextLine("password: Hunter2-s3cret", (10, 20, 200, 16), 0.99),
             TextLine("Hunter2 -s3cret", (10, 60, 90, 16), 0.9), TextLine("hunter2-s3cret", (10, 100, 90, 16), 0.9),
             TextLine("Hunter2", (10, 140, 50, 16), 0.9)]
    assert lines_showing(lines, [VALUE, ""]) == [(8, 18, 204, 20), (8, 58, 94, 20)]  # case-sensitive, no halves
    assert lines_showing(lines, []) == []


@pytest.mark.parametrize(("extra", "message"), [
    ([], "--mask-secrets-ocr is for --desktop"),
    (["--desktop"], "give them with --secret"),
])
def test_the_option_needs_the_desktop_and_a_secret(extra: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "t", "--model", "scripted:replies.json", "--mask-secrets-ocr", *extra]) == 2
    assert message in capsys.readouterr().err


def _run(tmp_path: Path, name: str, masked: bool) -> Path:
    """A one-step desktop run with the calculator showing VALUE; returns its first step screenshot."""
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([call(action="wait", time=0.5), call(action="terminate", status="success")]))
    out = tmp_path / name
    launch = f"{sys.executable} {TK_APP} {tmp_path / (name + '.json')} --calculator --show {VALUE}"
    argv = ["run", "Look", "--desktop", "--virtual-display", "1024x768", "--launch", launch,
            "--model", f"scripted:{replies}", "--secret", "SCREEN_CODE", "--out", str(out), "--quiet"]
    assert main([*argv, "--mask-secrets-ocr"] if masked else argv) == 0
    (run_dir,) = list(out.iterdir())
    if masked:
        for path in run_dir.rglob("*"):
            if path.is_file():
                assert VALUE.encode() not in path.read_bytes(), path
    return run_dir / "step_001.png"


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed: sudo apt-get install xvfb xauth")
def test_a_secret_shown_on_the_desktop_is_painted_over_only_where_ocr_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("rapidocr")
    monkeypatch.setenv("SCREEN_CODE", VALUE)
    clear = Image.open(_run(tmp_path, "clear", masked=False)).convert("RGB")
    masked = Image.open(_run(tmp_path, "masked", masked=True)).convert("RGB")
    geometry = (read_json(tmp_path / "masked.json") or {})["geometry"]
    vision.clear_ocr_cache()
    seen = vision.find_text(clear, VALUE)
    assert seen is not None and seen.score == 1.0, "without the option the value is on the screenshot"
    assert vision.find_text(masked, VALUE) is None
    # The two renderings differ only inside the display label, and there the value's line is the mask colour.
    changed = np.argwhere(np.any(np.asarray(clear) != np.asarray(masked), axis=2))
    assert changed.size
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    x0, y0, x1, y1 = geometry["display"]
    assert x0 <= left and right < x1 and y0 <= top and bottom < y1, ((left, top, right, bottom), geometry["display"])
    sx0, sy0, sw, sh = seen.box
    inside = masked.crop((sx0 + 2, sy0 + 2, sx0 + sw - 2, sy0 + sh - 2))
    assert {colour for _count, colour in inside.getcolors(maxcolors=1 << 24) or []} == {MASK_COLOR}
