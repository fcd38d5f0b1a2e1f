"""Assembles a run from :class:`RunSettings`: model, prompt format, executor, observers.

This is the one place that builds clients; the loop itself only receives them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.errors import ConfigError
from agent.loop import Agent, LoopLimits, Observer, RunResult
from agent.safety import Confirmer, PolicyConfig, SafetyPolicy, TerminalPerson, url_verdict
from agent.settings import BrowserTarget, DesktopTarget, PromptSettings, RunSettings
from agent.trajectory import TrajectoryWriter, new_run_dir
from models.base import ModelBackend, PromptFormat
from tools.base import Executor


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: its result and the folder holding its trajectory."""

    result: RunResult
    run_dir: Path


def build_prompt_format(settings: PromptSettings, executor_kind: str) -> PromptFormat:
    """The prompt format named in ``settings`` (only ``qwen2.5-vl`` for now)."""
    if settings.format not in ("qwen2.5-vl", "qwen25", "auto"):
        raise ConfigError(f"unknown prompt format {settings.format!r}; available: qwen2.5-vl")
    from models.qwen25 import Qwen25Format

    return Qwen25Format(
        min_pixels=settings.min_pixels,
        max_pixels=settings.max_pixels,
        keep_images=settings.keep_images,
        browser_actions=executor_kind == "browser",
    )


def build_model(settings: RunSettings) -> ModelBackend:
    """The model backend for ``settings.model``."""
    from models.select import build_backend

    m = settings.model
    return build_backend(
        m.spec,
        api_base=m.api_base,
        api_key=m.api_key,
        max_new_tokens=m.max_new_tokens,
        device_map=m.device_map,
        dtype=m.dtype,
        attn_implementation=m.attn_implementation,
        image_format=m.image_format,
        timeout_s=m.timeout_s,
        max_retries=m.max_retries,
    )


@contextlib.contextmanager
def open_executor(target: BrowserTarget | DesktopTarget, policy: SafetyPolicy | None = None) -> Iterator[Executor]:
    """Start the browser or desktop executor for ``target`` and close it afterwards.

    With ``policy``, the browser checks every navigation the page starts (redirects, links,
    new tabs) with :meth:`SafetyPolicy.check_url` and blocks denied ones before they load.
    """
    if isinstance(target, BrowserTarget):
        from tools.browser import BrowserExecutor, BrowserSettings

        browser = BrowserExecutor(
            BrowserSettings(
                viewport=target.viewport,
                headless=not target.headed,
                executable_path=target.executable_path,
                start_url=target.url,
            )
        )
        try:
            yield browser
        finally:
            browser.close()
    else:
        from tools.desktop import open_desktop

        with open_desktop(target) as desktop:
            yield desktop


def build_policy(settings: RunSettings, executor_kind: str) -> SafetyPolicy:
    """The safety gate for a run; the start URL the user gave is trusted (its origin allowed).

    Raises ConfigError when the start URL itself is on the block-list or off the allow-list.
    """
    config = settings.policy
    start_url = settings.target.url if isinstance(settings.target, BrowserTarget) else None
    if start_url:
        verdict = url_verdict(start_url, _ignoring_local_rules(config))
        if verdict.decision != "allow":
            raise ConfigError(f"the start URL {start_url} is not allowed by the policy ({verdict.rule})")
    return SafetyPolicy(config.trusting(start_url), Confirmer(config.no_terminal_default), executor_kind)


def _ignoring_local_rules(config: PolicyConfig) -> PolicyConfig:
    from dataclasses import replace

    return replace(config, allow_file_urls=True, allow_private_network=True)


def run_task(
    settings: RunSettings,
    extra_observers: Sequence[Observer] = (),
    should_stop: Callable[[], bool] = lambda: False,
) -> RunOutcome:
    """Run one task end to end and return its result and run folder.

    Raises :class:`ConfigError` (or another InfrastructureError) when the run cannot start;
    once started, failures end the run cleanly and are reported in the result.
    """
    kind = "browser" if isinstance(settings.target, BrowserTarget) else "desktop"
    policy = build_policy(settings, kind)
    model = build_model(settings)
    try:
        with open_executor(settings.target, policy) as executor:
            prompt = build_prompt_format(settings.prompt, executor.kind)
            run_dir = new_run_dir(settings.out_dir, settings.task)
            metadata = {**_metadata(settings, model, prompt, executor), "policy": policy.describe(),
                        "secrets": settings.secrets.names}
            writer = TrajectoryWriter(run_dir, metadata, redact=settings.secrets.redact)
            agent = Agent(
                model=model,
                prompt=prompt,
                executor=executor,
                observers=[writer, *extra_observers],
                policy=policy,
                human=TerminalPerson(),
                limits=LoopLimits(settings.max_steps, settings.max_model_errors),
                should_stop=should_stop,
                secrets=settings.secrets,
            )
            task = settings.task + (settings.secrets.prompt_note() if settings.secrets else "")
            return RunOutcome(agent.run(task), run_dir)
    finally:
        model.close()


def _metadata(
    settings: RunSettings, model: ModelBackend, prompt: PromptFormat, executor: Executor
) -> dict[str, object]:
    return {
        "model": model.describe(),
        "prompt_format": {"name": prompt.name, **asdict(settings.prompt)},
        "resize": {"min_pixels": prompt.min_pixels, "max_pixels": prompt.max_pixels},
        "executor": executor.describe(),
        "limits": {"max_steps": settings.max_steps, "max_model_errors": settings.max_model_errors},
    }
