"""``screenpilot run`` with real model backends on CPU: the tiny Qwen2.5-VL locally and behind
``transformers serve``, and a server that dies mid-run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from screenpilot.agent.run.trajectory import read_run, read_steps

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "scenarios" / "demo" / "signup.html"

# A stand-in for an OpenAI-compatible server (not a model): answers every chat completion with
# a wait action and counts requests in a file; the test kills it with SIGKILL mid-run.
STANDIN_SERVER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count_file = sys.argv[1]
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(count_file, "a") as fh: fh.write("x")
        text = '<tool_call>{"name": "computer_use", "arguments": {"action": "wait", "time": 0.2}}</tool_call>'
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}],
                           "usage": {"prompt_tokens": 1300, "completion_tokens": 20}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def screenpilot(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screenpilot", "run", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def the_run(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_local_tiny_model_runs_the_loop_and_fails_gracefully(tiny_model_dir: Path, tmp_path: Path) -> None:
    result = screenpilot("Sign up", "--url", str(PAGE), "--model", str(tiny_model_dir), "--max-steps", "3",
                         "--max-new-tokens", "12", "--device-map", "cpu", "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr
    run_dir = the_run(tmp_path)
    run = read_run(run_dir)
    assert run.outcome is not None and run.outcome.status == "failure"
    assert run.outcome.reason in ("model_errors", "max_steps")
    assert isinstance(run.model, dict) and run.model["backend"] == "local"
    steps = read_steps(run_dir)
    assert len(steps) == run.outcome.steps >= 1
    for step in steps:
        assert step.image_tokens == 1196  # smart_resize(720, 1280) -> 728x1288 -> 26*46 tokens
        assert step.usage is not None and step.usage.image_tokens == 1196
        assert (step.usage.completion_tokens or 0) >= 1
        assert isinstance(step.reply, str)
        assert step.error is None or step.error.family == "model"


def test_openai_compatible_backend_against_transformers_serve(
    tiny_model_dir: Path, transformers_server: str, tmp_path: Path
) -> None:
    result = screenpilot("Sign up", "--url", str(PAGE), "--api-base", transformers_server, "--model",
                         str(tiny_model_dir), "--max-steps", "2", "--max-new-tokens", "12", "--viewport", "800x600",
                         "--max-pixels", str(256 * 28 * 28), "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr
    run = read_run(the_run(tmp_path))
    assert run.model is not None and "openai" in json.dumps(run.model)
    assert run.resize is not None and run.resize.max_pixels == 256 * 28 * 28
    steps = read_steps(the_run(tmp_path))
    assert steps and all(s.reply is not None for s in steps)
    # 800x600 under max 200704 px -> 504x364 (smart_resize floors both sides) -> 18*13 tokens
    assert {s.model_size for s in steps} == {(504, 364)}
    assert {s.image_tokens for s in steps} == {234}


def test_server_killed_mid_run_gives_a_clear_error_and_a_complete_trajectory(tmp_path: Path) -> None:
    count_file = tmp_path / "requests"
    count_file.write_text("")
    server = subprocess.Popen([sys.executable, "-c", STANDIN_SERVER, str(count_file)], stdout=subprocess.PIPE,
                              text=True)
    assert server.stdout is not None
    port = server.stdout.readline().strip()
    out = tmp_path / "runs"
    run = subprocess.Popen(
        [sys.executable, "-m", "screenpilot", "run", "wait", "--url", str(PAGE), "--api-base",
         f"http://127.0.0.1:{port}/v1", "--model", "served-model", "--retries", "2", "--timeout", "3",
         "--max-steps", "50", "--out", str(out)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while len(count_file.read_text()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
        server.wait(timeout=10)
        _, err = run.communicate(timeout=120)
    finally:
        server.kill()
        run.kill()
    assert run.returncode == 3, err
    run_dir = the_run(out)
    outcome = read_run(run_dir).outcome
    assert outcome is not None and (outcome.status, outcome.reason) == ("error", "infrastructure")
    assert f"127.0.0.1:{port}" in (outcome.message or "") and "served-model" in (outcome.message or "")
    steps = read_steps(run_dir)
    assert len(steps) >= 3
    assert all(s.actions_screen == [{"kind": "Wait", "seconds": 0.2}] for s in steps[:3])
    assert steps[-1].error is not None and steps[-1].error.family == "infrastructure"
