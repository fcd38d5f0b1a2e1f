"""Screen utilities: find an image or a text on a screenshot, and choose distinctive anchors.

Every function is pure: it reads the images it is given (PIL images, or numpy arrays holding
RGB, RGBA or grayscale pixels) and returns positions in the pixels of ``screen`` (*screen
pixels* when ``screen`` is a screenshot as executors take them). Boxes are
``(left, top, width, height)``; points are ``(x, y)``.

Scores differ by kind and are said in :attr:`Match.score`:

* images: OpenCV's ``TM_CCOEFF_NORMED`` on grayscale pixels, in [-1, 1]: 1 is the same pattern
  (brightness and contrast changes do not matter), 0 is no correlation. Typical: > 0.95 for the
  same widget re-rendered, 0.6-0.85 for similar-looking widgets, < 0.5 for unrelated regions.
* text: the similarity of the query to the OCR'd text in [0, 1] (1: a whole line reads exactly
  the query, ignoring case and runs of spaces; 0.98: the query is a word or words inside a line;
  otherwise the best ``difflib`` ratio of the query against whole words of a line).

OCR uses ``rapidocr`` (``pip install rapidocr onnxruntime``: ONNX models shipped in the wheel,
no download, CPU), imported on first use; its engine is built once per process (about 0.7 s)
and then reads a sparse 1280x720 screen in about 0.6 s on two cores, a text-dense one in many
seconds (recognition is paid per text line; see :data:`OCR_PARAMS`). :func:`ocr_lines` caches
its results per frame; :func:`locate_text` reads the region around ``near`` first and falls
back to :func:`find_glyph` for lone symbols the line detector skips.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import cv2
import numpy as np
from PIL import Image

from screenpilot.agent.errors import ConfigError

ImageLike: TypeAlias = "Image.Image | np.ndarray"
Box: TypeAlias = tuple[int, int, int, int]

DEFAULT_THRESHOLD = 0.85
"""Image matches scoring below this (``TM_CCOEFF_NORMED``) count as not found."""

WIDE_SCALES: tuple[float, ...] = (0.8, 0.9, 1.1, 1.25)
"""Template scales worth trying when a template is not found at its own size."""

FLAT_STD = 2.0
"""A grayscale template whose standard deviation is below this (0-255 levels) has no pattern."""

OCR_INSTALL_HINT = "pip install rapidocr onnxruntime   (or: pip install -e '.[ocr]')"


@dataclass(frozen=True)
class Match:
    """Where something was found on a screen.

    ``center``: (x, y) in screen pixels; ``box``: (left, top, width, height) in screen pixels;
    ``score``: how well it matched (see the module docstring: ``TM_CCOEFF_NORMED`` in [-1, 1]
    for images, similarity in [0, 1] for text); ``scale``: the template scale that matched
    (images; 1.0 = the template's own size); ``text``: the OCR'd text of the matched part (text).
    """

    center: tuple[int, int]
    box: Box
    score: float
    scale: float = 1.0
    text: str | None = None


# --- images --------------------------------------------------------------------------------------


def to_gray(image: ImageLike) -> np.ndarray:
    """``image`` as a 2-D uint8 grayscale array (RGB, RGBA or gray input; PIL or numpy)."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"))
    array = np.asarray(image)
    if array.ndim == 2:
        return array.astype(np.uint8, copy=False)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        code = cv2.COLOR_RGB2GRAY if array.shape[2] == 3 else cv2.COLOR_RGBA2GRAY
        return cv2.cvtColor(array.astype(np.uint8, copy=False), code)
    raise ValueError(f"expected an RGB, RGBA or grayscale image, got an array of shape {array.shape}")


def to_pil(image: ImageLike) -> Image.Image:
    """``image`` as a PIL image (numpy arrays are read as RGB, RGBA or gray)."""
    return image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))


def is_flat(template: ImageLike) -> bool:
    """Whether ``template`` is (nearly) one colour: matching it finds nothing in particular."""
    return float(to_gray(template).std()) < FLAT_STD


def match_scores(screen_gray: np.ndarray, template_gray: np.ndarray) -> np.ndarray:
    """``TM_CCOEFF_NORMED`` of ``template_gray`` at every position of ``screen_gray``.

    The result has shape (H - h + 1, W - w + 1): entry [y, x] scores the template with its
    top-left corner at (x, y). Non-finite values (flat screen regions) become 0.
    """
    scores = cv2.matchTemplate(screen_gray, template_gray, cv2.TM_CCOEFF_NORMED)
    return np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)


def _scaled(template_gray: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return template_gray
    height, width = template_gray.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(template_gray, size, interpolation=interpolation)


def best_image_match(screen: ImageLike, template: ImageLike, scales: Sequence[float] = (1.0,)) -> Match | None:
    """The best-scoring place of ``template`` on ``screen`` over ``scales``, whatever its score.

    None when the template is larger than the screen at every scale. Raises ValueError for a
    flat template (one colour scores 1.0 everywhere: it cannot locate anything).
    """
    screen_gray, template_gray = to_gray(screen), to_gray(template)
    if float(template_gray.std()) < FLAT_STD:
        raise ValueError("the template is (nearly) a single colour; it cannot locate anything")
    best: Match | None = None
    for scale in scales:
        scaled = _scaled(template_gray, scale)
        height, width = scaled.shape
        if height > screen_gray.shape[0] or width > screen_gray.shape[1]:
            continue
        _, score, _, (left, top) = cv2.minMaxLoc(match_scores(screen_gray, scaled))
        if best is None or score > best.score:
            best = Match((left + width // 2, top + height // 2), (left, top, width, height), float(score), scale)
    return best


def find_image(
    screen: ImageLike, template: ImageLike, threshold: float = DEFAULT_THRESHOLD, scales: Sequence[float] = (1.0,)
) -> Match | None:
    """Where ``template`` appears on ``screen`` (grayscale ``TM_CCOEFF_NORMED`` >= ``threshold``).

    ``scales``: template sizes to try (1.0 = as given; e.g. ``(1.0, *WIDE_SCALES)`` for 0.8-1.25);
    the best score over all of them wins. Returns None when nothing reaches ``threshold``.
    About 15 ms for a 96x64 template on a 1280x720 screen per scale.
    """
    best = best_image_match(screen, template, scales)
    return best if best is not None and best.score >= threshold else None


# --- text ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextLine:
    """One line of text OCR found: its text, its axis-aligned ``box`` (left, top, width, height;
    screen pixels) and the recogniser's ``confidence`` in [0, 1]."""

    text: str
    box: Box
    confidence: float


OCR_PARAMS: dict[str, object] = {"Global.log_level": "error", "Global.use_cls": False}
"""rapidocr's settings: no text-direction classifier (screens are upright; it costs a model
call per line). Detection keeps rapidocr's default size (the shorter side scaled to at least
736 px): reading a 1280x720 screen at its own size was only 5-10 % faster and lost a lone
``=`` on the bench screen; thread counts made no difference beyond noise on two shared cores.
Where the time goes: detection about 0.3 s per 1280x720 frame, recognition 20-150 ms per text
line (so a text-dense screen of 250 lines takes 10-40 s to read whole, which is why lookups
read the region around ``near`` first and results are cached per frame)."""

REGION_OCR_PARAMS: dict[str, object] = {**OCR_PARAMS, "Det.limit_type": "max", "Det.limit_side_len": 2048}
"""The settings for reading a region: detection at the region's own size. rapidocr's default
would scale a 480x240 region's shorter side up to 736 px (1472x736), as costly as a whole
screen; this second engine is built the first time a region is read."""


@functools.lru_cache(maxsize=2)
def _ocr_engine(region: bool = False) -> Any:
    try:
        from rapidocr import RapidOCR
    except ImportError as exc:
        raise ConfigError(f"finding text on the screen needs rapidocr ({exc}); {OCR_INSTALL_HINT}") from None
    try:
        return RapidOCR(params=dict(REGION_OCR_PARAMS if region else OCR_PARAMS))
    except ImportError as exc:  # rapidocr without an inference engine
        raise ConfigError(f"rapidocr cannot run ({exc}); {OCR_INSTALL_HINT}") from None


def require_ocr() -> None:
    """Build the OCR engine now; ConfigError (with the install command) when it cannot run."""
    _ocr_engine()


def _quad_box(quad: Any) -> Box:
    points = np.asarray(quad, dtype=float).reshape(-1, 2)
    left, top = np.floor(points.min(axis=0))
    right, bottom = np.ceil(points.max(axis=0))
    return int(left), int(top), int(right - left), int(bottom - top)


OCR_CACHE_SIZE = 16
"""How many OCR results (one per image content and region) are kept for reuse."""

_ocr_cache: OrderedDict[tuple[str, Box | None], tuple[TextLine, ...]] = OrderedDict()
_ocr_cache_lock = threading.Lock()


def image_digest(image: ImageLike) -> str:
    """A digest of ``image``'s pixels, size and mode: equal for equal screenshots (about 3 ms for 1280x720)."""
    if isinstance(image, Image.Image):
        data, shape = image.tobytes(), f"{image.mode}{image.size}"
    else:
        array = np.ascontiguousarray(image)
        data, shape = array.tobytes(), f"{array.dtype}{array.shape}"
    digest = hashlib.blake2b(shape.encode() + b"\0", digest_size=16)
    digest.update(data)
    return digest.hexdigest()


def clear_ocr_cache() -> None:
    """Forget every cached OCR result."""
    with _ocr_cache_lock:
        _ocr_cache.clear()


def _clip(region: Box, size: tuple[int, int]) -> Box | None:
    left, top = max(0, region[0]), max(0, region[1])
    right, bottom = min(size[0], region[0] + region[2]), min(size[1], region[1] + region[3])
    return (left, top, right - left, bottom - top) if right > left and bottom > top else None


def _run_ocr(image: Image.Image, region: bool = False) -> list[TextLine]:
    engine = _ocr_engine(region)
    try:
        result = engine(np.asarray(image.convert("RGB")))
    except ImportError as exc:
        _ocr_engine.cache_clear()
        raise ConfigError(f"rapidocr cannot run ({exc}); {OCR_INSTALL_HINT}") from None
    if result.boxes is None or result.txts is None:
        return []
    return [TextLine(str(text), _quad_box(quad), float(score))
            for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True)]


def ocr_lines(screen: ImageLike, region: Box | None = None) -> list[TextLine]:
    """Every line of text on ``screen``, top to bottom as OCR reports them; boxes in the pixels
    of ``screen``.

    ``region`` (left, top, width, height; clipped to the screen): read only that part (lines cut
    by its edges come back cut). Results are cached by pixel content and region
    (:data:`OCR_CACHE_SIZE` of them), so several lookups on one frame pay for one OCR pass.
    Raises ConfigError (with the install command) when rapidocr or onnxruntime is missing.
    """
    _ocr_engine()
    image = to_pil(screen)
    clipped = None if region is None else _clip(region, image.size)
    if region is not None and clipped is None:
        return []
    if clipped == (0, 0, image.width, image.height):
        clipped = None
    key = (image_digest(image), clipped)
    with _ocr_cache_lock:
        if key in _ocr_cache:
            _ocr_cache.move_to_end(key)
            return list(_ocr_cache[key])
    if clipped is None:
        lines = _run_ocr(image)
    else:
        left, top, width, height = clipped
        found = _run_ocr(image.crop((left, top, left + width, top + height)), region=True)
        lines = [TextLine(ln.text, (ln.box[0] + left, ln.box[1] + top, ln.box[2], ln.box[3]), ln.confidence)
                 for ln in found]
    with _ocr_cache_lock:
        _ocr_cache[key] = tuple(lines)
        while len(_ocr_cache) > OCR_CACHE_SIZE:
            _ocr_cache.popitem(last=False)
    return lines


def _normalize(text: str) -> str:
    return " ".join(text.casefold().split())


WORD_MATCH = 0.98
"""Similarity of an exact occurrence of the query inside a longer line, at word boundaries (a
whole-line match scores 1.0, so a label beats the same word in a sentence)."""


def _at_word_boundaries(line: str, start: int, end: int) -> bool:
    before = line[start - 1] if start > 0 else " "
    after = line[end] if end < len(line) else " "
    return not (before.isalnum() or after.isalnum())


def text_similarity(query: str, text: str) -> tuple[float, int, int]:
    """How well ``query`` matches a part of ``text``: (similarity in [0, 1], start, end).

    Case and runs of whitespace are ignored; ``start``/``end`` index the matched characters of
    the *normalised* ``text`` (lower-cased, single spaces). The whole line equal to the query
    scores 1.0; an occurrence between word boundaries :data:`WORD_MATCH`; otherwise the best
    ``difflib`` ratio of the query against windows of ``text`` about as long as it.
    """
    wanted, line = _normalize(query), _normalize(text)
    if not wanted or not line:
        return 0.0, 0, 0
    if line == wanted:
        return 1.0, 0, len(line)
    found = line.find(wanted)
    while found >= 0:
        if _at_word_boundaries(line, found, found + len(wanted)):
            return WORD_MATCH, found, found + len(wanted)
        found = line.find(wanted, found + 1)
    matcher = difflib.SequenceMatcher(None, line, wanted)
    best = (matcher.ratio(), 0, len(line))
    for length in range(max(1, len(wanted) - 2), len(wanted) + 3):
        for start in range(0, max(1, len(line) - length + 1)):
            window = line[start:start + length]
            if not _at_word_boundaries(line, start, start + len(window)):
                continue
            matcher.set_seq1(window)
            if matcher.real_quick_ratio() > best[0] and matcher.quick_ratio() > best[0]:
                ratio = matcher.ratio()
                if ratio > best[0]:
                    best = (ratio, start, start + len(window))
    return best


def _sub_box(line: TextLine, start: int, end: int) -> Box:
    """The part of ``line.box`` holding characters [start, end) of its normalised text,
    estimated by character position (proportional fonts make it approximate)."""
    count = max(1, len(_normalize(line.text)))
    left, top, width, height = line.box
    x0 = left + round(width * start / count)
    x1 = left + round(width * end / count)
    return x0, top, max(1, x1 - x0), height


def _distance(match: Match, near: tuple[int, int]) -> float:
    return float(np.hypot(match.center[0] - near[0], match.center[1] - near[1]))


def best_text_match(
    lines: Sequence[TextLine], text: str, near: tuple[int, int] | None = None, tie: float = 0.01
) -> Match | None:
    """The OCR line part most similar to ``text`` (None: no lines). With ``near`` (x, y),
    among matches within ``tie`` of the best similarity the one closest to ``near`` wins."""
    candidates: list[Match] = []
    for line in lines:
        score, start, end = text_similarity(text, line.text)
        box = _sub_box(line, start, end)
        shown = _normalize(line.text)[start:end]
        candidates.append(Match((box[0] + box[2] // 2, box[1] + box[3] // 2), box, score, text=shown))
    if not candidates:
        return None
    top = max(c.score for c in candidates)
    close = [c for c in candidates if c.score >= top - tie] if near is not None else []
    if near is not None and close:
        return min(close, key=lambda c: _distance(c, near))
    return max(candidates, key=lambda c: c.score)


NEAR_REGION = (480, 240)
"""(width, height) in screen pixels of the region read first around a lookup's ``near`` point
(moved inside the screen); the whole screen is read only when that region has no good match."""

GLYPH_MAX_CHARS = 2
"""Queries of at most this many characters (spaces ignored) get the lone-glyph fallback."""

GLYPH_SIDE = (5, 64)
"""Smallest and largest height in screen pixels of a lone glyph the fallback looks at."""

GLYPH_MAX_CANDIDATES = 48
"""At most this many candidate glyphs are read per lookup (the nearest to ``near`` first)."""


@dataclass(frozen=True)
class TextSearch:
    """The outcome of :func:`locate_text`: the ``best`` match found (whatever its score; None:
    no text at all), a description of what was ``searched`` (for reports) and how many OCR
    ``lines`` it read."""

    best: Match | None
    searched: str
    lines: int


def near_region(near: tuple[int, int], screen_size: tuple[int, int], size: tuple[int, int] = NEAR_REGION) -> Box:
    """The :data:`NEAR_REGION`-sized box centred on ``near`` and moved inside the screen."""
    return _placed_box(near, size, (0.5, 0.5), screen_size)


def _inside(line: TextLine, region: Box, screen_size: tuple[int, int], margin: int = 2) -> bool:
    """Whether ``line`` does not touch an edge of ``region`` that is not also the screen's (a
    line touching a cut edge may be a word cut in two)."""
    left, top, width, height = region
    x0, y0, w, h = line.box
    cuts = ((left > 0 and x0 <= left + margin), (top > 0 and y0 <= top + margin),
            (left + width < screen_size[0] and x0 + w >= left + width - margin),
            (top + height < screen_size[1] and y0 + h >= top + height - margin))
    return not any(cuts)


def is_glyph_query(text: str) -> bool:
    """Whether ``text`` is short enough (:data:`GLYPH_MAX_CHARS`) for the lone-glyph fallback."""
    return 0 < len("".join(text.split())) <= GLYPH_MAX_CHARS


def glyph_candidates(screen: ImageLike, region: Box | None = None, exclude: Sequence[TextLine] = ()) -> list[Box]:
    """Boxes (screen pixels) of isolated marks that may be a lone glyph: connected blobs of
    Canny edges (dilated by one pixel, so the two bars of ``=`` make one blob) between
    :data:`GLYPH_SIDE` pixels tall and wide, not centred inside a line in ``exclude``; within
    ``region`` when given. Reading order (top to bottom, left to right)."""
    gray = to_gray(screen)
    left, top = 0, 0
    if region is not None:
        left, top, width, height = region
        gray = gray[top:top + height, left:left + width]
    edges = cv2.dilate(cv2.Canny(gray, 50, 150), np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    low, high = GLYPH_SIDE
    boxes: list[Box] = []
    for x, y, w, h, _area in stats[1:count]:
        if not (low <= max(w, h) and w <= high and h <= high and min(w, h) >= 3):
            continue
        box = (int(x) + left, int(y) + top, int(w), int(h))
        cx, cy = box[0] + box[2] // 2, box[1] + box[3] // 2
        if any(lx <= cx < lx + lw and ly <= cy < ly + lh for lx, ly, lw, lh in (ln.box for ln in exclude)):
            continue
        boxes.append(box)
    return sorted(boxes, key=lambda b: (b[1], b[0]))


GLYPH_LOOKALIKES: dict[str, tuple[str, ...]] = {
    "×": ("x", "✕", "✖"), "=": ("二",), "-": ("–", "—", "一", "−"), "−": ("-", "–", "—", "一"),
    "÷": ("+",), ".": ("·", "。"),
}
"""Readings the recogniser gives for a lone symbol (lower-cased) that count as that symbol in the
glyph fallback; ``x`` for ``×`` matters most (a lone ``×`` is nearly always read ``X``)."""


def _reads_as(read: str, wanted: str) -> bool:
    read = _normalize(read).replace(" ", "")
    return read == wanted or read in GLYPH_LOOKALIKES.get(wanted, ())


GLYPH_MARGINS = ("tight", "height", "loose")
"""Margins tried around a candidate glyph: half its height, its height, half its height plus
width (the recogniser reads thin marks such as ``=`` or ``×`` differently with each)."""


def _glyph_crop(rgb: np.ndarray, box: Box, scale: float, margin: str) -> np.ndarray:
    """``box`` with a :data:`GLYPH_MARGINS` ``margin`` around it, enlarged by ``scale``."""
    left, top, width, height = box
    pad = {"tight": max(4, height // 2), "height": max(6, height), "loose": max(8, (height + width) // 2)}[margin]
    crop = rgb[max(0, top - pad):top + height + pad, max(0, left - pad):left + width + pad]
    if scale == 1.0:
        return crop
    return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def find_glyph(
    screen: ImageLike, text: str, near: tuple[int, int] | None = None, region: Box | None = None,
    exclude: Sequence[TextLine] = (), min_confidence: float = 0.5,
) -> Match | None:
    """A lone symbol or character (``=``, ``+``, ``1``) that OCR's line detector skipped.

    Each of :func:`glyph_candidates` (at most :data:`GLYPH_MAX_CANDIDATES`, the nearest to
    ``near`` first) is cropped with a margin and given to rapidocr's recogniser alone, at its
    own size and enlarged twice, with each of :data:`GLYPH_MARGINS`; a reading equal to ``text`` (case and spaces
    ignored) or one of its :data:`GLYPH_LOOKALIKES`, with recogniser confidence >=
    ``min_confidence``, is a match (score 1.0, the blob's box). Lines of ``exclude`` (the OCR
    pass's, whose boxes are not searched again) that read as a look-alike count too. Among
    several, the nearest to ``near`` wins, else the most confident.

    Limits: glyphs must be separate from their surroundings (not touching a border or another
    mark) and :data:`GLYPH_SIDE` pixels in size; marks of a few pixels (``.``, ``-``, ``,``)
    read unreliably; look-alikes read as one another (``×`` is often ``X``, ``0`` may be
    ``O``); one glyph, not a word, per candidate. Costs one recogniser batch, roughly 0.1-0.5 s.
    """
    wanted = _normalize(text).replace(" ", "")
    found: list[tuple[float, Match]] = []
    for line in exclude:  # a lone glyph the line detector found but read as a look-alike
        if line.text.strip() and len(line.text.strip()) <= GLYPH_MAX_CHARS and _reads_as(line.text, wanted) \
                and (region is None or _clip(line.box, (region[0] + region[2], region[1] + region[3])) == line.box):
            center = (line.box[0] + line.box[2] // 2, line.box[1] + line.box[3] // 2)
            found.append((line.confidence, Match(center, line.box, 1.0, text=line.text)))
    rgb = np.asarray(to_pil(screen).convert("RGB"))
    boxes = glyph_candidates(rgb, region, exclude)
    if near is not None:
        boxes.sort(key=lambda b: (b[0] + b[2] / 2 - near[0]) ** 2 + (b[1] + b[3] / 2 - near[1]) ** 2)
    boxes = boxes[:GLYPH_MAX_CANDIDATES]
    variants = [(scale, margin) for scale in (1.0, 2.0) for margin in GLYPH_MARGINS]
    crops = [_glyph_crop(rgb, box, scale, margin) for box in boxes for scale, margin in variants]
    result = _ocr_engine().recognize_txt(crops) if crops else None
    readings = [] if result is None else zip(result.txts or (), result.scores, strict=False)
    for index, (read, confidence) in enumerate(readings):
        if _reads_as(str(read), wanted) and float(confidence) >= min_confidence:
            box = boxes[index // len(variants)]
            center = (box[0] + box[2] // 2, box[1] + box[3] // 2)
            found.append((float(confidence), Match(center, box, 1.0, text=str(read))))
    if not found:
        return None
    if near is not None:
        return min(found, key=lambda f: _distance(f[1], near))[1]
    return max(found, key=lambda f: f[0])[1]


def _better(a: Match | None, b: Match | None) -> Match | None:
    if a is None or (b is not None and b.score > a.score):
        return b
    return a


def locate_text(
    screen: ImageLike, text: str, min_similarity: float = 0.8, near: tuple[int, int] | None = None
) -> TextSearch:
    """Find ``text`` on ``screen`` in as few OCR passes as it takes (see :func:`find_text`).

    1. With ``near``: OCR of the :data:`NEAR_REGION` around it; lines touching a cut edge of
       the region are ignored. A match of at least :data:`WORD_MATCH` (the query as a whole line
       or as whole words) there is the answer.
    2. OCR of the whole screen (cached per frame by :func:`ocr_lines`), as
       :func:`best_text_match` ranks it (what a lookup gave before regions were read first).
    3. Still below ``min_similarity`` and a short query (:func:`is_glyph_query`):
       :func:`find_glyph`, first in the region around ``near``, then on the whole screen.
    """
    image = to_pil(screen)
    size = (image.width, image.height)
    steps: list[str] = []
    best: Match | None = None
    region_lines: list[TextLine] = []
    region = None if near is None else near_region(near, size)
    if region is not None and region[2:] != size:
        lines = region_lines = [ln for ln in ocr_lines(image, region) if _inside(ln, region, size)]
        steps.append(f"OCR of the {region[2]}x{region[3]} region around {near} ({len(lines)} text lines)")
        best = best_text_match(lines, text, near)
        if best is not None and best.score >= max(WORD_MATCH, min_similarity):
            return TextSearch(best, ", ".join(steps), len(lines))
    lines = ocr_lines(image)
    steps.append(f"OCR of the whole {size[0]}x{size[1]} screen ({len(lines)} text lines)")
    whole = best_text_match(lines, text, near)  # ranks as before regions existed: the region's reading only
    best = whole if whole is not None else best  # reports a near miss when the whole screen has no text
    if (best is None or best.score < min_similarity) and is_glyph_query(text):
        glyph = None
        if region is not None and region[2:] != size:
            glyph = find_glyph(image, text, near, region, [*lines, *region_lines])
            steps.append("lone glyphs in the region")
        if glyph is None:
            glyph = find_glyph(image, text, near, None, lines)
            steps.append("lone glyphs on the whole screen")
        best = _better(best, glyph)
    return TextSearch(best, ", then ".join(steps), len(lines))


def find_text(
    screen: ImageLike, text: str, min_similarity: float = 0.8, near: tuple[int, int] | None = None
) -> Match | None:
    """Where ``text`` is written on ``screen``: the OCR'd words most similar to it, when their
    similarity (in [0, 1]) is at least ``min_similarity``; None otherwise.

    A target inside a longer line gets the sub-box its characters take, estimated by character
    position. ``near`` (x, y): the region around it is read first (:func:`locate_text`), and it
    breaks ties between equally good matches (the closest wins). A lone symbol or character
    the line detector skips is looked for by :func:`find_glyph`. OCR results are cached per
    frame (:func:`ocr_lines`). Raises ConfigError when rapidocr is not installed.
    """
    best = locate_text(screen, text, min_similarity, near).best
    return best if best is not None and best.score >= min_similarity else None


def lines_showing(lines: Sequence[TextLine], values: Sequence[str], margin: int = 2) -> list[Box]:
    """The boxes (grown by ``margin`` pixels on every side) of the ``lines`` whose text contains
    one of ``values``: an exact, case-sensitive substring, or the same with all whitespace
    removed from both (OCR drops and adds spaces). For painting secrets over; a value OCR
    misreads, or one split over two lines, is not found."""
    wanted = [(value, "".join(value.split())) for value in values if value.strip()]
    boxes: list[Box] = []
    for line in lines:
        squeezed = "".join(line.text.split())
        if any(value in line.text or (bare and bare in squeezed) for value, bare in wanted):
            left, top, width, height = line.box
            boxes.append((left - margin, top - margin, width + 2 * margin, height + 2 * margin))
    return boxes


# --- anchors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorChoice:
    """A crop chosen around a point: its ``box`` (left, top, width, height; screen pixels),
    ``elsewhere`` (the best ``TM_CCOEFF_NORMED`` of the crop away from its own place; lower is
    more distinctive) and ``unique`` (``elsewhere`` is below the asked maximum and the crop is
    not flat)."""

    box: Box
    elsewhere: float
    unique: bool

    def threshold(self, base: float = DEFAULT_THRESHOLD, cap: float = 0.97) -> float:
        """The score a replay should demand: ``base``, raised half-way from ``elsewhere`` to 1
        when look-alikes score close to it (never above ``cap``), rounded to 0.01."""
        return round(min(cap, max(base, self.elsewhere + (1.0 - self.elsewhere) / 2)), 2)

    def offset(self, point: tuple[int, int]) -> tuple[int, int]:
        """``point`` relative to the crop's centre (screen pixels): the click offset to record."""
        left, top, width, height = self.box
        return point[0] - (left + width // 2), point[1] - (top + height // 2)


def _placed_box(
    point: tuple[int, int], size: tuple[int, int], at: tuple[float, float], screen_size: tuple[int, int]
) -> Box:
    """A ``size`` box holding ``point`` at fractions ``at`` of its width and height (0.5, 0.5:
    centred), moved inside the screen (and clipped to it when larger)."""
    width, height = min(size[0], screen_size[0]), min(size[1], screen_size[1])
    left = min(max(0, point[0] - round(width * at[0])), screen_size[0] - width)
    top = min(max(0, point[1] - round(height * at[1])), screen_size[1] - height)
    return left, top, width, height


def _sides(base: int, limit: int, growth: float) -> list[int]:
    """``base`` grown by ``growth`` until it reaches ``limit`` (which ends the list)."""
    sides = [min(base, limit)]
    while sides[-1] < limit:
        sides.append(min(limit, max(sides[-1] + 1, round(sides[-1] * growth))))
    return sides


_PLACES = (0.5, 0.875, 0.125)
"""Where the point sits along a side of a candidate crop: centred, near the far end, near the start."""


def anchor_candidates(
    point: tuple[int, int], size: tuple[int, int], screen_size: tuple[int, int], growth: float = 1.5,
    max_area: float = 0.25,
) -> list[Box]:
    """Crops to try around ``point``, in order of preference: rows before taller boxes (a label
    beside a field survives layout changes better than what lies above or below it), narrower
    before wider, the point centred before off-centre. Areas above ``max_area`` of the screen
    are left out, except the first size. Boxes are distinct and inside the screen."""
    boxes: list[Box] = []
    limit = max_area * screen_size[0] * screen_size[1]
    for height in _sides(size[1], screen_size[1], growth):
        for width in _sides(size[0], screen_size[0], growth):
            if boxes and width * height > limit:
                continue
            rows = _PLACES if height > size[1] else (0.5,)
            for fy in rows:
                for fx in _PLACES:
                    box = _placed_box(point, (width, height), (fx, fy), screen_size)
                    if box not in boxes:
                        boxes.append(box)
    return boxes


def best_elsewhere(screen_gray: np.ndarray, box: Box) -> float:
    """The best score of the crop ``box`` of ``screen_gray`` away from its own position
    (positions within a quarter of the crop size of it are excluded); -1 when there is none."""
    left, top, width, height = box
    crop = screen_gray[top:top + height, left:left + width]
    scores = match_scores(screen_gray, crop)
    radius_x, radius_y = max(2, width // 4), max(2, height // 4)
    scores[max(0, top - radius_y):top + radius_y + 1, max(0, left - radius_x):left + radius_x + 1] = -1.0
    return float(scores.max()) if scores.size else -1.0


def _first_distinctive(gray: np.ndarray, boxes: Sequence[Box], strict: float, loose: float) -> list[AnchorChoice]:
    """Score ``boxes`` in order; stop at the first below ``strict``. Returns the scored ones."""
    tried: list[AnchorChoice] = []
    for box in boxes:
        left, top, width, height = box
        flat = float(gray[top:top + height, left:left + width].std()) < FLAT_STD
        elsewhere = 1.0 if flat else best_elsewhere(gray, box)
        tried.append(AnchorChoice(box, elsewhere, not flat and elsewhere < strict))
        if tried[-1].unique:
            break
    return tried


def choose_anchor(
    screen: ImageLike,
    point: tuple[int, int],
    size: tuple[int, int] = (96, 64),
    *,
    max_elsewhere: float = 0.8,
    loose_elsewhere: float = 0.93,
    growth: float = 1.5,
    max_area: float = 0.25,
) -> AnchorChoice:
    """A crop around ``point`` (screen pixels) that is distinctive on ``screen``.

    Tries the boxes of :func:`anchor_candidates` one height at a time (``size`` first, then
    wider, then taller, up to ``max_area`` of the screen). At each height it takes the first
    crop whose best match elsewhere scores below ``max_elsewhere`` (``unique``), else the first
    below ``loose_elsewhere`` (``unique`` False: near-duplicates exist, e.g. rows of a list that
    differ only in their text; replay it with :meth:`AnchorChoice.threshold`); only when a
    height has neither does it try taller crops. When nothing qualifies, the most distinctive
    crop tried. The point always lies inside the box. ValueError for a point off the screen.
    """
    gray = to_gray(screen)
    screen_size = (gray.shape[1], gray.shape[0])
    if not (0 <= point[0] < screen_size[0] and 0 <= point[1] < screen_size[1]):
        raise ValueError(f"point {point} is outside the {screen_size[0]}x{screen_size[1]} screen")
    tried: list[AnchorChoice] = []
    boxes = anchor_candidates(point, size, screen_size, growth, max_area)
    for height in sorted({box[3] for box in boxes}):
        scored = _first_distinctive(gray, [b for b in boxes if b[3] == height], max_elsewhere, loose_elsewhere)
        tried += scored
        if scored[-1].unique:
            return scored[-1]
        loose = [c for c in scored if c.elsewhere < loose_elsewhere]
        if loose:
            return loose[0]
    return min(tried, key=lambda c: c.elsewhere)


def crop_anchor(screen: ImageLike, point: tuple[int, int], size: tuple[int, int] = (96, 64)) -> Image.Image:
    """The distinctive crop :func:`choose_anchor` picks around ``point`` (screen pixels)."""
    left, top, width, height = choose_anchor(screen, point, size).box
    return to_pil(screen).crop((left, top, left + width, top + height))
