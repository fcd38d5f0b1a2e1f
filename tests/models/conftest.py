"""Shared fixtures for the model tests: a local backend on the tiny Qwen2.5-VL and a scriptable
fault-injecting HTTP server. The tiny model folder (``tiny_model_dir``) and the real
``transformers serve`` on it (``transformers_server``) live in ``tests/conftest.py``, shared with
other test packages (calibration runs against the same server).

The hub is switched off before anything imports huggingface_hub (none of the imports below
does): a hub id must fail at once, never hang on the network.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from screenpilot.models.base import Message, ModelRequest
from screenpilot.models.resize import MAX_PIXELS, MIN_PIXELS, model_size_for, resize_image

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def local_backend(tiny_model_dir: Path) -> Iterator[Any]:
    """A LocalQwenBackend on the tiny model (CPU, greedy, 8 new tokens), shared by the session."""
    from screenpilot.models.backends.local import LocalQwenBackend

    backend = LocalQwenBackend(tiny_model_dir, max_new_tokens=8)
    yield backend
    backend.close()


def screenshot(size: tuple[int, int]) -> Image.Image:
    """A screen-like RGB image of ``size`` (width, height) pixels."""
    image = Image.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, size[0] // 3, 60), fill=(30, 110, 220))
    draw.text((30, 30), "Submit", fill=(255, 255, 255))
    return image


def make_request(screen_size: tuple[int, int], task: str = "Click Submit") -> ModelRequest:
    """A request with a system prompt and one screenshot resized to model space (released bounds)."""
    model_size = model_size_for(screen_size, MIN_PIXELS, MAX_PIXELS)
    image = resize_image(screenshot(screen_size), model_size)
    messages: list[Message] = [
        {"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
        {"role": "user", "content": [{"type": "text", "text": task}, {"type": "image", "image": image}]},
    ]
    return ModelRequest(messages=messages, image_size=model_size, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)


Behaviour = Callable[[BaseHTTPRequestHandler, int], None]


@dataclass
class FaultServer:
    """A local HTTP server whose POST answers follow ``script`` (the last entry repeats).

    ``attempts`` counts POSTs; ``bodies`` / ``headers`` keep each request's JSON and headers.
    ``models`` is what ``GET /v1/models`` lists (None: answer 404 there).
    """

    script: list[Behaviour]
    models: list[str] | None = None
    attempts: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    base_url: str = ""


def send_body(handler: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
    """Write a complete response of ``data`` bytes."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def send_json(
    handler: BaseHTTPRequestHandler, status: int, body: object, headers: dict[str, str] | None = None
) -> None:
    """Write a complete JSON response."""
    send_body(handler, status, json.dumps(body).encode(), "application/json", headers)


def completion(content: str | None = "ok", tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A minimal chat.completion body."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1234, "completion_tokens": 7, "total_tokens": 1241},
    }


def _handler_class(state: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models") and state.models is not None:
                send_json(self, 200, {"object": "list", "data": [{"id": m, "object": "model"} for m in state.models]})
            else:
                send_json(self, 404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
            state.headers.append(dict(self.headers.items()))
            index = state.attempts
            state.attempts += 1
            state.script[min(index, len(state.script) - 1)](self, index)

    return Handler


@pytest.fixture
def fault_server() -> Iterator[Callable[..., FaultServer]]:
    """Start a FaultServer with ``fault_server(script, models=None)``; stopped after the test."""
    servers: list[tuple[ThreadingHTTPServer, FaultServer]] = []

    def start(script: list[Behaviour], models: list[str] | None = None) -> FaultServer:
        state = FaultServer(script=script, models=models)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(state))
        server.daemon_threads = True
        server.block_on_close = False
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        servers.append((server, state))
        return state

    yield start
    for server, state in servers:
        state.release.set()
        server.shutdown()
        server.server_close()
