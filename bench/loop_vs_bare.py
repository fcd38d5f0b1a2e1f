"""A step outside the model: screenpilot's whole loop against a bare Playwright loop, side by side.

Usage::

    python bench/loop_vs_bare.py                    # 5 interleaved rounds, 8 steps per action type
    python bench/loop_vs_bare.py --rounds 9 --steps 10 --json out.json
    python bench/loop_vs_bare.py --with-browser-use # also browser-use's loop, from a venv that has it (below)
    python bench/loop_vs_bare.py --desktop          # also the desktop: the Tk test app on Xvfb vs mss + XTEST

Both loops run in the same process on the same local page (``bench_page.html``, written to a temporary folder:
a button, a text field and a long page) in headless Chromium at 1280x720, round after round, interleaved, so
machine load hits both alike. Each round launches a fresh browser for each loop (screenpilot's session has its
own; the bare loop gets one too, so neither runs on a browser the other warmed up), and the first ``--warmup``
clicks of a round (default 3) are not measured in either loop: a just-launched Chromium takes 2-4x as long for
its first few captures. ``--warmup 0`` measures the cold start. One step is everything between two model calls:

* **screenpilot**: a session (``screenpilot.browser``) runs a task with a scripted model that answers at once
  (Qwen2.5-VL ``computer_use`` replies): capture, resize to model space, prompt, parse, safety gate, execute,
  settle, record (PNG and ``steps.jsonl``). A step's time is from its start to the next step's start, minus the
  model call; ``terminate`` is from its start to the end of the run call. Steps of a round are read from the
  session's ``steps.jsonl`` (``started_at``, ``timings.model``).
* **bare**: ``page.screenshot()`` (PNG) and one Playwright action by coordinates, nothing else: no waiting, no
  recording. ``terminate`` is a screenshot alone.

Per action type (``click`` on a button that does not redraw, ``type`` of 12 characters into the focused field,
``scroll`` of one page, ``terminate``) it prints the medians in milliseconds and ``ratio_vs_bare``. It also types
10,000 characters in one step and prints how long that step took, and clicks an animated button (a 300 ms CSS
transition and a 300 ms ``requestAnimationFrame`` animation, each on its own element, which stays on the screen:
motion off the screen changes no pixel, so a pixel comparison rightly calls it settled; ``--animated`` times each)
through the executor, printing whether every settle returned after the animation had ended (it must: 100 %).

``--with-browser-use`` adds a third loop to every round: browser-use's own agent with a scripted chat model that
answers at once (``bench/browser_use_round.py``, run in a subprocess by an interpreter that imports browser-use:
``--browser-use-python``, else ``.cache/bu/bin/python``, else this one). browser-use is not a dependency; install it
into a separate venv: ``python -m venv .cache/bu && .cache/bu/bin/pip install browser-use`` (0.13.14 when this was
written). Without one the script says it is not installed and measures the other two. Run on an otherwise idle
machine for absolute numbers; the ratios hold up better under load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from screenpilot.models.resize import model_size_for, screen_to_model  # noqa: E402

VIEWPORT = (1280, 720)
BUTTONS = ((200, 100), (350, 100))
"""Two pads that never redraw: clicks alternate between them (the same click on an unchanged screen again and
again would measure the loop detector's second capture instead)."""
FIELD = (200, 200)
ANIMATE_CSS = (600, 100)
ANIMATE_RAF = (900, 100)
SCROLL_AT = (640, 500)
TYPED = "hello world!"
LONG_TYPE = 10_000
ACTIONS = ("click", "type", "scroll", "terminate")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>bench</title>
<style>
  body { margin: 0; font: 16px sans-serif; }
  button, input, textarea { position: absolute; }
  #pad { left: 150px; top: 80px; width: 100px; height: 40px; }
  #pad2 { left: 300px; top: 80px; width: 100px; height: 40px; }
  #field { left: 100px; top: 185px; width: 300px; height: 30px; }
  #long { left: 450px; top: 185px; width: 300px; height: 60px; }
  #css { left: 550px; top: 80px; width: 100px; height: 40px; }
  #raf { left: 850px; top: 80px; width: 100px; height: 40px; }
  #box { position: absolute; left: 100px; top: 300px; width: 80px; height: 80px; background: #36c;
         transition: left 300ms linear; }
  #box.moved { left: 600px; }
  #glider { position: absolute; left: 100px; top: 400px; width: 80px; height: 80px; background: #c63; }
  .band { height: 200px; border-bottom: 1px solid #888; }
</style></head>
<body>
<button id="pad">pad</button><button id="pad2">pad 2</button><input id="field"><textarea id="long"></textarea>
<button id="css">css</button><button id="raf">raf</button><div id="box"></div><div id="glider"></div>
<div style="height: 420px"></div>
<script>
  for (let i = 0; i < 40; i++) { const d = document.createElement("div"); d.className = "band";
    d.textContent = "band " + i; document.body.appendChild(d); }
  window.done = true;
  const box = document.getElementById("box");
  document.getElementById("css").onclick = () => {
    window.done = false; box.classList.toggle("moved"); };
  box.addEventListener("transitionend", () => { window.done = true; });
  const glider = document.getElementById("glider");
  let right = true;  // the glider goes 200 px right, then back: it stays on the screen
  document.getElementById("raf").onclick = () => {
    window.done = false; const start = performance.now(); const from = glider.offsetLeft;
    const by = right ? 200 : -200; right = !right;
    const step = (now) => { const t = Math.min(1, (now - start) / 300);
      glider.style.left = (from + t * by) + "px"; if (t < 1) requestAnimationFrame(step); else window.done = true; };
    requestAnimationFrame(step); };
</script></body></html>
"""


def model_point(point: tuple[int, int]) -> list[int]:
    """``point`` (screen pixels) in the model space screenpilot's default Qwen2.5-VL prompt uses."""
    from screenpilot.agent.actions import Point

    size = model_size_for(VIEWPORT)
    at = screen_to_model(Point(*point), VIEWPORT, size)
    return [at.x, at.y]


def reply(action: str, **arguments: object) -> str:
    """A Qwen2.5-VL ``computer_use`` tool call."""
    call = {"name": "computer_use", "arguments": {"action": action, **arguments}}
    return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"


def round_plan(steps: int, warmup: int) -> list[tuple[str | None, str]]:
    """(action type measured or None for an unmeasured set-up step, reply) for one round: ``warmup`` clicks first."""
    plan: list[tuple[str | None, str]] = [(None if i < warmup else "click",
                                           reply("left_click", coordinate=model_point(BUTTONS[i % 2])))
                                          for i in range(warmup + steps)]
    plan.append((None, reply("left_click", coordinate=model_point(FIELD))))
    plan += [("type", reply("type", text=TYPED)) for _ in range(steps)]
    plan += [("scroll", reply("scroll", coordinate=model_point(SCROLL_AT), pixels=-VIEWPORT[1]))
             for _ in range(steps)]
    plan.append(("terminate", reply("terminate", status="success")))
    return plan


def screenpilot_round(url: str, steps: int, warmup: int, work: Path) -> dict[str, list[float]]:
    """Milliseconds per measured step of one screenpilot round, by action type."""
    import screenpilot
    from screenpilot.agent.run.trajectory import read_steps

    plan = round_plan(steps, warmup)
    replies = work / f"replies-{time.monotonic_ns()}.json"
    replies.write_text(json.dumps([text for _, text in plan]))
    with screenpilot.browser(url, model=f"scripted:{replies}", out=work / "runs", quiet=True,
                             max_steps=len(plan) + 1) as session:
        session.run("bench")
        ended = time.time()
        recorded = read_steps(session.run_dir)
    times: dict[str, list[float]] = {name: [] for name in ACTIONS}
    starts = [s.started_at for s in recorded] + [ended]
    for (kind, _), step, next_start in zip(plan, recorded, starts[1:], strict=True):
        if kind is not None:
            times[kind].append((next_start - step.started_at - (step.timings.model or 0.0)) * 1000)
    return times


def bare_round(page: Any, steps: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds per step of one bare Playwright round: a PNG screenshot and one action (``warmup`` unmeasured
    clicks first)."""
    times: dict[str, list[float]] = {name: [] for name in ACTIONS}

    def step(kind: str | None, action: Callable[[], object]) -> None:
        start = time.perf_counter()
        page.screenshot(type="png")
        action()
        if kind is not None:
            times[kind].append((time.perf_counter() - start) * 1000)

    page.evaluate("window.scrollTo(0, 0)")
    for i in range(warmup + steps):
        target = BUTTONS[i % 2]
        step(None if i < warmup else "click", lambda: page.mouse.click(*target))  # noqa: B023 - called at once
    step(None, lambda: page.mouse.click(*FIELD))
    for _ in range(steps):
        step("type", lambda: page.keyboard.type(TYPED))
    for _ in range(steps):
        step("scroll", lambda: page.mouse.wheel(0, VIEWPORT[1]))
    step("terminate", lambda: None)
    return times


def long_type_s(url: str, work: Path) -> float:
    """Seconds of the screenpilot step that types :data:`LONG_TYPE` characters into a textarea."""
    import screenpilot
    from screenpilot.agent.run.trajectory import read_steps

    replies = work / "long.json"
    replies.write_text(json.dumps([reply("left_click", coordinate=model_point((600, 215))),
                                   reply("type", text="x" * LONG_TYPE), reply("terminate", status="success")]))
    with screenpilot.browser(url, model=f"scripted:{replies}", out=work / "runs", quiet=True) as session:
        session.run("long")
        steps = read_steps(session.run_dir)
        typed = session.page.evaluate("document.getElementById('long').value.length")
    if typed != LONG_TYPE:
        raise SystemExit(f"the long type arrived as {typed} characters, not {LONG_TYPE}")
    return steps[2].started_at - steps[1].started_at - (steps[1].timings.model or 0.0)


def animated(url: str, repeats: int) -> dict[str, tuple[int, int, float]]:
    """Per animation kind: (settles that returned after the animation ended, repeats, median settle ms)."""
    from screenpilot.agent.actions import Click, Point
    from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

    results: dict[str, tuple[int, int, float]] = {}
    with BrowserExecutor(BrowserSettings(start_url=url, viewport=VIEWPORT)) as browser:
        for kind, button in (("css transition", ANIMATE_CSS), ("js animation", ANIMATE_RAF)):
            done, settles = 0, []
            for _ in range(repeats):
                browser.execute(Click(Point(*button)))
                settles.append(browser.settle() * 1000)
                done += browser.page.evaluate("window.done") is True
                browser.page.wait_for_function("window.done === true")
            results[kind] = (done, repeats, statistics.median(settles))
    return results


TK_APP = ROOT / "tests" / "tools" / "apps" / "tk_app.py"
DESKTOP_PADS = ((250, 60), (350, 60))
"""Two points on the Tk test app's pad, which takes clicks and never redraws."""


def desktop_rounds(rounds: int, steps: int, work: Path) -> tuple[list[float], list[float], list[float]]:
    """Milliseconds per click step on the Tk test app on a private Xvfb: (screenpilot's loop, of that its settle,
    a bare loop of an mss grab and one XTEST click), interleaved round by round on the same display."""
    import mss
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xtest

    import screenpilot
    from screenpilot.agent.run.trajectory import read_steps

    size = (1280, 720)
    plan = [reply("left_click", coordinate=list(screen_to_model_xy(DESKTOP_PADS[i % 2], size))) for i in range(steps)]
    replies = work / "desktop.json"
    replies.write_text(json.dumps([*plan, reply("terminate", status="success")] * rounds))
    ours: list[float] = []
    settles: list[float] = []
    bare: list[float] = []
    launch = [f"{sys.executable} {TK_APP} {work / 'tk_state.json'}"]
    with screenpilot.desktop(virtual_display="1280x720", launch=launch, model=f"scripted:{replies}",
                             out=work / "runs", quiet=True) as session:
        time.sleep(1.0)  # the app's first paint
        display = Display(session.executor.display)  # type: ignore[attr-defined]
        grabber = getattr(mss, "MSS", mss.mss)(display=session.executor.display)  # type: ignore[attr-defined]
        box = {"left": 0, "top": 0, "width": size[0], "height": size[1]}
        for _ in range(rounds):
            first = session.steps
            session.run("desktop bench")
            ended = time.time()
            recorded = read_steps(session.run_dir)[first:]
            starts = [s.started_at for s in recorded] + [ended]
            ours += [(starts[i + 1] - step.started_at - (step.timings.model or 0.0)) * 1000
                     for i, step in enumerate(recorded[:-1])]
            settles += [(step.timings.settle or 0.0) * 1000 for step in recorded[:-1]]
            for i in range(steps):
                x, y = DESKTOP_PADS[i % 2]
                start = time.perf_counter()
                grabber.grab(box)
                xtest.fake_input(display, X.MotionNotify, x=x, y=y)
                xtest.fake_input(display, X.ButtonPress, 1)
                xtest.fake_input(display, X.ButtonRelease, 1)
                display.sync()
                bare.append((time.perf_counter() - start) * 1000)
        grabber.close()
        display.close()
    return ours, settles, bare


def screen_to_model_xy(point: tuple[int, int], screen: tuple[int, int]) -> tuple[int, int]:
    from screenpilot.agent.actions import Point

    at = screen_to_model(Point(*point), screen, model_size_for(screen))
    return at.x, at.y


def browser_use_python(given: Path | None) -> str | None:
    """An interpreter that imports browser-use: ``given``, else ``.cache/bu/bin/python``, else this one; None when
    none does."""
    candidates = [given] if given is not None else [ROOT / ".cache" / "bu" / "bin" / "python", Path(sys.executable)]
    for python in candidates:
        if python.exists() and subprocess.run([str(python), "-c", "import browser_use"],
                                              capture_output=True).returncode == 0:
            return str(python)
    return None


def browser_use_round(python: str, page: Path, chromium: str, steps: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds per measured step of one browser-use round (``bench/browser_use_round.py`` under ``python``)."""
    done = subprocess.run([python, str(ROOT / "bench" / "browser_use_round.py"), str(page), chromium, str(steps),
                           str(warmup)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"the browser-use round failed:\n{done.stderr[-2000:]}")
    times: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


Times = dict[str, list[float]]
"""Milliseconds per measured step, by action type."""


def browser_rounds(args: argparse.Namespace, page_file: Path, bu_python: str | None) -> tuple[Times, Times, Times]:
    """``args.rounds`` interleaved rounds of screenpilot, the bare loop and (with ``bu_python``) browser-use."""
    # One Playwright driver per thread (sync Playwright cannot nest): the bare loop borrows screenpilot's.
    from screenpilot.tools.web.session import _acquire_playwright, _release_playwright, chromium_args, find_chromium

    url, work = page_file.as_uri(), page_file.parent
    ours: Times = {name: [] for name in ACTIONS}
    bare: Times = {name: [] for name in ACTIONS}
    theirs_bu: Times = {name: [] for name in ACTIONS}
    playwright = _acquire_playwright()
    try:
        executable = find_chromium(None, playwright.chromium.executable_path)
        for number in range(1, args.rounds + 1):
            for kind, values in screenpilot_round(url, args.steps, args.warmup, work).items():
                ours[kind] += values
            # A fresh browser per round, as screenpilot's session has: both loops start cold.
            browser = playwright.chromium.launch(executable_path=executable, args=chromium_args(()))
            try:
                page = browser.new_page(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]})
                page.goto(url)
                for kind, values in bare_round(page, args.steps, args.warmup).items():
                    bare[kind] += values
            finally:
                browser.close()
            if bu_python is not None:
                for kind, values in browser_use_round(bu_python, page_file, executable, args.steps,
                                                      args.warmup).items():
                    theirs_bu[kind] += values
            print(f"round {number}/{args.rounds} done", file=sys.stderr)
    finally:
        _release_playwright()
    return ours, bare, theirs_bu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--steps", type=int, default=8, help="measured steps per action type and round (default 8)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="unmeasured clicks at the start of each round, in both loops (default 3)")
    parser.add_argument("--animated", type=int, default=10, help="settles per animation kind (default 10)")
    parser.add_argument("--with-browser-use", action="store_true", help="also browser-use, when importable")
    parser.add_argument("--browser-use-python", type=Path,
                        help="the interpreter of a venv with browser-use (default .cache/bu/bin/python)")
    parser.add_argument("--desktop", action="store_true", help="also the desktop (Tk app on Xvfb) against mss + XTEST")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="screenpilot-bench-") as tmp:
        work = Path(tmp)
        page_file = work / "bench_page.html"
        page_file.write_text(PAGE)
        url = page_file.as_uri()
        bu_python = browser_use_python(args.browser_use_python) if args.with_browser_use else None
        ours, bare, theirs_bu = browser_rounds(args, page_file, bu_python)
        long_s = long_type_s(url, work)
        animation = animated(url, args.animated)
        desktop = desktop_rounds(args.rounds, args.steps, work) if args.desktop else None

    load = os.getloadavg()
    print(f"one step outside the model, ms (medians of {args.rounds} rounds x {args.steps} steps after "
          f"{args.warmup} warm-up clicks; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores)")
    with_bu = bu_python is not None
    print(f"{'action':>10} {'screenpilot':>11} {'bare':>7} {'ratio_vs_bare':>13}"
          + (f" {'browser-use':>11} {'bu_vs_bare':>10}" if with_bu else ""))
    table: dict[str, dict[str, float]] = {}
    for kind in ACTIONS:
        mine, theirs = statistics.median(ours[kind]), statistics.median(bare[kind])
        table[kind] = {"screenpilot_ms": round(mine, 1), "bare_ms": round(theirs, 1),
                       "ratio_vs_bare": round(mine / theirs, 2)}
        row = f"{kind:>10} {mine:>11.0f} {theirs:>7.0f} {mine / theirs:>13.2f}"
        if with_bu:
            bu = statistics.median(theirs_bu[kind])
            table[kind] |= {"browser_use_ms": round(bu, 1), "browser_use_vs_bare": round(bu / theirs, 2)}
            row += f" {bu:>11.0f} {bu / theirs:>10.2f}"
        print(row)
    print(f"type of {LONG_TYPE:,} characters: {long_s:.2f} s for the whole step")
    for kind, (done, repeats, settle_ms) in animation.items():
        print(f"{kind}: settle returned after the animation ended {done}/{repeats} "
              f"({100 * done / repeats:.0f} %), median settle {settle_ms:.0f} ms")
    if desktop is not None:
        mine, settle, theirs = (statistics.median(values) for values in desktop)
        table["desktop click"] = {"screenpilot_ms": round(mine, 1), "settle_ms": round(settle, 1),
                                  "bare_ms": round(theirs, 1), "ratio_vs_bare": round(mine / theirs, 2)}
        print(f"desktop click (Tk app, Xvfb): screenpilot {mine:.0f} ms (settle {settle:.0f} ms: no drawing for "
              f"the quiet window after the click), bare mss + XTEST {theirs:.1f} ms (no waiting), "
              f"ratio_vs_bare {mine / theirs:.1f}")
    if args.with_browser_use and not with_bu:
        print("browser-use: not installed (see this script's docstring for the venv it runs from)")
    if args.json:
        args.json.write_text(json.dumps({"steps": table, "long_type_s": round(long_s, 3),
                                         "animated": {k: {"after_end": d, "repeats": r, "settle_ms": round(s, 1)}
                                                      for k, (d, r, s) in animation.items()},
                                         "load": load}, indent=2))


if __name__ == "__main__":
    main()
