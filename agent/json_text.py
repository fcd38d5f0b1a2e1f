"""Reading one JSON value out of free text: a model's answer with prose, code fences or json5 syntax around it.

Used by answer checks (the JSON object in a scenario's answer) and by the Python API's ``extract`` (the JSON a
model read off the screen).
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import json5

MAX_JSON_TRIES = 16
"""The lenient pass tries at most this many start and end positions each (bounds the work on junk)."""

_CLOSERS = {"{": "}", "[": "]"}


def first_json(text: str, openers: str = "{[") -> Any:
    """The first JSON object (``{``) or array (``[``) in ``text``, of the kinds named by ``openers``.

    Strict JSON is tried at each opening bracket first; then json5 (single quotes, trailing commas, comments)
    over the spans between an opening and a closing bracket. Raises ValueError when there is none.
    """
    kinds = tuple(dict if opener == "{" else list for opener in openers)
    pattern = "[" + re.escape(openers) + "]"
    starts = [m.start() for m in re.finditer(pattern, text)][:MAX_JSON_TRIES]
    decoder = json.JSONDecoder()
    for start in starts:
        with contextlib.suppress(ValueError):
            value, _ = decoder.raw_decode(text, start)
            if isinstance(value, kinds):
                return value
    closers = "[" + re.escape("".join(_CLOSERS[o] for o in openers)) + "]"
    ends = [m.end() for m in re.finditer(closers, text)][-MAX_JSON_TRIES:]
    for start in starts:
        for end in reversed(ends):
            if end <= start:
                break
            with contextlib.suppress(ValueError):
                value = json5.loads(text[start:end])
                if isinstance(value, kinds):
                    return value
    what = " or ".join("a JSON object" if o == "{" else "a JSON array" for o in openers)
    raise ValueError(f"expected {what}")
