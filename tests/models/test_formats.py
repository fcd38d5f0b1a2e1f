"""Choosing the prompt format: names, detection from the model, bounds, the CLI and run.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.runner import build_prompt_format
from screenpilot.agent.run.settings import ModelSettings, PromptSettings, RunSettings
from screenpilot.models.formats.registry import (
    QWEN3,
    QWEN25,
    UITARS,
    choose_format,
    default_bounds,
    detect_format,
    format_name,
    make_format,
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (None, QWEN25),
        ("", QWEN25),
        ("qwen2.5-vl-7b", QWEN25),
        ("Qwen/Qwen2.5-VL-72B-Instruct", QWEN25),
        ("qwen3-vl-8b", QWEN3),
        ("Qwen/Qwen3-VL-30B-A3B-Instruct", QWEN3),
        ("Qwen/Qwen3-VL-8B-Thinking", QWEN3),
        ("qwen3_vl_235b", QWEN3),
        ("ui-tars-1.5-7b", UITARS),
        ("ByteDance-Seed/UI-TARS-1.5-7B", UITARS),
        ("bytedance/uitars-7b-dpo", UITARS),
        ("scripted:replies/qwen3-vl-login.json", QWEN3),
        ("scripted:replies.json", QWEN25),
        ("my-finetune", QWEN25),
    ],
)
def test_detect_from_the_model_name(model: str | None, expected: str) -> None:
    assert detect_format(model).name == expected


def _folder(tmp_path: Path, name: str, config: dict[str, object]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("name", "config", "expected"),
    [
        ("checkpoint", {"model_type": "qwen3_vl"}, QWEN3),
        ("checkpoint", {"model_type": "qwen3_vl_moe"}, QWEN3),
        ("checkpoint", {"model_type": "qwen2_5_vl"}, QWEN25),
        ("UI-TARS-1.5-7B", {"model_type": "qwen2_5_vl"}, UITARS),
        ("checkpoint", {"model_type": "qwen2_5_vl", "_name_or_path": "ByteDance-Seed/UI-TARS-1.5-7B"}, UITARS),
        ("qwen3-vl-looking-name", {"model_type": "qwen2_5_vl"}, QWEN25),
        ("qwen3-vl-8b", {"model_type": "llava"}, QWEN3),
    ],
)
def test_detect_from_a_folder_config(tmp_path: Path, name: str, config: dict[str, object], expected: str) -> None:
    folder = _folder(tmp_path, name, config)
    choice = detect_format(str(folder))
    assert choice.name == expected
    assert choice.reason


def test_a_folder_without_a_readable_config_falls_back_to_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "Qwen3-VL-4B"
    folder.mkdir()
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    assert detect_format(str(folder)).name == QWEN3


def test_explicit_names_override_detection() -> None:
    assert choose_format("qwen3-vl", "qwen2.5-vl-7b").name == QWEN3
    assert choose_format("ui-tars", None).name == UITARS
    assert choose_format("AUTO", "ui-tars-1.5-7b").name == UITARS
    assert format_name("qwen25") == QWEN25
    with pytest.raises(ConfigError, match="qwen3-vl"):
        choose_format("llava", None)


def test_each_format_has_its_family_bounds() -> None:
    assert default_bounds("qwen2.5-vl") == (3136, 12845056)
    assert default_bounds("qwen3-vl") == (65536, 16777216)
    assert default_bounds("ui-tars") == (78400, 12845056)
    for name in (QWEN25, QWEN3, UITARS):
        prompt = make_format(name, keep_images=2)
        assert prompt.name == name
        assert (prompt.min_pixels, prompt.max_pixels) == default_bounds(name)
    assert make_format("qwen3-vl", min_pixels=4096, max_pixels=1003520).max_pixels == 1003520


def test_runner_picks_the_models_format_and_its_bounds() -> None:
    prompt = build_prompt_format(PromptSettings(), "browser", "qwen3-vl-8b")
    assert prompt.name == QWEN3 and (prompt.min_pixels, prompt.max_pixels) == (65536, 16777216)
    explicit = PromptSettings(format="ui-tars", min_pixels=3136, max_pixels=1003520)
    prompt = build_prompt_format(explicit, "desktop", "qwen3-vl-8b")
    assert prompt.name == UITARS and (prompt.min_pixels, prompt.max_pixels) == (3136, 1003520)
    assert build_prompt_format(PromptSettings(), "browser").name == QWEN25


def test_an_explicit_bound_is_honoured_even_when_it_equals_a_default() -> None:
    # Qwen2.5-VL's defaults asked of Qwen3-VL (whose own pair is 65,536 .. 16,777,216).
    asked = PromptSettings(min_pixels=3136, max_pixels=12845056)
    for kind in ("browser", "desktop"):
        prompt = build_prompt_format(asked, kind, "qwen3-vl-8b")
        assert (prompt.min_pixels, prompt.max_pixels) == (3136, 12845056)
    only_max = build_prompt_format(PromptSettings(max_pixels=12845056), "browser", "ui-tars-1.5-7b")
    assert (only_max.min_pixels, only_max.max_pixels) == (78400, 12845056)
    phone = build_prompt_format(PromptSettings(max_pixels=802816), "phone", "qwen2.5-vl-7b")
    assert (phone.min_pixels, phone.max_pixels) == (3136, 802816)
    unattended = build_prompt_format(asked, "browser", "qwen3-vl-8b", ask_user=False, terminate_answer=True)
    assert (unattended.min_pixels, unattended.max_pixels) == (3136, 12845056)
    assert "ask_user" not in unattended.system_prompt((1288, 728))


def test_cli_prompt_format_option_reaches_the_settings(run_settings_of: Callable[[list[str]], RunSettings],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from screenpilot.agent.cli.main import main

    assert run_settings_of(["run", "task", "--model", "qwen3-vl-8b", "--prompt-format", "ui-tars"]).prompt.format \
        == "ui-tars"
    assert run_settings_of(["run", "task", "--model", "qwen3-vl-8b"]).prompt.format == "auto"
    assert main(["run", "task", "--model", "m", "--prompt-format", "llava"]) == 2
    assert "llava" in capsys.readouterr().err


def test_build_tiny_model_takes_a_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from screenpilot.agent.cli.main import main
    from screenpilot.models import tiny

    built: list[tuple[str, Path]] = []

    def fake(family: str) -> object:
        def build(out_dir: Path, seed: int = 0) -> Path:
            out_dir.mkdir(parents=True)
            (out_dir / "config.json").write_text("{}")
            built.append((family, out_dir))
            return out_dir

        return build

    monkeypatch.setattr(tiny, "build_tiny_qwen3_vl", fake("qwen3-vl"))
    monkeypatch.setattr(tiny, "build_tiny_uitars", fake("ui-tars"))
    assert main(["dev", "build-tiny-model", str(tmp_path / "q3"), "--family", "qwen3-vl"]) == 0
    assert main(["dev", "build-tiny-model", str(tmp_path / "ut"), "--family", "ui-tars"]) == 0
    assert built == [("qwen3-vl", tmp_path / "q3"), ("ui-tars", tmp_path / "ut")]
    with pytest.raises(ValueError):
        tiny.build_tiny("llava", tmp_path / "x")


@pytest.mark.slow
def test_run_json_records_the_detected_format(tmp_path: Path) -> None:
    from screenpilot.agent.errors import ExecutorError
    from screenpilot.agent.run.runner import run_task
    from screenpilot.agent.run.settings import BrowserTarget, RunSettings

    replies = tmp_path / "qwen3-vl-replies.json"
    replies.write_text(json.dumps([
        '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 500]}}'
        "</tool_call>",
        '<tool_call>{"name": "computer_use", "arguments": {"action": "answer", "text": "seen"}}</tool_call>',
    ]), encoding="utf-8")
    page = tmp_path / "page.html"
    page.write_text("<html><body><button>ok</button></body></html>", encoding="utf-8")
    settings = RunSettings(task="Click the middle", model=ModelSettings(f"scripted:{replies}"),
                           target=BrowserTarget(url=page.as_uri(), viewport=(800, 600)), out_dir=tmp_path / "runs",
                           quiet=True)
    try:
        outcome = run_task(settings)
    except (ConfigError, ExecutorError) as exc:
        pytest.skip(f"no usable Chromium here: {exc}")
    assert outcome.result.status == "success" and outcome.result.answer == "seen"
    run = json.loads((outcome.run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["prompt_format"]["name"] == "qwen3-vl"
    assert run["prompt_format"]["format"] == "auto"
    assert run["resize"] == {"min_pixels": 65536, "max_pixels": 16777216}
    step = json.loads((outcome.run_dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert step["actions_model"][0]["at"] == [500, 500]
    assert step["actions_screen"][0]["at"] == [400, 300]
