"""The agent: the shared vocabulary at this root, the machinery in subpackages.

The modules here (``actions``, ``errors``, ``frame``, ``keys``, ``android_keys``) are the value types that
``screenpilot.tools`` and ``screenpilot.models`` may import; they import nothing else of ours, and importing
this package pulls in no loop, CLI, browser or model. Subpackages: ``run`` (loop, settings, trajectory),
``safety`` (policy, gate, secrets), ``scenario`` (files, checks, runner, replay), ``evaluation``, ``reports``,
``calibration`` and ``cli``.
"""
