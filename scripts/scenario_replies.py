#!/usr/bin/env python3
"""Developer tool: compute the scripted replies of the bundled scenarios from the live pages.

For each scenario with a plan below, the script serves its site, opens it in the real browser
executor (the same one runs use), runs the scenario's setup, then walks the plan: for a click it
reads the target element's box from the page, takes its centre (or a point at given fractions of
the box) in screen pixels, maps it to model space with :func:`screenpilot.models.resize.screen_to_model` for
the default image budget, checks the point maps back inside the element, writes the reply with
:func:`screenpilot.models.formats.qwen25.format_call` and carries the action out so the next target is read from
the page state the replay will see. The replies go to ``scenarios/replies/<id>.json``.

Usage::

    .venv/bin/python scripts/scenario_replies.py            # every planned scenario
    .venv/bin/python scripts/scenario_replies.py todo_manage --print   # one, printing coordinates
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screenpilot.agent.actions import Action, Click, Point, PressKeys, Terminate, TypeText  # noqa: E402
from screenpilot.agent.scenario.spec import load_scenario  # noqa: E402
from screenpilot.agent.scenario.runner import EpisodeOptions, open_environment, run_setup  # noqa: E402
from screenpilot.agent.run.settings import PromptSettings  # noqa: E402
from screenpilot.models.formats.qwen25 import format_call  # noqa: E402
from screenpilot.models.resize import model_size_for, model_to_screen, screen_to_model  # noqa: E402

SCENARIOS = ROOT / "scenarios"


@dataclass(frozen=True)
class At:
    """Click the element matching ``css`` at fractions (fx, fy) of its box (0.5, 0.5: centre)."""

    css: str
    fx: float = 0.5
    fy: float = 0.5


PlanStep = At | Action

_TERMS = "#terms"
FLIGHT_PLAN: list[PlanStep] = [
    At("#from"), TypeText("Lisbon"), At("#to"), TypeText("Paris"), At('[data-date="2024-06-14"]'),
    At("#search-button"), At('[data-flight="SP 195"] [data-fare="flex"]'), At('[data-seat="14C"]'),
    At("#continue"), At("#first"), TypeText("Ada"), At("#last"), TypeText("Lovelace"), At("#email"),
    TypeText("ada@example.com"), At(_TERMS), At("#book"), Terminate("success", "SP-KK990D"),
]

INVOICE_ANSWER = json.dumps({
    "number": "INV-2024-0173", "date": "2024-03-15", "vendor": "Northwind Office Supplies", "total": 1231.78,
    "items": [{"description": "Ergonomic office chair", "qty": 2, "amount": 498.0},
              {"description": "Standing desk frame", "qty": 1, "amount": 389.5},
              {"description": "A4 copy paper (box of 5 reams)", "qty": 6, "amount": 130.5}],
})

PLANS: dict[str, list[PlanStep]] = {
    "flights_booking": FLIGHT_PLAN,
    "flights_booking_shifted": FLIGHT_PLAN,
    "invoice_extract": [Terminate("success", INVOICE_ANSWER)],
    "form_registration": [
        At("#name"), TypeText("Grace Hopper"), At("#email"), TypeText("grace@example.org"),
        At("#ticket"), TypeText("Student"), PressKeys(("enter",)),
        # The month part of the date input sits at its left end; typing fills month, day, year.
        At("#arrival", 0.08, 0.5), TypeText("09172024"),
        At("#workshop"), At("#submit"), Terminate("success"),
    ],
    "todo_manage": [
        At("#new-todo"), TypeText("Renew passport"), PressKeys(("enter",)),
        At('li[data-id="1"] .toggle'), At('li[data-id="3"] .delete'), Terminate("success"),
    ],
}


def _target(page: object, step: At, screen_size: tuple[int, int], model_size: tuple[int, int]) -> Point:
    """The model-space point for ``step`` on the current page, checked to map back inside the box."""
    box = page.locator(step.css).first.bounding_box()  # type: ignore[attr-defined]
    if box is None:
        raise SystemExit(f"{step.css!r} is not on the page")
    screen = Point(round(box["x"] + box["width"] * step.fx), round(box["y"] + box["height"] * step.fy))
    model = screen_to_model(screen, screen_size, model_size)
    back = model_to_screen(model, model_size, screen_size)
    inside = box["x"] <= back.x < box["x"] + box["width"] and box["y"] <= back.y < box["y"] + box["height"]
    if not inside:
        raise SystemExit(f"{step.css!r}: model point {model} maps back to {back}, outside {box}")
    return model


def compute_replies(scenario_id: str, verbose: bool) -> list[str]:
    """Walk the plan of ``scenario_id`` on the live page and return its reply strings."""
    spec = load_scenario(SCENARIOS / f"{scenario_id}.yaml")
    prompt = PromptSettings()
    replies: list[str] = []
    with open_environment(spec, EpisodeOptions(), ROOT / ".cache") as (executor, _, base_url):
        run_setup(spec, executor, base_url)
        page = executor.page  # type: ignore[attr-defined]
        screen_size = executor.size
        model_size = model_size_for(screen_size, prompt.min_pixels, prompt.max_pixels)
        for step in PLANS[scenario_id]:
            action: Action = Click(_target(page, step, screen_size, model_size)) if isinstance(step, At) else step
            replies.append(format_call(action))
            if verbose:
                print(f"{scenario_id}: {step} -> {format_call(action).splitlines()[1]}")
            if isinstance(action, Click) and action.at is not None:
                executor.execute(Click(model_to_screen(action.at, model_size, screen_size)))
                executor.settle()
            elif not isinstance(action, Terminate):
                executor.execute(action)
                executor.settle()
    return replies


def main() -> int:
    """Write the replies files of the scenarios named on the command line (default: all planned)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("ids", nargs="*", help=f"scenario ids (default: {', '.join(PLANS)})")
    parser.add_argument("--print", action="store_true", help="print each target's model-space coordinates")
    args = parser.parse_args()
    for scenario_id in args.ids or list(PLANS):
        replies = compute_replies(scenario_id, args.print)
        out = SCENARIOS / "replies" / f"{scenario_id}.json"
        out.write_text(json.dumps(replies, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {len(replies)} replies to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
