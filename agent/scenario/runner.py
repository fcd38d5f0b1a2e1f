"""Run one scenario end to end: environment, setup, the agent loop, checks, and an EpisodeResult.

:func:`run_scenario` starts what the scenario needs (a local server for a bundled site, a
headless Chromium or a virtual X display), runs its setup steps, runs the agent with a
:class:`~screenpilot.agent.run.trajectory.TrajectoryWriter` (the model given, or the scenario's scripted
replies), then runs the success checks against the live state *before* anything is closed.
The run folder gets ``checks.json`` besides the usual ``run.json`` / ``steps.jsonl``.

An episode succeeds when the model terminated with success *and* every check passed. The
episode's ``failure`` names what went wrong first, e.g. ``check 'booking confirmed' failed:
expected 'confirmed', got None``.

:class:`EpisodeResult` and the helpers :func:`episode_stats`, :func:`first_of` and
:func:`deadline` are shared with the MiniWoB++ adapter and the evaluator.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from screenpilot.agent.actions import Navigate
from screenpilot.agent.errors import ActionFailedError, ConfigError, ScreenpilotError
from screenpilot.agent.run.loop import Agent, EndCondition, LoopLimits, Observer, RunResult, StepRecord
from screenpilot.agent.run.planner import planner_stage
from screenpilot.agent.run.runner import build_model, build_prompt_format, describe_planner
from screenpilot.agent.run.settings import BrowserTarget, ModelSettings, PhoneTarget, PlannerSettings, PromptSettings
from screenpilot.agent.run.trajectory import TrajectoryWriter, new_run_dir, read_steps
from screenpilot.agent.safety.secrets import PLACEHOLDER, SecretStore
from screenpilot.agent.scenario.checks import CheckContext, CheckResult, run_checks
from screenpilot.agent.scenario.site_server import SiteServer
from screenpilot.agent.scenario.spec import (
    BrowserEnvironment,
    DesktopEnvironment,
    FileStep,
    JsStep,
    NavigateStep,
    ScenarioError,
    ScenarioSpec,
    SetupStep,
    TypeStep,
    WaitStep,
)
from screenpilot.models.base import ModelBackend, PromptFormat
from screenpilot.tools.base import Executor, OnXDisplay, ShowsPage, keep_downloads

PHASES: tuple[str, ...] = ("capture", "model", "execute", "settle")
CHECKS_FILE = "checks.json"
REACH_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EpisodeResult:
    """One finished episode, as the evaluator records it.

    ``status``: success, failure, error (infrastructure or crash), stopped or timeout.
    ``reason``: why the run ended (terminated, max_steps, script_exhausted, time_limit,
    env_done, checks_failed, infrastructure, crash...). ``reward``: MiniWoB++ raw reward (None
    for scenarios). ``wall_s``/``model_s``: seconds; ``timings``: seconds summed over steps per
    phase (capture, model, execute, settle). ``tokens``: prompt + completion tokens when the
    backend reports them, else None. ``failure``: None on success, else one readable line.
    """

    task: str
    seed: int | None
    success: bool
    status: str
    reason: str
    steps: int
    wall_s: float
    run_dir: Path | None
    reward: float | None = None
    model_s: float = 0.0
    tokens: int | None = None
    failure: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    checks: tuple[CheckResult, ...] = ()
    answer: str | None = None

    def to_json(self, relative_to: Path | None = None) -> dict[str, Any]:
        """The evaluator's episode entry; ``run_dir`` relative to ``relative_to`` when given."""
        run_dir: str | None = None
        if self.run_dir is not None:
            run_dir = str(self.run_dir)
            if relative_to is not None:
                with contextlib.suppress(ValueError):
                    run_dir = self.run_dir.resolve().relative_to(relative_to.resolve()).as_posix()
        return {
            "task": self.task, "seed": self.seed, "success": self.success, "reward": self.reward,
            "status": self.status, "reason": self.reason, "steps": self.steps, "wall_s": round(self.wall_s, 3),
            "model_s": round(self.model_s, 3), "tokens": self.tokens, "failure": self.failure, "run_dir": run_dir,
            "timings": {k: round(self.timings.get(k, 0.0), 4) for k in PHASES},
        }


# --- shared helpers --------------------------------------------------------------------------------


def first_of(*conditions: EndCondition | None) -> EndCondition | None:
    """An end condition asking each of ``conditions`` in turn (None when there are none)."""
    active = [c for c in conditions if c is not None]
    if not active:
        return None

    def end(step: StepRecord) -> RunResult | None:
        for condition in active:
            result = condition(step)
            if result is not None:
                return result
        return None

    return end


def deadline(limit_s: float, clock: Callable[[], float] = time.monotonic) -> EndCondition:
    """An end condition that ends the run (failure, ``time_limit``) once ``limit_s`` seconds
    have passed since it was made. Checked after each step, so one slow step can overrun it."""
    started = clock()

    def end(step: StepRecord) -> RunResult | None:
        if clock() - started > limit_s:
            return RunResult("failure", "time_limit", step.index, message=f"time limit of {limit_s:g} s reached")
        return None

    return end


def episode_stats(run_dir: Path) -> tuple[dict[str, float], float, int | None]:
    """Per-phase seconds summed over the run's steps, model seconds and tokens (None: unknown)."""
    timings = dict.fromkeys(PHASES, 0.0)
    tokens: int | None = None
    for step in read_steps(run_dir):
        for phase in PHASES:
            value = getattr(step.timings, phase)
            if value is not None:
                timings[phase] += value
        usage = step.usage
        counted = [] if usage is None else [n for n in (usage.prompt_tokens, usage.completion_tokens) if n is not None]
        if counted:
            tokens = (tokens or 0) + sum(counted)
    return timings, timings["model"], tokens


def write_checks(run_dir: Path, payload: dict[str, Any]) -> None:
    """Write ``checks.json`` in ``run_dir`` atomically."""
    tmp = run_dir / (CHECKS_FILE + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(run_dir / CHECKS_FILE)


def build_episode_model(model: ModelSettings | None, replies: Sequence[str] | None, source: str) -> ModelBackend:
    """The backend for ``model``, or a scripted model replaying ``replies`` when ``model`` is None."""
    if model is not None:
        return build_model(model)
    if replies is None:
        raise ConfigError(f"{source}: replies: this scenario has no scripted replies (nor a replay script, steps:); "
                          "choose a model with --model")
    from screenpilot.models.backends.scripted import ScriptedModel

    return ScriptedModel(list(replies), source=source)


def unattended_policy(start_url: str | None, executor_kind: str) -> Any:
    """The safety gate for unattended episodes: defaults, the start URL's origin trusted,
    and no terminal to confirm on."""
    from screenpilot.agent.safety.gate import Confirmer, PolicyConfig, SafetyPolicy

    return SafetyPolicy(PolicyConfig().trusting(start_url), Confirmer(interactive=False), executor_kind)


# --- environment ---------------------------------------------------------------------------------


def check_reachable(url: str, source: Path, field_path: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Raise :class:`ScenarioError` when ``url`` (http(s) or file) cannot be opened."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not Path(unquote(parts.path)).exists():
            raise ScenarioError(source, field_path, f"cannot reach {url}: the file does not exist")
        return
    if parts.scheme not in ("http", "https"):
        return
    request = urllib.request.Request(url, headers={"User-Agent": "screenpilot"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):
            return
    except urllib.error.HTTPError as exc:
        raise ScenarioError(source, field_path, f"cannot reach {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ScenarioError(source, field_path, f"cannot reach {url}: {reason}") from None


@dataclass(frozen=True)
class EpisodeOptions:
    """How episodes run: model (None: the scenario's scripted replies, or the replay of its
    ``steps:`` script), prompt and image budget, browser visibility and executable, where run
    folders go (a fresh folder in ``out_dir``, or exactly ``run_dir``), the episode's seed, and
    ``fallback_model``: for a replay, a model that takes over a step whose target is lost."""

    model: ModelSettings | None = None
    prompt: PromptSettings = field(default_factory=PromptSettings)
    out_dir: Path = Path("runs")
    headed: bool = False
    executable_path: str | None = None
    seed: int | None = None
    run_dir: Path | None = None
    fallback_model: ModelSettings | None = None
    planner: PlannerSettings | None = None
    """A planner deciding each step while the model (or the scenario's scripted replies) grounds it; not used by
    replays of ``steps:`` scripts."""
    secrets: SecretStore = field(default_factory=lambda: SecretStore([]))
    """Secrets typed as ``{{NAME}}`` (a replay script that types one needs it here); their values are painted over
    in screenshots and redacted from the run folder."""


def make_run_dir(options: EpisodeOptions, name: str) -> Path:
    """``options.run_dir`` (created; it must not exist yet), else a fresh folder in ``options.out_dir``."""
    if options.run_dir is None:
        return new_run_dir(options.out_dir, name)
    options.run_dir.mkdir(parents=True)
    return options.run_dir


def _page_of(executor: Executor) -> Any:
    if not isinstance(executor, ShowsPage):
        raise ConfigError(f"the {executor.kind} executor does not show a page for setup steps and checks")
    return executor.page


def _display_env(executor: Executor) -> dict[str, str] | None:
    """The environment for X clients of a desktop executor's display (None: not a desktop)."""
    if not isinstance(executor, OnXDisplay) or not executor.display:
        return None
    env = {**os.environ, "DISPLAY": executor.display}
    if executor.xauthority:
        env["XAUTHORITY"] = executor.xauthority
    return env


def run_setup(spec: ScenarioSpec, executor: Executor, base_url: str | None) -> None:
    """Carry out the setup steps that act on the environment (file steps ran before it started).

    Raises :class:`ScenarioError` naming the step when a script throws or a page fails to open.
    """
    for index, step in enumerate(spec.setup):
        where = f"setup[{index}]"
        try:
            match step:
                case NavigateStep(url=url):
                    executor.execute(Navigate(urljoin(base_url, url) if base_url else url))
                case JsStep(script=script):
                    _page_of(executor).evaluate(script)
                case WaitStep(seconds=seconds):
                    time.sleep(seconds)
                case FileStep():
                    pass
        except ActionFailedError as exc:
            raise ScenarioError(spec.source, f"{where}.navigate", exc.message) from None
        except ScreenpilotError:
            raise
        except Exception as exc:  # Playwright reports a throwing script as its own Error type
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ScenarioError(spec.source, f"{where}.js", f"the script failed: {first_line}") from None
    if spec.setup:
        executor.settle()


def _write_files(steps: Sequence[SetupStep], workdir: Path) -> None:
    for step in steps:
        if isinstance(step, FileStep):
            path = Path(step.path).expanduser()
            path = path if path.is_absolute() else workdir / path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.content, encoding="utf-8")


@contextlib.contextmanager
def open_environment(
    spec: ScenarioSpec, options: EpisodeOptions, workdir: Path
) -> Iterator[tuple[Executor, str | None, str | None]]:
    """Start what ``spec`` runs in and yield (executor, start URL, site base URL); the site server,
    browser or virtual display are closed afterwards. ``workdir`` replaces ``{workdir}`` in
    desktop launch commands. Raises ScenarioError for an unreachable start URL."""
    from screenpilot.agent.run.runner import open_executor

    env = spec.environment
    with contextlib.ExitStack() as stack:
        if isinstance(env, DesktopEnvironment):
            from screenpilot.tools.x11.desktop import DesktopSettings, open_desktop

            launch = [cmd.replace("{workdir}", str(workdir)) for cmd in env.launch]
            desktop = open_desktop(DesktopSettings(fail_safe=False), virtual_display=env.virtual_display, launch=launch)
            yield stack.enter_context(desktop), None, None
            return
        base_url = None
        if isinstance(env, BrowserEnvironment) and env.site_root is not None:
            server = stack.enter_context(SiteServer(env.site_root))
            base_url, start_url = server.base_url, server.url(env.path)
        else:
            start_url = str(env.url)
            check_reachable(start_url, spec.source, "environment.browser.url")
        target: BrowserTarget | PhoneTarget = BrowserTarget(url=start_url, viewport=env.viewport, headed=options.headed,
                                                           executable_path=options.executable_path)
        if env.phone is not None:
            target = PhoneTarget(device=env.phone, url=start_url, headed=options.headed,
                                 executable_path=options.executable_path)
        policy = unattended_policy(start_url, "browser")
        yield stack.enter_context(open_executor(target, policy, options.secrets.values)), start_url, base_url


# --- the episode ---------------------------------------------------------------------------------


def _failure(result: RunResult, checks: Sequence[CheckResult]) -> str | None:
    failed = [c.failure_message() for c in checks if not c.passed]
    run_line = None
    if result.status != "success":
        run_line = f"the run ended with {result.status} ({result.reason})" + (
            f": {result.message}" if result.message else "")
    if result.status == "error" and run_line:
        return "; ".join([run_line, *failed])
    parts = failed + ([run_line] if run_line else [])
    return "; ".join(parts) or None


def _status_and_reason(result: RunResult, checks_passed: bool) -> tuple[str, str]:
    if result.status == "success" and checks_passed:
        return "success", result.reason
    if result.status == "success":
        return "failure", "checks_failed"
    return result.status, result.reason


def _metadata(spec: ScenarioSpec, model: ModelBackend, prompt: PromptFormat, executor: Executor,
              options: EpisodeOptions) -> dict[str, Any]:
    describe_prompt = getattr(prompt, "describe", None)
    return {
        "model": model.describe(),
        "prompt_format": describe_prompt() if callable(describe_prompt) else {"name": prompt.name},
        "resize": {"min_pixels": prompt.min_pixels, "max_pixels": prompt.max_pixels},
        "executor": executor.describe(),
        "limits": {"max_steps": spec.budget.max_steps, "time_limit_s": spec.budget.time_limit_s},
        "scenario": {"id": spec.id, "source": str(spec.source.resolve()), "site": spec.site, "seed": options.seed},
    }


@dataclass(frozen=True)
class _Driver:
    """What decides an episode's actions: a model and its prompt format, or a replay."""

    model: ModelBackend
    prompt: PromptFormat
    observers: tuple[Observer, ...] = ()
    end_when: EndCondition | None = None


def _episode_driver(spec: ScenarioSpec, options: EpisodeOptions, model: ModelBackend | None, executor: Executor,
                    run_dir: Path, urls: tuple[str | None, str | None]) -> _Driver:
    """``model`` with the episode's prompt format, or (``model`` None) the replay of
    ``spec.steps`` with the fallback model of ``options``. ``urls``: (start URL, site base URL)."""
    def prompt_for(settings: ModelSettings | None) -> PromptFormat:
        return build_prompt_format(options.prompt, executor.kind, settings.spec if settings else None,
                                   ask_user=False, terminate_answer=spec.needs_answer)

    if model is not None:
        return _Driver(model, prompt_for(options.model))
    from screenpilot.agent.scenario.replay import Fallback, ReplayDriver, ReplayFormat

    fallback = None
    if options.fallback_model is not None:
        fallback = Fallback(build_episode_model(options.fallback_model, None, str(spec.source)),
                            prompt_for(options.fallback_model))
    start_url, base_url = urls
    shown = executor if isinstance(executor, ShowsPage) else None
    replay = ReplayDriver(spec.steps or (), instruction=spec.instruction, source=spec.source,
                          page=None if shown is None else lambda: shown.page,
                          base_url=base_url or start_url, fallback=fallback, run_dir=run_dir)
    return _Driver(replay, ReplayFormat(), (replay,), replay.end_condition)


def run_scenario(
    spec: ScenarioSpec,
    options: EpisodeOptions | None = None,
    observers: Sequence[Observer] = (),
) -> EpisodeResult:
    """Run ``spec`` once and return its :class:`EpisodeResult` (checks included).

    Without a model in ``options``, the scenario's scripted replies answer, or its ``steps:``
    script is replayed (:mod:`screenpilot.agent.scenario.replay`; the run folder then holds ``replay.json``).
    Raises :class:`ConfigError` (incl. :class:`ScenarioError`) when the episode cannot start:
    no model and neither replies nor steps, an unreachable start URL, a missing browser. Once
    the loop runs, failures end up in the result, not as exceptions.
    """
    options = options or EpisodeOptions()
    _check_secrets(spec, options.secrets)
    started = time.monotonic()
    replaying = options.model is None and spec.steps is not None
    model = None if replaying else build_episode_model(options.model, spec.replies,
                                                       spec.replies_source or str(spec.source))
    with contextlib.ExitStack() as closing:
        if model is not None:
            closing.callback(model.close)
        planner = None if replaying or options.planner is None else build_model(options.planner.model)
        if planner is not None:
            closing.callback(planner.close)
        run_dir = make_run_dir(options, spec.id)
        workdir = run_dir / "work"
        workdir.mkdir()
        _write_files(spec.setup, workdir)
        with open_environment(spec, options, workdir) as (executor, start_url, base_url):
            keep_downloads(executor, run_dir)
            run_setup(spec, executor, base_url)
            driver = _episode_driver(spec, options, model, executor, run_dir, (start_url, base_url))
            if model is None:
                closing.callback(driver.model.close)
            metadata = {**_metadata(spec, driver.model, driver.prompt, executor, options),
                        "secrets": options.secrets.names}
            if planner is not None and options.planner is not None:
                metadata["planner"] = describe_planner(planner, options.planner)
            writer = TrajectoryWriter(run_dir, metadata, redact=options.secrets.redact)
            agent = Agent(model=driver.model, prompt=driver.prompt, executor=executor,
                          observers=[writer, *driver.observers, *observers],
                          policy=unattended_policy(start_url, executor.kind),
                          limits=LoopLimits(max_steps=spec.budget.max_steps),
                          end_when=first_of(driver.end_when, deadline(spec.budget.time_limit_s)),
                          secrets=options.secrets or None,
                          planner=None if planner is None or options.planner is None else planner_stage(
                              planner, executor, vision=options.planner.vision,
                              max_regrounds=options.planner.max_regrounds))
            result = agent.run(spec.instruction if model is None else options.secrets.with_note(spec.instruction))
            context = CheckContext(page=executor.page if isinstance(executor, ShowsPage) else None,
                                   screenshot=lambda: executor.screenshot().image, answer=result.answer,
                                   workdir=workdir, display_env=_display_env(executor))
            checks = [replace(c, name=options.secrets.redact(c.name), detail=options.secrets.redact(c.detail))
                      for c in run_checks(spec.checks, context)]  # what a check read may show a secret
    return _episode_result(spec, options, result, checks, run_dir, time.monotonic() - started)


def _check_secrets(spec: ScenarioSpec, secrets: SecretStore) -> None:
    """ScenarioError naming the first replay step that types a secret ``secrets`` lacks (before anything starts)."""
    for index, step in enumerate(spec.steps or ()):
        if isinstance(step.action, TypeStep):
            for name in PLACEHOLDER.findall(step.action.text):
                if name not in secrets.names:
                    raise ScenarioError(spec.source, f"steps[{index}].type",
                                        f"types the secret {{{{{name}}}}}, which was not given: pass --secret {name} "
                                        f"(its value read from ${name}) or --secrets-file FILE")


def _episode_result(spec: ScenarioSpec, options: EpisodeOptions, result: RunResult, checks: list[CheckResult],
                    run_dir: Path, wall_s: float) -> EpisodeResult:
    passed = all(c.passed for c in checks)
    status, reason = _status_and_reason(result, passed)
    timings, model_s, tokens = episode_stats(run_dir)
    episode = EpisodeResult(
        task=spec.id, seed=options.seed, success=status == "success", status=status, reason=reason,
        steps=result.steps, wall_s=wall_s, run_dir=run_dir, model_s=model_s, tokens=tokens,
        failure=None if status == "success" else _failure(result, checks), timings=timings,
        checks=tuple(checks), answer=result.answer,
    )
    write_checks(run_dir, {"scenario": spec.id, "source": str(spec.source), "success": episode.success,
                           "status": status, "reason": reason, "failure": episode.failure, "answer": result.answer,
                           "checks": [c.to_json() for c in checks]})
    return episode
