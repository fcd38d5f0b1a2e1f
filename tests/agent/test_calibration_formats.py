"""Calibration names a prompt-format / model-family mismatch and the option that fixes it."""

from __future__ import annotations

import math

from screenpilot.agent.calibration.fit import diagnose, error_stats, fit_clicks
from screenpilot.models.formats.registry import make_format

SCREEN = (1280, 720)
TARGETS = [(x, y) for x in (100, 400, 700, 1000) for y in (80, 300, 520)]


def _diagnose(landed_of: list[tuple[int, int]], model_size: tuple[int, int]) -> tuple[str, str]:
    pairs = list(zip(TARGETS, landed_of, strict=True))
    errors = [math.hypot(lx - tx, ly - ty) for (tx, ty), (lx, ly) in pairs]
    stats = error_stats(errors, [error < 10 for error in errors])
    diagnosis = diagnose(fit_clicks(pairs, SCREEN), stats, SCREEN, model_size)
    return diagnosis.code, diagnosis.message


def test_thousandths_under_a_pixel_format_suggest_qwen3_vl() -> None:
    prompt = make_format("qwen2.5-vl")
    model_size = prompt.model_size(SCREEN)
    landed = []
    for x, y in TARGETS:
        grid_x, grid_y = round(x * 1000 / SCREEN[0]), round(y * 1000 / SCREEN[1])
        landed.append((round(grid_x * SCREEN[0] / model_size[0]), round(grid_y * SCREEN[1] / model_size[1])))
    code, message = _diagnose(landed, model_size)
    assert code == "normalised_coordinates"
    assert "--prompt-format qwen3-vl" in message


def test_pixels_under_the_qwen3_format_suggest_a_pixel_format() -> None:
    qwen3 = make_format("qwen3-vl")
    model_size = qwen3.model_size(SCREEN)
    landed = []
    for x, y in TARGETS:
        pixel_x, pixel_y = round(x * model_size[0] / SCREEN[0]), round(y * model_size[1] / SCREEN[1])
        landed.append((round(pixel_x * SCREEN[0] / 1000), round(pixel_y * SCREEN[1] / 1000)))
    inside = [(min(lx, SCREEN[0] - 1), min(ly, SCREEN[1] - 1)) for lx, ly in landed]
    code, message = _diagnose(inside, model_size)
    assert code == "pixel_coordinates"
    assert "--prompt-format qwen2.5-vl" in message and "ui-tars" in message
