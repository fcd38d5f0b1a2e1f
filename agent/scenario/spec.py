"""Scenario files: a task, where it runs, how it starts, its budget and how success is checked.

A scenario is a YAML file loaded into a frozen :class:`ScenarioSpec` by :func:`load_scenario`.
Every problem in a file raises :class:`ScenarioError` naming the file, the field as a dotted
path (``checks[2].equals``) and what is allowed there. Example::

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

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias, cast

import yaml

from screenpilot.agent.errors import ConfigError
from screenpilot.agent.keys import normalize_key, split_chord
from screenpilot.scenarios import SCENARIOS_DIR

BUNDLED_SITES_DIR = SCENARIOS_DIR / "sites"
"""Where the bundled sites live: one folder of static files per site."""

DEFAULT_VIEWPORT = (1280, 720)
DEFAULT_MAX_STEPS = 30
DEFAULT_TIME_LIMIT_S = 300.0
DEFAULT_THRESHOLD = 0.9
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class ScenarioError(ConfigError):
    """A scenario file is invalid. ``file`` and ``field`` (dotted path) locate the problem."""

    def __init__(self, file: Path | str, field_path: str, problem: str) -> None:
        self.file = str(file)
        self.field = field_path
        self.problem = problem
        where = f"{self.file}: {field_path}" if field_path else self.file
        super().__init__(f"{where}: {problem}")


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


# --- YAML reading --------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings and rejects duplicate keys."""


_StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _DuplicateKey(Exception):
    def __init__(self, key: object) -> None:
        super().__init__(key)
        self.key = key


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(loader.construct_pairs(node, deep=deep))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "", f"cannot read the file: {exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKey as exc:
        raise ScenarioError(path, str(exc.key), "the field appears twice; give it once") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "", f"not valid YAML: {exc}") from None


# --- validation helpers --------------------------------------------------------------------------


def _type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class _Reader:
    """Validation helpers bound to one file; ``path`` arguments are dotted field paths."""

    file: Path

    def fail(self, path: str, problem: str) -> ScenarioError:
        return ScenarioError(self.file, path, problem)

    def mapping(self, value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping (key: value lines), got {_type_name(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"field names must be strings, got {key!r}")
        return value

    def keys(self, data: Mapping[str, Any], path: str, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(_join(path, key), f"unknown field; allowed here: {', '.join(allowed)}")
        for key in required:
            if key not in data:
                raise self.fail(_join(path, key), "missing required field")

    def string(self, value: object, path: str, non_empty: bool = True) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, got {_type_name(value)}")
        if non_empty and not value.strip():
            raise self.fail(path, "expected a non-empty string")
        return value

    def text(self, value: object, path: str) -> str:
        """A string, or a number written without quotes (YAML reads ``42`` as an integer)."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(path, f"expected a string, got {_type_name(value)}")
        return str(value)

    def boolean(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {_type_name(value)}")
        return value

    def integer(self, value: object, path: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer >= {minimum}, got {_type_name(value)}")
        if value < minimum:
            raise self.fail(path, f"expected an integer >= {minimum}, got {value}")
        return value

    def number(self, value: object, path: str, low: float, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"expected a number, got {_type_name(value)}")
        if value < low or (high is not None and value > high):
            upper = f" and <= {high:g}" if high is not None else ""
            raise self.fail(path, f"expected a number >= {low:g}{upper}, got {value}")
        return float(value)

    def size(self, value: object, path: str) -> tuple[int, int]:
        """``WIDTHxHEIGHT`` or ``[width, height]``, both positive integers."""
        parts: list[object]
        if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*x\s*\d+\s*", value.lower()):
            parts = [int(p) for p in value.lower().split("x")]
        elif isinstance(value, list):
            parts = list(value)
        else:
            raise self.fail(path, f"expected WIDTHxHEIGHT (e.g. 1280x720) or [width, height], got {value!r}")
        if len(parts) != 2:
            raise self.fail(path, f"expected two numbers [width, height], got {value!r}")
        width, height = (self.integer(p, f"{path}[{i}]", 1) for i, p in enumerate(parts))
        return width, height

    def string_list(self, value: object, path: str) -> tuple[str, ...]:
        if isinstance(value, str):
            return (self.string(value, path),)
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of strings, got {_type_name(value)}")
        return tuple(self.string(item, f"{path}[{i}]") for i, item in enumerate(value))

    def regex(self, value: object, path: str) -> str:
        pattern = self.text(value, path)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise self.fail(path, f"not a valid regular expression: {exc}") from None
        return pattern

    def relative_file(self, value: object, path: str) -> Path:
        file = self.file.parent / self.string(value, path)
        if not file.is_file():
            raise self.fail(path, f"file not found: {file}")
        return file


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


# --- environment ---------------------------------------------------------------------------------


def available_sites(extra_dirs: Sequence[Path] = ()) -> list[str]:
    """Names of the sites found in ``extra_dirs`` and the bundled sites folder, sorted."""
    names: set[str] = set()
    for folder in (*extra_dirs, BUNDLED_SITES_DIR):
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return sorted(names)


def _site_root(r: _Reader, name: str, path: str) -> Path:
    """The folder of site ``name``: ``sites/NAME`` next to the scenario file, else bundled."""
    local = r.file.parent / "sites"
    for folder in (local, BUNDLED_SITES_DIR):
        candidate = folder / name
        if candidate.is_dir() and (candidate / "index.html").is_file():
            return candidate
    known = ", ".join(available_sites([local])) or "none"
    raise r.fail(path, f"unknown site {name!r}; available sites: {known}")


def _url(r: _Reader, value: object, path: str) -> str:
    """An absolute URL, or a file path relative to the scenario turned into a file:// URL."""
    text = r.string(value, path).strip()
    if _URL_SCHEME.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        return text
    file = (r.file.parent / text).resolve()
    if not file.exists():
        raise r.fail(path, f"{text!r} has no URL scheme (https://...) and is not a file next to the scenario "
                     f"({file} does not exist)")
    return file.as_uri()


def _browser(r: _Reader, value: object, path: str) -> BrowserEnvironment:
    data = r.mapping(value, path)
    r.keys(data, path, ("url", "site", "path", "viewport", "phone"))
    if ("url" in data) == ("site" in data):
        raise r.fail(path, "give exactly one of url (a web address) and site (a bundled site name)")
    viewport = r.size(data["viewport"], _join(path, "viewport")) if "viewport" in data else DEFAULT_VIEWPORT
    phone = _phone(r, data, path)
    if "url" in data:
        if "path" in data:
            raise r.fail(_join(path, "path"), "path goes with site; put the whole address in url")
        return BrowserEnvironment(url=_url(r, data["url"], _join(path, "url")), viewport=viewport, phone=phone)
    site = r.string(data["site"], _join(path, "site"))
    root = _site_root(r, site, _join(path, "site"))
    start = r.string(data.get("path", "/"), _join(path, "path"))
    if not start.startswith("/"):
        raise r.fail(_join(path, "path"), f"expected a path starting with '/', e.g. /index.html, got {start!r}")
    return BrowserEnvironment(site=site, site_root=root, path=start, viewport=viewport, phone=phone)


def _phone(r: _Reader, data: Mapping[str, Any], path: str) -> str | None:
    """The emulated phone of a browser environment (``phone: pixel-7``), or None."""
    if "phone" not in data:
        return None
    if "viewport" in data:
        raise r.fail(_join(path, "viewport"), "a phone brings its own screen size; give phone or viewport, not both")
    return r.string(data["phone"], _join(path, "phone"))


def _desktop(r: _Reader, value: object, path: str) -> DesktopEnvironment:
    data = r.mapping(value, path)
    r.keys(data, path, ("launch", "virtual_display"))
    launch = r.string_list(data.get("launch", []), _join(path, "launch"))
    size = data.get("virtual_display", list(DEFAULT_VIEWPORT))
    return DesktopEnvironment(launch=launch, virtual_display=r.size(size, _join(path, "virtual_display")))


def _environment(r: _Reader, value: object) -> Environment:
    data = r.mapping(value, "environment")
    r.keys(data, "environment", ("browser", "desktop"))
    if len(data) != 1:
        raise r.fail("environment", "give exactly one of browser and desktop")
    if "browser" in data:
        return _browser(r, data["browser"], "environment.browser")
    return _desktop(r, data["desktop"], "environment.desktop")


# --- setup ---------------------------------------------------------------------------------------

_BROWSER_ONLY_STEPS = ("navigate", "js")


def _setup_step(r: _Reader, value: object, path: str, env: Environment) -> SetupStep:
    data = r.mapping(value, path)
    kinds = ("navigate", "js", "file", "wait")
    r.keys(data, path, kinds)
    if len(data) != 1:
        raise r.fail(path, f"each setup step has exactly one of: {', '.join(kinds)}")
    kind, arg = next(iter(data.items()))
    where = _join(path, kind)
    if kind in _BROWSER_ONLY_STEPS and not isinstance(env, BrowserEnvironment):
        raise r.fail(where, f"{kind} steps need a browser environment")
    if kind == "navigate":
        return NavigateStep(r.string(arg, where))
    if kind == "js":
        return JsStep(r.string(arg, where))
    if kind == "wait":
        return WaitStep(r.number(arg, where, 0.0, 600.0))
    spec = r.mapping(arg, where)
    r.keys(spec, where, ("path", "content"), required=("path",))
    content = r.text(spec.get("content", ""), _join(where, "content"))
    return FileStep(r.string(spec["path"], _join(where, "path")), content)


# --- checks --------------------------------------------------------------------------------------

_CHECK_OPTIONS: dict[str, tuple[str, ...]] = {
    "url": (),
    "selector": ("text_equals", "text_contains", "value", "checked", "visible", "count"),
    "js": ("equals",),
    "file": ("equals", "contains", "regex"),
    "window_title": ("window",),
    "screen_region": ("region", "threshold"),
    "answer": ("match",),
}
_CHECK_ENVIRONMENT: dict[str, str] = {"url": "browser", "selector": "browser", "js": "browser",
                                      "window_title": "desktop"}


def _check_kind(r: _Reader, data: Mapping[str, Any], path: str) -> str:
    kinds = [k for k in data if k in _CHECK_OPTIONS]
    if len(kinds) != 1:
        found = f" (found {', '.join(kinds)})" if kinds else ""
        raise r.fail(path, f"each check has exactly one kind: {', '.join(_CHECK_OPTIONS)}{found}")
    kind = kinds[0]
    r.keys(data, path, ("name", kind, *_CHECK_OPTIONS[kind]))
    return kind


def _default_name(kind: str, value: object) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    shown = " ".join(str(shown).split())
    return f"{kind} {shown[:57] + '...' if len(shown) > 60 else shown}"


def _selector_check(r: _Reader, name: str, data: Mapping[str, Any], path: str) -> SelectorCheck:
    css = r.string(data["selector"], _join(path, "selector"))
    options = _CHECK_OPTIONS["selector"]
    if not any(k in data for k in options):
        raise r.fail(path, f"a selector check needs at least one of: {', '.join(options)}")
    def text(key: str) -> str | None:
        return r.text(data[key], _join(path, key)) if key in data else None

    def flag(key: str) -> bool | None:
        return r.boolean(data[key], _join(path, key)) if key in data else None

    count = r.integer(data["count"], _join(path, "count"), 0) if "count" in data else None
    return SelectorCheck(name, css, text_equals=text("text_equals"), text_contains=text("text_contains"),
                         value=text("value"), checked=flag("checked"), visible=flag("visible"), count=count)


def _file_check(r: _Reader, name: str, data: Mapping[str, Any], path: str) -> FileCheck:
    given = [k for k in ("equals", "contains", "regex") if k in data]
    if len(given) > 1:
        raise r.fail(path, "give at most one of equals, contains and regex")
    file_path = r.string(data["file"], _join(path, "file"))
    texts = {k: r.text(data[k], _join(path, k)) for k in ("equals", "contains") if k in data}
    pattern = r.regex(data["regex"], _join(path, "regex")) if "regex" in data else None
    return FileCheck(name, file_path, regex=pattern, **texts)


def _window_check(r: _Reader, name: str, data: Mapping[str, Any], path: str) -> WindowTitleCheck:
    window = data.get("window", "any")
    if window not in ("any", "focused"):
        raise r.fail(_join(path, "window"), f"expected any or focused, got {window!r}")
    return WindowTitleCheck(name, r.regex(data["window_title"], _join(path, "window_title")), window)


def _region_check(r: _Reader, name: str, data: Mapping[str, Any], path: str) -> ScreenRegionCheck:
    template = r.relative_file(data["screen_region"], _join(path, "screen_region"))
    region: tuple[int, int, int, int] | None = None
    if "region" in data:
        where = _join(path, "region")
        value = data["region"]
        if not isinstance(value, list) or len(value) != 4:
            raise r.fail(where, f"expected [left, top, width, height] in screen pixels, got {value!r}")
        left, top, width, height = (r.integer(v, f"{where}[{i}]", 0 if i < 2 else 1) for i, v in enumerate(value))
        region = (left, top, width, height)
    threshold = r.number(data.get("threshold", DEFAULT_THRESHOLD), _join(path, "threshold"), 0.0, 1.0)
    return ScreenRegionCheck(name, template, region, threshold)


def _answer_check(r: _Reader, name: str, data: Mapping[str, Any], path: str) -> AnswerCheck:
    match = data.get("match", "normalized")
    if match not in ("exact", "normalized", "json_fields"):
        raise r.fail(_join(path, "match"), f"expected exact, normalized or json_fields, got {match!r}")
    where = _join(path, "answer")
    if match == "json_fields":
        fields = r.mapping(data["answer"], where)
        if not fields:
            raise r.fail(where, "expected at least one field: value pair")
        return AnswerCheck(name, fields, "json_fields")
    return AnswerCheck(name, r.text(data["answer"], where), match)


def _check(r: _Reader, value: object, path: str, env: Environment) -> Check:
    data = r.mapping(value, path)
    kind = _check_kind(r, data, path)
    needed = _CHECK_ENVIRONMENT.get(kind)
    if needed is not None and needed != env.kind:
        raise r.fail(_join(path, kind), f"{kind} checks need a {needed} environment")
    name = r.string(data["name"], _join(path, "name")) if "name" in data else _default_name(kind, data[kind])
    builders: dict[str, Callable[[_Reader, str, Mapping[str, Any], str], Check]] = {
        "selector": _selector_check, "file": _file_check, "window_title": _window_check,
        "screen_region": _region_check, "answer": _answer_check,
    }
    if kind in builders:
        return builders[kind](r, name, data, path)
    if kind == "url":
        return UrlCheck(name, r.regex(data["url"], _join(path, "url")))
    expr = r.string(data["js"], _join(path, "js"))
    return JsCheck(name, expr, data.get("equals"), "equals" in data)


def _checks(r: _Reader, value: object, env: Environment) -> tuple[Check, ...]:
    if not isinstance(value, list) or not value:
        raise r.fail("checks", f"expected a non-empty list of checks, got {_type_name(value)}")
    checks = tuple(_check(r, item, f"checks[{i}]", env) for i, item in enumerate(value))
    names = [c.name for c in checks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise r.fail(f"checks[{i}].name", f"the name {name!r} is used twice; check names must be unique")
    return checks


# --- replay scripts ------------------------------------------------------------------------------

POINTER_VERBS: tuple[str, ...] = ("click", "double_click", "right_click", "move")
STEP_ACTIONS: tuple[str, ...] = (*POINTER_VERBS, "drag", "scroll", "type", "key", "wait", "navigate", "back",
                                 "terminate")
TARGET_KINDS: tuple[str, ...] = ("at", "text", "image", "selector")
TARGET_OPTIONS: tuple[str, ...] = ("offset", "threshold", "near")
_BARE_STEPS = ("back", "terminate")


def _int_pair(r: _Reader, value: object, path: str, minimum: int | None = None) -> tuple[int, int]:
    """``[x, y]``: two integers (each >= ``minimum`` when given)."""
    if not isinstance(value, list) or len(value) != 2:
        raise r.fail(path, f"expected [x, y] (two integers, screen pixels), got {value!r}")
    numbers: list[int] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int):
            raise r.fail(f"{path}[{index}]", f"expected an integer, got {_type_name(item)}")
        if minimum is not None and item < minimum:
            raise r.fail(f"{path}[{index}]", f"expected an integer >= {minimum}, got {item}")
        numbers.append(item)
    return numbers[0], numbers[1]


def _target(r: _Reader, data: Mapping[str, Any], path: str, env: Environment, required: bool) -> Target | None:
    """The target among ``data``'s keys (at / text / image / selector, with offset, threshold
    and near); None when there is none and it is not ``required``."""
    kinds = [k for k in TARGET_KINDS if k in data]
    if len(kinds) > 1:
        raise r.fail(path, f"give one target, not {' and '.join(kinds)}")
    if not kinds:
        if required:
            raise r.fail(path, f"this step needs a target: one of {', '.join(TARGET_KINDS)}")
        for option in TARGET_OPTIONS:
            if option in data:
                raise r.fail(_join(path, option), f"{option} goes with a target ({', '.join(TARGET_KINDS)})")
        return None
    kind = kinds[0]
    where = _join(path, kind)
    offset = _int_pair(r, data["offset"], _join(path, "offset")) if "offset" in data else (0, 0)
    near = _int_pair(r, data["near"], _join(path, "near"), 0) if "near" in data else None
    if kind == "at":
        for option in TARGET_OPTIONS:
            if option in data:
                raise r.fail(_join(path, option), "an 'at' target is a fixed point; it takes no " + option)
        return PointTarget(_int_pair(r, data["at"], where, 0))
    if kind == "selector":
        if env.kind != "browser":
            raise r.fail(where, "selector targets need a browser environment")
        if "threshold" in data:
            raise r.fail(_join(path, "threshold"), "a selector target takes no threshold")
        return SelectorTarget(r.string(data["selector"], where), offset, near)
    if kind == "text":
        similarity = r.number(data.get("threshold", DEFAULT_TEXT_SIMILARITY), _join(path, "threshold"), 0.0, 1.0)
        return TextTarget(r.text(data["text"], where), similarity, offset, near)
    threshold = r.number(data.get("threshold", DEFAULT_IMAGE_THRESHOLD), _join(path, "threshold"), 0.0, 1.0)
    return ImageTarget(r.relative_file(data["image"], where), threshold, offset, near)


def _pointer_step(r: _Reader, verb: str, arg: object, path: str, env: Environment) -> PointerStep:
    data = r.mapping(arg, path)
    r.keys(data, path, (*TARGET_KINDS, *TARGET_OPTIONS))
    target = _target(r, data, path, env, required=True)
    if target is None:  # required=True raised already
        raise r.fail(path, "missing target")
    return PointerStep(cast(PointerVerb, verb), target)


def _drag_step(r: _Reader, arg: object, path: str, env: Environment) -> DragStep:
    data = r.mapping(arg, path)
    r.keys(data, path, (*TARGET_KINDS, *TARGET_OPTIONS, "by", "to"))
    if ("by" in data) == ("to" in data):
        raise r.fail(path, "give exactly one of by: [dx, dy] (from the start) and to: [x, y] (screen pixels)")
    target = _target(r, data, path, env, required=False)
    if "by" in data:
        if target is None:
            raise r.fail(_join(path, "by"), "by is relative to the drag's start: give a target (where the drag "
                         "starts) or an end point to: [x, y]")
        return DragStep(target, by=_int_pair(r, data["by"], _join(path, "by")))
    return DragStep(target, to=_int_pair(r, data["to"], _join(path, "to"), 0))


def _scroll_step(r: _Reader, arg: object, path: str, env: Environment) -> ScrollStep:
    data = r.mapping(arg, path)
    r.keys(data, path, ("dy", "dx", *TARGET_KINDS, *TARGET_OPTIONS))
    amounts = {}
    for key in ("dy", "dx"):
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise r.fail(_join(path, key), f"expected an integer number of pixels, got {_type_name(value)}")
        amounts[key] = value
    if not (amounts["dy"] or amounts["dx"]):
        raise r.fail(path, "give dy (pixels down; negative: up) or dx (pixels right), not both zero")
    return ScrollStep(amounts["dy"], amounts["dx"], _target(r, data, path, env, required=False))


def _key_step(r: _Reader, arg: object, path: str) -> KeyStep:
    names = split_chord(r.string(arg, path)) if isinstance(arg, str) else list(r.string_list(arg, path))
    keys: list[str] = []
    for index, name in enumerate(names):
        key = normalize_key(name)
        if key is None:
            where = path if isinstance(arg, str) else f"{path}[{index}]"
            raise r.fail(where, f"unknown key {name!r}; use names like ctrl, shift, enter, tab, escape, pagedown, f5 "
                         "or one character")
        keys.append(key)
    if not keys:
        raise r.fail(path, "expected at least one key")
    return KeyStep(tuple(keys))


def _terminate_step(r: _Reader, arg: object, path: str) -> TerminateStep:
    data: Mapping[str, Any] = {"status": arg} if arg is None or isinstance(arg, str) else r.mapping(arg, path)
    r.keys(data, path, ("status", "answer"))
    status = data.get("status") or "success"
    if status not in ("success", "failure"):
        raise r.fail(_join(path, "status") if isinstance(arg, dict) else path,
                     f"expected success or failure, got {status!r}")
    answer = r.text(data["answer"], _join(path, "answer")) if data.get("answer") is not None else None
    return TerminateStep(cast(Literal["success", "failure"], status), answer)


def _simple_step(r: _Reader, kind: str, arg: object, path: str) -> ScriptAction:
    """The steps without a target: type, key, wait, navigate, back, terminate."""
    if kind == "type":
        return TypeStep(r.text(arg, path))
    if kind == "key":
        return _key_step(r, arg, path)
    if kind == "wait":
        return WaitStep(r.number(arg, path, 0.0, 600.0))
    if kind == "navigate":
        return NavigateStep(r.string(arg, path))
    if kind == "back":
        if arg not in (None, True, {}):
            raise r.fail(path, "back takes no argument (write the step as: - back)")
        return BackStep()
    return _terminate_step(r, arg, path)


def _script_action(r: _Reader, kind: str, arg: object, path: str, env: Environment) -> ScriptAction:
    if kind in ("navigate", "back") and env.kind != "browser":
        raise r.fail(path, f"{kind} steps need a browser environment")
    if kind in POINTER_VERBS:
        return _pointer_step(r, kind, arg, path, env)
    if kind == "drag":
        return _drag_step(r, arg, path, env)
    if kind == "scroll":
        return _scroll_step(r, arg, path, env)
    return _simple_step(r, kind, arg, path)


def _script_step(r: _Reader, value: object, path: str, env: Environment) -> ScriptStep:
    if isinstance(value, str) and value in _BARE_STEPS:
        value = {value: None}
    data = r.mapping(value, path)
    r.keys(data, path, (*STEP_ACTIONS, "note"))
    kinds = [k for k in data if k != "note"]
    if len(kinds) != 1:
        found = f" (found {', '.join(kinds)})" if kinds else ""
        raise r.fail(path, f"each step has exactly one action: {', '.join(STEP_ACTIONS)}{found}")
    note = r.string(data["note"], _join(path, "note")) if "note" in data else None
    return ScriptStep(_script_action(r, kinds[0], data[kinds[0]], _join(path, kinds[0]), env), note)


def _script(r: _Reader, value: object, env: Environment) -> tuple[ScriptStep, ...]:
    if not isinstance(value, list) or not value:
        raise r.fail("steps", f"expected a non-empty list of steps, got {_type_name(value)}")
    return tuple(_script_step(r, item, f"steps[{i}]", env) for i, item in enumerate(value))


# --- top level -----------------------------------------------------------------------------------

TOP_LEVEL_FIELDS = ("id", "instruction", "description", "tags", "environment", "setup", "budget", "checks", "replies",
                    "steps")


def _budget(r: _Reader, value: object) -> Budget:
    data = r.mapping(value, "budget")
    r.keys(data, "budget", ("max_steps", "time_limit_s"))
    steps = r.integer(data.get("max_steps", DEFAULT_MAX_STEPS), "budget.max_steps", 1)
    seconds = r.number(data.get("time_limit_s", DEFAULT_TIME_LIMIT_S), "budget.time_limit_s", 0.001)
    return Budget(steps, seconds)


def _replies(r: _Reader, value: object) -> tuple[tuple[str, ...], str]:
    if isinstance(value, list):
        return tuple(r.string(item, f"replies[{i}]", non_empty=False) for i, item in enumerate(value)), "inline"
    file = r.file.parent / r.string(value, "replies")
    if not file.is_file():
        raise r.fail("replies", f"replies file not found: {file} (expected a JSON list of reply strings, or "
                     "an inline YAML list)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise r.fail("replies", f"cannot read {file} as JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise r.fail("replies", f"{file} must hold a JSON list of reply strings")
    return tuple(data), str(file)


def scenario_from_mapping(data: object, file: Path) -> ScenarioSpec:
    """Validate parsed YAML ``data`` of scenario ``file``; raises :class:`ScenarioError`."""
    r = _Reader(file)
    top = r.mapping(data, "")
    r.keys(top, "", TOP_LEVEL_FIELDS, required=("instruction", "environment", "checks"))
    scenario_id = r.string(top.get("id", file.stem), "id")
    if not _ID_PATTERN.match(scenario_id):
        raise r.fail("id", f"expected letters, digits, '_', '-' or '.', got {scenario_id!r}")
    env = _environment(r, top["environment"])
    setup_data = top.get("setup", [])
    if not isinstance(setup_data, list):
        raise r.fail("setup", f"expected a list of steps, got {_type_name(setup_data)}")
    setup = tuple(_setup_step(r, step, f"setup[{i}]", env) for i, step in enumerate(setup_data))
    if "replies" in top and "steps" in top:
        raise r.fail("steps", "give replies (scripted model replies) or steps (a replay script), not both")
    replies, replies_source = _replies(r, top["replies"]) if "replies" in top else (None, None)
    return ScenarioSpec(
        id=scenario_id,
        instruction=r.string(top["instruction"], "instruction").strip(),
        environment=env,
        checks=_checks(r, top["checks"], env),
        source=file,
        setup=setup,
        budget=_budget(r, top["budget"]) if "budget" in top else Budget(),
        replies=replies,
        replies_source=replies_source,
        description=r.string(top.get("description", ""), "description", non_empty=False),
        tags=r.string_list(top.get("tags", []), "tags"),
        steps=_script(r, top["steps"], env) if "steps" in top else None,
    )


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read and validate the scenario file ``path``; raises :class:`ScenarioError`."""
    file = Path(path)
    return scenario_from_mapping(_read_yaml(file), file)


def scenario_files(folder: Path) -> list[Path]:
    """The scenario files (``*.yaml``, ``*.yml``) directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
