#!/usr/bin/env bash
# Make sure Debian's chromium and chromium-driver are installed (the browser test drives
# headless Chromium through selenium and /usr/bin/chromedriver). Idempotent.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }
if have chromium && have chromedriver; then
  exit 0
fi
echo "Installing Debian's chromium and chromium-driver (apt-get, about 100 MB)..."
apt_install "chromium/chromedriver (the browser test is skipped without them)" \
  chromium chromium-driver
have chromium && have chromedriver
echo "chromium installed: $(command -v chromium) ($(chromium --version 2>/dev/null || true))"
