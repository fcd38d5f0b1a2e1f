"""``screenpilot finetune``: what it refuses before any training starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screenpilot.agent.cli.main import main
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.learning.finetune import FinetuneSettings, finetune

pytest.importorskip("trl")
pytest.importorskip("peft")


@pytest.mark.slow
def test_one_training_step_writes_an_adapter_and_a_model_the_local_backend_loads(
        tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from screenpilot.agent.learning.export import export
    from screenpilot.models.backends.local import LocalQwenBackend

    from .test_export import _record
    from .test_run_browser import DEMO, DEMO_TASK

    run_dir, requests = _record(tmp_path / "runs", monkeypatch, DEMO_TASK, "--url", str(DEMO / "signup.html"),
                                "--model", f"scripted:{DEMO / 'signup_replies.json'}")
    export([run_dir], tmp_path / "data", ("hf",))
    lines: list[str] = []
    result = finetune(tmp_path / "data", tiny_model_dir, tmp_path / "tuned",
                      FinetuneSettings(modules_to_save=("lm_head",), max_steps=1, batch_size=2), progress=lines.append)
    assert [step for step, _ in result.losses] == [1] and any("loss" in line for line in lines)
    assert (result.adapter / "adapter_config.json").is_file()
    report = json.loads((tmp_path / "tuned" / "training.json").read_text())
    assert report["examples"] == 7 and report["settings"]["modules_to_save"] == ["lm_head"]
    backend = LocalQwenBackend(result.merged, device_map=None, max_new_tokens=4)
    try:
        assert backend.complete(requests[0]).usage.image_tokens == 1196
    finally:
        backend.close()


def test_finetune_refuses_what_it_cannot_train(tmp_path: Path, tiny_model_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finetune", str(tmp_path), "--base", str(tiny_model_dir), "--out", str(tmp_path / "o")]) == 2
    assert "is not a dataset folder" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not a model folder"):
        finetune(tmp_path, tmp_path / "nothing", tmp_path / "o")
    with pytest.raises(ConfigError, match="at least one target module"):
        finetune(tmp_path, tiny_model_dir, tmp_path / "o", FinetuneSettings(target_modules=()))
