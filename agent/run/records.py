"""The records of a run folder as pydantic models: :class:`RunRecord` (``run.json``) and
:class:`StepLine` (one line of ``steps.jsonl``).

The writer (:mod:`screenpilot.agent.run.trajectory`) builds these models and dumps them with
:func:`dump_record`, which writes only the fields that were given: the files keep exactly the
keys earlier versions wrote, so old run folders and outside tools keep working. Readers validate
through the same models; every field that a newer version added has a default, so folders
written before it still read. Where content is free-form (a backend's or executor's
``describe()``, a policy, an action's JSON form) the field is a plain ``dict``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from screenpilot.agent.run.loop import RunResult


class _Record(BaseModel):
    """Base of the records: unknown keys (from newer versions) are ignored on read. Field names
    such as ``model_size`` are the files' own, hence no protected ``model_`` namespace."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class StepUsage(_Record):
    """Token counts of the step's model call (None: not reported). ``image_tokens`` is part of
    ``prompt_tokens``."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    image_tokens: int | None = None


class StepTimings(_Record):
    """Seconds the step spent per phase (None: phase not reached or not recorded); ``total`` is
    the whole step, including time in no named phase."""

    capture: float | None = None
    planner: float | None = None
    model: float | None = None
    execute: float | None = None
    settle: float | None = None
    total: float | None = None


class StepErrorRecord(_Record):
    """An error of the step. ``family``: ``model`` (fed back to the model), ``infrastructure``
    (ends the run) or ``stop``; ``type`` is the exception class name; ``hint`` is for the model."""

    family: str
    type: str
    message: str
    hint: str | None = None


class VerdictRecord(_Record):
    """The safety gate's decision on one screen-space action (``allow``, ``deny``, ``skip``,
    ``stop``), the ``rule`` that decided and an optional ``note``."""

    decision: str
    rule: str = "default"
    note: str | None = None


class PlannerLine(_Record):
    """The planner's part of a step (runs with ``--planner``): what its ``request`` held, its ``reply`` text, the
    decision read from it (``kind`` step, done, fail or ask_user, with ``text``, the ``missed`` note on the previous
    step and its ``thought``; None when unreadable), the ``instruction`` the grounder got (None: none), whether it
    was ``regrounded`` (the previous instruction again, with ``grounder_note``), ``latency_s`` in seconds and the
    token ``usage``."""

    request: str
    reply: str
    kind: str | None = None
    text: str | None = None
    missed: str | None = None
    thought: str | None = None
    instruction: str | None = None
    regrounded: bool = False
    grounder_note: str | None = None
    latency_s: float | None = None
    usage: StepUsage | None = None


class SessionCall(_Record):
    """What a Python API session step was for: ``kind`` ``act``, ``run``, ``extract`` or ``code`` (an action the
    script itself asked for) and its ``text`` (the instruction, task, question or action)."""

    kind: str
    text: str


class ElementState(_Record):
    """One element as a probe found it (:mod:`screenpilot.tools.web.element_probe`): its ``selector`` (unique when
    taken; None: none found), ``tag``, input ``type``, ``how`` the run acted on it (``click``, ``type``; None: a
    fresh element), rendered ``text`` (whitespace collapsed), form ``value`` and ``checked`` state (None: not
    recorded). ``secret``: a value or text held a secret and was left out."""

    selector: str | None = None
    tag: str | None = None
    type: str | None = None
    how: str | None = None
    text: str | None = None
    value: str | None = None
    checked: bool | None = None
    secret: bool | None = None


class PageProbe(_Record):
    """What the page held at one moment of a step: ``mode`` ``observe`` (the step's observation), ``click`` or
    ``type`` (right after such an action); the ``target`` the action acted on; the current state of the
    ``elements`` acted on in this document (most recent last); and the ``fresh`` elements, whose text was not on
    the page before the latest action."""

    mode: str
    target: ElementState | None = None
    elements: list[ElementState] = Field(default_factory=list)
    fresh: list[ElementState] = Field(default_factory=list)


class StepLine(_Record):
    """One line of ``steps.jsonl``: everything one step observed, said and did.

    Sizes are (width, height) in pixels: ``screen_size`` of the screenshot, ``model_size`` of the
    image the model saw. ``started_at`` is Unix time in seconds. ``actions_model`` (model space)
    and ``actions_screen`` (screen pixels) are :func:`screenpilot.agent.actions.to_json` forms;
    ``verdicts`` pair with ``actions_screen`` in order, and ``executed`` counts the actions that
    were carried out. ``model_timings`` are the backend's own phases in seconds (free-form names). ``call`` is
    written only by Python API sessions (see :class:`SessionCall`); ``probes`` only by browser and phone runs
    (see :class:`PageProbe`: the observation first, then one per pointer or typing action).
    """

    index: int
    started_at: float | None = None
    url: str | None = None
    title: str | None = None
    events: list[str] | None = None
    screen_size: tuple[int, int] | None = None
    model_size: tuple[int, int] | None = None
    image_tokens: int | None = None
    screenshot: str | None = None
    reply: str | None = None
    usage: StepUsage | None = None
    model_timings: dict[str, float] | None = None
    actions_model: list[dict[str, Any]] = Field(default_factory=list)
    actions_screen: list[dict[str, Any]] = Field(default_factory=list)
    verdicts: list[VerdictRecord] = Field(default_factory=list)
    executed: int = 0
    error: StepErrorRecord | None = None
    feedback: str | None = None
    timings: StepTimings = Field(default_factory=StepTimings)
    call: SessionCall | None = None
    planner: PlannerLine | None = None
    probes: list[PageProbe] | None = None


class ResizeBounds(_Record):
    """The bounds, in pixels (width x height), of the screenshot area the model is shown."""

    min_pixels: int
    max_pixels: int


class RunLimits(_Record):
    """The run's budgets: ``max_steps`` (model calls), ``max_model_errors`` (consecutive unusable
    replies) and ``time_limit_s`` (seconds; scenarios and MiniWoB++ episodes); None: not set."""

    max_steps: int | None = None
    max_model_errors: int | None = None
    time_limit_s: float | None = None


class ScenarioRef(_Record):
    """The scenario a run came from: its ``id``, ``source`` file (absolute path), bundled ``site``
    and ``seed``."""

    id: str | None = None
    source: str | None = None
    site: str | None = None
    seed: int | None = None


class RunRecord(_Record):
    """``run.json``: the task, what ran it, and (once it ended) the outcome.

    ``started_at`` / ``ended_at`` are ISO 8601 times in UTC; ``outcome`` is the loop's own
    :class:`~screenpilot.agent.run.loop.RunResult` (validated like a model), None while the run
    goes on or when it was killed. Writers may record more metadata than the fields below
    (``TrajectoryWriter`` writes its metadata as given), so unlike the other records unknown keys
    are kept (``model_extra``), both to be written and to be shown by reports.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())

    schema_version: int = Field(1, alias="schema")
    task: str
    model: dict[str, Any] | str | None = None
    prompt_format: dict[str, Any] | None = None
    resize: ResizeBounds | None = None
    executor: dict[str, Any] | None = None
    limits: RunLimits | None = None
    policy: dict[str, Any] | None = None
    secrets: list[str] | None = None
    environment: dict[str, Any] | None = None
    """How ``screenpilot run`` started the screen, in a scenario file's ``environment`` format (launch commands,
    virtual display, phone device, start URL)."""
    scenario: ScenarioRef | None = None
    miniwob: dict[str, Any] | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    recording: dict[str, Any] | None = None
    """The recording path's own cost, off the steps' ``total``: ``steps`` written, ``write_ms_median`` and
    ``write_ms_max`` (PNG and ``steps.jsonl`` line on the writer's thread)."""
    started_at: str | None = None
    ended_at: str | None = None
    outcome: RunResult | None = None


def dump_record(record: BaseModel) -> dict[str, Any]:
    """The JSON-ready form of ``record`` with its file's key names, holding only the fields
    that were given (read from a file or passed when the record was built)."""
    return record.model_dump(mode="json", by_alias=True, exclude_unset=True)


def validation_message(error: ValidationError) -> str:
    """The problems pydantic found, one ``field: message`` each, joined by ``; ``."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(the whole record)"
        problems.append(f"{field}: {item['msg']}")
    return "; ".join(problems)


__all__ = [
    "ElementState",
    "PageProbe",
    "PlannerLine",
    "ResizeBounds",
    "RunLimits",
    "RunRecord",
    "ScenarioRef",
    "SessionCall",
    "StepErrorRecord",
    "StepLine",
    "StepTimings",
    "StepUsage",
    "VerdictRecord",
    "dump_record",
    "validation_message",
]
