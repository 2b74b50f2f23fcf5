#!/usr/bin/env bash
# Make sure Debian's chromium and chromium-driver are installed (the browser test drives
# headless Chromium through selenium and /usr/bin/chromedriver). Idempotent; uses sudo when
# not root. Mirrors scripts/ensure_mosquitto.sh.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }
if have chromium && have chromedriver; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium/chromedriver are missing and apt-get is not available: install Chromium" \
       "and its chromedriver with your system's package manager (the browser test is" \
       "skipped without them)." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "chromium is missing and this user cannot install packages: run" \
         "'sudo apt-get install chromium chromium-driver' once." >&2
    exit 1
  fi
fi
echo "Installing Debian's chromium and chromium-driver (apt-get, about 100 MB)..."
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
have chromium && have chromedriver
echo "chromium installed: $(command -v chromium) ($(chromium --version 2>/dev/null || true))"
