"""``screenpilot calibrate``: prove that clicks land where the model means, and diagnose when they do not."""
