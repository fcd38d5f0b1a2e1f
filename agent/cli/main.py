"""The ``screenpilot`` command line.

Exit codes: 0 the task succeeded; 1 the task failed (model gave up, budget spent, replies ran
out); 2 bad usage or configuration; 3 an infrastructure error ended the run (backend down,
browser crashed, display gone); 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.markup import escape

from screenpilot.agent.errors import ConfigError, InfrastructureError, ScreenpilotError
from screenpilot.agent.run.interrupts import StopFlag, graceful_interrupts
from screenpilot.agent.run.settings import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    AdbTarget,
    BrowserTarget,
    DesktopTarget,
    ModelSettings,
    PhoneTarget,
    PromptSettings,
    RunSettings,
)
from screenpilot.agent.safety.gate import PolicyConfig, load_policy_file
from screenpilot.agent.safety.secrets import load_secrets

EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3
EXIT_INTERRUPTED = 130

_EXIT_BY_STATUS = {"success": EXIT_SUCCESS, "failure": EXIT_FAILURE, "error": EXIT_INFRASTRUCTURE,
                   "stopped": EXIT_INTERRUPTED}

MODEL_HELP = (
    "which model decides: scripted:REPLIES.json (replays a JSON list of reply strings), an alias "
    "(qwen2.5-vl-3b, qwen2.5-vl-7b, qwen2.5-vl-32b, qwen2.5-vl-72b: the Instruct checkpoints, run "
    "locally with transformers), a local model folder, or with --api-base the model name the server serves"
)


def size_arg(text: str) -> tuple[int, int]:
    """Parse ``WIDTHxHEIGHT`` (e.g. 1280x720) into a (width, height) tuple of pixels."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"width and height must be positive, got {text!r}")
    return width, height


def url_arg(text: str) -> str:
    """A URL as given, or a local file path turned into a file:// URL."""
    if "://" in text or text.startswith(("about:", "data:")):
        return text
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text!r} is neither a URL (with a scheme) nor an existing file")
    return path.resolve().as_uri()


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", required=True, help=MODEL_HELP)
    group.add_argument("--api-base", default=None,
                       help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (env SCREENPILOT_API_BASE); "
                       "the API key comes from env SCREENPILOT_API_KEY or OPENAI_API_KEY")
    group.add_argument("--max-new-tokens", type=_positive_int, default=256, help="reply length cap (default 256)")
    group.add_argument("--device-map", default="auto", help="local backend: accelerate device_map (default auto)")
    group.add_argument("--dtype", default="auto", help="local backend: auto (bf16 on GPU), bfloat16, float16, float32")
    group.add_argument("--attn-implementation", default=None, choices=["sdpa", "flash_attention_2", "eager"],
                       help="local backend: attention kernel")
    group.add_argument("--image-format", default="png", choices=["png", "jpeg"],
                       help="HTTP backend: how screenshots are encoded (default png)")
    group.add_argument("--timeout", type=float, default=120.0, help="HTTP backend: seconds per request")
    group.add_argument("--retries", type=int, default=3, help="HTTP backend: retries on errors 429/5xx")
    prompt = parser.add_argument_group("prompt and image budget")
    prompt.add_argument("--min-pixels", type=_positive_int, default=DEFAULT_MIN_PIXELS,
                        help=f"smallest model image area in pixels (default {DEFAULT_MIN_PIXELS})")
    prompt.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS,
                        help=f"largest model image area in pixels (default {DEFAULT_MAX_PIXELS}; "
                        f"{1280 * 28 * 28} is faster)")
    prompt.add_argument("--keep-images", type=_positive_int, default=1,
                        help="screenshots sent per request: 1 = current only, earlier steps as text (default)")
    prompt.add_argument("--prompt-format", choices=["auto", "qwen2.5-vl", "qwen3-vl", "ui-tars"], default="auto",
                        help="the model family's dialect (default auto: from the model's name or config.json)")


def _add_run_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="carry out a task in a browser or on the desktop",
                         description="Carry out TASK: screenshot -> model -> action, until the model "
                         "terminates or a budget runs out. The trajectory goes to a new folder in --out.")
    run.add_argument("task", help="what to do, in plain words")
    target = run.add_argument_group("where")
    target.add_argument("--url", type=url_arg, default=None, help="browser: start page (URL or local file)")
    target.add_argument("--viewport", type=size_arg, default=(1280, 720), help="browser: WxH (default 1280x720)")
    target.add_argument("--headed", action="store_true", help="browser: show the window (default headless)")
    target.add_argument("--browser-path", default=None, help="browser: Chromium executable (default: detect)")
    target.add_argument("--desktop", action="store_true", help="drive the X11 desktop instead of a browser")
    target.add_argument("--monitor", type=_positive_int, default=1, help="desktop: monitor number (default 1)")
    target.add_argument("--virtual-display", type=size_arg, default=None,
                        help="desktop: start an Xvfb display of WxH for the run")
    target.add_argument("--launch", action="append", default=[],
                        help="desktop: command to start on the display (repeatable)")
    target.add_argument("--no-fail-safe", action="store_true",
                        help="desktop: disable PyAutoGUI's corner fail-safe (off anyway on virtual displays)")
    target.add_argument("--phone", default=None, metavar="DEVICE",
                        help="drive an emulated phone (Chromium with the phone's screen, touch and user agent), "
                        "e.g. pixel-7, iphone-13, galaxy-s9-plus; the start page comes from --url")
    target.add_argument("--adb", nargs="?", const="", default=None, metavar="SERIAL",
                        help="drive an Android phone or emulator over adb; SERIAL (see `adb devices`) picks one "
                        "of several devices")
    _add_model_options(run)
    budget = run.add_argument_group("budget and output")
    budget.add_argument("--max-steps", type=_positive_int, default=30, help="model calls at most (default 30)")
    budget.add_argument("--max-model-errors", type=_positive_int, default=3,
                        help="consecutive unusable replies before giving up (default 3)")
    budget.add_argument("--out", type=Path, default=Path("runs"), help="folder for run folders (default ./runs)")
    budget.add_argument("--quiet", action="store_true", help="print only the outcome")
    budget.add_argument("--live-screenshots", type=Path, default=None, metavar="DIR",
                        help="keep DIR/latest.png (annotated) and DIR/latest.json updated after each step")
    _add_safety_options(run)
    run.set_defaults(handler=cmd_run)


def _add_safety_options(parser: argparse.ArgumentParser) -> None:
    safety = parser.add_argument_group(
        "safety", "The start URL's origin is always allowed; file:// URLs and private network addresses "
        "elsewhere only with the flags below.")
    safety.add_argument("--policy", type=Path, default=None, help="policy YAML file (domains, keys, regions, confirm)")
    safety.add_argument("--allow-domain", action="append", default=[], metavar="PATTERN",
                        help="only these domains may be visited (repeatable; example.org includes subdomains)")
    safety.add_argument("--block-domain", action="append", default=[], metavar="PATTERN",
                        help="never visit these domains (repeatable)")
    safety.add_argument("--allow-file-urls", action="store_true", help="allow file:// pages beyond the start URL")
    safety.add_argument("--allow-private-network", action="store_true",
                        help="allow localhost and private addresses beyond the start URL's origin")
    safety.add_argument("--confirm", nargs="?", const="all", action="append", default=[],
                        choices=["all", "type", "key", "navigate", "click"], metavar="KIND",
                        help="ask before actions of KIND (type, key, navigate, click); alone: every action")
    safety.add_argument("--no-terminal-default", choices=["deny", "approve"], default=None,
                        help="what confirmation means with no terminal attached (default deny)")
    safety.add_argument("--dry-run", action="store_true", help="decide and record, but carry out no action")
    safety.add_argument("--secret", action="append", default=[], metavar="NAME[:DOMAINS]",
                        help="a secret the model types as {{NAME}}; value from env $NAME or --secrets-file; "
                        "optional comma-separated domains it may be typed on")
    safety.add_argument("--secrets-file", type=Path, default=None, help="file of NAME=value lines")


def policy_from_args(args: argparse.Namespace) -> PolicyConfig:
    """The policy file (if any) with the command-line options laid over it."""
    base = load_policy_file(args.policy) if args.policy else PolicyConfig()
    return replace(
        base,
        allow_domains=base.allow_domains + tuple(args.allow_domain),
        block_domains=base.block_domains + tuple(args.block_domain),
        allow_file_urls=base.allow_file_urls or args.allow_file_urls,
        allow_private_network=base.allow_private_network or args.allow_private_network,
        confirm=base.confirm + tuple(args.confirm),
        no_terminal_default=args.no_terminal_default or base.no_terminal_default,
        dry_run=base.dry_run or args.dry_run,
    )


# Modules that add subcommands: each has ``add_parser(subparsers)``, which registers its parser
# with ``set_defaults(handler=fn)`` where ``fn(args, console) -> exit code``.
COMMAND_MODULES: tuple[str, ...] = (
    "screenpilot.agent.cli.view",
    "screenpilot.agent.cli.scenarios",
    "screenpilot.agent.cli.calibrate",
    "screenpilot.agent.cli.script",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser: run, dev, and the subcommands of COMMAND_MODULES."""
    parser = argparse.ArgumentParser(
        prog="screenpilot",
        description="A vision-language agent (Qwen2.5-VL) that operates browsers and desktops through "
        "their screens.",
        epilog="Exit codes: 0 success, 1 task failed, 2 usage/configuration error, "
        "3 infrastructure error, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_parser(sub)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(sub)
    dev = sub.add_parser("dev", help="developer utilities").add_subparsers(dest="dev_command", required=True)
    tiny = dev.add_parser("build-tiny-model", help="build a tiny random model folder for tests (offline)")
    tiny.add_argument("dir", type=Path, help="folder to create")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--family", choices=["qwen2.5-vl", "qwen3-vl", "ui-tars"], default="qwen2.5-vl",
                      help="model family (default qwen2.5-vl)")
    tiny.set_defaults(handler=cmd_build_tiny_model)
    return parser


def settings_from_args(args: argparse.Namespace) -> RunSettings:
    """Turn parsed ``run`` arguments into RunSettings (the one place env vars are read)."""
    target: BrowserTarget | DesktopTarget | PhoneTarget | AdbTarget
    if args.phone or args.adb is not None:
        target = phone_target_from_args(args)
    elif args.desktop:
        if args.url:
            raise ConfigError("--url is for the browser; with --desktop use --launch to start an application")
        target = DesktopTarget(args.monitor, args.virtual_display, tuple(args.launch),
                               fail_safe=not args.no_fail_safe and args.virtual_display is None)
    else:
        if args.virtual_display or args.launch:
            raise ConfigError("--virtual-display and --launch need --desktop")
        target = BrowserTarget(args.url, args.viewport, args.headed, args.browser_path)
    model = ModelSettings(
        spec=args.model,
        api_base=args.api_base or os.environ.get("SCREENPILOT_API_BASE"),
        api_key=os.environ.get("SCREENPILOT_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        max_new_tokens=args.max_new_tokens, device_map=args.device_map, dtype=args.dtype,
        attn_implementation=args.attn_implementation, image_format=args.image_format,
        timeout_s=args.timeout, max_retries=args.retries,
    )
    if args.min_pixels > args.max_pixels:
        raise ConfigError(f"--min-pixels ({args.min_pixels}) must not exceed --max-pixels ({args.max_pixels})")
    prompt = PromptSettings(format=args.prompt_format, min_pixels=args.min_pixels, max_pixels=args.max_pixels,
                            keep_images=args.keep_images)
    policy = policy_from_args(args)
    start_host = urlsplit(args.url).hostname if args.url else None
    secrets = load_secrets(args.secret, args.secrets_file,
                           default_domains=policy.allow_domains or ((start_host,) if start_host else ()))
    return RunSettings(task=args.task, model=model, target=target, prompt=prompt, max_steps=args.max_steps,
                       max_model_errors=args.max_model_errors, out_dir=args.out, quiet=args.quiet,
                       policy=policy, secrets=secrets)


def phone_target_from_args(args: argparse.Namespace) -> PhoneTarget | AdbTarget:
    """``--phone DEVICE`` (an emulated phone opening ``--url``) or ``--adb [SERIAL]`` (a real
    device or emulator); ConfigError for options that do not go with them."""
    if args.phone and args.adb is not None:
        raise ConfigError("choose one of --phone (an emulated phone) and --adb (a device over adb)")
    if args.desktop or args.virtual_display or args.launch:
        raise ConfigError("--desktop, --virtual-display and --launch do not go with --phone or --adb")
    if args.phone:
        return PhoneTarget(device=args.phone, url=args.url, headed=args.headed, executable_path=args.browser_path)
    if args.url:
        raise ConfigError("--url is for the browser and --phone; with --adb, ask the model to open an app instead")
    return AdbTarget(serial=args.adb or None)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """``screenpilot run``: run one task and print where its trajectory is."""
    from screenpilot.agent.reports.live import LiveScreenshotObserver
    from screenpilot.agent.run.console import ConsoleObserver
    from screenpilot.agent.run.loop import Observer
    from screenpilot.agent.run.runner import run_task

    settings = settings_from_args(args)
    observers: list[Observer] = [] if settings.quiet else [ConsoleObserver(console, settings.max_steps)]
    if args.live_screenshots is not None:
        observers.append(LiveScreenshotObserver(args.live_screenshots))
    with graceful_interrupts(StopFlag()) as stop:
        outcome = run_task(settings, observers, should_stop=stop)
    if settings.quiet:
        console.print(f"{outcome.result.status} ({outcome.result.reason}) after {outcome.result.steps} step(s)")
    console.print(f"Trajectory: {outcome.run_dir}")
    return _EXIT_BY_STATUS[outcome.result.status]


def cmd_build_tiny_model(args: argparse.Namespace, console: Console) -> int:
    """``screenpilot dev build-tiny-model DIR [--family F]``."""
    import time

    from screenpilot.models.tiny import build_tiny, family_label

    t0 = time.perf_counter()
    path = build_tiny(args.family, args.dir, seed=args.seed)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    console.print(f"Built tiny {family_label(args.family)} in {path} ({size / 1e6:.1f} MB, "
                  f"{time.perf_counter() - t0:.1f} s)")
    return EXIT_SUCCESS


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``screenpilot`` console script; returns the exit code."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    args = build_parser().parse_args(argv)
    try:
        exit_code: int = args.handler(args, console)
        return exit_code
    except ConfigError as exc:
        console.print(f"[bold red]Configuration error:[/bold red] {escape(exc.message)}")
        return EXIT_USAGE
    except InfrastructureError as exc:
        console.print(f"[bold red]Error:[/bold red] {escape(exc.message)}")
        return EXIT_INFRASTRUCTURE
    except ScreenpilotError as exc:
        console.print(f"[bold red]Error:[/bold red] {escape(exc.message)}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        console.print("[bold magenta]Interrupted[/bold magenta]: the trajectory holds every finished step.")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
