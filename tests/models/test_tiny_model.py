"""The tiny random Qwen2.5-VL: files, configuration facts, tokenizer and loading like the real 7B."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RELEASED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.json",
    "preprocessor_config.json",
)


def _json(folder: Path, name: str) -> dict[str, Any]:
    return json.loads((folder / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def processor(tiny_model_dir: Path) -> Any:
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model_dir)


@pytest.mark.slow
def test_folder_has_the_released_files_and_is_small(tiny_model_dir: Path) -> None:
    from screenpilot.models.tiny import folder_size_bytes

    for name in RELEASED_FILES:
        assert (tiny_model_dir / name).is_file(), name
    assert folder_size_bytes(tiny_model_dir) < 3_000_000


@pytest.mark.slow
def test_config_is_flat_with_consistent_rope(tiny_model_dir: Path) -> None:
    config = _json(tiny_model_dir, "config.json")
    assert config["model_type"] == "qwen2_5_vl"
    assert "text_config" not in config
    head_dim = config["hidden_size"] // config["num_attention_heads"]
    assert sum(config["rope_scaling"]["mrope_section"]) == head_dim // 2
    vision = config["vision_config"]
    assert (vision["patch_size"], vision["spatial_merge_size"], vision["temporal_patch_size"]) == (14, 2, 2)
    assert vision["out_hidden_size"] == config["hidden_size"]


@pytest.mark.slow
def test_preprocessor_config_has_the_released_values(tiny_model_dir: Path) -> None:
    pre = _json(tiny_model_dir, "preprocessor_config.json")
    assert pre["min_pixels"] == 3136
    assert pre["max_pixels"] == 12845056
    assert (pre["patch_size"], pre["temporal_patch_size"], pre["merge_size"]) == (14, 2, 2)
    assert pre["image_mean"] == [0.48145466, 0.4578275, 0.40821073]
    assert pre["image_std"] == [0.26862954, 0.26130258, 0.27577711]
    assert pre["image_processor_type"] == "Qwen2VLImageProcessor"


@pytest.mark.slow
def test_loads_with_the_same_calls_as_the_released_model(tiny_model_dir: Path, processor: Any) -> None:
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model_dir)
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert type(processor.image_processor).__name__.startswith("Qwen2VLImageProcessor")
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert model.config.image_token_id == processor.image_token_id
    assert model.config.get_text_config().hidden_size == 64


@pytest.mark.slow
def test_special_token_ids_match_the_config(tiny_model_dir: Path, processor: Any) -> None:
    config = _json(tiny_model_dir, "config.json")
    tokenizer = processor.tokenizer
    expected = {
        "<|image_pad|>": config["image_token_id"],
        "<|video_pad|>": config["video_token_id"],
        "<|vision_start|>": config["vision_start_token_id"],
        "<|vision_end|>": config["vision_end_token_id"],
        "<|im_end|>": config["eos_token_id"],
    }
    for token, token_id in expected.items():
        assert tokenizer.convert_tokens_to_ids(token) == token_id, token
    assert len(tokenizer) <= config["vocab_size"]


@pytest.mark.slow
def test_tool_call_tags_survive_skip_special_tokens(processor: Any) -> None:
    tokenizer = processor.tokenizer
    text = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click"}}\n</tool_call>'
    ids = tokenizer(text + "<|im_end|>")["input_ids"]
    assert tokenizer.convert_tokens_to_ids("<tool_call>") in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


@pytest.mark.slow
def test_chat_template_renders_the_qwen_format(processor: Any) -> None:
    from PIL import Image

    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": Image.new("RGB", (56, 56))}, {"type": "text", "text": "Hi"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
    ]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|im_end|>\n"
        "<|im_start|>assistant\nHello<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_main_builds_into_the_folder_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from screenpilot.models import tiny

    def fake_build(out_dir: Path, seed: int = 0) -> Path:
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")
        return out_dir

    monkeypatch.setattr(tiny, "build_tiny_qwen25_vl", fake_build)
    assert tiny.main([str(tmp_path / "out")]) == 0
    output = capsys.readouterr().out
    assert str(tmp_path / "out") in output
    assert " s (" in output
    assert "MB" in output
