"""Playwright key names for screenpilot's canonical keys (:mod:`screenpilot.agent.keys`)."""

from __future__ import annotations

from collections.abc import Sequence

from screenpilot.agent.keys import MODIFIERS, normalize_key

_PLAYWRIGHT_NAMED_KEYS: dict[str, str] = {
    "ctrl": "Control", "shift": "Shift", "alt": "Alt", "meta": "Meta",
    "enter": "Enter", "tab": "Tab", "space": " ", "backspace": "Backspace", "delete": "Delete",
    "escape": "Escape", "insert": "Insert", "home": "Home", "end": "End",
    "pageup": "PageUp", "pagedown": "PageDown",
    "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "capslock": "CapsLock", "printscreen": "PrintScreen", "menu": "ContextMenu",
} | {f"f{i}": f"F{i}" for i in range(1, 13)}
"""Canonical key name -> Playwright key name. Playwright's US layout has no F13-F24."""


def playwright_key(name: str, in_chord: bool = False) -> str:
    """The Playwright key name for one key ``name`` (canonical or an alias :mod:`screenpilot.agent.keys` knows).

    ``ctrl`` -> ``Control``, ``enter`` -> ``Enter``, ``pageup`` -> ``PageUp``, ``up`` ->
    ``ArrowUp``, ``f5`` -> ``F5``, ``space`` -> ``" "``; a single character stays itself, except
    that an ASCII letter is lower-cased when ``in_chord`` (a chord with a modifier: ``ctrl+A`` is
    ``Control+a``; Playwright applies Shift itself). Raises ValueError for a name that is no key,
    or a key Playwright cannot press (F13-F24).
    """
    canonical = normalize_key(name)
    if canonical is None:
        raise ValueError(f"unknown key {name!r}")
    if len(canonical) == 1:
        if in_chord and canonical.isascii() and canonical.isalpha():
            return canonical.lower()
        return canonical
    mapped = _PLAYWRIGHT_NAMED_KEYS.get(canonical)
    if mapped is None:
        raise ValueError(f"the browser cannot press {canonical!r}")
    return mapped


def playwright_chord(keys: Sequence[str]) -> list[str]:
    """Playwright names for ``keys`` pressed together (see :func:`playwright_key`).

    Letters are lower-cased when the chord holds any modifier. Raises ValueError for an empty
    chord or a key that cannot be pressed.
    """
    if not keys:
        raise ValueError("no keys to press")
    has_modifier = any(normalize_key(k) in MODIFIERS for k in keys)
    return [playwright_key(k, in_chord=has_modifier) for k in keys]


def is_layout_char(key: str) -> bool:
    """True when a single-character Playwright key is on its US layout (printable ASCII)."""
    return len(key) == 1 and " " <= key <= "~"


__all__ = ["is_layout_char", "playwright_chord", "playwright_key"]
