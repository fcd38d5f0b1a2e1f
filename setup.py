"""Maps the repository's top-level folders into the one import package ``screenpilot``.

The folders ``agent/``, ``models/``, ``tools/`` and ``scenarios/`` stay at the top of the repository (the design
card's layout) and install as ``screenpilot.agent``, ``screenpilot.models``, ``screenpilot.tools`` and
``screenpilot.scenarios``; ``screenpilot/`` holds the package root. Nothing else reaches site-packages.
Everything else about the distribution is declared in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

MAPPED = ("agent", "models", "tools", "scenarios")

packages = ["screenpilot"]
for folder in MAPPED:
    packages.append(f"screenpilot.{folder}")
    packages += [f"screenpilot.{folder}.{sub}" for sub in find_namespace_packages(where=folder)
                 if "__pycache__" not in sub]

setup(
    packages=packages,
    package_dir={"screenpilot": "screenpilot", **{f"screenpilot.{folder}": folder for folder in MAPPED}},
)
