"""Command-line options declared once and shared by every command that needs them.

An :class:`OptionGroup` is a builder function whose keyword parameters *are* the option declarations
(``Annotated[..., typer.Option(...)]``) and whose return value is the settings object those options make.
A command lists a group as one parameter (``model: ModelOptions``); :func:`screenpilot.agent.cli.app.command`
puts the group's options into the command's signature, so Typer shows them (in the group's help panel), and
hands the command the built object. ``run``, ``scenario run``, ``eval`` and ``calibrate`` take the same model,
prompt and browser groups, so every model and backend option exists wherever a model is chosen.

The API environment variables (``SCREENPILOT_API_BASE``, ``SCREENPILOT_API_KEY``, ``OPENAI_API_KEY``, and the
planner's ``SCREENPILOT_PLANNER_API_BASE`` and ``SCREENPILOT_PLANNER_API_KEY``) are read here, in
:func:`model_options` and :func:`planner_options`, and nowhere else.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import typer

from screenpilot.agent.errors import ConfigError
from screenpilot.agent.frame import MAX_SCREEN_SIDE
from screenpilot.agent.run.settings import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    AdbTarget,
    BrowserTarget,
    DesktopTarget,
    ModelSettings,
    PhoneTarget,
    PlannerSettings,
    PromptSettings,
    RunSettings,
)
from screenpilot.agent.safety.gate import CONFIRM_KINDS, PolicyConfig, load_policy_file
from screenpilot.agent.safety.secrets import SecretStore, load_secrets
from screenpilot.tools.web import DEFAULT_VIEWPORT

T = TypeVar("T")

MODEL_PANEL = "Model"
PROMPT_PANEL = "Prompt and image budget"
WHERE_PANEL = "Where"
SAFETY_PANEL = "Safety"
OUTPUT_PANEL = "Budget and output"

DEFAULT_VIEWPORT_TEXT = f"{DEFAULT_VIEWPORT[0]}x{DEFAULT_VIEWPORT[1]}"
"""The default viewport as typed on the command line (shown in help and parsed like a typed value)."""

FamilyName = Literal["auto", "qwen2.5-vl", "qwen3-vl", "ui-tars"]

OPTIONAL_VALUES: Mapping[str, str] = {"--confirm": "all", "--adb": "", "--ray": "local"}
"""Options whose value may be left out, and the value they then take (``--confirm`` alone asks before every
action; ``--adb`` alone picks the only device attached; ``--ray`` alone starts a local Ray)."""


# --- value parsers (the messages are shown as "Invalid value for '--option': ...") ------------------


def parse_size(text: str | tuple[int, int]) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. ``1280x720``) as a (width, height) pair of pixels, each 1 to :data:`MAX_SCREEN_SIDE`."""
    if isinstance(text, tuple):
        return text
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    if width < 1 or height < 1:
        raise typer.BadParameter(f"width and height must be positive, got {text!r}")
    if max(width, height) > MAX_SCREEN_SIDE:
        raise typer.BadParameter(f"at most {MAX_SCREEN_SIDE} pixels a side, got {text!r}")
    return width, height


def parse_url(text: str) -> str:
    """A URL as given (it has a scheme), or an existing local file as a ``file://`` URL."""
    if "://" in text or text.startswith(("about:", "data:")):
        return text
    path = Path(text)
    if not path.exists():
        raise typer.BadParameter(f"{text!r} is neither a URL (with a scheme) nor an existing file")
    return path.resolve().as_uri()


def parse_seconds(text: str | float) -> float:
    """A positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise typer.BadParameter(f"must be positive, got {text}")
    return value


def parse_confirm_kind(text: str) -> str:
    """One ``--confirm`` kind: an action kind of :data:`CONFIRM_KINDS` (``all``: every action)."""
    if text not in CONFIRM_KINDS:
        raise typer.BadParameter(f"{text!r} is not one of {', '.join(CONFIRM_KINDS)}")
    return text


def with_optional_values(argv: Sequence[str]) -> list[str]:
    """``argv`` with the implied value written out after each option of :data:`OPTIONAL_VALUES` given
    without one: at the end, or followed by another option. (Typer options always take their value.)"""
    out: list[str] = []
    for index, arg in enumerate(argv):
        out.append(arg)
        if arg == "--":
            return out + list(argv[index + 1:])
        following = argv[index + 1] if index + 1 < len(argv) else None
        if arg in OPTIONAL_VALUES and (following is None or following.startswith("-")):
            out.append(OPTIONAL_VALUES[arg])
    return out


# --- groups ------------------------------------------------------------------------------------------


class OptionGroup(Generic[T]):
    """Options declared as the keyword parameters of ``build``, which turns their values into a ``T``.

    ``required`` names parameters that become required options here (their default is dropped);
    ``without`` names parameters left out (``build`` then gets their defaults). ``build`` may raise
    ConfigError for values that do not go together.
    """

    def __init__(self, build: Callable[..., T], *, required: Sequence[str] = (), without: Sequence[str] = ()):
        declared = inspect.signature(build, eval_str=True).parameters
        unknown = (set(required) | set(without)) - set(declared)
        if unknown:
            raise TypeError(f"{build.__name__} has no options {sorted(unknown)}")
        self.build, self.required, self.left_out = build, tuple(required), tuple(without)
        self.parameters = tuple(
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY,
                      default=inspect.Parameter.empty if p.name in required else p.default)
            for p in declared.values() if p.name not in without)

    def requiring(self, *names: str) -> OptionGroup[T]:
        """The same group with ``names`` required as well."""
        return OptionGroup(self.build, required=(*self.required, *names), without=self.left_out)

    def without(self, *names: str) -> OptionGroup[T]:
        """The same group without the options ``names``."""
        return OptionGroup(self.build, required=self.required, without=(*self.left_out, *names))

    def __call__(self, values: Mapping[str, Any]) -> T:
        """Build from the parsed values of this group's options (other keys are ignored)."""
        return self.build(**{p.name: values[p.name] for p in self.parameters})


# --- model ---------------------------------------------------------------------------------------------

MODEL_HELP = (
    "which model decides: scripted:REPLIES.json (replays a JSON list of reply strings), an alias "
    "(qwen2.5-vl-3b, qwen2.5-vl-7b, qwen2.5-vl-32b, qwen2.5-vl-72b: the Instruct checkpoints, run "
    "locally with transformers), a local model folder, or with --api-base the model name the server serves"
)


@dataclass(frozen=True)
class ModelOptions:
    """The model options as given. ``spec`` is None when no ``--model`` was given; ``backend`` holds every
    other backend option (its ``spec`` is empty), shared by the ``fallback_spec`` model of replays."""

    spec: str | None
    backend: ModelSettings
    fallback_spec: str | None = None

    @property
    def fallback(self) -> ModelSettings | None:
        """Settings for ``--fallback-model``; None without one."""
        return self.settings(self.fallback_spec) if self.fallback_spec else None

    def settings(self, spec: str | None = None) -> ModelSettings | None:
        """Settings for ``spec`` (default: ``--model``); None when there is no model to use."""
        chosen = spec or self.spec
        return None if chosen is None else replace(self.backend, spec=chosen)

    def required(self) -> ModelSettings:
        """Settings for ``--model``; ConfigError when it was not given."""
        settings = self.settings()
        if settings is None:
            raise ConfigError("this command needs --model")
        return settings


def model_options(  # noqa: PLR0913 - one parameter per command-line option
    model: Annotated[str | None, typer.Option(help=MODEL_HELP, rich_help_panel=MODEL_PANEL)] = None,
    api_base: Annotated[str | None, typer.Option(
        help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (env SCREENPILOT_API_BASE); the API key "
        "comes from env SCREENPILOT_API_KEY or OPENAI_API_KEY", rich_help_panel=MODEL_PANEL)] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="reply length cap in tokens",
                                                rich_help_panel=MODEL_PANEL)] = ModelSettings.max_new_tokens,
    device_map: Annotated[str, typer.Option(help="local backend: accelerate device_map",
                                            rich_help_panel=MODEL_PANEL)] = ModelSettings.device_map,
    dtype: Annotated[str, typer.Option(help="local backend: auto (bf16 on GPU), bfloat16, float16, float32",
                                       rich_help_panel=MODEL_PANEL)] = ModelSettings.dtype,
    attn_implementation: Annotated[Literal["sdpa", "flash_attention_2", "eager"] | None, typer.Option(
        help="local backend: attention kernel", rich_help_panel=MODEL_PANEL)] = None,
    image_format: Annotated[Literal["png", "jpeg"], typer.Option(
        help="HTTP backend: how screenshots are encoded", rich_help_panel=MODEL_PANEL)] = "png",
    timeout: Annotated[float, typer.Option(parser=parse_seconds, help="HTTP backend: seconds per attempt of a request",
                                           rich_help_panel=MODEL_PANEL)] = ModelSettings.timeout_s,
    retries: Annotated[int, typer.Option(min=0, help="HTTP backend: attempts repeated after a timeout, a lost "
                                         "connection or errors 429/5xx",
                                         rich_help_panel=MODEL_PANEL)] = ModelSettings.max_retries,
    fallback_model: Annotated[str | None, typer.Option(
        metavar="SPEC", help="replay scripts (steps:): a model (same forms as --model, same --api-base) that does a "
        "step whose target is lost, then the replay carries on (default: stop with a report)",
        rich_help_panel=MODEL_PANEL)] = None,
) -> ModelOptions:
    """The model and backend options; the API base and key environment variables are read here."""
    if api_base and not (model or fallback_model):
        raise ConfigError("--api-base needs --model (the model name the server serves)")
    backend = ModelSettings(
        spec="", api_base=api_base or os.environ.get("SCREENPILOT_API_BASE"),
        api_key=os.environ.get("SCREENPILOT_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        max_new_tokens=max_new_tokens, device_map=device_map, dtype=dtype, attn_implementation=attn_implementation,
        image_format=image_format, timeout_s=timeout, max_retries=retries)
    return ModelOptions(spec=model, backend=backend, fallback_spec=fallback_model)


EPISODE_MODEL = OptionGroup(model_options)
"""Model options where a model is optional (scenarios and evaluations have scripted replies and replay scripts,
which may fall back on a model)."""
MODEL = EPISODE_MODEL.requiring("model").without("fallback_model")
"""Model options where ``--model`` must be given (``run``, ``calibrate``)."""


def prompt_options(
    min_pixels: Annotated[int | None, typer.Option(
        min=1, help=f"smallest model image area in pixels (default: the model family's own; {DEFAULT_MIN_PIXELS} "
        "for Qwen2.5-VL)", rich_help_panel=PROMPT_PANEL)] = None,
    max_pixels: Annotated[int | None, typer.Option(
        min=1, help=f"largest model image area in pixels (default: the model family's own; {DEFAULT_MAX_PIXELS} "
        f"for Qwen2.5-VL; {1280 * 28 * 28} is faster)", rich_help_panel=PROMPT_PANEL)] = None,
    keep_images: Annotated[int, typer.Option(
        min=1, help="screenshots sent per request: 1 = current only, earlier steps as text",
        rich_help_panel=PROMPT_PANEL)] = PromptSettings.keep_images,
    prompt_format: Annotated[FamilyName, typer.Option(
        help="the model family's dialect (auto: from the model's name or config.json)",
        rich_help_panel=PROMPT_PANEL)] = "auto",
) -> PromptSettings:
    """Prompt format and image budget; a bound given is used as given, even one equal to a default."""
    if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
        raise ConfigError(f"--min-pixels ({min_pixels}) must not exceed --max-pixels ({max_pixels})")
    return PromptSettings(format=prompt_format, min_pixels=min_pixels, max_pixels=max_pixels, keep_images=keep_images)


PROMPT = OptionGroup(prompt_options)


# --- where: browser, desktop, phone ---------------------------------------------------------------------

Target = BrowserTarget | DesktopTarget | PhoneTarget | AdbTarget


def target_options(  # noqa: PLR0913 - one parameter per command-line option
    url: Annotated[str | None, typer.Option(
        parser=parse_url, help="browser: start page (URL or local file; default: a blank page)",
        rich_help_panel=WHERE_PANEL)] = None,
    viewport: Annotated[Any, typer.Option(parser=parse_size, metavar="WxH", help="browser: page size in CSS pixels",
                                          rich_help_panel=WHERE_PANEL)] = DEFAULT_VIEWPORT_TEXT,
    headed: Annotated[bool, typer.Option(help="browser: show the window (default headless)",
                                         rich_help_panel=WHERE_PANEL)] = False,
    browser_path: Annotated[str | None, typer.Option(help="browser: Chromium executable (default: detect)",
                                                     rich_help_panel=WHERE_PANEL)] = None,
    desktop: Annotated[bool, typer.Option(help="drive the X11 desktop instead of a browser",
                                          rich_help_panel=WHERE_PANEL)] = False,
    monitor: Annotated[int, typer.Option(min=1, help="desktop: monitor number", rich_help_panel=WHERE_PANEL)] = 1,
    virtual_display: Annotated[Any, typer.Option(
        parser=parse_size, metavar="WxH", help="desktop: start an Xvfb display of WxH pixels for the run",
        rich_help_panel=WHERE_PANEL)] = None,
    launch: Annotated[list[str] | None, typer.Option(
        help="desktop: command to start on the display (repeatable)", rich_help_panel=WHERE_PANEL)] = None,
    no_fail_safe: Annotated[bool, typer.Option(
        help="desktop: disable PyAutoGUI's corner fail-safe (off anyway on virtual displays)",
        rich_help_panel=WHERE_PANEL)] = False,
    mask_secrets_ocr: Annotated[bool, typer.Option(
        help="desktop: OCR every screenshot and paint over the text lines that show a --secret value (costs an OCR "
        "pass per step; covers only text OCR reads, see the README); needs --desktop and a --secret",
        rich_help_panel=WHERE_PANEL)] = False,
    phone: Annotated[str | None, typer.Option(
        metavar="DEVICE", help="drive an emulated phone (Chromium with the phone's screen, touch and user agent), "
        "e.g. pixel-7, iphone-13, galaxy-s9-plus; the start page comes from --url",
        rich_help_panel=WHERE_PANEL)] = None,
    adb: Annotated[str | None, typer.Option(
        metavar="[SERIAL]", help="drive an Android phone or emulator over adb; SERIAL (see `adb devices`) picks one "
        "of several devices", rich_help_panel=WHERE_PANEL)] = None,
    cdp_url: Annotated[str | None, typer.Option(
        metavar="URL", help="browser: drive your own running Chrome/Chromium, started with "
        "--remote-debugging-port=9222, at URL (e.g. http://127.0.0.1:9222) instead of launching one: the run starts "
        "on its current tab (--url opens in it), --viewport sizes the tabs it drives, and the browser stays open "
        "afterwards", rich_help_panel=WHERE_PANEL)] = None,
    user_data_dir: Annotated[Path | None, typer.Option(
        metavar="DIR", help="browser: launch on the persistent profile in DIR (made when missing), so cookies, "
        "storage and logins stay for the next run", rich_help_panel=WHERE_PANEL)] = None,
) -> Target:
    """Where the agent acts; ConfigError for options that do not go together."""
    if mask_secrets_ocr and not desktop:
        raise ConfigError("--mask-secrets-ocr is for --desktop; browser and phone screenshots have secrets painted "
                          "over without it")
    if (cdp_url or user_data_dir) and (phone or adb is not None or desktop):
        raise ConfigError("--cdp-url and --user-data-dir are for the browser, not --desktop, --phone or --adb")
    if cdp_url and (user_data_dir or browser_path or headed):
        raise ConfigError("--cdp-url attaches to a browser that is already running; --user-data-dir, --browser-path "
                          "and --headed are for a browser screenpilot launches")
    if phone or adb is not None:
        if phone and adb is not None:
            raise ConfigError("choose one of --phone (an emulated phone) and --adb (a device over adb)")
        if desktop or virtual_display or launch:
            raise ConfigError("--desktop, --virtual-display and --launch do not go with --phone or --adb")
        if phone:
            return PhoneTarget(device=phone, url=url, headed=headed, executable_path=browser_path)
        if url:
            raise ConfigError("--url is for the browser and --phone; with --adb, ask the model to open an app instead")
        return AdbTarget(serial=adb or None)
    if desktop:
        if url:
            raise ConfigError("--url is for the browser and --phone; on the desktop, --launch starts an application")
        return DesktopTarget(monitor, virtual_display, tuple(launch or ()),
                             fail_safe=not no_fail_safe and virtual_display is None, mask_secrets_ocr=mask_secrets_ocr)
    if virtual_display or launch:
        raise ConfigError("--virtual-display and --launch need --desktop")
    return BrowserTarget(url, parse_size(viewport), headed, browser_path, cdp_url=cdp_url, user_data_dir=user_data_dir)


WHERE = OptionGroup(target_options)
"""Browser, desktop and phone options (``run``)."""
BROWSER = WHERE.without("url", "desktop", "monitor", "virtual_display", "launch", "no_fail_safe", "mask_secrets_ocr",
                        "phone", "adb", "cdp_url", "user_data_dir")
"""The browser's window and executable options, and its viewport: a :class:`BrowserTarget` without a URL. Episodes
(scenarios, evaluations, calibration) always start a fresh browser of their own, so the user's browser
(``--cdp-url``) and a persistent profile (``--user-data-dir``) are left out."""


# --- safety --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SafetyOptions:
    """The policy (file plus options) and the secrets asked for by ``--secret`` / ``--secrets-file``."""

    policy: PolicyConfig
    secrets: tuple[str, ...]
    secrets_file: Path | None

    def secret_store(self, start_url: str | None) -> SecretStore:
        """The secrets, read from the environment and the file now; a secret without domains of its own may be
        typed on the allowed domains, or else on the start page's host."""
        host = urlsplit(start_url).hostname if start_url else None
        return load_secrets(list(self.secrets), self.secrets_file,
                            default_domains=self.policy.allow_domains or ((host,) if host else ()))


def safety_options(  # noqa: PLR0913 - one parameter per command-line option
    policy: Annotated[Path | None, typer.Option(help="policy YAML file (domains, keys, regions, confirm)",
                                                rich_help_panel=SAFETY_PANEL)] = None,
    allow_domain: Annotated[list[str] | None, typer.Option(
        metavar="PATTERN", help="only these domains may be visited (repeatable; example.org includes subdomains); "
        "the start URL's origin is always allowed", rich_help_panel=SAFETY_PANEL)] = None,
    block_domain: Annotated[list[str] | None, typer.Option(
        metavar="PATTERN", help="never visit these domains (repeatable)", rich_help_panel=SAFETY_PANEL)] = None,
    allow_file_urls: Annotated[bool, typer.Option(help="allow file:// pages beyond the start URL",
                                                  rich_help_panel=SAFETY_PANEL)] = False,
    allow_private_network: Annotated[bool, typer.Option(
        help="allow localhost and private addresses beyond the start URL's origin",
        rich_help_panel=SAFETY_PANEL)] = False,
    confirm: Annotated[list[str] | None, typer.Option(
        parser=parse_confirm_kind, metavar="[KIND]",
        help=f"ask before actions of KIND ({', '.join(CONFIRM_KINDS)}; repeatable); alone: every action",
        rich_help_panel=SAFETY_PANEL)] = None,
    no_terminal_default: Annotated[Literal["deny", "approve"] | None, typer.Option(
        help="what confirmation means with no terminal attached (default deny)", rich_help_panel=SAFETY_PANEL)] = None,
    dry_run: Annotated[bool, typer.Option(help="decide and record, but carry out no action",
                                          rich_help_panel=SAFETY_PANEL)] = False,
    secret: Annotated[list[str] | None, typer.Option(
        metavar="NAME:DOMAINS", help="a secret the model types as {{NAME}}; value from env $NAME or --secrets-file; "
        "optional comma-separated domains it may be typed on (repeatable)", rich_help_panel=SAFETY_PANEL)] = None,
    secrets_file: Annotated[Path | None, typer.Option(help="file of NAME=value lines",
                                                      rich_help_panel=SAFETY_PANEL)] = None,
    upload_dir: Annotated[Path | None, typer.Option(
        metavar="DIR", help="browser: the model may upload files from DIR only (paths outside it are refused); "
        "without it every upload is refused", rich_help_panel=SAFETY_PANEL)] = None,
) -> SafetyOptions:
    """The policy file (if any) with the command-line options laid over it, and the secrets asked for."""
    base = load_policy_file(policy) if policy else PolicyConfig()
    config = replace(
        base,
        allow_domains=base.allow_domains + tuple(allow_domain or ()),
        block_domains=base.block_domains + tuple(block_domain or ()),
        allow_file_urls=base.allow_file_urls or allow_file_urls,
        allow_private_network=base.allow_private_network or allow_private_network,
        confirm=base.confirm + tuple(confirm or ()),
        no_terminal_default=no_terminal_default or base.no_terminal_default,
        dry_run=base.dry_run or dry_run,
        upload_dir=upload_dir or base.upload_dir,
    )
    return SafetyOptions(policy=config, secrets=tuple(secret or ()), secrets_file=secrets_file)


SAFETY = OptionGroup(safety_options)
SECRETS = SAFETY.without("policy", "allow_domain", "block_domain", "allow_file_urls", "allow_private_network",
                         "confirm", "no_terminal_default", "dry_run", "upload_dir")
"""Only ``--secret`` and ``--secrets-file``: for episodes, whose policy is the scenario's own."""


# --- planner -------------------------------------------------------------------------------------------------

PLANNER_PANEL = "Planner"


def planner_options(
    planner: Annotated[str | None, typer.Option(
        metavar="MODEL", help="a planner that decides each step in words, which --model then grounds: the model "
        "name a server serves (with --planner-api-base; key from env SCREENPILOT_PLANNER_API_KEY or OPENAI_API_KEY), "
        "or scripted:REPLIES.json", rich_help_panel=PLANNER_PANEL)] = None,
    planner_api_base: Annotated[str | None, typer.Option(
        help="the planner's OpenAI-compatible server (default: --api-base)", rich_help_panel=PLANNER_PANEL)] = None,
    planner_text_only: Annotated[bool, typer.Option(
        help="send the planner no screenshots: the page's address, title and accessibility text instead",
        rich_help_panel=PLANNER_PANEL)] = False,
    planner_max_tokens: Annotated[int, typer.Option(min=1, help="the planner's reply length cap in tokens",
                                                    rich_help_panel=PLANNER_PANEL)] = 512,
    planner_timeout: Annotated[float, typer.Option(
        parser=parse_seconds, help="seconds per attempt of a planner request",
        rich_help_panel=PLANNER_PANEL)] = ModelSettings.timeout_s * 4,
    planner_retries: Annotated[int, typer.Option(
        min=0, help="planner requests: attempts repeated after a timeout, a lost connection or errors 429/5xx",
        rich_help_panel=PLANNER_PANEL)] = ModelSettings.max_retries,
    planner_regrounds: Annotated[int, typer.Option(
        min=0, help="times in a row an instruction the planner says missed is grounded again",
        rich_help_panel=PLANNER_PANEL)] = PlannerSettings.max_regrounds,
) -> PlannerSettings | None:
    """The planner, if one was asked for; its API key is read from the environment here."""
    if planner is None:
        if planner_api_base:
            raise ConfigError("--planner-api-base needs --planner (the model name the server serves)")
        return None
    api_base = planner_api_base or os.environ.get("SCREENPILOT_PLANNER_API_BASE") or os.environ.get(
        "SCREENPILOT_API_BASE")
    model = ModelSettings(spec=planner, api_base=api_base, max_new_tokens=planner_max_tokens,
                          api_key=os.environ.get("SCREENPILOT_PLANNER_API_KEY") or os.environ.get("OPENAI_API_KEY"),
                          timeout_s=planner_timeout, max_retries=planner_retries)
    return PlannerSettings(model, vision=not planner_text_only, max_regrounds=planner_regrounds)


PLANNER = OptionGroup(planner_options)


# --- budget and output of a run --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutput:
    """A run's budgets (``max_steps`` model calls, ``max_model_errors`` consecutive unusable replies) and where its
    output goes: run folders under ``out``, only the outcome printed when ``quiet``, and the latest annotated
    screenshot kept in ``live_screenshots`` (None: not kept)."""

    max_steps: int
    max_model_errors: int
    out: Path
    quiet: bool
    live_screenshots: Path | None


def output_options(
    max_steps: Annotated[int, typer.Option(min=1, help="model calls at most",
                                           rich_help_panel=OUTPUT_PANEL)] = RunSettings.max_steps,
    max_model_errors: Annotated[int, typer.Option(min=1, help="consecutive unusable replies before giving up",
                                                  rich_help_panel=OUTPUT_PANEL)] = RunSettings.max_model_errors,
    out: Annotated[Path, typer.Option(help="folder for run folders",
                                      rich_help_panel=OUTPUT_PANEL)] = RunSettings.out_dir,
    quiet: Annotated[bool, typer.Option(help="print only the outcome", rich_help_panel=OUTPUT_PANEL)] = False,
    live_screenshots: Annotated[Path | None, typer.Option(
        metavar="DIR", help="keep DIR/latest.png (annotated) and DIR/latest.json updated after each step",
        rich_help_panel=OUTPUT_PANEL)] = None,
) -> RunOutput:
    """The budget and output options of ``run`` (and of the Python API's runs and sessions)."""
    return RunOutput(max_steps, max_model_errors, out, quiet, live_screenshots)


OUTPUT = OptionGroup(output_options)

RUN_GROUPS: Mapping[str, OptionGroup[Any]] = {"where": WHERE, "model": MODEL, "prompt": PROMPT, "safety": SAFETY,
                                               "output": OUTPUT, "planner": PLANNER}
"""Every option of ``screenpilot run`` (besides the task), by group: the Python API takes the same names."""


def run_settings(task: str, *, where: Target, model: ModelOptions, prompt: PromptSettings,
                 safety: SafetyOptions, output: RunOutput, planner: PlannerSettings | None = None) -> RunSettings:
    """The settings of one run from its option groups (the secrets are read now)."""
    start_url = where.url if isinstance(where, BrowserTarget | PhoneTarget) else None
    secrets = safety.secret_store(start_url)
    if isinstance(where, DesktopTarget) and where.mask_secrets_ocr and not secrets:
        raise ConfigError("--mask-secrets-ocr masks the values of secrets: give them with --secret NAME (value from "
                          "$NAME) or --secrets-file")
    return RunSettings(task=task, model=model.required(), target=where, prompt=prompt, max_steps=output.max_steps,
                       max_model_errors=output.max_model_errors, out_dir=output.out, quiet=output.quiet,
                       policy=safety.policy, secrets=secrets, planner=planner)
