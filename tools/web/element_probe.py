"""What the page's elements held when the run acted on them, for replay checks that look at the result.

:class:`ElementProbe` asks the page one question after each executed pointer or typing action and at each
observation, and keeps the answers until the loop takes them (:meth:`ElementProbe.take`). The web executors let
both ride along with the questions settle asks anyway (the one after the action with the first, the observation
with the answer at the end of the quiet window), so on a quiet page they cost no round trip of their own:

* after a click or long press: the element under the action point (``document.elementFromPoint``; a label stands
  for the control it labels, a span inside a button for the button); after typing or keys: the focused element.
  That element is remembered *in the page* as acted on (``click`` or ``type``), so a new document forgets it (and
  an action whose probe finds a document no probe saw before, one it navigated to, has no target);
* every probe, action or observation, gives the current state of the elements acted on in this document (most
  recent last) and the *fresh* elements: visible elements the page added, changed the text of or showed (a
  ``MutationObserver`` the first probe of a document installs: added nodes, text changes, ``hidden``, ``style``,
  ``class`` and ``open`` attributes) since the probe before the latest action; at most :data:`MAX_FRESH`, latest
  first, outermost, each at most :data:`MAX_TEXT` characters (a longer one stands for its shorter descendants). On a
  document no probe saw before, everything visible counts as fresh (in document order).

One element's state (:class:`screenpilot.agent.run.records.ElementState` is its record): ``selector`` (an id when
it is unique, else ``tag[name=...]``, else a short ``>`` path of ``:nth-of-type`` steps; unique when taken),
``tag``, ``type`` (inputs), ``how`` (``click``/``type``), ``checked`` (check boxes, radios), else ``value`` (other
inputs, text areas, selects), else ``text`` (rendered text, whitespace collapsed, as the scenario ``selector`` check
reads it).

Secrets: a value or text that contains one of the ``secrets`` given is never kept: the field is left out and
``secret`` is set. An element whose selector holds a secret is dropped.

Cost: the script itself takes 0.01-0.3 ms on ordinary pages (about 7 ms on a document of 8,000 table cells that no
probe saw before, where everything is fresh); asked on its own, the call is a bounded ``page.wait_for_function`` (it
times out on a page stuck in a script, where ``evaluate`` would wait for ever), reading its value and releasing the
handle: three round trips to the page (``bench/element_probe.py`` prints both against a bare ``evaluate``). A probe
that fails (the document is being replaced, the page does not answer within :data:`PROBE_TIMEOUT_S`) is left out; it
never fails the action.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from screenpilot.agent.actions import Action, AndroidKey, Click, LongPress, Point, PressKeys, TypeText
from screenpilot.tools.web.session import PageQuestion, PlaywrightError

if TYPE_CHECKING:
    from playwright.sync_api import Page

MAX_TEXT = 200
"""Characters of text a fresh element (or a clicked one's ``text``) may have; longer ones are left out."""
MAX_VALUE = 2000
"""Characters of a field's value that are kept; a longer value is left out."""
MAX_FRESH = 5
"""Fresh elements per probe."""
MAX_ACTED = 8
"""Elements remembered as acted on per document (the oldest are forgotten)."""
MAX_KEPT = 64
"""Probes kept until :meth:`ElementProbe.take` (the oldest are dropped)."""
PROBE_TIMEOUT_S = 1.0
"""How long the page may take to answer a probe."""

PROBE_JS = """(request) => {
  try {
    const {maxText: MAX_TEXT, maxValue: MAX_VALUE, maxFresh: MAX_FRESH, maxActed: MAX_ACTED} = request;
    const MAX_NODES = 2000, MAX_CHANGED = 2000;
    const KEY = "__screenpilotProbe";
    const state = window[KEY] || (window[KEY] = {acted: [], changed: new Map(), epoch: 0, since: null, observer: null});
    const norm = (s) => (s || "").replace(/\\s+/g, " ").trim();
    const unique = (sel) => { try { return document.querySelectorAll(sel).length === 1; } catch (e) { return false; } };
    const selectorOf = (el) => {
      if (el.id && unique("#" + CSS.escape(el.id))) return "#" + CSS.escape(el.id);
      const name = el.getAttribute("name");
      if (name) { const s = el.localName + '[name="' + CSS.escape(name) + '"]'; if (unique(s)) return s; }
      const parts = [];  // a path of tag:nth-of-type steps up to a unique id or the body; short ones tried first
      for (let node = el; node && node.nodeType === 1 && node !== document.documentElement; node = node.parentElement) {
        const id = node.id ? "#" + CSS.escape(node.id) : "";
        if (node !== el && id && unique(id)) { parts.unshift(id); break; }
        let index = 1, alike = false;
        for (let s = node.previousElementSibling; s; s = s.previousElementSibling) {
          if (s.localName === node.localName) index++;
        }
        for (let s = node.nextElementSibling; s && !alike; s = s.nextElementSibling) {
          alike = s.localName === node.localName;
        }
        parts.unshift(index > 1 || alike ? node.localName + ":nth-of-type(" + index + ")" : node.localName);
        if (parts.length <= 2 && unique(parts.join(" > "))) return parts.join(" > ");
      }
      const sel = parts.join(" > ");
      return sel && unique(sel) ? sel : null;
    };
    const stateOf = (el, how, selector) => {
      const out = {selector: selector || selectorOf(el), tag: el.localName};
      if (how) out.how = how;
      if (el.localName === "input") out.type = String(el.type || "text");
      if (out.type === "checkbox" || out.type === "radio") {
        out.checked = !!el.checked;
      } else if (el.localName === "input" || el.localName === "textarea" || el.localName === "select") {
        const value = String(el.value);
        if (value.length <= MAX_VALUE) out.value = value;
      } else {
        const text = norm(el.innerText ?? el.textContent);
        if (text.length <= MAX_TEXT) out.text = text;
      }
      return out;
    };
    const shown = (el) => el.checkVisibility ? el.checkVisibility({visibilityProperty: true})
                                              : el.getClientRects().length > 0;
    const SKIP = new Set(["script", "style", "noscript", "template", "option", "title", "head"]);
    const stamp = (node) => {
      const el = node && node.nodeType === 1 ? node : node && node.parentElement;
      if (!el) return;
      state.changed.delete(el);
      state.changed.set(el, state.epoch);
      if (state.changed.size > MAX_CHANGED) state.changed.delete(state.changed.keys().next().value);
    };
    const record = (mutations) => {
      for (const m of mutations) {
        if (m.type === "childList") for (const n of m.addedNodes) stamp(n);
        else stamp(m.target);
      }
    };
    const created = !state.observer;
    if (created) {
      state.observer = new MutationObserver(record);
      state.observer.observe(document, {subtree: true, childList: true, characterData: true, attributes: true,
                                        attributeFilter: ["hidden", "style", "class", "open"]});
    } else {
      record(state.observer.takeRecords());
    }
    const textOf = (el) => norm(el.innerText ?? el.textContent);
    const collect = (roots) => {
      const fresh = [];
      let budget = MAX_NODES;
      const consider = (el) => {
        if (!el || !el.isConnected || SKIP.has(el.localName) || fresh.some((f) => f === el || f.contains(el))) return 0;
        if ((el.textContent || "").length > 4 * MAX_TEXT) return 1;  // surely too long: no layout for its text
        if (!shown(el)) return 0;
        const text = textOf(el);
        if (!text) return 0;
        if (text.length > MAX_TEXT) return 1;
        for (let i = fresh.length - 1; i >= 0; i--) if (el.contains(fresh[i])) fresh.splice(i, 1);
        fresh.push(el);
        return 0;
      };
      for (const root of roots) {
        if (fresh.length >= MAX_FRESH || budget <= 0) break;
        if (consider(root) !== 1) continue;
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node && budget > 0 && fresh.length < MAX_FRESH; node = walker.nextNode()) {
          budget -= 1;
          if (node.nodeValue.trim() && node.parentElement !== root) consider(node.parentElement);
        }
      }
      return fresh;
    };
    // a document this probe saw first is one the action led to (a navigation): the action's target is gone
    let target = null;
    if (created) {
      target = null;
    } else if (request.mode === "point") {
      const vv = window.visualViewport;
      const scale = vv ? vv.scale : 1;
      const x = request.x / request.dpr / scale + (vv ? vv.offsetLeft : 0);
      const y = request.y / request.dpr / scale + (vv ? vv.offsetTop : 0);
      let el = document.elementFromPoint(x, y);
      if (el instanceof HTMLLabelElement && el.control) el = el.control;
      else if (el) el = el.closest("button, a[href], summary, [role=button], [role=link], [role=checkbox]") || el;
      target = el;
    } else if (request.mode === "focus") {
      let el = document.activeElement;
      while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
      target = el && el !== document.body && el !== document.documentElement ? el : null;
    }
    let targetState = null;
    if (target) {
      targetState = stateOf(target, request.mode === "point" ? "click" : "type");
      if (targetState.selector) {
        state.acted = state.acted.filter((a) => a.selector !== targetState.selector);
        state.acted.push({selector: targetState.selector, how: targetState.how});
        state.acted = state.acted.slice(-MAX_ACTED);
      }
    }
    // what changed since the probe before the latest action is fresh; on a document not probed before, everything
    if (request.mode !== "observe" && !created) state.since = state.epoch;
    const roots = created || state.since === null ? [document.body || document.documentElement]
      : Array.from(state.changed).filter(([, epoch]) => epoch >= state.since).map(([el]) => el).reverse();
    const fresh = collect(roots);
    state.epoch += 1;
    const elements = [];
    for (const acted of state.acted) {
      let el = null;
      try { el = document.querySelector(acted.selector); } catch (e) { el = null; }
      if (el) elements.push(stateOf(el, acted.how, acted.selector));
    }
    const out = {mode: request.mode === "observe" ? "observe" : request.kind, elements: elements,
                 fresh: fresh.map((el) => { const s = stateOf(el, null); return {selector: s.selector, tag: s.tag,
                                                                                  text: s.text}; })};
    if (targetState) out.target = targetState;
    return out;
  } catch (e) {
    return {error: String(e)};
  }
}"""
_LIMITS = {"maxText": MAX_TEXT, "maxValue": MAX_VALUE, "maxFresh": MAX_FRESH, "maxActed": MAX_ACTED}


def probe_request(action: Action, pointer: Point | None, dpr: float = 1.0) -> dict[str, Any] | None:
    """What to ask the page after ``action`` (None: nothing; the action neither points nor types).

    Clicks and long presses ask about their point (``pointer`` when the click gives none), in screen pixels;
    ``dpr`` is screen pixels per viewport CSS pixel (the phone's device scale factor; 1 in the browser). Typing,
    keys and Android key events ask about the focused element.
    """
    match action:
        case Click(at=at) | LongPress(at=at):
            point = at or pointer
            if point is None:
                return None
            return {"mode": "point", "kind": "click", "x": point.x, "y": point.y, "dpr": dpr}
        case TypeText() | PressKeys() | AndroidKey():
            return {"mode": "focus", "kind": "type"}
        case _:
            return None


def without_secrets(probe: dict[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """``probe`` with every value and text holding one of ``secrets`` left out (see the module docstring)."""
    values = [s for s in secrets if s]
    if not values:
        return probe

    def holds(text: object) -> bool:
        return isinstance(text, str) and any(v in text for v in values)

    def clean(element: object) -> dict[str, Any] | None:
        if not isinstance(element, dict) or holds(element.get("selector")):
            return None
        kept = dict(element)
        if holds(kept.get("value")):
            del kept["value"]
            kept["secret"] = True
        if holds(kept.get("text")):
            del kept["text"]
            kept["secret"] = True
        return kept

    cleaned: dict[str, Any] = {"mode": probe.get("mode")}
    for key in ("elements", "fresh"):
        items = probe.get(key)
        cleaned[key] = [c for c in (clean(e) for e in items) if c is not None] if isinstance(items, list) else []
    if "target" in probe and (target := clean(probe["target"])) is not None:
        cleaned["target"] = target
    return cleaned


class ElementProbe:
    """Probes one executor's pages and keeps the answers (JSON-ready dicts) until :meth:`take`.

    The probe after an action may wait (:meth:`after_action` with ``defer``) to ride along with the next question
    the executor asks the page anyway (:meth:`pending_question`, then :meth:`accept`); whatever asks the page
    next without it calls :meth:`flush` first. Must be used from the executor's thread; never raises for a page
    that cannot be asked.
    """

    def __init__(self) -> None:
        self._probes: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT)
        self._pending: tuple[dict[str, Any], list[str]] | None = None

    def after_action(self, page: Page, action: Action, pointer: Point | None, secrets: Sequence[str],
                     dpr: float = 1.0, defer: bool = False) -> None:
        """Probe the element ``action`` (just carried out) acted on (see :func:`probe_request`); with ``defer``
        later, by :meth:`pending_question` or :meth:`flush`."""
        self.flush(page)
        request = probe_request(action, pointer, dpr)
        if request is None:
            return
        if defer:
            self._pending = ({**request, **_LIMITS}, list(secrets))
        else:
            self._ask(page, request, secrets)

    def flush(self, page: Page) -> None:
        """Ask the deferred probe now, if there is one."""
        if self._pending is not None:
            (request, secrets), self._pending = self._pending, None
            self._ask(page, request, secrets)

    def pending_question(self) -> PageQuestion | None:
        """The deferred probe as a question to ask with another one (then give it to :meth:`accept`)."""
        if self._pending is None:
            return None
        request, _secrets = self._pending
        self._pending = None
        return PageQuestion(PROBE_JS, request)

    @staticmethod
    def observe_question() -> PageQuestion:
        """:meth:`observe` as a question to ask with another one (then give it to :meth:`accept`)."""
        return PageQuestion(PROBE_JS, {"mode": "observe", **_LIMITS})

    def accept(self, question: PageQuestion, secrets: Sequence[str]) -> None:
        """Keep the answer of a question from :meth:`pending_question` or :meth:`observe_question` (none when the
        page did not answer it)."""
        if question.answered:
            self._keep(question.answer, secrets)

    def observe(self, page: Page, secrets: Sequence[str]) -> None:
        """Probe the page as an observation shows it (the elements acted on and what is fresh). Called right after a
        capture the page answered, so one plain evaluation (no timeout round trips) asks it."""
        self._ask(page, {"mode": "observe"}, secrets, answered_just_now=True)

    def take(self) -> list[dict[str, Any]]:
        """The probes since the last call, oldest first."""
        probes = list(self._probes)
        self._probes.clear()
        return probes

    def _ask(self, page: Page, request: dict[str, Any], secrets: Sequence[str],
             answered_just_now: bool = False) -> None:
        """Run :data:`PROBE_JS`; with a timeout (three round trips) unless the page ``answered_just_now``."""
        try:
            if answered_just_now:
                answer = page.evaluate(PROBE_JS, {**request, **_LIMITS})
            else:
                handle = page.wait_for_function(PROBE_JS, arg={**request, **_LIMITS}, polling=10,
                                                timeout=PROBE_TIMEOUT_S * 1000)
                try:
                    answer = handle.json_value()
                finally:
                    handle.dispose()
        except PlaywrightError:
            return  # between documents, closed or not answering: no probe this time
        self._keep(answer, secrets)

    def _keep(self, answer: object, secrets: Sequence[str]) -> None:
        if isinstance(answer, dict) and "error" not in answer:
            self._probes.append(without_secrets(answer, secrets))


__all__ = ["MAX_FRESH", "MAX_TEXT", "PROBE_JS", "ElementProbe", "probe_request", "without_secrets"]
