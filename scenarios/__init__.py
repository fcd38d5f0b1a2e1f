"""Bundled scenario files and the small local web applications they run against (data only)."""

from pathlib import Path

SCENARIOS_DIR = Path(__file__).resolve().parent
