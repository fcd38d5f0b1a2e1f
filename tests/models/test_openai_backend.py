"""OpenAICompatBackend against a real ``transformers serve`` and against a fault-injecting server."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from screenpilot.agent.errors import BackendError, ConfigError
from screenpilot.agent.run.interrupts import StopFlag, WaitInterrupted, graceful_interrupts, interruptible_wait
from screenpilot.models.backends.openai_compat import OpenAICompatBackend, from_env

from .conftest import Behaviour, FaultServer, completion, make_request, send_body, send_json

StartServer = Callable[..., FaultServer]
MODEL = "qwen-test"


def ok(handler: BaseHTTPRequestHandler, index: int) -> None:
    send_json(handler, 200, completion(f"reply {index}"))


def error_500(handler: BaseHTTPRequestHandler, index: int) -> None:
    send_json(handler, 500, {"error": {"message": "engine crashed"}})


def hang(state: FaultServer) -> Callable[[BaseHTTPRequestHandler, int], None]:
    def behaviour(handler: BaseHTTPRequestHandler, index: int) -> None:
        state.release.wait(5)

    return behaviour


def close_connection(handler: BaseHTTPRequestHandler, index: int) -> None:
    handler.close_connection = True


def model_not_found(handler: BaseHTTPRequestHandler, index: int) -> None:
    body = {"object": "error", "message": f"The model `{MODEL}` does not exist.", "code": 404}
    send_json(handler, 404, body)


def backend(server: FaultServer, **options: Any) -> OpenAICompatBackend:
    settings: dict[str, Any] = {"timeout_s": 2.0, "max_retries": 2, "backoff_base_s": 0.01}
    settings.update(options)
    return OpenAICompatBackend(server.base_url, MODEL, **settings)


@pytest.mark.slow
def test_real_transformers_serve_end_to_end(transformers_server: str, tiny_model_dir: Path) -> None:
    client = OpenAICompatBackend(transformers_server, str(tiny_model_dir), max_tokens=8, timeout_s=120)

    reply = client.complete(make_request((640, 480)))

    assert isinstance(reply.text, str)
    assert reply.usage.image_tokens == 391
    assert reply.usage.prompt_tokens is not None and reply.usage.prompt_tokens > 391
    assert reply.usage.completion_tokens is not None and 1 <= reply.usage.completion_tokens <= 8
    assert set(reply.timings) == {"encode", "request"}
    assert client.served_models() == [str(tiny_model_dir)]


@pytest.mark.slow
def test_real_server_rejects_another_model_with_the_served_list(transformers_server: str, tiny_model_dir: Path) -> None:
    client = OpenAICompatBackend(transformers_server, "some-other-model", max_retries=0)

    with pytest.raises(BackendError) as caught:
        client.complete(make_request((640, 480)))

    message = caught.value.message
    assert "HTTP 400" in message
    assert "'some-other-model'" in message
    assert str(tiny_model_dir) in message


def test_request_shape(fault_server: StartServer) -> None:
    server = fault_server([ok])
    client = backend(server, api_key="sk-secret", max_tokens=33, temperature=0.2)

    reply = client.complete(make_request((640, 480)))

    assert reply.text == "reply 0"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.image_tokens) == (1234, 7, 391)
    body, headers = server.bodies[0], server.headers[0]
    assert headers["Authorization"] == "Bearer sk-secret"
    assert (body["model"], body["max_tokens"], body["temperature"], body["stream"]) == (MODEL, 33, 0.2, False)
    system, user = body["messages"]
    assert system == {"role": "system", "content": "You are a helpful assistant."}
    assert user["content"][0] == {"type": "text", "text": "Click Submit"}
    url = user["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert (image.format, image.size) == ("PNG", (644, 476))


def test_jpeg_images(fault_server: StartServer) -> None:
    server = fault_server([ok])
    backend(server, image_format="jpeg", jpeg_quality=70).complete(make_request((640, 480)))

    url = server.bodies[0]["messages"][1]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert (image.format, image.size) == ("JPEG", (644, 476))


def test_two_server_errors_then_success(fault_server: StartServer) -> None:
    server = fault_server([error_500, error_500, ok])

    reply = backend(server).complete(make_request((640, 480)))

    assert reply.text == "reply 2"
    assert server.attempts == 3


def test_persistent_server_errors_end_in_backend_error(fault_server: StartServer) -> None:
    server = fault_server([error_500])

    with pytest.raises(BackendError) as caught:
        backend(server, max_retries=2).complete(make_request((640, 480)))

    assert server.attempts == 3
    message = caught.value.message
    assert f"{server.base_url}/chat/completions" in message
    assert f"'{MODEL}'" in message
    assert "answered HTTP 500: engine crashed" in message and "(3 attempts)" in message
    assert "no answer" not in message  # the server did answer, with an error


def html_501(handler: BaseHTTPRequestHandler, index: int) -> None:
    body = ("<!DOCTYPE html>\n<html><head><style>body { color: red }</style><title>501 Not Implemented</title>"
            "</head><body><h1>Not Implemented</h1>" + "<p>filler</p>" * 500 + "</body></html>").encode()
    send_body(handler, 501, body, "text/html")


def test_an_html_error_page_is_named_by_its_first_line_once(fault_server: StartServer) -> None:
    server = fault_server([html_501])
    with pytest.raises(BackendError) as caught:
        backend(server, max_retries=0).complete(make_request((640, 480)))
    message = caught.value.message
    assert "answered HTTP 501: 501 Not Implemented for model" in message
    assert "<" not in message and "filler" not in message and message.count("Not Implemented") == 1


def test_hanging_server_times_out_in_bounded_time(fault_server: StartServer) -> None:
    server = fault_server([])
    server.script.append(hang(server))
    client = backend(server, timeout_s=0.2, max_retries=1)

    started = time.monotonic()
    with pytest.raises(BackendError, match="timed out"):
        client.complete(make_request((640, 480)))

    assert time.monotonic() - started < 3.0
    assert server.attempts == 2


def test_closed_connection_is_retried(fault_server: StartServer) -> None:
    server = fault_server([close_connection, ok])

    assert backend(server).complete(make_request((640, 480))).text == "reply 1"
    assert server.attempts == 2


def test_always_closed_connection_ends_in_backend_error(fault_server: StartServer) -> None:
    server = fault_server([close_connection])

    with pytest.raises(BackendError, match="after 2 attempts"):
        backend(server, max_retries=1).complete(make_request((640, 480)))


def test_model_not_found_is_not_retried_and_lists_served_models(fault_server: StartServer) -> None:
    server = fault_server([model_not_found], models=["Qwen/Qwen2.5-VL-7B-Instruct", "other"])

    with pytest.raises(BackendError) as caught:
        backend(server).complete(make_request((640, 480)))

    assert server.attempts == 1
    message = caught.value.message
    assert "HTTP 404" in message
    assert f"The model `{MODEL}` does not exist" in message
    assert "Qwen/Qwen2.5-VL-7B-Instruct, other" in message


def test_other_client_errors_are_not_retried(fault_server: StartServer) -> None:
    def unauthorised(handler: BaseHTTPRequestHandler, index: int) -> None:
        send_json(handler, 401, {"error": {"message": "invalid api key"}})

    server = fault_server([unauthorised])
    with pytest.raises(BackendError, match=r"HTTP 401.*invalid api key"):
        backend(server).complete(make_request((640, 480)))
    assert server.attempts == 1


def test_rate_limit_honours_retry_after(fault_server: StartServer) -> None:
    def rate_limited(handler: BaseHTTPRequestHandler, index: int) -> None:
        send_json(handler, 429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0.3"})

    server = fault_server([rate_limited, ok])
    started = time.monotonic()

    reply = backend(server, backoff_base_s=0.0).complete(make_request((640, 480)))

    assert reply.text == "reply 1"
    assert time.monotonic() - started >= 0.3


def test_structured_tool_calls_are_reserialised(fault_server: StartServer) -> None:
    arguments = {"action": "left_click", "coordinate": [120, 45]}

    def tool_calls(handler: BaseHTTPRequestHandler, index: int) -> None:
        call = {
            "id": "call_0",
            "type": "function",
            "function": {"name": "computer_use", "arguments": json.dumps(arguments)},
        }
        send_json(handler, 200, completion(None, tool_calls=[call]))

    server = fault_server([tool_calls])
    text = backend(server).complete(make_request((640, 480))).text

    assert text.startswith("<tool_call>\n") and text.endswith("\n</tool_call>")
    inner = json.loads(text.removeprefix("<tool_call>\n").removesuffix("\n</tool_call>"))
    assert inner == {"name": "computer_use", "arguments": arguments}


def test_reply_without_choices_is_a_backend_error(fault_server: StartServer) -> None:
    server = fault_server([lambda handler, index: send_json(handler, 200, {"object": "chat.completion"})])
    with pytest.raises(BackendError, match="choices"):
        backend(server).complete(make_request((640, 480)))


def test_backoff_is_full_jitter_and_retry_after_is_capped() -> None:
    client = OpenAICompatBackend("http://127.0.0.1:9/v1", MODEL, backoff_base_s=0.5)
    for retry in (1, 2, 3):
        waits = [client._wait_s(retry, None) for _ in range(50)]
        assert all(0.0 <= wait <= 0.5 * 2 ** (retry - 1) for wait in waits)
    assert client._wait_s(1, 2.0) == 2.0
    assert client._wait_s(1, 3600.0) == 60.0


def test_describe_and_repr_never_show_the_key() -> None:
    client = OpenAICompatBackend("http://127.0.0.1:8000/v1/", MODEL, api_key="sk-secret")
    assert client.base_url == "http://127.0.0.1:8000/v1"
    assert "sk-secret" not in json.dumps(client.describe())
    assert "sk-secret" not in repr(client)
    assert client.describe()["api_key_set"] is True
    assert client.name == f"openai-compat:{MODEL}"


@pytest.mark.parametrize(
    "options",
    [
        {"base_url": "127.0.0.1:8000"},
        {"model": ""},
        {"image_format": "gif"},
        {"jpeg_quality": 0},
        {"timeout_s": 0},
        {"max_retries": -1},
        {"max_tokens": 0},
    ],
)
def test_invalid_options_are_config_errors(options: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"base_url": "http://127.0.0.1:8000/v1", "model": MODEL}
    settings.update(options)
    with pytest.raises(ConfigError):
        OpenAICompatBackend(**settings)


def test_from_env() -> None:
    environ = {
        "SCREENPILOT_API_BASE": "http://127.0.0.1:8000/v1",
        "SCREENPILOT_MODEL_NAME": MODEL,
        "OPENAI_API_KEY": "sk-openai",
    }
    client = from_env(environ, max_tokens=12)
    assert (client.base_url, client.model, client.api_key, client.max_tokens) == (
        "http://127.0.0.1:8000/v1",
        MODEL,
        "sk-openai",
        12,
    )
    assert from_env({**environ, "SCREENPILOT_API_KEY": "sk-own"}).api_key == "sk-own"
    with pytest.raises(ConfigError, match="SCREENPILOT_API_BASE"):
        from_env({"SCREENPILOT_MODEL_NAME": MODEL})
    with pytest.raises(ConfigError, match="SCREENPILOT_MODEL_NAME"):
        from_env({"SCREENPILOT_API_BASE": "http://127.0.0.1:8000/v1"})


def send_garbage(handler: Any, index: int) -> None:
    send_body(handler, 200, b"\x00\xffnot json at all<html>", "application/json")


def test_garbage_body_is_a_clear_backend_error(fault_server: StartServer) -> None:
    server = fault_server([send_garbage])
    with pytest.raises(BackendError) as info:
        backend(server).complete(make_request((640, 480)))
    assert server.base_url.split("/v1")[0].removeprefix("http://") in info.value.message


def test_defaults_bound_a_silent_server_to_about_a_minute_everywhere() -> None:
    from screenpilot.agent.run.settings import ModelSettings
    from screenpilot.models.select import OpenAIOptions

    http = OpenAICompatBackend("http://127.0.0.1:9/v1", MODEL)
    assert (ModelSettings("x").timeout_s, ModelSettings("x").max_retries) == (http.timeout_s, http.max_retries)
    assert (OpenAIOptions().timeout_s, OpenAIOptions().max_retries) == (http.timeout_s, http.max_retries)
    backoff = sum(http.backoff_base_s * 2 ** (retry - 1) for retry in range(1, http.max_retries + 1))
    worst_case_s = http.timeout_s * (http.max_retries + 1) + backoff
    assert 50 <= worst_case_s <= 70, worst_case_s  # the README promises about a minute


class KeepAliveServer:
    """An HTTP/1.1 server that keeps connections open and counts them: ``accepted`` connections so far,
    ``finished`` the connections the client closed. Its POSTs answer after ``script`` (the last entry repeats)."""

    def __init__(self, script: list[Behaviour]) -> None:
        self.accepted = 0
        self.finished = threading.Semaphore(0)
        self.attempts = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

            def do_GET(self) -> None:
                send_json(self, 200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                index, owner.attempts = owner.attempts, owner.attempts + 1
                script[min(index, len(script) - 1)](self, index)

            def finish(self) -> None:
                super().finish()
                owner.finished.release()

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def get_request(self) -> tuple[socket.socket, Any]:
                connection = super().get_request()
                owner.accepted += 1
                return connection

        self.server = Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def keep_alive_server() -> Iterator[Callable[[list[Behaviour]], KeepAliveServer]]:
    servers: list[KeepAliveServer] = []

    def start(script: list[Behaviour]) -> KeepAliveServer:
        servers.append(KeepAliveServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_requests_reuse_one_connection_until_close(keep_alive_server: Callable[..., KeepAliveServer]) -> None:
    server = keep_alive_server([ok])
    client = OpenAICompatBackend(server.base_url, MODEL, timeout_s=5.0)

    replies = [client.complete(make_request((640, 480))).text for _ in range(3)]
    assert client.served_models() == [MODEL]

    assert replies == ["reply 0", "reply 1", "reply 2"]
    assert server.accepted == 1
    assert not server.finished.acquire(blocking=False)  # still open between requests
    client.close()
    assert server.finished.acquire(timeout=10), "close() left the pooled connection open"
    assert client.complete(make_request((640, 480))).text == "reply 3"  # a closed backend opens a new pool
    assert server.accepted == 2
    client.close()


def test_retry_after_is_honoured_on_the_kept_connection(keep_alive_server: Callable[..., KeepAliveServer]) -> None:
    def rate_limited(handler: BaseHTTPRequestHandler, index: int) -> None:
        send_json(handler, 429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0.5"})

    server = keep_alive_server([rate_limited, ok])
    client = OpenAICompatBackend(server.base_url, MODEL, backoff_base_s=0.0, max_retries=1)
    started = time.monotonic()

    reply = client.complete(make_request((640, 480)))

    assert reply.text == "reply 1"
    assert time.monotonic() - started >= 0.5
    assert (server.attempts, server.accepted) == (2, 1)
    client.close()


class TrickleServer:
    """Reads each request, then sends ``start`` and one more byte of ``rest`` every 0.3 s (a minute's worth) on
    every connection; ``cut_off`` is set once a connection's client hung up on the trickle."""

    STEP_S = 0.3

    def __init__(self, start: bytes, rest: bytes = b"x" * 200) -> None:
        self.start, self.rest = start, rest
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.connections = 0
        self.cut_off = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        with connection:
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(65536)
            head, _, body = received.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += connection.recv(65536)
            try:
                connection.sendall(self.start)
                for index in range(len(self.rest)):
                    time.sleep(self.STEP_S)
                    connection.sendall(self.rest[index:index + 1])
            except OSError:
                self.cut_off.set()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize(
    "start",
    [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"],
    ids=["in-the-headers", "in-the-body"],
)
def test_a_trickling_server_is_cut_off_at_the_deadline(start: bytes) -> None:
    server = TrickleServer(start)
    client = OpenAICompatBackend(server.base_url, MODEL, timeout_s=1.0, max_retries=1, backoff_base_s=0.0)
    started = time.monotonic()
    try:
        with pytest.raises(BackendError) as caught:
            client.complete(make_request((640, 480)))
        elapsed = time.monotonic() - started
        assert server.cut_off.wait(10), "the abandoned attempt's connection was left open"
    finally:
        client.close()
        server.close()

    message = caught.value.message
    assert "no answer from" in message and "after 2 attempts (last: timed out)" in message
    assert "1 s per attempt" in message and "--timeout" in message and "--retries" in message
    assert server.connections == 2
    trickle_s = len(server.rest) * TrickleServer.STEP_S
    assert elapsed < min(3 * 2 * 1.0, trickle_s)  # two attempts of 1 s each, nowhere near the minute of bytes


def test_a_stop_request_cuts_an_attempt_in_flight_short() -> None:
    server = TrickleServer(b"HTTP/1.1 200 OK\r\n")  # and then a header byte every 0.3 s for a minute
    client = OpenAICompatBackend(server.base_url, MODEL, timeout_s=60.0, max_retries=0)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    flag = StopFlag()
    try:
        with graceful_interrupts(flag, announce=False), pytest.raises(WaitInterrupted), interruptible_wait():
            timer.start()
            client.complete(make_request((640, 480)))
        assert flag.is_set()
        assert server.cut_off.wait(10), "the interrupted attempt's connection was left open"
    finally:
        timer.cancel()
        client.close()
        server.close()


def test_an_unreachable_server_is_named_with_the_os_error_and_the_hints() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    client = OpenAICompatBackend(f"http://127.0.0.1:{port}/v1", MODEL, max_retries=1, backoff_base_s=0.0)

    with pytest.raises(BackendError) as caught:
        client.complete(make_request((640, 480)))

    message = caught.value.message
    assert f"no answer from http://127.0.0.1:{port}/v1/chat/completions for model '{MODEL}' after 2 attempts" in message
    assert "(last: ConnectionRefusedError: " in message
    assert "--timeout" in message and "--retries" in message
