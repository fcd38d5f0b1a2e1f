"""The planner's dialect: what a planner model is asked each step, and how its JSON answer is read.

With ``--planner``, a general chat model (any OpenAI-compatible one, with or without vision) decides the next step
and the run's model (Qwen2.5-VL, Qwen3-VL or UI-TARS-1.5: the *grounder*) turns that one instruction into pixels.
Each step the planner gets the task, the steps so far (each instruction, what the grounder did and what came of
it), and the current screen: the screenshot when it accepts images, else the page's address, title and
accessibility text (browsers) or only the previous outcome. It answers with one JSON object:

``{"thought": "...", "step": "click the Select button of the 09:45 flight"}``
    the next instruction for the grounder (one action's worth, in words);
``{"done": "the answer, or an empty string"}`` / ``{"fail": "why the task cannot be done"}``
    the task is finished (success with the answer) or cannot be;
``{"ask_user": "question"}``
    a question for the person running the task;
``"missed": "why"`` (beside any of the above)
    the previous step did not have the intended effect: the grounder is asked again for the *same* instruction with
    this feedback (a bounded number of times), and the rest of the answer is used once the retries are spent.

``thought`` is optional and recorded. Tolerance as elsewhere: the object may sit in prose or a code fence, json5
syntax is accepted (see :func:`screenpilot.agent.json_text.first_json`). An answer with none or several of
``step``/``done``/``fail``/``ask_user`` is a :class:`~screenpilot.agent.errors.ModelError` whose hint is written for
the planner; it counts against the run's model-error budget like the grounder's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from screenpilot.agent.errors import InvalidArgumentError, ReplyParseError
from screenpilot.agent.json_text import first_json
from screenpilot.models.base import Message, ModelRequest
from screenpilot.models.formats.base import image_part, text_part
from screenpilot.models.formats.toolcall import clip

PlanKind = Literal["step", "done", "fail", "ask_user"]
PLAN_KINDS: tuple[PlanKind, ...] = ("step", "done", "fail", "ask_user")

PLANNER_IMAGE_SIDE = 1280
"""Screenshots go to a vision planner scaled down to at most this many pixels on their longer side."""

EXAMPLE = '{"thought": "The search form is empty.", "step": "click the From field"}'

SYSTEM_TEXT = f"""You are the planner of an agent that operates a computer screen for a person. Another model, the \
grounder, carries out one instruction at a time on the screen (a click, typing, a key, a scroll); you decide what \
it does next. Each turn you see the task, the steps so far with their outcomes, and the current screen.

Answer with exactly one JSON object and nothing else:
- {{"thought": "...", "step": "..."}}: the next instruction, one action's worth, naming the target the way the \
screen shows it (e.g. "click the Select button of the 09:45 flight", "type Lisbon into the From field");
- {{"done": "..."}}: the task is complete; the value is the answer the task asks for, or "";
- {{"fail": "..."}}: the task cannot be done, and why;
- {{"ask_user": "..."}}: a question only the person can answer.
If the previous step did not have the intended effect, add "missed": "what went wrong", and the grounder tries \
that instruction again with your note. "thought" is optional. Example: {EXAMPLE}"""


@dataclass(frozen=True)
class PlanDecision:
    """One planner answer: ``kind`` and its ``text`` (the instruction, answer, reason or question), the optional
    ``missed`` note on the previous step and the planner's ``thought``."""

    kind: PlanKind
    text: str
    missed: str | None = None
    thought: str | None = None


@dataclass(frozen=True)
class PlanTurn:
    """One earlier step as the planner is told it: its ``instruction`` (None when the planner ended or asked),
    ``did`` (the grounder's actions in words) and ``outcome`` (notes, errors, a person's answer; None: none)."""

    instruction: str | None
    did: str
    outcome: str | None = None


def planner_image(image: Image.Image) -> Image.Image:
    """``image`` scaled down (never up) to at most :data:`PLANNER_IMAGE_SIDE` pixels on its longer side."""
    scale = PLANNER_IMAGE_SIDE / max(image.size)
    if scale >= 1:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.BICUBIC)


def _history_text(turns: Sequence[PlanTurn]) -> str:
    if not turns:
        return "Steps so far: none."
    lines = ["Steps so far:"]
    for number, turn in enumerate(turns, start=1):
        line = f"{number}. {turn.instruction or '(no instruction)'} -> {turn.did}"
        lines.append(line + (f" ({turn.outcome})" if turn.outcome else ""))
    return "\n".join(lines)


def build_planner_request(task: str, turns: Sequence[PlanTurn], *, image: Image.Image | None = None,
                          screen_text: str | None = None, note: str | None = None) -> ModelRequest:
    """The planner's request: the task, the steps so far, and the screen as ``image`` (vision planners; scaled by
    :func:`planner_image`) and/or ``screen_text`` (address, title, accessibility text). ``note``: feedback on the
    planner's own previous answer (a parse error's hint) or on the last step."""
    content = [text_part(f"Task: {task}\n\n{_history_text(turns)}")]
    if screen_text:
        content.append(text_part(f"The screen now:\n{screen_text}"))
    shown = None if image is None else planner_image(image)
    if shown is not None:
        content += [text_part("The screen now:"), image_part(shown)]
    if note:
        content.append(text_part(note))
    content.append(text_part("Your answer (one JSON object):"))
    messages: list[Message] = [{"role": "system", "content": [text_part(SYSTEM_TEXT)]},
                               {"role": "user", "content": content}]
    size = (0, 0) if shown is None else shown.size
    area = max(1, size[0] * size[1])
    return ModelRequest(messages, size, 1, area)  # the image's tokens: the server's count (its own resizing)


def parse_plan(text: str) -> PlanDecision:
    """The decision in a planner's answer; ReplyParseError / InvalidArgumentError (hints for the planner)."""
    try:
        value = first_json(text, "{")
    except ValueError:
        raise ReplyParseError(f"the planner's answer holds no JSON object: {clip(text)}",
                              hint=f"Answer with exactly one JSON object, e.g. {EXAMPLE}") from None
    given = [kind for kind in PLAN_KINDS if kind in value]
    if len(given) != 1:
        found = ", ".join(given) or "none"
        raise InvalidArgumentError(
            f"the planner's answer must have exactly one of step, done, fail, ask_user (found: {found})",
            hint='Give exactly one of "step", "done", "fail" or "ask_user" in your JSON object.')
    kind = given[0]
    body = value[kind]
    if not isinstance(body, str) or (kind != "done" and not body.strip()):
        raise InvalidArgumentError(f'the planner\'s "{kind}" must be a non-empty string, got {clip(repr(body))}',
                                   hint=f'Write "{kind}" as a string, e.g. {EXAMPLE}')
    missed = value.get("missed")
    thought = value.get("thought")
    return PlanDecision(kind, body.strip(), missed.strip() if isinstance(missed, str) and missed.strip() else None,
                        thought if isinstance(thought, str) else None)
