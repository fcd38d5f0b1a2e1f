"""Qwen2.5-VL, UI-TARS-1.5 and Qwen3-VL run in-process with transformers (a local GPU, or the CPU
for tiny models).

Install with ``pip install 'screenpilot[local]'`` (torch, torchvision, transformers,
qwen-vl-utils, accelerate). The model loads once, in the constructor, exactly as a user loads
the released checkpoint::

    Qwen2_5_VLForConditionalGeneration.from_pretrained(path_or_id, dtype=..., device_map=...)
    AutoProcessor.from_pretrained(path_or_id)

The model class follows ``AutoConfig``'s ``model_type`` (:data:`MODEL_CLASSES`): ``qwen2_5_vl``
(Qwen2.5-VL and UI-TARS-1.5), ``qwen3_vl`` and ``qwen3_vl_moe`` (Qwen3-VL, dense and MoE).

*No second resize.* Requests carry images already resized to model space (both sides multiples
of 28; of 32 for Qwen3-VL, whose processor has patch 16). Each image part handed to
``qwen_vl_utils.process_vision_info`` gets its own area as ``min_pixels`` and ``max_pixels`` (so its
resize is the identity; for a patch other than 14 it is called with ``image_patch_size``, since its
default factor 28 would resize a Qwen3-VL image, and where the installed qwen-vl-utils lacks that
argument the images are taken as they are), and the processor is called with
``size={"shortest_edge": smallest area, "longest_edge": largest area}`` of the request's images
(identity again). After preprocessing every ``image_grid_thw`` row is checked against
``(1, H'/p, W'/p)`` for the processor's patch size ``p``; any difference raises
:class:`screenpilot.agent.errors.BackendError` naming the size sent and the size the processor produced.

*Timings* (seconds, in :attr:`screenpilot.models.base.ModelReply.timings`):

- ``preprocess``: chat template, image loading, processor call, copy to the device;
- ``prefill``: from the start of ``generate`` to the first token's logits (time to first token).
  Measured by a logits processor that ``generate`` calls after every forward pass; on the first
  call it synchronises the device (CUDA) and reads the clock;
- ``decode``: from the first token to the end of ``generate`` (the remaining forward passes);
- ``total``: the whole call, decoding of the text included.

*Usage*: ``prompt_tokens`` = length of the tokenised prompt (image tokens included),
``image_tokens`` = number of ``<|image_pad|>`` tokens in it, ``completion_tokens`` = number of
generated tokens (an end-of-turn token included).
"""

from __future__ import annotations

import copy
import gc
import os
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from screenpilot.agent.errors import BackendError, ConfigError
from screenpilot.models.base import DEFAULT_MAX_NEW_TOKENS, Message, ModelReply, ModelRequest, Usage

INSTALL_HINT = "pip install 'screenpilot[local]'"
PATCH_SIZE = 14
"""Qwen2.5-VL's ViT patch (pixels); a processor's own ``patch_size`` takes precedence."""

MODEL_CLASSES: dict[str, str] = {
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "qwen3_vl": "Qwen3VLForConditionalGeneration",
    "qwen3_vl_moe": "Qwen3VLMoeForConditionalGeneration",
}
"""The transformers model class for each config ``model_type`` this backend loads."""
_DTYPES = ("auto", "bfloat16", "float16", "float32")


def _import_stack(need_accelerate: bool) -> tuple[Any, Any]:
    """``(torch, transformers)`` after checking qwen-vl-utils too; ConfigError with the install hint."""
    try:
        import qwen_vl_utils  # noqa: F401
        import torch
        import transformers

        if need_accelerate:
            import accelerate  # noqa: F401
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise ConfigError(
            f"the local model backend needs torch, torchvision, transformers, qwen-vl-utils and "
            f"accelerate ({missing} is missing or broken): {INSTALL_HINT}"
        ) from None
    return torch, transformers


def looks_like_path(model: str) -> bool:
    """True when ``model`` names a folder rather than a hub id (``org/name``)."""
    return (
        model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model or Path(model).expanduser().exists()
    )


def _resolve_dtype(torch: Any, dtype: str, may_use_gpu: bool) -> Any:
    """The torch dtype for ``dtype``; ``auto`` is bfloat16 when the model may land on a CUDA GPU
    (CUDA present and a device map given), float32 otherwise."""
    if dtype not in _DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; use one of {', '.join(_DTYPES)}")
    if dtype == "auto":
        return torch.bfloat16 if may_use_gpu and torch.cuda.is_available() else torch.float32
    return getattr(torch, dtype)


class FirstTokenClock:
    """A logits processor that records when the first token's logits exist (scores unchanged).

    ``generate`` calls it once per new token, right after that token's forward pass; the first
    call therefore marks the end of prefill. On CUDA it synchronises the device first, so the
    time is when the work finished, not when it was queued. ``first_token_at`` is a
    ``time.perf_counter()`` value, None until the first call.
    """

    def __init__(self, torch: Any) -> None:
        self._torch = torch
        self.first_token_at: float | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.first_token_at is None:
            if scores.is_cuda:
                self._torch.cuda.synchronize(scores.device)
            self.first_token_at = time.perf_counter()
        return scores


def _image_sizes(messages: list[Message]) -> list[tuple[int, int]]:
    """(width, height) of every image part, in message order."""
    return [
        part["image"].size
        for message in messages
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "image"
    ]


def _vision_messages(messages: list[Message]) -> list[Message]:
    """The neutral messages with each image part pinned to its own size (no resize)."""
    pinned: list[Message] = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = [_pin_part(part) for part in content]
        pinned.append({**message, "content": content})
    return pinned


def _pin_part(part: Any) -> Any:
    if not (isinstance(part, dict) and part.get("type") == "image"):
        return part
    width, height = part["image"].size
    return {**part, "min_pixels": width * height, "max_pixels": width * height}


def check_grids(sizes: list[tuple[int, int]], grids: list[list[int]], patch_size: int = PATCH_SIZE) -> None:
    """Raise BackendError unless each grid is ``[1, H/p, W/p]`` for its image (W, H) in pixels,
    ``p`` = ``patch_size`` (14 for Qwen2.5-VL, 16 for Qwen3-VL)."""
    if len(sizes) != len(grids):
        raise BackendError(f"the processor returned {len(grids)} image grids for {len(sizes)} images")
    for (width, height), grid in zip(sizes, grids, strict=True):
        t, rows, cols = (int(value) for value in grid)
        if (t, rows * patch_size, cols * patch_size) != (1, height, width):
            raise BackendError(
                f"the image processor resized a {width}x{height} model-space image to "
                f"{cols * patch_size}x{rows * patch_size} (grid {[t, rows, cols]}); images must reach "
                f"the model at the size the prompt advertised (both sides multiples of {2 * patch_size})"
            )


def processor_patch_size(processor: Any) -> int:
    """The ViT patch size (pixels) of a loaded processor's image processor (14 when it names none)."""
    return int(getattr(getattr(processor, "image_processor", None), "patch_size", None) or PATCH_SIZE)


def _vision_images(pinned: list[Message], patch_size: int) -> list[Any]:
    """The request's images through qwen-vl-utils with the processor's patch (see module doc)."""
    import inspect

    from qwen_vl_utils import process_vision_info

    if patch_size == PATCH_SIZE:
        images, _ = process_vision_info(pinned)
    elif "image_patch_size" in inspect.signature(process_vision_info).parameters:
        images, _ = process_vision_info(pinned, image_patch_size=patch_size)
    else:
        images = [
            part["image"].convert("RGB")
            for message in pinned
            for part in message["content"]
            if isinstance(part, dict) and part.get("type") == "image"
        ]
    return list(images or [])


def prepare_inputs(processor: Any, messages: list[Message]) -> Any:
    """The processor's tensors (on the CPU) for neutral ``messages``, images at their own size.

    Applies the chat template with the generation prompt, loads images through
    ``qwen_vl_utils.process_vision_info`` and runs the processor with size bounds that make
    its resize the identity, then checks the grids (:func:`check_grids`) with the processor's
    patch size (:func:`processor_patch_size`).
    """
    patch_size = processor_patch_size(processor)
    sizes = _image_sizes(messages)
    pinned = _vision_messages(messages)
    text = processor.apply_chat_template(pinned, tokenize=False, add_generation_prompt=True)
    images = None
    extra: dict[str, Any] = {}
    if sizes:
        images = _vision_images(pinned, patch_size)
        areas = [width * height for width, height in sizes]
        extra["size"] = {"shortest_edge": min(areas), "longest_edge": max(areas)}
    inputs = processor(text=[text], images=images, return_tensors="pt", **extra)
    if sizes:
        check_grids(sizes, inputs["image_grid_thw"].tolist(), patch_size)
    return inputs


class LocalQwenBackend:
    """Qwen2.5-VL in this process through transformers.

    ``model_path_or_id``: a local folder or a hub id (``Qwen/Qwen2.5-VL-7B-Instruct``).
    ``device_map``: passed to ``from_pretrained`` (accelerate; ``"auto"`` spreads over the GPUs,
    or uses the CPU when there is none); None loads on the CPU without accelerate.
    ``dtype``: ``auto`` (bfloat16 with CUDA and a device map, float32 otherwise), ``bfloat16``, ``float16``,
    ``float32``. ``attn_implementation``: e.g. ``flash_attention_2``; None keeps the default.
    ``max_new_tokens``: upper bound of generated tokens per call. ``do_sample``: False = greedy.

    Raises ConfigError when the libraries are missing (with the install hint), when the folder
    does not exist, or when a hub id cannot be loaded (offline, unknown, no access).
    """

    def __init__(
        self,
        model_path_or_id: str | Path,
        *,
        device_map: str | dict[str, Any] | None = "auto",
        dtype: str = "auto",
        attn_implementation: str | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        do_sample: bool = False,
    ) -> None:
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        self.model_id = str(model_path_or_id)
        self.name = f"local:{self.model_id}"
        self.max_new_tokens = max_new_tokens
        self.do_sample = do_sample
        self._torch, transformers = _import_stack(device_map is not None)
        torch_dtype = _resolve_dtype(self._torch, dtype, device_map is not None)
        source = self._check_source()
        hub: dict[str, Any] = {} if looks_like_path(source) or hub_reachable() else {"local_files_only": True}
        kwargs: dict[str, Any] = {"dtype": torch_dtype, **hub}
        if device_map is not None:
            kwargs["device_map"] = device_map
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        self._processor, self._model = self._load(transformers, source, kwargs, hub)
        self._generation_config = self._make_generation_config()
        self._image_token_id = int(self._processor.image_token_id)

    def _check_source(self) -> str:
        """The folder (expanded) or the hub id; ConfigError for a missing folder."""
        if looks_like_path(self.model_id):
            folder = Path(self.model_id).expanduser()
            if not folder.is_dir():
                raise ConfigError(
                    f"model folder not found: {folder} (give a folder holding config.json and the "
                    f"weights, or a hub id such as Qwen/Qwen2.5-VL-7B-Instruct)"
                )
            return str(folder)
        return self.model_id

    def _load(self, transformers: Any, source: str, kwargs: dict[str, Any],
              hub: dict[str, Any]) -> tuple[Any, Any]:
        """Processor and model from ``source``; ``hub`` holds ``local_files_only`` when the hub cannot be reached,
        so a missing model fails at once instead of after the hub client's retries."""
        try:
            model_class = _model_class(transformers, source, hub)
            processor = transformers.AutoProcessor.from_pretrained(source, **hub)
            model = model_class.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as exc:
            if hub:
                from huggingface_hub import constants

                raise ConfigError(
                    f"cannot load the model {source!r}: the Hugging Face hub ({constants.ENDPOINT}) cannot be reached "
                    f"and the model is not in the local cache ({constants.HF_HUB_CACHE}). Download it with "
                    f"`hf download {source}` on a machine that reaches the hub (then copy the cache), or pass a "
                    "local folder"
                ) from None
            raise ConfigError(
                f"cannot load the model {source!r}: {str(exc).rstrip('.')}. A hub id loads only when it is in the "
                f"local cache or the hub is reachable (HF_HUB_OFFLINE=1 allows the cache only); "
                f"download it with `hf download {source}` or pass a local folder"
            ) from None
        model.eval()
        return processor, model

    def _make_generation_config(self) -> Any:
        """The model's generation config with this backend's token bound and sampling choice.

        Greedy decoding resets the sampling knobs the released config sets (temperature 0.1,
        top_p 0.001, top_k 1) to transformers' neutral values, so no unused-flag warning fires.
        Other settings of the model's config (e.g. repetition_penalty 1.05) stay in force.
        """
        config = copy.deepcopy(self._model.generation_config)
        config.max_new_tokens = self.max_new_tokens
        config.do_sample = self.do_sample
        if not self.do_sample:
            config.temperature = 1.0
            config.top_p = 1.0
            config.top_k = 50
        return config

    def complete(self, request: ModelRequest) -> ModelReply:
        """Generate the reply to ``request``; BackendError on a resize mismatch or a failed run."""
        if self._model is None:
            raise BackendError(f"{self.name} was closed")
        started = time.perf_counter()
        inputs = self._prepare(request.messages)
        prepared = time.perf_counter()
        new_tokens, first_token_at, generated = self._generate(inputs)
        text = self._processor.decode(new_tokens, skip_special_tokens=True)
        input_ids = inputs["input_ids"]
        usage = Usage(
            prompt_tokens=int(input_ids.shape[1]),
            completion_tokens=len(new_tokens),
            image_tokens=int((input_ids == self._image_token_id).sum()),
        )
        timings = {
            "preprocess": prepared - started,
            "prefill": first_token_at - prepared,
            "decode": generated - first_token_at,
            "total": time.perf_counter() - started,
        }
        return ModelReply(text=text, usage=usage, timings=timings)

    @property
    def processor(self) -> Any:
        """The loaded transformers processor, e.g. to run :func:`prepare_inputs` without generating
        (``screenpilot calibrate`` checks the image grids it yields). BackendError once closed."""
        if self._processor is None:
            raise BackendError(f"{self.name} was closed")
        return self._processor

    def _prepare(self, messages: list[Message]) -> Any:
        """Tokenised inputs on the model's device; BackendError when an image would be resized."""
        return prepare_inputs(self._processor, messages).to(self._model.device)

    def _generate(self, inputs: Any) -> tuple[list[int], float, float]:
        """(new token ids, time of the first token, time generation ended) — perf_counter seconds."""
        torch = self._torch
        clock = FirstTokenClock(torch)
        try:
            with torch.inference_mode():
                output = self._model.generate(
                    **inputs,
                    generation_config=self._generation_config,
                    logits_processor=_processor_list(clock),
                )
        except torch.cuda.OutOfMemoryError as exc:
            raise BackendError(
                f"{self.name} ran out of GPU memory ({exc}); lower max_pixels or keep fewer screenshots in the history"
            ) from None
        except RuntimeError as exc:
            raise BackendError(f"{self.name} failed during generation: {exc}") from None
        new_tokens = output[0, inputs["input_ids"].shape[1] :].tolist()
        ended = time.perf_counter()
        return new_tokens, clock.first_token_at or ended, ended

    def describe(self) -> dict[str, object]:
        """Model, device, dtype, generation settings and library versions (for run.json)."""
        info: dict[str, object] = {
            "backend": "local",
            "model": self.model_id,
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "torch": self._torch.__version__,
        }
        if self._model is not None:
            import transformers

            info["model_type"] = str(self._model.config.model_type)
            info["device"] = str(self._model.device)
            info["dtype"] = str(self._model.dtype).removeprefix("torch.")
            info["attn_implementation"] = self._model.config._attn_implementation
            info["transformers"] = transformers.__version__
        return info

    def close(self) -> None:
        """Release the model and processor (and cached GPU memory). Safe to call twice."""
        self._model = None
        self._processor = None
        gc.collect()
        if self._torch.cuda.is_available():
            self._torch.cuda.empty_cache()


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face hub's host accepts a connection within ``timeout_s`` seconds. True without asking
    when offline mode is set (nothing will be fetched anyway) or a proxy is configured (a direct probe says nothing
    about the proxy)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                                                                         "all_proxy")):
        return True
    endpoint = urlsplit(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _model_class(transformers: Any, source: str, hub: dict[str, Any]) -> Any:
    """The model class for ``source``'s config ``model_type`` (:data:`MODEL_CLASSES`).

    ConfigError for a model type this backend does not load, or one the installed transformers
    lacks (with the upgrade hint); OSError / ValueError from reading the config pass through.
    """
    model_type = str(transformers.AutoConfig.from_pretrained(source, **hub).model_type)
    name = MODEL_CLASSES.get(model_type)
    if name is None:
        raise ConfigError(
            f"the model {source!r} has model_type {model_type!r}; the local backend loads "
            f"{', '.join(MODEL_CLASSES)} (Qwen2.5-VL, UI-TARS-1.5, Qwen3-VL)"
        )
    model_class = getattr(transformers, name, None)
    if model_class is None:
        raise ConfigError(
            f"transformers {transformers.__version__} has no {name} for {source!r}: "
            f"pip install -U 'transformers>=4.57'"
        )
    return model_class


def _processor_list(clock: FirstTokenClock) -> Any:
    from transformers import LogitsProcessorList

    return LogitsProcessorList([clock])
