"""Training examples rebuilt from run folders: each one model call exactly as the model saw it, with its reply.

A run folder records per step the screenshot (screen pixels, secret fields already painted over), the model size,
the raw reply, the parsed actions, the safety gate's verdicts and the feedback the model got next. The request of
step *n* is rebuilt the way :class:`screenpilot.agent.run.loop.Agent` built it: the prompt format rebuilt from
``run.json`` (:func:`rebuild_format`, through :func:`screenpilot.agent.run.runner.build_prompt_format`), the task as
the model read it (``run.json``'s task is the one the loop was given, the secrets' placeholder note included), the
screenshot resized to the recorded model size (bicubic), the earlier steps as history turns, and as feedback the
previous step's feedback plus the ``Since your last action: ...`` line of the step's own events. The target is the
recorded reply text, in the family's native format (Qwen2.5-VL pixels of the resized image, Qwen3-VL 0-1000, UI-TARS
calls).

*Runs with a planner* (``--planner``) give grounder examples: each step's instruction -> action, rebuilt as the
grounder got it (the planner's instruction as the task, no history, the re-grounding note as feedback); steps where
the planner ended the task or asked the person made no grounder call and are dropped.

*Which steps become examples* (every step still counts as history for the later ones): a step whose reply parsed,
raised no error and whose actions the gate allowed. Dropped: model errors (an unusable reply), infrastructure and
stop errors, steps without a reply, and steps where the gate denied, skipped or stopped an action (the policy
said the model was wrong). *Which runs*: by default a run whose outcome is ``success``, and of an evaluation folder
its passed episodes; ``include_failed`` takes every run. Runs of Python API sessions (steps with a ``call``) are
skipped: their requests depend on the script around them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from screenpilot.agent.actions import from_json
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.records import RunRecord, StepLine
from screenpilot.agent.run.settings import PromptSettings
from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.models.base import ModelRequest, PromptFormat, Turn
from screenpilot.models.formats.base import DialectFormat
from screenpilot.models.resize import resize_image


@dataclass(frozen=True)
class Example:
    """One model call of a run: ``request`` as the model received it (images at model size) and ``target``, the
    reply it gave. ``source`` is the run folder, ``step`` the step's index, ``format_name`` the prompt format's."""

    source: Path
    step: int
    request: ModelRequest
    target: str
    format_name: str


@dataclass
class SourceReport:
    """What one run folder gave: ``examples`` made, ``dropped`` steps with their reasons (``step N: why``), or
    ``skipped`` (why the whole run was left out). ``evaluation``: the evaluation folder it belongs to, if any."""

    run_dir: Path
    evaluation: Path | None = None
    examples: int = 0
    dropped: list[str] = field(default_factory=list)
    skipped: str | None = None


def _outcome_status(record: RunRecord) -> str | None:
    return None if record.outcome is None else record.outcome.status


def find_runs(paths: Sequence[Path], include_failed: bool = False) -> list[tuple[Path, Path | None]]:
    """The run folders to export from ``paths`` (run folders or evaluation folders), each with its evaluation folder
    (None for a run given directly). Of an evaluation, its passed episodes (``include_failed``: all of them).
    ConfigError for a path that is neither kind."""
    from screenpilot.agent.evaluation.report import episode_run_dir, is_eval_dir, load_eval
    from screenpilot.agent.reports.run_report import is_run_dir

    found: list[tuple[Path, Path | None]] = []
    for path in paths:
        if is_eval_dir(path):
            try:
                data = load_eval(path)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            for episode in data.episodes:
                run_dir = episode_run_dir(data, episode)
                if run_dir is not None and (include_failed or episode.get("success") is True):
                    found.append((run_dir, path))
        elif is_run_dir(path):
            found.append((path, None))
        else:
            raise ConfigError(f"{path} is neither a run folder (run.json, steps.jsonl) nor an evaluation folder "
                              "(results.json); give folders written by screenpilot run, scenario run or eval")
    return found


def rebuild_format(record: RunRecord) -> PromptFormat:
    """The prompt format the run used, rebuilt from ``run.json``'s ``prompt_format`` and ``executor.kind``.

    Options a scenario or evaluation recorded (``extra_actions``, ``terminate_answer``, UI-TARS' ``ask_user`` and
    ``browser_actions``) are honoured; without them the defaults of ``screenpilot run`` apply (ask_user on, no
    answer advertised, browser actions on a browser). The rebuilt format's own description must agree with every
    setting recorded; ConfigError naming the differences otherwise, or when the record lacks the format or kind.
    """
    from screenpilot.agent.run.runner import build_prompt_format

    recorded = record.prompt_format or {}
    kind = (record.executor or {}).get("kind")
    if not recorded.get("name") or not isinstance(kind, str):
        raise ConfigError("run.json records no prompt format name or executor kind; only runs of screenpilot "
                          "0.1 or later can be exported")
    extras = recorded.get("extra_actions")
    ask_user = bool(recorded.get("ask_user", True if extras is None else "ask_user" in extras))
    browser = recorded.get("browser_actions", None if extras is None else "navigate" in extras)
    settings = PromptSettings(format=str(recorded["name"]), min_pixels=recorded.get("min_pixels"),
                              max_pixels=recorded.get("max_pixels"), keep_images=int(recorded.get("keep_images", 1)))
    prompt = build_prompt_format(settings, kind, browser_actions=browser, ask_user=ask_user,
                                 terminate_answer=bool(recorded.get("terminate_answer", False)))
    rebuilt: dict[str, object] = prompt.describe() if isinstance(prompt, DialectFormat) else {"name": prompt.name}
    differ = [f"{key}: recorded {recorded[key]!r}, rebuilt {value!r}" for key, value in rebuilt.items()
              if key in recorded and recorded[key] != value]
    if differ:
        raise ConfigError("cannot rebuild the run's prompt format exactly (" + "; ".join(differ) + ")")
    return prompt


def _join(first: str | None, second: str | None) -> str | None:
    return " ".join(t for t in (first, second) if t) or None


def _drop_reason(step: StepLine) -> str | None:
    """Why ``step`` makes no example (see the module doc), or None when it does."""
    if step.reply is None:
        return "no reply"
    if step.error is not None:
        return f"{step.error.family} error {step.error.type}"
    refused = [v.decision for v in step.verdicts if v.decision != "allow"]
    if refused:
        return f"the safety gate said {refused[0]}"
    return None


def _model_image(run_dir: Path, step: StepLine) -> Image.Image:
    """The step's screenshot resized to its model size as the loop resized it; ConfigError when it is missing."""
    if step.screenshot is None or step.model_size is None:
        raise ConfigError(f"{run_dir}: step {step.index} records no screenshot or model size")
    path = run_dir / step.screenshot
    try:
        with Image.open(path) as image:
            image.load()
            return resize_image(image, (step.model_size[0], step.model_size[1]))
    except OSError as exc:
        raise ConfigError(f"cannot read the screenshot {path}: {exc}") from None


def run_examples(run_dir: Path, report: SourceReport | None = None) -> list[Example]:
    """The examples of one run folder (see the module doc); ``report`` collects the dropped steps. ConfigError for an
    unreadable run folder or one whose format cannot be rebuilt."""
    report = report or SourceReport(run_dir)
    try:
        record = read_run(run_dir)
        steps = read_steps(run_dir)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the run folder {run_dir}: {exc}") from None
    if any(step.call is not None for step in steps):
        report.skipped = "a Python API session run (its requests depend on the script)"
        return []
    prompt = rebuild_format(record)
    task = record.task
    history: list[Turn] = []
    previous: str | None = None
    examples: list[Example] = []
    for step in steps:
        image = _model_image(run_dir, step)
        feedback = previous
        if step.events:
            feedback = _join(feedback, "Since your last action: " + "; ".join(step.events) + ".")
        reason = _drop_reason(step)
        if step.planner is not None:  # with --planner the grounder got one instruction, without history
            if reason is None and step.reply is not None and step.planner.instruction is not None:
                request = prompt.build_request(step.planner.instruction, [], image, step.planner.grounder_note)
                examples.append(Example(run_dir, step.index, request, step.reply, prompt.name))
            else:
                ended = step.planner.instruction is None and step.error is None
                report.dropped.append(f"step {step.index}: {'the planner ended the task' if ended else reason}")
            continue
        if reason is None and step.reply is not None:
            request = prompt.build_request(task, history, image, feedback)
            examples.append(Example(run_dir, step.index, request, step.reply, prompt.name))
        else:
            report.dropped.append(f"step {step.index}: {reason}")
        actions = tuple(from_json(a) for a in step.actions_model)
        history.append(Turn(image, step.reply or "", actions, step.feedback))
        previous = step.feedback
    report.examples = len(examples)
    return examples


def collect(paths: Sequence[Path], include_failed: bool = False) -> tuple[list[Example], list[SourceReport]]:
    """Every example of ``paths`` (run or evaluation folders, see :func:`find_runs`) with one report per run.
    A run given directly that did not succeed is skipped unless ``include_failed``."""
    examples: list[Example] = []
    reports: list[SourceReport] = []
    for run_dir, evaluation in find_runs(paths, include_failed):
        report = SourceReport(run_dir, evaluation)
        reports.append(report)
        if evaluation is None and not include_failed:
            status = _status_of(run_dir)
            if status != "success":
                report.skipped = f"outcome {status or 'unknown'} (add --include-failed to keep it)"
                continue
        examples += run_examples(run_dir, report)
    return examples, reports


def _status_of(run_dir: Path) -> str | None:
    try:
        return _outcome_status(read_run(run_dir))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the run folder {run_dir}: {exc}") from None


def images_of(examples: Iterable[Example]) -> int:
    """How many images the examples hold in all."""
    return sum(len(example.request.images()) for example in examples)
