"""Animated summaries of a run for sharing: a GIF, or an H.264 MP4 (through PyAV) that browsers play.

Each step becomes one frame: its screenshot scaled to ``width`` pixels, annotated with the step's
actions (see :mod:`screenpilot.agent.reports.annotate`) and captioned ``step N · what it did``; the last frame also
names the outcome. Every frame has the size of the first readable screenshot scaled to ``width``
(other sizes are letterboxed into it); a step whose screenshot is missing gets a dark placeholder
frame with its caption, so the count of frames always equals the count of steps (a run without
steps gives one placeholder frame).
"""

from __future__ import annotations

import os
from fractions import Fraction
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


H264_ENCODERS = ("libx264", "libopenh264", "h264")
VIDEO_TIME_BASE = Fraction(1, 1000)  # pts and durations of the MP4 are in milliseconds


def _h264_encoder() -> str:
    """Name of the first H.264 encoder PyAV's FFmpeg has; RuntimeError naming the fix when none."""
    import av

    for name in H264_ENCODERS:
        try:
            av.codec.Codec(name, "w")
        except (av.FFmpegError, ValueError):
            continue
        return name
    raise RuntimeError(f"PyAV {av.__version__} has no H.264 encoder (tried {', '.join(H264_ENCODERS)}); "
                       "install a PyAV wheel from PyPI (`pip install --force-reinstall av`)")


def even_rgb(frame: Image.Image) -> np.ndarray:
    """``frame`` as an RGB uint8 array (height, width, 3) of even width and height, as yuv420p needs: an odd
    side gets one more column (right) or row (bottom) that repeats the edge pixels, so nothing is cut off."""
    rgb = np.asarray(frame.convert("RGB"), dtype=np.uint8)
    pad = ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0))
    return np.ascontiguousarray(np.pad(rgb, pad, mode="edge") if any(p[1] for p in pad) else rgb)


def _encode_mp4(frames: list[Image.Image], durations_ms: list[int], out: Path) -> None:
    """Encode ``frames`` into the MP4 ``out``: H.264, yuv420p, one frame each, shown ``durations_ms[i]``
    milliseconds (pts in :data:`VIDEO_TIME_BASE`). No B-frames, so decode order is display order and each
    sample's duration in the file is its frame's own; ``+faststart`` puts the index first for browsers."""
    import av

    encoder = _h264_encoder()
    arrays = [even_rgb(f) for f in frames]
    height, width = arrays[0].shape[:2]
    with av.open(str(out), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(encoder, options={"bf": "0"})
        if not isinstance(stream, av.VideoStream):  # a video codec always gives one; this narrows the type
            raise RuntimeError(f"PyAV's {encoder} did not open a video stream")
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = VIDEO_TIME_BASE
        duration_at: dict[int, int] = {}

        def mux(packets: list[av.Packet]) -> None:
            for packet in packets:
                if packet.pts is not None:  # the encoder keeps the frame's pts: give the packet its duration
                    packet.duration = duration_at[packet.pts]
                container.mux(packet)

        pts = 0
        for array, duration in zip(arrays, durations_ms, strict=True):
            if array.shape[:2] != (height, width):  # run_frames gives one size; letterbox anything else
                array = even_rgb(_letterbox(Image.fromarray(array), (width, height))[0])
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
            duration_at[pts] = duration
            pts += duration
            mux(stream.encode(frame))
        mux(stream.encode(None))


def write_video(run_dir: Path, out_path: Path, width: int = 800, seconds_per_step: float = 1.0,
                fps: int = 10) -> Path:
    """Write an MP4 of ``run_dir`` that browsers play: H.264 (libx264 in PyAV's wheels), yuv420p, one frame
    per step (no repeated frames), each shown ``seconds_per_step`` seconds (rounded to the ms, at least 1 ms),
    so the video lasts steps x ``seconds_per_step``. Frames are those of :func:`run_frames` (caption strip
    included); an odd side is padded by one pixel (:func:`even_rgb`). ``fps`` is only checked (at least 1):
    frames carry their own durations, so there is no fixed rate. Returns ``out_path``.

    The file is written next to ``out_path`` under a temporary name and moved into place when complete, so a
    failure never leaves a half-written MP4 nor destroys an older one. Raises ValueError for bad arguments,
    FileNotFoundError when ``run_dir`` is not a run folder, RuntimeError when the MP4 cannot be written
    (unwritable folder, no H.264 encoder)."""
    import av

    if seconds_per_step <= 0 or fps < 1:
        raise ValueError("seconds_per_step must be positive and fps at least 1")
    frames = run_frames(run_dir, width)
    out = Path(out_path)
    partial = out.with_name(f".{out.name}.partial.mp4")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _encode_mp4(frames, [max(1, round(seconds_per_step * 1000))] * len(frames), partial)
        os.replace(partial, out)
    except (OSError, av.FFmpegError) as exc:
        raise RuntimeError(f"cannot write the MP4 {out}: {exc}; pick a writable path") from exc
    finally:
        if partial.is_file():  # what a failed encode left (False, not an error, when the folder is missing)
            partial.unlink()
    return out


__all__ = ["even_rgb", "run_frames", "step_frame", "write_gif", "write_video"]
