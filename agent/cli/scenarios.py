"""``screenpilot scenario run|list|schema`` and ``screenpilot eval``: scenario files and evaluations.

Exit codes follow :mod:`screenpilot.agent.cli.exits`: 0 success (every episode, for eval), 1 a task failed, 2 bad
usage or an invalid scenario file, 3 an infrastructure error ended a single run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from screenpilot.agent.cli.app import app, command, scenario_app
from screenpilot.agent.cli.exits import EPILOG, EXIT_FAILURE, EXIT_SUCCESS, EXIT_USAGE, exit_for_status
from screenpilot.agent.cli.options import (
    BROWSER,
    EPISODE_MODEL,
    OUTPUT_PANEL,
    PLANNER,
    PROMPT,
    SECRETS,
    ModelOptions,
    SafetyOptions,
    parse_seconds,
)
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.evaluation.evaluate import DEFAULT_EPISODE_TIMEOUT_S
from screenpilot.agent.evaluation.miniwob import MiniWobOptions
from screenpilot.agent.evaluation.ray_jobs import RaySettings
from screenpilot.agent.run.settings import BrowserTarget, PlannerSettings, PromptSettings
from screenpilot.agent.scenario.file_format import load_scenario, scenario_files, scenario_json_schema
from screenpilot.agent.scenario.spec import ScenarioError


def _episode_options(model: ModelOptions, prompt: PromptSettings, browser: BrowserTarget, out_dir: Path,
                     secrets: SafetyOptions, planner: PlannerSettings | None) -> Any:
    from screenpilot.agent.scenario.runner import EpisodeOptions

    return EpisodeOptions(model=model.settings(), prompt=prompt, out_dir=out_dir, headed=browser.headed,
                          secrets=secrets.secret_store(None), planner=planner,
                          executable_path=browser.executable_path, fallback_model=model.fallback)


# --- scenario run / list -------------------------------------------------------------------------


RAY_PANEL = "Ray cluster"


def _checks_table(checks: Any) -> Table:
    table = Table(show_header=True, header_style="bold")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in checks:
        mark = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
        table.add_row(escape(check.name), mark, escape(check.detail))
    return table


@command(scenario_app, "run", groups={"model": EPISODE_MODEL, "prompt": PROMPT, "browser": BROWSER.without("viewport"),
                                     "secrets": SECRETS, "planner": PLANNER},
         epilog=EPILOG, summary="run one scenario and check its outcome",
         help="Run FILE (a scenario YAML) with its scripted replies, its replay script (steps:) or "
         "--model, then run its checks against the live page or desktop. Without --model the scenario's scripted "
         "replies or replay script answer.")
def cmd_scenario_run(  # noqa: PLR0913 - one parameter per option or option group
    console: Console,
    file: Annotated[Path, typer.Argument(help="scenario file (.yaml)", show_default=False)],
    model: ModelOptions,
    prompt: PromptSettings,
    browser: BrowserTarget,
    secrets: SafetyOptions,
    planner: PlannerSettings | None,
    out: Annotated[Path, typer.Option(help="folder for the run folder", rich_help_panel=OUTPUT_PANEL)] = Path("runs"),
    quiet: Annotated[bool, typer.Option(help="print only the outcome and checks",
                                        rich_help_panel=OUTPUT_PANEL)] = False,
) -> int:
    """Run it, print the checks, exit by the outcome."""
    from screenpilot.agent.run.console import ConsoleObserver
    from screenpilot.agent.scenario.runner import run_scenario

    spec = load_scenario(file)
    options = _episode_options(model, prompt, browser, out, secrets, planner)
    observers = [] if quiet else [ConsoleObserver(console, spec.budget.max_steps)]
    episode = run_scenario(spec, options, observers)
    console.print(_checks_table(episode.checks))
    style = "bold green" if episode.success else "bold red"
    console.print(f"[{style}]{episode.status.upper()}[/{style}] {escape(spec.id)} ({episode.reason}) "
                  f"after {episode.steps} step(s), {episode.wall_s:.1f} s")
    if episode.failure:
        console.print(f"[red]{escape(episode.failure)}[/red]")
    _print_replay_report(episode.run_dir, console)
    console.print(f"Trajectory: {episode.run_dir}")
    return exit_for_status(episode.status)


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


@command(scenario_app, "list", summary="list the scenarios of a folder",
         help="List the scenarios of a folder: id, site, step budget, replies, checks; "
         "invalid files are shown with their error (exit 2).")
def cmd_scenario_list(
    console: Console,
    folder: Annotated[Path | None, typer.Argument(metavar="[DIR]", help="folder (default: the bundled scenarios)",
                                                  show_default=False)] = None,
) -> int:
    """Print a table of id, site, step budget and replies."""
    from screenpilot.scenarios import SCENARIOS_DIR

    folder = folder or SCENARIOS_DIR
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


@command(scenario_app, "schema", summary="write the JSON Schema of scenario files",
         help="Write the JSON Schema (draft 2020-12) of scenario files, so editors validate and complete them: "
         "save it (--out scenario.schema.json) and point your editor at it, e.g. a first line "
         "'# yaml-language-server: $schema=scenario.schema.json' in a scenario file.")
def cmd_scenario_schema(
    console: Console,
    out: Annotated[Path | None, typer.Option(metavar="FILE", help="file to write (default: print to stdout)",
                                             show_default=False)] = None,
) -> int:
    """Print the schema, or write it to ``out``."""
    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return EXIT_SUCCESS
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
    console.print(f"Wrote the scenario schema to {escape(str(out))}")
    return EXIT_SUCCESS


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


def _eval_settings(  # noqa: PLR0913 - the evaluation's own options
    suite: str, model: ModelOptions, prompt: PromptSettings, browser: BrowserTarget, secrets: SafetyOptions, out: Path,
    workers: int, seeds: str | None, episode_timeout: float, max_steps: int | None, miniwob_zoom: int,
    miniwob_episode_s: float, planner: PlannerSettings | None = None, ray: Any = None,
) -> Any:
    from screenpilot.agent.evaluation.evaluate import EvalSettings, parse_seeds

    miniwob = MiniWobOptions(episode_s=miniwob_episode_s, zoom=miniwob_zoom or None, viewport=browser.viewport)
    return EvalSettings(suite=suite, out_dir=out, base=_episode_options(model, prompt, browser, out, secrets, planner),
                        workers=workers, seeds=parse_seeds(seeds) if seeds else None,
                        episode_timeout_s=episode_timeout, max_steps=max_steps, miniwob=miniwob, ray=ray)


def _calibrate_first(model: ModelOptions, browser: BrowserTarget, settings: Any, console: Console) -> None:
    """``eval --calibrate``: a quick calibration; ConfigError (exit 2) on a systematic fault."""
    from screenpilot.agent.calibration.calibrate import quick_calibration_ok

    model_settings = model.settings()
    if model_settings is None:
        console.print("Calibration skipped: no --model (the scenarios' scripted replies answer)")
        return
    out_dir = settings.out_dir / "calibration"
    ok, message = quick_calibration_ok(model_settings, settings.base.prompt, browser, out_dir=out_dir)
    if not ok:
        raise ConfigError(f"calibration found a systematic fault, the evaluation did not start: {message} "
                          f"(details in {out_dir})")
    console.print(f"Calibration: {escape(message)}", soft_wrap=True)


@command(app, "eval", groups={"model": EPISODE_MODEL, "prompt": PROMPT, "browser": BROWSER, "secrets": SECRETS,
                             "planner": PLANNER},
         epilog=EPILOG,
         summary="evaluate a model on a suite of scenarios or MiniWoB++ tasks",
         help="Evaluate a model on a suite of scenarios or MiniWoB++ tasks: run every episode of SUITE in parallel "
         "worker processes and write results.json, results.csv and run folders to --out. Without --model the "
         "scenarios' scripted replies or replay scripts answer. --viewport applies to MiniWoB++ and --calibrate.")
def cmd_eval(  # noqa: PLR0913 - one parameter per option or option group
    console: Console,
    suite: Annotated[str, typer.Argument(
        help="a folder of scenarios, a list file (one scenario path per line), a scenario file, "
        "miniwob:TASK[,TASK...] or miniwob:all", show_default=False)],
    model: ModelOptions,
    prompt: PromptSettings,
    browser: BrowserTarget,
    secrets: SafetyOptions,
    planner: PlannerSettings | None,
    out: Annotated[Path, typer.Option(help="folder for results and run folders", show_default=False,
                                      rich_help_panel=OUTPUT_PANEL)],
    workers: Annotated[int, typer.Option(min=1, help="episodes run at once", rich_help_panel=OUTPUT_PANEL)] = 1,
    seeds: Annotated[str | None, typer.Option(
        help="seeds, e.g. 0,1,2 or 0-9 (default: 0 for MiniWoB++, one unseeded episode per scenario)",
        rich_help_panel=OUTPUT_PANEL)] = None,
    episode_timeout: Annotated[float, typer.Option(
        parser=parse_seconds, help="seconds before an episode's process is killed",
        rich_help_panel=OUTPUT_PANEL)] = DEFAULT_EPISODE_TIMEOUT_S,
    max_steps: Annotated[int | None, typer.Option(
        min=1, help="step budget for every episode (default: the scenario's; 15 for MiniWoB++)",
        rich_help_panel=OUTPUT_PANEL)] = None,
    miniwob_zoom: Annotated[int, typer.Option(
        min=0, help="MiniWoB++: show the model only the 160x210 task area, enlarged N times (0: whole page)",
        rich_help_panel=OUTPUT_PANEL)] = 0,
    miniwob_episode_s: Annotated[float, typer.Option(
        parser=parse_seconds, help="MiniWoB++: the page's episode timer and time limit in seconds",
        rich_help_panel=OUTPUT_PANEL)] = MiniWobOptions.episode_s,
    calibrate: Annotated[bool, typer.Option(
        help="first run a quick calibration (screenpilot calibrate --quick, at --viewport) and refuse to start "
        "when it diagnoses a systematic coordinate fault", rich_help_panel=OUTPUT_PANEL)] = False,
    ray: Annotated[str | None, typer.Option(
        metavar="[ADDRESS]", help="run the episodes as Ray tasks (needs the ray extra): alone, on a local Ray "
        "started for the evaluation; auto or HOST:PORT joins a running cluster (--workers is then not used)",
        rich_help_panel=RAY_PANEL)] = None,
    ray_cpus_per_episode: Annotated[float, typer.Option(
        min=0.01, help="CPUs each episode asks Ray for", rich_help_panel=RAY_PANEL)] = RaySettings.cpus_per_episode,
    ray_retries: Annotated[int, typer.Option(
        min=0, help="times an episode lost to a dead Ray worker or node is run again (recorded as such)",
        rich_help_panel=RAY_PANEL)] = RaySettings.retries,
) -> int:
    """Run the episodes, show progress and the results table; exit 0 only when every episode succeeded."""
    from screenpilot.agent.evaluation.evaluate import evaluate, prepare

    cluster = None if ray is None else RaySettings(address=None if ray == "local" else ray,
                                                   cpus_per_episode=ray_cpus_per_episode, retries=ray_retries)
    settings = _eval_settings(suite, model, prompt, browser, secrets, out, workers, seeds, episode_timeout, max_steps,
                              miniwob_zoom, miniwob_episode_s, planner, cluster)
    jobs = prepare(settings)
    if calibrate:
        _calibrate_first(model, browser, settings, console)
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
