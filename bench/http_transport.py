"""Cost of the OpenAI-compatible backend's HTTP transport, without a model: one request after another to a local
HTTP/1.1 server that answers a fixed completion at once.

Usage::

    python bench/http_transport.py                  # 200 requests per case, 1280x720 screenshot as PNG
    python bench/http_transport.py --requests 500 --size 640x480
    python bench/http_transport.py --server-nagle     # a server that leaves Nagle's algorithm on

Cases: ``pooled``, :class:`OpenAICompatBackend` as it is (httpx on a kept-alive connection, a total deadline per
attempt); ``urllib``, the same JSON body posted with ``urllib.request`` on a new connection each time (the
transport before). Both post the same JSON body (one noise screenshot, encoded once outside the timing) and decode
the answer; ``pooled`` goes through the attempt loop ``complete()`` runs after encoding.
Prints the median and 90th percentile in milliseconds per request and the TCP connections the server accepted.
The server sets TCP_NODELAY, as uvicorn (vLLM, SGLang, transformers serve) does; with ``--server-nagle`` it does
not, and as it writes its answer's head and body apart, each request on a kept connection then waits for the
client's delayed ACK (about 40 ms on Linux) where a fresh connection, still acknowledging at once, does not.
Numbers on a shared machine vary by run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from screenpilot.models.backends.openai_compat import OpenAICompatBackend

REPLY = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0

    def get_request(self) -> tuple[Any, Any]:
        self.accepted += 1
        return super().get_request()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)


def _timed(send: Callable[[], None], count: int) -> list[float]:
    send()  # warm-up
    times = []
    for _ in range(count):
        started = time.perf_counter()
        send()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--size", default="1280x720", help="screenshot WIDTHxHEIGHT in the body")
    parser.add_argument("--server-nagle", action="store_true", help="leave Nagle's algorithm on at the server")
    args = parser.parse_args()
    _Handler.disable_nagle_algorithm = not args.server_nagle
    width, height = (int(side) for side in args.size.split("x"))

    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend = OpenAICompatBackend(f"http://127.0.0.1:{server.server_address[1]}/v1", "bench", timeout_s=10)
    image = Image.effect_noise((width, height), 40).convert("RGB")
    body = json.dumps({"model": "bench", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": backend.data_url(image)}}]}]}).encode()

    def urllib_post() -> None:
        request = urllib.request.Request(backend.completions_url, data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())

    def pooled_post() -> None:
        backend._post_with_retries(body)

    nagle = "on" if args.server_nagle else "off"
    print(f"{args.requests} requests, body {len(body) / 1e6:.2f} MB ({width}x{height} PNG), server Nagle {nagle}")
    print(f"{'case':8} {'median ms':>10} {'p90 ms':>8} {'connections':>12}")
    for name, send in (("pooled", pooled_post), ("urllib", urllib_post)):
        before = server.accepted
        times = _timed(send, args.requests)
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{name:8} {statistics.median(times):10.2f} {p90:8.2f} {server.accepted - before:12d}")
    backend.close()
    server.shutdown()


if __name__ == "__main__":
    main()
