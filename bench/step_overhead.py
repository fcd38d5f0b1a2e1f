"""Per-step time spent outside the model: capture, execute, settle, for the desktop and browser.

Usage::

    python bench/step_overhead.py                     # both executors, 7 repeats per case
    python bench/step_overhead.py --sides desktop --repeats 15 --json out.json

One step outside the model is: take a screenshot (``capture``), carry out an action
(``execute``), then wait until the screen is ready for the next screenshot (``settle``).
Two cases per executor, both on the test applications of the executor contract suite
(tests/tools/apps: the Tk app on a private Xvfb, the same page in headless Chromium):

- ``static``: a click on a widget that does not redraw, so the screen never changes;
- ``animated``: a click on "Animate", which redraws a 200x90 area for 300 ms.

The baseline is a fixed 2-second sleep after every action (the default of the Anthropic
computer-use demo and of OSWorld), i.e. ``capture + execute + 2 s``. The table prints medians
in milliseconds and ``fixed/ours``, the baseline's step time divided by ours. ``done`` says
whether the animation had finished when settle returned in every repeat (settle must not
return early). A second table gives the desktop typing speed of each typing backend (xtest,
xdotool, pyautogui) in ms per character, until TypeText returns and until the application
holds the text, and whether the text arrived exactly. Run it on an otherwise idle machine;
numbers on a shared machine vary by run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from screenpilot.agent.actions import Action, Click, Navigate, Point, PressKeys, TypeText  # noqa: E402
from screenpilot.tools.base import Executor  # noqa: E402

APPS = ROOT / "tests" / "tools" / "apps"
STATIC_TARGET = Point(250, 60)  # the red pad: handles clicks, never redraws
ANIMATE_BUTTON = Point(80, 100)
ENTRY = Point(100, 165)
ANIMATION_S = 0.3


@dataclass
class CaseResult:
    """Medians over the repeats, in milliseconds."""

    side: str
    case: str
    capture_ms: float
    execute_ms: float
    settle_ms: float
    ours_ms: float
    fixed_ms: float
    ratio: float
    animation_done: bool | None


State = Callable[[], dict[str, Any]]


@contextmanager
def desktop_side(size: tuple[int, int], state_dir: Path) -> Iterator[tuple[Executor, State]]:
    """The Tk test app on a private Xvfb; yields the executor and a reader of the app's state."""
    from screenpilot.tools.x11.desktop import DesktopSettings, open_desktop

    state_path = state_dir / "tk_state.json"
    launch = [[sys.executable, str(APPS / "tk_app.py"), str(state_path)]]
    with open_desktop(DesktopSettings(), virtual_display=size, launch=launch) as executor:

        def state() -> dict[str, Any]:
            for _ in range(50):
                try:
                    data = json.loads(state_path.read_text(encoding="utf-8"))
                    if isinstance(data, dict):
                        return data
                except (OSError, ValueError):
                    pass
                time.sleep(0.01)
            return {}

        deadline = time.monotonic() + 15
        while not state().get("ready") and time.monotonic() < deadline:
            time.sleep(0.05)
        yield executor, state


@contextmanager
def browser_side(size: tuple[int, int]) -> Iterator[tuple[Executor, State]]:
    """The contract page in headless Chromium; yields the executor and a reader of its state."""
    from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

    executor = BrowserExecutor(BrowserSettings(viewport=size))
    try:
        executor.execute(Navigate((APPS / "contract_page.html").as_uri()))
        executor.settle()

        def state() -> dict[str, Any]:
            return dict(executor.page.evaluate("window.__state"))

        yield executor, state
    finally:
        executor.close()


def run_case(
    executor: Executor, action: Action, repeats: int, animations: Callable[[], int] | None
) -> tuple[list[float], list[float], list[float], bool | None]:
    """Times ``repeats`` steps (after one warm-up); returns capture, execute, settle seconds."""
    captures: list[float] = []
    executes: list[float] = []
    settles: list[float] = []
    done = True if animations is not None else None
    executor.settle()
    for i in range(repeats + 1):
        time.sleep(0.2)  # let the previous step's effects end before timing this one
        before = animations() if animations is not None else 0
        t0 = time.perf_counter()
        executor.screenshot()
        t1 = time.perf_counter()
        executor.execute(action)
        t2 = time.perf_counter()
        executor.settle()
        t3 = time.perf_counter()
        if animations is not None and animations() != before + 1:
            done = False
        if i == 0:
            continue
        captures.append(t1 - t0)
        executes.append(t2 - t1)
        settles.append(t3 - t2)
    return captures, executes, settles, done


def summarise(side: str, case: str, timings: tuple[list[float], list[float], list[float], bool | None],
              fixed_delay_s: float) -> CaseResult:
    captures, executes, settles, done = timings
    capture, execute, settle = (statistics.median(v) * 1000 for v in (captures, executes, settles))
    ours = statistics.median(c + e + s for c, e, s in zip(captures, executes, settles, strict=True)) * 1000
    fixed = capture + execute + fixed_delay_s * 1000
    return CaseResult(side, case, round(capture, 1), round(execute, 1), round(settle, 1), round(ours, 1),
                      round(fixed, 1), round(fixed / ours, 1), done)


TYPING_TEXTS = {
    "ascii": "the quick brown fox jumps over the lazy dog",
    "unicode": "héllo <b> & 日本語のテキスト ÉΩЖ straße",
}


def typing_speeds(executor: Any, state: State, repeats: int = 3) -> list[dict[str, Any]]:
    """For each desktop typing backend and text: ms per character until TypeText returns
    (``send``) and until the Entry holds the text (``seen``), medians over ``repeats``."""
    from screenpilot.tools.x11.desktop import DesktopExecutor, DesktopSettings

    rows: list[dict[str, Any]] = []
    # xtest last: its spare-key bindings stay until close and would help xdotool find keys.
    for backend in ("xdotool", "pyautogui", "xtest"):
        settings = DesktopSettings(display=executor.display, xauthority=executor.xauthority, fail_safe=False,
                                   typing=backend)  # type: ignore[arg-type]
        typer = executor if backend == "xtest" else DesktopExecutor(settings)
        try:
            for name, text in TYPING_TEXTS.items():
                if backend == "pyautogui" and name == "unicode":
                    rows.append({"backend": backend, "text": name, "send": None, "seen": None, "exact": False})
                    continue
                sends, seens, exact = [], [], True
                for _ in range(repeats):
                    clear_entry(typer, state)
                    t0 = time.perf_counter()
                    typer.execute(TypeText(text))
                    t1 = time.perf_counter()
                    deadline = t1 + 10
                    while state().get("entry") != text and time.perf_counter() < deadline:
                        time.sleep(0.002)
                    exact = exact and state().get("entry") == text
                    sends.append((t1 - t0) / len(text))
                    seens.append((time.perf_counter() - t0) / len(text))
                rows.append({"backend": backend, "text": name, "send": round(statistics.median(sends) * 1000, 2),
                             "seen": round(statistics.median(seens) * 1000, 2), "exact": exact})
        finally:
            if typer is not executor:
                typer.close()
    return rows


def clear_entry(executor: Executor, state: State) -> None:
    """Focus the Entry and delete its text (Tk: ctrl+/ selects all, backspace deletes)."""
    executor.execute(Click(ENTRY))
    executor.execute(PressKeys(("ctrl", "/")))
    executor.execute(PressKeys(("backspace",)))
    deadline = time.monotonic() + 5
    while state().get("entry") and time.monotonic() < deadline:
        time.sleep(0.01)


def print_table(results: list[CaseResult], fixed_delay_s: float) -> None:
    header = f"{'side':8} {'case':9} {'capture':>8} {'execute':>8} {'settle':>8} {'ours':>8} " \
             f"{'fixed ' + format(fixed_delay_s, 'g') + 's':>9} {'fixed/ours':>10} {'done':>5}"
    print(header)
    print("-" * len(header))
    for r in results:
        done = "-" if r.animation_done is None else ("yes" if r.animation_done else "NO")
        print(f"{r.side:8} {r.case:9} {r.capture_ms:8.1f} {r.execute_ms:8.1f} {r.settle_ms:8.1f} "
              f"{r.ours_ms:8.1f} {r.fixed_ms:9.1f} {r.ratio:9.1f}x {done:>5}")
    print("(milliseconds, medians)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/step_overhead.py", description=__doc__.split("\n")[0])
    parser.add_argument("--sides", default="desktop,browser", help="comma-separated: desktop, browser")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", default="1280x720", help="screen / viewport WxH")
    parser.add_argument("--fixed-delay", type=float, default=2.0, help="the baseline's sleep after an action (s)")
    parser.add_argument("--no-typing", action="store_true", help="skip the desktop typing measurements")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    results: list[CaseResult] = []
    typing: list[dict[str, Any]] = []
    for side in [s.strip() for s in args.sides.split(",") if s.strip()]:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = desktop_side((width, height), Path(tmp)) if side == "desktop" else browser_side((width, height))
            with ctx as (executor, state):

                def animations() -> int:
                    return int(state().get("animations", -1))

                static = run_case(executor, Click(STATIC_TARGET), args.repeats, None)
                results.append(summarise(side, "static", static, args.fixed_delay))
                animated = run_case(executor, Click(ANIMATE_BUTTON), args.repeats, animations)
                results.append(summarise(side, "animated", animated, args.fixed_delay))
                if side == "desktop" and not args.no_typing:
                    typing = typing_speeds(executor, state)
    print_table(results, args.fixed_delay)
    if typing:
        print()
        print(f"{'typing':10} {'text':8} {'send ms/char':>12} {'seen ms/char':>12} {'exact':>6}")
        for row in typing:
            send = "-" if row["send"] is None else f"{row['send']:.2f}"
            seen = "-" if row["seen"] is None else f"{row['seen']:.2f}"
            print(f"{row['backend']:10} {row['text']:8} {send:>12} {seen:>12} {'yes' if row['exact'] else 'NO':>6}")
        print("(desktop TypeText; send: until the call returns; seen: until the Entry holds the text)")
    if args.json is not None:
        args.json.write_text(json.dumps({"results": [asdict(r) for r in results], "typing": typing}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
