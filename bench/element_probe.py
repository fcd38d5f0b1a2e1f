"""What one element probe (:mod:`screenpilot.tools.web.element_probe`) costs, per page size.

Usage::

    python bench/element_probe.py                 # the demo sign-up page and generated pages of 200 and 2,000 rows
    python bench/element_probe.py --repeats 50

For each page, headless Chromium at 1280x720: after a click on a field, ``--repeats`` probes of each kind (after a
click, after typing, at an observation) are timed from Python (the bounded ``wait_for_function``, reading its value
and releasing the handle); the median and the 90th percentile are printed in milliseconds, next to a trivial
``page.evaluate("1")`` (the round trip alone) as the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from screenpilot.agent.actions import Click, Point, TypeText
from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings
from screenpilot.tools.web.element_probe import ElementProbe

ROOT = Path(__file__).resolve().parents[1]


def _rows_page(folder: Path, rows: int) -> Path:
    """A page with a text field and a table of ``rows`` rows of four text cells."""
    body = "".join(f"<tr><td>row {i}</td><td>item {i * 7}</td><td>{i % 13} pcs</td><td>note {i}</td></tr>"
                   for i in range(rows))
    page = folder / f"rows_{rows}.html"
    page.write_text(f"<!doctype html><html><body><input id='q' style='position:absolute;left:10px;top:10px'>"
                    f"<table style='margin-top:60px'>{body}</table></body></html>", encoding="utf-8")
    return page


def _time_ms(probe: ElementProbe, browser: BrowserExecutor, kind: str, repeats: int) -> list[float]:
    page = browser.page
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        if kind == "baseline":
            page.evaluate("1")
            times.append((time.perf_counter() - start) * 1000)
            continue
        if kind == "observe":
            probe.observe(page, [])
        elif kind == "click":
            probe.after_action(page, Click(Point(60, 20)), None, [])
        else:
            probe.after_action(page, TypeText("x"), None, [])
        times.append((time.perf_counter() - start) * 1000)
        if not probe.take():
            raise SystemExit(f"the {kind} probe gave no answer")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        pages = [ROOT / "scenarios" / "demo" / "signup.html", _rows_page(Path(folder), 200),
                 _rows_page(Path(folder), 2000)]
        print(f"{'page':<16} {'probe':<8} {'median ms':>10} {'p90 ms':>8}")
        for page in pages:
            with BrowserExecutor(BrowserSettings(start_url=page.as_uri())) as browser:
                browser.execute(Click(Point(60, 20)))
                probe = ElementProbe()
                for kind in ("baseline", "click", "type", "observe"):
                    times = sorted(_time_ms(probe, browser, kind, args.repeats))
                    p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
                    print(f"{page.name:<16} {kind:<8} {statistics.median(times):>10.2f} {p90:>8.2f}")


if __name__ == "__main__":
    main()
