"""Model spec parsing and backend construction for the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screenpilot.agent.errors import ConfigError
from screenpilot.models.select import LocalOptions, ModelSpec, OpenAIOptions, build_backend, parse_model_spec

API_BASE = "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize(
    ("spec", "hub_id"),
    [
        ("qwen2.5-vl-3b", "Qwen/Qwen2.5-VL-3B-Instruct"),
        ("qwen2.5-vl-7b", "Qwen/Qwen2.5-VL-7B-Instruct"),
        ("qwen2.5-vl-32b", "Qwen/Qwen2.5-VL-32B-Instruct"),
        ("qwen2.5-vl-72b", "Qwen/Qwen2.5-VL-72B-Instruct"),
        ("qwen2.5-vl", "Qwen/Qwen2.5-VL-7B-Instruct"),
        ("Qwen2.5-VL-7B", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ],
)
def test_aliases_name_hub_ids_for_the_local_backend(spec: str, hub_id: str) -> None:
    assert parse_model_spec(spec) == ModelSpec("local", hub_id)


def test_hub_id_and_folder_are_local(tmp_path: Path) -> None:
    assert parse_model_spec("Qwen/Qwen2.5-VL-3B-Instruct") == ModelSpec("local", "Qwen/Qwen2.5-VL-3B-Instruct")
    assert parse_model_spec(str(tmp_path)) == ModelSpec("local", str(tmp_path))


def test_scripted() -> None:
    assert parse_model_spec("scripted:replies.json") == ModelSpec("scripted", "replies.json")
    assert parse_model_spec("scripted:r.json", api_base=API_BASE) == ModelSpec("scripted", "r.json")
    with pytest.raises(ConfigError, match="scripted:"):
        parse_model_spec("scripted:")


def test_any_name_with_an_api_base_is_a_served_model(tmp_path: Path) -> None:
    assert parse_model_spec("my-model", api_base=API_BASE) == ModelSpec("openai", "my-model", API_BASE)
    assert parse_model_spec("qwen2.5-vl-7b", api_base=API_BASE) == ModelSpec(
        "openai", "Qwen/Qwen2.5-VL-7B-Instruct", API_BASE
    )
    assert parse_model_spec(str(tmp_path), api_base=API_BASE) == ModelSpec("openai", str(tmp_path), API_BASE)


@pytest.mark.parametrize("spec", ["my-model", "", "gpt 4"])
def test_unknown_specs_explain_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ConfigError, match=r"qwen2\.5-vl-7b") as caught:
        parse_model_spec(spec)
    assert "scripted:PATH" in caught.value.message
    assert "--api-base" in caught.value.message


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model folder not found"):
        parse_model_spec(str(tmp_path / "missing" / "model"))


def test_build_scripted(tmp_path: Path) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(["hello"]))

    backend = build_backend(f"scripted:{replies}")

    assert backend.name == f"scripted:{replies}"


def test_build_openai_passes_options() -> None:
    from screenpilot.models.backends.openai_compat import OpenAICompatBackend

    backend = build_backend(
        "served-name",
        api_base=API_BASE,
        api_key="sk-x",
        remote=OpenAIOptions(image_format="jpeg", timeout_s=5, max_retries=1, max_tokens=64),
    )

    assert isinstance(backend, OpenAICompatBackend)
    assert (backend.model, backend.api_key, backend.image_format) == ("served-name", "sk-x", "jpeg")
    assert (backend.timeout_s, backend.max_retries, backend.max_tokens) == (5, 1, 64)


@pytest.mark.slow
def test_build_local_on_the_tiny_model(tiny_model_dir: Path) -> None:
    from screenpilot.models.backends.local import LocalQwenBackend

    backend = build_backend(str(tiny_model_dir), local=LocalOptions(device_map=None, max_new_tokens=3))

    assert isinstance(backend, LocalQwenBackend)
    assert backend.describe()["max_new_tokens"] == 3
    backend.close()
