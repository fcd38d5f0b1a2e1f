#!/usr/bin/env bash
# Installs the Debian packages screenpilot needs, only those missing.
#   scripts/install_system_packages.sh browser   -> a Chromium for Playwright
#   scripts/install_system_packages.sh all       -> Chromium + Xvfb, xauth, xdotool, xterm (desktop and tests)
# Uses a Chromium that Playwright installed (~/.cache/ms-playwright) when there is one.
set -euo pipefail
want="${1:-all}"
packages=()

have_chromium() {
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || ls "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium*/chrome-linux*/chrome >/dev/null 2>&1
}

have_chromium || packages+=(chromium)
if [ "$want" = "all" ]; then
  command -v Xvfb >/dev/null 2>&1 || packages+=(xvfb)
  command -v xauth >/dev/null 2>&1 || packages+=(xauth)
  command -v xdotool >/dev/null 2>&1 || packages+=(xdotool)
  command -v xterm >/dev/null 2>&1 || packages+=(xterm)
  fc-list 2>/dev/null | grep -qi dejavu || packages+=(fonts-dejavu-core)
fi

if [ "${#packages[@]}" -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing: ${packages[*]}. Install them with your package manager (or 'playwright install chromium')." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "Need root to install: ${packages[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "Installing Debian packages: ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
