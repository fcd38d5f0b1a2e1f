"""One round of browser-use's own agent loop on the bench page, for ``bench/loop_vs_bare.py --with-browser-use``.

Runs in a separate venv that has browser-use (it is not a screenpilot dependency, and it imports nothing of
screenpilot's)::

    python -m venv .cache/bu && .cache/bu/bin/pip install browser-use
    .cache/bu/bin/python bench/browser_use_round.py PAGE_FILE CHROMIUM STEPS WARMUP

browser-use refuses ``file://`` URLs, so the page is served over HTTP on 127.0.0.1 from a thread of this process.

A scripted chat model (:class:`ScriptedChat`) answers each step at once with the next planned action, in the
shape browser-use's agent asks for: ``click`` by coordinates (enabled for model names starting ``browser-use/``),
``input`` of the 12 characters into the field (by the element index browser-use gave the field in its state
message), ``scroll`` of one page and ``done``. The plan matches ``loop_vs_bare.round_plan``: ``WARMUP`` unmeasured
clicks, ``STEPS`` clicks alternating between two pads, a click into the field, ``STEPS`` typings, ``STEPS``
scrolls and the end. A step's time outside the model is browser-use's own step duration (its history's
``step_start_time`` to ``step_end_time``) minus the time spent in the model call. Prints one JSON object on
stdout: milliseconds per measured step by action type (``click``, ``type``, ``scroll``, ``terminate``).
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "false")  # this machine reaches no telemetry host; do not try
os.environ.setdefault("BROWSER_USE_CLOUD_SYNC", "false")
os.environ.setdefault("BROWSER_USE_LOGGING_LEVEL", "result")

from browser_use import Agent, BrowserProfile, BrowserSession  # type: ignore[import-not-found]
from browser_use.llm.views import ChatInvokeCompletion  # type: ignore[import-not-found]

# The same points and text as loop_vs_bare.py (BUTTONS, FIELD, TYPED): that module imports screenpilot, which this
# venv does not have.
BUTTONS = ((200, 100), (350, 100))
FIELD = (200, 200)
TYPED = "hello world!"
VIEWPORT = {"width": 1280, "height": 720}


def plan(steps: int, warmup: int) -> list[tuple[str | None, dict[str, Any]]]:
    """(measured action type or None, browser-use action) per step; ``{"input": ...}`` gets its index later."""
    clicks = [(None if i < warmup else "click",
               {"click": {"coordinate_x": BUTTONS[i % 2][0], "coordinate_y": BUTTONS[i % 2][1]}})
              for i in range(warmup + steps)]
    return [*clicks, (None, {"click": {"coordinate_x": FIELD[0], "coordinate_y": FIELD[1]}}),
            *[("type", {"input": {"text": TYPED, "clear": False}}) for _ in range(steps)],
            *[("scroll", {"scroll": {"down": True, "pages": 1.0}}) for _ in range(steps)],
            ("terminate", {"done": {"text": "done", "success": True}})]


def field_index(messages: list[Any]) -> int:
    """The index browser-use's state message gives the text field (``id=field``)."""
    for message in reversed(messages):
        content = message.content if isinstance(message.content, str) else " ".join(
            getattr(part, "text", "") for part in message.content or ())
        found = re.search(r"\[(\d+)\]<input[^>]*\bid=field\b", content)
        if found:
            return int(found.group(1))
    raise SystemExit("browser-use's state message does not list the text field")


class ScriptedChat:
    """A chat model for browser-use's agent that answers at once with the next planned action."""

    _verified_api_keys = True
    model = "browser-use/scripted"

    def __init__(self, actions: list[dict[str, Any]]) -> None:
        self._actions = list(actions)
        self.seconds: list[float] = []

    @property
    def provider(self) -> str:
        return "scripted"

    @property
    def name(self) -> str:
        return self.model

    @property
    def model_name(self) -> str:
        return self.model

    async def ainvoke(self, messages: list[Any], output_format: Any = None, **kwargs: Any) -> Any:
        start = time.perf_counter()
        action = self._actions.pop(0) if self._actions else {"done": {"text": "done", "success": True}}
        if "input" in action:
            action = {"input": {**action["input"], "index": field_index(messages)}}
        reply = {"evaluation_previous_goal": "", "memory": "", "next_goal": "", "action": [action]}
        completion = output_format.model_validate(reply) if output_format is not None else json.dumps(reply)
        self.seconds.append(time.perf_counter() - start)
        return ChatInvokeCompletion(completion=completion, usage=None)


async def one_round(url: str, chromium: str, steps: int, warmup: int) -> dict[str, list[float]]:
    planned = plan(steps, warmup)
    chat = ScriptedChat([action for _, action in planned])
    profile = BrowserProfile(executable_path=chromium, headless=True, viewport=VIEWPORT, window_size=VIEWPORT,
                             user_data_dir=None, args=["--no-sandbox"])
    agent = Agent(task="bench", llm=chat, browser_session=BrowserSession(browser_profile=profile),
                  initial_actions=[{"navigate": {"url": url}}], directly_open_url=False, use_judge=False,
                  enable_planning=False, loop_detection_enabled=False, message_compaction=False,
                  max_actions_per_step=1, enable_signal_handler=False, calculate_cost=False)
    history = await agent.run(max_steps=len(planned) + 1)
    times: dict[str, list[float]] = {"click": [], "type": [], "scroll": [], "terminate": []}
    records = [item for item in history.history  # step 0 is the initial navigation, which asks no model
               if item.metadata is not None and item.model_output is not None and item.metadata.step_number > 0]
    if len(records) != len(planned):
        raise SystemExit(f"browser-use ran {len(records)} steps, not the {len(planned)} planned")
    failed = [str(result.error) for item in records for result in item.result if result.error]
    if failed:
        raise SystemExit(f"browser-use could not carry out the plan: {failed[0]}")
    for (kind, _), item, model_s in zip(planned, records, chat.seconds, strict=True):
        if kind is not None:
            times[kind].append((item.metadata.step_end_time - item.metadata.step_start_time - model_s) * 1000)
    return times


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    page, chromium, steps, warmup = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    handler = functools.partial(QuietHandler, directory=str(page.parent))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{page.name}"
        times = asyncio.run(one_round(url, chromium, steps, warmup))
        server.shutdown()
    print(json.dumps(times))


if __name__ == "__main__":
    main()
