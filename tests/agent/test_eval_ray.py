"""``screenpilot eval --ray``: episodes as tasks on a real Ray (a local one, and a cluster started with
``ray start``), their folders shipped back to ``--out``, and a worker killed mid-episode."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from screenpilot.agent.evaluation.evaluate import EvalSettings, evaluate  # noqa: E402
from screenpilot.agent.evaluation.ray_jobs import RaySettings, pack_folder, unpack_folder  # noqa: E402
from tests.conftest import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def screenpilot_cli(*args: str, timeout: float = 600, env: dict[str, str] | None = None
                    ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "screenpilot", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env)


def outcomes(out: Path) -> dict[str, tuple[Any, ...]]:
    results = json.loads((out / "results.json").read_text())
    return {e["task"]: (e["success"], e["steps"], e["reason"], e["failure"]) for e in results["episodes"]}


def test_every_bundled_scenario_passes_on_a_local_ray_as_with_local_workers(tmp_path: Path) -> None:
    local = screenpilot_cli("eval", "scenarios", "--workers", "2", "--out", str(tmp_path / "local"))
    on_ray = screenpilot_cli("eval", "scenarios", "--ray", "--out", str(tmp_path / "ray"))
    assert local.returncode == 0, local.stderr[-3000:]
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    assert outcomes(tmp_path / "ray") == outcomes(tmp_path / "local")
    assert len(outcomes(tmp_path / "ray")) == len(list((REPO / "scenarios").glob("*.yaml")))
    for episode in json.loads((tmp_path / "ray" / "results.json").read_text())["episodes"]:
        folder = tmp_path / "ray" / episode["run_dir"]
        lines = (folder / "steps.jsonl").read_text().splitlines()
        assert len(lines) == episode["steps"] and (folder / "checks.json").is_file()
        assert all((folder / json.loads(line)["screenshot"]).is_file() for line in lines)
    header = (tmp_path / "ray" / "results.csv").read_text().splitlines()[0]
    assert header == (tmp_path / "local" / "results.csv").read_text().splitlines()[0]


def test_an_evaluation_joins_a_cluster_started_with_ray_start(tmp_path: Path) -> None:
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray_cli is not None, "the ray extra installs the ray command"
    port = free_port()
    # the README's recipe: one token for the head, every worker node and the machine running eval
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    started = subprocess.run([ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                              "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                             capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    try:
        done = screenpilot_cli("eval", "scenarios/flights_booking.yaml", "--ray", f"127.0.0.1:{port}", "--out",
                               str(tmp_path / "out"), env=env)
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert outcomes(tmp_path / "out")["flights_booking"][:3] == (True, 18, "terminated")


def _slow_scenario(folder: Path) -> Path:
    """A scenario that waits a few seconds on the bundled form site, then succeeds."""
    wait = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 2}}\n</tool_call>'
    done = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n' \
           '</tool_call>'
    (folder / "slow_replies.json").write_text(json.dumps([wait] * 4 + [done]))  # 4 waits: under loop detection
    (folder / "slow.yaml").write_text(
        "id: slow_form\ndescription: Wait on the form, then finish.\ninstruction: Wait, then finish.\n"
        "environment:\n  browser:\n    site: form\nbudget:\n  max_steps: 12\n"
        "checks:\n  - name: form shown\n    selector: '#status'\n    visible: true\nreplies: slow_replies.json\n")
    return folder / "slow.yaml"


def _kill_first_episode_worker(after_s: float, killed: list[int]) -> None:
    """Kill -9 the first Ray worker that has run an episode for ``after_s`` seconds (once)."""
    first_seen: dict[int, float] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not killed:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if args.startswith(b"ray::run_packed_episode"):
                pid = int(entry.name)
                first_seen.setdefault(pid, time.monotonic())
                if time.monotonic() - first_seen[pid] > after_s:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
        time.sleep(0.2)


@pytest.mark.parametrize("retries", [1, 0])
def test_an_episode_whose_worker_is_killed_is_lost_or_retried(tmp_path: Path, retries: int) -> None:
    suite = tmp_path / "suite.txt"
    suite.write_text(f"{_slow_scenario(tmp_path)}\n{REPO / 'scenarios' / 'invoice_extract.yaml'}\n")
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_episode_worker, args=(4.0, killed), daemon=True)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)  # one at a time: the slow one first
    try:
        killer.start()
        results = evaluate(EvalSettings(suite=str(suite), out_dir=tmp_path / "out",
                                        ray=RaySettings(retries=retries)))
    finally:
        ray.shutdown()
        killer.join(timeout=5)
    assert len(killed) == 1
    slow, invoice = results["episodes"]
    if retries:
        assert (slow["status"], slow["success"], slow["attempts"], slow["lost_attempts"]) == ("success", True, 2, 1)
        assert len((tmp_path / "out" / slow["run_dir"] / "steps.jsonl").read_text().splitlines()) == 5
    else:
        assert (slow["status"], slow["reason"], slow["success"]) == ("lost", "worker_lost", False)
        assert "WorkerCrashedError" in slow["failure"]
    assert invoice["success"] and (tmp_path / "out" / invoice["run_dir"] / "checks.json").is_file()
    assert results["summary"]["episodes"] == 2


def test_a_packed_folder_unpacks_byte_for_byte(tmp_path: Path) -> None:
    source = tmp_path / "run"
    (source / "work").mkdir(parents=True)
    (source / "step_001.png").write_bytes(bytes(range(256)) * 40)
    (source / "work" / "notes.txt").write_text("héllo")
    unpack_folder(pack_folder(source), tmp_path / "copy")
    assert (tmp_path / "copy" / "step_001.png").read_bytes() == (source / "step_001.png").read_bytes()
    assert (tmp_path / "copy" / "work" / "notes.txt").read_text() == "héllo"


def test_an_address_without_a_port_is_named(tmp_path: Path) -> None:
    done = screenpilot_cli("eval", "scenarios", "--ray", "localhost", "--out", str(tmp_path / "out"), timeout=120)
    assert done.returncode == 2
    assert "--ray localhost: expected auto or HOST:PORT such as 127.0.0.1:6379" in done.stderr


def test_an_unreachable_cluster_is_a_configuration_error(tmp_path: Path) -> None:
    port = free_port()
    done = screenpilot_cli("eval", "scenarios/invoice_extract.yaml", "--ray", f"127.0.0.1:{port}", "--out",
                           str(tmp_path / "out"), timeout=180)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"cannot start or join Ray at 127.0.0.1:{port}" in done.stderr
