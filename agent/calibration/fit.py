"""Numbers and plain-word diagnosis of a calibration: errors, a per-axis fit, and what it means.

Pure (numpy only). Every coordinate here is in *screen pixels* of the surface the executor
clicks in; ``model_size`` is the model-space size the prompt advertised, ``(W', H')``.

*Fit.* Per axis, ``landed = scale * true + offset`` by least squares (:func:`fit_axis`) over the
points that agree with the line through two points that most points agree with (within
:data:`INLIER_TOL_PX`; an exhaustive consensus search, cheap for a few dozen targets), so a real
model's wrong-target misses do not bend the fit. Without a line that at least half of the points
agree with, every point is used and the residual shows the inconsistency. Landings on the first
or last pixel of an axis are left out of that axis's fit: they are where out-of-range answers get
clamped, so they say nothing about the mapping. With a single distinct true value on an axis the
offset cannot be told from the scale; then the fit goes through the origin (``offset_assumed``).

*Diagnosis* (:func:`diagnose`), in this order:

1. too few usable clicks, or no consistent relation between targets and clicks: *inconclusive*;
2. scale 1 and offset 0 (within :data:`UNIT_SCALE_TOL` and :func:`offset_tolerance_px`): *ok*
   (with scattered misses when the hit rate is low: the model's accuracy, not the plumbing);
3. scale 1, offset not 0: *constant offset* (toolbar, title bar, window decorations, monitor);
4. scale per axis = seen / advertised size for the size :func:`screenpilot.models.resize.smart_resize` gives
   the advertised image under one of :data:`COMMON_BOUNDS`: *resize mismatch*, naming the bounds;
5. scale per axis = 1000 / advertised size: *normalised 0-1000 coordinates* under a pixel format
   (use ``--prompt-format qwen3-vl``); scale per axis = advertised size / 1000: *pixel
   coordinates* read as thousandths under the qwen3-vl format (use a pixel format);
6. the same scale on both axes equal to a display scale factor (2, 1.5, 1.25 ... or inverse):
   *HiDPI scale mismatch*;
7. anything else: *scale mismatch* with the fitted numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from screenpilot.agent.errors import ConfigError
from screenpilot.models.resize import smart_resize

Verdict = Literal["ok", "fault", "inconclusive"]

UNIT_SCALE_TOL = 0.02
"""|scale - 1| at most this is 'scale 1'."""

MATCH_SCALE_TOL = 0.03
"""A fitted scale matches a predicted one when they differ by at most this (absolute)."""

INLIER_TOL_PX = 25.0
"""A click within this many screen px of the fitted line agrees with it (a hit on a 44 px target
can be 22 px off-centre); farther ones are wrong-target misses, left out of the fit."""

MAX_CONSISTENT_RMS_PX = 25.0
"""Above this residual (screen px) after the robust fit, clicks follow no consistent rule."""

MIN_POINTS_PER_AXIS = 2
DISPLAY_SCALES: tuple[float, ...] = (2.0, 1.25, 1.5, 1.75, 2.5, 3.0)


@dataclass(frozen=True)
class PixelBounds:
    """A ``(min_pixels, max_pixels)`` pair someone commonly resizes Qwen2.5-VL images with."""

    min_pixels: int
    max_pixels: int
    source: str


COMMON_BOUNDS: tuple[PixelBounds, ...] = (
    PixelBounds(3136, 12845056, "the released preprocessor_config.json and qwen-vl-utils (also vLLM's and "
                "SGLang's defaults, which read that config)"),
    PixelBounds(3136, 1003520, "transformers' smart_resize default maximum (1280*28*28; also Ollama's and "
                "DashScope's 1280-token cap)"),
    PixelBounds(200704, 1003520, "the Qwen2.5-VL README's speed setting (256*28*28 .. 1280*28*28)"),
    PixelBounds(78400, 12845056, "UI-TARS' bounds (100*28*28 .. 16384*28*28)"),
    PixelBounds(3136, 802816, "a 1024-token cap (1024*28*28)"),
    PixelBounds(262144, 1048576, "512*512 .. 1024*1024"),
)


@dataclass(frozen=True)
class AxisFit:
    """``landed = scale * true + offset`` on one axis; ``offset`` and ``rms_px`` in screen px.

    ``points``: pairs used; ``dropped``: outliers left out; ``offset_assumed``: fitted through the
    origin because every usable target shared one position on this axis.
    """

    scale: float
    offset: float
    points: int
    dropped: int
    rms_px: float
    offset_assumed: bool = False


@dataclass(frozen=True)
class Fit:
    """The fit of both axes."""

    x: AxisFit
    y: AxisFit


@dataclass(frozen=True)
class ErrorStats:
    """Per-run error numbers. Distances in screen px between a target centre and the landed click.

    ``hit_rate`` = hits / targets (a target without a landed click is a miss). The distance
    statistics cover targets with a landed click only (None when there is none).
    """

    targets: int
    clicked: int
    hits: int
    hit_rate: float
    median_px: float | None
    p95_px: float | None
    mean_px: float | None
    max_px: float | None


@dataclass(frozen=True)
class Diagnosis:
    """What the numbers mean. ``code``: ok, scattered_misses, constant_offset, resize_mismatch,
    normalised_coordinates, pixel_coordinates, hidpi_scale, scale_mismatch, image_size_mismatch, too_few_clicks,
    inconsistent. ``message``: plain words for a person. ``details``: numbers behind it."""

    verdict: Verdict
    code: str
    message: str
    details: Mapping[str, object] = field(default_factory=dict)


def error_stats(errors_px: Sequence[float | None], hits: Sequence[bool]) -> ErrorStats:
    """Statistics of per-target ``errors_px`` (None: no click landed) and ``hits``."""
    landed = np.array([e for e in errors_px if e is not None], dtype=float)
    total = len(hits)
    count = int(sum(hits))

    def stat(value: float) -> float | None:
        return None if landed.size == 0 else round(float(value), 3)

    return ErrorStats(
        targets=total,
        clicked=int(landed.size),
        hits=count,
        hit_rate=count / total if total else 0.0,
        median_px=stat(np.median(landed)) if landed.size else None,
        p95_px=stat(np.percentile(landed, 95)) if landed.size else None,
        mean_px=stat(np.mean(landed)) if landed.size else None,
        max_px=stat(np.max(landed)) if landed.size else None,
    )


def _lstsq(true_px: np.ndarray, landed_px: np.ndarray) -> tuple[float, float]:
    design = np.column_stack([true_px, np.ones_like(true_px)])
    (scale, offset), *_ = np.linalg.lstsq(design, landed_px, rcond=None)
    return float(scale), float(offset)


def _through_origin(true_px: np.ndarray, landed_px: np.ndarray) -> tuple[float, float]:
    denominator = float(np.dot(true_px, true_px))
    return (float(np.dot(true_px, landed_px)) / denominator if denominator else 1.0), 0.0


def _candidate_lines(t: np.ndarray, y: np.ndarray, through_origin: bool) -> Iterator[tuple[float, float]]:
    """Lines through each pair of points with distinct ``t`` (or each point and the origin)."""
    if through_origin:
        for ti, yi in zip(t, y, strict=True):
            if ti:
                yield float(yi / ti), 0.0
        return
    for i in range(t.size):
        for j in range(i + 1, t.size):
            if t[i] != t[j]:
                scale = float((y[j] - y[i]) / (t[j] - t[i]))
                yield scale, float(y[i] - scale * t[i])


def _consensus(t: np.ndarray, y: np.ndarray, through_origin: bool) -> np.ndarray:
    """Inliers (within :data:`INLIER_TOL_PX`) of the candidate line most points agree with;
    all points when no line gathers at least half of them."""
    best = np.ones(t.size, dtype=bool)
    best_key = (0, 0.0)
    for scale, offset in _candidate_lines(t, y, through_origin):
        residual = np.abs(y - (scale * t + offset))
        inliers = residual <= INLIER_TOL_PX
        key = (int(inliers.sum()), -float(residual[inliers].sum()))
        if key > best_key:
            best, best_key = inliers, key
    return best if best_key[0] * 2 >= t.size else np.ones(t.size, dtype=bool)


def fit_axis(true_px: Sequence[float], landed_px: Sequence[float]) -> AxisFit | None:
    """Robust fit of ``landed = scale * true + offset`` (see the module doc); None below
    :data:`MIN_POINTS_PER_AXIS` points."""
    t = np.asarray(true_px, dtype=float)
    y = np.asarray(landed_px, dtype=float)
    if t.size < MIN_POINTS_PER_AXIS:
        return None
    through_origin = np.unique(t).size < 2
    solve = _through_origin if through_origin else _lstsq
    keep = _consensus(t, y, through_origin)
    scale, offset = solve(t[keep], y[keep])
    if keep.sum() < t.size:
        refined = np.abs(y - (scale * t + offset)) <= INLIER_TOL_PX
        if refined.sum() >= keep.sum() and (through_origin or np.unique(t[refined]).size >= 2):
            keep = refined
            scale, offset = solve(t[keep], y[keep])
    residual = y[keep] - (scale * t[keep] + offset)
    return AxisFit(
        scale=round(scale, 5) + 0.0, offset=round(offset, 3) + 0.0, points=int(keep.sum()),
        dropped=int(t.size - keep.sum()), rms_px=round(float(np.sqrt(np.mean(residual**2))), 3),
        offset_assumed=through_origin,
    )


def usable_pairs(
    pairs: Sequence[tuple[tuple[int, int], tuple[int, int]]], screen_size: tuple[int, int], axis: int
) -> tuple[list[float], list[float]]:
    """``(true, landed)`` values of one ``axis`` (0 = x, 1 = y) from ``(true_xy, landed_xy)``
    screen-pixel pairs, leaving out landings on the first or last pixel (possibly clamped)."""
    last = screen_size[axis] - 1
    kept = [(t[axis], landed[axis]) for t, landed in pairs if 0 < landed[axis] < last]
    return [float(t) for t, _ in kept], [float(v) for _, v in kept]


def fit_clicks(
    pairs: Sequence[tuple[tuple[int, int], tuple[int, int]]], screen_size: tuple[int, int]
) -> Fit | None:
    """Per-axis fits of ``(true_xy, landed_xy)`` pairs (screen px); None when an axis has too few."""
    x = fit_axis(*usable_pairs(pairs, screen_size, 0))
    y = fit_axis(*usable_pairs(pairs, screen_size, 1))
    return None if x is None or y is None else Fit(x, y)


def offset_tolerance_px(extent: int) -> float:
    """Largest offset (screen px) still called 'no offset' on an axis ``extent`` px long."""
    return max(4.0, 0.005 * extent)


def _near(value: float, expected: float, tolerance: float = MATCH_SCALE_TOL) -> bool:
    return abs(value - expected) <= tolerance


def resize_candidates(model_size: tuple[int, int]) -> list[tuple[tuple[int, int], list[PixelBounds]]]:
    """For each size a server could resize the advertised ``model_size`` image to under
    :data:`COMMON_BOUNDS`: ``((width, height), [bounds that produce it])``, sizes other than
    ``model_size`` itself only, in :data:`COMMON_BOUNDS` order."""
    groups: dict[tuple[int, int], list[PixelBounds]] = {}
    for bounds in COMMON_BOUNDS:
        try:
            height, width = smart_resize(model_size[1], model_size[0], 28, bounds.min_pixels, bounds.max_pixels)
        except ConfigError:
            continue
        if (width, height) != tuple(model_size):
            groups.setdefault((width, height), []).append(bounds)
    return list(groups.items())


def _fmt(value: float) -> str:
    return f"{value:+.1f}"


def _scales(fit: Fit) -> str:
    return f"x {fit.x.scale:.3f}, y {fit.y.scale:.3f}"


def _offset_small(fit: Fit, screen_size: tuple[int, int], relax: float = 1.0) -> bool:
    return all(
        a.offset_assumed or abs(a.offset) <= offset_tolerance_px(extent) * relax
        for a, extent in ((fit.x, screen_size[0]), (fit.y, screen_size[1]))
    )


def _offset_cause(dx: float, dy: float, screen_size: tuple[int, int]) -> str:
    if abs(dx) >= 0.5 * screen_size[0] or abs(dy) >= 0.5 * screen_size[1]:
        return ("An offset that large usually means a second monitor: the screenshot shows one monitor while "
                "clicks use the coordinates of the whole virtual screen (or the reverse).")
    if abs(dy) > 3 * abs(dx) and 15 <= abs(dy) <= 160:
        return ("A vertical offset of this size is typical of a browser toolbar or a window title bar: the "
                "screenshot includes it but the clicks are relative to the page (or the reverse).")
    return ("Window decorations, a panel or a window position are not accounted for: the screenshot and the "
            "clicks do not share the same origin.")


def _ok(stats: ErrorStats, fit: Fit) -> Diagnosis:
    numbers = (f"scale {_scales(fit)}, offset ({_fmt(fit.x.offset)}, {_fmt(fit.y.offset)}) px, "
               f"median error {stats.median_px} px")
    details = {"fit": asdict(fit)}
    if stats.hits == stats.targets:
        return Diagnosis("ok", "ok", f"All good: every click landed on its target ({numbers}). The advertised "
                         "image size, the image the model saw and the mapping back agree.", details)
    return Diagnosis(
        "ok", "scattered_misses",
        f"No systematic fault: the clicks that landed follow the targets ({numbers}), but "
        f"{stats.targets - stats.hits} of {stats.targets} targets were missed without a common pattern. That is "
        "the model's grounding accuracy, not the coordinate plumbing.", details)


def _offset(fit: Fit, screen_size: tuple[int, int]) -> Diagnosis:
    dx, dy = fit.x.offset, fit.y.offset
    return Diagnosis(
        "fault", "constant_offset",
        f"Constant offset: clicks land ({_fmt(dx)}, {_fmt(dy)}) px away from their targets everywhere, at the "
        f"right scale. {_offset_cause(dx, dy, screen_size)}",
        {"fit": asdict(fit), "offset_px": [dx, dy]})


def _resize(fit: Fit, model_size: tuple[int, int]) -> Diagnosis | None:
    for seen, bounds in resize_candidates(model_size):
        if _near(fit.x.scale, seen[0] / model_size[0]) and _near(fit.y.scale, seen[1] / model_size[1]):
            names = "; or ".join(f"min_pixels={b.min_pixels}, max_pixels={b.max_pixels} ({b.source})" for b in bounds)
            first = bounds[0]
            return Diagnosis(
                "fault", "resize_mismatch",
                f"Resize mismatch: clicks land at {_scales(fit)} times the target positions, the ratio of a "
                f"{seen[0]}x{seen[1]} image to the {model_size[0]}x{model_size[1]} image the prompt advertised. The "
                f"server or its image processor resized the screenshot again before the model saw it, with bounds "
                f"{names}. Make both sides use one pair: start screenpilot with --min-pixels {first.min_pixels} "
                f"--max-pixels {first.max_pixels}, or configure the server with the bounds screenpilot uses.",
                {"fit": asdict(fit), "seen_size": list(seen), "advertised_size": list(model_size),
                 "bounds": [asdict(b) for b in bounds]})
    return None


def _normalised(fit: Fit, model_size: tuple[int, int], rejected: int) -> Diagnosis | None:
    expected = (1000 / model_size[0], 1000 / model_size[1])
    if not (_near(fit.x.scale, expected[0]) and _near(fit.y.scale, expected[1])):
        return None
    extra = f" {rejected} replies fell outside the image and were rejected." if rejected else ""
    return Diagnosis(
        "fault", "normalised_coordinates",
        f"Normalised coordinates: the model answers on a 0-1000 scale, not in pixels of the "
        f"{model_size[0]}x{model_size[1]} image it saw (scale {_scales(fit)} = 1000/{model_size[0]} and "
        f"1000/{model_size[1]}). That is the convention of Qwen3-VL: use --prompt-format qwen3-vl (the "
        f"qwen2.5-vl and ui-tars formats expect absolute pixels).{extra}",
        {"fit": asdict(fit), "expected_scale": list(expected), "rejected_replies": rejected,
         "suggested_format": "qwen3-vl"})


def _pixels_as_thousandths(fit: Fit, model_size: tuple[int, int], rejected: int) -> Diagnosis | None:
    expected = (model_size[0] / 1000, model_size[1] / 1000)
    if not (_near(fit.x.scale, expected[0]) and _near(fit.y.scale, expected[1])):
        return None
    extra = f" {rejected} replies were above 1000 and were rejected." if rejected else ""
    return Diagnosis(
        "fault", "pixel_coordinates",
        f"Pixel coordinates read as 0-1000: the model answers in pixels of the {model_size[0]}x{model_size[1]} "
        f"image it saw, but the prompt format reads thousandths of the screen (scale {_scales(fit)} = "
        f"{model_size[0]}/1000 and {model_size[1]}/1000). That is the qwen3-vl format with a pixel model such as "
        f"Qwen2.5-VL: use --prompt-format qwen2.5-vl (or ui-tars for UI-TARS-1.5).{extra}",
        {"fit": asdict(fit), "expected_scale": list(expected), "rejected_replies": rejected,
         "suggested_format": "qwen2.5-vl"})


def _display_scale(fit: Fit) -> Diagnosis | None:
    for factor in DISPLAY_SCALES:
        for value in (factor, 1 / factor):
            tolerance = MATCH_SCALE_TOL * max(value, 1.0)
            if _near(fit.x.scale, value, tolerance) and _near(fit.y.scale, value, tolerance):
                direction = "larger" if value > 1 else "smaller"
                return Diagnosis(
                    "fault", "hidpi_scale",
                    f"HiDPI scale mismatch (factor {factor:g}): clicks land {value:.3g} times the target positions "
                    f"({direction}), on both axes. Screenshots and clicks use different pixel units (device pixels "
                    f"against logical or CSS pixels); capture and click in the same units, e.g. a device scale "
                    f"factor of 1, or divide by the display's scale factor.",
                    {"fit": asdict(fit), "factor": value})
    return None


def _unexplained(fit: Fit) -> Diagnosis:
    return Diagnosis(
        "fault", "scale_mismatch",
        f"Coordinates are off systematically: landed x = {fit.x.scale:.3f} * x {_fmt(fit.x.offset)} px, "
        f"landed y = {fit.y.scale:.3f} * y {_fmt(fit.y.offset)} px, and none of the usual causes (a resize with "
        f"common pixel bounds, 0-1000 coordinates, a HiDPI factor, a pure offset) matches. Compare the image size "
        f"the prompt advertises, the image the model receives and the screen the executor clicks on.",
        {"fit": asdict(fit)})


def _is_consistent(fit: Fit, screen_size: tuple[int, int]) -> bool:
    limit = max(MAX_CONSISTENT_RMS_PX, 0.02 * max(screen_size))
    return fit.x.rms_px <= limit and fit.y.rms_px <= limit


def diagnose(
    fit: Fit | None,
    stats: ErrorStats,
    screen_size: tuple[int, int],
    model_size: tuple[int, int],
    *,
    rejected: int = 0,
) -> Diagnosis:
    """The diagnosis for a fit (see the module doc). ``rejected``: replies the parser refused
    (e.g. coordinates outside the advertised image), mentioned where they are evidence."""
    if fit is None:
        return Diagnosis(
            "inconclusive", "too_few_clicks",
            f"Inconclusive: only {stats.clicked} of {stats.targets} targets got a click that landed inside the "
            f"screen, too few to tell a systematic error from chance. Look at the replies in calibration.json: "
            f"if they hold clicks that never arrived, the clicks go to another monitor or window.",
            {"clicked": stats.clicked, "rejected_replies": rejected})
    if not _is_consistent(fit, screen_size):
        return Diagnosis(
            "inconclusive", "inconsistent",
            f"Inconclusive: the clicks follow no consistent rule (residuals {fit.x.rms_px:.0f} / "
            f"{fit.y.rms_px:.0f} px after the best fit): the model clicks more or less at random here.",
            {"fit": asdict(fit)})
    unit = _near(fit.x.scale, 1.0, UNIT_SCALE_TOL) and _near(fit.y.scale, 1.0, UNIT_SCALE_TOL)
    if unit:
        return _ok(stats, fit) if _offset_small(fit, screen_size) else _offset(fit, screen_size)
    if not _offset_small(fit, screen_size, relax=3.0):
        return _unexplained(fit)
    named = (_resize(fit, model_size) or _normalised(fit, model_size, rejected)
             or _pixels_as_thousandths(fit, model_size, rejected) or _display_scale(fit))
    return named or _unexplained(fit)


def size_mismatch(advertised: tuple[int, int], sent: tuple[int, int], where: str) -> Diagnosis:
    """The diagnosis when the request check found an image of ``sent`` size where the prompt
    advertised ``advertised`` (both (width, height) model-space pixels)."""
    return Diagnosis(
        "fault", "image_size_mismatch",
        f"Image size mismatch: the prompt advertises {advertised[0]}x{advertised[1]} but {where} the image is "
        f"{sent[0]}x{sent[1]}. The model will answer in pixels of the image it gets, so every click is scaled "
        f"by {sent[0] / advertised[0]:.3f} x {sent[1] / advertised[1]:.3f}.",
        {"advertised_size": list(advertised), "sent_size": list(sent)})


__all__ = [
    "COMMON_BOUNDS",
    "AxisFit",
    "Diagnosis",
    "ErrorStats",
    "Fit",
    "PixelBounds",
    "diagnose",
    "error_stats",
    "fit_axis",
    "fit_clicks",
    "resize_candidates",
    "size_mismatch",
]
