"""Success checks of a scenario, run against the real state of the browser, desktop and files.

:func:`run_checks` evaluates every check of a :class:`~screenpilot.agent.scenario.spec.ScenarioSpec` against a
:class:`CheckContext` and returns one :class:`CheckResult` per check, in order. It never raises
for a failing or broken check: an exception inside a check becomes a failed result whose
``detail`` says what went wrong, so one bad check cannot hide the others.

Answer normalisation (``match: normalized``): Unicode case folding, punctuation and symbols
removed, runs of whitespace collapsed to one space, ends stripped. JSON field comparison
(``match: json_fields``): the first JSON object in the answer (code fences and text around it
are ignored) is read; each expected key is a dotted path (``items.0.description``); numbers
compare numerically within 0.005 (strings such as ``"€1,231.78"`` count as numbers when the
expected value is one); strings compare normalised.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from screenpilot.agent.json_text import first_json
from screenpilot.agent.scenario.spec import (
    AnswerCheck,
    Check,
    FileCheck,
    JsCheck,
    ScreenRegionCheck,
    SelectorCheck,
    UrlCheck,
    WindowTitleCheck,
)

NUMBER_TOLERANCE = 0.005
XDOTOOL_TIMEOUT_S = 5.0
_SHOWN = 80


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``kind`` is url, selector, js, file, window_title,
    screen_region or answer; ``detail`` says what was found (and expected, on failure)."""

    name: str
    kind: str
    passed: bool
    detail: str

    def failure_message(self) -> str:
        """``check 'NAME' failed: DETAIL``."""
        return f"check {self.name!r} failed: {self.detail}"

    def to_json(self) -> dict[str, object]:
        """JSON-ready form for checks.json."""
        return {"name": self.name, "kind": self.kind, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class CheckContext:
    """What checks can look at.

    ``page``: the live Playwright page (browser scenarios), else None. ``screenshot``: returns
    the current screen in screen pixels. ``answer``: the model's final answer (None: none
    given). ``workdir``: where relative file paths point. ``display_env``: environment with
    ``DISPLAY``/``XAUTHORITY`` for desktop checks (None: the process's own).
    """

    page: Any | None
    screenshot: Callable[[], Image.Image]
    answer: str | None
    workdir: Path
    display_env: Mapping[str, str] | None = None


class CheckFailed(Exception):
    """Raised inside a check with the detail of why it failed (never leaves this module)."""


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def normalize_text(text: str) -> str:
    """Case-folded, without punctuation or symbols, whitespace collapsed (see module doc)."""
    kept = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text.casefold())
    return " ".join(kept.split())


# --- browser checks ------------------------------------------------------------------------------


def _need_page(ctx: CheckContext) -> Any:
    if ctx.page is None:
        raise CheckFailed("no browser page to check (this check needs a browser environment)")
    return ctx.page


def _url(check: UrlCheck, ctx: CheckContext) -> str:
    url = str(_need_page(ctx).url)
    if re.search(check.pattern, url) is None:
        raise CheckFailed(f"expected the URL to match /{check.pattern}/, got {url!r}")
    return f"URL {url!r} matches /{check.pattern}/"


_SELECTOR_STATE_JS = """(css) => {
  const all = document.querySelectorAll(css);
  const el = all[0];
  if (!el) return {count: 0};
  const rect = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const visible = rect.width > 0 && rect.height > 0 && style.visibility !== "hidden" && style.display !== "none"
    && (!el.checkVisibility || el.checkVisibility({opacityProperty: true, visibilityProperty: true}));
  return {count: all.length, text: (el.innerText ?? el.textContent ?? "").replace(/\\s+/g, " ").trim(),
          value: "value" in el ? String(el.value) : null, checked: "checked" in el ? !!el.checked : null,
          visible: visible};
}"""


def _selector(check: SelectorCheck, ctx: CheckContext) -> str:
    state: dict[str, Any] = _need_page(ctx).evaluate(_SELECTOR_STATE_JS, check.css)
    count = int(state["count"])
    if check.count is not None and count != check.count:
        raise CheckFailed(f"expected {check.count} element(s) matching {check.css!r}, found {count}")
    wants_element = any(v is not None for v in (check.text_equals, check.text_contains, check.value,
                                                  check.checked, check.visible))
    if not wants_element:
        return f"{count} element(s) match {check.css!r}"
    if count == 0:
        if check.visible is False:
            return f"no element matches {check.css!r} (not visible)"
        raise CheckFailed(f"no element matches {check.css!r}")
    _compare_element(check, state)
    shown = [f"text {_shown(state['text'])}" if check.text_equals is not None or check.text_contains is not None
             else "", f"value {_shown(state['value'])}" if check.value is not None else "",
             f"checked {state['checked']}" if check.checked is not None else "",
             f"visible {state['visible']}" if check.visible is not None else "",
             f"{count} match(es)" if check.count is not None else ""]
    return f"{check.css!r}: " + ", ".join(part for part in shown if part)


def _compare_element(check: SelectorCheck, state: Mapping[str, Any]) -> None:
    text = str(state["text"])
    if check.text_equals is not None and text != " ".join(check.text_equals.split()):
        raise CheckFailed(f"expected the text of {check.css!r} to equal {_shown(check.text_equals)}, "
                          f"got {_shown(text)}")
    if check.text_contains is not None and check.text_contains not in text:
        raise CheckFailed(f"expected the text of {check.css!r} to contain {_shown(check.text_contains)}, "
                          f"got {_shown(text)}")
    if check.value is not None and state["value"] != check.value:
        raise CheckFailed(f"expected the value of {check.css!r} to be {_shown(check.value)}, "
                          f"got {_shown(state['value'])}")
    if check.checked is not None and state["checked"] is not check.checked:
        raise CheckFailed(f"expected {check.css!r} to be {'checked' if check.checked else 'unchecked'}, "
                          f"got checked={state['checked']}")
    if check.visible is not None and bool(state["visible"]) is not check.visible:
        raise CheckFailed(f"expected {check.css!r} to be {'visible' if check.visible else 'hidden'}, "
                          f"got visible={state['visible']}")


def _js(check: JsCheck, ctx: CheckContext) -> str:
    page = _need_page(ctx)
    # Wrapped so statements that throw (e.g. reading a missing property) yield a readable error.
    script = (f"() => {{ try {{ return {{ok: true, value: ({check.expr})}}; }} "
              "catch (e) { return {ok: false, error: String(e)}; } }")
    outcome: dict[str, Any] = page.evaluate(script)
    if not outcome.get("ok"):
        raise CheckFailed(f"the expression {_shown(check.expr)} threw {outcome.get('error')}")
    value = outcome.get("value")
    if check.has_expected:
        if not values_equal(check.expected, value):
            raise CheckFailed(f"expected {_shown(check.expected)}, got {_shown(value)}")
        return f"{_shown(value)} as expected"
    if not value:
        raise CheckFailed(f"expected a truthy value from {_shown(check.expr)}, got {_shown(value)}")
    return f"truthy: {_shown(value)}"


def values_equal(expected: Any, actual: Any) -> bool:
    """JSON equality where numbers compare by value (``1 == 1.0``) and booleans stay booleans."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(expected, actual, rel_tol=0.0, abs_tol=1e-9)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(values_equal(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(values_equal(a, b) for a, b in zip(expected, actual, strict=True))
    return bool(expected == actual)


# --- file, desktop and screen checks -------------------------------------------------------------


def _file(check: FileCheck, ctx: CheckContext) -> str:
    path = Path(check.path).expanduser()
    path = path if path.is_absolute() else ctx.workdir / path
    if not path.is_file():
        raise CheckFailed(f"expected the file {path} to exist")
    text = path.read_text(encoding="utf-8", errors="replace")
    if check.equals is not None and text.rstrip("\n") != check.equals.rstrip("\n"):
        raise CheckFailed(f"expected {path} to hold {_shown(check.equals)}, got {_shown(text)}")
    if check.contains is not None and check.contains not in text:
        raise CheckFailed(f"expected {path} to contain {_shown(check.contains)}, got {_shown(text)}")
    if check.regex is not None and re.search(check.regex, text) is None:
        raise CheckFailed(f"expected {path} to match /{check.regex}/, got {_shown(text)}")
    return f"{path}: {_shown(text)}"


def _xdotool(args: list[str], ctx: CheckContext) -> str:
    try:
        done = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=XDOTOOL_TIMEOUT_S,
                              env=dict(ctx.display_env) if ctx.display_env is not None else None, check=False)
    except FileNotFoundError:
        raise CheckFailed("xdotool is not installed (apt-get install xdotool)") from None
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"xdotool {' '.join(args)} did not answer within {XDOTOOL_TIMEOUT_S:g} s") from None
    return done.stdout if done.returncode == 0 else ""


def window_titles(ctx: CheckContext, window: str = "any") -> list[str]:
    """Titles of the focused window, or of every visible named window, via xdotool."""
    if window == "focused":
        title = _xdotool(["getwindowfocus", "getwindowname"], ctx).strip()
        return [title] if title else []
    ids = _xdotool(["search", "--onlyvisible", "--name", ""], ctx).split()
    titles = [_xdotool(["getwindowname", wid], ctx).strip() for wid in ids]
    return [t for t in titles if t]


def _window_title(check: WindowTitleCheck, ctx: CheckContext) -> str:
    titles = window_titles(ctx, check.window)
    matching = [t for t in titles if re.search(check.pattern, t)]
    if not matching:
        which = "the focused window's title" if check.window == "focused" else "a visible window title"
        raise CheckFailed(f"expected {which} matching /{check.pattern}/, got {_shown(titles)}")
    return f"window {matching[0]!r} matches /{check.pattern}/"


def _screen_region(check: ScreenRegionCheck, ctx: CheckContext) -> str:
    import cv2
    import numpy as np

    screen = ctx.screenshot().convert("L")
    offset = (0, 0)
    if check.region is not None:
        left, top, width, height = check.region
        screen = screen.crop((left, top, left + width, top + height))
        offset = (left, top)
    template = Image.open(check.template).convert("L")
    if template.width > screen.width or template.height > screen.height:
        raise CheckFailed(f"the template {check.template.name} ({template.width}x{template.height}) is larger "
                          f"than the searched area ({screen.width}x{screen.height})")
    scores = cv2.matchTemplate(np.asarray(screen), np.asarray(template), cv2.TM_CCOEFF_NORMED)
    _, best, _, at = cv2.minMaxLoc(scores)
    where = (at[0] + offset[0], at[1] + offset[1])
    if not best >= check.threshold:
        raise CheckFailed(f"best match of {check.template.name} is {best:.3f} at {where}, "
                          f"below the threshold {check.threshold:g}")
    return f"{check.template.name} found at {where} (score {best:.3f})"


# --- answers -------------------------------------------------------------------------------------


def _answer(check: AnswerCheck, ctx: CheckContext) -> str:
    answer = ctx.answer
    if answer is None:
        raise CheckFailed("the model gave no final answer (terminate with an answer)")
    if check.match == "exact":
        if answer != check.expected:
            raise CheckFailed(f"expected exactly {_shown(check.expected)}, got {_shown(answer)}")
    elif check.match == "normalized":
        if normalize_text(answer) != normalize_text(str(check.expected)):
            raise CheckFailed(f"expected {_shown(check.expected)} (ignoring case, spaces and punctuation), "
                              f"got {_shown(answer)}")
    else:
        _json_fields(check.expected, answer)
    return f"answer {_shown(answer)}"


def parse_json_answer(answer: str) -> Any:
    """The first JSON object in ``answer`` (text and code fences around it are ignored; json5
    syntax such as single quotes or trailing commas is accepted; see :func:`first_json`).

    Raises :class:`CheckFailed` when there is none.
    """
    try:
        return first_json(answer, "{")
    except ValueError:
        raise CheckFailed(f"expected a JSON object in the answer, got {_shown(answer)}") from None


def _lookup(data: Any, dotted: str) -> Any:
    current = data
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise CheckFailed(f"the answer has no field {dotted!r}")
    return current


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        cleaned = re.sub(r"[^\d.\-]", "", value.replace(",", ""))
        try:
            return float(cleaned)
        except ValueError:
            return None
    return None


def fuzzy_equal(expected: Any, actual: Any) -> bool:
    """Answer-field equality: numbers within NUMBER_TOLERANCE, strings normalised, containers deep."""
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    if isinstance(expected, int | float):
        number = _as_number(actual)
        return number is not None and abs(number - expected) <= NUMBER_TOLERANCE
    if isinstance(expected, str):
        return isinstance(actual, str | int | float) and normalize_text(str(actual)) == normalize_text(expected)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            fuzzy_equal(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and fuzzy_equal(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def _json_fields(expected: Mapping[str, Any], answer: str) -> None:
    data = parse_json_answer(answer)
    for key, want in expected.items():
        got = _lookup(data, key)
        if not fuzzy_equal(want, got):
            raise CheckFailed(f"expected field {key!r} = {_shown(want)}, got {_shown(got)}")


# --- dispatch ------------------------------------------------------------------------------------


def check_kind(check: Check) -> str:
    """The kind name of ``check`` as written in scenario files."""
    match check:
        case UrlCheck():
            return "url"
        case SelectorCheck():
            return "selector"
        case JsCheck():
            return "js"
        case FileCheck():
            return "file"
        case WindowTitleCheck():
            return "window_title"
        case ScreenRegionCheck():
            return "screen_region"
        case AnswerCheck():
            return "answer"


def _evaluate(check: Check, ctx: CheckContext) -> str:
    match check:
        case UrlCheck():
            return _url(check, ctx)
        case SelectorCheck():
            return _selector(check, ctx)
        case JsCheck():
            return _js(check, ctx)
        case FileCheck():
            return _file(check, ctx)
        case WindowTitleCheck():
            return _window_title(check, ctx)
        case ScreenRegionCheck():
            return _screen_region(check, ctx)
        case AnswerCheck():
            return _answer(check, ctx)


def run_check(check: Check, ctx: CheckContext) -> CheckResult:
    """Evaluate one check; failures and errors come back as a failed result, never raised."""
    kind = check_kind(check)
    try:
        detail = _evaluate(check, ctx)
    except CheckFailed as exc:
        return CheckResult(check.name, kind, False, str(exc))
    except Exception as exc:  # a broken page or file must not hide the other checks
        return CheckResult(check.name, kind, False, f"could not run the check: {type(exc).__name__}: {exc}")
    return CheckResult(check.name, kind, True, detail)


def run_checks(checks: tuple[Check, ...] | list[Check], ctx: CheckContext) -> list[CheckResult]:
    """Every check's result, in order."""
    return [run_check(check, ctx) for check in checks]
