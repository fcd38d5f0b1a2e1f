"""Tiny Qwen3-VL and UI-TARS-1.5 folders: built offline, loaded like the released checkpoints, run end
to end through the local backend (image tokens as predicted with factor 32) and ``transformers serve``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from qwen_vl_utils.vision_process import smart_resize as qwen_smart_resize

from screenpilot.agent.errors import BackendError, ConfigError
from screenpilot.models.formats.qwen3 import Qwen3VLFormat
from screenpilot.models.formats.registry import detect_format
from screenpilot.models.formats.uitars import UITarsFormat
from tests.conftest import _serve_command, free_port, wait_healthy

from .conftest import screenshot

SCREEN = (1280, 720)


@pytest.fixture(scope="session")
def tiny_qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Qwen3-VL folder, built once per test session."""
    from screenpilot.models.tiny import build_tiny_qwen3_vl

    return build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny-qwen3-vl"))


@pytest.fixture(scope="session")
def qwen3_backend(tiny_qwen3_dir: Path) -> Iterator[Any]:
    """A LocalQwenBackend on the tiny Qwen3-VL (CPU, greedy, 4 new tokens)."""
    from screenpilot.models.backends.local import LocalQwenBackend

    backend = LocalQwenBackend(tiny_qwen3_dir, max_new_tokens=4, device_map=None)
    yield backend
    backend.close()


def _json(folder: Path, name: str) -> dict[str, Any]:
    return json.loads((folder / name).read_text(encoding="utf-8"))


def _qwen3_request(screen: tuple[int, int], prompt: Qwen3VLFormat | None = None) -> Any:
    prompt = prompt or Qwen3VLFormat()
    model_size = prompt.model_size(screen)
    image = screenshot(screen).resize(model_size, Image.Resampling.BICUBIC)
    return prompt.build_request("Click Submit", [], image, None)


# --- the folder ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_folder_is_laid_out_like_the_released_qwen3_vl(tiny_qwen3_dir: Path) -> None:
    config = _json(tiny_qwen3_dir, "config.json")
    assert config["model_type"] == "qwen3_vl"
    assert config["architectures"] == ["Qwen3VLForConditionalGeneration"]
    text, vision = config["text_config"], config["vision_config"]
    assert sum(text["rope_scaling"]["mrope_section"]) == text["head_dim"] // 2
    assert (vision["patch_size"], vision["spatial_merge_size"], vision["temporal_patch_size"]) == (16, 2, 2)
    assert vision["out_hidden_size"] == text["hidden_size"]
    pre = _json(tiny_qwen3_dir, "preprocessor_config.json")
    assert (pre["patch_size"], pre["merge_size"], pre["temporal_patch_size"]) == (16, 2, 2)
    assert pre["size"] == {"longest_edge": 16384 * 32 * 32, "shortest_edge": 64 * 32 * 32}
    assert pre["image_mean"] == pre["image_std"] == [0.5, 0.5, 0.5]
    assert (tiny_qwen3_dir / "video_preprocessor_config.json").is_file()


@pytest.mark.slow
def test_processor_tokens_and_template_are_qwen3s(tiny_qwen3_dir: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_qwen3_dir)
    config = _json(tiny_qwen3_dir, "config.json")
    assert type(processor).__name__ == "Qwen3VLProcessor"
    assert (processor.image_processor.patch_size, processor.image_processor.merge_size) == (16, 2)
    assert processor.image_token_id == config["image_token_id"]
    for token in ("<think>", "</think>", "<tool_call>", "</tool_call>"):
        ids = processor.tokenizer.encode(token, add_special_tokens=False)
        assert len(ids) == 1 and processor.tokenizer.decode(ids, skip_special_tokens=True) == token
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]}]
    rendered = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|im_end|>\n<|im_start|>assistant\n"
    )


# --- the local backend ---------------------------------------------------------------------------


@pytest.mark.slow
def test_qwen3_runs_end_to_end_with_factor_32_image_tokens(qwen3_backend: Any) -> None:
    prompt = Qwen3VLFormat()
    request = _qwen3_request(SCREEN, prompt)
    assert request.image_size == (1280, 704)
    height, width = qwen_smart_resize(720, 1280, factor=32, min_pixels=prompt.min_pixels, max_pixels=prompt.max_pixels)
    predicted = (width // 32) * (height // 32)

    reply = qwen3_backend.complete(request)

    assert isinstance(reply.text, str)
    assert reply.usage.image_tokens == predicted == prompt.image_tokens(request.image_size) == 880
    assert reply.usage.prompt_tokens is not None and reply.usage.prompt_tokens > 880
    assert qwen3_backend.describe()["model_type"] == "qwen3_vl"


@pytest.mark.slow
def test_qwen3_grid_is_checked_with_patch_16(qwen3_backend: Any) -> None:
    from screenpilot.models.backends.local import prepare_inputs

    inputs = prepare_inputs(qwen3_backend.processor, _qwen3_request((1920, 1080)).messages)
    assert inputs["image_grid_thw"].tolist() == [[1, 1088 // 16, 1920 // 16]]
    qwen25_sized = Image.new("RGB", (1288, 728))
    messages = [{"role": "user", "content": [{"type": "image", "image": qwen25_sized}]}]
    with pytest.raises(BackendError, match="1288x728"):
        prepare_inputs(qwen3_backend.processor, messages)


def test_old_qwen_vl_utils_without_patch_argument_keeps_images(monkeypatch: pytest.MonkeyPatch) -> None:
    import qwen_vl_utils

    from screenpilot.models.backends.local import _vision_images

    def old_process_vision_info(conversations: Any) -> tuple[list[Any], None]:
        raise AssertionError("factor 28 would resize a Qwen3-VL image")

    monkeypatch.setattr(qwen_vl_utils, "process_vision_info", old_process_vision_info)
    image = Image.new("L", (64, 96))
    images = _vision_images([{"role": "user", "content": [{"type": "image", "image": image}]}], 16)
    assert [(i.size, i.mode) for i in images] == [((64, 96), "RGB")]


def test_unsupported_model_type_is_a_config_error(tmp_path: Path) -> None:
    from screenpilot.models.backends.local import LocalQwenBackend

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="bert"):
        LocalQwenBackend(tmp_path, device_map=None)


@pytest.mark.slow
def test_tiny_uitars_loads_as_qwen25_with_its_own_bounds(tmp_path_factory: pytest.TempPathFactory) -> None:
    from screenpilot.models.backends.local import LocalQwenBackend
    from screenpilot.models.tiny import build_tiny_uitars

    folder = build_tiny_uitars(tmp_path_factory.mktemp("tiny-ui-tars-1.5"))
    config = _json(folder, "config.json")
    assert config["model_type"] == "qwen2_5_vl" and "UI-TARS" in config["_name_or_path"]
    pre = _json(folder, "preprocessor_config.json")
    assert (pre["min_pixels"], pre["max_pixels"]) == (100 * 28 * 28, 16384 * 28 * 28)
    assert detect_format(str(folder)).name == "ui-tars-1.5"
    prompt = UITarsFormat()
    image = Image.new("RGB", prompt.model_size(SCREEN))
    backend = LocalQwenBackend(folder, max_new_tokens=2, device_map=None)
    try:
        reply = backend.complete(prompt.build_request("Click Submit", [], image, None))
    finally:
        backend.close()
    assert reply.usage.image_tokens == prompt.image_tokens(image.size) == 1196


# --- transformers serve --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen3_server(tiny_qwen3_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``transformers serve`` on the tiny Qwen3-VL; yields the base URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve-qwen3") / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(_serve_command(tiny_qwen3_dir, port), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}", deadline_s=120)
        yield f"http://127.0.0.1:{port}/v1"
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; log:\n{log_path.read_text(errors='replace')[-3000:]}") from None
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_qwen3_through_transformers_serve_sees_the_same_prompt(
    qwen3_server: str, tiny_qwen3_dir: Path, qwen3_backend: Any
) -> None:
    from screenpilot.models.backends.openai_compat import OpenAICompatBackend

    request = _qwen3_request(SCREEN)
    remote = OpenAICompatBackend(qwen3_server, str(tiny_qwen3_dir), max_tokens=4, max_retries=0, timeout_s=60)
    reply = remote.complete(request)
    local = qwen3_backend.complete(request)
    assert isinstance(reply.text, str)
    assert reply.usage.prompt_tokens == local.usage.prompt_tokens
    assert detect_format(str(tiny_qwen3_dir)).name == "qwen3-vl"
