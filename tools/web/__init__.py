"""Executors on Chromium through Playwright: the browser and the emulated phone."""
