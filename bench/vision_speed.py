"""Speed of the screen utilities a replay uses: template matching, anchor choice and OCR.

Usage::

    python bench/vision_speed.py                      # a synthetic 1280x720 UI screen
    python bench/vision_speed.py runs/RUN/step_*.png  # real screenshots (e.g. a run folder's)

For each screenshot, after one warm-up call, ``--repeats`` calls are timed and the median is
printed in milliseconds: ``find_image`` of a 96x64 crop at its own size and over the wide
scales (0.8-1.25), ``choose_anchor`` around a point (the crop grows until distinctive), and
OCR of the whole screen with rapidocr (its engine is built once; that time is printed apart).
Ratios to the single-scale template match are given because absolute times depend on the
machine and its load.

Text lookups (``find_text``, what a replay's ``click: {text: ...}`` costs) follow, each with its
ratio to one OCR pass over the whole screen by a separate engine with the settings lookups used
before (what every lookup paid before per-frame caching and ``near:`` regions): the first lookup on a
new frame (OCR cache emptied before each call), a second lookup on the same frame (cached), a
``near:`` lookup on a new frame (only the region around the point is read), and a single
symbol (``=``, which the line detector skips: the glyph fallback) on a new frame and on a frame
already read. The synthetic screen has a ``=`` key; pass ``--text``/``--near``/``--symbol``
for real screenshots.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from tools import vision  # noqa: E402

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def synthetic_screen() -> Image.Image:
    """A 1280x720 page: a header, a form with labels and fields, a list of similar rows."""
    screen = Image.new("RGB", (1280, 720), (238, 242, 248))
    draw = ImageDraw.Draw(screen)
    font = ImageFont.truetype(str(FONT), 17) if FONT.is_file() else ImageFont.load_default()
    draw.rectangle((0, 0, 1280, 64), fill=(23, 50, 92))
    draw.text((40, 20), "SkyPilot Flights", fill="white", font=font)
    for row, label in enumerate(("From", "To", "Date")):
        y = 100 + 56 * row
        draw.text((64, y + 8), label, fill="black", font=font)
        draw.rounded_rectangle((204, y, 524, y + 38), 6, fill="white", outline=(154, 165, 192), width=2)
    for row in range(4):
        y = 300 + 96 * row
        draw.rounded_rectangle((40, y, 1240, y + 84), 10, fill="white")
        times = f"0{6 + row}:{10 + 7 * row} - 1{row}:05    SP {176 + 19 * row}"
        draw.text((64, y + 30), times, fill="black", font=font)
        draw.rounded_rectangle((866, y + 15, 1016, y + 69), 8, outline=(47, 95, 208), width=2)
        draw.text((900, y + 30), f"Flex EUR {109 + 10 * row}", fill="black", font=font)
    keys = ImageFont.truetype(str(FONT), 24) if FONT.is_file() else font
    for column, key in enumerate(("+", "=")):  # rapidocr reads this lone "=" as "二": the glyph fallback finds it
        x = 1080 + 70 * column
        draw.rounded_rectangle((x, 110, x + 56, 166), 8, fill="white", outline=(154, 165, 192), width=2)
        draw.text((x + 28, 138), key, fill="black", font=keys, anchor="mm")
    return screen


def median_ms(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``call`` in milliseconds after one warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def fresh(call: Callable[[], object]) -> Callable[[], object]:
    """``call`` on a frame never read before: the OCR cache is emptied first."""

    def run() -> object:
        vision.clear_ocr_cache()
        return call()

    return run


def lookups(screen: Image.Image, repeats: int, text: str, near: tuple[int, int], symbol: str) -> dict[str, float]:
    """Median milliseconds of text lookups on ``screen`` (see the module docstring)."""
    from rapidocr import RapidOCR

    old = RapidOCR(params={"Global.log_level": "error", "Global.use_cls": False})
    times = max(1, repeats // 3)
    for query in (text, symbol):
        search = vision.locate_text(screen, query)
        found = "found" if search.best is not None and search.best.score >= 0.8 else "NOT FOUND"
        print(f"  {query!r}: {found} after {search.searched}")
    vision.clear_ocr_cache()
    vision.find_text(screen, text)
    return {
        "old: whole-screen OCR per lookup": median_ms(lambda: old(screen.convert("RGB")), times),
        "lookup, first on a frame": median_ms(fresh(lambda: vision.find_text(screen, text)), times),
        "lookup, same frame again": median_ms(lambda: vision.find_text(screen, text), repeats),
        "lookup with near:, first": median_ms(fresh(lambda: vision.find_text(screen, text, near=near)), times),
        f"symbol {symbol!r}, first on a frame": median_ms(fresh(lambda: vision.find_text(screen, symbol)), times),
        f"symbol {symbol!r}, frame read": median_ms(lambda: vision.find_text(screen, symbol), times),
    }


def bench(screen: Image.Image, repeats: int, ocr: bool) -> dict[str, float]:
    """Median milliseconds of each operation on ``screen``."""
    point = (screen.width * 3 // 10, screen.height // 4)
    box = vision.choose_anchor(screen, point).box
    crop = screen.crop((box[0], box[1], box[0] + box[2], box[1] + box[3]))
    small = screen.crop((point[0] - 48, point[1] - 32, point[0] + 48, point[1] + 32))
    results = {
        "find_image 96x64, scale 1": median_ms(lambda: vision.best_image_match(screen, small), repeats),
        "find_image 96x64, wide scales": median_ms(
            lambda: vision.best_image_match(screen, small, vision.WIDE_SCALES), repeats),
        f"find_image anchor {box[2]}x{box[3]}": median_ms(lambda: vision.best_image_match(screen, crop), repeats),
        "choose_anchor": median_ms(lambda: vision.choose_anchor(screen, point), max(1, repeats // 3)),
    }
    if ocr:
        results["ocr (whole screen)"] = median_ms(fresh(lambda: vision.ocr_lines(screen)), max(1, repeats // 3))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("screenshots", nargs="*", type=Path, help="PNG screenshots (default: a synthetic screen)")
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per operation (default 9)")
    parser.add_argument("--no-ocr", action="store_true", help="skip OCR (rapidocr not installed)")
    parser.add_argument("--text", default="Flex EUR 129", help="the text lookups' query (default: a list row)")
    parser.add_argument("--near", default="940,525", help="x,y of the near: lookup (default: that row)")
    parser.add_argument("--symbol", default="=", help="the single-symbol lookup's query (default '=')")
    args = parser.parse_args()
    ocr = not args.no_ocr
    if ocr:
        started = time.perf_counter()
        vision._ocr_engine()
        print(f"rapidocr engine built in {(time.perf_counter() - started) * 1000:.0f} ms")
    screens = [(p.name, Image.open(p).convert("RGB")) for p in args.screenshots] or [("synthetic", synthetic_screen())]
    for name, screen in screens:
        results = bench(screen, args.repeats, ocr)
        base = results["find_image 96x64, scale 1"]
        print(f"\n{name} ({screen.width}x{screen.height})")
        for label, ms in results.items():
            print(f"  {label:<34} {ms:8.1f} ms   x{ms / base:6.1f}")
        if ocr:
            x, y = (int(v) for v in args.near.split(","))
            found = lookups(screen, args.repeats, args.text, (x, y), args.symbol)
            old = found["old: whole-screen OCR per lookup"]
            print(f"  text lookups ({args.text!r}; ratio to the old per-lookup OCR)")
            for label, ms in found.items():
                print(f"  {label:<34} {ms:8.1f} ms   x{ms / old:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
