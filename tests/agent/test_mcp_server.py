"""``screenpilot mcp`` as a subprocess, driven by the MCP SDK's own client over stdio and streamable HTTP, with
scripted replies on a real headless Chromium."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

mcp = pytest.importorskip("mcp")
import mcp.types as types  # noqa: E402 - after the skip
from mcp import Client, StdioServerParameters  # noqa: E402

from tests.conftest import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SIGNUP = REPO / "scenarios" / "demo" / "signup.html"
DEMO_REPLIES = REPO / "scenarios" / "demo" / "signup_replies.json"
TOOLS = {"run_task", "open_session", "act", "extract", "screenshot", "close_session"}

pytestmark = pytest.mark.slow


def call(reply: dict[str, Any]) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": reply}) + "\n</tool_call>"


def server(*options: str) -> StdioServerParameters:
    """``screenpilot mcp`` with ``options``, run by this interpreter."""
    return StdioServerParameters(command=sys.executable, args=["-m", "screenpilot", "mcp", *options], cwd=str(REPO))


def talk(params: StdioServerParameters | str, conversation: Callable[[Client], Awaitable[Any]], **client: Any) -> Any:
    async def run() -> Any:
        async with Client(params, **client) as session:
            return await conversation(session)

    return asyncio.run(asyncio.wait_for(run(), timeout=180))


def text_of(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


def test_run_task_over_stdio_reports_progress_and_obeys_the_policy(tmp_path: Path) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def conversation(client: Client) -> tuple[set[str], types.CallToolResult, types.CallToolResult]:
        listed = await client.list_tools()
        done = await client.call_tool("run_task", {"task": "Sign up as Ada", "url": str(SIGNUP)},
                                      progress_callback=on_progress)
        blocked = await client.call_tool("run_task", {"task": "Look around", "url": "https://www.example.com/"})
        return {tool.name for tool in listed.tools}, done, blocked

    names, done, blocked = talk(server("--model", f"scripted:{DEMO_REPLIES}", "--out", str(tmp_path),
                                       "--block-domain", "example.com"), conversation)
    assert names == TOOLS
    assert not done.is_error, text_of(done)
    result = done.structured_content
    assert result is not None
    assert (result["status"], result["reason"], result["steps"]) == ("success", "terminated", 7)
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == tmp_path and len((run_dir / "steps.jsonl").read_text().splitlines()) == 7
    assert [p[0] for p in progress] == [1, 2, 3, 4, 5, 6, 7] and progress[0][2] == "step 1: click (640, 202)"
    assert blocked.is_error
    assert "the start URL https://www.example.com/ is not allowed by the policy (block-domain:example.com)" in \
        text_of(blocked)


def test_a_session_step_by_step_with_questions_and_confirmations_elicited(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([
        call({"action": "left_click", "coordinate": [644, 204]}),
        call({"action": "ask_user", "question": "What is your name?"}),
        call({"action": "navigate", "url": "https://www.example.com/"}),
        '{"field": "name"}',
    ]))
    asked: list[str] = []

    async def elicit(_context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        fields = params.requested_schema["properties"]  # type: ignore[union-attr]
        return types.ElicitResult(action="accept", content={"answer": "Ada"} if "answer" in fields else
                                  {"approve": True, "note": ""})

    async def conversation(client: Client) -> list[types.CallToolResult]:
        opened = await client.call_tool("open_session", {})
        assert opened.structured_content is not None, text_of(opened)
        sid = opened.structured_content["session_id"]
        results = [opened]
        for instruction in ("click the name field", "find out the name", "open example.com"):
            results.append(await client.call_tool("act", {"session_id": sid, "instruction": instruction}))
        results.append(await client.call_tool("screenshot", {"session_id": sid}))
        results.append(await client.call_tool("extract", {"session_id": sid, "question": "which field has focus?",
                                                          "schema": {"type": "object", "required": ["field"]}}))
        results.append(await client.call_tool("close_session", {"session_id": sid}))
        results.append(await client.call_tool("act", {"session_id": sid, "instruction": "click"}))
        return results

    opened, click, question, navigate, shot, extracted, closed, after = talk(
        server("--model", f"scripted:{replies}", "--out", str(tmp_path), "--url", str(SIGNUP),
               "--block-domain", "example.com", "--confirm", "click"),
        conversation, elicitation_callback=elicit, mode="legacy")
    assert opened.structured_content is not None
    assert (opened.structured_content["width"], opened.structured_content["height"]) == (1280, 720)
    assert click.structured_content is not None and question.structured_content is not None
    assert (click.structured_content["did"], click.structured_content["executed"]) == ("click (640, 202)", 1)
    assert asked[0].startswith("The screen agent wants to: click (640, 202)")
    assert asked[1] == "The screen agent asks: What is your name?"
    assert question.structured_content["notes"] == "The user answered: Ada"
    assert navigate.structured_content is not None
    assert navigate.structured_content["executed"] == 0
    assert navigate.structured_content["notes"] == "The domain www.example.com is blocked."
    (image,) = shot.content
    assert isinstance(image, types.ImageContent) and image.mime_type == "image/png"
    assert Image.open(io.BytesIO(base64.b64decode(image.data))).size == (1280, 720)
    assert extracted.structured_content == {"value": {"field": "name"}}
    assert closed.structured_content is not None and closed.structured_content["steps"] == 4
    run_dir = Path(closed.structured_content["run_dir"])
    steps = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]
    assert [s["call"]["kind"] for s in steps] == ["act", "act", "act", "extract"]
    assert steps[2]["verdicts"] == [{"decision": "deny", "rule": "block-domain:example.com",
                                     "note": "The domain www.example.com is blocked."}]
    assert json.loads((run_dir / "run.json").read_text())["outcome"]["reason"] == "session_closed"
    assert after.is_error and "no open session" in text_of(after)


def wait_for_port(port: int, process: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.stderr.read().decode() if process.stderr else ''}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the server did not listen in time")


def test_run_task_over_streamable_http(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "screenpilot", "mcp", "--http", f"127.0.0.1:{port}", "--model",
         f"scripted:{DEMO_REPLIES}", "--out", str(tmp_path)], cwd=REPO, stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)

        async def conversation(client: Client) -> types.CallToolResult:
            return await client.call_tool("run_task", {"task": "Sign up as Ada", "url": str(SIGNUP)})

        done = talk(f"http://127.0.0.1:{port}/mcp", conversation)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not done.is_error, text_of(done)
    assert done.structured_content is not None
    assert (done.structured_content["status"], done.structured_content["steps"]) == ("success", 7)


def test_bad_http_address_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "screenpilot", "mcp", "--http", "localhost", "--model", "x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "expected HOST:PORT such as 127.0.0.1:8765" in done.stderr


def test_the_readmes_client_configuration_starts_the_server() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Use from an MCP client"):]
    snippet = section.split("```json\n", 1)[1].split("```", 1)[0]
    entry = json.loads(snippet)["mcpServers"]["screenpilot"]
    assert entry["command"] == "screenpilot" and entry["args"][0] == "mcp"
    # the options parse and the server starts; with stdin at its end, it stops at once
    done = subprocess.run([sys.executable, "-m", "screenpilot", *entry["args"]], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
