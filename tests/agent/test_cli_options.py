"""The command line's shared options: declared once, present on every command that chooses a model, read into
the same settings, with today's exit codes; help, completion and the explicit-bound rule, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer.main

import screenpilot.agent.evaluation.evaluate
from screenpilot.agent.cli.app import app
from screenpilot.agent.cli.main import main
from screenpilot.agent.cli.options import EPISODE_MODEL, MODEL, PROMPT, with_optional_values
from screenpilot.agent.errors import ConfigError
from screenpilot.agent.run.settings import RunSettings
from screenpilot.agent.run.trajectory import read_run
from screenpilot.scenarios import SCENARIOS_DIR

DEMO = SCENARIOS_DIR / "demo"
MODEL_COMMANDS = (("run",), ("scenario", "run"), ("eval",), ("calibrate",))


def options_of(*path: str) -> set[str]:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in param.opts if opt.startswith("--")}


def declared(group: object) -> set[str]:
    return {"--" + p.name.replace("_", "-") for p in group.parameters}  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", MODEL_COMMANDS, ids=" ".join)
def test_every_command_that_chooses_a_model_has_every_model_and_prompt_option(path: tuple[str, ...]) -> None:
    options = options_of(*path)
    model = EPISODE_MODEL if path in (("scenario", "run"), ("eval",)) else MODEL  # episodes add --fallback-model
    assert declared(model) | declared(PROMPT) <= options
    assert {"--retries", "--image-format", "--dtype", "--timeout", "--api-base", "--max-pixels"} <= options


def test_eval_help_lists_the_backend_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--retries", "--image-format", "--dtype", "--fallback-model", "--workers", "--calibrate"):
        assert option in out, option


def test_eval_backend_options_reach_the_episodes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[object] = []

    def capture(settings: object) -> list[object]:
        seen.append(settings)
        raise ConfigError("stop after parsing")

    monkeypatch.setattr(screenpilot.agent.evaluation.evaluate, "prepare", capture)
    monkeypatch.setenv("SCREENPILOT_API_KEY", "sk-test")
    code = main(["eval", str(SCENARIOS_DIR), "--out", str(tmp_path), "--model", "served-name", "--api-base",
                 "http://127.0.0.1:9/v1", "--retries", "7", "--image-format", "jpeg", "--dtype", "float16",
                 "--timeout", "4.5", "--max-pixels", "12845056", "--fallback-model", "other"])
    assert code == 2
    base = seen[0].base  # type: ignore[attr-defined]
    assert (base.model.spec, base.model.api_base, base.model.api_key) == ("served-name", "http://127.0.0.1:9/v1",
                                                                          "sk-test")
    assert (base.model.max_retries, base.model.image_format, base.model.dtype, base.model.timeout_s) == \
        (7, "jpeg", "float16", 4.5)
    assert base.prompt.max_pixels == 12845056 and base.prompt.min_pixels is None
    assert base.fallback_model.spec == "other" and base.fallback_model.max_retries == 7


def test_api_base_comes_from_the_environment_in_one_place(run_settings_of: Callable[[list[str]], RunSettings],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENPILOT_API_BASE", "http://10.0.0.1:8000/v1")
    monkeypatch.delenv("SCREENPILOT_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    settings = run_settings_of(["run", "task", "--model", "served"])
    assert (settings.model.api_base, settings.model.api_key) == ("http://10.0.0.1:8000/v1", "sk-openai")
    given = run_settings_of(["run", "task", "--model", "served", "--api-base", "http://127.0.0.1:1/v1"])
    assert given.model.api_base == "http://127.0.0.1:1/v1"


@pytest.mark.parametrize(("extra", "expected"), [((), 16777216), (("--max-pixels", "12845056"), 12845056)])
def test_an_explicit_bound_is_recorded_even_when_it_equals_a_default(tmp_path: Path, extra: tuple[str, ...],
                                                                     expected: int) -> None:
    # Qwen3-VL's own upper bound is 16777216; 12845056 is Qwen2.5-VL's default and must still be honoured.
    code = main(["run", "Sign up", "--url", str(DEMO / "signup.html"), "--model",
                 f"scripted:{DEMO / 'signup_replies.json'}", "--prompt-format", "qwen3-vl", "--max-steps", "1",
                 "--out", str(tmp_path), "--quiet", *extra])
    assert code == 1  # one step is not enough to finish the sign-up
    (run_dir,) = tmp_path.iterdir()
    assert read_run(run_dir).resize.max_pixels == expected


def test_options_with_an_optional_value() -> None:
    assert with_optional_values(["run", "t", "--confirm", "--adb"]) == ["run", "t", "--confirm", "all", "--adb", ""]
    assert with_optional_values(["run", "t", "--confirm", "type", "--adb", "R58"]) == \
        ["run", "t", "--confirm", "type", "--adb", "R58"]
    assert with_optional_values(["run", "--", "--confirm"]) == ["run", "--", "--confirm"]


def test_confirm_alone_asks_before_every_action(run_settings_of: Callable[[list[str]], RunSettings]) -> None:
    settings = run_settings_of(["run", "t", "--model", "scripted:x.json", "--confirm", "--confirm", "type"])
    assert settings.policy.confirm == ("all", "type")


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["run", "t"], 2, "--model"),
    (["run", "t", "--model", "m", "--no-such-option"], 2, "--no-such-option"),
    (["run", "t", "--model", "m", "--viewport", "wide"], 2, "WIDTHxHEIGHT"),
    (["run", "t", "--model", "m", "--max-steps", "0"], 2, "--max-steps"),
    (["run", "t", "--model", "m", "--confirm", "everything"], 2, "everything"),
    (["run", "t", "--model", "m", "--min-pixels", "900", "--max-pixels", "800"], 2, "must not exceed"),
    (["scenario", "run", str(SCENARIOS_DIR / "todo_manage.yaml"), "--api-base", "http://x/v1"], 2, "needs --model"),
    (["eval", str(SCENARIOS_DIR)], 2, "--out"),
    (["frobnicate"], 2, "frobnicate"),
])
def test_usage_errors_exit_2_and_say_what_is_wrong(argv: list[str], code: int, message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == code
    assert message in capsys.readouterr().err


def test_the_console_script_runs_help_and_completion() -> None:
    script = Path(sys.executable).with_name("screenpilot")
    help_run = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert help_run.returncode == 0
    commands = ("run", "scenario", "eval", "calibrate", "view", "compare", "script", "dev")
    positions = [help_run.stdout.index(f" {name} ") for name in commands]
    assert positions == sorted(positions), "commands listed in their documented order"
    env = {**os.environ, "_SCREENPILOT_COMPLETE": "complete_bash", "COMP_WORDS": "screenpilot eval --ret",
           "COMP_CWORD": "2"}
    completion = subprocess.run([str(script)], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert completion.stdout.split() == ["--retries"]


def test_scenario_list_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "list"]) == 0
    assert "todo_manage" in capsys.readouterr().err
    (tmp_path / "broken.yaml").write_text("id: broken\ninstrution: typo\n")
    assert main(["scenario", "list", str(tmp_path)]) == 2
    assert main(["scenario", "list", str(tmp_path / "missing")]) == 2


def test_dev_build_tiny_model_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev", "build-tiny-model", "--help"]) == 0
    assert "--family" in capsys.readouterr().out
    assert options_of("dev", "build-tiny-model") == {"--family", "--seed", "--head-dim"}
