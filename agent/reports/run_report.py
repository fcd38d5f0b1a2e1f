"""One self-contained HTML page per run folder: what the agent saw, said and did, step by step.

:func:`write_run_report` reads a run folder (see :mod:`screenpilot.agent.run.trajectory`) and writes one HTML file:
a header with the task, model and outcome, then one card per step (``id="step-N"``) with the
screenshot annotated with the step's screen-space actions (see :mod:`screenpilot.agent.reports.annotate`), the raw
model reply, the actions in model and screen space with the policy verdicts, a timing bar, token
counts and any error with its hint.

The page needs nothing else to open: images are PNG ``data:`` URIs (or, with
``embed_images=False``, files in a ``<report>_files/`` folder beside it), styles are inline and
there is no script. Run folders are read defensively: a run that is still going or was killed
(``outcome`` null, a torn last line), steps without a reply, missing or unreadable screenshots
and corrupt lines are shown as such instead of failing. Model text is untrusted and always escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import ValidationError

from screenpilot.agent.actions import Action, Terminate, describe
from screenpilot.agent.reports.annotate import actions_from_json, annotate, step_caption
from screenpilot.agent.reports.htmlpage import (
    esc,
    number,
    page,
    png_data_uri,
    relative_href,
    seconds,
    status_class,
    write_atomic,
)
from screenpilot.agent.run.loop import RunResult
from screenpilot.agent.run.records import (
    RunRecord,
    StepLine,
    StepTimings,
    StepUsage,
    VerdictRecord,
    dump_record,
)
from screenpilot.agent.run.trajectory import (
    RUN_FILE,
    STEPS_FILE,
    numbered_lines,
    read_run,
    read_steps,
    step_from_json,
)

PHASES: tuple[str, ...] = ("capture", "model", "execute", "settle")
REPORT_NAME = "report.html"

RUN_CSS = """
.toc { display:flex; flex-wrap:wrap; gap:6px; list-style:none; padding:0; margin:8px 0 0; }
.toc a { display:inline-block; padding:2px 8px; border:1px solid var(--line); border-radius:6px;
  background:#fff; text-decoration:none; font-size:12px; max-width:260px; white-space:nowrap;
  overflow:hidden; text-overflow:ellipsis; }
.toc a.has-error { border-color: var(--err); color: var(--err); }
.step h2 .when { font-weight:400; color:var(--muted); font-size:13px; margin-left:8px; }
.step figure { margin:10px 0 0; }
.step img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:6px; display:block; }
.step figcaption { color:var(--muted); font-size:12px; overflow-wrap:anywhere; }
.missing-image { padding:24px; border:2px dashed var(--line); border-radius:6px; color:var(--muted); margin:10px 0; }
.columns { display:grid; grid-template-columns: minmax(0,3fr) minmax(0,2fr); gap: 0 24px; }
@media (max-width: 1000px) { .columns { grid-template-columns: minmax(0,1fr); } }
.timebar { display:flex; height:12px; border-radius:3px; overflow:hidden; background:#eef1f5; min-width:2px; }
.timebar .seg { display:block; height:100%; }
.error-box { border-left:4px solid var(--err); background:#fff1f3; padding:8px 12px; border-radius:4px;
  margin-top:10px; }
.error-box.family-stop { border-color: var(--stop); background:#f4f3ff; }
.error-box.family-model { border-color: var(--fail); background:#fffaeb; }
.hint { margin-top:4px; }
.verdict-allow { color: var(--ok); } .verdict-deny, .verdict-stop { color: var(--err); font-weight:600; }
.verdict-skip { color: var(--fail); }
.problems { color: var(--err); }
"""


@dataclass
class RunData:
    """A run folder as read for reporting. ``run`` is None when run.json is missing or unreadable
    (invalid entries are left out and named in ``problems``); ``steps`` are the lines that are
    valid steps; ``problems`` lists what was wrong with the folder, in words."""

    run_dir: Path
    run: RunRecord | None
    steps: list[StepLine]
    problems: list[str] = field(default_factory=list)


def is_run_dir(path: Path) -> bool:
    """True when ``path`` is a folder holding ``run.json`` or ``steps.jsonl``."""
    return path.is_dir() and ((path / RUN_FILE).is_file() or (path / STEPS_FILE).is_file())


def _lenient_steps(run_dir: Path, problems: list[str]) -> list[StepLine]:
    """Every line of steps.jsonl that is a valid step; the others are noted in ``problems``."""
    steps: list[StepLine] = []
    for number_, line in numbered_lines(run_dir):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"{STEPS_FILE} line {number_} is not valid JSON (skipped)")
            continue
        try:
            steps.append(step_from_json(value, f"{STEPS_FILE} line {number_}"))
        except ValueError as exc:
            problems.append(f"{exc} (skipped)")
    return steps


def _valid_part(run_dir: Path) -> RunRecord | None:
    """run.json without its invalid top-level entries (a broken ``outcome`` still leaves the task,
    model and times to show), or None when the file is not a JSON object or the task is at fault."""
    try:
        data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        RunRecord.model_validate(data)
    except ValidationError as exc:
        data = {k: v for k, v in data.items() if k not in {item["loc"][0] for item in exc.errors() if item["loc"]}}
    try:
        return RunRecord.model_validate(data)
    except ValidationError:
        return None


def load_run(run_dir: Path) -> RunData:
    """Read ``run_dir`` for a report. Raises FileNotFoundError when it is not a run folder."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise FileNotFoundError(f"{run_dir} is not a run folder (no run.json or steps.jsonl)")
    problems: list[str] = []
    run: RunRecord | None = None
    try:
        run = read_run(run_dir)
    except FileNotFoundError:
        problems.append("run.json is missing")
    except (OSError, ValueError) as exc:
        problems.append(str(exc))
        run = _valid_part(run_dir)
    try:
        steps = read_steps(run_dir)
    except ValueError:
        steps = _lenient_steps(run_dir, problems)
    return RunData(run_dir, run, steps, problems)


def load_screenshot(run_dir: Path, step: StepLine) -> Image.Image | None:
    """The step's screenshot as RGB, or None when missing/unreadable. Only files directly inside
    ``run_dir`` are read (the name in steps.jsonl is not trusted as a path)."""
    if not step.screenshot:
        return None
    path = run_dir / Path(step.screenshot).name
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError):
        return None


def annotated_screenshot(run_dir: Path, step: StepLine) -> Image.Image | None:
    """The step's screenshot (its own size) with its screen-space actions drawn on, or None. No caption: the
    report's heading says what the step did."""
    image = load_screenshot(run_dir, step)
    if image is None:
        return None
    return annotate(image, actions_from_json(step.actions_screen))


def _error_type(step: StepLine) -> str | None:
    return None if step.error is None else step.error.type


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def run_seconds(run: RunRecord | None, steps: Sequence[StepLine]) -> float | None:
    """Wall time of the run in seconds: ended_at - started_at, else the sum of step totals."""
    if run is not None:
        start, end = _parse_time(run.started_at), _parse_time(run.ended_at)
        if start is not None and end is not None:
            try:
                return max(0.0, (end - start).total_seconds())
            except TypeError:
                pass
    known = [t for s in steps if (t := number(s.timings.total)) is not None]
    return sum(known) if known else None


def token_totals(steps: Sequence[StepLine]) -> dict[str, int | None]:
    """Sums over steps of prompt, completion and image tokens; None where no step reports a count."""
    prompts = [s.usage.prompt_tokens for s in steps if s.usage is not None and s.usage.prompt_tokens is not None]
    completions = [s.usage.completion_tokens for s in steps
                   if s.usage is not None and s.usage.completion_tokens is not None]
    images = [s.image_tokens for s in steps if s.image_tokens is not None]
    return {"prompt_tokens": sum(prompts) if prompts else None,
            "completion_tokens": sum(completions) if completions else None,
            "image_tokens": sum(images) if images else None}


def model_label(model: object) -> str:
    """A one-line name for run.json's ``model`` entry (a string or a backend's describe() dict)."""
    if isinstance(model, dict):
        for key in ("name", "model", "model_id", "path", "source"):
            if model.get(key):
                backend = model.get("backend")
                return f"{model[key]} ({backend})" if backend else str(model[key])
        return str(model.get("backend", "unknown"))
    return "unknown" if model is None else str(model)


def _prompt_label(value: dict[str, Any] | None) -> str:
    return "unknown" if value is None else str(value.get("name", "unknown"))


def _fact(term: str, value: str) -> str:
    return f"<dt>{esc(term)}</dt><dd>{value}</dd>"


def _outcome_html(outcome: RunResult | None) -> str:
    if outcome is None:
        return ('<p><span class="badge status-unknown" data-status="none">NO OUTCOME</span> '
                '<span class="muted">the run is still going, or was stopped before it could record an '
                "outcome; every finished step is shown below</span></p>")
    status = outcome.status
    badge = f'<span class="badge {status_class(status)}" data-status="{esc(status)}">{esc(status.upper())}</span>'
    parts = [badge,
             f' <span class="reason">({esc(outcome.reason)})</span>',
             f' <span class="muted">after {esc(outcome.steps)} step(s)</span>']
    html_ = "<p class=\"outcome\">" + "".join(parts) + "</p>"
    if outcome.answer is not None:
        html_ += f'<p><strong>Answer:</strong> <span class="answer">{esc(outcome.answer)}</span></p>'
    if outcome.message:
        html_ += f'<p><strong>Message:</strong> <span class="message">{esc(outcome.message)}</span></p>'
    return html_


def _tokens_text(totals: Mapping[str, int | None]) -> str:
    prompt, completion = totals.get("prompt_tokens"), totals.get("completion_tokens")
    if prompt is None and completion is None:
        main = "not reported by the model"
    else:
        main = f"{(prompt or 0) + (completion or 0):,} ({prompt if prompt is not None else '?'} prompt + " \
               f"{completion if completion is not None else '?'} completion)"
    images = totals.get("image_tokens")
    return main + ("" if images is None else f"; {images:,} image tokens")


def _header_html(data: RunData) -> str:
    run, steps = data.run, data.steps
    facts = [
        _fact("Model", esc(model_label(run.model if run else None))),
        _fact("Prompt format", esc(_prompt_label(run.prompt_format if run else None))),
        _fact("Executor", esc(_executor_label(run.executor if run else None))),
        _fact("Started", esc((run.started_at if run else None) or "–")),
        _fact("Total time", esc(seconds(run_seconds(run, steps)))),
        _fact("Steps recorded", esc(len(steps))),
        _fact("Tokens", esc(_tokens_text(token_totals(steps)))),
        _fact("Folder", f"<code>{esc(data.run_dir)}</code>"),
    ]
    problems = "".join(f"<li>{esc(p)}</li>" for p in data.problems)
    toc = "".join(_toc_item(s) for s in steps)
    recorded = dump_record(run) if run else {}
    metadata = json.dumps({k: v for k, v in recorded.items() if k not in ("task", "outcome")}, indent=2,
                          ensure_ascii=False)
    return (
        '<header class="page"><div class="card run-header">'
        f'<h1 class="task">{esc((run.task if run else None) or "(task unknown)")}</h1>'
        f'{_outcome_html(run.outcome if run else None)}<dl class="facts">{"".join(facts)}</dl>'
        + (f'<ul class="problems">{problems}</ul>' if problems else "")
        + f'<details><summary>run.json</summary><pre>{esc(metadata)}</pre></details>'
        + (f'<ol class="toc">{toc}</ol>' if toc else "")
        + "</div></header>"
    )


def _executor_label(value: dict[str, Any] | None) -> str:
    if value is None:
        return "unknown"
    kind = value.get("executor") or value.get("kind") or "unknown"
    extra = value.get("viewport") or value.get("size")
    return f"{kind} {_size_text(extra)}" if extra else str(kind)


def _toc_item(step: StepLine) -> str:
    actions = actions_from_json(step.actions_screen)
    label = step_caption(step.index, actions, _error_type(step))
    css = ' class="has-error"' if step.error else ""
    return f'<li><a href="#step-{step.index}"{css} title="{esc(label)}">{esc(label)}</a></li>'


def timing_bar(timings: StepTimings, longest: float) -> str:
    """A horizontal bar whose segments are the phases' shares of the step's total time.

    The bar's own width is the step's total relative to ``longest`` (seconds, the slowest step),
    so bars of different steps compare. Time in no named phase shows as ``other``.
    """
    values = {p: max(0.0, number(getattr(timings, p)) or 0.0) for p in PHASES}
    named = sum(values.values())
    total = number(timings.total)
    total = named if total is None else max(total, named)
    values["other"] = max(0.0, total - named)
    span = total if total > 0 else 1.0
    width = 100.0 if longest <= 0 else max(1.0, 100.0 * total / longest)
    segments = "".join(
        f'<span class="seg ph-{p}" data-phase="{p}" style="width:{100 * v / span:.3f}%" title="{p} {esc(seconds(v))}">'
        "</span>"
        for p, v in values.items()
        if v > 0
    )
    legend = "".join(
        f'<span><i class="ph-{p}"></i>{p} {esc(seconds(v))}</span>' for p, v in values.items() if v > 0 or p in PHASES
    )
    return (f'<div class="timebar" style="width:{width:.3f}%" data-total="{total:.6f}">{segments}</div>'
            f'<div class="legend">total {esc(seconds(total))} · {legend}</div>')


def _action_rows(step: StepLine) -> str:
    model_actions = actions_from_json(step.actions_model)
    screen_actions = actions_from_json(step.actions_screen)
    rows = []
    for n in range(max(len(model_actions), len(screen_actions))):
        model_text = describe(model_actions[n]) if n < len(model_actions) else "–"
        screen_action = screen_actions[n] if n < len(screen_actions) else None
        screen_text = "–" if screen_action is None else describe(screen_action)
        verdict = _verdict_html(step.verdicts, n, screen_action)
        rows.append(f'<tr class="action-row"><td class="num">{n + 1}</td><td><code>{esc(model_text)}</code></td>'
                    f"<td><code>{esc(screen_text)}</code></td><td>{verdict}</td></tr>")
    if not rows:
        return '<p class="muted">no actions parsed</p>'
    model_size = _size_text(step.model_size)
    screen_size = _size_text(step.screen_size)
    return (f'<table class="actions"><tr><th class="num">#</th><th>model space {esc(model_size)}</th>'
            f"<th>screen space {esc(screen_size)}</th><th>policy</th></tr>{''.join(rows)}</table>"
            f'<p class="muted">{esc(step.executed)} carried out</p>')


def _verdict_html(verdicts: Sequence[VerdictRecord], n: int, action: Action | None) -> str:
    if n >= len(verdicts):
        ends = isinstance(action, Terminate)
        return f'<span class="muted">{"ends the run" if ends else "not checked"}</span>'
    verdict = verdicts[n]
    note = f' — {esc(verdict.note)}' if verdict.note else ""
    return (f'<span class="verdict-{esc(verdict.decision)}">{esc(verdict.decision)}</span>'
            f' <span class="muted">({esc(verdict.rule)})</span>{note}')


def _size_text(value: object) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"{value[0]}x{value[1]}"
    return "?"


def _known(value: object) -> object:
    return "?" if value is None else value


def _tokens_html(step: StepLine) -> str:
    usage = step.usage or StepUsage()
    parts = [
        f"prompt {esc(_known(usage.prompt_tokens))}",
        f"completion {esc(_known(usage.completion_tokens))}",
        f"image {esc(_known(step.image_tokens))}",
        f"model image {esc(_size_text(step.model_size))}",
        f"screen {esc(_size_text(step.screen_size))}",
    ]
    if step.model_timings:
        phases = ", ".join(f"{esc(k)} {esc(seconds(number(v)))}" for k, v in step.model_timings.items())
        parts.append(f"model phases {phases}")
    return f'<p class="tokens">{" · ".join(parts)}</p>'


def is_replay(run: RunRecord | None) -> bool:
    """Whether the run was a replay script played without a model (run.json's model is the replay)."""
    return run is not None and isinstance(run.model, dict) and run.model.get("backend") == "replay"


def _error_html(step: StepLine, replay: bool) -> str:
    """The step's error and feedback; a replay's are the script's, not a model's."""
    error = step.error
    out = ""
    if error is not None:
        family = "replay" if replay and error.family == "model" else f"{error.family} error"
        hint = f'<div class="hint"><strong>Hint:</strong> {esc(error.hint)}</div>' if error.hint else ""
        out += (f'<div class="error-box family-{esc(error.family)}"><strong>{esc(error.type)}</strong>'
                f' <span class="muted">({esc(family)})</span>: <span class="error-message">'
                f'{esc(error.message)}</span>{hint}</div>')
    if step.feedback:
        out += f'<p><strong>{"Replay note" if replay else "Feedback to the model"}:</strong> {esc(step.feedback)}</p>'
    return out


def _reply_html(step: StepLine) -> str:
    if step.reply is None:
        return '<p class="muted reply-missing">no reply (the model was not asked or did not answer)</p>'
    return f'<pre class="reply">{esc(step.reply)}</pre>'


def _when(step: StepLine) -> str:
    started = number(step.started_at)
    if started is None:
        return ""
    try:
        return datetime.fromtimestamp(started).strftime("%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return ""


class _ImageSink:
    """Where annotated screenshots go: inline data URIs, or PNG files in a folder beside the report."""

    def __init__(self, report_path: Path, embed: bool) -> None:
        self.embed = embed
        self.report_dir = report_path.parent
        self.folder = report_path.parent / f"{report_path.stem}_files"

    def src(self, image: Image.Image, index: int) -> str:
        if self.embed:
            return png_data_uri(image)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step_{index:03d}.png"
        image.save(path, format="PNG")
        return relative_href(path, self.report_dir)


def _figure_html(data: RunData, step: StepLine, sink: _ImageSink) -> str:
    image = annotated_screenshot(data.run_dir, step)
    where = " · ".join(esc(v) for v in (step.title, step.url) if v)
    if image is None:
        name = step.screenshot or "(none recorded)"
        return f'<div class="missing-image" data-step="{step.index}">screenshot missing: {esc(name)}</div>'
    actions = actions_from_json(step.actions_screen)
    alt = f"Step {step.index} screenshot ({image.width}x{image.height}) with annotation: " + (
        "; ".join(describe(a) for a in actions) or "no action")
    return (f'<figure><img src="{esc(sink.src(image, step.index))}" data-step="{step.index}" alt="{esc(alt)}" '
            f'width="{image.width}" height="{image.height}"><figcaption>{where}</figcaption></figure>')


def _planner_html(step: StepLine) -> str:
    """The planner's part of a step: its decision, the instruction the grounder got, its reply and latency."""
    plan = step.planner
    if plan is None:
        return ""
    decided = f"{plan.kind}: {plan.text}" if plan.kind else "unreadable answer"
    grounded = "" if plan.instruction is None else (
        f"<p><strong>Grounder instruction{' (again)' if plan.regrounded else ''}:</strong> {esc(plan.instruction)}"
        + (f" <em>{esc(plan.grounder_note)}</em>" if plan.grounder_note else "") + "</p>")
    missed = f"<p><strong>Missed:</strong> {esc(plan.missed)}</p>" if plan.missed else ""
    latency = "" if plan.latency_s is None else f" · {plan.latency_s:.2f} s"
    return (f'<div class="planner"><p><strong>Planner</strong> ({esc(plan.request)}{latency}): {esc(decided)}</p>'
            f"{missed}{grounded}<pre>{esc(plan.reply)}</pre></div>")


def _step_html(data: RunData, step: StepLine, longest: float, sink: _ImageSink) -> str:
    index = step.index
    actions = actions_from_json(step.actions_screen)
    title = "; ".join(describe(a) for a in actions) or (step.error.type if step.error else "no action")
    call = "" if step.call is None else (f'<p class="call"><strong>Session {esc(step.call.kind)}:</strong> '
                                         f"{esc(step.call.text)}</p>")
    call += _planner_html(step)
    return (
        f'<section class="card step" id="step-{index}" data-index="{index}">'
        f'<h2>Step {index} · {esc(title)}<span class="when">{esc(_when(step))}</span></h2>{call}'
        f'<div class="columns"><div>{_figure_html(data, step, sink)}</div>'
        f'<div><h3>{"Replay step" if is_replay(data.run) else "Model reply"}</h3>{_reply_html(step)}'
        f'{_error_html(step, is_replay(data.run))}'
        f"<h3>Actions</h3>{_action_rows(step)}<h3>Timings</h3>{timing_bar(step.timings, longest)}"
        f"<h3>Tokens and image</h3>{_tokens_html(step)}</div></div></section>"
    )


def render_run_report(data: RunData, sink: _ImageSink) -> str:
    """The report page for ``data`` as an HTML string (images handled by ``sink``)."""
    longest = max((number(s.timings.total) or 0.0 for s in data.steps), default=0.0)
    cards = "".join(_step_html(data, s, longest, sink) for s in data.steps)
    if not cards:
        cards = '<div class="card"><p class="muted">No step was recorded.</p></div>'
    task = (data.run.task if data.run else None) or data.run_dir.name
    return page(f"screenpilot run: {task}", _header_html(data) + f"<main>{cards}</main>", css=RUN_CSS,
                embedded=sink.embed)


def write_run_report(run_dir: Path, out_path: Path | None = None, embed_images: bool = True) -> Path:
    """Write the HTML report of ``run_dir`` to ``out_path`` (default ``RUN_DIR/report.html``).

    With ``embed_images`` (default) the file is fully self-contained; otherwise annotated
    screenshots are written to ``<out stem>_files/`` beside it. Returns the report's path.
    Raises FileNotFoundError when ``run_dir`` is not a run folder.
    """
    data = load_run(Path(run_dir))
    out = Path(out_path) if out_path is not None else data.run_dir / REPORT_NAME
    html_text = render_run_report(data, _ImageSink(out, embed_images))
    return write_atomic(out, html_text)


__all__ = [
    "REPORT_NAME",
    "RunData",
    "annotated_screenshot",
    "is_run_dir",
    "load_run",
    "load_screenshot",
    "model_label",
    "render_run_report",
    "run_seconds",
    "timing_bar",
    "token_totals",
    "write_run_report",
]
