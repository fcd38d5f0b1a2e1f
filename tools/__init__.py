"""Executors that carry out actions: a Playwright browser and a PyAutoGUI desktop."""
