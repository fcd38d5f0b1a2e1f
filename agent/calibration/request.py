"""Check, without asking the model anything, that the image a backend sends has the size the
prompt advertises.

The check builds the request the loop would build for one calibration step (the prompt format's
system prompt with "The screen's resolution is W'xH'.", and a screenshot resized to model space),
then looks at what the backend would really hand over:

* OpenAI-compatible HTTP: the JSON body (:meth:`OpenAICompatBackend.request_payload`, nothing is
  sent); every ``image_url`` data URL is decoded and measured, and the resolution sentence is read
  from the system message in that body;
* local transformers: the processor is run exactly as the backend runs it
  (:func:`screenpilot.models.backends.local.prepare_inputs`) and each ``image_grid_thw`` row ``(1, h, w)`` gives the
  size ``(14 w, 14 h)`` the vision tower will see;
* any other backend (scripted replies): skipped, it sends no image.

A server can still resize what arrives with its own pixel bounds (vLLM and SGLang run the model's image
processor with theirs): :func:`check_server_image_tokens` asks an OpenAI-compatible server for its own
count, sending the probe with and without its image (one reply token each) and comparing the
difference with the image tokens of the advertised size.

All sizes are ``(width, height)`` in model-space pixels.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from PIL import Image, ImageDraw, UnidentifiedImageError

from screenpilot.agent.errors import BackendError, ConfigError
from screenpilot.models.base import ModelBackend, ModelRequest, PromptFormat
from screenpilot.models.resize import MAX_PIXELS, MIN_PIXELS, model_size_for, resize_image

CheckStatus = Literal["pass", "fail", "skipped"]
_RESOLUTION = re.compile(r"resolution is (\d+)\s*x\s*(\d+)")
PATCH_PX = 14
VISION_MARKERS = 2
"""Tokens around each image in the Qwen chat formats (``<|vision_start|>``, ``<|vision_end|>``): a prompt's
count with one image minus its count without it is the image's tokens plus these."""


@dataclass(frozen=True)
class SizeCheck:
    """The outcome. ``advertised``: the size in the prompt text; ``sent``: the size of each image
    that goes to the model (empty when skipped or unknown). ``message``: one plain sentence."""

    status: CheckStatus
    backend: str
    advertised: tuple[int, int] | None
    sent: tuple[tuple[int, int], ...]
    message: str
    server_image_tokens: int | None = None
    expected_image_tokens: int | None = None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {"status": self.status, "backend": self.backend,
                "advertised": None if self.advertised is None else list(self.advertised),
                "sent": [list(size) for size in self.sent], "message": self.message,
                "server_image_tokens": self.server_image_tokens,
                "expected_image_tokens": self.expected_image_tokens}


def advertised_size(text: str) -> tuple[int, int] | None:
    """The ``W'xH'`` of "The screen's resolution is W'xH'." in ``text``, or None."""
    match = _RESOLUTION.search(text)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def probe_request(prompt: PromptFormat, screen_size: tuple[int, int]) -> ModelRequest:
    """The request of a first calibration step on a screen of ``screen_size`` (screen px)."""
    screen = Image.new("RGB", screen_size, (255, 255, 255))
    draw = ImageDraw.Draw(screen)
    draw.ellipse((10, 10, 54, 54), fill=(47, 111, 219))
    model_image = resize_image(screen, prompt.model_size(screen_size))
    return prompt.build_request("Click the circle labelled 1", [], model_image, None)


def _system_text(messages: Sequence[dict[str, Any]]) -> str:
    parts: list[str] = []
    for message in messages:
        if message.get("role") != "system":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _decoded_sizes(payload: dict[str, Any]) -> list[tuple[int, int]]:
    """Sizes of the data-URL images in an OpenAI chat payload; BackendError for a bad image."""
    sizes: list[tuple[int, int]] = []
    for message in payload.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if not (isinstance(part, dict) and part.get("type") == "image_url"):
                continue
            url = str(part["image_url"]["url"])
            try:
                data = base64.b64decode(url.split(",", 1)[1], validate=True)
                with Image.open(io.BytesIO(data)) as image:
                    sizes.append(image.size)
            except (IndexError, binascii.Error, UnidentifiedImageError) as exc:
                raise BackendError(f"the request carries an image that does not decode: {exc}") from None
    return sizes


def _server_note(sent: tuple[int, int]) -> str:
    """What a server left at the released bounds (vLLM, SGLang defaults) makes of ``sent``."""
    try:
        again = model_size_for(sent, MIN_PIXELS, MAX_PIXELS)
    except ConfigError:
        return ""
    if again == sent:
        return " A server resizing with the released bounds (vLLM's and SGLang's defaults) keeps it as it is."
    return (f" A server resizing with the released bounds would turn it into {again[0]}x{again[1]}: set "
            f"--min-pixels/--max-pixels so the advertised size is one such a server keeps.")


def _verdict(backend: str, advertised: tuple[int, int] | None, sent: list[tuple[int, int]], where: str) -> SizeCheck:
    if advertised is None:
        return SizeCheck("fail", backend, None, tuple(sent), f"{where}: the prompt advertises no screen resolution")
    if not sent:
        return SizeCheck("fail", backend, advertised, (), f"{where}: the request carries no image")
    wrong = [size for size in sent if size != advertised]
    shown = ", ".join(f"{w}x{h}" for w, h in sent)
    if wrong:
        return SizeCheck("fail", backend, advertised, tuple(sent),
                         f"{where}: the prompt advertises {advertised[0]}x{advertised[1]} but the image is {shown}.")
    note = _server_note(advertised) if backend == "openai-compatible" else ""
    return SizeCheck("pass", backend, advertised, tuple(sent),
                     f"{where}: the image is {shown}, the size the prompt advertises.{note}")


def _check_openai(model: Any, request: ModelRequest) -> SizeCheck:
    payload = model.request_payload(request)
    sizes = _decoded_sizes(payload)
    return _verdict("openai-compatible", advertised_size(_system_text(payload["messages"])), sizes,
                    f"request body for {model.completions_url}")


def _check_local(model: Any, request: ModelRequest) -> SizeCheck:
    from screenpilot.models.backends.local import prepare_inputs

    advertised = advertised_size(_system_text(request.messages))
    try:
        inputs = prepare_inputs(model.processor, request.messages)
    except BackendError as exc:
        return SizeCheck("fail", "local", advertised, (), f"local processor: {exc.message}")
    grids = [[int(v) for v in row] for row in inputs["image_grid_thw"].tolist()]
    sizes = [(cols * PATCH_PX, rows * PATCH_PX) for _, rows, cols in grids]
    return _verdict("local", advertised, sizes, "local processor (image_grid_thw x 14)")


def check_request_size(model: ModelBackend, prompt: PromptFormat, screen_size: tuple[int, int]) -> SizeCheck:
    """Compare the advertised size with the image ``model`` would send for ``screen_size``.

    Sends nothing and generates nothing. Raises only for a broken request (BackendError).
    """
    from screenpilot.models.backends.local import LocalQwenBackend
    from screenpilot.models.backends.openai_compat import OpenAICompatBackend

    request = probe_request(prompt, screen_size)
    if isinstance(model, OpenAICompatBackend):
        return _check_openai(model, request)
    if isinstance(model, LocalQwenBackend):
        return _check_local(model, request)
    return SizeCheck("skipped", getattr(model, "name", type(model).__name__), request.image_size, (),
                     "no image check: this backend sends no image anywhere (scripted replies)")


def _without_images(request: ModelRequest) -> ModelRequest:
    messages = [{**m, "content": [p for p in m["content"] if not (isinstance(p, dict) and p.get("type") == "image")]}
                if isinstance(m["content"], list) else m for m in request.messages]
    return replace(request, messages=messages)


def check_server_image_tokens(model: ModelBackend, prompt: PromptFormat, screen_size: tuple[int, int],
                              check: SizeCheck) -> SizeCheck:
    """After a passing request check of an OpenAI-compatible backend, compare the server's own count of the
    probe image's tokens with what the advertised size costs; any other ``check`` comes back unchanged.

    Sends the probe twice (with and without its image, one reply token each). ``fail`` names both counts
    when the server resized the image again; a server that reports no ``usage`` leaves the check passing,
    with a note that the server side is unchecked. Raises BackendError when the server cannot be reached.
    """
    from screenpilot.models.backends.openai_compat import OpenAICompatBackend

    if check.status != "pass" or check.advertised is None or not isinstance(model, OpenAICompatBackend):
        return check
    request = probe_request(prompt, screen_size)
    probe = replace(model, max_tokens=1)
    with_image = probe.complete(request).usage.prompt_tokens
    without = probe.complete(_without_images(request)).usage.prompt_tokens
    if with_image is None or without is None:
        return replace(check, message=f"{check.message} The server reports no prompt-token count, so what it "
                                      "does to the image is unchecked.")
    width, height = check.advertised
    factor = request.resize_factor
    expected = (width // factor) * (height // factor)
    served = with_image - without - VISION_MARKERS
    if served == expected:
        return replace(check, server_image_tokens=served, expected_image_tokens=expected,
                       message=f"{check.message} The server counted {served} image tokens for it, what "
                               f"{width}x{height} costs.")
    scale = math.sqrt(served / expected) if served > 0 else 0.0
    bound = "--max-pixels" if served < expected else "--min-pixels"
    return replace(
        check, status="fail", server_image_tokens=served, expected_image_tokens=expected,
        message=(f"Image size mismatch at the server {model.base_url}: the prompt advertises {width}x{height} "
                 f"({expected} image tokens) but the server counted {served} image tokens, so it resizes the image "
                 f"again with its own pixel bounds (about {scale:.3f} x per side) and every click is scaled. Run "
                 f"screenpilot with {bound} {max(served, 1) * factor * factor} (the area the server kept), or "
                 "start the server with screenpilot's bounds (vLLM: --mm-processor-kwargs '{\"max_pixels\": N}')."))


__all__ = ["SizeCheck", "advertised_size", "check_request_size", "check_server_image_tokens", "probe_request"]
