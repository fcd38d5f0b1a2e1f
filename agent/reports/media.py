"""Animated summaries of a run for sharing: a GIF, or an MP4 through OpenCV.

Each step becomes one frame: its screenshot scaled to ``width`` pixels, annotated with the step's
actions (see :mod:`screenpilot.agent.reports.annotate`) and captioned ``step N · what it did``; the last frame also
names the outcome. Every frame has the size of the first readable screenshot scaled to ``width``
(other sizes are letterboxed into it); a step whose screenshot is missing gets a dark placeholder
frame with its caption, so the count of frames always equals the count of steps (a run without
steps gives one placeholder frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from screenpilot.agent.actions import Point, map_points
from screenpilot.agent.reports.annotate import actions_from_json, annotate, font, step_caption
from screenpilot.agent.reports.run_report import RunData, load_run, load_screenshot
from screenpilot.agent.run.records import RunRecord, StepLine

PLACEHOLDER_FILL = (40, 44, 52)
DEFAULT_ASPECT = 9 / 16


def _frame_size(data: RunData, width: int) -> tuple[int, int]:
    """(width, height) of every frame: ``width`` and the first readable screenshot's aspect, even numbers."""
    aspect = DEFAULT_ASPECT
    for step in data.steps:
        image = load_screenshot(data.run_dir, step)
        if image is not None and image.width > 0:
            aspect = image.height / image.width
            break
    width = max(2, width - width % 2)
    height = max(2, round(width * aspect))
    return width, height - height % 2


def _placeholder(size: tuple[int, int], text: str) -> Image.Image:
    image = Image.new("RGB", size, PLACEHOLDER_FILL)
    draw = ImageDraw.Draw(image)
    face = font(max(12, size[1] // 20))
    draw.text((size[0] / 2, size[1] / 2), text, font=face, fill=(200, 200, 200), anchor="mm")
    return image


def _outcome_suffix(run: RunRecord | None) -> str:
    if run is None or run.outcome is None:
        return " · (no outcome recorded)"
    return f" · {run.outcome.status.upper()} ({run.outcome.reason})"


def _letterbox(image: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, float, tuple[int, int]]:
    """``image`` scaled to fit ``size`` and centred on a dark canvas; returns it, the scale and the offset."""
    factor = min(size[0] / image.width, size[1] / image.height)
    scaled = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                          Image.Resampling.LANCZOS)
    if scaled.size == size:
        return scaled, factor, (0, 0)
    canvas = Image.new("RGB", size, PLACEHOLDER_FILL)
    offset = ((size[0] - scaled.width) // 2, (size[1] - scaled.height) // 2)
    canvas.paste(scaled, offset)
    return canvas, factor, offset


def step_frame(data: RunData, step: StepLine, size: tuple[int, int], suffix: str = "") -> Image.Image:
    """One frame of ``size`` for ``step``: scaled screenshot, its annotation and caption."""
    actions = actions_from_json(step.actions_screen)
    caption = step_caption(step.index, actions, None if step.error is None else step.error.type) + suffix
    image = load_screenshot(data.run_dir, step)
    if image is None:
        return annotate(_placeholder(size, "screenshot missing"), [], caption)
    canvas, factor, (dx, dy) = _letterbox(image, size)

    def convert(p: Point) -> Point:
        return Point(round(p.x * factor) + dx, round(p.y * factor) + dy)

    return annotate(canvas, [map_points(a, convert) for a in actions], caption)


def run_frames(run_dir: Path, width: int = 800) -> list[Image.Image]:
    """One RGB frame per step of ``run_dir`` (``width`` pixels wide), in step order."""
    data = load_run(Path(run_dir))
    size = _frame_size(data, width)
    if not data.steps:
        return [annotate(_placeholder(size, "no step was recorded"), [], _outcome_suffix(data.run).lstrip(" ·"))]
    last = len(data.steps)
    return [
        step_frame(data, step, size, _outcome_suffix(data.run) if n == last else "")
        for n, step in enumerate(data.steps, start=1)
    ]


def write_gif(run_dir: Path, out_path: Path, width: int = 800, seconds_per_step: float = 1.0) -> Path:
    """Write an animated GIF of ``run_dir``: one frame per step, ``seconds_per_step`` seconds each,
    looping forever. ``width`` is the frame width in pixels. Returns ``out_path``."""
    if seconds_per_step <= 0:
        raise ValueError(f"seconds_per_step must be positive, got {seconds_per_step}")
    frames = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=256) for f in run_frames(run_dir, width)]
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:],
                   duration=max(20, round(seconds_per_step * 1000)), loop=0, disposal=1)
    return out


def write_video(run_dir: Path, out_path: Path, width: int = 800, seconds_per_step: float = 1.0,
                fps: int = 10) -> Path:
    """Write an MP4 (OpenCV's ``mp4v`` codec) of ``run_dir``: each step shown ``seconds_per_step``
    seconds at ``fps`` frames per second. Raises RuntimeError when OpenCV cannot write the file."""
    import cv2

    if seconds_per_step <= 0 or fps < 1:
        raise ValueError("seconds_per_step must be positive and fps at least 1")
    frames = run_frames(run_dir, width)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    size = frames[0].size
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), float(fps), size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write an mp4v video to {out}")
    repeats = max(1, round(seconds_per_step * fps))
    try:
        for frame in frames:
            bgr = np.ascontiguousarray(np.asarray(frame.convert("RGB"))[:, :, ::-1])
            for _ in range(repeats):
                writer.write(bgr)
    finally:
        writer.release()
    return out


__all__ = ["run_frames", "step_frame", "write_gif", "write_video"]
