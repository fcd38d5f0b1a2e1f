"""The distribution as a user installs it: one import package, ``screenpilot``, that lives beside
unrelated packages named ``agent``, ``models`` and ``tools`` without shadowing them.

The wheel is built from this checkout and installed (without dependencies) into a fresh venv; the
dependencies come from the test environment's site-packages through a path entry placed *after* the
fresh venv's own, so the installed wheel, not this checkout, is what runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNRELATED = ("agent", "models", "tools")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from this checkout (no build isolation: setuptools comes from the test venv)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, cwd=out, timeout=300,
    )
    (built,) = out.glob("screenpilot-*.whl")
    return built


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh venv holding the wheel and three unrelated packages named agent, models and tools."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True, timeout=300,
    )
    for name in UNRELATED:
        (purelib / name).mkdir()
        (purelib / name / "__init__.py").write_text(f'WHO = "the user\'s own {name}"\n')
    # Dependencies (playwright, pillow, ...) from the test venv, searched after the user's venv.
    # A plain path line: the test venv's .pth files (its editable screenpilot finder) are not run.
    (purelib / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_wheel_installs_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
        names = set(archive.namelist())
    version = wheel.name.split("-")[1]
    assert tops == {"screenpilot", f"screenpilot-{version}.dist-info"}
    for packaged in ("screenpilot/agent/actions.py", "screenpilot/models/formats/qwen25.py",
                     "screenpilot/tools/web/browser.py", "screenpilot/scenarios/demo/signup.html",
                     "screenpilot/py.typed", "screenpilot/__main__.py"):
        assert packaged in names


def test_demo_runs_from_the_wheel_beside_unrelated_packages(user_venv: Path, tmp_path: Path) -> None:
    python = user_venv / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import screenpilot, pathlib; print(pathlib.Path(screenpilot.__file__).parent)"],
        check=True, capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    installed = Path(where)
    assert installed.is_relative_to(user_venv), installed
    demo = installed / "scenarios" / "demo"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(user_venv / "bin" / "screenpilot"), "run",
         "Sign up for the newsletter as Ada Lovelace with the email ada@example.com",
         "--url", str(demo / "signup.html"), "--model", f"scripted:{demo / 'signup_replies.json'}",
         "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stderr
    (run_json,) = (tmp_path / "runs").glob("*/run.json")
    assert '"screenpilot"' in run_json.read_text()

    check = "; ".join([
        "import agent, models, tools, screenpilot.agent, screenpilot.models, screenpilot.tools",
        *(f"assert {name}.WHO == \"the user's own {name}\", {name}.__file__" for name in UNRELATED),
        "assert screenpilot.agent.__name__ == 'screenpilot.agent'",
    ])
    imported = subprocess.run([str(python), "-c", check], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert imported.returncode == 0, imported.stderr


def test_python_dash_m_runs_the_cli(user_venv: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(user_venv / "bin" / "python"), "-m", "screenpilot", "--help"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout and "scenario" in result.stdout
