"""One observation of the screen."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

MAX_SCREEN_SIDE = 8192
"""The largest width or height of a screen, viewport or virtual display we accept, in pixels (8K and a bit:
beyond it Chromium's captures and Xvfb's framebuffer stop being practical, and no model reads such a screen)."""


@dataclass(frozen=True)
class Frame:
    """A screenshot and what is known about it.

    ``image`` is in screen pixels: its size equals ``size`` (width, height) of the screen or
    viewport the executor clicks in. ``taken_at`` is ``time.time()`` seconds. ``url`` and
    ``title`` are filled by browser executors (None elsewhere). ``capture_s`` is how long the
    capture took, in seconds. ``png``: ``image`` exactly, PNG-encoded as captured, when the
    executor has that (nothing painted over, not resized; None otherwise): recorders write it
    as is instead of encoding the image again.
    """

    image: Image.Image
    taken_at: float
    capture_s: float = 0.0
    url: str | None = None
    title: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    png: bytes | None = field(default=None, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in screen pixels."""
        return self.image.size
