"""Assembles a run from :class:`RunSettings`: model, prompt format, executor, observers.

This is the one place that builds clients; the loop itself only receives them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.loop import Agent, EndCondition, LoopLimits, Observer, RunResult
from screenpilot.agent.run.planner import Planner, planner_stage
from screenpilot.agent.run.settings import (
    AdbTarget,
    BrowserTarget,
    DesktopTarget,
    ModelSettings,
    PhoneTarget,
    PlannerSettings,
    PromptSettings,
    RunSettings,
)
from screenpilot.agent.run.trajectory import TrajectoryWriter, new_run_dir
from screenpilot.agent.safety.gate import Confirmer, PolicyConfig, SafetyPolicy, TerminalPerson, url_verdict
from screenpilot.agent.safety.policy import HumanChannel
from screenpilot.models.base import ModelBackend, PromptFormat
from screenpilot.tools.base import Executor, keep_downloads


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: its result and the folder holding its trajectory."""

    result: RunResult
    run_dir: Path


def build_prompt_format(
    settings: PromptSettings,
    executor_kind: str,
    model_spec: str | None = None,
    *,
    browser_actions: bool | None = None,
    ask_user: bool = True,
    terminate_answer: bool = False,
) -> PromptFormat:
    """The one place a prompt format is built from settings (``screenpilot run``, scenarios,
    evaluations, calibration).

    The family is ``settings.format``, or with ``auto`` the one the model ``model_spec`` speaks
    (:func:`screenpilot.models.formats.registry.detect_format`; Qwen2.5-VL without a model). A phone
    executor speaks Qwen2.5-VL's ``mobile_use``. Resize bounds left unset (None) become the
    family's own; a given bound is used as given. ``browser_actions`` (navigate, back): None means
    "when the executor is a browser". ``ask_user`` False for unattended episodes (nobody to ask);
    ``terminate_answer``: the model must end with an answer. ConfigError for an unknown format
    name, a family without a phone format, or bad bounds.
    """
    from screenpilot.models.formats.qwen25_mobile import phone_prompt_format
    from screenpilot.models.formats.registry import choose_format, make_format

    if executor_kind == "phone":
        return phone_prompt_format(settings.format, model_spec, min_pixels=settings.min_pixels,
                                   max_pixels=settings.max_pixels, keep_images=settings.keep_images,
                                   ask_user=ask_user, terminate_answer=terminate_answer)
    choice = choose_format(settings.format, model_spec)
    return make_format(choice.name, min_pixels=settings.min_pixels, max_pixels=settings.max_pixels,
                       keep_images=settings.keep_images, ask_user=ask_user, terminate_answer=terminate_answer,
                       browser_actions=executor_kind == "browser" if browser_actions is None else browser_actions)


def describe_planner(backend: ModelBackend, settings: PlannerSettings) -> dict[str, object]:
    """What run.json records about a run's planner."""
    return {**backend.describe(), "vision": settings.vision, "max_regrounds": settings.max_regrounds}


def build_model(m: ModelSettings) -> ModelBackend:
    """The model backend for ``m`` (the run's model, or its planner's)."""
    from screenpilot.models.select import LocalOptions, OpenAIOptions, build_backend

    image_format: Literal["png", "jpeg"] = "jpeg" if m.image_format == "jpeg" else "png"
    return build_backend(
        m.spec,
        api_base=m.api_base,
        api_key=m.api_key,
        local=LocalOptions(device_map=m.device_map, dtype=m.dtype, attn_implementation=m.attn_implementation,
                           max_new_tokens=m.max_new_tokens),
        remote=OpenAIOptions(image_format=image_format, timeout_s=m.timeout_s, max_retries=m.max_retries,
                             max_tokens=m.max_new_tokens),
    )


@contextlib.contextmanager
def open_executor(
    target: BrowserTarget | DesktopTarget | PhoneTarget | AdbTarget,
    policy: SafetyPolicy | None = None,
    mask_values: Sequence[str] = (),
) -> Iterator[Executor]:
    """Start the browser, desktop or phone executor for ``target`` and close it afterwards.

    With ``policy``, the browser checks every navigation the page starts (redirects, links,
    new tabs) with :meth:`SafetyPolicy.check_url` and blocks denied ones before they load, and takes uploads from the
    policy's ``upload_dir``.
    ``mask_values``: secret values; browser fields showing one are masked in screenshots, and on the desktop with
    ``target.mask_secrets_ocr`` the text lines OCR reads one in.
    """
    if isinstance(target, BrowserTarget):
        from screenpilot.tools.web.browser import BrowserExecutor, BrowserSettings

        browser = BrowserExecutor(
            BrowserSettings(
                viewport=target.viewport,
                headless=not target.headed,
                executable_path=target.executable_path,
                start_url=target.url,
                cdp_url=target.cdp_url,
                user_data_dir=target.user_data_dir,
                upload_dir=None if policy is None else policy.config.upload_dir,
            ),
            url_guard=None if policy is None else _url_guard(policy),
        )
        browser.hide_values(mask_values)
        try:
            yield browser
        finally:
            browser.close()
    elif isinstance(target, PhoneTarget | AdbTarget):
        phone = open_phone(target, policy, mask_values)
        try:
            yield phone
        finally:
            phone.close()
    else:
        from screenpilot.tools.x11.desktop import DesktopSettings, open_desktop

        settings = DesktopSettings(monitor=target.monitor, fail_safe=target.fail_safe)
        if target.mask_secrets_ocr:
            from screenpilot.tools.vision import require_ocr

            require_ocr()  # ConfigError with the install command before anything starts
        with open_desktop(settings, virtual_display=target.virtual_display, launch=target.launch) as desktop:
            if target.mask_secrets_ocr:
                desktop.hide_values(mask_values)
            yield desktop


def open_phone(
    target: PhoneTarget | AdbTarget, policy: SafetyPolicy | None = None, mask_values: Sequence[str] = ()
) -> Executor:
    """The emulated phone (Chromium) or the ADB executor for ``target``; the caller closes it.

    With ``policy``, the emulated phone's page navigations are vetted as the browser's are;
    fields showing one of ``mask_values`` are painted over in its screenshots.
    """
    if isinstance(target, AdbTarget):
        from screenpilot.tools.android.adb import AdbExecutor, AdbSettings

        return AdbExecutor(AdbSettings(serial=target.serial, adb_path=target.adb_path, packages=target.packages))
    from screenpilot.tools.web.phone import PhoneExecutor, PhoneSettings

    settings = PhoneSettings(device=target.device, start_url=target.url, home_url=target.home_url, apps=target.apps,
                             headless=not target.headed, executable_path=target.executable_path)
    phone = PhoneExecutor(settings, url_guard=None if policy is None else _url_guard(policy))
    phone.hide_values(mask_values)
    return phone


def target_kind(target: BrowserTarget | DesktopTarget | PhoneTarget | AdbTarget) -> str:
    """The ``kind`` of the executor ``target`` opens: browser, desktop or phone."""
    if isinstance(target, PhoneTarget | AdbTarget):
        return "phone"
    return "browser" if isinstance(target, BrowserTarget) else "desktop"


def build_policy(settings: RunSettings, executor_kind: str, confirmer: Confirmer | None = None) -> SafetyPolicy:
    """The safety gate for a run; the start URL the user gave is trusted (its origin allowed). ``confirmer`` answers
    confirmations (default: the terminal, with the policy's no-terminal default).

    Raises ConfigError when the start URL itself is on the block-list or off the allow-list.
    """
    config = settings.policy
    start_url = settings.target.url if isinstance(settings.target, BrowserTarget | PhoneTarget) else None
    if start_url:
        verdict = url_verdict(start_url, _ignoring_local_rules(config))
        if verdict.decision != "allow":
            raise ConfigError(f"the start URL {start_url} is not allowed by the policy ({verdict.rule})")
    return SafetyPolicy(config.trusting(start_url), confirmer or Confirmer(config.no_terminal_default), executor_kind)


def _ignoring_local_rules(config: PolicyConfig) -> PolicyConfig:
    return replace(config, allow_file_urls=True, allow_private_network=True)


def _url_guard(policy: SafetyPolicy) -> Callable[[str], str | None]:
    """Adapt the policy to the browser's URL guard: None allows, a string is the block reason."""

    def guard(url: str) -> str | None:
        verdict = policy.check_url(url)
        return None if verdict.decision == "allow" else f"{verdict.rule}: {verdict.note}"

    return guard


@dataclass(frozen=True)
class OpenRun:
    """A run ready to go: its model, prompt format, executor, safety gate and run folder, with the trajectory writer
    (not started yet) that writes the folder. ``task`` is what the model is told (the settings' task plus the
    secrets' note). Made by :func:`open_run`, which also closes it."""

    settings: RunSettings
    model: ModelBackend
    prompt: PromptFormat
    executor: Executor
    policy: SafetyPolicy
    run_dir: Path
    writer: TrajectoryWriter
    planner: ModelBackend | None = None

    @property
    def task(self) -> str:
        """The task as the model reads it: with a note naming the secrets' placeholders, when there are secrets."""
        return self.settings.secrets.with_note(self.settings.task)

    def agent(self, observers: Sequence[Observer], *, human: HumanChannel, limits: LoopLimits | None = None,
              should_stop: Callable[[], bool] = lambda: False, end_when: EndCondition | None = None,
              plan: bool = True) -> Agent:
        """An agent on this run's model, format, executor, policy and secrets, watched by ``observers`` (which
        should include :attr:`writer` or something forwarding to it). ``limits`` default to the settings'. With a
        planner configured and ``plan`` true, a fresh planner stage (no steps remembered) decides each step."""
        s = self.settings
        return Agent(model=self.model, prompt=self.prompt, executor=self.executor, observers=observers,
                     policy=self.policy, human=human, limits=limits or LoopLimits(s.max_steps, s.max_model_errors),
                     should_stop=should_stop, end_when=end_when, secrets=s.secrets,
                     planner=self.planner_stage() if plan else None)

    def planner_stage(self) -> Planner | None:
        """A fresh planner stage on this run's planner backend and executor (None without a planner)."""
        if self.planner is None or self.settings.planner is None:
            return None
        chosen = self.settings.planner
        return planner_stage(self.planner, self.executor, vision=chosen.vision, max_regrounds=chosen.max_regrounds)


@contextlib.contextmanager
def open_run(settings: RunSettings, confirmer: Confirmer | None = None) -> Iterator[OpenRun]:
    """Build everything ``settings`` ask for, make the run folder, and close the executor and model afterwards.

    ``confirmer`` answers the policy's confirmations (default: the terminal, see :class:`Confirmer`). Raises
    :class:`ConfigError` (or another InfrastructureError) when something cannot start.
    """
    kind = target_kind(settings.target)
    policy = build_policy(settings, kind, confirmer)
    with contextlib.ExitStack() as closing:
        model = build_model(settings.model)
        closing.callback(model.close)
        planner = None if settings.planner is None else build_model(settings.planner.model)
        if planner is not None:
            closing.callback(planner.close)
        executor = closing.enter_context(open_executor(settings.target, policy, settings.secrets.values))
        prompt = build_prompt_format(settings.prompt, executor.kind, settings.model.spec)
        run_dir = new_run_dir(settings.out_dir, settings.task)
        keep_downloads(executor, run_dir)
        metadata = {**_metadata(settings, model, prompt, executor), "policy": policy.describe(),
                    "secrets": settings.secrets.names, "environment": environment_of(settings.target)}
        if planner is not None and settings.planner is not None:
            metadata["planner"] = describe_planner(planner, settings.planner)
        writer = TrajectoryWriter(run_dir, metadata, redact=settings.secrets.redact)
        yield OpenRun(settings, model, prompt, executor, policy, run_dir, writer, planner)


def run_task(
    settings: RunSettings,
    extra_observers: Sequence[Observer] = (),
    should_stop: Callable[[], bool] = lambda: False,
    *,
    human: HumanChannel | None = None,
    confirmer: Confirmer | None = None,
) -> RunOutcome:
    """Run one task end to end and return its result and run folder.

    ``human`` answers the model's questions and ``confirmer`` the policy's confirmations (default: the terminal).
    Raises :class:`ConfigError` (or another InfrastructureError) when the run cannot start;
    once started, failures end the run cleanly and are reported in the result.
    """
    with open_run(settings, confirmer) as opened:
        agent = opened.agent([opened.writer, *extra_observers], human=human or TerminalPerson(),
                             should_stop=should_stop)
        return RunOutcome(agent.run(opened.task), opened.run_dir)


def environment_of(target: BrowserTarget | DesktopTarget | PhoneTarget | AdbTarget) -> dict[str, Any] | None:
    """How the run's screen was started, in a scenario file's ``environment`` format (so ``screenpilot script`` can
    start the replay the same way); None for a device over adb or the user's own browser (``cdp_url``), which a
    scenario cannot start."""
    if isinstance(target, BrowserTarget) and target.cdp_url is not None:
        return None
    if isinstance(target, BrowserTarget):
        width, height = target.viewport
        return {"browser": {"url": target.url or "about:blank", "viewport": f"{width}x{height}"}}
    if isinstance(target, PhoneTarget):
        return {"browser": {"url": target.url or "about:blank", "phone": target.device}}
    if isinstance(target, DesktopTarget):
        desktop: dict[str, Any] = {"launch": list(target.launch)}
        if target.virtual_display is not None:
            desktop["virtual_display"] = "{}x{}".format(*target.virtual_display)
        return {"desktop": desktop}
    return None


def _metadata(
    settings: RunSettings, model: ModelBackend, prompt: PromptFormat, executor: Executor
) -> dict[str, object]:
    return {
        "model": model.describe(),
        "prompt_format": {"name": prompt.name, **asdict(settings.prompt), "min_pixels": prompt.min_pixels,
                          "max_pixels": prompt.max_pixels, "requested": asdict(settings.prompt)},
        "resize": {"min_pixels": prompt.min_pixels, "max_pixels": prompt.max_pixels},
        "executor": executor.describe(),
        "limits": {"max_steps": settings.max_steps, "max_model_errors": settings.max_model_errors},
    }
