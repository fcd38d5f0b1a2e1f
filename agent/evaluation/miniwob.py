"""MiniWoB++ tasks as episodes, using the task pages shipped in the ``miniwob`` package.

A task page (``miniwob/html/miniwob/TASK.html``) opens by file URL in the browser executor.
:func:`start_episode` then runs the protocol the package's own Selenium driver uses:
``core.endEpisode(0)``, ``Math.seedrandom(seed)``, ``core.setDataMode("train")``, the episode
timer ``core.EPISODE_MAX_TIME`` (milliseconds; 10 s by default, lengthened here for slow models),
``core.startEpisodeReal()``, and a wait for ``WOB_TASK_READY``. The instruction is
``core.getUtterance()``. The outcome is read from the page globals ``WOB_DONE_GLOBAL``,
``WOB_REWARD_GLOBAL`` (time-scaled), ``WOB_RAW_REWARD_GLOBAL`` and ``WOB_REWARD_REASON``
(names as in ``miniwob/html/core/core.js``).

The episode's ``reward`` is the *raw* reward (no time penalty: the timer is stretched for slow
models, which would make the time-scaled one meaningless); the time-scaled reward is kept in
``checks.json``. Success means the page reported done with a raw reward above 0. The run ends
when the model terminates or, checked after every step, when the page reports done.

Tasks live in the top-left 160x210 CSS pixels. :class:`CroppedExecutor` optionally shows the
model only that region, enlarged ``zoom`` times, and maps actions back to the viewport.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from screenpilot.agent.actions import Action, Point, Scroll, map_points
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.frame import Frame
from screenpilot.agent.run.loop import Agent, EndCondition, LoopLimits, Observer, RunResult, RunStatus, StepRecord
from screenpilot.agent.run.runner import build_prompt_format
from screenpilot.agent.run.settings import BrowserTarget
from screenpilot.agent.run.trajectory import TrajectoryWriter
from screenpilot.agent.scenario.runner import (
    EpisodeOptions,
    EpisodeResult,
    build_episode_model,
    deadline,
    episode_stats,
    first_of,
    make_run_dir,
    unattended_policy,
    write_checks,
)
from screenpilot.tools.base import Executor, ShowsPage
from screenpilot.tools.web import DEFAULT_VIEWPORT

if TYPE_CHECKING:
    from playwright.sync_api import Page

SUITE_PREFIX = "miniwob:"
TASK_REGION_VIEWPORT_PX: tuple[int, int, int, int] = (0, 0, 160, 210)
"""Where every MiniWoB++ task is drawn: left, top, width, height in CSS pixels of the viewport."""

INSTALL_HINT = "install the MiniWoB++ task pages with: pip install miniwob"
READY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class MiniWobOptions:
    """``episode_s``: the page's episode timer and the run's time limit, in seconds.
    ``max_steps``: model calls at most. ``zoom``: show the model only the task region, enlarged
    this many times (None: the whole viewport). ``viewport``: browser size in CSS pixels."""

    episode_s: float = 300.0
    max_steps: int = 15
    zoom: int | None = None
    viewport: tuple[int, int] = DEFAULT_VIEWPORT


@dataclass(frozen=True)
class MiniWobOutcome:
    """The page's verdict: ``done``, ``reward`` (time-scaled), ``raw_reward`` and ``reason``."""

    done: bool
    reward: float
    raw_reward: float
    reason: str | None


# --- task pages ----------------------------------------------------------------------------------


def task_pages_dir() -> Path:
    """The folder of task pages in the installed ``miniwob`` package; ConfigError when absent."""
    try:
        import miniwob
    except ImportError:
        raise ConfigError(f"the miniwob package is not installed; {INSTALL_HINT}") from None
    folder = Path(miniwob.__file__).resolve().parent / "html" / "miniwob"
    if not folder.is_dir():
        raise ConfigError(f"the installed miniwob package has no task pages at {folder}; {INSTALL_HINT}")
    return folder


def available_tasks() -> list[str]:
    """Every MiniWoB++ task name (the page file names without .html), sorted."""
    return sorted(p.stem for p in task_pages_dir().glob("*.html"))


def task_url(task: str) -> str:
    """The file:// URL of ``task``'s page; ConfigError (with close matches) for an unknown task."""
    page = task_pages_dir() / f"{task}.html"
    if not page.is_file():
        close = difflib.get_close_matches(task, available_tasks(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see miniwob:all for the list"
        raise ConfigError(f"unknown MiniWoB++ task {task!r}{hint}")
    return page.as_uri()


def parse_suite(suite: str) -> list[str]:
    """Task names of ``miniwob:TASK[,TASK...]`` or ``miniwob:all``; ConfigError when malformed."""
    if not suite.startswith(SUITE_PREFIX):
        raise ConfigError(f"a MiniWoB++ suite starts with {SUITE_PREFIX!r}, got {suite!r}")
    names = [n.strip() for n in suite[len(SUITE_PREFIX):].split(",") if n.strip()]
    if not names:
        raise ConfigError(f"{suite!r} names no task; use e.g. miniwob:click-button,enter-text or miniwob:all")
    if names == ["all"]:
        return available_tasks()
    for name in names:
        task_url(name)
    return names


# --- the page protocol ---------------------------------------------------------------------------


def start_episode(page: Any, seed: int | None, episode_s: float, timeout_s: float = READY_TIMEOUT_S) -> str:
    """Start a fresh episode on the loaded task ``page`` and return its instruction.

    ``seed`` (None: unseeded) makes the generated problem repeatable; ``episode_s`` sets the
    page's timer. Raises ConfigError when the page is not a MiniWoB++ task.
    """
    timeout_ms = timeout_s * 1000
    try:
        page.wait_for_function("() => document.readyState === 'complete' && typeof core !== 'undefined'",
                               timeout=timeout_ms)
    except Exception as exc:
        raise ConfigError(f"{page.url} does not look like a MiniWoB++ task page: {exc}") from None
    page.evaluate("() => core.endEpisode(0)")
    if seed is not None:
        page.evaluate("(seed) => Math.seedrandom(seed)", seed)
    page.evaluate("() => core.setDataMode('train')")
    page.evaluate("(ms) => { core.EPISODE_MAX_TIME = ms; }", int(episode_s * 1000))
    page.evaluate("() => core.startEpisodeReal()")
    page.wait_for_function("() => WOB_TASK_READY === true", timeout=timeout_ms)
    return str(page.evaluate("() => core.getUtterance()"))


def read_outcome(page: Any) -> MiniWobOutcome:
    """The page's current verdict (reward values are meaningful once ``done``)."""
    data = page.evaluate(
        "() => ({done: WOB_DONE_GLOBAL, reward: WOB_REWARD_GLOBAL, raw: WOB_RAW_REWARD_GLOBAL,"
        " reason: WOB_REWARD_REASON})")
    reason = data.get("reason")
    return MiniWobOutcome(bool(data.get("done")), float(data.get("reward") or 0.0), float(data.get("raw") or 0.0),
                          None if reason is None else str(reason))


def done_condition(page: Any) -> EndCondition:
    """End the run once the page reports the episode done (success when the raw reward > 0)."""

    def end(step: StepRecord) -> RunResult | None:
        outcome = read_outcome(page)
        if not outcome.done:
            return None
        status: RunStatus = "success" if outcome.raw_reward > 0 else "failure"
        why = f" ({outcome.reason})" if outcome.reason else ""
        return RunResult(status, "env_done", step.index, message=f"MiniWoB++ raw reward {outcome.raw_reward:g}{why}")

    return end


# --- cropping ------------------------------------------------------------------------------------


class CroppedExecutor:
    """Shows only ``region_viewport_px`` (left, top, width, height) of ``inner``'s screen,
    enlarged ``zoom`` times; actions come in crop pixels and are mapped back to the viewport.

    ``crop_to_viewport`` maps one crop-space point: ``x_viewport = left + x_crop // zoom``.
    Scroll amounts are divided by ``zoom`` (at least one pixel). ``page`` is the inner page.
    """

    def __init__(self, inner: Executor, region_viewport_px: tuple[int, int, int, int], zoom: int) -> None:
        if zoom < 1:
            raise ConfigError(f"zoom must be at least 1, got {zoom}")
        self.inner = inner
        self.kind = inner.kind
        self.region_viewport_px = region_viewport_px
        self.zoom = zoom

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the cropped, zoomed screenshots, in crop pixels."""
        return self.region_viewport_px[2] * self.zoom, self.region_viewport_px[3] * self.zoom

    @property
    def page(self) -> Page:
        """The inner executor's page (for checks); ConfigError when it shows none."""
        if not isinstance(self.inner, ShowsPage):
            raise ConfigError(f"the {self.inner.kind} executor shows no page to crop")
        return self.inner.page

    def crop_to_viewport(self, crop_point: Point) -> Point:
        """A crop-space point in viewport pixels (clamped into the region)."""
        left, top, width, height = self.region_viewport_px
        x = min(max(crop_point.x // self.zoom, 0), width - 1)
        y = min(max(crop_point.y // self.zoom, 0), height - 1)
        return Point(left + x, top + y)

    def screenshot(self) -> Frame:
        """The inner screenshot cropped to the region and enlarged (nearest neighbour)."""
        frame = self.inner.screenshot()
        left, top, width, height = self.region_viewport_px
        image = frame.image.crop((left, top, left + width, top + height)).resize(self.size, Image.Resampling.NEAREST)
        extra = {**frame.extra, "crop_viewport_px": list(self.region_viewport_px), "zoom": self.zoom}
        return Frame(image, frame.taken_at, frame.capture_s, frame.url, frame.title, extra)

    def execute(self, action: Action) -> None:
        """Carry out a crop-space ``action`` on the inner executor."""
        viewport_action = map_points(action, self.crop_to_viewport)
        if isinstance(viewport_action, Scroll):
            viewport_action = Scroll(_shrink(viewport_action.dy, self.zoom), _shrink(viewport_action.dx, self.zoom),
                                     viewport_action.at)
        self.inner.execute(viewport_action)

    def settle(self) -> float:
        """The inner executor's settle time, in seconds."""
        return self.inner.settle()

    def describe(self) -> dict[str, object]:
        """The inner description plus the crop."""
        return {**self.inner.describe(), "crop_viewport_px": list(self.region_viewport_px), "zoom": self.zoom}

    def close(self) -> None:
        """Close the inner executor."""
        self.inner.close()


def _shrink(amount: int, zoom: int) -> int:
    if amount == 0:
        return 0
    scaled = int(amount / zoom)
    return scaled if scaled else (1 if amount > 0 else -1)


# --- the episode ---------------------------------------------------------------------------------


def run_miniwob_episode(
    task: str,
    options: EpisodeOptions,
    miniwob: MiniWobOptions | None = None,
    observers: Sequence[Observer] = (),
) -> EpisodeResult:
    """Run one MiniWoB++ episode of ``task`` with ``options.seed`` and return its result.

    ``options.model`` is required (MiniWoB++ tasks have no scripted replies of their own; a
    ``scripted:PATH`` model is fine). Raises ConfigError when the episode cannot start.
    """
    from screenpilot.agent.run.runner import open_executor

    mw = miniwob or MiniWobOptions()
    if options.model is None:
        raise ConfigError("MiniWoB++ episodes need a model: give --model (scripted:REPLIES.json works too)")
    url = task_url(task)
    started = time.monotonic()
    model = build_episode_model(options.model, None, task)
    try:
        run_dir = make_run_dir(options, f"{task}-s{options.seed}")
        target = BrowserTarget(url=url, viewport=mw.viewport, headed=options.headed,
                               executable_path=options.executable_path)
        with open_executor(target, unattended_policy(url, "browser")) as browser:
            if not isinstance(browser, ShowsPage):
                raise ConfigError("the browser executor does not show its page; MiniWoB++ needs it")
            page = browser.page
            instruction = start_episode(page, options.seed, mw.episode_s)
            executor: Executor = CroppedExecutor(browser, TASK_REGION_VIEWPORT_PX, mw.zoom) if mw.zoom else browser
            prompt = build_prompt_format(options.prompt, "browser", options.model.spec if options.model else None,
                                         browser_actions=False, ask_user=False)
            metadata = {"model": model.describe(), "prompt_format": prompt.describe() if hasattr(prompt, "describe")
                        else {"name": prompt.name},
                        "resize": {"min_pixels": prompt.min_pixels, "max_pixels": prompt.max_pixels},
                        "executor": executor.describe(), "limits": {"max_steps": mw.max_steps,
                                                                    "time_limit_s": mw.episode_s},
                        "miniwob": {"task": task, "seed": options.seed, "zoom": mw.zoom, "url": url,
                                    "task_region_viewport_px": list(TASK_REGION_VIEWPORT_PX)}}
            agent = Agent(model=model, prompt=prompt, executor=executor,
                          observers=[TrajectoryWriter(run_dir, metadata), *observers],
                          policy=unattended_policy(url, "browser"), limits=LoopLimits(max_steps=mw.max_steps),
                          end_when=first_of(done_condition(page), deadline(mw.episode_s)))
            result = agent.run(instruction)
            outcome = read_outcome(page)
    finally:
        model.close()
    return _miniwob_result(task, options.seed, result, outcome, run_dir, time.monotonic() - started)


def _miniwob_result(task: str, seed: int | None, result: RunResult, outcome: MiniWobOutcome, run_dir: Path,
                    wall_s: float) -> EpisodeResult:
    from screenpilot.agent.scenario.checks import CheckResult

    success = outcome.done and outcome.raw_reward > 0
    status = "error" if result.status == "error" else ("success" if success else "failure")
    detail = (f"raw reward {outcome.raw_reward:g}, time-scaled {outcome.reward:.3f}" if outcome.done
              else "the page did not report the episode done")
    if outcome.reason:
        detail += f" ({outcome.reason})"
    check = CheckResult("miniwob reward", "miniwob", success, detail)
    failure = None
    if not success:
        failure = check.failure_message()
        if result.reason != "env_done":
            failure += f"; the run ended with {result.status} ({result.reason})" + (
                f": {result.message}" if result.message else "")
    timings, model_s, tokens = episode_stats(run_dir)
    episode = EpisodeResult(
        task=task, seed=seed, success=success, status=status, reason=result.reason, steps=result.steps,
        wall_s=wall_s, run_dir=run_dir, reward=outcome.raw_reward if outcome.done else 0.0, model_s=model_s,
        tokens=tokens, failure=failure, timings=timings, checks=(check,), answer=result.answer,
    )
    write_checks(run_dir, {"miniwob": {"task": task, "seed": seed, "done": outcome.done, "reward": outcome.reward,
                                       "raw_reward": outcome.raw_reward, "reason": outcome.reason},
                           "success": success, "status": status, "reason": result.reason, "failure": failure,
                           "checks": [check.to_json()]})
    return episode
