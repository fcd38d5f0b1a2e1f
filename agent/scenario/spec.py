"""Scenario files: a task, where it runs, how it starts, its budget and how success is checked.

A scenario is a YAML file loaded into a frozen :class:`ScenarioSpec` by
:func:`screenpilot.agent.scenario.file_format.load_scenario` (whose pydantic models are the format;
``screenpilot scenario schema`` writes them as JSON Schema). Every problem in a file raises
:class:`ScenarioError` naming the file, the field as a dotted path (``checks[2].equals``) and
what is allowed there. This module holds what the rest of screenpilot uses: the validated types.
Example::

    id: flights_booking                  # optional; default: the file name without .yaml
    instruction: Book the 09:45 flight from Lisbon to Paris ...
    environment:
      browser:                           # or desktop: {launch: [...], virtual_display: 1280x720}
        site: flights                    # a bundled site served on 127.0.0.1 (or url: https://...)
        path: /index.html                # where the site opens (site only; default /)
        viewport: 1280x720               # or [1280, 720]
        # phone: pixel-7                 # instead of viewport: an emulated phone (Playwright device name)
    setup:                               # optional, run in order before the model's first step
      - navigate: /index.html?shift=1    # browser; relative to the site
      - js: localStorage.clear()         # browser; run in the page
      - file: {path: notes.txt, content: "hello"}   # relative paths: the episode's work folder
      - wait: 0.5                        # seconds
    budget: {max_steps: 20, time_limit_s: 300}
    checks:                              # all must pass; each has one kind key
      - name: booking confirmed
        js: window.appState.booking.status
        equals: confirmed                # without equals: the value must be truthy
      - url: /confirmation\\.html$        # regex searched in the page URL
      - selector: "#booking-ref"         # + text_equals / text_contains / value / checked / visible / count
        text_equals: SP-KK990D
      - file: notes.txt                  # + equals / contains / regex (none: the file must exist)
      - window_title: Untitled           # desktop: regex searched in visible window titles (+ window: focused)
      - screen_region: button.png        # template image; + region [x, y, w, h] (screen px), threshold 0-1
      - answer: SP-KK990D                # the model's final answer; match: normalized (default) | exact | json_fields
    replies: replies/flights_booking.json   # optional scripted replies: a JSON file or an inline list
    # steps: [...]                       # or, instead of replies, a replay script (below)

A replay script (``steps:``, written by ``screenpilot script RUN_DIR`` or by hand) is replayed
without a model: pointer steps find their target on the current screenshot first. Each step has
one action key and an optional ``note`` (the step's intent, shown to a fallback model)::

    steps:
      - click: {image: anchors/step_001.png, offset: [121, 0], near: [364, 180]}
        note: the From field
      - type: Lisbon
      - click: {text: Search flights}              # OCR; threshold = minimum similarity (0.8)
      - double_click: {selector: "#search"}        # browser only: the element's centre
      - right_click: {at: [602, 305]}              # a fixed point in screen pixels
      - move: {image: anchors/menu.png, threshold: 0.9}
      - drag: {image: anchors/knob.png, by: [120, 0]}   # or to: [x, y]; no target: from the pointer
      - scroll: {dy: 300}                          # screen px, positive = down; + optional target
      - key: ctrl+a                                # or a list: [ctrl, a]
      - wait: 0.5                                  # seconds
      - navigate: /results.html                    # browser; relative to the site / start URL
      - back                                       # browser: history back
      - terminate: {status: success, answer: SP-KK990D}   # or terminate: success

Targets: ``at`` (x, y screen pixels), ``text`` (OCR), ``image`` (a template file relative to
the scenario; ``threshold`` is the lowest ``TM_CCOEFF_NORMED`` score accepted, default 0.85) or
``selector`` (CSS, browser only). ``offset: [dx, dy]`` (screen pixels) moves the action point
from the found target's centre; ``near: [x, y]`` is where the target was when recorded.

Relative file paths in a scenario (``url`` without a scheme, ``screen_region`` templates, a
replies file) are resolved against the folder holding the scenario file. Relative paths of
``file`` setup steps and checks point into the episode's work folder (``RUN_DIR/work``); desktop
``launch`` commands may name it as ``{workdir}``. File steps run before the environment starts,
the other setup steps after it, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from screenpilot.agent.config_files import ConfigFileError
from screenpilot.scenarios import SCENARIOS_DIR

BUNDLED_SITES_DIR = SCENARIOS_DIR / "sites"
"""Where the bundled sites live: one folder of static files per site."""

DEFAULT_VIEWPORT = (1280, 720)
DEFAULT_MAX_STEPS = 30
DEFAULT_TIME_LIMIT_S = 300.0
DEFAULT_THRESHOLD = 0.9


class ScenarioError(ConfigFileError):
    """A scenario file is invalid. ``file`` and ``field`` (dotted path) locate the problem."""


# --- environment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrowserEnvironment:
    """A Chromium page. Exactly one of ``url`` (absolute, with a scheme) and ``site`` is set.

    ``site_root`` is the folder served for ``site``; ``path`` is where the site opens.
    ``viewport`` is (width, height) in CSS pixels. ``phone``: a Playwright device name or slug
    (``pixel-7``, ``iphone-13``): the page runs on that emulated phone (its own screen, touch
    input, the ``mobile_use`` prompt format) instead of a desktop browser.
    """

    url: str | None = None
    site: str | None = None
    site_root: Path | None = None
    path: str = "/"
    viewport: tuple[int, int] = DEFAULT_VIEWPORT
    phone: str | None = None

    kind: Literal["browser"] = "browser"


@dataclass(frozen=True)
class DesktopEnvironment:
    """An X11 desktop on a virtual display of ``virtual_display`` (width, height) pixels with
    ``launch`` commands started on it."""

    launch: tuple[str, ...] = ()
    virtual_display: tuple[int, int] = DEFAULT_VIEWPORT

    kind: Literal["desktop"] = "desktop"


Environment: TypeAlias = BrowserEnvironment | DesktopEnvironment


# --- setup steps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavigateStep:
    """Browser: open ``url`` (relative URLs resolve against the site)."""

    url: str


@dataclass(frozen=True)
class JsStep:
    """Browser: evaluate ``script`` in the page."""

    script: str


@dataclass(frozen=True)
class FileStep:
    """Create the text file ``path`` (relative: in the episode's work folder) holding ``content``."""

    path: str
    content: str


@dataclass(frozen=True)
class WaitStep:
    """Sleep ``seconds``."""

    seconds: float


SetupStep: TypeAlias = NavigateStep | JsStep | FileStep | WaitStep


# --- replay scripts ------------------------------------------------------------------------------

DEFAULT_IMAGE_THRESHOLD = 0.85
DEFAULT_TEXT_SIMILARITY = 0.8


@dataclass(frozen=True)
class PointTarget:
    """A fixed point ``screen_xy`` (x, y) in screen pixels."""

    screen_xy: tuple[int, int]


@dataclass(frozen=True)
class TextTarget:
    """Text read by OCR: the words most similar to ``text`` with similarity >= ``min_similarity``
    (0-1). ``offset`` (dx, dy screen px) moves the action point from their centre; ``near``
    (x, y screen px) is where they were recorded (breaks ties, guides a fallback model)."""

    text: str
    min_similarity: float = DEFAULT_TEXT_SIMILARITY
    offset: tuple[int, int] = (0, 0)
    near: tuple[int, int] | None = None


@dataclass(frozen=True)
class ImageTarget:
    """A template image (``path``) found by grayscale ``TM_CCOEFF_NORMED`` >= ``threshold``.
    ``offset`` (dx, dy screen px) goes from the match centre to the action point; ``near`` is
    where the action point was recorded (screen px)."""

    path: Path
    threshold: float = DEFAULT_IMAGE_THRESHOLD
    offset: tuple[int, int] = (0, 0)
    near: tuple[int, int] | None = None


@dataclass(frozen=True)
class SelectorTarget:
    """Browser only: the centre of the first element matching CSS ``css`` (plus ``offset``);
    ``near`` is where it was recorded (screen px)."""

    css: str
    offset: tuple[int, int] = (0, 0)
    near: tuple[int, int] | None = None


Target: TypeAlias = PointTarget | TextTarget | ImageTarget | SelectorTarget

PointerVerb: TypeAlias = Literal["click", "double_click", "right_click", "move"]


@dataclass(frozen=True)
class PointerStep:
    """Click, double-click, right-click or move the pointer to ``target``."""

    verb: PointerVerb
    target: Target


@dataclass(frozen=True)
class DragStep:
    """Hold the left button from ``target`` (None: the pointer) and release ``by`` (dx, dy)
    away from the start or at ``to`` (x, y); screen pixels. Exactly one of by and to is set."""

    target: Target | None
    by: tuple[int, int] | None = None
    to: tuple[int, int] | None = None


@dataclass(frozen=True)
class ScrollStep:
    """Scroll ``dy`` pixels down and ``dx`` right (negative: up / left) over ``target``
    (None: where the pointer is)."""

    dy: int
    dx: int = 0
    target: Target | None = None


@dataclass(frozen=True)
class TypeStep:
    """Type ``text`` into whatever has keyboard focus."""

    text: str


@dataclass(frozen=True)
class KeyStep:
    """Press the chord ``keys`` (canonical names, see :mod:`screenpilot.agent.keys`)."""

    keys: tuple[str, ...]


@dataclass(frozen=True)
class BackStep:
    """Browser: go back one page."""


@dataclass(frozen=True)
class TerminateStep:
    """End the replay with ``status`` and the final ``answer``."""

    status: Literal["success", "failure"] = "success"
    answer: str | None = None


ScriptAction: TypeAlias = (
    PointerStep | DragStep | ScrollStep | TypeStep | KeyStep | WaitStep | NavigateStep | BackStep | TerminateStep
)


@dataclass(frozen=True)
class ScriptStep:
    """One step of a replay script: its ``action`` and an optional ``note`` on its intent."""

    action: ScriptAction
    note: str | None = None


# --- checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrlCheck:
    """The page URL contains a match of the regular expression ``pattern``."""

    name: str
    pattern: str


@dataclass(frozen=True)
class SelectorCheck:
    """The elements matching CSS ``css``: every given condition must hold (text and state of the
    first match; ``count`` of all matches). Text is the rendered text, whitespace collapsed."""

    name: str
    css: str
    text_equals: str | None = None
    text_contains: str | None = None
    value: str | None = None
    checked: bool | None = None
    visible: bool | None = None
    count: int | None = None


@dataclass(frozen=True)
class JsCheck:
    """The JavaScript expression ``expr`` is truthy, or (``has_expected``) equals ``expected``
    as JSON values."""

    name: str
    expr: str
    expected: Any = None
    has_expected: bool = False


@dataclass(frozen=True)
class FileCheck:
    """The file ``path`` exists and, when given, its text equals / contains / matches."""

    name: str
    path: str
    equals: str | None = None
    contains: str | None = None
    regex: str | None = None


@dataclass(frozen=True)
class WindowTitleCheck:
    """A visible window (or the focused one) has a title matching the regex ``pattern``."""

    name: str
    pattern: str
    window: Literal["any", "focused"] = "any"


@dataclass(frozen=True)
class ScreenRegionCheck:
    """The image ``template`` appears on screen (inside ``region`` = left, top, width, height
    in screen pixels when given) with normalised correlation at least ``threshold``."""

    name: str
    template: Path
    region: tuple[int, int, int, int] | None = None
    threshold: float = DEFAULT_THRESHOLD


@dataclass(frozen=True)
class AnswerCheck:
    """The model's final answer matches ``expected``: ``exact``; ``normalized`` (case,
    whitespace and punctuation ignored); or ``json_fields`` (the answer is a JSON object whose
    dotted-path fields equal those in ``expected``)."""

    name: str
    expected: Any
    match: Literal["exact", "normalized", "json_fields"] = "normalized"


Check: TypeAlias = UrlCheck | SelectorCheck | JsCheck | FileCheck | WindowTitleCheck | ScreenRegionCheck | AnswerCheck


@dataclass(frozen=True)
class Budget:
    """At most ``max_steps`` model calls and ``time_limit_s`` seconds of wall time."""

    max_steps: int = DEFAULT_MAX_STEPS
    time_limit_s: float = DEFAULT_TIME_LIMIT_S


@dataclass(frozen=True)
class ScenarioSpec:
    """One validated scenario file (see the module docstring for the format)."""

    id: str
    instruction: str
    environment: Environment
    checks: tuple[Check, ...]
    source: Path
    setup: tuple[SetupStep, ...] = ()
    budget: Budget = field(default_factory=Budget)
    replies: tuple[str, ...] | None = None
    replies_source: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    steps: tuple[ScriptStep, ...] | None = None

    @property
    def needs_answer(self) -> bool:
        """Whether a check reads the model's final answer (the prompt then asks for one)."""
        return any(isinstance(c, AnswerCheck) for c in self.checks)

    @property
    def site(self) -> str | None:
        """The bundled site's name, if the scenario uses one."""
        env = self.environment
        return env.site if isinstance(env, BrowserEnvironment) else None


# --- sites ---------------------------------------------------------------------------------------


def available_sites(extra_dirs: Sequence[Path] = ()) -> list[str]:
    """Names of the sites found in ``extra_dirs`` and the bundled sites folder, sorted."""
    names: set[str] = set()
    for folder in (*extra_dirs, BUNDLED_SITES_DIR):
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return sorted(names)


def site_root(name: str, scenario_folder: Path) -> Path | None:
    """The folder of site ``name``: ``sites/NAME`` next to the scenario, else the bundled one;
    None when neither exists (a site folder must hold an index.html)."""
    for folder in (scenario_folder / "sites", BUNDLED_SITES_DIR):
        candidate = folder / name
        if candidate.is_dir() and (candidate / "index.html").is_file():
            return candidate
    return None
