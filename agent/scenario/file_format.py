"""The scenario file format as pydantic models: how a YAML file becomes a :class:`ScenarioSpec`.

The format itself is described in :mod:`screenpilot.agent.scenario.spec`. Each ``*File`` model
below is one part of a file; it validates that part (types, shorthands, cross-field rules) and
builds the frozen dataclass the rest of screenpilot uses. :func:`scenario_json_schema` is the
same models as JSON Schema, for editors.

Validators see ``info.context``: ``folder`` (relative files resolve against it), ``stem`` (the
default id) and, once the environment is validated, ``environment`` (``browser`` or
``desktop``), which later fields use to refuse browser-only steps in a desktop scenario.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import Self

from screenpilot.agent.config_files import (
    FileModel,
    NonEmpty,
    Pixels,
    Text,
    list_as_tuple,
    problem,
    read_yaml,
    type_name,
    union_tag,
    validate_file,
)
from screenpilot.agent.frame import MAX_SCREEN_SIDE
from screenpilot.agent.keys import normalize_key, split_chord
from screenpilot.agent.scenario.spec import (
    DEFAULT_IMAGE_THRESHOLD,
    DEFAULT_MAX_STEPS,
    DEFAULT_TEXT_SIMILARITY,
    DEFAULT_THRESHOLD,
    DEFAULT_TIME_LIMIT_S,
    DEFAULT_VIEWPORT,
    AnswerCheck,
    BackStep,
    BrowserEnvironment,
    Budget,
    Check,
    DesktopEnvironment,
    DragStep,
    Environment,
    FileCheck,
    FileStep,
    ImageTarget,
    JsCheck,
    JsStep,
    KeyStep,
    NavigateStep,
    PointerStep,
    PointerVerb,
    PointTarget,
    ScenarioError,
    ScenarioSpec,
    ScreenRegionCheck,
    ScriptAction,
    ScriptStep,
    ScrollStep,
    SelectorCheck,
    SelectorTarget,
    SetupStep,
    Target,
    TerminateStep,
    TextTarget,
    TypeStep,
    UrlCheck,
    WaitStep,
    WindowTitleCheck,
    available_sites,
    site_root,
)

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _ExactlyOne(FileModel):
    """A file model whose mapping holds exactly one of ``one_of`` (checked before the values)."""

    one_of: ClassVar[tuple[str, ...]] = ()
    one_of_problem: ClassVar[str] = "give exactly one of {names}"
    """Formatted with ``names`` (comma-separated) and ``found`` (" (found a, b)" or "")."""
    bare: ClassVar[tuple[str, ...]] = ()
    """The fields of ``one_of`` that may be given without a value (``- back``)."""
    browser_only: ClassVar[tuple[str, ...]] = ()
    """The fields of ``one_of`` refused in a desktop scenario."""

    @classmethod
    def check_shape(cls, data: Mapping[str, Any]) -> None:
        given = [k for k in cls.one_of if k in data]
        if len(given) != 1:
            found = f" (found {', '.join(given)})" if given else ""
            raise problem(cls.one_of_problem.format(names=", ".join(cls.one_of), found=found))
        if data[given[0]] is None and given[0] not in cls.bare:
            raise problem("expected a value, got nothing (null)", given[0])

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: Any) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["oneOf"] = [{"required": [name]} for name in cls.one_of]
        for name in set(cls.one_of) - set(cls.bare):  # the Python default None is not a value to write
            field = schema["properties"][name]
            field["anyOf"] = [choice for choice in field.get("anyOf", []) if choice != {"type": "null"}]
            if len(field["anyOf"]) == 1:
                field.update(field.pop("anyOf")[0])
            field.pop("default", None)
        return schema

    @model_validator(mode="after")
    def _browser_only(self, info: ValidationInfo) -> Self:
        if self.chosen() in self.browser_only:
            _needs_browser(info, f"{self.chosen()} steps", self.chosen())
        return self

    def chosen(self) -> str:
        """The one field of ``one_of`` the file gave."""
        return next(name for name in self.one_of if name in self.model_fields_set)


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context if isinstance(info.context, dict) else {}


def _needs_browser(info: ValidationInfo, what: str, field: str) -> None:
    """Refuse ``what`` (e.g. "navigate steps") when the scenario's environment is not a browser."""
    kind = _context(info).get("environment")
    if kind is not None and kind != "browser":
        raise problem(f"{what} need a browser environment", field)


# --- value types ------------------------------------------------------------------------------


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise problem(f"not a valid regular expression: {exc}") from None
    return pattern


def _size(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*x\s*\d+\s*", value.lower()):
        return tuple(int(part) for part in value.lower().split("x"))
    if isinstance(value, list) and len(value) == 2:
        return tuple(value)
    raise problem(f"expected WIDTHxHEIGHT (e.g. 1280x720) or [width, height], got {value!r}")


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else value


def _relative_file(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise problem(f"expected a file name, got {type_name(value)}")
    file = Path(_context(info).get("folder", ".")) / value
    if not file.is_file():
        raise problem(f"file not found: {file}")
    return file


def _url(value: Any, info: ValidationInfo) -> Any:
    """An absolute URL as it is; a file path relative to the scenario as a file:// URL."""
    if not isinstance(value, str) or not value.strip():
        return value
    text = value.strip()
    if _URL_SCHEME.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        return text
    file = (Path(_context(info).get("folder", ".")) / text).resolve()
    if not file.exists():
        raise problem(f"{text!r} has no URL scheme (https://...) and is not a file next to the scenario "
                      f"({file} does not exist)")
    return file.as_uri()


def _keys(value: Any) -> Any:
    names = split_chord(value) if isinstance(value, str) else value if isinstance(value, list) else None
    if names is None:
        raise problem(f"expected a chord like ctrl+a or a list of key names, got {type_name(value)}")
    keys = []
    for index, name in enumerate(names):
        key = normalize_key(name) if isinstance(name, str) else None
        if key is None:
            raise problem(f"unknown key {name!r}; use names like ctrl, shift, enter, tab, escape, pagedown, f5 "
                          "or one character", None if isinstance(value, str) else index)
        keys.append(key)
    if not keys:
        raise problem("expected at least one key")
    return tuple(keys)


Regex = Annotated[Text, AfterValidator(_compiles)]
Seconds = Annotated[float, Field(ge=0, le=600)]
Fraction = Annotated[float, Field(ge=0, le=1)]
_SIZE_TEXT = Annotated[str, Field(pattern=r"^\s*\d+\s*[xX]\s*\d+\s*$")]
Side = Annotated[int, Field(ge=1, le=MAX_SCREEN_SIDE)]
Size = Annotated[tuple[Side, Side],
                 BeforeValidator(_size, json_schema_input_type=_SIZE_TEXT | list[int])]
Point = Annotated[tuple[Pixels, Pixels],
                  BeforeValidator(list_as_tuple(2, "[x, y] (two integers, screen pixels)"),
                                  json_schema_input_type=list[int])]
Offset = Annotated[tuple[int, int], BeforeValidator(list_as_tuple(2, "[dx, dy] (two integers, screen pixels)"),
                                                    json_schema_input_type=list[int])]
Rectangle = Annotated[tuple[Pixels, Pixels, Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]],
                      BeforeValidator(list_as_tuple(4, "[left, top, width, height] in screen pixels"),
                                      json_schema_input_type=list[int])]
Strings = Annotated[tuple[NonEmpty, ...], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]
RelativeFile = Annotated[Path, BeforeValidator(_relative_file, json_schema_input_type=str)]
Url = Annotated[NonEmpty, BeforeValidator(_url)]
Keys = Annotated[tuple[str, ...], BeforeValidator(_keys, json_schema_input_type=str | list[str])]


# --- environment ------------------------------------------------------------------------------


class BrowserFile(_ExactlyOne):
    """A Chromium page: a bundled site or an address."""

    one_of = ("url", "site")
    one_of_problem = "give exactly one of url (a web address) and site (a bundled site name)"

    url: Url | None = None
    """An absolute address (https://...) or an HTML file next to the scenario."""
    site: NonEmpty | None = None
    """A bundled site (sites/NAME next to the scenario, else screenpilot's own), served on 127.0.0.1."""
    path: NonEmpty = "/"
    """Where the site opens, e.g. /index.html (site only)."""
    viewport: Size = DEFAULT_VIEWPORT
    """The page size in CSS pixels: WIDTHxHEIGHT or [width, height]."""
    phone: NonEmpty | None = None
    """An emulated phone instead of a viewport: a Playwright device name or slug (pixel-7, iphone-13)."""

    @field_validator("site")
    @classmethod
    def _site_exists(cls, name: str, info: ValidationInfo) -> str:
        folder = Path(_context(info).get("folder", "."))
        if site_root(name, folder) is None:
            known = ", ".join(available_sites([folder / "sites"])) or "none"
            raise problem(f"unknown site {name!r}; available sites: {known}")
        return name

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, path: str) -> str:
        if not path.startswith("/"):
            raise problem(f"expected a path starting with '/', e.g. /index.html, got {path!r}")
        return path

    @model_validator(mode="after")
    def _combinations(self) -> Self:
        if self.url is not None and "path" in self.model_fields_set:
            raise problem("path goes with site; put the whole address in url", "path")
        if self.phone is not None and "viewport" in self.model_fields_set:
            raise problem("a phone brings its own screen size; give phone or viewport, not both", "viewport")
        return self

    def build(self, folder: Path) -> BrowserEnvironment:
        if self.site is None:
            return BrowserEnvironment(url=self.url, viewport=self.viewport, phone=self.phone)
        return BrowserEnvironment(site=self.site, site_root=site_root(self.site, folder), path=self.path,
                                  viewport=self.viewport, phone=self.phone)


class DesktopFile(FileModel):
    """An X11 desktop on a virtual display."""

    launch: Strings = ()
    """Commands started on the display, in order; {workdir} is the episode's work folder."""
    virtual_display: Size = DEFAULT_VIEWPORT
    """The screen size in pixels: WIDTHxHEIGHT or [width, height]."""

    def build(self) -> DesktopEnvironment:
        return DesktopEnvironment(self.launch, self.virtual_display)


class EnvironmentFile(_ExactlyOne):
    """Where the scenario runs: exactly one of browser and desktop."""

    one_of = ("browser", "desktop")
    one_of_problem = "give exactly one of browser and desktop"

    browser: BrowserFile | None = None
    desktop: DesktopFile | None = None

    def build(self, folder: Path) -> Environment:
        if self.browser is not None:
            return self.browser.build(folder)
        return (self.desktop or DesktopFile()).build()


# --- setup ------------------------------------------------------------------------------------


class FileContentFile(FileModel):
    """A text file to create."""

    path: NonEmpty
    """Relative paths are in the episode's work folder."""
    content: Text = ""


class SetupStepFile(_ExactlyOne):
    """One setup step, run before the model's first step."""

    one_of = ("navigate", "js", "file", "wait")
    one_of_problem = "each setup step has exactly one of: {names}"
    browser_only = ("navigate", "js")

    navigate: NonEmpty | None = None
    """Browser: open this URL (relative URLs resolve against the site)."""
    js: NonEmpty | None = None
    """Browser: run this JavaScript in the page."""
    file: FileContentFile | None = None
    """Create a text file (before the environment starts)."""
    wait: Seconds | None = None
    """Sleep this many seconds."""

    def build(self) -> SetupStep:
        if self.navigate is not None:
            return NavigateStep(self.navigate)
        if self.js is not None:
            return JsStep(self.js)
        if self.file is not None:
            return FileStep(self.file.path, self.file.content)
        return WaitStep(float(self.wait or 0))


# --- checks -----------------------------------------------------------------------------------


def _default_name(kind: str, value: object) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    shown = " ".join(str(shown).split())
    return f"{kind} {shown[:57] + '...' if len(shown) > 60 else shown}"


class CheckFile(FileModel):
    """A success check: ``kind`` is its one kind key; ``needs`` the environment it needs."""

    kind: ClassVar[str] = ""
    needs: ClassVar[str | None] = None

    name: NonEmpty = ""
    """Shown in reports (default: the kind and its value as written); unique within the scenario."""

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "name" not in data and cls.kind in data:
            return {"name": _default_name(cls.kind, data[cls.kind]), **data}
        return data

    @model_validator(mode="after")
    def _environment_fits(self, info: ValidationInfo) -> Self:
        env = _context(info).get("environment")
        if self.needs is not None and env is not None and env != self.needs:
            raise problem(f"{self.kind} checks need a {self.needs} environment", self.kind)
        return self

    def build(self) -> Check:
        """The check this part of the file describes."""
        raise NotImplementedError


class UrlCheckFile(CheckFile):
    """Browser: the page URL contains a match of a regular expression."""

    kind, needs = "url", "browser"
    url: Regex
    """A regular expression searched in the page URL."""

    def build(self) -> Check:
        return UrlCheck(self.name, self.url)


class SelectorCheckFile(CheckFile):
    """Browser: the elements matching a CSS selector meet every condition given (at least one)."""

    kind, needs = "selector", "browser"
    selector: NonEmpty
    """CSS; the conditions below hold for the first match (count: all matches)."""
    text_equals: Text | None = None
    text_contains: Text | None = None
    value: Text | None = None
    checked: bool | None = None
    visible: bool | None = None
    count: Pixels | None = None

    @model_validator(mode="after")
    def _has_a_condition(self) -> Self:
        options = ("text_equals", "text_contains", "value", "checked", "visible", "count")
        if not self.model_fields_set & set(options):
            raise problem(f"a selector check needs at least one of: {', '.join(options)}")
        return self

    def build(self) -> Check:
        return SelectorCheck(self.name, self.selector, self.text_equals, self.text_contains, self.value, self.checked,
                             self.visible, self.count)


class JsCheckFile(CheckFile):
    """Browser: a JavaScript expression is truthy, or equals ``equals`` as JSON."""

    kind, needs = "js", "browser"
    js: NonEmpty
    """A JavaScript expression evaluated in the page."""
    equals: Any = None
    """The expected value (JSON equality); without it the value must be truthy."""

    def build(self) -> Check:
        return JsCheck(self.name, self.js, self.equals, "equals" in self.model_fields_set)


class FileCheckFile(CheckFile):
    """A file exists and, when given, its text equals / contains / matches."""

    kind = "file"
    file: NonEmpty
    """The file (relative: in the episode's work folder); with no condition it must exist."""
    equals: Text | None = None
    contains: Text | None = None
    regex: Regex | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> Self:
        if len(self.model_fields_set & {"equals", "contains", "regex"}) > 1:
            raise problem("give at most one of equals, contains and regex")
        return self

    def build(self) -> Check:
        return FileCheck(self.name, self.file, self.equals, self.contains, self.regex)


class WindowTitleCheckFile(CheckFile):
    """Desktop: a visible window (or the focused one) has a title matching a regular expression."""

    kind, needs = "window_title", "desktop"
    window_title: Regex
    """A regular expression searched in window titles."""
    window: Literal["any", "focused"] = "any"

    def build(self) -> Check:
        return WindowTitleCheck(self.name, self.window_title, self.window)


class ScreenRegionCheckFile(CheckFile):
    """A template image appears on screen (in ``region`` when given)."""

    kind = "screen_region"
    screen_region: RelativeFile
    """A template image (next to the scenario) that must appear on screen."""
    region: Rectangle | None = None
    """Where to look: [left, top, width, height] in screen pixels (default: the whole screen)."""
    threshold: Fraction = DEFAULT_THRESHOLD
    """The lowest normalised correlation accepted, 0-1."""

    def build(self) -> Check:
        return ScreenRegionCheck(self.name, self.screen_region, self.region, self.threshold)


class AnswerCheckFile(CheckFile):
    """The model's final answer matches."""

    kind = "answer"
    answer: Annotated[Any, Field(json_schema_extra={"type": ["string", "number", "object"]})]
    """The expected final answer (json_fields: a mapping of dotted paths to values)."""
    match: Literal["exact", "normalized", "json_fields"] = "normalized"
    """normalized ignores case, whitespace and punctuation."""

    @model_validator(mode="after")
    def _answer_fits_match(self) -> Self:
        if self.match == "json_fields":
            if not isinstance(self.answer, dict) or not self.answer:
                raise problem("expected at least one field: value pair", "answer")
        elif isinstance(self.answer, bool) or not isinstance(self.answer, str | int | float):
            raise problem(f"expected a string, got {type_name(self.answer)}", "answer")
        return self

    def build(self) -> Check:
        expected = self.answer if self.match == "json_fields" else str(self.answer)
        return AnswerCheck(self.name, expected, self.match)


_CHECK_FILES: tuple[type[CheckFile], ...] = (UrlCheckFile, SelectorCheckFile, JsCheckFile, FileCheckFile,
                                             WindowTitleCheckFile, ScreenRegionCheckFile, AnswerCheckFile)
CHECK_KINDS = tuple(model.kind for model in _CHECK_FILES)


def _check_kind(value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise problem(f"expected a mapping (key: value lines), got {type_name(value)}")
    kinds = [k for k in CHECK_KINDS if k in value]
    if len(kinds) != 1:
        found = f" (found {', '.join(kinds)})" if kinds else ""
        raise problem(f"each check has exactly one kind: {', '.join(CHECK_KINDS)}{found}")
    return value


def _check_tag(value: Any) -> str | None:
    kinds = [k for k in CHECK_KINDS if k in value] if isinstance(value, Mapping) else []
    return union_tag(kinds[0]) if kinds else None


AnyCheckFile = Annotated[
    Annotated[UrlCheckFile, Tag(union_tag("url"))] | Annotated[SelectorCheckFile, Tag(union_tag("selector"))]
    | Annotated[JsCheckFile, Tag(union_tag("js"))] | Annotated[FileCheckFile, Tag(union_tag("file"))]
    | Annotated[WindowTitleCheckFile, Tag(union_tag("window_title"))]
    | Annotated[ScreenRegionCheckFile, Tag(union_tag("screen_region"))]
    | Annotated[AnswerCheckFile, Tag(union_tag("answer"))],
    Discriminator(_check_tag), BeforeValidator(_check_kind),
]


# --- replay scripts ---------------------------------------------------------------------------

TARGET_KINDS = ("at", "text", "image", "selector")


class TargetFields(FileModel):
    """Where a pointer step acts: one of at / text / image / selector, and options."""

    at: Point | None = None
    """A fixed point [x, y] in screen pixels."""
    text: Text | None = None
    """Words found by OCR."""
    image: RelativeFile | None = None
    """A template image next to the scenario."""
    selector: NonEmpty | None = None
    """Browser: the centre of the first element matching this CSS."""
    offset: Offset | None = None
    """[dx, dy] screen pixels from the found target's centre to the action point."""
    threshold: Fraction | None = None
    """text: the lowest similarity (default 0.8); image: the lowest match score (default 0.85)."""
    near: Point | None = None
    """Where the target was when recorded, [x, y] screen pixels."""

    @model_validator(mode="after")
    def _one_target(self, info: ValidationInfo) -> Self:
        kinds = [k for k in TARGET_KINDS if k in self.model_fields_set]
        if len(kinds) > 1:
            raise problem(f"give one target, not {' and '.join(kinds)}")
        options = [k for k in ("offset", "threshold", "near") if k in self.model_fields_set]
        if not kinds and options:
            raise problem(f"{options[0]} goes with a target ({', '.join(TARGET_KINDS)})", options[0])
        if kinds == ["at"] and options:
            raise problem(f"an 'at' target is a fixed point; it takes no {options[0]}", options[0])
        if kinds == ["selector"]:
            _needs_browser(info, "selector targets", "selector")
            if "threshold" in options:
                raise problem("a selector target takes no threshold", "threshold")
        return self

    def target(self) -> Target | None:
        offset = self.offset or (0, 0)
        if self.at is not None:
            return PointTarget(self.at)
        if self.text is not None:
            similarity = DEFAULT_TEXT_SIMILARITY if self.threshold is None else self.threshold
            return TextTarget(self.text, similarity, offset, self.near)
        if self.image is not None:
            score = DEFAULT_IMAGE_THRESHOLD if self.threshold is None else self.threshold
            return ImageTarget(self.image, score, offset, self.near)
        if self.selector is not None:
            return SelectorTarget(self.selector, offset, self.near)
        return None


class PointerFile(TargetFields):
    """Click, double-click, right-click or move: a target is required."""

    @model_validator(mode="after")
    def _has_target(self) -> Self:
        if not self.model_fields_set & set(TARGET_KINDS):
            raise problem(f"this step needs a target: one of {', '.join(TARGET_KINDS)}")
        return self


class DragFile(TargetFields, _ExactlyOne):
    """Hold the left button from the target (none: the pointer) to ``to`` or ``by`` away."""

    one_of = ("by", "to")
    one_of_problem = "give exactly one of by: [dx, dy] (from the start) and to: [x, y] (screen pixels)"

    by: Offset | None = None
    """The end point relative to the start, [dx, dy] screen pixels (needs a target)."""
    to: Point | None = None
    """The end point [x, y] in screen pixels (no target: the drag starts at the pointer)."""

    @model_validator(mode="after")
    def _by_needs_a_start(self) -> Self:
        if self.by is not None and self.target() is None:
            raise problem("by is relative to the drag's start: give a target (where the drag starts) or an end "
                          "point to: [x, y]", "by")
        return self


class ScrollFile(TargetFields):
    """Scroll over the target (none: where the pointer is)."""

    dy: int = 0
    """Pixels down (negative: up)."""
    dx: int = 0
    """Pixels right (negative: left)."""

    @model_validator(mode="after")
    def _moves(self) -> Self:
        if not (self.dy or self.dx):
            raise problem("give dy (pixels down; negative: up) or dx (pixels right), not both zero")
        return self


class TerminateFile(FileModel):
    """End the replay with a status and an optional answer."""

    status: Literal["success", "failure"] = "success"
    answer: Text | None = None
    """The final answer."""


def _terminate_shorthand(value: Any) -> Any:
    if value is None or isinstance(value, str):
        if value not in (None, "success", "failure"):
            raise problem(f"expected success or failure, got {value!r}")
        return {"status": value or "success"}
    return value


def _no_argument(value: Any) -> None:
    if value not in (None, True, {}):
        raise problem("back takes no argument (write the step as: - back)")


POINTER_VERBS = ("click", "double_click", "right_click", "move")
BARE_STEPS = ("back", "terminate")


class StepFile(_ExactlyOne):
    """One replay step: exactly one action, and an optional note."""

    one_of = (*POINTER_VERBS, "drag", "scroll", "type", "key", "wait", "navigate", "back", "terminate")
    one_of_problem = "each step has exactly one action: {names}{found}"
    bare = ("back", "terminate")
    browser_only = ("navigate", "back")

    click: PointerFile | None = None
    double_click: PointerFile | None = None
    right_click: PointerFile | None = None
    move: PointerFile | None = None
    drag: DragFile | None = None
    scroll: ScrollFile | None = None
    type: Text | None = None
    """Text typed into whatever has keyboard focus."""
    key: Keys | None = None
    """A chord, e.g. ctrl+a, or a list of key names."""
    wait: Seconds | None = None
    navigate: NonEmpty | None = None
    """Browser: a URL (relative: against the site or start URL)."""
    back: Annotated[None, BeforeValidator(_no_argument, json_schema_input_type=Literal[True] | None)] = None
    """Browser: history back."""
    terminate: Annotated[TerminateFile, BeforeValidator(_terminate_shorthand,
                                                        json_schema_input_type=Literal["success", "failure"]
                                                        | TerminateFile)] | None = None
    """End the replay: success, failure, or {status, answer}."""
    note: NonEmpty | None = None
    """The step's intent, shown to a fallback model when the target is lost."""

    def build(self) -> ScriptStep:
        kind = self.chosen()
        action: ScriptAction
        pointer = getattr(self, kind) if kind in POINTER_VERBS else None
        if isinstance(pointer, PointerFile):
            target = pointer.target()
            assert target is not None  # PointerFile requires one
            action = PointerStep(cast(PointerVerb, kind), target)
        elif self.drag is not None:
            action = DragStep(self.drag.target(), self.drag.by, self.drag.to)
        elif self.scroll is not None:
            action = ScrollStep(self.scroll.dy, self.scroll.dx, self.scroll.target())
        elif kind == "type":
            action = TypeStep(self.type or "")
        elif kind == "key":
            action = KeyStep(self.key or ())
        elif kind == "wait":
            action = WaitStep(float(self.wait or 0))
        elif kind == "navigate":
            action = NavigateStep(self.navigate or "")
        elif kind == "back":
            action = BackStep()
        else:
            end = self.terminate or TerminateFile()
            action = TerminateStep(end.status, end.answer)
        return ScriptStep(action, self.note)


def _bare_step(value: Any) -> Any:
    return {value: None} if isinstance(value, str) and value in BARE_STEPS else value


StepItem = Annotated[StepFile, BeforeValidator(_bare_step, json_schema_input_type=StepFile
                                               | Literal["back", "terminate"])]


# --- top level --------------------------------------------------------------------------------


def _scenario_id(value: str) -> str:
    if not _ID_PATTERN.match(value):
        raise problem(f"expected letters, digits, '_', '-' or '.', got {value!r}")
    return value


class BudgetFile(FileModel):
    """How much the episode may spend."""

    max_steps: Annotated[int, Field(ge=1)] = DEFAULT_MAX_STEPS
    """At most this many model calls."""
    time_limit_s: Annotated[float, Field(ge=0.001)] = DEFAULT_TIME_LIMIT_S
    """At most this many seconds of wall time."""


def _replies(value: Any, info: ValidationInfo) -> Any:
    """An inline list, or a JSON file of reply strings next to the scenario: (source, replies)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise problem(f"expected a string, got {type_name(item)}", index)
        return "inline", tuple(value)
    if not isinstance(value, str) or not value.strip():
        raise problem(f"expected a replies file name or a list of reply strings, got {type_name(value)}")
    file = Path(_context(info).get("folder", ".")) / value
    if not file.is_file():
        raise problem(f"replies file not found: {file} (expected a JSON list of reply strings, or an inline YAML "
                      "list)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise problem(f"cannot read {file} as JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise problem(f"{file} must hold a JSON list of reply strings")
    return str(file), tuple(data)


class ScenarioFile(FileModel):
    """A screenpilot scenario: a task, where it runs, how it starts, its budget and its checks."""

    id: Annotated[str, AfterValidator(_scenario_id), Field(json_schema_extra={"pattern": _ID_PATTERN.pattern})] = ""
    """Letters, digits, '_', '-' or '.' (default: the file name without .yaml)."""
    instruction: NonEmpty
    """The task, as the model reads it."""
    description: str = ""
    tags: Strings = ()
    """One tag or a list, for selecting scenarios."""
    environment: EnvironmentFile
    setup: list[SetupStepFile] = Field(default_factory=list)
    """Run in order before the model's first step (file steps before the environment starts)."""
    budget: BudgetFile = Field(default_factory=BudgetFile)
    checks: Annotated[list[AnyCheckFile], Field(min_length=1)]
    """All must pass for success."""
    replies: Annotated[tuple[str, tuple[str, ...]], BeforeValidator(_replies, json_schema_input_type=str
                                                                       | list[str])] | None = None
    """Scripted model replies: a JSON file of strings or an inline list."""
    steps: Annotated[list[StepItem], Field(min_length=1)] | None = None
    """A replay script (instead of replies), e.g. written by screenpilot script RUN_DIR."""

    @model_validator(mode="before")
    @classmethod
    def _default_id(cls, data: Any, info: ValidationInfo) -> Any:
        stem = _context(info).get("stem")
        if isinstance(data, Mapping) and "id" not in data and stem is not None:
            return {"id": stem, **data}
        return data

    @field_validator("environment")
    @classmethod
    def _remember_environment(cls, env: EnvironmentFile, info: ValidationInfo) -> EnvironmentFile:
        """Later fields (setup, checks, steps) read the environment's kind from the context."""
        if isinstance(info.context, dict):
            info.context["environment"] = env.chosen()
        return env

    @model_validator(mode="after")
    def _whole_file(self) -> Self:
        names = [check.name for check in self.checks]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise problem(f"the name {name!r} is used twice; check names must be unique", ("checks", index,
                                                                                               "name"))
        if self.replies is not None and self.steps is not None:
            raise problem("give replies (scripted model replies) or steps (a replay script), not both", "steps")
        return self

    def build(self, file: Path) -> ScenarioSpec:
        """The validated scenario read from ``file``."""
        source, replies = self.replies or (None, None)
        return ScenarioSpec(
            id=self.id,
            instruction=self.instruction.strip(),
            environment=self.environment.build(file.parent),
            checks=tuple(check.build() for check in self.checks),
            source=file,
            setup=tuple(step.build() for step in self.setup),
            budget=Budget(self.budget.max_steps, self.budget.time_limit_s),
            replies=replies,
            replies_source=source,
            description=self.description,
            tags=self.tags,
            steps=tuple(step.build() for step in self.steps) if self.steps is not None else None,
        )


# --- entry points -----------------------------------------------------------------------------


def scenario_from_mapping(data: object, file: Path) -> ScenarioSpec:
    """Validate parsed YAML ``data`` of scenario ``file``; raises :class:`ScenarioError`."""
    model = validate_file(ScenarioFile, data, file, ScenarioError, {"stem": file.stem})
    return model.build(file)


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read and validate the scenario file ``path``; raises :class:`ScenarioError`."""
    file = Path(path)
    return scenario_from_mapping(read_yaml(file, ScenarioError), file)


def scenario_files(folder: Path) -> list[Path]:
    """The scenario files (``*.yaml``, ``*.yml``) directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of scenario files, with each field's help as its description."""
    schema = ScenarioFile.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "screenpilot scenario"}
