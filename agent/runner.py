"""Assembles a run from :class:`RunSettings`: model, prompt format, executor, observers.

This is the one place that builds clients; the loop itself only receives them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.errors import ConfigError
from agent.loop import Agent, LoopLimits, Observer, RunResult
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
def open_executor(target: BrowserTarget | DesktopTarget) -> Iterator[Executor]:
    """Start the browser or desktop executor for ``target`` and close it afterwards."""
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


def run_task(settings: RunSettings, extra_observers: Sequence[Observer] = ()) -> RunOutcome:
    """Run one task end to end and return its result and run folder.

    Raises :class:`ConfigError` (or another InfrastructureError) when the run cannot start;
    once started, failures end the run cleanly and are reported in the result.
    """
    model = build_model(settings)
    try:
        with open_executor(settings.target) as executor:
            prompt = build_prompt_format(settings.prompt, executor.kind)
            run_dir = new_run_dir(settings.out_dir, settings.task)
            writer = TrajectoryWriter(run_dir, _metadata(settings, model, prompt, executor))
            agent = Agent(
                model=model,
                prompt=prompt,
                executor=executor,
                observers=[writer, *extra_observers],
                limits=LoopLimits(settings.max_steps, settings.max_model_errors),
            )
            return RunOutcome(agent.run(settings.task), run_dir)
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
