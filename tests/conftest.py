"""Fixtures shared by every test package.

``tiny_model_dir``: the tiny random Qwen2.5-VL folder (built once per session, offline).
``transformers_server``: a real ``transformers serve`` on it, for the OpenAI-compatible backend
and for calibration runs against a real server.
``run_settings_of``: the RunSettings that ``screenpilot run ARGS`` builds (the CLI parses for real; only the run
itself is left out).

The hub is switched off before anything imports huggingface_hub: a hub id must fail at once,
never hang on the network.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Qwen2.5-VL folder: ``$SCREENPILOT_TINY_MODEL`` when it holds one (``make
    test`` builds it in set-up), else built once per test session."""
    from screenpilot.models.tiny import build_tiny_qwen25_vl

    prebuilt = os.environ.get("SCREENPILOT_TINY_MODEL")
    if prebuilt and (Path(prebuilt) / "config.json").is_file():
        return Path(prebuilt).resolve()
    return build_tiny_qwen25_vl(tmp_path_factory.mktemp("tiny-qwen25-vl"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_command(model_dir: Path, port: int) -> list[str]:
    script = Path(sys.executable).with_name("transformers")
    executable = str(script) if script.exists() else shutil.which("transformers")
    if executable is None:
        pytest.skip("the transformers CLI is not installed (pip install 'transformers[serving]')")
    return [executable, "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]


def wait_healthy(process: subprocess.Popen[bytes], base: str, deadline_s: float,
                 name: str = "transformers serve") -> None:
    """Wait until the server ``process`` (called ``name`` in errors) answers ``base/health`` with 200; RuntimeError
    when it exits first or ``deadline_s`` seconds pass."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{name} did not answer {base}/health within {deadline_s:.0f} s")


@pytest.fixture(scope="session")
def transformers_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``transformers serve DIR`` on the tiny model; yields the base URL (``http://127.0.0.1:P/v1``).

    The positional DIR pins the server to that model: requests must name it with the same
    string in their ``model`` field (the folder path), and ``GET /v1/models`` lists it alone.
    """
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(_serve_command(tiny_model_dir, port), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}", deadline_s=120)
        yield f"http://127.0.0.1:{port}/v1"
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; log:\n{log_path.read_text(errors='replace')[-3000:]}") from None
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def run_settings_of(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[Sequence[str]], object]:
    """``run_settings_of(["run", TASK, ...])``: the settings ``main`` hands to ``run_task`` (asserting exit 0).
    ConfigError and usage errors surface as the exit code: the call then fails with the CLI's message."""
    import screenpilot.agent.run.runner
    from screenpilot.agent.cli.main import main

    def parse(argv: Sequence[str]) -> object:
        seen: list[object] = []

        def capture(settings: object, *_: object, **__: object) -> SimpleNamespace:
            seen.append(settings)
            return SimpleNamespace(result=SimpleNamespace(status="success", reason="captured", steps=0),
                                   run_dir=tmp_path)

        monkeypatch.setattr(screenpilot.agent.run.runner, "run_task", capture)
        code = main(list(argv))
        assert code == 0 and seen, f"screenpilot {' '.join(argv)} exited {code}"
        return seen[0]

    return parse
