"""One frozen settings object per run, built at the edge (CLI or Python API) and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from screenpilot.agent.run.loop import DEFAULT_MAX_STEPS
from screenpilot.agent.run.planner import DEFAULT_MAX_REGROUNDS
from screenpilot.agent.safety.gate import PolicyConfig
from screenpilot.agent.safety.secrets import SecretStore
from screenpilot.models import resize
from screenpilot.models.base import DEFAULT_MAX_NEW_TOKENS, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from screenpilot.tools.web import DEFAULT_PHONE, DEFAULT_VIEWPORT

DEFAULT_MIN_PIXELS: int = resize.MIN_PIXELS
"""Qwen2.5-VL's released lower bound (defined in :mod:`screenpilot.models.resize`), for help texts."""
DEFAULT_MAX_PIXELS: int = resize.MAX_PIXELS
"""Qwen2.5-VL's released upper bound (defined in :mod:`screenpilot.models.resize`), for help texts."""


@dataclass(frozen=True)
class ModelSettings:
    """Which model answers and how.

    ``spec``: ``scripted:PATH``, an alias (``qwen2.5-vl-7b``), a local folder, or a served
    model name used with ``api_base``. ``api_key`` is read from the environment at the edge,
    never given on the command line in clear.
    """

    spec: str
    api_base: str | None = None
    api_key: str | None = None
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    device_map: str = "auto"
    dtype: str = "auto"
    attn_implementation: str | None = None
    image_format: str = "png"
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES


@dataclass(frozen=True)
class PromptSettings:
    """Prompt format and image budget: resize bounds in pixels, screenshots kept in history.

    ``format``: ``auto`` (detected from the model, see :mod:`screenpilot.models.formats.registry`), ``qwen2.5-vl``,
    ``qwen3-vl`` or ``ui-tars``. ``min_pixels`` / ``max_pixels``: the model image's area bounds in
    pixels; None (unset) means the chosen family's own bounds, and a given value is always used,
    even one equal to a family default.
    """

    format: str = "auto"
    min_pixels: int | None = None
    max_pixels: int | None = None
    keep_images: int = 1


@dataclass(frozen=True)
class BrowserTarget:
    """Drive a headless (or headed) Chromium: ``url`` to open, viewport in CSS pixels.

    ``cdp_url``: attach to the Chromium/Chrome already running there (``http://127.0.0.1:9222``) instead of launching
    one; the run starts on its current tab (``url``, when given, opens in it), the viewport is set on the tabs it
    drives, and the browser stays open afterwards. ``user_data_dir``: launch on that persistent profile folder.
    """

    url: str | None = None
    viewport: tuple[int, int] = DEFAULT_VIEWPORT
    headed: bool = False
    executable_path: str | None = None
    cdp_url: str | None = None
    user_data_dir: Path | None = None


@dataclass(frozen=True)
class DesktopTarget:
    """Drive an X11 desktop: a monitor (1-based) of ``DISPLAY``, or a virtual display of
    ``virtual_display`` (width, height) pixels started for the run, with ``launch`` commands.
    ``mask_secrets_ocr``: OCR every screenshot and paint over text showing a secret's value."""

    monitor: int = 1
    virtual_display: tuple[int, int] | None = None
    launch: tuple[str, ...] = ()
    fail_safe: bool = True
    mask_secrets_ocr: bool = False


@dataclass(frozen=True)
class PhoneTarget:
    """Drive an emulated phone: Chromium with the screen, touch input and user agent of
    ``device`` (a Playwright device name or its slug: ``pixel-7``, ``iphone-13``). ``url`` opens
    first; Home opens ``home_url`` (None: ``url``); ``open`` opens ``apps`` (app name -> URL)."""

    device: str = DEFAULT_PHONE
    url: str | None = None
    home_url: str | None = None
    apps: Mapping[str, str] = field(default_factory=dict)
    headed: bool = False
    executable_path: str | None = None


@dataclass(frozen=True)
class AdbTarget:
    """Drive an Android phone or emulator over ADB: ``serial`` (None: the only device attached),
    the ``adb_path`` program, and ``packages`` (app name -> package) for ``open``."""

    serial: str | None = None
    adb_path: str = "adb"
    packages: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannerSettings:
    """A planner model that decides each step in words while the run's model grounds it (``--planner``): its
    backend settings (``model.spec``: a served model name with ``api_base``, or ``scripted:PATH``), whether it is
    sent screenshots (``vision``; else the page's text) and how many times in a row a missed instruction is grounded
    again (``max_regrounds``)."""

    model: ModelSettings
    vision: bool = True
    max_regrounds: int = DEFAULT_MAX_REGROUNDS


@dataclass(frozen=True)
class RunSettings:
    """Everything one ``screenpilot run`` needs."""

    task: str
    model: ModelSettings
    target: BrowserTarget | DesktopTarget | PhoneTarget | AdbTarget = field(default_factory=BrowserTarget)
    prompt: PromptSettings = field(default_factory=PromptSettings)
    max_steps: int = DEFAULT_MAX_STEPS
    max_model_errors: int = 3
    out_dir: Path = Path("runs")
    quiet: bool = False
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    secrets: SecretStore = field(default_factory=lambda: SecretStore([]))
    planner: PlannerSettings | None = None
