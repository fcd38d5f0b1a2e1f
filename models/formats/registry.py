"""Which prompt format a model speaks: chosen by name, or detected from the model.

Formats (canonical names): ``qwen2.5-vl`` (:mod:`screenpilot.models.formats.qwen25`),
``qwen3-vl`` (:mod:`screenpilot.models.formats.qwen3`) and ``ui-tars-1.5``
(:mod:`screenpilot.models.formats.uitars`). :func:`format_name` also accepts ``qwen25``, ``qwen3``,
``ui-tars`` and ``uitars``.

*Detection* (``auto``), first rule that decides:

1. A model folder that exists here (a local model, or the folder ``transformers serve DIR``
   serves under its path): its ``config.json`` ``model_type``. ``qwen3_vl`` and ``qwen3_vl_moe``
   mean Qwen3-VL; ``qwen2_5_vl`` means Qwen2.5-VL unless the folder's name or the config's
   ``_name_or_path`` says UI-TARS.
2. The model string itself (alias, hub id, served model name, scripted replies file), case and
   ``-``/``_``/space ignored: it mentions UI-TARS (``ui-tars``, ``uitars``) -> UI-TARS-1.5; Qwen3-VL
   (``qwen3-vl``, ``qwen3vl``) -> Qwen3-VL.
3. Otherwise Qwen2.5-VL.

Pure file reading, no heavy imports; :func:`make_format` imports only the chosen module.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from screenpilot.agent.errors import ConfigError

if TYPE_CHECKING:
    from screenpilot.models.base import PromptFormat

QWEN25 = "qwen2.5-vl"
QWEN3 = "qwen3-vl"
UITARS = "ui-tars-1.5"

FORMATS: tuple[str, ...] = (QWEN25, QWEN3, UITARS)
"""Canonical format names."""

CHOICES: tuple[str, ...] = ("auto", "qwen2.5-vl", "qwen3-vl", "ui-tars")
"""What ``--prompt-format`` offers."""

_NAMES: dict[str, str] = {
    "qwen2.5-vl": QWEN25, "qwen25": QWEN25, "qwen2.5": QWEN25,
    "qwen3-vl": QWEN3, "qwen3": QWEN3,
    "ui-tars-1.5": UITARS, "ui-tars": UITARS, "uitars": UITARS,
}

_MODEL_TYPES: dict[str, str] = {"qwen3_vl": QWEN3, "qwen3_vl_moe": QWEN3, "qwen2_5_vl": QWEN25}


@dataclass(frozen=True)
class FormatChoice:
    """A chosen format ``name`` (canonical) and ``reason``, one line saying why (for logs and run.json)."""

    name: str
    reason: str


def format_name(name: str) -> str:
    """The canonical format name for ``name`` (case-insensitive); ConfigError listing the choices."""
    canonical = _NAMES.get(name.strip().lower())
    if canonical is None:
        raise ConfigError(f"unknown prompt format {name!r}; use auto, {', '.join(CHOICES[1:])}")
    return canonical


def _squash(text: str) -> str:
    return re.sub(r"[-_\s]+", "", text.lower())


def family_from_name(model: str) -> str | None:
    """The format a model string names (UI-TARS before Qwen3-VL), or None."""
    squashed = _squash(model)
    if "uitars" in squashed:
        return UITARS
    if "qwen3vl" in squashed:
        return QWEN3
    if "qwen2.5vl" in squashed or "qwen25vl" in squashed:
        return QWEN25
    return None


def _read_config(folder: Path) -> dict[str, object] | None:
    try:
        content = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


def family_from_folder(folder: Path) -> FormatChoice | None:
    """The format of the model in ``folder`` from its ``config.json`` (None: no usable config)."""
    config = _read_config(folder)
    if config is None:
        return None
    model_type = str(config.get("model_type", ""))
    family = _MODEL_TYPES.get(model_type)
    if family is None:
        return None
    if family == QWEN25:
        names = (folder.resolve().name, str(config.get("_name_or_path", "")))
        if any(family_from_name(name) == UITARS for name in names):
            return FormatChoice(UITARS, f"{folder}/config.json: model_type {model_type} named UI-TARS")
    return FormatChoice(family, f"{folder}/config.json: model_type {model_type}")


def _as_folder(model: str) -> Path | None:
    text = model.strip().removeprefix("scripted:")
    if not text or "://" in text:
        return None
    try:
        folder = Path(text).expanduser()
        return folder if folder.is_dir() else None
    except (OSError, ValueError):
        return None


def detect_format(model: str | None) -> FormatChoice:
    """The format for the model string ``model`` (None or empty: the default); see the module doc."""
    if not model or not model.strip():
        return FormatChoice(QWEN25, "default (no model named)")
    folder = _as_folder(model)
    if folder is not None:
        choice = family_from_folder(folder)
        if choice is not None:
            return choice
    family = family_from_name(model)
    if family is not None:
        return FormatChoice(family, f"model name {model!r}")
    return FormatChoice(QWEN25, f"default (nothing in {model!r} names another family)")


def choose_format(requested: str, model: str | None) -> FormatChoice:
    """``requested`` (a name or ``auto``) resolved against ``model``; ConfigError for an unknown name."""
    if requested.strip().lower() == "auto":
        return detect_format(model)
    return FormatChoice(format_name(requested), "chosen with --prompt-format")


def default_bounds(name: str) -> tuple[int, int]:
    """``(min_pixels, max_pixels)`` a format uses unless told otherwise."""
    canonical = format_name(name)
    if canonical == QWEN3:
        from screenpilot.models.formats import qwen3

        return qwen3.MIN_PIXELS, qwen3.MAX_PIXELS
    if canonical == UITARS:
        from screenpilot.models.formats import uitars

        return uitars.MIN_PIXELS, uitars.MAX_PIXELS
    from screenpilot.models import resize

    return resize.MIN_PIXELS, resize.MAX_PIXELS


class FormatOptions(TypedDict, total=False):
    """The options every format's class takes besides the bounds (meanings as for
    :class:`screenpilot.models.formats.qwen25.Qwen25Format`; absent ones keep the class default)."""

    keep_images: int
    browser_actions: bool
    ask_user: bool
    terminate_answer: bool
    max_image_tokens: int | None


def make_format(
    name: str, *, min_pixels: int | None = None, max_pixels: int | None = None, **options: Unpack[FormatOptions]
) -> PromptFormat:
    """The prompt format ``name`` (any accepted spelling) with these options.

    ``min_pixels`` / ``max_pixels`` None: the family's own bounds (:func:`default_bounds`:
    Qwen2.5-VL 3,136 .. 12,845,056; Qwen3-VL 65,536 .. 16,777,216; UI-TARS 78,400 ..
    12,845,056). The other options (:class:`FormatOptions`) mean what they mean for
    :class:`screenpilot.models.formats.qwen25.Qwen25Format` (UI-TARS ignores ``browser_actions`` and
    ``terminate_answer``); absent ones take the defaults (one image, no browser actions, ``ask_user``
    on, no advertised answer, no token cap). ConfigError for bad values.
    """
    from screenpilot.models.formats.qwen3 import Qwen3VLFormat
    from screenpilot.models.formats.qwen25 import Qwen25Format
    from screenpilot.models.formats.uitars import UITarsFormat

    canonical = format_name(name)
    low, high = default_bounds(canonical)
    classes: dict[str, type[Qwen25Format] | type[UITarsFormat]] = {
        QWEN25: Qwen25Format, QWEN3: Qwen3VLFormat, UITARS: UITarsFormat,
    }
    low = low if min_pixels is None else min_pixels
    high = high if max_pixels is None else max_pixels
    return classes[canonical](min_pixels=low, max_pixels=high, **options)
