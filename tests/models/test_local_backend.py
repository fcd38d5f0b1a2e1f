"""LocalQwenBackend end to end on the tiny model (CPU), and its configuration errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from qwen_vl_utils.vision_process import smart_resize as qwen_smart_resize

from screenpilot.agent.errors import BackendError, ConfigError
from screenpilot.models.base import ModelRequest
from screenpilot.models.resize import MAX_PIXELS, MIN_PIXELS, image_tokens

from .conftest import make_request, screenshot


def _predicted_tokens(screen: tuple[int, int]) -> int:
    height, width = qwen_smart_resize(screen[1], screen[0], factor=28, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    return image_tokens(width, height)


@pytest.mark.slow
def test_1280x720_screenshot_runs_end_to_end(local_backend: Any) -> None:
    request = make_request((1280, 720))
    assert request.image_size == (1288, 728)

    reply = local_backend.complete(request)

    assert isinstance(reply.text, str)
    assert reply.usage.image_tokens == 1196 == _predicted_tokens((1280, 720))
    assert reply.usage.prompt_tokens is not None and reply.usage.prompt_tokens > 1196
    assert reply.usage.completion_tokens is not None and 1 <= reply.usage.completion_tokens <= 8
    assert set(reply.timings) == {"preprocess", "prefill", "decode", "total"}
    assert all(value >= 0 for value in reply.timings.values())
    parts = reply.timings["preprocess"] + reply.timings["prefill"] + reply.timings["decode"]
    assert parts <= reply.timings["total"]


@pytest.mark.slow
def test_640x480_screenshot_runs_end_to_end(local_backend: Any) -> None:
    request = make_request((640, 480))
    assert request.image_size == (644, 476)

    reply = local_backend.complete(request)

    assert isinstance(reply.text, str)
    assert reply.usage.image_tokens == 17 * 23 == _predicted_tokens((640, 480))


@pytest.mark.slow
def test_processor_keeps_the_model_space_size(tiny_model_dir: Path) -> None:
    from transformers import AutoProcessor

    from screenpilot.models.backends.local import prepare_inputs

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    inputs = prepare_inputs(processor, make_request((1280, 720)).messages)

    assert inputs["image_grid_thw"].tolist() == [[1, 52, 92]]
    assert int((inputs["input_ids"] == processor.image_token_id).sum()) == 1196


@pytest.mark.slow
def test_two_images_of_different_sizes_keep_their_sizes(tiny_model_dir: Path) -> None:
    from transformers import AutoProcessor

    from screenpilot.models.backends.local import prepare_inputs

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    small, large = make_request((640, 480)), make_request((1280, 720))
    messages = [
        small.messages[0],
        {"role": "user", "content": small.messages[1]["content"] + large.messages[1]["content"]},
    ]
    inputs = prepare_inputs(processor, messages)

    assert inputs["image_grid_thw"].tolist() == [[1, 34, 46], [1, 52, 92]]


@pytest.mark.slow
def test_an_image_not_in_model_space_is_refused_with_both_sizes(local_backend: Any) -> None:
    image = screenshot((1280, 720))
    request = ModelRequest(
        messages=[{"role": "user", "content": [{"type": "image", "image": image}]}],
        image_size=(1280, 720),
        min_pixels=MIN_PIXELS,
        max_pixels=MAX_PIXELS,
    )
    with pytest.raises(BackendError) as caught:
        local_backend.complete(request)
    assert "1280x720" in caught.value.message
    assert "1288x728" in caught.value.message


def test_check_grids_names_both_sizes() -> None:
    from screenpilot.models.backends.local import check_grids

    check_grids([(1288, 728)], [[1, 52, 92]])
    with pytest.raises(BackendError, match=r"1288x728.*1260x700"):
        check_grids([(1288, 728)], [[1, 50, 90]])
    with pytest.raises(BackendError, match="2 image grids for 1 images"):
        check_grids([(1288, 728)], [[1, 52, 92], [1, 52, 92]])


@pytest.mark.slow
def test_describe_and_close(tiny_model_dir: Path) -> None:
    from screenpilot.models.backends.local import LocalQwenBackend

    backend = LocalQwenBackend(tiny_model_dir, device_map=None, max_new_tokens=2)
    info = backend.describe()
    assert info["backend"] == "local"
    assert info["model"] == str(tiny_model_dir)
    assert info["device"] == "cpu"
    assert info["dtype"] == "float32"
    assert backend.name == f"local:{tiny_model_dir}"

    backend.close()
    backend.close()
    with pytest.raises(BackendError, match="closed"):
        backend.complete(make_request((640, 480)))


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    from screenpilot.models.backends.local import LocalQwenBackend

    with pytest.raises(ConfigError, match="model folder not found"):
        LocalQwenBackend(tmp_path / "no-such-model")


@pytest.mark.slow
def test_unknown_hub_id_offline_is_a_config_error() -> None:
    from screenpilot.models.backends.local import LocalQwenBackend

    with pytest.raises(ConfigError, match="cannot load the model 'screenpilot-tests/no-such-model'"):
        LocalQwenBackend("screenpilot-tests/no-such-model")


def test_a_hub_id_without_the_hub_fails_at_once_without_retry_noise(tmp_path: Path) -> None:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env |= {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}  # nothing listens; empty cache
    result = subprocess.run(
        [sys.executable, "-m", "screenpilot", "run", "x", "--url", "about:blank", "--model", "qwen2.5-vl-7b",
         "--out", str(tmp_path / "runs")],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    err = " ".join(result.stderr.split())
    assert "the Hugging Face hub (http://127.0.0.1:9) cannot be reached and the model is not in the local cache" in err
    assert "hf download Qwen/Qwen2.5-VL-7B-Instruct" in err
    assert "Retrying" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    from screenpilot.models.backends.local import LocalQwenBackend

    with pytest.raises(ConfigError, match="max_new_tokens"):
        LocalQwenBackend(tmp_path, max_new_tokens=0)
    with pytest.raises(ConfigError, match="unknown dtype"):
        LocalQwenBackend(tmp_path, dtype="float8")


def test_missing_libraries_give_the_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from screenpilot.models.backends.local import LocalQwenBackend

    monkeypatch.setitem(sys.modules, "qwen_vl_utils", None)
    with pytest.raises(ConfigError, match=r"pip install 'screenpilot\[local\]'"):
        LocalQwenBackend(tmp_path)


@pytest.mark.parametrize(
    ("model", "is_path"),
    [
        ("Qwen/Qwen2.5-VL-7B-Instruct", False),
        ("/models/qwen", True),
        ("./tiny", True),
        ("~/models/qwen", True),
        ("a/b/c", True),
    ],
)
def test_looks_like_path(model: str, is_path: bool) -> None:
    from screenpilot.models.backends.local import looks_like_path

    assert looks_like_path(model) is is_path
