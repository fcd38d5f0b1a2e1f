"""The tiny Qwen2.5-VL's head_dim option (vLLM's CPU attention takes 32, 64, 80, ... but not the default 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screenpilot.models import tiny

IDS = {content: index for index, (content, _) in enumerate(tiny.QWEN_ADDED_TOKENS)}


@pytest.mark.parametrize("head_dim", [16, 32, 64, 80])
def test_the_config_keeps_heads_and_scales_width_and_rope(head_dim: int) -> None:
    config = tiny.tiny_config_dict(IDS, 576, head_dim=head_dim)
    assert config["hidden_size"] // config["num_attention_heads"] == head_dim
    assert (config["num_attention_heads"], config["num_key_value_heads"]) == (tiny.HEADS, tiny.KV_HEADS)
    assert sum(config["rope_scaling"]["mrope_section"]) == head_dim // 2
    assert config["vision_config"]["out_hidden_size"] == config["hidden_size"]


def test_the_default_is_the_model_the_other_tests_use() -> None:
    assert tiny.tiny_config_dict(IDS, 576) == tiny.tiny_config_dict(IDS, 576, head_dim=16)
    assert tiny.tiny_config_dict(IDS, 576)["hidden_size"] == 64


@pytest.mark.parametrize("head_dim", [8, 24, 0])
def test_a_head_dim_that_is_not_a_multiple_of_16_is_refused(head_dim: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny.build_tiny_qwen25_vl(tmp_path / "m", head_dim=head_dim)
    assert not (tmp_path / "m").exists()


def test_head_dim_is_a_qwen25_option(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"qwen2\.5-vl option"):
        tiny.build_tiny("qwen3-vl", tmp_path / "m", head_dim=32)


@pytest.mark.slow
def test_the_cli_builds_a_head_dim_32_folder_and_refuses_a_bad_one(tmp_path: Path) -> None:
    from screenpilot.agent.cli.main import main

    assert main(["dev", "build-tiny-model", str(tmp_path / "bad"), "--head-dim", "24"]) == 2
    assert main(["dev", "build-tiny-model", str(tmp_path / "m"), "--head-dim", "32"]) == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["hidden_size"] // config["num_attention_heads"] == 32
