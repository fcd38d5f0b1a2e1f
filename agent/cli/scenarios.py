"""``screenpilot scenario run|list`` and ``screenpilot eval``: scenario files and evaluations.

Exit codes follow :mod:`screenpilot.agent.cli.main`: 0 success (every episode, for eval), 1 a task failed, 2 bad
usage or an invalid scenario file, 3 an infrastructure error ended a single run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from screenpilot.agent.cli.main import (
    EXIT_FAILURE,
    EXIT_INFRASTRUCTURE,
    EXIT_INTERRUPTED,
    EXIT_SUCCESS,
    EXIT_USAGE,
    size_arg,
)
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.settings import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, ModelSettings, PromptSettings
from screenpilot.agent.scenario.spec import ScenarioError, load_scenario, scenario_files

_EXIT_BY_STATUS = {"success": EXIT_SUCCESS, "failure": EXIT_FAILURE, "error": EXIT_INFRASTRUCTURE,
                   "stopped": EXIT_INTERRUPTED, "timeout": EXIT_FAILURE}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _add_episode_options(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model (default: the scenario's scripted replies or replay script)")
    model.add_argument("--model", default=None,
                       help="scripted:REPLIES.json, an alias (qwen2.5-vl-7b...), a model folder, or with --api-base "
                       "the served model name")
    model.add_argument("--api-base", default=None, help="OpenAI-compatible server (env SCREENPILOT_API_BASE); the key "
                       "comes from env SCREENPILOT_API_KEY or OPENAI_API_KEY")
    model.add_argument("--fallback-model", default=None, metavar="SPEC",
                       help="replay scripts (steps:): a model (same forms as --model, same --api-base) that does a "
                       "step whose target is lost, then the replay carries on (default: stop with a report)")
    model.add_argument("--max-new-tokens", type=_positive_int, default=256, help="reply length cap (default 256)")
    model.add_argument("--timeout", type=_positive_float, default=120.0, help="HTTP backend: seconds per request")
    model.add_argument("--min-pixels", type=_positive_int, default=DEFAULT_MIN_PIXELS,
                       help=f"smallest model image area (default {DEFAULT_MIN_PIXELS})")
    model.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS,
                       help=f"largest model image area (default {DEFAULT_MAX_PIXELS})")
    model.add_argument("--keep-images", type=_positive_int, default=1, help="screenshots per request (default 1)")
    model.add_argument("--prompt-format", default="auto", choices=["auto", "qwen2.5-vl", "qwen3-vl", "ui-tars"],
                       help="the model family's dialect (default auto: from the model name or config.json)")
    browser = parser.add_argument_group("browser")
    browser.add_argument("--headed", action="store_true", help="show the browser window (default headless)")
    browser.add_argument("--browser-path", default=None, help="Chromium executable (default: detect)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``scenario`` (run, list) and ``eval``."""
    scenario = sub.add_parser("scenario", help="run or list scenario files")
    commands = scenario.add_subparsers(dest="scenario_command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run one scenario and check its outcome",
                              description="Run FILE (a scenario YAML) with its scripted replies, its replay script "
                              "(steps:) or --model, then run its checks against the live page or desktop.")
    run.add_argument("file", type=Path, help="scenario file (.yaml)")
    _add_episode_options(run)
    run.add_argument("--out", type=Path, default=Path("runs"), help="folder for the run folder (default ./runs)")
    run.add_argument("--quiet", action="store_true", help="print only the outcome and checks")
    run.set_defaults(handler=cmd_scenario_run)
    listing = commands.add_parser("list", help="list the scenarios of a folder")
    listing.add_argument("dir", type=Path, nargs="?", default=None, help="folder (default: the bundled scenarios)")
    listing.set_defaults(handler=cmd_scenario_list)
    _add_eval_parser(sub)


def _add_eval_parser(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="evaluate a model on a suite of scenarios or MiniWoB++ tasks",
                        description="Run every episode of SUITE in parallel worker processes and write "
                        "results.json, results.csv and run folders to --out.")
    ev.add_argument("suite", help="a folder of scenarios, a list file (one scenario path per line), a scenario file, "
                    "miniwob:TASK[,TASK...] or miniwob:all")
    _add_episode_options(ev)
    ev.add_argument("--workers", type=_positive_int, default=1, help="episodes run at once (default 1)")
    ev.add_argument("--out", type=Path, required=True, help="folder for results and run folders")
    ev.add_argument("--seeds", default=None, help="seeds, e.g. 0,1,2 or 0-9 (default: 0 for MiniWoB++, "
                    "one unseeded episode per scenario)")
    ev.add_argument("--episode-timeout", type=_positive_float, default=900.0,
                    help="seconds before an episode's process is killed (default 900)")
    ev.add_argument("--max-steps", type=_positive_int, default=None,
                    help="step budget for every episode (default: the scenario's; 15 for MiniWoB++)")
    ev.add_argument("--miniwob-zoom", type=int, default=0,
                    help="MiniWoB++: show the model only the 160x210 task area, enlarged N times (0: whole page)")
    ev.add_argument("--miniwob-episode-s", type=_positive_float, default=300.0,
                    help="MiniWoB++: the page's episode timer and time limit in seconds (default 300)")
    ev.add_argument("--viewport", type=size_arg, default=(1280, 720), help="MiniWoB++: browser WxH (default 1280x720)")
    ev.add_argument("--calibrate", action="store_true",
                    help="first run a quick calibration (screenpilot calibrate --quick, at --viewport) and refuse to "
                    "start when it diagnoses a systematic coordinate fault")
    ev.set_defaults(handler=cmd_eval)


# --- settings ------------------------------------------------------------------------------------


def _model_settings(args: argparse.Namespace, spec: str | None = None) -> ModelSettings | None:
    """``--model`` (or the model ``spec`` given, e.g. the fallback) as settings; None without one."""
    spec = args.model if spec is None else spec
    if spec is None:
        if args.api_base and not getattr(args, "fallback_model", None):
            raise ConfigError("--api-base needs --model (the model name the server serves)")
        return None
    return ModelSettings(spec=spec, api_base=args.api_base or os.environ.get("SCREENPILOT_API_BASE"),
                         api_key=os.environ.get("SCREENPILOT_API_KEY") or os.environ.get("OPENAI_API_KEY"),
                         max_new_tokens=args.max_new_tokens, timeout_s=args.timeout)


def _episode_options(args: argparse.Namespace, out_dir: Path) -> Any:
    from screenpilot.agent.scenario.runner import EpisodeOptions

    if args.min_pixels > args.max_pixels:
        raise ConfigError(f"--min-pixels ({args.min_pixels}) must not exceed --max-pixels ({args.max_pixels})")
    prompt = PromptSettings(format=args.prompt_format, min_pixels=args.min_pixels, max_pixels=args.max_pixels,
                            keep_images=args.keep_images)
    fallback = _model_settings(args, args.fallback_model) if args.fallback_model else None
    return EpisodeOptions(model=_model_settings(args), prompt=prompt, out_dir=out_dir, headed=args.headed,
                          executable_path=args.browser_path, fallback_model=fallback)


# --- scenario run / list -------------------------------------------------------------------------


def _checks_table(checks: Any) -> Table:
    table = Table(show_header=True, header_style="bold")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in checks:
        mark = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
        table.add_row(escape(check.name), mark, escape(check.detail))
    return table


def cmd_scenario_run(args: argparse.Namespace, console: Console) -> int:
    """``screenpilot scenario run FILE``: run it, print the checks, exit by the outcome."""
    from screenpilot.agent.run.console import ConsoleObserver
    from screenpilot.agent.scenario.runner import run_scenario

    spec = load_scenario(args.file)
    options = _episode_options(args, args.out)
    observers = [] if args.quiet else [ConsoleObserver(console, spec.budget.max_steps)]
    episode = run_scenario(spec, options, observers)
    console.print(_checks_table(episode.checks))
    style = "bold green" if episode.success else "bold red"
    console.print(f"[{style}]{episode.status.upper()}[/{style}] {escape(spec.id)} ({episode.reason}) "
                  f"after {episode.steps} step(s), {episode.wall_s:.1f} s")
    if episode.failure:
        console.print(f"[red]{escape(episode.failure)}[/red]")
    _print_replay_report(episode.run_dir, console)
    console.print(f"Trajectory: {episode.run_dir}")
    return _EXIT_BY_STATUS.get(episode.status, EXIT_FAILURE)


def _print_replay_report(run_dir: Path | None, console: Console) -> None:
    """For a replay: how many targets were found, the lost one and the fallback steps."""
    from screenpilot.agent.scenario.replay import REPORT_FILE

    file = None if run_dir is None else run_dir / REPORT_FILE
    if file is None or not file.is_file():
        return
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return
    lookups = report.get("lookups") or []
    found = sum(1 for item in lookups if item.get("found"))
    console.print(f"Replay: {report.get('played')}/{report.get('steps')} script step(s) played, {found}/{len(lookups)} "
                  f"target lookup(s) found, {len(report.get('fallbacks') or [])} step(s) by the fallback model")
    lost = report.get("lost")
    if lost:
        marked = f"replay_lost_step_{int(lost.get('step') or 0):03d}.png"
        console.print(f"[red]Anchor lost:[/red] {escape(str(lost.get('message')))}")
        console.print(f"  details: {escape(str(file))}; the screen marked: {escape(str(file.parent / marked))}")


def cmd_scenario_list(args: argparse.Namespace, console: Console) -> int:
    """``screenpilot scenario list [DIR]``: a table of id, site, step budget and replies."""
    from screenpilot.scenarios import SCENARIOS_DIR

    folder = args.dir or SCENARIOS_DIR
    if not folder.is_dir():
        raise ConfigError(f"not a folder: {folder}")
    table = Table(title=f"Scenarios in {folder}", header_style="bold")
    table.add_column("id", no_wrap=True)
    for column in ("site", "steps", "replies", "checks"):
        table.add_column(column, no_wrap=True)
    table.add_column("note", overflow="fold")
    invalid = 0
    for path in scenario_files(folder):
        try:
            spec = load_scenario(path)
        except ScenarioError as exc:
            invalid += 1
            table.add_row(f"[red]{escape(path.name)}[/red]", "-", "-", "-", "-",
                          f"[red]invalid: {escape(exc.field or '(file)')}: {escape(exc.problem)}[/red]")
            continue
        env = spec.environment
        where = spec.site or (env.kind if env.kind == "desktop" else "url")
        replies = f"yes ({len(spec.replies)})" if spec.replies is not None else "no"
        if spec.steps is not None:
            replies = f"script ({len(spec.steps)} steps)"
        note = "" if path.stem == spec.id else f"file {path.name}"
        table.add_row(escape(spec.id), where, str(spec.budget.max_steps), replies, str(len(spec.checks)), note)
    console.print(table)
    return EXIT_USAGE if invalid else EXIT_SUCCESS


# --- eval ----------------------------------------------------------------------------------------


def _results_table(results: dict[str, Any]) -> Table:
    summary = results["summary"]
    model = results["model"] or "no model: scripted replies or replay scripts"
    table = Table(title=f"{results['suite']} ({model})", header_style="bold")
    for column in ("task", "episodes", "successes", "rate", "95% CI"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task, stats in summary["per_task"].items():
        lo, hi = stats["ci95"]
        table.add_row(escape(task), str(stats["episodes"]), str(stats["successes"]), f"{stats['success_rate']:.0%}",
                      f"{lo:.2f}-{hi:.2f}")
    lo, hi = summary["ci95"]
    table.add_row("[bold]all[/bold]", str(summary["episodes"]), str(summary["successes"]),
                  f"[bold]{summary['success_rate']:.0%}[/bold]", f"{lo:.2f}-{hi:.2f}", end_section=True)
    return table


def _eval_settings(args: argparse.Namespace) -> Any:
    from screenpilot.agent.evaluation.evaluate import EvalSettings, parse_seeds
    from screenpilot.agent.evaluation.miniwob import MiniWobOptions

    if args.miniwob_zoom < 0:
        raise ConfigError(f"--miniwob-zoom must be 0 (off) or more, got {args.miniwob_zoom}")
    miniwob = MiniWobOptions(episode_s=args.miniwob_episode_s, zoom=args.miniwob_zoom or None,
                             viewport=args.viewport)
    return EvalSettings(suite=args.suite, out_dir=args.out, base=_episode_options(args, args.out),
                        workers=args.workers, seeds=parse_seeds(args.seeds) if args.seeds else None,
                        episode_timeout_s=args.episode_timeout, max_steps=args.max_steps, miniwob=miniwob)


def _calibrate_first(args: argparse.Namespace, settings: Any, console: Console) -> None:
    """``eval --calibrate``: a quick calibration; ConfigError (exit 2) on a systematic fault."""
    from screenpilot.agent.calibration.calibrate import quick_calibration_ok
    from screenpilot.agent.run.settings import BrowserTarget

    model = _model_settings(args)
    if model is None:
        console.print("Calibration skipped: no --model (the scenarios' scripted replies answer)")
        return
    out_dir = settings.out_dir / "calibration"
    target = BrowserTarget(viewport=args.viewport, headed=args.headed, executable_path=args.browser_path)
    ok, message = quick_calibration_ok(model, settings.base.prompt, target, out_dir=out_dir)
    if not ok:
        raise ConfigError(f"calibration found a systematic fault, the evaluation did not start: {message} "
                          f"(details in {out_dir})")
    console.print(f"Calibration: {escape(message)}", soft_wrap=True)


def cmd_eval(args: argparse.Namespace, console: Console) -> int:
    """``screenpilot eval SUITE``: run the episodes, show progress and the results table."""
    from screenpilot.agent.evaluation.evaluate import evaluate, prepare

    settings = _eval_settings(args)
    jobs = prepare(settings)
    if args.calibrate:
        _calibrate_first(args, settings, console)
    progress = Progress(TextColumn("[bold]eval[/bold]"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[tally]}"), TimeElapsedColumn(), console=console, transient=False)
    tally = {"ok": 0, "failed": 0}
    bar = progress.add_task("episodes", total=len(jobs), tally="")

    def done(job: Any, entry: dict[str, Any]) -> None:
        tally["ok" if entry.get("success") else "failed"] += 1
        progress.update(bar, advance=1, tally=f"[green]{tally['ok']} ok[/green] [red]{tally['failed']} failed[/red]")
        if not entry.get("success"):
            progress.console.print(f"[red]{escape(job.task)}[/red] (seed {job.seed}): "
                                   f"{escape(str(entry.get('failure') or entry.get('status')))}")

    with progress:
        results = evaluate(settings, jobs, on_done=done)
    console.print(_results_table(results))
    console.print(f"Results: {settings.out_dir / 'results.json'}")
    all_ok = all(e["success"] for e in results["episodes"])
    return EXIT_SUCCESS if all_ok else EXIT_FAILURE
