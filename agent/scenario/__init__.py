"""Scenario files: their schema, checks, the episode runner, scripted replay and recording-to-script."""
