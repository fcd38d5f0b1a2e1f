"""Typing arbitrary Unicode text into an X11 display through the XTEST extension.

Why not PyAutoGUI or ``xdotool type``: measured on Xvfb with a Tk Entry, ``pyautogui.write``
drops every non-ASCII character and types ``<`` as ``>`` (it assumes a US layout and presses
shift for ``<`` on the ``less``/``greater`` key). ``xdotool type --delay 12`` (its default)
got 21 of 32 short strings with non-ASCII characters wrong: characters lost or repeated
(``日本語のテキストéàü`` arrived as ``üüüüüüüüüüü`` once) and non-ASCII capitals lower-cased
(``Ä`` as ``ä``, every time); below 5 ms most strings break. xdotool rebinds one scratch
keycode for each such character, so a client that reads the keymap a little late sees a later
character's binding, and X folds a key bound to a single capital letter to lower case.
:class:`XTestTypist` avoids both: every distinct character gets its own spare keycode, bound
before any key is pressed, as the pair (lower case, upper case) with shift pressed for the
capital, and left bound (least recently used first reused) until :meth:`XTestTypist.close`
restores the keymap. Characters already on the keyboard are typed with their own keys (shift
added for the second level), so the active layout is respected. Measured the same way (a fresh
typist every 4 strings): 0 of 32 wrong; about 0.2-0.3 ms per character for the call to return.

Only python-xlib is needed (a PyAutoGUI dependency on Linux); the XTEST extension is present
on Xorg, Xvfb and Xwayland.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from screenpilot.agent.errors import ActionFailedError, ConfigError

KEYSYM_RETURN = 0xFF0D
KEYSYM_TAB = 0xFF09
KEYSYM_SHIFT_L = 0xFFE1


def normalize_text(text: str) -> str:
    """Line endings to ``\\n`` (``\\r\\n`` and a lone ``\\r`` both become one newline)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_typable(text: str) -> None:
    """Raise :class:`ActionFailedError` for control characters other than newline and tab."""
    for ch in text:
        if (ord(ch) < 0x20 and ch not in "\n\t") or 0x7F <= ord(ch) < 0xA0:
            raise ActionFailedError(
                f"cannot type the control character U+{ord(ch):04X}",
                hint="type only printable text; use the key action for special keys such as enter or escape",
            )


def char_keysym(ch: str) -> int:
    """The X keysym that produces ``ch``: Latin-1 code points are their own keysym, newline is
    Return, tab is Tab, everything else is the Unicode keysym ``0x01000000 + code point``."""
    if ch == "\n":
        return KEYSYM_RETURN
    if ch == "\t":
        return KEYSYM_TAB
    cp = ord(ch)
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp
    return 0x01000000 | cp


def binding_for(ch: str) -> tuple[tuple[int, int], int]:
    """The two keysyms (unshifted, shifted) to bind a spare key to for ``ch``, and the level
    (0 plain, 1 shift) that types ``ch``.

    A character with a one-character case partner gets the pair (lower, upper) so that X's
    case handling cannot fold it; anything else gets (keysym, keysym) at level 0.
    """
    lower, upper = ch.lower(), ch.upper()
    if lower != upper and len(lower) == 1 and len(upper) == 1 and ch in (lower, upper):
        return (char_keysym(lower), char_keysym(upper)), (0 if ch == lower else 1)
    keysym = char_keysym(ch)
    return (keysym, keysym), 0


@dataclass(frozen=True)
class KeyStroke:
    """One key press: ``keycode`` with or without shift held."""

    keycode: int
    shift: bool


class XTestTypist:
    """Types text on one X display through its own python-xlib connection.

    ``char_delay_s``: pause after each character (0 is reliable on Xvfb; a small value is
    gentler on slow applications). ``remap_settle_s``: pause after binding spare keycodes, so
    clients have read the new keymap before the first key arrives. ``reuse_after_s``: a
    keycode is rebound to another character only this long after its last key press (a
    client still working through queued key events would read the new binding otherwise);
    this only matters for text with more distinct unbound characters than spare keycodes
    (about 30 on Xvfb's default keymap).
    """

    name = "xtest"

    def __init__(
        self,
        display_name: str,
        char_delay_s: float = 0.0,
        remap_settle_s: float = 0.03,
        reuse_after_s: float = 0.3,
    ) -> None:
        from Xlib.display import Display

        self._xlib_display: Any = Display(display_name)
        if not self._xlib_display.has_extension("XTEST"):
            self._xlib_display.close()
            raise ConfigError(f"the X display {display_name} has no XTEST extension; input cannot be sent")
        self.char_delay_s = char_delay_s
        self.remap_settle_s = remap_settle_s
        self.reuse_after_s = reuse_after_s
        self._last_pressed: dict[int, float] = {}
        info = self._xlib_display.display.info
        self._min_keycode: int = info.min_keycode
        self._max_keycode: int = info.max_keycode
        self._bound: OrderedDict[int, tuple[int, int]] = OrderedDict()
        self._closed = False

    def type(self, text: str) -> None:
        """Type ``text`` exactly (newline = Return, tab = Tab). Raises ActionFailedError for
        other control characters."""
        text = normalize_text(text)
        check_typable(text)
        remaining = text
        while remaining:
            strokes, used = self._plan(remaining)
            self._press(strokes)
            remaining = remaining[used:]

    def _plan(self, text: str) -> tuple[list[KeyStroke], int]:
        """Keystrokes for the longest prefix of ``text`` that the spare keycodes can cover,
        binding keycodes as needed; returns the strokes and the number of characters covered."""
        mapping = self._xlib_display.get_keyboard_mapping(
            self._min_keycode, self._max_keycode - self._min_keycode + 1
        )
        existing: dict[int, tuple[int, int]] = {}
        free: list[int] = []
        for offset, syms in enumerate(mapping):
            keycode = self._min_keycode + offset
            if not any(syms):
                free.append(keycode)
            for level in (0, 1):
                if level < len(syms) and syms[level]:
                    existing.setdefault(syms[level], (keycode, level))
        strokes: list[KeyStroke] = []
        in_use: set[int] = set()
        new_bindings: dict[int, tuple[int, int]] = {}
        used = 0
        for ch in text:
            keysym = char_keysym(ch)
            if keysym in existing:
                keycode, level = existing[keysym]
            else:
                pair, level = binding_for(ch)
                spare = self._spare_keycode(free, in_use)
                if spare is None:
                    break
                keycode = spare
                for stale in [k for k, (code, _) in existing.items() if code == keycode]:
                    del existing[stale]
                new_bindings[keycode] = pair
                existing[pair[0]] = (keycode, 0)
                existing.setdefault(pair[1], (keycode, 1))
            in_use.add(keycode)
            self._touch(keycode)
            strokes.append(KeyStroke(keycode, level == 1))
            used += 1
        if used == 0:
            raise ActionFailedError(
                "no spare key is left on this X keyboard to type the text with",
                hint="type shorter text with fewer distinct characters",
            )
        self._bind(new_bindings)
        return strokes, used

    def _spare_keycode(self, free: list[int], in_use: set[int]) -> int | None:
        if free:
            return free.pop()
        for keycode in self._bound:
            if keycode not in in_use:
                return keycode
        return None

    def _touch(self, keycode: int) -> None:
        if keycode in self._bound:
            self._bound.move_to_end(keycode)

    def _bind(self, bindings: dict[int, tuple[int, int]]) -> None:
        if not bindings:
            return
        last = max((self._last_pressed.get(k, float("-inf")) for k in bindings), default=float("-inf"))
        wait = last + self.reuse_after_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        for keycode, pair in bindings.items():
            self._xlib_display.change_keyboard_mapping(keycode, [list(pair)])
            self._bound[keycode] = pair
            self._bound.move_to_end(keycode)
        self._xlib_display.sync()
        time.sleep(self.remap_settle_s)

    def _press(self, strokes: list[KeyStroke]) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        shift = self._xlib_display.keysym_to_keycode(KEYSYM_SHIFT_L)
        for stroke in strokes:
            if stroke.shift:
                xtest.fake_input(self._xlib_display, X.KeyPress, shift)
            xtest.fake_input(self._xlib_display, X.KeyPress, stroke.keycode)
            xtest.fake_input(self._xlib_display, X.KeyRelease, stroke.keycode)
            if stroke.shift:
                xtest.fake_input(self._xlib_display, X.KeyRelease, shift)
            self._xlib_display.sync()
            self._last_pressed[stroke.keycode] = time.monotonic()
            if self.char_delay_s > 0:
                time.sleep(self.char_delay_s)

    def close(self) -> None:
        """Unbind the spare keycodes this typist bound and close its connection. Idempotent;
        never raises (the display may already be gone)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            for keycode in self._bound:
                self._xlib_display.change_keyboard_mapping(keycode, [[0, 0]])
            self._xlib_display.sync()
        with contextlib.suppress(Exception):
            self._xlib_display.close()
        self._bound.clear()
