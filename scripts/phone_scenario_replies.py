#!/usr/bin/env python3
"""Developer tool: compute the scripted mobile_use replies of scenarios/phone_groceries.yaml.

Serves the bundled ``phone`` site (a shopping list), opens it on the emulated Pixel 7 (the same phone
executor runs use), and walks the plan below: for a touch it reads the target element's box
from the page, takes a point at given fractions of the box, converts it from client CSS px to
the screenshot's device px (:func:`screenpilot.tools.web.phone.client_to_device`), maps that to model space for
the default image budget (:func:`screenpilot.models.resize.screen_to_model`), checks the point maps back
inside the element, writes the reply with :func:`screenpilot.models.formats.qwen25_mobile.format_call` and carries
the action out, so every later target is read from the page the replay will see.

Usage::

    .venv/bin/python scripts/phone_scenario_replies.py            # writes scenarios/replies/phone_groceries.json
    .venv/bin/python scripts/phone_scenario_replies.py --print    # also prints each action
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screenpilot.agent.actions import Action, Click, LongPress, Point, Swipe, SystemButton, Terminate, TypeText  # noqa: E402
from screenpilot.agent.scenario.site_server import SiteServer  # noqa: E402
from screenpilot.models.formats.qwen25_mobile import format_call, to_screen  # noqa: E402
from screenpilot.models.resize import model_size_for, model_to_screen, screen_to_model  # noqa: E402
from screenpilot.tools.web.phone import PhoneExecutor, PhoneSettings, client_to_device  # noqa: E402

SITE = ROOT / "scenarios" / "sites" / "phone"
OUT = ROOT / "scenarios" / "replies" / "phone_groceries.json"
DEVICE = "pixel-7"


@dataclass(frozen=True)
class Tap:
    selector: str


@dataclass(frozen=True)
class Hold:
    selector: str
    seconds: float = 1.0


@dataclass(frozen=True)
class SwipeLeft:
    """From ``start`` to ``end`` of the element's width (fractions), at its vertical middle."""

    selector: str
    start: float = 0.85
    end: float = 0.1


Step = Tap | Hold | SwipeLeft | Action

PLAN: list[Step] = [
    Tap("#fab"),
    Tap("#item-name"),
    TypeText("Oat milk"),
    Tap("#add"),
    SystemButton("back"),
    Hold('#list li[data-name="Eggs"]'),
    Tap("#urgent"),
    SwipeLeft('#list li[data-name="Bread"]'),
    Terminate("success"),
]


def _device_point(phone: PhoneExecutor, selector: str, fx: float = 0.5, fy: float = 0.5) -> tuple[Point, dict]:
    box = phone.page.locator(selector).bounding_box()
    if box is None:
        raise SystemExit(f"{selector} is not on the page {phone.page.url}")
    client = (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    return client_to_device(client, phone.dsf, phone.visual_viewport()), box


def _model_point(phone: PhoneExecutor, selector: str, fx: float = 0.5, fy: float = 0.5) -> Point:
    device_px, box = _device_point(phone, selector, fx, fy)
    model = model_size_for(phone.size)
    model_px = screen_to_model(device_px, phone.size, model)
    back = model_to_screen(model_px, model, phone.size)
    inside = client_to_device((box["x"], box["y"]), phone.dsf, phone.visual_viewport())
    far = client_to_device((box["x"] + box["width"], box["y"] + box["height"]), phone.dsf, phone.visual_viewport())
    if not (inside.x <= back.x < far.x and inside.y <= back.y < far.y):
        raise SystemExit(f"{selector}: model point {model_px} maps back to {back}, outside the element")
    return model_px


def model_action(phone: PhoneExecutor, step: Step) -> Action:
    """The model-space action for one plan step, read from the current page."""
    match step:
        case Tap(selector=selector):
            return Click(_model_point(phone, selector))
        case Hold(selector=selector, seconds=seconds):
            return LongPress(_model_point(phone, selector), seconds)
        case SwipeLeft(selector=selector, start=start, end=end):
            return Swipe(_model_point(phone, selector, start), _model_point(phone, selector, end), 0.4)
        case _:
            return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print each action")
    args = parser.parse_args()
    replies: list[str] = []
    with SiteServer(SITE) as server, PhoneExecutor(PhoneSettings(device=DEVICE, start_url=server.url("/index.html"))) \
            as phone:
        phone.settle()
        for step in PLAN:
            action = model_action(phone, step)
            replies.append(format_call(action))
            if args.print:
                print(action)
            if isinstance(action, Terminate):
                break
            phone.execute(to_screen(action, model_size_for(phone.size), phone.size))
            phone.settle()
        state = phone.page.evaluate("window.appState.items")
    OUT.write_text(json.dumps(replies, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(replies)} replies to {OUT.relative_to(ROOT)}; final items: {state}")


if __name__ == "__main__":
    main()
