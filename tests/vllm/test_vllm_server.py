"""screenpilot against a real vLLM server (CPU build) serving the tiny Qwen2.5-VL: a run, the image-token
count the server reports, an evaluation sharing the server between two workers, and calibration naming a
server that resizes images with pixel bounds of its own.

The model is random: runs fail (every step recorded), clicks land anywhere; token counts are exact.
Skipped without the vLLM venv (``make test-vllm`` installs it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from screenpilot.agent.run.trajectory import read_run, read_steps
from screenpilot.models.resize import image_tokens, model_size_for
from tests.vllm.conftest import ROOT, SERVER_MAX_PIXELS, VllmServer

PAGE = ROOT / "scenarios" / "demo" / "signup.html"
SCENARIOS = ROOT / "scenarios"


def screenpilot(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screenpilot", *args], cwd=ROOT, text=True, capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _model(server: VllmServer) -> tuple[str, ...]:
    return ("--api-base", server.base_url, "--model", server.model, "--max-new-tokens", "12", "--timeout", "120")


def test_a_full_run_goes_through_and_records_every_step(vllm_server: VllmServer, tmp_path: Path,
                                                        vllm_notes: list[str]) -> None:
    result = screenpilot("run", "Sign up", "--url", str(PAGE), *_model(vllm_server), "--max-steps", "2",
                         "--viewport", "800x600", "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    run = read_run(run_dir)
    assert run.model is not None and "openai" in json.dumps(run.model)
    assert run.outcome is not None and run.outcome.reason != "infrastructure"
    steps = read_steps(run_dir)
    assert len(steps) == 2 and all(s.reply is not None for s in steps)
    assert {s.model_size for s in steps} == {(812, 588)} and {s.image_tokens for s in steps} == {29 * 21}
    assert all(s.usage is not None and s.usage.prompt_tokens and s.usage.prompt_tokens > 29 * 21 for s in steps)
    vllm_notes.append(f"run: 2 steps on 800x600 -> 812x588, prompt tokens {[s.usage.prompt_tokens for s in steps]}"
                      f" (image {29 * 21})")


def _calibration(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "calibration.json").read_text())
    return data


def test_the_server_counts_the_image_tokens_of_a_1288x728_screenshot(vllm_server: VllmServer, tmp_path: Path,
                                                                      vllm_notes: list[str]) -> None:
    result = screenpilot("calibrate", *_model(vllm_server), "--quick", "--viewport", "1280x720",
                         "--out", str(tmp_path))
    check = _calibration(tmp_path)["size_check"]
    assert isinstance(check, dict), result.stderr
    assert model_size_for((1280, 720)) == (1288, 728) and image_tokens(1288, 728) == 1196
    assert check["status"] == "pass" and check["sent"] == [[1288, 728]], check
    assert check["server_image_tokens"] == check["expected_image_tokens"] == 1196
    assert "The server counted 1196 image tokens" in result.stdout + result.stderr
    vllm_notes.append(f"calibrate 1280x720: the server counted {check['server_image_tokens']} image tokens for "
                      f"1288x728 (project figure {image_tokens(1288, 728)})")


def test_a_client_max_pixels_below_the_servers_keeps_the_image(vllm_server: VllmServer, tmp_path: Path,
                                                               vllm_notes: list[str]) -> None:
    small = 256 * 28 * 28
    assert small < SERVER_MAX_PIXELS
    result = screenpilot("calibrate", *_model(vllm_server), "--quick", "--viewport", "1920x1080",
                         "--max-pixels", str(small), "--out", str(tmp_path))
    check = _calibration(tmp_path)["size_check"]
    assert isinstance(check, dict), result.stderr
    size = model_size_for((1920, 1080), max_pixels=small)
    assert check["status"] == "pass" and check["sent"] == [list(size)]
    assert check["server_image_tokens"] == check["expected_image_tokens"] == image_tokens(*size)
    vllm_notes.append(f"calibrate 1920x1080 --max-pixels {small}: {size[0]}x{size[1]}, server counted "
                      f"{check['server_image_tokens']} image tokens")


def test_calibration_names_a_server_that_resizes_again(vllm_server: VllmServer, tmp_path: Path,
                                                       vllm_notes: list[str]) -> None:
    # The client's bound (the released 12,845,056) is above the server's 1,003,520: 1920x1080 goes out as
    # 1932x1092 (2,691 tokens) and the server shrinks it to 1316x728 (1,222 tokens).
    result = screenpilot("calibrate", *_model(vllm_server), "--quick", "--viewport", "1920x1080",
                         "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr
    data = _calibration(tmp_path)
    check = data["size_check"]
    assert isinstance(check, dict)
    assert check["status"] == "fail" and check["sent"] == [[1932, 1092]]
    assert (check["expected_image_tokens"], check["server_image_tokens"]) == (2691, image_tokens(1316, 728)) \
        == (2691, 1222)
    assert data["verdict"] == "fault" and "image_size_mismatch" in data["faults"]  # type: ignore[operator]
    output = result.stdout + result.stderr
    assert "Image size mismatch at the server" in output and "1222" in output and "1932x1092" in output
    vllm_notes.append(f"calibrate 1920x1080 (client max 12845056, server max {SERVER_MAX_PIXELS}): fault, "
                      f"{check['expected_image_tokens']} expected vs {check['server_image_tokens']} counted")


def test_an_evaluation_of_two_scenarios_shares_the_server_between_two_workers(
        vllm_server: VllmServer, tmp_path: Path, vllm_notes: list[str]) -> None:
    suite = tmp_path / "suite.txt"
    suite.write_text(f"{SCENARIOS / 'form_registration.yaml'}\n{SCENARIOS / 'todo_manage.yaml'}\n")
    out = tmp_path / "eval"
    result = screenpilot("eval", str(suite), *_model(vllm_server), "--workers", "2", "--max-steps", "2",
                         "--out", str(out))
    assert (out / "results.json").is_file(), result.stderr
    results = json.loads((out / "results.json").read_text())
    episodes = results["episodes"] if isinstance(results, dict) and "episodes" in results else results
    assert len(episodes) == 2, results
    text = json.dumps(results)
    assert "form_registration" in text and "todo_manage" in text
    assert "infrastructure" not in text, text
    run_dirs = [p.parent for p in out.rglob("steps.jsonl")]
    assert len(run_dirs) == 2
    assert all(len(read_steps(d)) == 2 and all(s.reply is not None for s in read_steps(d)) for d in run_dirs)
    vllm_notes.append(f"eval: 2 scenarios, 2 workers, exit {result.returncode}")
