"""Turn a recorded run folder into a replay script: a scenario file with a ``steps:`` list.

:func:`script_from_run` reads ``run.json`` and ``steps.jsonl`` of any run folder (``screenpilot
run``, ``screenpilot scenario run``, a replay) and writes a scenario YAML whose ``steps:`` carry
out the actions that were executed, in order (actions the safety gate refused or that failed are
left out):

* every click, double click, right click, pointer move, drag start and scroll position becomes
  an ``image`` target: a distinctive crop of that step's screenshot around the screen-space
  point (:func:`screenpilot.tools.vision.choose_anchor`), saved as ``anchors/<script name>/step_NNN.png``
  next to the YAML, with the ``offset`` from the crop's centre to the point, the recorded point
  as ``near`` and a stricter ``threshold`` when the screen held look-alikes;
* typed text, keys, waits, navigation (same-origin URLs written relative to the site, so a new
  server port does not matter), going back, and the final terminate with its answer are kept.

When the run came from a scenario (``run.json`` records its source file), the script copies
its instruction, environment, setup, budget and checks (relative paths made absolute), so the
script checks the same outcome. Otherwise it starts the screen the way ``run.json`` says the
run did (``environment``: start URL and viewport, phone device, desktop launch commands and
virtual display; older runs: the first step's URL) and checks what the recording ended with: the
final answer, the final page path and, from the run's element probes (``probes`` of steps.jsonl,
:mod:`screenpilot.tools.web.element_probe`), ``selector`` checks of the values last typed, the state
of the check boxes and the text of the element clicked last, and the text the last actions made the
page show (:func:`result_checks`); the desktop gets the part of the final screen the run changed
(:func:`final_screen_region`). A comment above each generated check says what it compares: such
checks hold when the replay ends as the recording did, so they are to be replaced by checks of the
result itself. Browser runs recorded before probes existed get a crop of the final screen when no
answer or page path can be checked. Secrets stay placeholders (``type: '{{NAME}}'``): the replay
needs ``--secret NAME`` and refuses to start without it; an element that held or showed a secret's
value gets no check (the header says so), so no value reaches the script or a replay's report.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from PIL import Image

from screenpilot.agent.actions import (
    PHONE_ACTIONS,
    Action,
    AskUser,
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
)
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.records import RunRecord, StepLine
from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.agent.scenario.file_format import load_scenario
from screenpilot.agent.scenario.result_checks import final_screen_region, last_probe, region_threshold, result_checks
from screenpilot.agent.scenario.spec import DEFAULT_IMAGE_THRESHOLD, BrowserEnvironment, ScenarioSpec
from screenpilot.tools.vision import choose_anchor

DEFAULT_ANCHOR_SIZE = (96, 64)
_REGION_SLACK = 8
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass
class ScriptResult:
    """What :func:`script_from_run` wrote: the scenario ``path``, its number of ``steps`` and
    ``anchors`` (image files), the ``source`` scenario it copied (None: none found) and
    ``warnings`` (one line each: look-alike anchors, skipped actions, guesses)."""

    path: Path
    steps: int = 0
    anchors: int = 0
    source: Path | None = None
    warnings: list[str] = field(default_factory=list)


# --- which actions ran ---------------------------------------------------------------------------


def executed_actions(step: StepLine) -> list[Action]:
    """The screen-space actions of a steps.jsonl line that were carried out, in order.

    An action counts when the safety gate allowed it and it did not fail (``executed`` counts
    those); a final ``terminate`` counts when the step had no error.
    """
    actions = [from_json(a) for a in step.actions_screen]
    verdicts = step.verdicts
    done: list[Action] = []
    allowed = 0
    for index, action in enumerate(actions):
        if isinstance(action, Terminate):
            if step.error is None:
                done.append(action)
            break
        if index >= len(verdicts) or allowed >= step.executed:
            break
        if verdicts[index].decision != "allow":
            continue
        allowed += 1
        done.append(action)
    return done


# --- turning actions into steps ------------------------------------------------------------------


@dataclass
class _Writer:
    """Builds the ``steps:`` list; crops anchors from each step's screenshot as it goes."""

    out_file: Path
    anchor_dir: Path
    anchor_size: tuple[int, int]
    start_url: str | None
    result: ScriptResult
    steps: list[Any] = field(default_factory=list)
    pointer: Point | None = None
    check_notes: dict[str, str] = field(default_factory=dict)
    """What each generated check compares, by check name (a comment above it in the file)."""
    run_dir: Path = Path(".")
    """The run folder the screenshots are in."""
    unchecked: list[str] = field(default_factory=list)
    """What the generated checks leave out on purpose, one line each (written in the header)."""
    _screens: dict[Path, Image.Image] = field(default_factory=dict)

    def anchor(self, screenshot: Path, point: Point, name: str | None = None) -> dict[str, Any]:
        """An image target for ``point`` on ``screenshot``: crop saved (as ``name``.png, default
        ``step_NNN`` for the step being added), offset, near and threshold."""
        screen = self._screen(screenshot)
        choice = choose_anchor(screen, (point.x, point.y), self.anchor_size)
        number = len(self.steps) + 1
        left, top, width, height = choice.box
        file = self.anchor_dir / f"{name or f'step_{number:03d}'}.png"
        screen.crop((left, top, left + width, top + height)).save(file)
        self.result.anchors += 1
        target: dict[str, Any] = {"image": file.relative_to(self.out_file.parent).as_posix()}
        offset = choice.offset((point.x, point.y))
        if offset != (0, 0):
            target["offset"] = list(offset)
        target["near"] = [point.x, point.y]
        threshold = choice.threshold()
        if threshold > DEFAULT_IMAGE_THRESHOLD:
            target["threshold"] = threshold
        if not choice.unique:
            self.result.warnings.append(
                f"{name or f'step {number}'}: the anchor around ({point.x}, {point.y}) has look-alikes on the screen "
                f"(best other match {choice.elsewhere:.2f}); it is replayed with threshold {threshold:g}")
        return target

    def region_check(self, before: Path, final: Path, settled: Sequence[Path]) -> dict[str, Any]:
        """The desktop's final-screen check: the part of ``final`` changed since ``before`` (the screenshot before
        the last actions) and not blinking in the ``settled`` screenshots taken after them
        (:func:`final_screen_region`), saved as ``final.png``, looked for where it was (a few pixels of slack),
        with :func:`region_threshold`."""
        screen, earlier = self._screen(final), self._screen(before)
        left, top, width, height = final_screen_region(earlier, screen, [self._screen(p) for p in settled])
        crop = (left, top, left + width, top + height)
        threshold = region_threshold(earlier.crop(crop), screen.crop(crop))
        file = self.anchor_dir / "final.png"
        screen.crop(crop).save(file)
        self.result.anchors += 1
        slack_left, slack_top = max(0, left - _REGION_SLACK), max(0, top - _REGION_SLACK)
        region = [slack_left, slack_top, min(screen.width, left + width + _REGION_SLACK) - slack_left,
                  min(screen.height, top + height + _REGION_SLACK) - slack_top]
        self.check_notes["same final screen"] = (
            f"compares the part of the final screen the run changed ({width}x{height} at {left},{top}) with the "
            f"recording's, at correlation {threshold:g} (one glyph changed there fails it)")
        return {"name": "same final screen", "screen_region": file.relative_to(self.out_file.parent).as_posix(),
                "region": region, "threshold": threshold}

    def _screen(self, screenshot: Path) -> Image.Image:
        if screenshot not in self._screens:
            try:
                with Image.open(screenshot) as image:
                    self._screens[screenshot] = image.convert("RGB")
            except OSError as exc:
                raise ConfigError(f"cannot read the screenshot {screenshot}: {exc}") from None
        return self._screens[screenshot]

    def at(self, point: Point | None, where: str) -> Point:
        """``point``, or the pointer's last known position for an action 'where the pointer is'."""
        chosen = point or self.pointer
        if chosen is None:
            raise ConfigError(f"{where}: the action happens where the pointer is, and no earlier action says where "
                              "that was; this run cannot be scripted")
        return chosen

    def add(self, action: Action, screenshot: Path, where: str) -> None:
        """Append the step(s) for one executed screen-space ``action``."""
        match action:
            case Click(at=at, button=button, count=count):
                point = self.at(at, where)
                self.steps.append({_click_verb(button, count, where): self.anchor(screenshot, point)})
                self.pointer = point
            case MoveTo(at=at):
                self.steps.append({"move": self.anchor(screenshot, at)})
                self.pointer = at
            case Drag(to=to, start=start):
                begin = self.at(start, where)
                self.steps.append({"drag": {**self.anchor(screenshot, begin), "by": [to.x - begin.x, to.y - begin.y]}})
                self.pointer = to
            case Scroll(dy=dy, dx=dx, at=at):
                amounts = {"dy": dy, **({"dx": dx} if dx else {})}
                if at is None:
                    self.steps.append({"scroll": amounts})
                else:
                    self.steps.append({"scroll": {**amounts, **self.anchor(screenshot, at)}})
                    self.pointer = at
            case _:
                self.add_plain(action, where)

    def add_plain(self, action: Action, where: str) -> None:
        """Append the step for an action without a position."""
        match action:
            case TypeText(text=text):
                self.steps.append({"type": text})
            case PressKeys(keys=keys):
                self.steps.append({"key": keys[0] if len(keys) == 1 else list(keys)})
            case Wait(seconds=seconds):
                self.steps.append({"wait": seconds})
            case Navigate(url=url):
                self.steps.append({"navigate": relative_url(url, self.start_url)})
            case GoBack():
                self.steps.append("back")
            case Terminate(status=status, answer=answer):
                self.steps.append({"terminate": {"status": status, **({"answer": answer} if answer else {})}})
            case AskUser(question=question):
                self.result.warnings.append(f"{where}: left out a question to the user ({question!r}); a script "
                                            "cannot answer it")
            case _ if isinstance(action, PHONE_ACTIONS):
                raise ConfigError(f"{where}: {describe(action)} is a phone action; replay scripts do not support "
                                  "it yet")
            case _:
                raise ConfigError(f"{where}: {describe(action)} cannot be scripted")


def _click_verb(button: str, count: int, where: str) -> str:
    verbs = {("left", 1): "click", ("left", 2): "double_click", ("right", 1): "right_click"}
    verb = verbs.get((button, count))
    if verb is None:
        raise ConfigError(f"{where}: a {button} click x{count} has no replay step (click, double_click, right_click)")
    return verb


def relative_url(url: str, start_url: str | None) -> str:
    """``url`` without its scheme and host when it shares ``start_url``'s origin (so the script
    works when a local site comes back on another port); otherwise unchanged."""
    if start_url is None:
        return url
    target, start = urlsplit(url), urlsplit(start_url)
    if target.scheme in ("http", "https") and (target.scheme, target.netloc) == (start.scheme, start.netloc):
        return urlunsplit(("", "", target.path or "/", target.query, target.fragment))
    return url


# --- the scenario around the steps ---------------------------------------------------------------


def _source_scenario(run: RunRecord, result: ScriptResult) -> tuple[ScenarioSpec, dict[str, Any]] | None:
    """The scenario the run came from (its validated spec and raw YAML), if it can be found."""
    recorded = run.scenario.source if run.scenario is not None else None
    if not recorded:
        return None
    path = Path(recorded)
    if not path.is_file():
        result.warnings.append(f"the run's scenario file {path} is gone; the script starts from the first step's URL")
        return None
    spec = load_scenario(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    result.source = path.resolve()
    return spec, raw


def _absolute_paths(raw: dict[str, Any], spec: ScenarioSpec) -> dict[str, Any]:
    """The scenario's environment, setup, budget and checks with file paths made absolute."""
    environment = dict(raw["environment"])
    if "browser" in environment and isinstance(environment["browser"], dict):
        browser = dict(environment["browser"])
        if "url" in browser and isinstance(spec.environment, BrowserEnvironment) and spec.environment.url:
            browser["url"] = spec.environment.url
        environment["browser"] = browser
    checks = []
    for check in raw["checks"]:
        check = dict(check)
        if "screen_region" in check and not Path(str(check["screen_region"])).is_absolute():
            check["screen_region"] = str((spec.source.parent / str(check["screen_region"])).resolve())
        checks.append(check)
    kept: dict[str, Any] = {"environment": environment}
    if "setup" in raw:
        kept["setup"] = raw["setup"]
    if "budget" in raw:
        kept["budget"] = dict(raw["budget"])
    kept["checks"] = checks
    return kept


def _plain_scenario(run: RunRecord, steps: Sequence[StepLine], writer: _Writer,
                    final: tuple[Path, str | None]) -> dict[str, Any]:
    """Environment and checks for a run that did not come from a scenario file."""
    executor = run.executor or {}
    first = steps[0]
    size = first.screen_size or (1280, 720)
    recorded = run.environment or {}
    if "desktop" in recorded:
        environment: dict[str, Any] = {"desktop": {"virtual_display": f"{size[0]}x{size[1]}", **recorded["desktop"]}}
    elif "browser" in recorded:
        environment = {"browser": dict(recorded["browser"])}
    elif executor.get("kind") == "desktop":
        environment = {"desktop": {"virtual_display": f"{size[0]}x{size[1]}"}}
        writer.result.warnings.append("the run did not record how its desktop applications were started; add "
                                      "environment.desktop.launch commands")
    else:
        viewport = executor.get("viewport") or size
        environment = {"browser": {"url": first.url or "about:blank",
                                   "viewport": f"{viewport[0]}x{viewport[1]}"}}
    screenshot, answer = final
    checks: list[dict[str, Any]] = []
    notes = writer.check_notes
    if answer:
        checks.append({"name": "same answer", "answer": answer})
        notes["same answer"] = "compares the final answer with the one the recording gave"
    last_url = steps[-1].url
    desktop = "desktop" in environment
    if not desktop and last_url:
        path = urlsplit(last_url).path or "/"
        checks.append({"name": "same final page", "url": re.escape(path) + "$"})
        notes["same final page"] = f"compares the final page's path with the recording's ({path})"
    probe = last_probe(steps)
    if not desktop and probe is not None:
        found, unchecked = result_checks(probe)
        for check, note in found:
            checks.append(check)
            notes[check["name"]] = note
        writer.unchecked += unchecked
    if desktop:
        before = _before_last_actions(steps)
        settled = [_screenshot(writer.run_dir, s) for s in steps if s.index > before.index][:-1]
        checks.append(writer.region_check(_screenshot(writer.run_dir, before), screenshot, settled))
    elif not checks:
        anchor = writer.anchor(screenshot, writer.pointer or Point(size[0] // 2, size[1] // 2), name="final")
        checks.append({"name": "same final screen", "screen_region": anchor["image"],
                       "threshold": anchor.get("threshold", DEFAULT_IMAGE_THRESHOLD)})
        notes["same final screen"] = "compares a small crop of the final screen around the pointer"
    return {"environment": environment, "checks": checks}


def _before_last_actions(steps: Sequence[StepLine]) -> StepLine:
    """The step whose screenshot shows the screen before the run's last actions: the last one that executed an
    action other than a wait (the first step when none did)."""
    for step in reversed(steps):
        if any(not isinstance(a, Wait | Terminate) for a in executed_actions(step)):
            return step
    return steps[0]


# --- the command ---------------------------------------------------------------------------------


def _prepare_out(out_file: Path, force: bool) -> Path:
    """Check ``out_file`` may be written and return its (emptied) anchors folder."""
    if out_file.suffix not in (".yaml", ".yml"):
        raise ConfigError(f"the script file must end in .yaml or .yml, got {out_file}")
    if out_file.exists() and not force:
        raise ConfigError(f"{out_file} exists; choose another --out or pass --force to replace it")
    anchor_dir = out_file.parent / "anchors" / out_file.stem
    if anchor_dir.exists():
        shutil.rmtree(anchor_dir)
    anchor_dir.mkdir(parents=True)
    return anchor_dir


def _start_url(steps: Sequence[StepLine]) -> str | None:
    url = steps[0].url if steps else None
    return url if url and _URL_SCHEME.match(url) else None


def script_from_run(
    run_dir: Path,
    out_file: Path | None = None,
    anchor_size: tuple[int, int] = DEFAULT_ANCHOR_SIZE,
    force: bool = False,
) -> ScriptResult:
    """Write the replay script of ``run_dir`` to ``out_file`` (default ``RUN_DIR/script.yaml``)
    with its anchors in ``anchors/<file stem>/`` next to it; crops start at ``anchor_size``
    (width, height; screen pixels) and grow until distinctive.

    Raises ConfigError when the folder is not a run folder, has no executed actions, holds an
    action a script cannot express, or the file exists (unless ``force``); the written file is
    loaded back, so a ScenarioError points at anything invalid in it.
    """
    try:
        run = read_run(run_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"{run_dir} is not a run folder: {exc}") from None
    steps = read_steps(run_dir)
    if not steps:
        raise ConfigError(f"{run_dir} has no recorded steps (steps.jsonl is empty or missing)")
    out_file = out_file or run_dir / "script.yaml"
    result = ScriptResult(out_file)
    source = _source_scenario(run, result)
    writer = _Writer(out_file, _prepare_out(out_file, force), anchor_size, _start_url(steps), result,
                     run_dir=run_dir)
    answer: str | None = None
    for step in steps:
        for action in executed_actions(step):
            writer.add(action, _screenshot(run_dir, step), f"{run_dir.name} step {step.index}")
            if isinstance(action, Terminate):
                answer = action.answer
    if not writer.steps:
        raise ConfigError(f"{run_dir} has no executed actions to script")
    final = (_screenshot(run_dir, steps[-1]), answer)
    script_steps = list(writer.steps)
    around = _absolute_paths(source[1], source[0]) if source else _plain_scenario(run, steps, writer, final)
    document = _document(run, source[0] if source else None, around, script_steps)
    result.steps = len(script_steps)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    notes = {} if source else writer.check_notes
    out_file.write_text(_header(run_dir, result, writer.unchecked) + _dump(document, notes), encoding="utf-8")
    load_scenario(out_file)
    return result


def _screenshot(run_dir: Path, step: StepLine) -> Path:
    """The step's screenshot file; ConfigError when the line names none."""
    if not step.screenshot:
        raise ConfigError(f"{run_dir} step {step.index} records no screenshot; this run cannot be scripted")
    return run_dir / step.screenshot


def _document(run: RunRecord, spec: ScenarioSpec | None, around: dict[str, Any],
              steps: list[Any]) -> dict[str, Any]:
    instruction = spec.instruction if spec is not None else (run.task or "Replay the recorded run.")
    document: dict[str, Any] = {"instruction": instruction}
    if spec is not None and spec.description:
        document["description"] = spec.description
    document["tags"] = [*(spec.tags if spec is not None else ()), "replay"]
    document.update({k: v for k, v in around.items() if k != "checks"})
    budget = dict(document.get("budget") or {})
    budget["max_steps"] = max(int(budget.get("max_steps") or 0), 2 * len(steps) + 5)
    document["budget"] = budget
    document["checks"] = around["checks"]
    document["steps"] = steps
    return document


def _header(run_dir: Path, result: ScriptResult, unchecked: Sequence[str]) -> str:
    made = datetime.now().strftime("%Y-%m-%d %H:%M")
    source = f" (scenario {result.source})" if result.source else ""
    header = (f"# Replay script written by `screenpilot script` on {made} from the run {run_dir}{source}.\n"
              f"# Replay: screenpilot scenario run {result.path.name}   (no model needed; anchors in "
              f"anchors/{result.path.stem}/)\n")
    if result.source is None:
        header += ("# The checks below were generated: they compare what the recording ended with (the answer, the "
                   "final page,\n# the values typed, the text the last actions produced, or the final screen), as "
                   "the comment above\n# each says. If the recording got the task wrong, they pass even when the "
                   "task's result is wrong. Replace them\n# with checks of the result itself: a selector's text or "
                   "value, a js expression, a file's content.\n")
        header += "".join(f"# {line}\n" for line in unchecked)
    return header


class _Flow(dict[str, Any]):
    """A mapping written on one line (``{image: ..., offset: [..]}``) in the script."""


class _Block(dict[str, Any]):
    """A mapping written as ``key: value`` lines (a step's ``click: ...``)."""


class _ScriptDumper(yaml.SafeDumper):
    """SafeDumper that writes :class:`_Flow` mappings in flow style."""


_ScriptDumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True))
_ScriptDumper.add_representer(
    _Block, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False))


def _flow_steps(steps: list[Any]) -> list[Any]:
    """Each step's argument mapping on one line: ``- click: {image: ..., near: [x, y]}``."""
    return [_Block({k: _Flow(v) if isinstance(v, dict) else v for k, v in s.items()}) if isinstance(s, dict) else s
            for s in steps]


def _yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_ScriptDumper, sort_keys=False, allow_unicode=True, width=140,
                     default_flow_style=None)


def _dump(document: dict[str, Any], notes: dict[str, str]) -> str:
    """The YAML text of ``document``, with a comment holding its note above each check that ``notes`` names."""
    head = {k: v for k, v in document.items() if k not in ("checks", "steps")}
    checks = "".join(
        (f"# generated, {notes[check['name']]}; replace with a check of the result\n"
         if check.get("name") in notes else "") + _yaml([_Block(check)])
        for check in document["checks"])
    return _yaml(head) + "checks:\n" + checks + _yaml({"steps": _flow_steps(document["steps"])})
