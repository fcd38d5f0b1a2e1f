"""Calibration asks an OpenAI-compatible server for its own count of the probe image's tokens: a server that
resizes the image again (its own pixel bounds) is named, with both counts and the bound that fixes it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from screenpilot.agent.calibration.calibrate import CalibrationReport, summarise
from screenpilot.agent.calibration.fit import error_stats
from screenpilot.agent.calibration.request import SizeCheck, check_request_size, check_server_image_tokens
from screenpilot.agent.run.runner import build_prompt_format
from screenpilot.agent.run.settings import PromptSettings
from screenpilot.models.backends.openai_compat import OpenAICompatBackend
from screenpilot.models.backends.scripted import ScriptedModel

PROMPT = build_prompt_format(PromptSettings(format="qwen2.5-vl"), "browser")
TEXT_TOKENS = 40


class _Server(ThreadingHTTPServer):
    image_tokens: int | None = None
    bodies: list[dict[str, object]]


class _Counting(BaseHTTPRequestHandler):
    """Counts TEXT_TOKENS for the text and, per image, the server's ``image_tokens`` plus the two markers."""

    server: _Server

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        images = sum(1 for m in body["messages"] if isinstance(m["content"], list)
                     for p in m["content"] if p.get("type") == "image_url")
        reply: dict[str, object] = {"choices": [{"message": {"role": "assistant", "content": "x"}}]}
        if self.server.image_tokens is not None:
            reply["usage"] = {"prompt_tokens": TEXT_TOKENS + images * (self.server.image_tokens + 2),
                              "completion_tokens": 1}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Counting)
    httpd.bodies = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _check(server: _Server, screen: tuple[int, int]) -> SizeCheck:
    backend = OpenAICompatBackend(f"http://127.0.0.1:{server.server_address[1]}/v1", "qwen", max_retries=0)
    return check_server_image_tokens(backend, PROMPT, screen, check_request_size(backend, PROMPT, screen))


def test_a_server_that_keeps_the_image_passes_with_its_count(server: _Server) -> None:
    server.image_tokens = 1196
    check = _check(server, (1280, 720))
    assert check.status == "pass" and (check.server_image_tokens, check.expected_image_tokens) == (1196, 1196)
    assert "The server counted 1196 image tokens" in check.message
    assert [b["max_tokens"] for b in server.bodies] == [1, 1]
    assert "image_url" in json.dumps(server.bodies[0]) and "image_url" not in json.dumps(server.bodies[1])


def test_a_server_that_shrinks_the_image_is_named_with_the_fix(server: _Server) -> None:
    server.image_tokens = 1222  # 1932x1092 shrunk by a server with max_pixels 1003520 to 1316x728
    check = _check(server, (1920, 1080))
    assert check.status == "fail" and (check.server_image_tokens, check.expected_image_tokens) == (1222, 2691)
    assert "Image size mismatch at the server" in check.message and "--max-pixels 958048" in check.message
    report = CalibrationReport({}, {}, {}, (1920, 1080), (1932, 1092), [], error_stats([], []), None,
                               summarise([], (1920, 1080), (1932, 1092))[2], size_check=check)
    assert report.verdict == "fault" and report.faults[0].code == "image_size_mismatch"
    assert report.faults[0].message == check.message
    assert report.to_json()["size_check"]["server_image_tokens"] == 1222  # type: ignore[index]


def test_a_server_without_usage_leaves_the_check_passing_with_a_note(server: _Server) -> None:
    server.image_tokens = None
    check = _check(server, (1280, 720))
    assert check.status == "pass" and check.server_image_tokens is None and "unchecked" in check.message


def test_other_backends_and_failed_checks_are_left_alone() -> None:
    failed = SizeCheck("fail", "openai-compatible", (1288, 728), ((644, 364),), "shrunk in the request")
    backend = OpenAICompatBackend("http://127.0.0.1:9/v1", "qwen")
    assert check_server_image_tokens(backend, PROMPT, (1280, 720), failed) is failed
    skipped = check_request_size(ScriptedModel([]), PROMPT, (1280, 720))
    assert check_server_image_tokens(ScriptedModel([]), PROMPT, (1280, 720), skipped) is skipped
