"""``screenpilot export``: examples rebuilt from real run folders are what the model received, and every format
loads with the libraries that read it.

The demo is recorded in headless Chromium with the scripted model, whose ``requests`` hold what it was sent.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import screenpilot.agent.run.runner
from screenpilot.agent.actions import to_json
from screenpilot.agent.cli.main import main
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.learning.examples import rebuild_format, run_examples
from screenpilot.agent.learning.export import export
from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.models.base import ModelRequest

from .test_loop import call
from .test_run_browser import DEMO, DEMO_TASK, ROOT, click_reply, only_run

datasets = pytest.importorskip("datasets")


def _record(out: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Path, list[ModelRequest]]:
    """Run ``screenpilot run ARGS --out OUT`` in-process; the run folder and the requests the model received."""
    built: list[Any] = []
    real = screenpilot.agent.run.runner.build_model

    def keep(settings: Any) -> Any:
        built.append(real(settings))
        return built[-1]

    with monkeypatch.context() as patch:
        patch.setattr(screenpilot.agent.run.runner, "build_model", keep)
        main(["run", *args, "--out", str(out), "--quiet"])
    return only_run(out), list(built[0].requests)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ModelRequest]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return _record(tmp_path_factory.mktemp("demo"), monkeypatch, DEMO_TASK, "--url", str(DEMO / "signup.html"),
                       "--model", f"scripted:{DEMO / 'signup_replies.json'}")


def _plain(request: ModelRequest) -> list[object]:
    """The request's messages with each image as (mode, size, pixel bytes), for comparison."""
    return [{"role": m["role"], "content": [
        {"image": (p["image"].mode, p["image"].size, p["image"].tobytes())} if p["type"] == "image" else p
        for p in m["content"]]} for m in request.messages]


def test_each_example_is_the_request_the_model_received(demo_run: tuple[Path, list[ModelRequest]]) -> None:
    run_dir, requests = demo_run
    examples = run_examples(run_dir)
    assert len(examples) == len(requests) == 7
    for example, request in zip(examples, requests, strict=True):
        assert _plain(example.request) == _plain(request)
        assert example.request.image_size == request.image_size == (1288, 728)


def test_each_target_parses_to_the_recorded_actions(demo_run: tuple[Path, list[ModelRequest]]) -> None:
    run_dir, _ = demo_run
    prompt = rebuild_format(read_run(run_dir))
    steps = {step.index: step for step in read_steps(run_dir)}
    for example in run_examples(run_dir):
        step = steps[example.step]
        assert example.target == step.reply
        assert step.model_size is not None
        assert [to_json(a) for a in prompt.parse(example.target, step.model_size)] == step.actions_model


def _decode(url: str) -> Image.Image:
    header, data = url.split(",", 1)
    assert header == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_every_format_loads_with_its_reader(demo_run: tuple[Path, list[ModelRequest]], tmp_path: Path) -> None:
    run_dir, requests = demo_run
    out = tmp_path / "data"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["examples"] == 7 and manifest["prompt_formats"] == {"qwen2.5-vl": 7}
    assert set(manifest["formats"]) == {"llamafactory", "hf", "openai"}
    assert all(entry["bytes"] > 0 for entry in manifest["formats"].values())

    factory = datasets.load_dataset("json", data_files=str(out / "llamafactory" / "data.json"), split="train")
    assert len(factory) == 7
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())["screenpilot"]
    assert info["file_name"] == "data.json" and info["formatting"] == "sharegpt"
    for record, request in zip(factory, requests, strict=True):
        assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
        assert record["messages"][1]["content"].count("<image>") == len(record["images"]) == 1
        assert record["messages"][0]["content"] == request.messages[0]["content"][0]["text"]
        assert Image.open(out / "llamafactory" / record["images"][0]).size == (1288, 728)

    hf = datasets.load_from_disk(str(out / "hf"))
    assert len(hf) == 7 and hf.features["images"].feature.__class__.__name__ == "Image"
    assert [row["completion"][0]["content"][0]["text"] for row in hf] == [s.reply for s in read_steps(run_dir)]
    assert all(image.size == (1288, 728) for row in hf for image in row["images"])

    lines = (out / "openai" / "data.jsonl").read_text().splitlines()
    assert len(lines) == 7
    first = json.loads(lines[0])["messages"]
    image_parts = [p for p in first[1]["content"] if p["type"] == "image_url"]
    assert len(image_parts) == 1 and _decode(image_parts[0]["image_url"]["url"]).size == (1288, 728)
    assert first[-1] == {"role": "assistant", "content": read_steps(run_dir)[0].reply}


def test_a_failed_run_exports_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    short = tmp_path / "short.json"
    short.write_text(json.dumps([call(action="left_click", coordinate=[644, 204])]))
    run_dir, _ = _record(tmp_path / "runs", monkeypatch, "task", "--url", str(DEMO / "signup.html"),
                         "--model", f"scripted:{short}")
    assert read_run(run_dir).outcome is not None and read_run(run_dir).outcome.reason == "script_exhausted"
    with pytest.raises(ConfigError, match=r"no examples to export.*outcome failure"):
        export([run_dir], tmp_path / "none")
    assert not (tmp_path / "none").exists()
    result = export([run_dir], tmp_path / "all", ("openai",), include_failed=True)
    # the click made an example; the second step hit the end of the script (a stop error, no reply): dropped
    assert result.examples == 1 and result.sources[0].dropped == ["step 2: no reply"]


def test_folders_that_are_not_runs_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "neither a run folder" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown export format"):
        export([tmp_path], tmp_path / "y", ("csv",))


def test_a_secret_value_appears_in_no_exported_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value = "s3cr3t-Value-42"  # secret_echo.html shows what is typed, also in a frame
    monkeypatch.setenv("CODE", value)
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([click_reply(150, 136), call(action="type", text="{{CODE}}"),
                                   call(action="terminate", status="success")]), encoding="utf-8")
    run_dir, requests = _record(tmp_path / "runs", monkeypatch, "Type the code", "--url",
                                str(ROOT / "tests" / "pages" / "secret_echo.html"), "--model", f"scripted:{replies}",
                                "--secret", "CODE")
    examples = run_examples(run_dir)
    assert [_plain(e.request) for e in examples] == [_plain(r) for r in requests]
    assert "{{CODE}}" in examples[0].request.messages[1]["content"][0]["text"]  # the secrets' note
    out = tmp_path / "data"
    assert export([run_dir], out).examples == 3
    exported = [path.read_bytes() for path in out.rglob("*") if path.is_file()]
    assert exported and not any(value.encode() in data for data in exported)
    assert any(b"{{CODE}}" in data for data in exported)


def test_an_evaluation_exports_the_model_calls_of_its_passed_episodes(tmp_path: Path) -> None:
    """A bundled scenario evaluated with its scripted replies, beside a copy whose script ends after three replies
    (so the episode fails): the export holds exactly the model calls of the passed episode."""
    bundled = ROOT / "scenarios" / "form_registration.yaml"
    replies = json.loads((ROOT / "scenarios" / "replies" / "form_registration.json").read_text())
    suite = tmp_path / "suite"
    suite.mkdir()
    text, line = bundled.read_text(), "replies: replies/form_registration.json"
    (suite / "form_registration.yaml").write_text(text.replace(line, f"replies: {bundled.parent}/{line[9:]}"))
    (suite / "short.json").write_text(json.dumps(replies[:3]))
    (suite / "form_registration_short.yaml").write_text(
        text.replace("id: form_registration", "id: form_registration_short").replace(line, "replies: short.json"))
    evaluation = tmp_path / "E"
    assert main(["eval", str(suite), "--out", str(evaluation)]) == 1  # one episode failed
    episodes = json.loads((evaluation / "results.json").read_text())["episodes"]
    assert sorted((e["task"], e["success"]) for e in episodes) == [("form_registration", True),
                                                                     ("form_registration_short", False)]
    calls = {e["task"]: sum(1 for s in read_steps(evaluation / e["run_dir"]) if s.reply is not None) for e in episodes}
    assert calls == {"form_registration": len(replies), "form_registration_short": 3}

    result = export([evaluation], tmp_path / "data", ("openai", "hf"))
    assert result.examples == calls["form_registration"] == 12
    passed = [evaluation / e["run_dir"] for e in episodes if e["success"]]
    assert [(s.run_dir, s.evaluation, s.examples) for s in result.sources] == [(passed[0], evaluation, 12)]
    assert len((tmp_path / "data" / "openai" / "data.jsonl").read_text().splitlines()) == 12
    assert len(datasets.load_from_disk(str(tmp_path / "data" / "hf"))) == 12
