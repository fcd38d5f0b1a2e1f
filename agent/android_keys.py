"""Android key event names and the table that folds what models write onto them.

Phone models name keys the way ``adb shell input keyevent`` does (``volume_up``, ``power``,
``KEYCODE_ENTER``). :func:`normalize_android_key` turns such a name into the canonical
``KEYCODE_`` form (upper case, prefix included) that :class:`screenpilot.agent.actions.AndroidKey` carries,
or None for a name that is not a key event we know. Executors map canonical names onward
(``adb`` passes them through; the emulated phone maps a few onto keyboard keys).

The table holds the key events a phone task plausibly needs, not every code Android defines.
"""

from __future__ import annotations

PREFIX = "KEYCODE_"

_NAMES: tuple[str, ...] = (
    "HOME", "BACK", "CALL", "ENDCALL", "STAR", "POUND", "DPAD_UP", "DPAD_DOWN", "DPAD_LEFT",
    "DPAD_RIGHT", "DPAD_CENTER", "VOLUME_UP", "VOLUME_DOWN", "VOLUME_MUTE", "MUTE", "POWER",
    "CAMERA", "CLEAR", "COMMA", "PERIOD", "TAB", "SPACE", "ENTER", "DEL", "FORWARD_DEL", "GRAVE",
    "MINUS", "EQUALS", "LEFT_BRACKET", "RIGHT_BRACKET", "BACKSLASH", "SEMICOLON", "APOSTROPHE",
    "SLASH", "AT", "PLUS", "MENU", "NOTIFICATION", "SEARCH", "ESCAPE", "PAGE_UP", "PAGE_DOWN",
    "MOVE_HOME", "MOVE_END", "INSERT", "APP_SWITCH", "ASSIST", "VOICE_ASSIST", "SETTINGS",
    "BRIGHTNESS_UP", "BRIGHTNESS_DOWN", "SLEEP", "WAKEUP", "CUT", "COPY", "PASTE", "FOCUS",
    "HEADSETHOOK", "MEDIA_PLAY_PAUSE", "MEDIA_PLAY", "MEDIA_PAUSE", "MEDIA_STOP", "MEDIA_NEXT",
    "MEDIA_PREVIOUS", "MEDIA_REWIND", "MEDIA_FAST_FORWARD", "CALCULATOR", "CALENDAR", "CONTACTS",
    "MUSIC", "EXPLORER", "ENVELOPE", "ALL_APPS", "SYSRQ", "CTRL_LEFT", "SHIFT_LEFT", "ALT_LEFT", "META_LEFT",
)

ANDROID_KEYCODES: frozenset[str] = frozenset(
    {PREFIX + name for name in _NAMES}
    | {f"{PREFIX}{digit}" for digit in "0123456789"}
    | {f"{PREFIX}{letter}" for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    | {f"{PREFIX}F{number}" for number in range(1, 13)}
)
"""Every canonical key event name this module knows (``KEYCODE_HOME``, ``KEYCODE_A``, ...)."""

_ALIASES: dict[str, str] = {
    "RETURN": "ENTER", "BACKSPACE": "DEL", "DELETE": "FORWARD_DEL", "ESC": "ESCAPE",
    "UP": "DPAD_UP", "DOWN": "DPAD_DOWN", "LEFT": "DPAD_LEFT", "RIGHT": "DPAD_RIGHT",
    "PAGEUP": "PAGE_UP", "PAGEDOWN": "PAGE_DOWN", "PGUP": "PAGE_UP", "PGDN": "PAGE_DOWN",
    "VOLUMEUP": "VOLUME_UP", "VOLUMEDOWN": "VOLUME_DOWN", "VOL_UP": "VOLUME_UP", "VOL_DOWN": "VOLUME_DOWN",
    "RECENTS": "APP_SWITCH", "RECENT_APPS": "APP_SWITCH", "OVERVIEW": "APP_SWITCH",
    "PLAY_PAUSE": "MEDIA_PLAY_PAUSE", "NEXT": "MEDIA_NEXT", "PREVIOUS": "MEDIA_PREVIOUS",
    "LOCK": "POWER", "END": "MOVE_END", "CTRL": "CTRL_LEFT", "CONTROL": "CTRL_LEFT", "SHIFT": "SHIFT_LEFT",
    "ALT": "ALT_LEFT", "META": "META_LEFT",
}

EXAMPLES = '"KEYCODE_ENTER", "volume_up", "volume_down", "power", "camera", "del", "search"'
"""Key names to show a model in hints."""


def normalize_android_key(name: str) -> str | None:
    """The canonical ``KEYCODE_`` name for ``name``, or None when it names no key we know.

    Case, surrounding spaces, spaces and hyphens (as underscores) and a missing ``KEYCODE_``
    prefix are all accepted: ``"volume up"``, ``"Volume_Up"`` and ``"KEYCODE_VOLUME_UP"`` give
    ``KEYCODE_VOLUME_UP``; common aliases fold too (``backspace`` -> ``KEYCODE_DEL``).
    """
    key = name.strip().upper().replace(" ", "_").replace("-", "_")
    if key.startswith(PREFIX):
        key = key[len(PREFIX):]
    key = _ALIASES.get(key, _ALIASES.get(key.replace("_", ""), key))
    code = PREFIX + key
    return code if code in ANDROID_KEYCODES else None
