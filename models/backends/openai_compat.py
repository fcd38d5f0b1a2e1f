"""Any server with an OpenAI-compatible ``/chat/completions`` endpoint (vLLM, SGLang, transformers
serve, LM Studio, hosted APIs), over httpx with one keep-alive connection pool per backend
(:mod:`screenpilot.models.backends.http_client`; released by :meth:`OpenAICompatBackend.close`).

*Request.* ``POST {base_url}/chat/completions`` with ``{"model", "messages", "max_tokens",
"temperature", "stream": false}``. ``base_url`` includes the version prefix, as OpenAI clients
expect (``http://127.0.0.1:8000/v1``). Neutral messages (see :mod:`screenpilot.models.base`) are converted:
a message whose parts are all text is sent with plain string content (the form every server
accepts for system prompts); otherwise its parts become ``{"type": "text"}`` and
``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`` parts. Images are sent
at exactly their size (they are already in model space); PNG is lossless, JPEG is smaller.

*Deadline.* Each attempt takes at most ``timeout_s`` seconds in all, connecting, sending and reading the whole
answer included: a server that trickles bytes is cut off at the deadline like one that sends nothing. The first
Ctrl-C or SIGTERM (see :mod:`screenpilot.agent.run.interrupts`) cuts an attempt in flight short.

*Retries.* Connection errors, timeouts, closed connections, HTTP 429 and 5xx are retried up to
``max_retries`` times (so ``max_retries + 1`` attempts), sleeping a full-jitter exponential backoff
``uniform(0, backoff_base_s * 2**retry)`` (capped at 30 s) or, when the server sends
``Retry-After``, that many seconds (capped at 60 s). Other 4xx answers are not retried. Every
failure ends in :class:`screenpilot.agent.errors.BackendError` naming the URL and the model; a rejected model
name also lists the models the server reports on ``GET {base_url}/models`` when it answers.

*Reply.* ``choices[0].message.content``. A server that parses tool calls itself (vLLM with a tool
parser) returns ``tool_calls`` instead; each is written back as
``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` so the prompt format's parser
sees the text Qwen2.5-VL emits.

*Usage.* ``prompt_tokens`` / ``completion_tokens`` from the response's ``usage`` (None when
absent). ``image_tokens`` is *computed* here, not reported by the server: for each image of
W' x H' model-space pixels, (W'/28) * (H'/28) tokens, the count Qwen2.5-VL spends on it.

*Timings* (seconds): ``encode`` (images to base64 and the JSON body), ``request`` (all attempts,
waits between them included).

*Trying it without a GPU.* ``transformers serve DIR --host 127.0.0.1 --port 8000 --device cpu``
(extra ``transformers[serving]``) serves the model folder DIR (e.g. the tiny model of
:mod:`screenpilot.models.tiny`) at ``base_url="http://127.0.0.1:8000/v1"``. The positional DIR pins the
server to that model: ``model`` must be DIR exactly as written on its command line (another
name is answered with HTTP 400, and ``GET /v1/models`` lists DIR alone).
"""

from __future__ import annotations

import base64
import email.utils
import io
import json
import os
import random
import re
import time
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal

from PIL import Image

from screenpilot.agent.errors import BackendError, ConfigError
from screenpilot.models.backends.http_client import Answer, DeadlineClient, NoAnswer
from screenpilot.models.base import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    Message,
    ModelReply,
    ModelRequest,
    Usage,
)

ENV_API_BASE = "SCREENPILOT_API_BASE"
ENV_API_KEY = "SCREENPILOT_API_KEY"
ENV_OPENAI_API_KEY = "OPENAI_API_KEY"
ENV_MODEL_NAME = "SCREENPILOT_MODEL_NAME"

MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 60.0
_ERROR_TEXT_LIMIT = 200


class _RetryableError(Exception):
    """One failed attempt worth repeating; ``retry_after`` in seconds when the server asked; ``status`` the HTTP
    status when the server answered (None: no answer)."""

    def __init__(self, description: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after
        self.status = status


@dataclass(eq=False)
class OpenAICompatBackend:
    """Client of one model on an OpenAI-compatible server.

    ``base_url``: e.g. ``http://127.0.0.1:8000/v1``. ``model``: the served model name (the
    ``model`` field of each request). ``api_key``: sent as a bearer token when given; never
    shown by ``describe()`` or ``repr()``. ``image_format``: ``png`` or ``jpeg`` (quality
    ``jpeg_quality``, 1-100). ``timeout_s``: seconds per attempt, all of it (see module doc).
    ``max_retries``: repeated attempts after the first. ``backoff_base_s``: seconds, see module
    doc. ``max_tokens`` / ``temperature``: generation bounds sent with every request.

    Raises ConfigError for an invalid option. Reads no environment: see :func:`from_env`.
    """

    base_url: str
    model: str
    _: KW_ONLY
    api_key: str | None = field(default=None, repr=False)
    image_format: Literal["png", "jpeg"] = "png"
    jpeg_quality: int = 90
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base_s: float = 0.5
    max_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0
    name: str = field(init=False)
    _http: DeadlineClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        _check_options(self)
        self.name = f"openai-compat:{self.model}"
        self._http = DeadlineClient()  # its own pool also for a dataclasses.replace copy; opens nothing until used

    @property
    def completions_url(self) -> str:
        """The URL every request is posted to."""
        return f"{self.base_url}/chat/completions"

    def complete(self, request: ModelRequest) -> ModelReply:
        """Send ``request``; BackendError after the retries, on a non-retryable answer or a bad body."""
        started = time.perf_counter()
        body = self._request_body(request)
        encoded = time.perf_counter()
        response = self._post_with_retries(body)
        finished = time.perf_counter()
        usage = response.get("usage") or {}
        return ModelReply(
            text=self._reply_text(response),
            usage=Usage(
                prompt_tokens=_optional_int(usage.get("prompt_tokens")),
                completion_tokens=_optional_int(usage.get("completion_tokens")),
                image_tokens=_computed_image_tokens(request),
            ),
            timings={"encode": encoded - started, "request": finished - encoded},
        )

    def request_payload(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON object :meth:`complete` posts for ``request``, built without sending anything.

        Images appear as base64 ``data:`` URLs at exactly the size they have in ``request``.
        Pure apart from image encoding; ``screenpilot calibrate`` decodes them to check that the
        image going out has the size the prompt advertises.
        """
        return {
            "model": self.model,
            "messages": [self._convert_message(message) for message in request.messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": False,
        }

    def _request_body(self, request: ModelRequest) -> bytes:
        return json.dumps(self.request_payload(request)).encode("utf-8")

    def _convert_message(self, message: Message) -> dict[str, Any]:
        """One neutral message in OpenAI's shape (text-only content as a plain string)."""
        content = message["content"]
        if isinstance(content, str):
            return {"role": message["role"], "content": content}
        if all(part.get("type") == "text" for part in content):
            return {"role": message["role"], "content": "".join(part["text"] for part in content)}
        return {"role": message["role"], "content": [self._convert_part(part) for part in content]}

    def _convert_part(self, part: dict[str, Any]) -> dict[str, Any]:
        kind = part.get("type")
        if kind == "text":
            return {"type": "text", "text": part["text"]}
        if kind == "image":
            return {"type": "image_url", "image_url": {"url": self.data_url(part["image"])}}
        raise BackendError(f"{self.name} cannot send a message part of type {kind!r}")

    def data_url(self, image: Image.Image) -> str:
        """``image`` at its own size as a base64 ``data:`` URL in :attr:`image_format`."""
        buffer = io.BytesIO()
        if self.image_format == "jpeg":
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            rgb.save(buffer, format="JPEG", quality=self.jpeg_quality)
        else:
            image.save(buffer, format="PNG")
        encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
        return f"data:image/{self.image_format};base64,{encoded}"

    def _post_with_retries(self, body: bytes) -> dict[str, Any]:
        """The decoded JSON answer; retries as the module doc says, then BackendError."""
        last_error = "no attempt made"
        last_retry_after: float | None = None
        last_status: int | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self._wait_s(attempt, last_retry_after))
            try:
                return self._post_once(body)
            except _RetryableError as exc:
                last_error, last_retry_after, last_status = exc.description, exc.retry_after, exc.status
        attempts = f"{self.max_retries + 1} attempts"
        if last_status is not None:  # the server answered, with an error
            raise BackendError(f"{self.completions_url} answered {last_error} for model {self.model!r} ({attempts}). "
                               "Check the server's log for the cause")
        raise BackendError(
            f"no answer from {self.completions_url} for model {self.model!r} after {attempts} (last: {last_error}). "
            f"Check that the server is running and reachable at {self.base_url}, that it serves {self.model!r}, and "
            f"that {self.timeout_s:g} s per attempt is enough for it (raise it with --timeout, the attempts with "
            "--retries)"
        )

    def _wait_s(self, retry: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
        ceiling = min(self.backoff_base_s * 2 ** (retry - 1), MAX_BACKOFF_S)
        return random.uniform(0.0, ceiling)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _exchange(self, method: str, url: str, deadline_s: float, body: bytes | None = None) -> Answer:
        """One exchange over the backend's pool; NoAnswer when none came within ``deadline_s`` seconds."""
        try:
            return self._http.request(method, url, deadline_s=deadline_s, headers=self._headers(), content=body)
        except ImportError as exc:  # a SOCKS proxy in the environment without socksio
            raise BackendError(f"{self.name} cannot reach {url} through the environment's proxy: {exc}") from None

    def _post_once(self, body: bytes) -> dict[str, Any]:
        """One attempt: the JSON answer, _RetryableError, or BackendError (not retryable)."""
        try:
            answer = self._exchange("POST", self.completions_url, self.timeout_s, body)
        except NoAnswer as exc:
            raise _RetryableError(exc.description) from None
        if not 200 <= answer.status < 300:
            raise self._http_error(answer) from None
        raw = answer.body
        try:
            decoded = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BackendError(
                f"{self.completions_url} answered 200 for model {self.model!r} with a body that is "
                f"not JSON: {raw[:_ERROR_TEXT_LIMIT]!r}"
            ) from None
        if not isinstance(decoded, dict):
            raise BackendError(f"{self.completions_url} answered with JSON that is not an object")
        return decoded

    def _http_error(self, answer: Answer) -> Exception:
        """_RetryableError for 429 and 5xx; BackendError with the server's text otherwise."""
        text = _error_text(answer)
        code = answer.status
        if code == 429 or code >= 500:
            return _RetryableError(f"HTTP {code}: {text}", _parse_retry_after(answer.headers.get("Retry-After")), code)
        message = f"{self.completions_url} answered HTTP {code} for model {self.model!r}: {text}"
        if code in (400, 404, 422) and "model" in text.lower():
            served = self.served_models()
            if served:
                message += f". The server lists these models: {', '.join(served)}"
        return BackendError(message)

    def served_models(self) -> list[str] | None:
        """Model ids from ``GET {base_url}/models``, or None when that fails (short timeout)."""
        try:
            answer = self._exchange("GET", f"{self.base_url}/models", min(self.timeout_s, 5.0))
            if not 200 <= answer.status < 300:
                return None
            data = json.loads(answer.body)
            return [str(entry["id"]) for entry in data["data"]]
        except (NoAnswer, BackendError, ValueError, KeyError, TypeError):
            return None

    def _reply_text(self, response: dict[str, Any]) -> str:
        """The reply as text; structured tool calls are written back as ``<tool_call>`` blocks."""
        try:
            message = response["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise BackendError(
                f"{self.completions_url} answered without choices[0].message for model "
                f"{self.model!r}: {json.dumps(response)[:_ERROR_TEXT_LIMIT]}"
            ) from None
        pieces = [_content_text(message.get("content"))]
        pieces.extend(_tool_call_text(call) for call in message.get("tool_calls") or [])
        return "\n".join(piece for piece in pieces if piece)

    def describe(self) -> dict[str, object]:
        """Endpoint, model and request settings for run.json (never the API key)."""
        return {
            "backend": "openai-compatible",
            "base_url": self.base_url,
            "model": self.model,
            "api_key_set": bool(self.api_key),
            "image_format": self.image_format,
            "jpeg_quality": self.jpeg_quality if self.image_format == "jpeg" else None,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "image_tokens": "computed from image sizes",
        }

    def close(self) -> None:
        """Close the pooled connections; idempotent, and a later request opens a new pool."""
        self._http.close()


def _check_options(backend: OpenAICompatBackend) -> None:
    """ConfigError naming the first invalid option."""
    problems = [
        (not backend.base_url.startswith(("http://", "https://")), "base_url must start with http(s)://"),
        (not backend.model, "model must not be empty"),
        (backend.image_format not in ("png", "jpeg"), "image_format must be 'png' or 'jpeg'"),
        (not 1 <= backend.jpeg_quality <= 100, "jpeg_quality must be within 1..100"),
        (backend.timeout_s <= 0, "timeout_s must be positive"),
        (backend.max_retries < 0, "max_retries must be 0 or more"),
        (backend.backoff_base_s < 0, "backoff_base_s must be 0 or more"),
        (backend.max_tokens < 1, "max_tokens must be at least 1"),
        (backend.temperature < 0, "temperature must be 0 or more"),
    ]
    for failed, problem in problems:
        if failed:
            raise ConfigError(f"OpenAI-compatible backend: {problem} (base_url={backend.base_url!r})")


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _computed_image_tokens(request: ModelRequest) -> int | None:
    """Image tokens of the request's images, (W'/f) * (H'/f) each with f the request's resize
    factor (28 for Qwen2.5-VL, 32 for Qwen3-VL); None when an image is not at a model size."""
    factor = request.resize_factor
    images = request.images()
    if any(image.width % factor or image.height % factor for image in images):
        return None
    return sum((image.width // factor) * (image.height // factor) for image in images)


def _content_text(content: object) -> str:
    """Message content as text (some servers return a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _tool_call_text(call: object) -> str:
    """One structured tool call as Qwen's ``<tool_call>`` text block."""
    function = call.get("function", {}) if isinstance(call, dict) else {}
    name = json.dumps(function.get("name", ""))
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments_json = json.dumps(json.loads(arguments), ensure_ascii=False)
        except json.JSONDecodeError:
            arguments_json = arguments
    else:
        arguments_json = json.dumps(arguments, ensure_ascii=False)
    return f'<tool_call>\n{{"name": {name}, "arguments": {arguments_json}}}\n</tool_call>'


def _first_line(text: str) -> str:
    """The first line of a body that is not JSON, with HTML tags dropped (an error page's title or heading), at
    most ``_ERROR_TEXT_LIMIT`` characters."""
    plain = re.sub(r"<(script|style)\b.*?</\1>|<[^>]*>", "\n", text, flags=re.IGNORECASE | re.DOTALL)
    line = next((" ".join(line.split()) for line in plain.splitlines() if line.strip()), "")
    return line if len(line) <= _ERROR_TEXT_LIMIT else line[:_ERROR_TEXT_LIMIT - 3] + "..."


def _error_text(answer: Answer) -> str:
    """The server's error message from an OpenAI, vLLM or FastAPI error body, else the raw body."""
    text = answer.body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _first_line(text) or answer.reason
    if isinstance(data, dict):
        error = data.get("error")
        for candidate in (
            error.get("message") if isinstance(error, dict) else error,
            data.get("message"),
            data.get("detail"),
        ):
            if isinstance(candidate, str) and candidate:
                return candidate[:_ERROR_TEXT_LIMIT]
    return text[:_ERROR_TEXT_LIMIT]


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date), None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def from_env(environ: Mapping[str, str] | None = None, **options: Any) -> OpenAICompatBackend:
    """A backend configured from environment variables; call it at the CLI edge only.

    Reads ``SCREENPILOT_API_BASE`` (required), ``SCREENPILOT_MODEL_NAME`` (required) and
    ``SCREENPILOT_API_KEY`` or else ``OPENAI_API_KEY`` (optional) from ``environ`` (default
    ``os.environ``). ``options`` go to the constructor; a ``base_url``, ``model`` or ``api_key``
    given there (not None) wins over the environment. ConfigError when a required value is missing.
    """
    if environ is None:
        environ = os.environ
    settings: dict[str, Any] = {
        "base_url": environ.get(ENV_API_BASE),
        "model": environ.get(ENV_MODEL_NAME),
        "api_key": environ.get(ENV_API_KEY) or environ.get(ENV_OPENAI_API_KEY) or None,
    }
    settings.update({key: value for key, value in options.items() if value is not None})
    for key, variable in (("base_url", ENV_API_BASE), ("model", ENV_MODEL_NAME)):
        if not settings.get(key):
            raise ConfigError(f"set {variable} (or pass {key}) to use an OpenAI-compatible server")
    return OpenAICompatBackend(**settings)
