"""Turn a ``--model`` string (CLI or API) into a model backend.

Accepted forms, checked in this order:

1. ``scripted:PATH`` — the scripted model replaying the JSON list of replies in PATH.
2. With an ``api_base`` (an OpenAI-compatible server): any other name is the *served model
   name* sent in each request. The aliases below expand to their hub ids first (vLLM serves a
   model under its hub id by default); a folder path is sent as given (``transformers serve
   DIR`` serves the model under the name DIR).
3. Without an ``api_base`` (transformers in this process):
   - an alias ``qwen2.5-vl-3b`` | ``qwen2.5-vl-7b`` | ``qwen2.5-vl-32b`` | ``qwen2.5-vl-72b``, or
     ``qwen2.5-vl`` (= 7B), for ``Qwen/Qwen2.5-VL-{3B,7B,32B,72B}-Instruct`` (case-insensitive);
     ``qwen3-vl-{2b,4b,8b,32b,30b-a3b,235b-a22b}`` or ``qwen3-vl`` (= 8B) for the Qwen3-VL
     Instruct checkpoints; ``ui-tars-1.5-7b`` for ``ByteDance-Seed/UI-TARS-1.5-7B``;
   - an existing model folder;
   - a hub id ``org/name``.

Anything else is a :class:`screenpilot.agent.errors.ConfigError` listing these forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from screenpilot.agent.errors import ConfigError
from screenpilot.models.base import DEFAULT_MAX_NEW_TOKENS, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, ModelBackend

ALIASES: dict[str, str] = {
    "qwen2.5-vl": "Qwen/Qwen2.5-VL-7B-Instruct",
    "qwen2.5-vl-3b": "Qwen/Qwen2.5-VL-3B-Instruct",
    "qwen2.5-vl-7b": "Qwen/Qwen2.5-VL-7B-Instruct",
    "qwen2.5-vl-32b": "Qwen/Qwen2.5-VL-32B-Instruct",
    "qwen2.5-vl-72b": "Qwen/Qwen2.5-VL-72B-Instruct",
    "qwen3-vl": "Qwen/Qwen3-VL-8B-Instruct",
    "qwen3-vl-2b": "Qwen/Qwen3-VL-2B-Instruct",
    "qwen3-vl-4b": "Qwen/Qwen3-VL-4B-Instruct",
    "qwen3-vl-8b": "Qwen/Qwen3-VL-8B-Instruct",
    "qwen3-vl-32b": "Qwen/Qwen3-VL-32B-Instruct",
    "qwen3-vl-30b-a3b": "Qwen/Qwen3-VL-30B-A3B-Instruct",
    "qwen3-vl-235b-a22b": "Qwen/Qwen3-VL-235B-A22B-Instruct",
    "ui-tars-1.5-7b": "ByteDance-Seed/UI-TARS-1.5-7B",
}

SCRIPTED_PREFIX = "scripted:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

BackendKind = Literal["local", "openai", "scripted"]


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model choice.

    ``kind``: which backend. ``target``: for ``local`` a folder path or hub id, for ``openai``
    the served model name, for ``scripted`` the replies file. ``api_base``: the server's base
    URL (``openai`` only).
    """

    kind: BackendKind
    target: str
    api_base: str | None = None


@dataclass(frozen=True)
class LocalOptions:
    """Options of :class:`screenpilot.models.backends.local.LocalQwenBackend` (see there for meanings and units)."""

    device_map: str | None = "auto"
    dtype: str = "auto"
    attn_implementation: str | None = None
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    do_sample: bool = False


@dataclass(frozen=True)
class OpenAIOptions:
    """Options of :class:`screenpilot.models.backends.openai_compat.OpenAICompatBackend` (meanings and units there)."""

    image_format: Literal["png", "jpeg"] = "png"
    jpeg_quality: int = 90
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base_s: float = 0.5
    max_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0


def accepted_forms() -> str:
    """One paragraph describing every accepted model string (for error messages and --help)."""
    aliases = " | ".join(ALIASES)
    return (
        f"use an alias ({aliases}), a local model folder, a hub id such as "
        f"Qwen/Qwen2.5-VL-7B-Instruct, scripted:PATH for scripted replies, or any served model "
        f"name together with --api-base URL for an OpenAI-compatible server"
    )


def parse_model_spec(spec: str, *, api_base: str | None = None) -> ModelSpec:
    """The :class:`ModelSpec` for ``spec`` (see the module doc); ConfigError when none fits."""
    text = spec.strip()
    if not text:
        raise ConfigError(f"no model given: {accepted_forms()}")
    if text.startswith(SCRIPTED_PREFIX):
        path = text.removeprefix(SCRIPTED_PREFIX).strip()
        if not path:
            raise ConfigError("scripted: needs a path to a JSON list of replies, e.g. scripted:replies.json")
        return ModelSpec("scripted", path)
    alias = ALIASES.get(text.lower())
    if api_base:
        return ModelSpec("openai", alias or text, api_base=api_base)
    if alias is not None:
        return ModelSpec("local", alias)
    folder = Path(text).expanduser()
    if folder.is_dir():
        return ModelSpec("local", str(folder))
    if _HUB_ID.match(text) and not folder.exists():
        return ModelSpec("local", text)
    if text.startswith(("/", ".", "~")) or "/" in text or "\\" in text:
        raise ConfigError(f"model folder not found: {folder} ({accepted_forms()})")
    raise ConfigError(f"unknown model {spec!r} (not an alias, a folder or a hub id): {accepted_forms()}")


def build_backend(
    spec: str,
    *,
    api_base: str | None = None,
    api_key: str | None = None,
    local: LocalOptions | None = None,
    remote: OpenAIOptions | None = None,
) -> ModelBackend:
    """The backend for ``spec``; heavy libraries are imported only for the backend chosen.

    ``api_key`` is used only with ``api_base``. ``local`` / ``remote`` carry the options of the
    local and OpenAI-compatible backends (defaults when None). Raises ConfigError for an
    unknown spec or invalid options, and whatever the chosen backend raises while loading.
    """
    parsed = parse_model_spec(spec, api_base=api_base)
    if parsed.kind == "scripted":
        from screenpilot.models.backends.scripted import ScriptedModel

        return ScriptedModel.from_file(parsed.target)
    if parsed.kind == "openai":
        from screenpilot.models.backends.openai_compat import OpenAICompatBackend

        options = remote or OpenAIOptions()
        return OpenAICompatBackend(
            str(parsed.api_base),
            parsed.target,
            api_key=api_key,
            image_format=options.image_format,
            jpeg_quality=options.jpeg_quality,
            timeout_s=options.timeout_s,
            max_retries=options.max_retries,
            backoff_base_s=options.backoff_base_s,
            max_tokens=options.max_tokens,
            temperature=options.temperature,
        )
    from screenpilot.models.backends.local import LocalQwenBackend

    settings = local or LocalOptions()
    return LocalQwenBackend(
        parsed.target,
        device_map=settings.device_map,
        dtype=settings.dtype,
        attn_implementation=settings.attn_implementation,
        max_new_tokens=settings.max_new_tokens,
        do_sample=settings.do_sample,
    )
