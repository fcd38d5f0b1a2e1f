"""Canonical key names and the table that maps what models write onto them.

Models write keys many ways (``Control``, ``ctrl``, ``cmd``, ``Return``, ``PgDn``, ``ArrowUp``).
:func:`normalize_key` folds them onto one canonical lower-case vocabulary; each executor then
maps canonical names to its own library's names (Playwright, PyAutoGUI, xdotool).

Canonical names: modifiers ``ctrl shift alt meta``; ``enter tab space backspace delete escape
insert home end pageup pagedown up down left right capslock printscreen menu``; ``f1``..``f24``;
and any single printable character (letters lower-cased when part of a chord is up to the
executor: the canonical form keeps the character as written).
"""

from __future__ import annotations

MODIFIERS: frozenset[str] = frozenset({"ctrl", "shift", "alt", "meta"})

NAMED_KEYS: frozenset[str] = frozenset(
    {
        "enter", "tab", "space", "backspace", "delete", "escape", "insert", "home", "end",
        "pageup", "pagedown", "up", "down", "left", "right", "capslock", "printscreen", "menu",
    }
    | {f"f{i}" for i in range(1, 25)}
) | MODIFIERS

_ALIASES: dict[str, str] = {
    "control": "ctrl", "ctl": "ctrl", "lctrl": "ctrl", "rctrl": "ctrl", "ctrl_l": "ctrl",
    "ctrl_r": "ctrl", "control_l": "ctrl", "control_r": "ctrl", "controlleft": "ctrl",
    "controlright": "ctrl",
    "shift_l": "shift", "shift_r": "shift", "lshift": "shift", "rshift": "shift",
    "shiftleft": "shift", "shiftright": "shift",
    "option": "alt", "opt": "alt", "alt_l": "alt", "alt_r": "alt", "altleft": "alt",
    "altright": "alt", "altgr": "alt",
    "cmd": "meta", "command": "meta", "super": "meta", "win": "meta", "windows": "meta",
    "super_l": "meta", "super_r": "meta", "meta_l": "meta", "meta_r": "meta", "os": "meta",
    "metaleft": "meta", "metaright": "meta",
    "return": "enter", "kp_enter": "enter", "numpadenter": "enter",
    "esc": "escape",
    "del": "delete",
    "bksp": "backspace", "back_space": "backspace", "backspace": "backspace",
    "ins": "insert",
    "pgup": "pageup", "page_up": "pageup", "prior": "pageup",
    "pgdn": "pagedown", "pgdown": "pagedown", "page_down": "pagedown", "next": "pagedown",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "uparrow": "up", "downarrow": "down", "leftarrow": "left", "rightarrow": "right",
    "up_arrow": "up", "down_arrow": "down", "left_arrow": "left", "right_arrow": "right",
    "spacebar": "space", "space_bar": "space",
    "caps_lock": "capslock", "print": "printscreen", "prtsc": "printscreen",
    "print_screen": "printscreen", "apps": "menu", "contextmenu": "menu",
}

_SINGLE_CHAR_NAMES: dict[str, str] = {
    "plus": "+", "minus": "-", "comma": ",", "period": ".", "slash": "/", "backslash": "\\",
    "semicolon": ";", "apostrophe": "'", "quote": "'", "grave": "`", "equal": "=",
    "bracketleft": "[", "bracketright": "]",
}


def normalize_key(name: str) -> str | None:
    """Return the canonical name for ``name``, or None when it names no key we know.

    Case and surrounding spaces are ignored for named keys; a single character is returned
    as written (``"A"`` stays ``"A"``), since its case can matter to the application.
    """
    if len(name) == 1:
        return name
    key = name.strip()
    if len(key) == 1:
        return key
    lowered = key.lower().replace(" ", "_").replace("-", "_")
    if lowered in NAMED_KEYS:
        return lowered
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    if lowered.replace("_", "") in _ALIASES:
        return _ALIASES[lowered.replace("_", "")]
    if lowered.replace("_", "") in NAMED_KEYS:
        return lowered.replace("_", "")
    if lowered in _SINGLE_CHAR_NAMES:
        return _SINGLE_CHAR_NAMES[lowered]
    return None


def split_chord(text: str) -> list[str]:
    """Split a chord written as one string (``"ctrl+c"``, ``"ctrl c"``, ``"Ctrl-Shift-T"``).

    A lone ``+`` or ``-`` stays a key: ``"ctrl++"`` is ctrl and plus.
    """
    text = text.strip()
    if len(text) <= 1:
        return [text] if text else []
    for sep in ("+", " ", "-"):
        if sep in text.strip(sep) or text.endswith(sep * 2):
            parts: list[str] = []
            for piece in text.split(sep):
                if piece == "" and (not parts or parts[-1] != sep):
                    parts.append(sep)
                elif piece:
                    parts.append(piece)
            return [p for p in parts if p != ""]
    return [text]
