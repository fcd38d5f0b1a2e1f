#!/usr/bin/env bash
# Type-checks the package as it installs: mypy cannot follow setup.py's folder mapping
# (agent/ -> screenpilot.agent, ...), so this builds the installed shape out of symlinks in
# .cache/typecheck and runs mypy there. Arguments are passed on to mypy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$root/.cache/typecheck"
rm -rf "$tree"
mkdir -p "$tree/screenpilot"
for item in "$root"/screenpilot/*; do
    ln -s "$item" "$tree/screenpilot/$(basename "$item")"
done
for folder in agent models tools scenarios; do
    ln -s "$root/$folder" "$tree/screenpilot/$folder"
done
cd "$tree"
exec "${MYPY:-$root/.venv/bin/mypy}" --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" \
    screenpilot/agent screenpilot/models screenpilot/tools screenpilot/__init__.py "$@"
