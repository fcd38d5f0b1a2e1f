"""Executors on Chromium through Playwright: the browser and the emulated phone.

The defaults both share and the run settings name are defined here (importing this package
loads no Playwright).
"""

DEFAULT_VIEWPORT: tuple[int, int] = (1280, 720)
"""The browser's viewport when none is given: (width, height) in CSS pixels."""

DEFAULT_PHONE: str = "Pixel 7"
"""The emulated phone when none is given: a Playwright device descriptor name."""

DEFAULT_NAVIGATION_TIMEOUT_S: float = 30.0
"""How long a navigation (Navigate, GoBack, the start URL) may take to reach DOMContentLoaded, in seconds."""
