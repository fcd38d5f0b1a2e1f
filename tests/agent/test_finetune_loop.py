"""The closed loop: record the demo with the scripted model, export it, fine-tune the tiny Qwen2.5-VL on it, and the
tuned model completes the same task in a real browser through the local transformers backend, where the untuned one
fails, and again with the merged folder behind ``transformers serve``. Also the finetune command's refusals, which
need no training."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from screenpilot.agent.cli.main import main
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.learning.export import export
from screenpilot.agent.learning.finetune import FinetuneSettings, finetune, summary
from screenpilot.agent.run.trajectory import read_run, read_steps
from tests.conftest import _serve_command, free_port, wait_healthy

from .test_run_browser import DEMO, DEMO_TASK, only_run

pytest.importorskip("trl")
pytest.importorskip("peft")

MAX_PIXELS = 37632
"""The model image's area bound for the loop: the 1280x720 viewport becomes a 252x140 image (45 image tokens
instead of 1196), so each example is about 2,700 tokens, nearly all of them the system prompt."""
MODEL_SIZE = (252, 140)
FULL_SIZE = (1288, 728)
"""The model image of the demo's own replies (the default bounds), whose coordinates are scaled to MODEL_SIZE."""
GENERATION = ("--max-pixels", str(MAX_PIXELS), "--max-new-tokens", "64")  # the longest reply is 45 tokens

TUNING = FinetuneSettings(rank=16, alpha=32, target_modules=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                             "up_proj", "down_proj"),
                          modules_to_save=("lm_head", "embed_tokens"), learning_rate=1e-2, max_steps=80,
                          batch_size=7, scheduler="linear", seed=0)
"""Measured on the tiny model (2 CPU cores, 1.4-2.8 s a step): loss 6.40 -> 0.62 at step 24 -> 0.11 at 46 -> 0.015 at
80, and all seven replies come back exactly under greedy decoding. 60 steps (loss 0.087-0.097) were enough with
Pillow-resized screenshots but gave six replies of seven with OpenCV's, so 80 leave a margin. With LoRA on q/v
alone and lm_head trained (lr 2e-2, constant) the loss was still 0.63 after 40 steps and no reply came back right;
all linear modules at a constant 1e-2 reached 0.03-0.1 with spikes by step 80 and six replies of seven."""


def _scaled_replies(path: Path) -> Path:
    """The demo's scripted replies with their coordinates moved from the default model image to MODEL_SIZE."""
    def scale(match: re.Match[str]) -> str:
        x, y = int(match.group(1)), int(match.group(2))
        return f"[{round(x * MODEL_SIZE[0] / FULL_SIZE[0])}, {round(y * MODEL_SIZE[1] / FULL_SIZE[1])}]"

    replies = json.loads((DEMO / "signup_replies.json").read_text())
    path.write_text(json.dumps([re.sub(r"\[(\d+), (\d+)\]", scale, reply) for reply in replies]), encoding="utf-8")
    return path


def _run(out: Path, model: str, *extra: str) -> Path:
    main(["run", DEMO_TASK, "--url", str(DEMO / "signup.html"), "--model", model, "--out", str(out), "--quiet",
          *GENERATION, *extra])
    return only_run(out)


@pytest.mark.slow
def test_the_tuned_tiny_model_completes_the_task_it_was_shown(tiny_model_dir: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    recorded = _run(tmp_path / "recorded", f"scripted:{_scaled_replies(tmp_path / 'replies.json')}")
    asked = read_steps(recorded)
    assert [s.model_size for s in asked] == [MODEL_SIZE] * 7 and asked[-1].title == "Signed up"
    data = tmp_path / "data"
    assert export([recorded], data, ("hf",)).examples == 7

    untuned = _run(tmp_path / "untuned", str(tiny_model_dir), "--max-steps", "3")
    outcome = read_run(untuned).outcome
    assert outcome is not None and outcome.status != "success"
    assert all(s.title != "Signed up" for s in read_steps(untuned))

    started = time.perf_counter()
    result = finetune(data, tiny_model_dir, tmp_path / "tuned", TUNING)
    with capsys.disabled():
        print(f"\nfine-tuning: {result.train_s:.1f}s training, {time.perf_counter() - started:.1f}s in all; "
              f"loss (step:loss) {summary(result.losses)}")
    assert (result.adapter / "adapter_config.json").is_file()
    report = json.loads((tmp_path / "tuned" / "training.json").read_text())
    assert report["examples"] == 7 and len(report["losses"]) == TUNING.max_steps
    assert report["settings"]["modules_to_save"] == ["lm_head", "embed_tokens"]

    tuned = _run(tmp_path / "tuned-run", str(result.merged))
    outcome = read_run(tuned).outcome
    done = read_steps(tuned)
    assert [s.reply for s in done] == [s.reply for s in asked]  # greedy decoding gives back every trained reply
    assert outcome is not None and (outcome.status, outcome.steps) == ("success", 7)
    assert [s.actions_screen for s in done] == [s.actions_screen for s in asked]
    assert done[-1].title == "Signed up"  # the page's own state once the form was submitted

    # the same merged folder behind `transformers serve`, through the OpenAI-compatible backend
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(_serve_command(result.merged, port), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(server, f"http://127.0.0.1:{port}", deadline_s=180)
        served = _run(tmp_path / "served-run", str(result.merged), "--api-base", f"http://127.0.0.1:{port}/v1")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    outcome = read_run(served).outcome
    assert [s.reply for s in read_steps(served)] == [s.reply for s in asked], (tmp_path / "serve.log").read_text()
    assert outcome is not None and (outcome.status, outcome.steps) == ("success", 7)
    assert read_steps(served)[-1].title == "Signed up"


def test_finetune_refuses_what_it_cannot_train(tmp_path: Path, tiny_model_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finetune", str(tmp_path), "--base", str(tiny_model_dir), "--out", str(tmp_path / "o")]) == 2
    assert "is not a dataset folder" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not a model folder"):
        finetune(tmp_path, tmp_path / "nothing", tmp_path / "o")
    with pytest.raises(ConfigError, match="at least one target module"):
        finetune(tmp_path, tiny_model_dir, tmp_path / "o", FinetuneSettings(target_modules=()))
    with pytest.raises(ConfigError, match="unknown learning-rate schedule"):
        finetune(tmp_path, tiny_model_dir, tmp_path / "o", FinetuneSettings(scheduler="sometimes"))
