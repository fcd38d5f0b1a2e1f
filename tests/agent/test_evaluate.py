"""``screenpilot eval``: parallel episodes in worker processes and the result files' format."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from screenpilot.agent.actions import Click, Point, Terminate
from screenpilot.agent.cli.main import main
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.evaluation.evaluate import (
    EvalSettings,
    parse_seeds,
    prepare,
    run_jobs,
    summarize,
    wilson_interval,
)
from screenpilot.models.formats.qwen25 import format_call
from screenpilot.scenarios import SCENARIOS_DIR

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                                    reason="needs Chromium (apt-get install chromium)")
EPISODE_KEYS = {"task", "seed", "success", "reward", "status", "reason", "steps", "wall_s", "model_s", "tokens",
                "failure", "run_dir", "timings"}
STATS_KEYS = {"episodes", "successes", "success_rate", "ci95"}


def check_format(out: Path) -> dict[str, Any]:
    """results.json has exactly the agreed shape; results.csv has one row per episode."""
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(results) == {"suite", "model", "started_at", "ended_at", "episodes", "summary"}
    for episode in results["episodes"]:
        assert set(episode) == EPISODE_KEYS
        assert set(episode["timings"]) == {"capture", "model", "execute", "settle"}
        assert isinstance(episode["success"], bool) and isinstance(episode["steps"], int)
        assert isinstance(episode["wall_s"], float) and isinstance(episode["status"], str)
        assert not Path(episode["run_dir"]).is_absolute() and (out / episode["run_dir"]).is_dir()
        assert episode["run_dir"].startswith("episodes/")
    summary = results["summary"]
    assert set(summary) == STATS_KEYS | {"per_task"}
    assert summary["episodes"] == len(results["episodes"])
    for stats in summary["per_task"].values():
        assert set(stats) == STATS_KEYS and 0 <= stats["ci95"][0] <= stats["success_rate"] <= stats["ci95"][1] <= 1
    with (out / "results.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["task"] for r in rows] == [e["task"] for e in results["episodes"]]
    assert {"task", "seed", "success", "reward", "status", "run_dir", "settle_s"} <= set(rows[0])
    return results


def test_seeds_and_statistics() -> None:
    assert parse_seeds("0,1,2") == (0, 1, 2)
    assert parse_seeds("0-3,7") == (0, 1, 2, 3, 7)
    with pytest.raises(ConfigError):
        parse_seeds("a")
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    episodes = [{"task": "a", "success": True}, {"task": "a", "success": False}, {"task": "b", "success": True}]
    summary = summarize(episodes)
    assert summary["successes"] == 2 and summary["per_task"]["a"]["success_rate"] == 0.5


@needs_chromium
def test_eval_bundled_scenarios_with_scripted_replies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    code = main(["eval", str(SCENARIOS_DIR), "--workers", "2", "--out", str(out)])
    err = capsys.readouterr().err
    results = check_format(out)
    failures = {e["task"]: e["failure"] for e in results["episodes"] if not e["success"]}
    assert code == 0 and not failures, failures or err
    assert results["model"] is None and results["suite"] == str(SCENARIOS_DIR)
    tasks = {e["task"] for e in results["episodes"]}
    assert {"flights_booking", "invoice_extract", "form_registration", "todo_manage"} <= tasks
    assert results["summary"]["success_rate"] == 1.0
    assert "all" in err and "100%" in err
    for episode in results["episodes"]:
        assert (out / episode["run_dir"] / "checks.json").is_file()


@needs_chromium
def test_errors_and_timeouts_are_recorded_never_lost(tmp_path: Path) -> None:
    terminate = format_call(Terminate("success"))
    common = "environment: {browser: {site: todo}}\nchecks: [{selector: '#list li', count: 3}]\n"
    (tmp_path / "ok.yaml").write_text(f"id: ok\ninstruction: x\n{common}replies: [{json.dumps(terminate)}]\n",
                                      encoding="utf-8")
    (tmp_path / "throws.yaml").write_text(f"id: throws\ninstruction: x\nsetup: [{{js: 'null.x'}}]\n{common}"
                                          "replies: []\n", encoding="utf-8")
    (tmp_path / "slow.yaml").write_text(f"id: slow\ninstruction: x\nsetup: [{{wait: 120}}]\n{common}replies: []\n",
                                        encoding="utf-8")
    suite = tmp_path / "suite.txt"
    suite.write_text("# two episodes\nok.yaml\nthrows.yaml  # a setup step that throws\n", encoding="utf-8")
    out = tmp_path / "eval"
    code = main(["eval", str(suite), "--workers", "2", "--out", str(out), "--seeds", "4"])
    assert code == 1
    episodes = {e["task"]: e for e in check_format(out)["episodes"]}
    assert episodes["ok"]["success"] is True and episodes["ok"]["seed"] == 4
    assert episodes["throws"]["status"] == "error" and episodes["throws"]["reason"] == "config"
    assert "throws.yaml: setup[0].js: the script failed: " in episodes["throws"]["failure"]
    assert "TypeError: Cannot read properties of null" in episodes["throws"]["failure"]
    # The slow one alone, with a short limit: killed, and recorded with its run folder.
    jobs = prepare(EvalSettings(suite=str(tmp_path / "slow.yaml"), out_dir=tmp_path / "eval-slow"))
    [slow] = run_jobs(jobs, workers=1, timeout_s=3)
    assert (slow["status"], slow["reason"], slow["success"]) == ("timeout", "episode_timeout", False)
    assert slow["failure"] == "the episode did not finish within 3 s and was killed"
    assert slow["task"] == "slow" and Path(slow["run_dir"]).is_dir()


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "is neither a folder, a file, nor miniwob:" in " ".join(capsys.readouterr().err.split())
    assert main(["eval", "miniwob:click-button", "--out", str(tmp_path / "o")]) == 2
    assert "MiniWoB++ suites need --model" in " ".join(capsys.readouterr().err.split())
    (tmp_path / "bad.yaml").write_text("instruction: x\nenvironment: {browser: {site: todo}}\nchecks: 3\n",
                                       encoding="utf-8")
    assert main(["eval", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "bad.yaml: checks: expected a list, got an integer" in " ".join(capsys.readouterr().err.split())


@needs_chromium
def test_eval_miniwob_tasks_with_a_scripted_model(tmp_path: Path) -> None:
    pytest.importorskip("miniwob", reason="pip install miniwob")
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([format_call(Click(Point(40, 80)))] * 2), encoding="utf-8")
    out = tmp_path / "eval"
    code = main(["eval", "miniwob:click-button,click-link,enter-text", "--model", f"scripted:{replies}",
                 "--workers", "2", "--out", str(out), "--max-steps", "2", "--miniwob-episode-s", "60"])
    assert code in (0, 1)
    results = check_format(out)
    assert results["model"] == f"scripted:{replies}"
    assert [e["task"] for e in results["episodes"]] == ["click-button", "click-link", "enter-text"]
    assert all(e["seed"] == 0 and e["status"] in ("success", "failure") for e in results["episodes"])
    assert all(isinstance(e["reward"], float) for e in results["episodes"])
