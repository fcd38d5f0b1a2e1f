"""Replay a scenario's ``steps:`` script without a model, finding each target on the live screen.

The replay runs inside the normal loop (:class:`screenpilot.agent.run.loop.Agent`) as a model/prompt-format
pair, so its run folder is an ordinary one (``run.json``, ``steps.jsonl``, ``step_NNN.png``)
and policy, observers and budgets apply as for any run:

* :class:`ReplayFormat` is an identity prompt format: its "model space" *is* screen space
  (``model_size(screen) == screen``), so the image the replay receives is the screenshot at
  screen resolution and the actions it returns need no mapping.
* :class:`ReplayDriver` is the "model": each call plays the next script step. Pointer steps
  locate their target first (:func:`locate`: an image template, OCR'd text, a CSS selector or
  a fixed point) and act at the target plus its offset. Its reply text says how the target was
  found, followed by ``actions: [...]`` (the actions as :func:`screenpilot.agent.actions.to_json` objects).

When a target is not found, the driver waits ``look_again_s`` and looks again (``looks``
times), then either hands that one step to a *fallback model* (which gets the scenario's
instruction plus a note on the step's intent, through its normal prompt format, and whose
actions are mapped back to screen pixels) and carries on with the script, or stops the run:
the step's error is :class:`AnchorNotFound` and :meth:`ReplayDriver.end_condition` ends the
run with reason ``anchor_lost``. Either way ``replay.json`` in the run folder lists every
lookup (step, target, score, threshold, where it looked) and the lost anchor, and
``replay_lost_step_NNN.png`` shows the screen with the best candidate boxed in red and the
recorded position in blue.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from PIL import Image, ImageDraw

from screenpilot.agent.actions import (
    Action,
    Click,
    Drag,
    GoBack,
    MoveTo,
    Navigate,
    Point,
    PressKeys,
    Scroll,
    Terminate,
    TypeText,
    Wait,
    describe,
    from_json,
    to_json,
)
from screenpilot.agent.errors import ConfigError, ModelError, ReplyParseError, ScriptExhausted
from screenpilot.agent.run.loop import RunResult, StepRecord
from screenpilot.agent.scenario.spec import (
    BackStep,
    DragStep,
    ImageTarget,
    KeyStep,
    NavigateStep,
    PointerStep,
    PointTarget,
    ScriptAction,
    ScriptStep,
    ScrollStep,
    SelectorTarget,
    Target,
    TerminateStep,
    TextTarget,
    TypeStep,
    WaitStep,
)
from screenpilot.models.base import Message, ModelBackend, ModelReply, ModelRequest, PromptFormat, Turn, Usage
from screenpilot.models.resize import resize_image
from screenpilot.tools.vision import WIDE_SCALES, Match, best_image_match, locate_text

REPORT_FILE = "replay.json"
ACTIONS_PREFIX = "actions: "
_ACTIONS_LINE = re.compile(r"^actions: (.*)$", re.MULTILINE)


class AnchorNotFound(ModelError):
    """A replay step's target is not on the screen (above its threshold); ``report`` says which
    step, which anchor, the best score and where the replay looked."""

    def __init__(self, report: LostAnchor) -> None:
        super().__init__(report.message(), hint="the replay could not find this step's target on the screen")
        self.report = report


# --- the identity prompt format ------------------------------------------------------------------


class ReplayFormat:
    """A :class:`screenpilot.models.base.PromptFormat` whose model space is screen space.

    The request holds the task text and the screenshot at screen resolution; replies are
    parsed from their ``actions: [...]`` line (see :func:`reply_text`).
    """

    name = "replay"
    min_pixels = 1
    max_pixels = 1 << 31
    resize_factor = 1
    """Screen pixels are model pixels: no grid to snap to."""

    def model_size(self, screen_size: tuple[int, int]) -> tuple[int, int]:
        """The screen size itself (no resize)."""
        return screen_size

    def image_tokens(self, model_size: tuple[int, int]) -> int:
        """No model reads the image: 0 tokens."""
        return 0

    def build_request(
        self, task: str, history: Sequence[Turn], model_image: Image.Image, feedback: str | None
    ) -> ModelRequest:
        """The task (and feedback) with the screenshot; history is not needed by a script."""
        text = task if feedback is None else f"{task}\n\n{feedback}"
        messages: list[Message] = [{"role": "user", "content": [{"type": "text", "text": text},
                                                                  {"type": "image", "image": model_image}]}]
        return ModelRequest(messages, model_image.size, self.min_pixels, self.max_pixels)

    def parse(self, text: str, model_size: tuple[int, int]) -> list[Action]:
        """The actions of a replay reply; ReplyParseError when it has no valid actions line."""
        found = _ACTIONS_LINE.search(text)
        if found is None:
            raise ReplyParseError("the replay reply has no actions line", hint="internal: replay reply without actions")
        try:
            items = json.loads(found.group(1))
            return [from_json(item) for item in items]
        except (ValueError, TypeError) as exc:
            raise ReplyParseError(f"the replay reply's actions are unreadable: {exc}",
                                  hint="internal: unreadable replay actions") from None

    def to_screen(self, model_action: Action, model_size: tuple[int, int], screen_size: tuple[int, int]) -> Action:
        """Unchanged: model space is screen space."""
        return model_action

    def describe(self) -> dict[str, object]:
        """What run.json records."""
        return {"name": self.name, "space": "screen pixels"}


def reply_text(summary: str, actions: Sequence[Action]) -> str:
    """A replay reply: one line saying what happened, then ``actions: [...]`` (JSON)."""
    return f"{summary}\n{ACTIONS_PREFIX}{json.dumps([to_json(a) for a in actions], ensure_ascii=False)}"


# --- locating targets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """The result of looking for a target on one screenshot.

    ``point``: the action point (target centre plus offset, screen pixels) when found, else
    None. ``best``: the best candidate whatever its score (None: nothing to compare, e.g. no
    element, no text). ``threshold``: the score needed. ``searched``: where it looked, in words.
    ``problem``: why a candidate above the threshold was still refused (e.g. off the screen).
    """

    point: tuple[int, int] | None
    best: Match | None
    threshold: float
    searched: str
    ms: float = 0.0
    problem: str | None = None

    @property
    def found(self) -> bool:
        """Whether the action point is known."""
        return self.point is not None


def _offset_point(match: Match, offset: tuple[int, int], screen_size: tuple[int, int]) -> tuple[tuple[int, int] | None,
                                                                                                  str | None]:
    x = match.center[0] + round(offset[0] * match.scale)
    y = match.center[1] + round(offset[1] * match.scale)
    if 0 <= x < screen_size[0] and 0 <= y < screen_size[1]:
        return (x, y), None
    return None, f"the action point ({x}, {y}) falls off the {screen_size[0]}x{screen_size[1]} screen"


def _judge(best: Match | None, threshold: float, offset: tuple[int, int], screen_size: tuple[int, int],
           searched: str) -> Lookup:
    if best is None or best.score < threshold:
        return Lookup(None, best, threshold, searched)
    point, problem = _offset_point(best, offset, screen_size)
    return Lookup(point, best, threshold, searched, problem=problem)


def _locate_image(target: ImageTarget, screen: Image.Image, wide_scales: bool,
                  templates: dict[Path, Image.Image]) -> Lookup:
    template = load_template(target.path, templates)
    width, height = screen.size
    best = best_image_match(screen, template)
    searched = f"the whole {width}x{height} screen at the anchor's own size"
    if wide_scales and (best is None or best.score < target.threshold):
        wider = best_image_match(screen, template, WIDE_SCALES)
        searched += f", then at scales {min(WIDE_SCALES):g}-{max(WIDE_SCALES):g}"
        if wider is not None and (best is None or wider.score > best.score):
            best = wider
    return _judge(best, target.threshold, target.offset, screen.size, searched)


def _locate_text(target: TextTarget, screen: Image.Image) -> Lookup:
    """OCR lookup (:func:`locate_text`): the region around ``near`` first, the whole screen next, lone glyphs last;
    OCR results are cached per frame, so several lookups on one screenshot pay for one pass."""
    search = locate_text(screen, target.text, target.min_similarity, target.near)
    return _judge(search.best, target.min_similarity, target.offset, screen.size, search.searched)


_ELEMENT_BOX_JS = """(css) => {
  const el = document.querySelector(css);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const shown = r.width > 0 && r.height > 0 && style.visibility !== "hidden" && style.display !== "none";
  return {left: r.left, top: r.top, width: r.width, height: r.height, shown: shown};
}"""


def _locate_selector(target: SelectorTarget, screen: Image.Image, page: Any) -> Lookup:
    searched = f"the page's elements (document.querySelector({target.css!r}))"
    if page is None:
        return Lookup(None, None, 1.0, searched, problem="this executor has no page to query (selector targets "
                      "need a browser)")
    try:
        rect = page.evaluate(_ELEMENT_BOX_JS, target.css)
    except Exception as exc:  # Playwright raises its own Error type for a bad selector
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Lookup(None, None, 1.0, searched, problem=f"the selector could not be evaluated: {first}")
    if rect is None:
        return Lookup(None, None, 1.0, searched)
    box = (round(rect["left"]), round(rect["top"]), round(rect["width"]), round(rect["height"]))
    match = Match((box[0] + box[2] // 2, box[1] + box[3] // 2), box, 1.0 if rect["shown"] else 0.0)
    return _judge(match, 1.0, target.offset, screen.size, searched)


def locate(target: Target, screen: Image.Image, page: Any = None, wide_scales: bool = True,
           templates: dict[Path, Image.Image] | None = None) -> Lookup:
    """Find ``target`` on ``screen`` (a screenshot in screen pixels).

    ``page``: the browser page for selector targets (None elsewhere). ``wide_scales``: when an
    image is not found at its own size, also try scales 0.8-1.25. ``templates``: a cache of
    template images by path (filled as they are read). Raises ConfigError when a template
    cannot be read or OCR is not installed.
    """
    started = time.perf_counter()
    lookup: Lookup
    match target:
        case PointTarget(screen_xy=xy):
            inside = 0 <= xy[0] < screen.width and 0 <= xy[1] < screen.height
            lookup = Lookup(xy if inside else None, Match(xy, (xy[0], xy[1], 1, 1), 1.0), 1.0, "a fixed point",
                            problem=None if inside else f"{xy} is off the {screen.width}x{screen.height} screen")
        case ImageTarget():
            lookup = _locate_image(target, screen, wide_scales, {} if templates is None else templates)
        case TextTarget():
            lookup = _locate_text(target, screen)
        case SelectorTarget():
            lookup = _locate_selector(target, screen, page)
    return dataclasses.replace(lookup, ms=(time.perf_counter() - started) * 1000)


def load_template(path: Path, cache: dict[Path, Image.Image]) -> Image.Image:
    """The template image at ``path`` (RGB; kept in ``cache``); ConfigError when unreadable."""
    if path not in cache:
        try:
            with Image.open(path) as image:
                cache[path] = image.convert("RGB")
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the anchor image {path}: {exc}") from None
    return cache[path]


def target_label(target: Target, relative_to: Path | None = None) -> str:
    """A short description of ``target``, e.g. ``image anchors/step_003.png`` or ``text 'Search'``."""
    match target:
        case PointTarget(screen_xy=xy):
            return f"point ({xy[0]}, {xy[1]})"
        case ImageTarget(path=path):
            shown = path
            if relative_to is not None:
                try:
                    shown = path.resolve().relative_to(relative_to.resolve())
                except ValueError:
                    shown = path
            return f"image {shown.as_posix()}"
        case TextTarget(text=text):
            return f"text {text!r}"
        case SelectorTarget(css=css):
            return f"selector {css!r}"


# --- reports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LostAnchor:
    """A target the replay could not find: script ``step`` (1-based) of ``total``, what it
    was (``action``, ``target``), the ``lookup`` on loop step ``loop_step`` (its screenshot is
    ``step_NNN.png`` in the run folder) after ``looks`` looks."""

    step: int
    total: int
    action: str
    target: str
    lookup: Lookup
    loop_step: int
    looks: int

    def message(self) -> str:
        """One line for people: step, anchor, best score, threshold and where it looked."""
        look = self.lookup
        if look.best is None:
            best = "nothing matched at all"
        else:
            x, y, w, h = look.best.box
            best = f"best score {look.best.score:.3f} at ({look.best.center[0]}, {look.best.center[1]}) " \
                   f"[box {x},{y} {w}x{h}]"
        if look.problem:
            best += f"; {look.problem}"
        return (f"script step {self.step}/{self.total} ({self.action} {self.target}): anchor not found on "
                f"step_{self.loop_step:03d}.png after {self.looks} look(s): {best}, threshold {look.threshold:g}; "
                f"searched {look.searched}")

    def to_json(self) -> dict[str, Any]:
        """The ``lost`` entry of replay.json."""
        best = self.lookup.best
        return {"step": self.step, "action": self.action, "target": self.target, "loop_step": self.loop_step,
                "screenshot": f"step_{self.loop_step:03d}.png", "looks": self.looks,
                "best_score": None if best is None else round(best.score, 4),
                "best_box": None if best is None else list(best.box), "threshold": self.lookup.threshold,
                "searched": self.lookup.searched, "problem": self.lookup.problem, "message": self.message()}


def _lookup_json(step: int, loop_step: int, what: str, lookup: Lookup) -> dict[str, Any]:
    best = lookup.best
    return {"step": step, "loop_step": loop_step, "target": what, "found": lookup.found,
            "point": None if lookup.point is None else list(lookup.point),
            "score": None if best is None else round(best.score, 4), "threshold": lookup.threshold,
            "box": None if best is None else list(best.box), "scale": None if best is None else best.scale,
            "searched": lookup.searched, "problem": lookup.problem, "ms": round(lookup.ms, 1)}


def mark_lost(screen: Image.Image, lookup: Lookup, near: tuple[int, int] | None) -> Image.Image:
    """``screen`` with the best candidate boxed in red and the recorded position (``near``) as a
    blue cross: what a person needs to see why a replay stopped."""
    marked = screen.convert("RGB")
    draw = ImageDraw.Draw(marked)
    if lookup.best is not None:
        x, y, w, h = lookup.best.box
        draw.rectangle((x, y, x + w - 1, y + h - 1), outline=(220, 30, 30), width=3)
    if near is not None:
        nx, ny = near
        draw.line((nx - 12, ny, nx + 12, ny), fill=(30, 90, 230), width=3)
        draw.line((nx, ny - 12, nx, ny + 12), fill=(30, 90, 230), width=3)
    return marked


# --- the driver ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fallback:
    """A real model that takes over single steps whose target is lost: the backend and the
    prompt format it speaks (its model space and mapping back to the screen)."""

    model: ModelBackend
    prompt: PromptFormat


@dataclass(frozen=True)
class ReplaySettings:
    """``looks``: extra looks at a fresh screenshot before a target counts as lost, each after
    waiting ``look_again_s`` seconds (a recorded Wait step). ``wide_scales``: also try image
    anchors at scales 0.8-1.25 when they are not found at their own size."""

    looks: int = 1
    look_again_s: float = 0.5
    wide_scales: bool = True


def _target_of(action: ScriptAction) -> Target | None:
    """The target of a pointer, drag or scroll step (None for the others, or no target given)."""
    match action:
        case PointerStep(target=target) | DragStep(target=target) | ScrollStep(target=target):
            return target
    return None


def _near(target: Target | None) -> tuple[int, int] | None:
    if isinstance(target, PointTarget):
        return target.screen_xy
    return None if target is None else target.near


def step_label(step: ScriptStep) -> str:
    """The step's action name: click, double_click, type, key, scroll, drag, ..."""
    match step.action:
        case PointerStep(verb=verb):
            return verb
        case DragStep():
            return "drag"
        case ScrollStep():
            return "scroll"
        case TypeStep():
            return "type"
        case KeyStep():
            return "key"
        case WaitStep():
            return "wait"
        case NavigateStep():
            return "navigate"
        case BackStep():
            return "back"
        case TerminateStep():
            return "terminate"


def _pointer_action(verb: str, point: Point) -> Action:
    if verb == "move":
        return MoveTo(point)
    if verb == "right_click":
        return Click(point, button="right")
    return Click(point, count=2 if verb == "double_click" else 1)


@dataclass(frozen=True)
class _Played:
    """What one call produced: actions (screen space), the reply's summary line, usage."""

    actions: list[Action]
    summary: str
    usage: Usage = field(default_factory=Usage)
    timings: dict[str, float] = field(default_factory=dict)
    advance: bool = True


class ReplayDriver:
    """Plays ``steps`` one per loop step (a :class:`screenpilot.models.base.ModelBackend`), records what it
    found (an :class:`screenpilot.agent.run.loop.Observer` writing ``replay.json`` into ``run_dir``) and ends
    the run when a target is lost (:meth:`end_condition`, for ``Agent.end_when``).

    ``instruction``: the scenario's task (for a fallback model). ``source``: the script file
    (image paths in reports are shown relative to its folder). ``page``: returns the browser
    page for selector targets (None: not a browser). ``base_url``: what relative ``navigate``
    URLs resolve against. ``fallback``: the model that takes over lost steps (None: stop).
    """

    def __init__(
        self,
        steps: Sequence[ScriptStep],
        *,
        instruction: str,
        source: Path,
        page: Callable[[], Any] | None = None,
        base_url: str | None = None,
        fallback: Fallback | None = None,
        run_dir: Path | None = None,
        settings: ReplaySettings | None = None,
    ) -> None:
        self.name = f"replay:{source}"
        self.steps = list(steps)
        self.instruction = instruction
        self.source = source
        self.fallback = fallback
        self.run_dir = run_dir
        self.settings = settings or ReplaySettings()
        self._page = page
        self._base_url = base_url
        self._next = 0
        self._looks = 0
        self._calls = 0
        self.lookups: list[dict[str, Any]] = []
        self.fallbacks: list[dict[str, Any]] = []
        self.lost: LostAnchor | None = None
        self._outcome: dict[str, Any] | None = None
        self._templates: dict[Path, Image.Image] = {}

    # --- ModelBackend ----------------------------------------------------------------------------

    def complete(self, request: ModelRequest) -> ModelReply:
        """Play the next step on the request's screenshot (screen space, see :class:`ReplayFormat`).

        Raises :class:`AnchorNotFound` when a target is lost for good (no fallback), and
        ScriptExhausted once every step has been played.
        """
        self._calls += 1
        if self.lost is not None:
            raise AnchorNotFound(self.lost)
        if self._next >= len(self.steps):
            raise ScriptExhausted(f"the replay script has no steps left after {len(self.steps)} (from {self.source})")
        screen = request.images()[-1]
        try:
            played = self._play(self.steps[self._next], screen)
        finally:
            self._write_report()
        if played.advance:
            self._next += 1
            self._looks = 0
        return ModelReply(reply_text(played.summary, played.actions), played.usage, played.timings)

    def describe(self) -> dict[str, object]:
        """What run.json records about the replay."""
        return {"backend": "replay", "source": str(self.source), "steps": len(self.steps),
                "fallback": None if self.fallback is None else self.fallback.model.describe()}

    def close(self) -> None:
        """Close the fallback model, if any."""
        if self.fallback is not None:
            self.fallback.model.close()

    # --- Observer and end condition ---------------------------------------------------------------

    def on_start(self, task: str) -> None:
        """Nothing to do before the first step."""

    def on_step(self, step: StepRecord) -> None:
        """Nothing per step: lookups are recorded as they happen."""

    def on_end(self, result: RunResult) -> None:
        """Write the final replay.json with the run's outcome."""
        self._outcome = dataclasses.asdict(result)
        self._write_report()

    def end_condition(self, step: StepRecord) -> RunResult | None:
        """For ``Agent.end_when``: a failure with reason ``anchor_lost`` once a target is lost."""
        if self.lost is None:
            return None
        return RunResult("failure", "anchor_lost", step.index, message=self.lost.message())

    # --- playing steps --------------------------------------------------------------------------

    def _header(self, step: ScriptStep | None = None) -> str:
        """``script step 3/18`` (with the step's action name when ``step`` is given)."""
        text = f"script step {self._next + 1}/{len(self.steps)}"
        return text if step is None else f"{text}: {step_label(step)}"

    def _play(self, step: ScriptStep, screen: Image.Image) -> _Played:
        action = step.action
        target = _target_of(action)
        if target is None:
            return self._untargeted(step, screen)
        page = self._page() if self._page is not None else None
        lookup = locate(target, screen, page, self.settings.wide_scales, self._templates)
        what = target_label(target, self.source.parent)
        self.lookups.append(_lookup_json(self._next + 1, self._calls, what, lookup))
        if lookup.point is None:
            return self._not_found(step, screen, what, lookup)
        found = self._found_summary(step, what, lookup)
        return _Played([self._targeted_action(action, Point(*lookup.point))], found)

    def _found_summary(self, step: ScriptStep, what: str, lookup: Lookup) -> str:
        score = "" if lookup.best is None else f", score {lookup.best.score:.3f} (threshold {lookup.threshold:g})"
        return f"{self._header(step)} {what}: found at {lookup.point}{score}"

    @staticmethod
    def _targeted_action(action: ScriptAction, point: Point) -> Action:
        match action:
            case PointerStep(verb=verb):
                return _pointer_action(verb, point)
            case DragStep(by=by, to=to):
                end = Point(point.x + by[0], point.y + by[1]) if by is not None else Point(*(to or (0, 0)))
                return Drag(end, start=point)
            case ScrollStep(dy=dy, dx=dx):
                return Scroll(dy, dx, at=point)
        raise TypeError(f"{type(action).__name__} has no target")

    def _untargeted(self, step: ScriptStep, screen: Image.Image) -> _Played:
        action = step.action
        out: Action
        match action:
            case DragStep(to=to) if to is not None:
                out = Drag(Point(*to), start=None)
            case ScrollStep(dy=dy, dx=dx):
                out = Scroll(dy, dx)
            case TypeStep(text=text):
                out = TypeText(text)
            case KeyStep(keys=keys):
                out = PressKeys(keys)
            case WaitStep(seconds=seconds):
                out = Wait(seconds)
            case NavigateStep(url=url):
                out = Navigate(urljoin(self._base_url, url) if self._base_url else url)
            case BackStep():
                out = GoBack()
            case TerminateStep(status=status, answer=answer):
                out = Terminate(status, answer)
            case _:
                raise TypeError(f"{type(action).__name__} needs a target")
        return _Played([out], f"{self._header()}: {describe(out)}")

    def _not_found(self, step: ScriptStep, screen: Image.Image, what: str, lookup: Lookup) -> _Played:
        if self._looks < self.settings.looks:
            self._looks += 1
            score = "nothing" if lookup.best is None else f"best {lookup.best.score:.3f}"
            summary = (f"{self._header(step)} {what}: not found ({score} < {lookup.threshold:g}); looking again "
                       f"in {self.settings.look_again_s:g} s")
            return _Played([Wait(self.settings.look_again_s)], summary, advance=False)
        lost = LostAnchor(self._next + 1, len(self.steps), step_label(step), what, lookup, self._calls,
                          self._looks + 1)
        if self.fallback is not None:
            return self._hand_over(step, screen, lost)
        self.lost = lost
        self._save_marked(screen, lookup, _near(_target_of(step.action)))
        raise AnchorNotFound(lost)

    def _save_marked(self, screen: Image.Image, lookup: Lookup, near: tuple[int, int] | None) -> None:
        if self.run_dir is not None:
            mark_lost(screen, lookup, near).save(self.run_dir / f"replay_lost_step_{self._next + 1:03d}.png")

    # --- fallback ---------------------------------------------------------------------------------

    def _hand_over(self, step: ScriptStep, screen: Image.Image, lost: LostAnchor) -> _Played:
        """One step by the fallback model; its actions come back in screen pixels."""
        fallback = self.fallback
        if fallback is None:
            raise ConfigError("the replay has no fallback model")
        prompt, model = fallback.prompt, fallback.model
        model_size = prompt.model_size(screen.size)
        model_image = resize_image(screen, model_size)
        note = fallback_note(step, lost, prompt, model_size, screen.size)
        request = prompt.build_request(f"{self.instruction}\n\n{note}", [], model_image, None)
        started = time.perf_counter()
        reply = model.complete(request)
        took = time.perf_counter() - started
        entry: dict[str, Any] = {"step": lost.step, "loop_step": self._calls, "note": note, "reply": reply.text,
                                 "model_size": list(model_size), "lost": lost.to_json()}
        self.fallbacks.append(entry)
        try:
            model_actions = prompt.parse(reply.text, model_size)
        except ModelError as exc:
            entry["error"] = exc.message
            self.lost = lost
            self._save_marked(screen, lost.lookup, _near(_target_of(step.action)))
            raise AnchorNotFound(lost) from None
        actions = [prompt.to_screen(a, model_size, screen.size) for a in model_actions]
        entry["actions_model"] = [to_json(a) for a in model_actions]
        entry["actions_screen"] = [to_json(a) for a in actions]
        summary = (f"{self._header(step)} {lost.target}: not found (best "
                   f"{'-' if lost.lookup.best is None else f'{lost.lookup.best.score:.3f}'}); fallback model "
                   f"{model.name} chose: {'; '.join(describe(a) for a in actions)}")
        return _Played(actions, summary, reply.usage, {**reply.timings, "fallback": took})

    # --- replay.json ------------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """The content of replay.json."""
        return {"source": str(self.source), "steps": len(self.steps), "played": self._next,
                "outcome": self._outcome, "lost": None if self.lost is None else self.lost.to_json(),
                "lookups": self.lookups, "fallbacks": self.fallbacks}

    def _write_report(self) -> None:
        if self.run_dir is None:
            return
        tmp = self.run_dir / (REPORT_FILE + ".tmp")
        tmp.write_text(json.dumps(self.report(), indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, self.run_dir / REPORT_FILE)


def _model_point(prompt: PromptFormat, screen_xy: tuple[int, int], model_size: tuple[int, int],
                 screen_size: tuple[int, int]) -> tuple[int, int] | None:
    """``screen_xy`` in ``prompt``'s model space, found by inverting its (linear) ``to_screen``
    from two probe points; None when the format refuses the probes."""
    k = max(1, min(1000, min(model_size) - 1))
    try:
        low = prompt.to_screen(Click(Point(0, 0)), model_size, screen_size)
        high = prompt.to_screen(Click(Point(k, k)), model_size, screen_size)
    except (ValueError, ModelError):
        return None
    if not (isinstance(low, Click) and isinstance(high, Click) and low.at and high.at):
        return None
    span_x, span_y = high.at.x - low.at.x, high.at.y - low.at.y
    if span_x <= 0 or span_y <= 0:
        return None
    return round((screen_xy[0] - low.at.x) * k / span_x), round((screen_xy[1] - low.at.y) * k / span_y)


def fallback_note(step: ScriptStep, lost: LostAnchor, prompt: PromptFormat, model_size: tuple[int, int],
                  screen_size: tuple[int, int]) -> str:
    """What a fallback model is told about the one step it should do (appended to the task)."""
    target = _target_of(step.action)
    match target:
        case TextTarget(text=text):
            what = f"the text {text!r}"
        case SelectorTarget(css=css):
            what = f"the element matching the CSS selector {css!r}"
        case ImageTarget():
            what = "an element shown in a screenshot crop taken when the script was recorded"
        case _:
            what = "a recorded point"
    parts = [f"Note: an automated script has carried out the earlier steps of this task. Its next step is to "
             f"{lost.action.replace('_', ' ')} {what}"]
    near = _near(target)
    if near is not None:
        shown = _model_point(prompt, near, model_size, screen_size)
        where = f" at about ({shown[0]}, {shown[1]}) in this screenshot's coordinates" if shown else ""
        parts.append(f"; when the script was recorded it was{where}, about {round(100 * near[0] / screen_size[0])}% "
                     f"from the left and {round(100 * near[1] / screen_size[1])}% from the top, but the screen may "
                     "have changed since")
    if step.note:
        parts.append(f" ({step.note})")
    parts.append(". The script could not find it on the current screen. Do only this one step now, with a single "
                 "action. If it is not on the screen, terminate with status failure.")
    return "".join(parts)
