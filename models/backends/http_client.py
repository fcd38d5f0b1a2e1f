"""Blocking HTTP exchanges over one keep-alive connection pool, each bounded by a total deadline.

httpx's own timeouts bound each operation (connecting, each read, each write), so a server that sends a byte a
second would hold an exchange for ever. :class:`DeadlineClient` therefore runs an ``httpx.AsyncClient`` on an event
loop in a daemon thread (one loop for the process, shared by every client) and bounds each exchange as a whole with
``asyncio.wait_for``: at the deadline the exchange is cancelled wherever it is (connecting, sending, in the status
line, headers or body) and its connection is closed, so nothing goes on reading in the background.

The calling thread blocks on the exchange's future. Signal handlers run during that wait, so an exception a handler
raises there (:class:`screenpilot.agent.run.interrupts.WaitInterrupted`, KeyboardInterrupt) cancels the exchange
and propagates at once, as it did from the socket read of a blocking client.

Connections are kept alive between exchanges (idle ones for :data:`KEEPALIVE_EXPIRY_S`). Proxies come from the
environment as with urllib: ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY``, with ``NO_PROXY`` naming the hosts
that bypass them (with a proxy set, a local server needs ``NO_PROXY=127.0.0.1,localhost``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

KEEPALIVE_EXPIRY_S = 4.0
"""Seconds an idle connection stays in the pool: under the 5 s after which uvicorn (vLLM, SGLang, transformers
serve) closes one, so the pool never hands out a connection the server is closing."""
_GRACE_S = 1.0  # how much longer than the deadline the caller waits for the loop to report it
_CLOSE_WAIT_S = 5.0

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """A complete HTTP response: ``status``, ``reason`` (the status line's phrase), ``headers`` (case-insensitive
    names) and ``body`` (the content, decoded from any Content-Encoding)."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class NoAnswer(Exception):
    """No complete response: ``description`` says why in a few words (``timed out``, ``ConnectError: ...``)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class DeadlineClient:
    """One keep-alive connection pool for blocking callers; thread-safe. Started on first use, so a client that
    never sends anything costs nothing; :meth:`close` releases the pool (a later exchange opens a new one).

    Raises ImportError on first use when the environment names a SOCKS proxy and ``socksio`` is missing (httpx's
    message says what to install).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None
        self._client_pid = 0

    def request(self, method: str, url: str, *, deadline_s: float, headers: Mapping[str, str] | None = None,
                content: bytes | None = None) -> Answer:
        """The complete answer to one exchange that takes at most ``deadline_s`` seconds in all; NoAnswer when
        there is none by then (or the connection fails). HTTP error statuses are answers, not errors."""
        client = self._pool()
        return _run(_exchange(client, method, url, dict(headers or {}), content, deadline_s), deadline_s + _GRACE_S)

    def close(self) -> None:
        """Close the pool's connections; idempotent."""
        with self._lock:
            client, self._client = self._client, None
            same_process = self._client_pid == os.getpid()
        if client is not None and same_process:
            with contextlib.suppress(NoAnswer, httpx.HTTPError, OSError):  # they are going away either way
                _run(client.aclose(), _CLOSE_WAIT_S)

    def _pool(self) -> httpx.AsyncClient:
        with self._lock:
            if self._client is None or self._client_pid != os.getpid():  # a forked child starts afresh
                limits = httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S)
                self._client = httpx.AsyncClient(limits=limits, timeout=None, trust_env=True)
                self._client_pid = os.getpid()
            return self._client


async def _exchange(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
                    content: bytes | None, deadline_s: float) -> Answer:
    try:
        response = await asyncio.wait_for(client.request(method, url, headers=headers, content=content), deadline_s)
    except (asyncio.TimeoutError, httpx.TimeoutException):
        raise NoAnswer("timed out") from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        raise NoAnswer(_description(exc)) from None
    return Answer(response.status_code, response.reason_phrase, response.headers, response.content)


def _description(exc: BaseException) -> str:
    """``Type: message`` of the innermost OS error behind ``exc`` (``ConnectionRefusedError: [Errno 111] ...``
    rather than httpx's ``All connection attempts failed``), else of ``exc`` itself."""
    reason, cause = exc, exc.__cause__ or exc.__context__
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            reason = cause
        cause = cause.__cause__ or cause.__context__
    text = str(reason)
    return f"{type(reason).__name__}: {text}" if text else type(reason).__name__


_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()


def _event_loop() -> asyncio.AbstractEventLoop:
    """The process's HTTP event loop, running in a daemon thread (started on first use, again after a fork)."""
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():
            _loop, _loop_pid = asyncio.new_event_loop(), os.getpid()
            threading.Thread(target=_loop.run_forever, name="screenpilot-http", daemon=True).start()
        return _loop


def _run(coroutine: Coroutine[Any, Any, T], wait_s: float) -> T:
    """``coroutine``'s result, run on the HTTP loop; NoAnswer when it takes over ``wait_s`` seconds. Any exception
    raised in the calling thread while it waits (a signal handler's) cancels the coroutine and propagates."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _event_loop())
    try:
        return future.result(timeout=wait_s)
    except concurrent.futures.TimeoutError:
        raise NoAnswer("timed out") from None
    finally:
        future.cancel()  # nothing when it has finished
